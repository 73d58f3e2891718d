-- The rows of a table (a partition, or one partitioned in turn: its leaves summed) as
-- PostgreSQL's statistics put them, without reading a row: reltuples scaled to the pages
-- the table has now, as the planner does (rows come and go between ANALYZEs). An empty
-- table (no pages) has 0 rows. NULL when a leaf has no usable statistics (never
-- analyzed or vacuumed, or analyzed while it had no pages but has pages now) or is not a
-- plain table (a foreign table has no pages here, whatever it holds): the caller counts it.
create or replace function retention_internal._estimated_rows(p_rel regclass)
returns bigint
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select case when bool_and(l.relkind = 'r' and (l.pages = 0 or (l.reltuples >= 0 and l.relpages > 0)))
              then coalesce(sum(case when l.pages = 0 then 0
                                     else round(l.reltuples / nullif(l.relpages, 0) * l.pages) end), 0)::bigint end
    from (select c.relkind, c.reltuples, c.relpages,
                 pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::bigint as pages
            from pg_catalog.pg_class c
           -- The leaves: the table itself, or (partitioned) the tables below it. A table in no
           -- partition tree (a partition once detached) has no rows in pg_partition_tree.
           where c.relkind <> 'p'
             and (c.oid = p_rel
                  or c.oid in (select t.relid from pg_catalog.pg_partition_tree(p_rel) t where t.isleaf))) l
$$;
comment on function retention_internal._estimated_rows(regclass) is
  'Internal. Rows of a table (its leaves summed) from PostgreSQL''s statistics, reltuples scaled to its current pages as the planner does; 0 without pages; NULL when a leaf has no usable statistics.';
