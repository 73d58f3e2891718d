-- A table and the partitioned tables above it (for a partition), innermost first. (Unlike
-- pg_partition_ancestors, it includes a table that is not partitioned at all.)
create or replace function retention._rel_and_ancestors(p_rel regclass)
returns regclass[]
language sql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
  select array[p_rel] || coalesce(array(select a.relid from pg_catalog.pg_partition_ancestors(p_rel) a
                                          where a.relid <> p_rel), '{}')
$$;
comment on function retention._rel_and_ancestors(regclass) is
  'Internal. The table itself and, for a partition, every partitioned table above it.';
