-- The period hierarchy: the policy's own period, else its table's schema default, else
-- the global default, else the system default of 30 days. Returns where it came from.
create or replace function retention.effective_retain(
  p_policy retention.policies,
  out retain interval,
  out source text
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_schema text;
begin
  if p_policy.retain is not null then
    retain := p_policy.retain; source := 'policy';
    return;
  end if;
  select n.nspname into v_schema
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_policy.target;
  select d.retain into retain from retention.defaults d where d.scope = 'schema:' || v_schema;
  if found then source := 'schema'; return; end if;
  select d.retain into retain from retention.defaults d where d.scope = 'global';
  if found then source := 'global'; return; end if;
  retain := interval '30 days'; source := 'system';
end
$$;
comment on function retention.effective_retain(retention.policies) is
  'A policy''s effective retention period and its source: policy, schema, global or system (30 days); used by effective_policies. Reads only.';
