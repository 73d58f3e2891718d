-- The holds lock is a table lock (retention_internal.holds_gate, migration 31): ACCESS SHARE,
-- taken by every batch for its transaction, and ACCESS EXCLUSIVE, taken by place_hold and a
-- direct write of legal_holds, so a hold waits for the batches in flight to commit and every
-- later batch reads it in the statement that changes rows. No role but the owner may lock
-- that table; an advisory key (what it was) any login could take, and one holding it
-- shared kept holds from being placed while batches went on (round atk48).
-- Advisory locks, one key namespace (the first of the two int4 keys) per purpose:
--   x'52540002'  one run per policy (second key: a hash of the policy's name, so a policy
--                dropped and created again mid-run is still the same policy), held by the
--                session for the length of the run (it spans the run's many transactions).
-- The migrate lock is a single bigint key (runner/migrate.ts), a key space of its own.
create or replace function retention_internal._lock_holds_shared()
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  lock table retention_internal.holds_gate in access share mode;
end
$$;
comment on function retention_internal._lock_holds_shared() is
  'Internal. Taken by each batch: serialises batches with place_hold (ACCESS SHARE on retention_internal.holds_gate).';

create or replace function retention_internal._lock_holds_exclusive()
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  lock table retention_internal.holds_gate in access exclusive mode;
end
$$;
comment on function retention_internal._lock_holds_exclusive() is
  'Internal. Taken by place_hold and a direct write of legal_holds: waits for in-flight batches to commit (ACCESS EXCLUSIVE on retention_internal.holds_gate).';

-- Claims the run lock of a policy for this session. A lock this session still holds from
-- an earlier run of it is stale (a session runs one statement at a time, so that run is
-- over: it was cancelled before it could let go) and is released first.
create or replace function retention_internal._try_lock_run(p_policy text)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_held int;
begin
  select count(*) into v_held
    from pg_catalog.pg_locks l
   where l.locktype = 'advisory' and l.pid = pg_catalog.pg_backend_pid() and l.granted
     and l.classid = x'52540002'::int::oid and l.objid = pg_catalog.hashtext(p_policy)::oid and l.objsubid = 2;
  for i in 1 .. v_held loop
    perform pg_catalog.pg_advisory_unlock(x'52540002'::int, pg_catalog.hashtext(p_policy));
  end loop;
  return pg_catalog.pg_try_advisory_lock(x'52540002'::int, pg_catalog.hashtext(p_policy));
end
$$;
comment on function retention_internal._try_lock_run(text) is
  'Internal. Claims the one-run-per-policy session lock (after releasing a stale one of this session); false when another session runs the policy.';

create or replace function retention_internal._unlock_run(p_policy text)
returns void
language sql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$ select pg_catalog.pg_advisory_unlock(x'52540002'::int, pg_catalog.hashtext(p_policy)) $$;
comment on function retention_internal._unlock_run(text) is
  'Internal. Releases the run lock of a policy taken by _try_lock_run.';

create or replace function retention_internal._holds_run_lock(p_policy text)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select exists (select from pg_catalog.pg_locks l
                  where l.locktype = 'advisory' and l.pid = pg_catalog.pg_backend_pid() and l.granted
                    and l.classid = x'52540002'::int::oid and l.objid = pg_catalog.hashtext(p_policy)::oid
                    and l.objsubid = 2)
$$;
comment on function retention_internal._holds_run_lock(text) is
  'Internal. Whether this session holds the run lock of that policy (or erasure request).';

-- Whether the session of a run (its backend_pid) still holds its policy's run lock: a run
-- still 'running' whose session does not ended with it (the next run of the policy marks
-- it interrupted). Any login can take an advisory lock under that key: one held by
-- another session does not keep a dead run alive.
create or replace function retention_internal._run_lock_held(p_policy text, p_pid integer)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select exists (select from pg_catalog.pg_locks l
                  where l.locktype = 'advisory' and l.granted and l.pid = p_pid
                    and l.classid = x'52540002'::int::oid and l.objid = pg_catalog.hashtext(p_policy)::oid
                    and l.objsubid = 2)
$$;
comment on function retention_internal._run_lock_held(text, integer) is
  'Internal. Whether the session with that backend pid holds the run lock of that policy: a running run of it may still be alive.';

-- This session, as no later one can be: its backend pid and when the backend started (a
-- pid comes round again; with its start time it does not). Runs record it; only the
-- session that opened a run steps it.
create or replace function retention_internal._session_id()
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
  select pg_catalog.pg_backend_pid()::text || '@'
         || coalesce((select a.backend_start::text from pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a), '')
$$;
comment on function retention_internal._session_id() is
  'Internal. This session''s backend pid and start time: what identifies the session that opened a run.';

-- Which session holds a run lock (a policy's, or 'erasure:<id>') and what it is doing, for
-- already_running and 55006: one idle for long holds it after a cancel that came while its
-- procedure committed between two steps; its next run or erasure (pin_session), or its
-- end, lets go.
-- NULL when no session holds it.
create or replace function retention_internal._run_lock_holder(p_name text)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select format('session %s (%s since %s)', a.pid, a.state,
                to_char(a.state_change at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC'))
    from pg_catalog.pg_locks l
    join pg_catalog.pg_stat_activity a on a.pid = l.pid
   where l.locktype = 'advisory' and l.granted and l.classid = x'52540002'::int::oid
     and l.objid = pg_catalog.hashtext(p_name)::oid and l.objsubid = 2
   limit 1
$$;
comment on function retention_internal._run_lock_holder(text) is
  'Internal. The session holding a run lock and its state since when (for already_running and 55006), or NULL.';
