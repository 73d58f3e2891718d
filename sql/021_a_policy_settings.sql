-- A policy's settings as set_policy's arguments (their names without p_; the file keys):
-- what alter_policy merges into and policy_settings lists.
create or replace function retention_internal._policy_args(p retention.policies)
returns jsonb
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  select pg_catalog.jsonb_build_object(
    'target', retention.qualified_name(p.target), 'action', p.action, 'age_column', p.age_column,
    'retain', p.retain, 'predicate', p.predicate, 'subject_column', p.subject_column,
    'deleted_at_column', p.deleted_at_column, 'batch_size', p.batch_size,
    'max_rows_per_run', p.max_rows_per_run, 'time_budget', p.time_budget,
    'lock_timeout', p.lock_timeout, 'schedule', p.schedule, 'time_zone', p.time_zone,
    'enabled', p.enabled, 'description', p.description, 'category', p.category,
    'notify_over_rows', p.notify_over_rows, 'archive_schema', p.archive_schema,
    'scrub', p.scrub_columns, 'scrubbed_at_column', p.scrubbed_at_column,
    'revoke', (select pg_catalog.jsonb_agg(retention.qualified_name(r) order by o)
                 from pg_catalog.unnest(p.revoke_tables) with ordinality x(r, o)),
    'run_cap', p.run_cap, 'notice_period', p.notice_period, 'tenant_column', p.tenant_column,
    'approval', p.approval, 'archive', p.archive, 'archive_retain', p.archive_retain,
    'pause_between_batches', p.pause_between_batches, 'max_replication_lag', p.max_replication_lag,
    'batch_target', p.batch_target, 'count', p.count, 'timestamp_zone', p.timestamp_zone)
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._policy_args(retention.policies) is
  'Internal. A policy''s settings named as set_policy''s arguments without p_ (target, scrub, revoke, …).';

-- What a run in progress acts on: the settings that decide which rows go and how (the
-- period, action, columns, predicate, scrub, revoke tables, notice period, archive,
-- approval, enabled), with the effective period. A plain run stops when they change
-- under it (run_step: RT041); throttling, batch sizes, budgets and schedules may change.
create or replace function retention_internal._policy_run_key(p retention.policies)
returns jsonb
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
set intervalstyle = 'postgres'
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  select (retention_internal._policy_args(p)
          - array['description', 'pause_between_batches', 'max_replication_lag', 'batch_target', 'count', 'batch_size',
                  'max_rows_per_run', 'time_budget', 'lock_timeout', 'schedule', 'time_zone', 'category',
                  'notify_over_rows', 'run_cap'])
         || pg_catalog.jsonb_build_object('effective_retain', (retention.effective_retain(p)).retain::text)
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._policy_run_key(retention.policies) is
  'Internal. The settings of a policy that decide which rows a run takes and how, with its effective period: a plain run stops when they change under it.';

-- set_policy's defaults, read from its signature (the one place they are written), as
-- JSON values comparable with _policy_args.
create or replace function retention_internal._set_policy_defaults()
returns jsonb
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_args text := pg_catalog.pg_get_function_arguments(
    'retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint, interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text, boolean, interval, interval, interval, interval, text, text)'::regprocedure);
  a      text;
  i      int;
  v      jsonb;
  r      jsonb := '{}';
begin
  -- "p_name text, …, p_retain interval DEFAULT NULL::interval, …": no default holds ", p_".
  foreach a in array pg_catalog.string_to_array(v_args, ', p_') loop
    i := pg_catalog.strpos(a, ' DEFAULT ');
    continue when i = 0;
    execute format('select pg_catalog.to_jsonb(%s)', pg_catalog.substr(a, i + 9)) into v;
    r := r || pg_catalog.jsonb_build_object(pg_catalog.split_part(pg_catalog.regexp_replace(a, '^p_', ''), ' ', 1), v);
  end loop;
  return r;
