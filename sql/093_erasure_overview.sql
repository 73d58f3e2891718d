-- Every erasure request with its deadline as of p_as_of (NULL: now; injectable, as every routine
-- that ages data): overdue when it is not completed and its due date has passed; days_left
-- counts whole days toward zero (negative once overdue).
-- The view retention.erasure_overview is the same as of now().
create or replace function retention.erasure_requests_as_of(p_as_of timestamptz default now())
returns table (
  request_id    bigint,
  subject_table text,
  subject_hash  text,
  requested_by  text,
  requested_at  timestamptz,
  due_at        timestamptz,
  status        text,
  status_reason text,
  completed_at  timestamptz,
  overdue       boolean,
  days_left     integer
)
language sql
security definer
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  -- A moment, named if not (RT022; 'infinity' failed on the days left, 22008).
  select retention_internal._check_moment(p_as_of, 'p_as_of');
  -- Answered by the login's rights: not to another role's code running in its session
  -- (an index expression, a view's function: round atk137), which could copy them.
  select retention_internal._check_reader('read erasure requests', retention_internal._foreign_frame('erasure_requests_as_of', array['erasure_requests_as_of', 'erasure_overview']));
  -- Admins, runners and auditors see every request; any other login (the application, as
  -- retention_requester) only the requests it filed, and a blocking hold only as such.
  with v as (select pg_has_role(session_user, 'retention_admin', 'USAGE')
                    or pg_has_role(session_user, 'retention_runner', 'USAGE')
                    or pg_has_role(session_user, 'retention_auditor', 'USAGE') as all_requests)
  select r.request_id, retention.qualified_name(r.subject_table), r.subject_hash, r.requested_by,
         r.requested_at, r.due_at, r.status,
         case when v.all_requests or r.status <> 'blocked_by_hold' then r.status_reason else 'blocked by a legal hold' end,
         r.completed_at,
         r.status <> 'completed' and r.due_at < coalesce(p_as_of, now()),
         case when r.status <> 'completed' then trunc(extract(epoch from r.due_at - coalesce(p_as_of, now())) / 86400)::int end
    from retention.erasure_requests r, v
   where v.all_requests or r.filed_by = session_user
   order by r.request_id
$$;
comment on function retention.erasure_requests_as_of(timestamptz) is
  'Erasure requests with their due date, an overdue flag and the whole days left, as of p_as_of (NULL: now): all of them for admins, runners and auditors; for any other login only those it filed, a blocking hold without its reason.';

create or replace view retention.erasure_overview as
select * from retention.erasure_requests_as_of(now());
comment on view retention.erasure_overview is
  'Erasure requests with their due date, whether they are overdue and the days left (as of now); a requester sees only those it filed.';
