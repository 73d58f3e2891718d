-- Erasure requests past their due date. The worker calls this on every schedule sync:
-- each open request (pending, in progress, blocked by a hold, failed) whose due date is
-- before p_as_of is listed, and one whose due date has really passed (before now())
-- queues one erasure_overdue notification, once per request however often it is asked.
-- A p_as_of ahead of the database's clock lists what would be overdue then and queues
-- nothing: an alert sent early would be the only one (one per request), and the day it
-- is due it would not come. The alert says when it was really checked and how many days
-- overdue the request really is (the database's clock, whatever p_as_of: round atk95 F2). The payload names the request, its table, its status and the
-- subject's token, never the subject's key, who asked, or why it waits (a hold's reason
-- may name the person). It also forgets the holds on a completed erasure's values that
-- have expired since (nothing else runs when a hold merely expires).
create or replace function retention.note_overdue_erasures(p_as_of timestamptz default now())
returns table (request_id bigint, due_at timestamptz, status text, newly_noted boolean)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_as_of is null then
    raise exception 'p_as_of must not be NULL'
      using errcode = 'RT029', hint = 'Leave it out to check as of now, or pass the moment to check at.';
  end if;
  -- Finite, as every other moment a routine is given (round atk133 F2: 'infinity' found
  -- nothing overdue, quietly).
  perform retention_internal._check_moment(p_as_of, 'p_as_of');
  -- The zones applications may write wall times in, remembered (retention_internal.
  -- seen_zones) between runs too: a setting made and removed between two runs.
  perform retention_internal._note_written_zones();
  -- Holds in force on a value of a person when their erasure's step read their rows, that
  -- have expired since the erasure completed: they no longer name the person, as released
  -- ones do not (release_hold forgets those as it releases them). Here, at the
  -- scheduler's periodic check, since nothing happens when a hold merely expires.
  perform retention_internal._forget_held_values(x.request_id, x.subject_hash)
     from (select distinct w.request_id, q.subject_hash
             from retention_internal.erasure_held_values w
             join retention.erasure_requests q on q.request_id = w.request_id
            where q.status = 'completed'
              and not exists (select from retention_internal._open_holds o where o.hold_id = w.hold_id)) x;
  return query
  with overdue as (
    select r.* from retention.erasure_requests r
     where r.status <> 'completed' and r.due_at < p_as_of
  ), noted as (
    insert into retention.notifications (kind, dedupe_key, payload)
    select 'erasure_overdue', 'erasure_overdue:' || o.request_id,
           jsonb_build_object('kind', 'erasure_overdue', 'request_id', o.request_id,
                              'subject_table', retention.qualified_name(o.subject_table),
                              'subject_hash', o.subject_hash,
                              'requested_at', o.requested_at, 'due_at', o.due_at,
                              'status', o.status,
                              'days_overdue', floor(extract(epoch from pg_catalog.clock_timestamp() - o.due_at) / 86400)::int,
                              'checked_at', pg_catalog.clock_timestamp())
      from overdue o
     where o.due_at < pg_catalog.clock_timestamp()
    on conflict (dedupe_key) do nothing
    returning (payload->>'request_id')::bigint as request_id
  )
  select o.request_id, o.due_at, o.status, n.request_id is not null
    from overdue o left join noted n on n.request_id = o.request_id
   order by o.due_at, o.request_id;
end
$$;
comment on function retention.note_overdue_erasures(timestamptz) is
  'Lists the open erasure requests past their due date as of p_as_of and queues one erasure_overdue notification per request the first time it is found overdue by the database clock (newly_noted; a p_as_of in the future queues nothing). The payload carries the request''s id, table, status and token, not why it waits. Also forgets the value, reasons and case reference of holds on a completed erasure''s values that have expired since.';
