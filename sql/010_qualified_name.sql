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

-- A table by the qualified name qualified_name wrote ('schema.table', quoted where needed),
-- read from the catalog: to_regclass checks USAGE on the schema and fails where the owner
-- has none (a job schema's partitions recorded by name); NULL when there is none.
create or replace function retention_internal._rel_by_name(p_name text)
returns oid
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select c.oid
    from (select pg_catalog.parse_ident(p_name, false) as p where p_name is not null) x
    join pg_catalog.pg_namespace n on n.nspname = x.p[1]
    join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = x.p[2]
   where pg_catalog.cardinality(x.p) = 2
$$;
comment on function retention_internal._rel_by_name(text) is
  'Internal. The OID of the table named ''schema.table'' (as qualified_name writes it), read from the catalog without a privilege check; NULL when there is none.';
revoke all on function retention_internal._rel_by_name(text) from public;