end
$$;
comment on function retention_internal._set_policy_defaults() is
  'Internal. set_policy''s default for each setting, from its signature.';

-- Every setting of every policy (or one), its effective value and where it comes from:
-- policy (set on the policy), default (set_policy's default), the inherited period's
-- source (schema, global, system) and the schedule's (category:<name>, system).
create or replace function retention.policy_settings(p_policy text default null)
returns table (policy text, setting text, value text, source text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_defaults jsonb := retention_internal._set_policy_defaults();
  p          retention.policies;
  v_args     jsonb;
  k          text;
begin
  if p_policy is not null then
    perform retention_internal._get_policy(p_policy);
  end if;
  for p in select * from retention.policies x where p_policy is null or x.name = p_policy order by x.name loop
    v_args := retention_internal._policy_args(p);
    for k in select a.key from jsonb_each(v_args) with ordinality a(key, value, n) order by
               array_position(array['target', 'action', 'age_column', 'retain', 'predicate', 'subject_column',
                                    'deleted_at_column', 'batch_size', 'max_rows_per_run', 'time_budget',
                                    'lock_timeout', 'schedule', 'time_zone', 'enabled', 'description',
                                    'category', 'notify_over_rows', 'archive_schema', 'scrub',
                                    'scrubbed_at_column', 'revoke', 'run_cap', 'notice_period',
                                    'tenant_column', 'approval', 'archive', 'archive_retain',
                                    'pause_between_batches', 'max_replication_lag', 'batch_target', 'count',
                                    'timestamp_zone'], a.key) loop
      policy := p.name;
      setting := case k when 'target' then 'table' else k end;
      if k = 'notify_over_rows' and p.notify_over_rows is null then
        value := '100000'; source := 'default';  -- what a NULL means (effective_policies)
      elsif k = 'batch_target' and p.batch_target is null then
        value := case when p.batch_size is null then '00:00:00.05' end; source := 'default';  -- NULL: 50 ms when adaptive
      elsif k = 'count' and p.count is null then
        value := case when p.action = 'drop_partitions' then 'estimate' end; source := 'default';  -- NULL: estimate for drop_partitions
      elsif k = 'archive' and p.archive is null then
        value := retention_internal._archives(p)::text; source := 'default';  -- NULL: on when approval is required
      elsif k = 'timestamp_zone' and p.timestamp_zone is null then
        -- NULL: the installation's default, with UTC and the database's TimeZone (_timestamp_zones).
        -- the zones a timestamp or date age column is read in; nothing for timestamptz
        value := case when retention_internal._column_type(p.target, p.age_column) in ('timestamp'::regtype, 'date'::regtype)
                      then array_to_string(retention_internal._timestamp_zones(p), ', ') end;
        source := 'default';
      elsif k = 'retain' then
        select e.retain::text, case e.source when 'policy' then 'policy' else e.source end
          into value, source from retention.effective_retain(p) e;
      elsif k = 'schedule' then
        select e.schedule, e.source into value, source from retention.effective_schedule(p) e;
      else
        value := case jsonb_typeof(v_args -> k) when 'null' then null
                   when 'string' then v_args ->> k else (v_args -> k)::text end;
        source := case when not v_defaults ? k then 'policy'
                       when (v_args -> k) is not distinct from (v_defaults -> k) then 'default'
                       else 'policy' end;
      end if;
      return next;
    end loop;
  end loop;
end
$$;
comment on function retention.policy_settings(text) is
  'Every setting of every policy (or of p_policy; RT008 if unknown) with its effective value and where it comes from: policy, default (set_policy''s), schema/global/system for an inherited period, category:<name>/system for a schedule. Reads only.';

create or replace view retention.policies_overview as
  select * from retention.policy_settings();
comment on view retention.policies_overview is
  'Every setting of every policy, its effective value and where it comes from (policy, default, schema, global, system, category:<name>): retention.policy_settings() for all policies.';
