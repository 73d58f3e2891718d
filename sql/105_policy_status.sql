-- Per policy, what a DBA asks first: when it runs next, how its last run went, when it
-- last succeeded, what is waiting, and what holds it. retention.policy_status is the view
-- (psql: TABLE retention.policy_status;); policy_status_rows() is its SECURITY DEFINER
-- body, since the estimate plans each policy's count as the owner and the holds are read
-- from the owner's view of them.

-- The planner's estimate of the rows a policy's run would take now (EXPLAIN, nothing
-- executed): cheap on a large table, where preview() counts them. NULL where it cannot
-- plan (its table gone).
create or replace function retention_internal._eligible_estimate(p retention.policies)
returns bigint
language plpgsql
volatile  -- EXPLAIN is not allowed in a stable function
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  s      record;
  v_plan json;
begin
  -- Only for a table the caller may read, and only where planning it as the owner runs no
  -- other role's code (a table turned into a view, row security that applies).
  if p.action = 'drop_partitions' or not coalesce(has_table_privilege(session_user, p.target, 'SELECT'), false)
     or retention_internal._read_hazard(p) is not null then
    return null;
  end if;
  -- In a subtransaction rolled back once the plan is read: the table's planner lock
  -- (_check_planner_code) lasts for the check and the planning only, not to the end of
  -- the reader's transaction, which stopped runs and the application's DDL for as long as
  -- a reader kept it open (round atk130 F3).
  begin
    s := retention_internal._policy_sql(p, null);
    execute format('explain (format json) select from only %s t where %s', s.tbl, s.eligible)
      into v_plan using retention_internal._policy_cutoff(p, now(), (retention.effective_retain(p)).retain), now(), p.name, p.target::oid;
    raise exception using errcode = 'RTREL';
  exception when sqlstate 'RTREL' then
    null;
  end;
  return round((v_plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric)::bigint;
exception when others then
  return null;
end
$$;
comment on function retention_internal._eligible_estimate(retention.policies) is
  'Internal. The planner''s estimate of the rows a run of the policy would take now (EXPLAIN only); NULL where it cannot be planned.';

-- A table's subject columns, or NULL where they cannot be said (a policy's or erasure
-- rule's subject column renamed since: _subject_columns fails, and every run of the
-- table with it); a status view must not fail for every policy because of one.
create or replace function retention_internal._subject_columns_or_null(p_rel regclass)
returns name[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  return retention_internal._subject_columns(p_rel);
exception when sqlstate 'RT002' then
  return null;
end
$$;
comment on function retention_internal._subject_columns_or_null(regclass) is
  'Internal. _subject_columns, or NULL where a subject column was renamed since (RT002).';

create or replace function retention.policy_status_rows()
returns table (policy text, "table" text, action text, enabled boolean, schedule text, time_zone text,
               next_run_at timestamptz, last_run_at timestamptz, last_status text, last_success_at timestamptz,
               last_error_code text, last_error text, eligible_estimate bigint, holds integer, running boolean)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select p.name, p.target::text, p.action, p.enabled, e.effective_schedule, e.time_zone,
         case when p.enabled and not e.target_missing
              then retention_internal._cron_step(e.effective_schedule, e.time_zone, now(), true) end,
         l.started_at,
         case when l.status = 'running' and not retention_internal._run_lock_held(l.policy_name, l.backend_pid)
              then 'interrupted' else l.status end,
         s.finished_at,
         case when l.status in ('failed', 'refused', 'interrupted', 'stopped_lock_timeout') then l.error_code end,
         -- The message may quote row values: only for a reader of the table.
         case when l.status in ('failed', 'refused', 'interrupted', 'stopped_lock_timeout')
                   and coalesce(has_table_privilege(session_user, p.target, 'SELECT'), false) then l.error end,
         case when not e.target_missing then retention_internal._eligible_estimate(p) end,
         (select count(*)::int from retention_internal._open_holds h
           where (h.scope = 'policy' and h.policy_name = p.name)
              or (h.scope = 'table' and not e.target_missing
                  and h.target::oid in (select r.rel from retention_internal._reach(p.target, p.action in ('soft_delete', 'scrub')) r))
              or (h.scope = 'subject' and not e.target_missing
                  and coalesce(cardinality(retention_internal._subject_columns_or_null(p.target)), 1) > 0)),
         -- A run whose session is gone (killed, crashed) is not under way: the next run
         -- records it interrupted.
         exists (select from retention.runs r where r.policy_id = p.policy_id and r.status = 'running'
                    and retention_internal._run_lock_held(r.policy_name, r.backend_pid))
    from retention.policies p
    join retention.effective_policies e on e.policy_id = p.policy_id
    left join lateral (select r.started_at, r.status, r.error_code, r.error, r.policy_name, r.backend_pid from retention.runs r
                        where r.policy_id = p.policy_id and r.mode = 'live' order by r.run_id desc limit 1) l on true
    left join lateral (select r.finished_at from retention.runs r
                        where r.policy_id = p.policy_id and r.mode = 'live'
                          and retention_internal._run_succeeded(r)
                        order by r.run_id desc limit 1) s on true
   order by p.name
$$;
comment on function retention.policy_status_rows() is
  'The rows of retention.policy_status: per policy its schedule and next run, its last live run (status, error), last success, the planner''s estimate of the rows it would take now, the open holds that can keep its rows, and whether a run is under way.';

create or replace view retention.policy_status as
  select * from retention.policy_status_rows();
comment on view retention.policy_status is
  'Per policy: schedule, next run (in its time zone, as the worker reads it), last live run and its status, last success, last error, the planner''s estimate of the rows a run would take now (EXPLAIN, nothing counted), the open holds that can keep its rows (table holds on its table or a table its change reaches, policy holds, subject holds when it has a subject column), whether a run is under way.';
comment on column retention.policy_status.policy is 'The policy''s name.';
comment on column retention.policy_status."table" is 'Its table.';
comment on column retention.policy_status.action is 'delete, soft_delete, purge_soft_deleted, scrub or drop_partitions.';
comment on column retention.policy_status.enabled is 'Whether it runs on its schedule.';
comment on column retention.policy_status.schedule is 'Its cron schedule as the worker runs it (its own, or its category''s).';
comment on column retention.policy_status.time_zone is 'The time zone its schedule is read in.';
comment on column retention.policy_status.next_run_at is 'Its next scheduled occurrence (NULL when disabled or its table is gone).';
comment on column retention.policy_status.last_run_at is 'When its last live run started.';
comment on column retention.policy_status.last_status is 'How its last live run ended (running while one is under way).';
comment on column retention.policy_status.last_success_at is 'When its last successful live run finished (completed, or stopped by its budget or cap).';
comment on column retention.policy_status.last_error_code is 'The SQLSTATE of its last live run, when that one failed, was refused, interrupted or stopped on a lock.';
comment on column retention.policy_status.last_error is 'Its message, for a reader who may SELECT from the policy''s table (it may quote a row''s values); NULL for others.';
comment on column retention.policy_status.eligible_estimate is 'The planner''s estimate of the rows a run would take now, from the table''s statistics as of its last ANALYZE (so right after a run it still counts what the run removed until autovacuum analyzes the table); NULL for drop_partitions, a missing table, a reader who may not SELECT from it, or a table whose planning would run another role''s code. retention.preview() counts them.';
comment on column retention.policy_status.holds is 'Open legal holds that can keep some of its rows.';
comment on column retention.policy_status.running is 'Whether a run of it is under way.';
