-- A table and every table above it — partitioned tables above a partition, and parents of
-- a table that inherits (INHERITS) — innermost first; a hold on any of them covers its rows.
create or replace function retention._rel_and_ancestors(p_rel regclass)
returns regclass[]
language sql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
  with recursive a(rel, depth) as (
    select p_rel::oid, 0
    union
    select i.inhparent, a.depth + 1 from pg_catalog.pg_inherits i join a on i.inhrelid = a.rel where a.depth < 64)
  select array_agg(a.rel::regclass order by a.depth) from a
$$;
comment on function retention._rel_and_ancestors(regclass) is
  'Internal. The table itself and every table above it (partitioned parents, inheritance parents).';
