-- The only way into the audit log. SECURITY DEFINER with a pinned search_path so that
-- the admin and runner roles can append without holding INSERT on the table. Appends
-- serialise on the audit_chain row (FOR UPDATE), so the chain has no forks even under
-- concurrent writers; under REPEATABLE READ a concurrent append fails with a
-- serialization error rather than forking the chain. A transaction begin_plan marked
-- (it can never commit) appends nothing.
create or replace function retention_internal._append_audit(
  p_action      text,
  p_object_type text,
  p_object_name text,
  p_details     jsonb default '{}'
)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_prev_id   bigint;
  v_prev_hash bytea;
  v_id        bigint;
  v_at        timestamptz;
  v_actor     text := retention_internal._actor();
  v_hash      bytea;
begin
  -- A plan never commits (begin_plan): nothing to record, and no lock on the chain.
  if retention_internal._in_plan() then
    return null;
  end if;
  -- The hash joins the fields with \x1f (and writes a NULL name as \x1e): no field may hold
  -- either, or two different rows could hash alike.
  if concat(session_user::text, p_action, p_object_type, p_object_name) ~ '[\x1e\x1f]' then
    raise exception 'an audit entry''s action, object or name may not contain the characters \x1e or \x1f'
      using errcode = 'RT014', hint = 'They separate the fields of the audit hash.';
  end if;
  select last_id, last_hash into v_prev_id, v_prev_hash
    from retention.audit_chain
   for update;
  -- Runs closed while the chain was locked by another transaction get their closing entry
  -- now, before this one (round atk54).
  if exists (select from retention.runs r where r.audit_pending) then
    perform retention_internal._append_pending_run_entries();
    select last_id, last_hash into v_prev_id, v_prev_hash from retention.audit_chain;
  end if;
  -- The entry's time is taken once the chain is this transaction's: an entry never carries
  -- a time before the one chained ahead of it (atk54).
  v_at := clock_timestamp();
  v_id := v_prev_id + 1;
  v_hash := retention_internal._audit_hash(v_prev_hash, v_id, v_at, v_actor, session_user::text,
                                  p_action, p_object_type, p_object_name,
                                  coalesce(p_details, '{}'));
  insert into retention.audit_log
    (audit_id, occurred_at, actor, db_user, action, object_type, object_name,
     details, prev_hash, row_hash)
  values
    (v_id, v_at, v_actor, session_user::text, p_action, p_object_type, p_object_name,
     coalesce(p_details, '{}'), v_prev_hash, v_hash);
  update retention.audit_chain set last_id = v_id, last_hash = v_hash;
  return v_id;
end
$$;
comment on function retention_internal._append_audit(text, text, text, jsonb) is
  'Internal. Appends one hash-chained row to retention.audit_log; the only write path into it.';

-- The closing entries of runs closed without one (_close_run, when the chain stayed locked
-- past its lock timeout or the close was cancelled), each with the run's record as it is
-- now and when it was closed. Called by _append_audit under the chain's lock.
create or replace function retention_internal._append_pending_run_entries()
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_ids bigint[];
  r     retention.runs;
begin
  -- Every mark cleared first: the entries below find none left to write.
  with done as (update retention.runs x set audit_pending = false where x.audit_pending returning x.run_id)
  select array_agg(d.run_id) into v_ids from done d;
  for r in select * from retention.runs x where x.run_id = any (v_ids) order by x.run_id loop
    perform retention_internal._append_audit('run.' || r.status,
      case r.kind when 'policy' then 'policy' else 'erasure_request' end,
      case r.kind when 'policy' then r.policy_name else r.request_id::text end,
      retention_internal._run_audit_details(r, r.error_code, r.error)
        -- Written by whoever appends next: the run's own login and actor are named in the
        -- entry, which the chain covers (round atk84 F6).
        || jsonb_build_object('closed_at', r.finished_at, 'recorded_late', true,
                              'run_db_user', r.db_user, 'run_started_by', r.started_by));
  end loop;
end
$$;
comment on function retention_internal._append_pending_run_entries() is
  'Internal. Writes the closing audit entries of runs closed while the audit chain was locked (runs.audit_pending), before the next entry.';
