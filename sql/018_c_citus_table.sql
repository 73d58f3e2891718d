-- Whether a table is distributed by Citus (hash, range or append distributed, a reference
-- table, or a Citus local table: any table in Citus's pg_dist_partition), or belongs to a
-- partition tree with one (a partitioned table above it, a partition below). Such a table's
-- rows live in shards on other nodes, and a batch addresses the rows it picked by ctid,
-- which is unique within one shard only: a DELETE ... WHERE ctid = ANY (...) sent to every
-- shard would remove other rows there. Policies on them are refused (RT013) when set and
-- at every run and batch. Without Citus installed this is false at once.
create or replace function retention_internal._citus_table(p_rel oid)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_catalog regclass := to_regclass('pg_catalog.pg_dist_partition');
  v_found   boolean;
begin
  if v_catalog is null then
    return false;
  end if;
  execute format('select exists (select from %s d where d.logicalrelid::oid = any ($1))', v_catalog) into v_found
    using array(select p_rel
                union select a.relid::oid from pg_catalog.pg_partition_ancestors(p_rel::regclass) a
                union select t.relid::oid from pg_catalog.pg_partition_tree(p_rel::regclass) t);
  return v_found;
end
$$;
comment on function retention_internal._citus_table(oid) is
  'Internal. Whether Citus distributes the table, a partitioned table above it or a partition below it (in pg_dist_partition): batches address rows by ctid, unique within one shard only, so policies on such tables are refused (RT013).';
