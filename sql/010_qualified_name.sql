-- A relation's schema-qualified, quoted name, independent of the caller's search_path,
-- for use in dynamic SQL. NULL when the relation no longer exists.
create or replace function retention.qualified_name(p_rel regclass)
returns text
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
  select format('%I.%I', n.nspname, c.relname)
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_rel
  ) s(v) limit 1);
end
$$;
comment on function retention.qualified_name(regclass) is
  'Schema-qualified, quoted name of a relation (NULL if it is gone); used by the views. Reads the catalog only.';
