-- The period hierarchy: the policy's own period, else its table's schema default, else
-- the global default, else the system default of 30 days. Returns where it came from.
-- A schema's default is the longest of those set for the schema its table is in (by name,
-- or by OID: a schema renamed keeps its default) and for the schema its table was in when
-- the policy was made (policies.schema_oid: a table moved to another schema keeps it), as
-- it reaches back from now.
-- Looked up by the current name alone, a rename or a move cut a 10-year default to 30
-- days, unaudited (round atk132 F1).
create or replace function retention.effective_retain(
  p_policy retention.policies,
  out retain interval,
  out source text
)
language plpgsql
stable
-- As the owner: it ranks defaults with retention_internal._period_start, which the logins
-- granted this function (the worker's) may not call themselves.
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_schema text;
  v_oid    oid;
begin
  if p_policy.retain is not null then
    retain := p_policy.retain; source := 'policy';
    return;
  end if;
  select n.nspname, n.oid into v_schema, v_oid
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_policy.target;
  -- The longest as it reaches back from now, counted as runs count it (_period_start;
  -- max() compares intervals with 30-day months and 360-day years: '3601 days' beat '10
  -- years', round atk135 F7; now() - retain differs from a run's cutoff at month ends,
  -- round atk138 F2).
  select d.retain into retain
    from retention.defaults d
   where d.scope = 'schema:' || v_schema
      or d.schema_oids && array[v_oid, p_policy.schema_oid]
      or d.scope = 'schema:' || (select n.nspname from pg_catalog.pg_namespace n where n.oid = p_policy.schema_oid)
   order by retention_internal._period_start(now() at time zone 'UTC', d.retain), d.retain desc
   limit 1;
  if retain is not null then source := 'schema'; return; end if;
  select d.retain into retain from retention.defaults d where d.scope = 'global';
  if found then source := 'global'; return; end if;
  retain := interval '30 days'; source := 'system';
end
$$;
comment on function retention.effective_retain(retention.policies) is
  'A policy''s effective retention period and its source: policy, schema (the longest default of the schema its table is in, by name or OID, and of the schema it was in when the policy was made), global or system (30 days); used by effective_policies. Reads only.';

-- The schema a policy's table is in, recorded when the policy is made or its table changes
-- (never taken from the writer otherwise; an older row without it gets it).
create or replace function retention_internal._keep_policy_schema()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if tg_op = 'INSERT' or old.target is distinct from new.target or old.schema_oid is null then
    new.schema_oid := coalesce((select c.relnamespace from pg_catalog.pg_class c where c.oid = new.target),
                               case when tg_op = 'UPDATE' then old.schema_oid end);
  else
    new.schema_oid := old.schema_oid;
  end if;
  return new;
end
$$;
comment on function retention_internal._keep_policy_schema() is
  'Internal. Trigger function: records the schema of a policy''s table when the policy is made or its table changes (policies.schema_oid).';
create or replace trigger policies_schema
  before insert or update on retention.policies
  for each row execute function retention_internal._keep_policy_schema();
