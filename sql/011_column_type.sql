-- The type of a live column with domains resolved to their base type (see _base_type:
-- casting to a domain would run its owner's code), or NULL when there is no such column.
create or replace function retention_internal._column_type(p_rel regclass, p_column text)
returns regtype
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
  select retention_internal._base_type(a.atttypid, -1)::regtype
    from pg_catalog.pg_attribute a
   where a.attrelid = p_rel
     and a.attname = p_column
     and a.attnum > 0
     and not a.attisdropped
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._column_type(regclass, text) is
  'Internal. Type of a column of a table, NULL if the column does not exist.';
