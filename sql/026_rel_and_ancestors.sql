-- A table and every table above it — partitioned tables above a partition, and parents of
-- a table that inherits (INHERITS) — innermost first; a hold on any of them covers its rows.
create or replace function retention_internal._rel_and_ancestors(p_rel regclass)
returns regclass[]
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
  with recursive a(rel, depth) as (
    select p_rel::oid, 0
    union
    select i.inhparent, a.depth + 1 from pg_catalog.pg_inherits i join a on i.inhrelid = a.rel where a.depth < 64)
  select array_agg(a.rel::regclass order by a.depth) from a
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._rel_and_ancestors(regclass) is
  'Internal. The table itself and every table above it (partitioned parents, inheritance parents).';

-- The tables above a table for the hold rule: its parents now (partitioned, inheritance)
-- and those it had when a run opened or a hold was placed (retention_internal.past_parents),
-- at any level, the table itself first. A table the application detached keeps the holds
-- and subject columns of the tree it was in (round atk53).
create or replace function retention_internal._hold_ancestors(p_rel regclass)
returns oid[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  return (select s.v from (
  with recursive a(rel, depth) as (
    select p_rel::oid, 0
    union
    select e.parent, a.depth + 1
      from a cross join lateral (select i.inhparent as parent from pg_catalog.pg_inherits i where i.inhrelid = a.rel
                                 union
                                 select p.parent from retention_internal.past_parents p where p.rel = a.rel
                                 union
                                 -- The parent gone by OID and rebuilt under its name since: that
                                 -- table too, as _past_parents_now reads the edge (round atk155 F2:
                                 -- its policy saved again on the new table, a detached child lost
                                 -- the subject column).
                                 select x.o
                                   from (select retention_internal._rel_by_name(p.parent_name) as o
                                           from retention_internal.past_parents p
                                          where p.rel = a.rel and not exists (select from pg_catalog.pg_class c where c.oid = p.parent)) x
                                  where x.o is not null
                                 union
                                 -- Of a table rebuilt under the child's recorded name (round
                                 -- atk76 F5): the parent by OID, or by its name if rebuilt too.
                                 select coalesce((select c.oid from pg_catalog.pg_class c where c.oid = p.parent),
                                                 retention_internal._rel_by_name(p.parent_name), p.parent)
                                   from (select pg_catalog.format('%I.%I', n.nspname, c.relname) as nm
                                           from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                                          where c.oid = a.rel) me
                                   join retention_internal.past_parents p on p.rel_name = me.nm
                                  where not exists (select from pg_catalog.pg_class c where c.oid = p.rel)) e
     where a.depth < 64)
  select array(select x.rel from (select a.rel, min(a.depth) as d from a group by a.rel) x order by x.d, x.rel)
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._hold_ancestors(regclass) is
  'Internal. The table and every table above it now or when a run opened or a hold was placed (past_parents): the tables whose holds and subject columns the hold rule applies to it.';

-- A table's partitioned family: every table of the partition tree of its top-level
-- partitioned table (itself alone when it is not partitioned nor a partition).
create or replace function retention_internal._family(p_rel regclass)
returns oid[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select array[p_rel::oid]
         || coalesce(array(select t.relid::oid from pg_catalog.pg_partition_tree(coalesce(pg_catalog.pg_partition_root(p_rel), p_rel)) t
                            where t.relid <> p_rel), '{}')
$$;
comment on function retention_internal._family(regclass) is
  'Internal. The table and every table of its partitioned table''s partition tree (root, partitions, their partitions).';

-- A table and every table below it, by OID, sorted: through pg_inherits, so a partition
-- being detached concurrently (which pg_partition_tree and queries leave out, while a
-- DROP of the table above still drops it) counts, and a table that is neither
-- partitioned nor a partition (one detached) is itself.
create or replace function retention_internal._tree_oids(p_rel regclass)
returns oid[]
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
  with recursive t(rel) as (
    select p_rel::oid
    union
    select i.inhrelid from pg_catalog.pg_inherits i join t on i.inhparent = t.rel
  )
  select array(select t.rel from t order by 1)
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._tree_oids(regclass) is
  'Internal. The OIDs of a table and of every table below it (partitions being detached concurrently included), sorted.';

-- A table below p_rel that is being detached concurrently (left pending), or NULL: its
-- rows are out of every query's sight, so no hold check or count sees them, while a DROP
-- of p_rel would still take it.
create or replace function retention_internal._pending_below(p_rel regclass)
returns regclass
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select i.inhrelid::regclass
    from pg_catalog.pg_inherits i
   where i.inhdetachpending and i.inhparent = any (retention_internal._tree_oids(p_rel))
   order by i.inhrelid
   limit 1
$$;
comment on function retention_internal._pending_below(regclass) is
  'Internal. A table below the given one left pending by a concurrent detach (out of queries'' sight, still dropped with it), or NULL.';

-- Whether a schema is PostgreSQL's own or one of pg-retention's.
create or replace function retention_internal._system_namespace(p_nsp oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  -- PostgreSQL's (pg_catalog, information_schema, pg_toast, temporary schemas: pg_temp_N),
  -- pg-retention's, and the worker's job queue (pg-boss's job, queue and version tables,
  -- in retention_jobs or the schema PG_RETENTION_JOB_SCHEMA names).
  select exists (select from pg_catalog.pg_namespace n
                  where n.oid = p_nsp
                    and (n.nspname in ('pg_catalog', 'information_schema', 'retention', 'retention_internal', 'retention_jobs')
                         or n.nspname ~ '^pg_'
                         or (select count(distinct c.relname) from pg_catalog.pg_class c
                              where c.relnamespace = n.oid and c.relkind in ('r', 'p') and c.relname in ('job', 'queue', 'version')) = 3))
$$;
comment on function retention_internal._system_namespace(oid) is
  'Internal. Whether a schema is PostgreSQL''s own (temporary schemas included), pg-retention''s, or the worker''s job queue (pg-boss''s tables).';

-- Every table connected to a table through inheritance or partitioning: its ancestors and
-- everything below them (siblings included). A subject column one of them declares names
-- a subject in all of them (their columns are inherited), so subject holds match it in
-- each: erring towards holding more.
create or replace function retention_internal._hold_family(p_rel regclass)
returns oid[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_tree oid[] := retention_internal._tree_oids(p_rel);
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  select array(select distinct x
                 from (select unnest(retention_internal._hold_ancestors(p_rel))
                       union
                       -- The tables a partition below it was below before, outside its tree
                       -- (moved here since): their subject columns named its rows (round
                       -- atk88 F3b).
                       select unnest(retention_internal._hold_ancestors(y.parent::regclass))
                         from (select distinct pp.parent
                                 from retention_internal.past_parents pp
                                where pp.rel = any (v_tree) and pp.rel <> p_rel and pp.parent <> all (v_tree)
                                  and exists (select from pg_catalog.pg_class c where c.oid = pp.parent)) y) a(rel)
                cross join unnest(retention_internal._tree_oids(a.rel::regclass)) x)
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._hold_family(regclass) is
  'Internal. The table, every table above it (partitioned or inheritance parents, now or before) and every table below those, and the tables a table below it was below before: whose subject columns subject holds match in the table.';

-- The tables that inherit from p_rel (INHERITS, not partitions), at any level, of any
-- kind (a foreign table may inherit too: _erasure_conflicts refuses a plan with one).
create or replace function retention_internal._inheritance_children(p_rel regclass)
returns oid[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with recursive d(rel) as (
    select i.inhrelid from pg_catalog.pg_inherits i
      join pg_catalog.pg_class k on k.oid = i.inhrelid and not k.relispartition
     where i.inhparent = p_rel
    union
    select i.inhrelid from pg_catalog.pg_inherits i join d on i.inhparent = d.rel
      join pg_catalog.pg_class k on k.oid = i.inhrelid and not k.relispartition)
  select coalesce(array(select d.rel from d order by d.rel::regclass::text), '{}')
$$;
comment on function retention_internal._inheritance_children(regclass) is
  'Internal. The tables that inherit from a table (INHERITS, not partitions), at any level.';

-- A table and the tables above it, nearest first: partitioned tables it is a partition of
-- and parents it inherits from (pg_inherits holds both), at any level. An erasure rule
-- on one of them applies to it when it has none of its own.
create or replace function retention_internal._rel_and_parents(p_rel regclass)
returns oid[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with recursive u(rel, lvl, seq) as (
    select p_rel::oid, 0, 0
    union
    select i.inhparent, u.lvl + 1, i.inhseqno from pg_catalog.pg_inherits i join u on i.inhrelid = u.rel where u.lvl < 32)
  select array(select x.rel from (select distinct on (u.rel) u.rel, u.lvl, u.seq from u order by u.rel, u.lvl, u.seq) x
                order by x.lvl, x.seq, x.rel)
$$;
comment on function retention_internal._rel_and_parents(regclass) is
  'Internal. A table and the tables above it (partitioned tables, inheritance parents), nearest first.';
