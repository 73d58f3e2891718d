create or replace function retention.request_stop(p_run_id bigint)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_run retention.runs;
begin
  update retention.runs set stop_requested_at = clock_timestamp()
   where run_id = p_run_id and status = 'running' and stop_requested_at is null
  returning * into v_run;
  if not found then
    -- An id that names no run is a mistake, said as one (not "not running").
    if not exists (select from retention.runs r where r.run_id = p_run_id) then
      raise exception 'run % does not exist', p_run_id
        using errcode = 'RT008', hint = 'SELECT run_id, policy_name, status FROM retention.runs WHERE status = ''running'' lists the runs that can be stopped.';
    end if;
    return false;
  end if;
  -- Who stopped it, in the audit log (a stopped erasure step leaves its request open).
  perform retention_internal._append_audit('run.stop_requested',
    case when v_run.kind = 'erasure' then 'erasure_request' else 'policy' end,
    case when v_run.kind = 'erasure' then v_run.request_id::text else v_run.policy_name end,
    jsonb_build_object('run_id', v_run.run_id));
  return true;
end
$$;
comment on function retention.request_stop(bigint) is
  'Asks a running run to stop after its current batch (audited: run.stop_requested); returns false if it is not running (or was asked already); RT008 for an id that names no run.';

-- What the procedures (run, run_all, run_due, process_erasure) call when an error or a
-- cancel escapes a step before the step could end its run: the run locks this session
-- holds for that run (its policy's, or its erasure request's), for the request, for the
-- policy named (open_run cancelled before it returned the run), and run_due's, are
-- released at once (advisory locks are not undone with the transaction
-- the error aborts). The run stays 'running' in the ledger until the next run of the
-- policy (or processing of the request), from any session, finds it dead and records it
-- interrupted: no idle session keeps others from running it. Releases only this
-- session's locks; returns how many it released.
create or replace function retention.release_run_locks(p_run_id bigint default null, p_request bigint default null,
                                                       p_policy text default null)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_names text[] := '{}';
  v_name  text;
  v_n     integer := 0;
  i       integer;
begin
  select array[case r.kind when 'policy' then r.policy_name else format('erasure:%s', r.request_id) end]
    into v_names
    from retention.runs r
   where r.run_id = p_run_id and r.backend_pid = pg_backend_pid();
  v_names := coalesce(v_names, '{}');
  if p_request is not null then
    v_names := v_names || format('erasure:%s', p_request);
  end if;
  -- A policy's, by name: open_run took it and was cancelled before it returned the run.
  if p_policy is not null then
    v_names := v_names || (select coalesce((select p.name from retention.policies p where p.name = p_policy), p_policy));
  end if;
  foreach v_name in array v_names loop
    for i in 1 .. 16 loop
      exit when not retention_internal._holds_run_lock(v_name);
      perform retention_internal._unlock_run(v_name);
      v_n := v_n + 1;
    end loop;
  end loop;
  -- run_due's own lock, when it was this session's run that failed.
  for i in 1 .. 16 loop
    exit when not exists (select from pg_catalog.pg_locks l
                           cross join (select pg_catalog.hashtext('retention.run_due')::bigint as k) x
                           where l.locktype = 'advisory' and l.pid = pg_backend_pid() and l.granted and l.objsubid = 1
                             and l.classid = ((x.k >> 32) & 4294967295)::oid and l.objid = (x.k & 4294967295)::oid);
    perform pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('retention.run_due'));
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$$;
comment on function retention.release_run_locks(bigint, bigint, text) is
  'Releases the run locks this session holds for a run (its policy''s or its erasure request''s), for an erasure request, for a policy by name, and run_due''s: the procedures call it when an error or cancel escapes a step, so no idle session keeps others from running the policy. The run is recorded interrupted by the next run. Affects only this session.';
