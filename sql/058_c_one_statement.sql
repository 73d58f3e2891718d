-- An archiving batch in one statement, checked after it: the fast path of the common case
-- (a policy that archives without approval, no table or subject hold open, a cascade into
-- ordinary tables). The locked path (_two_phase_sql) locks the policy's rows first so that
-- no row can come to reference them between the statement's snapshot and the cascade at
-- its end, which reads the latest rows. Here the statement deletes every level of the
-- cascade itself, each from the rows the level above returned (RETURNING gives each row as
-- deleted, and its copy is made from that), so the cascade at the end finds nothing left,
-- unless a row came to reference a deleted one after the snapshot. Such a row would go
-- without a copy; the check sees it: the rows this transaction deleted from each table
-- (pg_stat_get_xact_tuples_deleted, counted by the server for every deletion, the
-- cascade's included) must equal the rows the statement deleted and copied there. When
-- they do not, the statement is undone (a subtransaction) and the batch takes the locked
-- path (_one_statement_exec reports it; _batch does it).
-- _one_statement_sql returns final (bind parameters as _batch_sql's, $1-$8, plus $9 run
-- id and $10 batch number; it returns _batch_sql's four columns and, fifth, the rows it
-- deleted per table of rels) and rels (the tables of the cascade's delete nodes, each
-- once), or NULL final where the fast path does not apply: approval required, a loop, a
-- cascaded table that is partitioned (deletions count per partition, and one can be
-- attached while the batch runs), that has row security or that this role cannot read or
-- delete from (the statement would not see every row the cascade removes), or the server
-- not counting deletions (track_counts off).
create or replace function retention_internal._one_statement_sql(p_policy retention.policies, p_tree jsonb,
                                                        out final text, out rels oid[])
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  s       record := retention_internal._policy_sql(p_policy, null);
  v_type  text := format_type(retention_internal._column_type(p_policy.target, p_policy.age_column), null);
  v_root  regclass := coalesce(pg_catalog.pg_partition_root(p_policy.target), p_policy.target);
  v_flag  record := retention_internal._flag_close_sql(p_policy);
  v_ctes  text := '';
  v_arch  text := '';
  v_sum   text := '0';
  v_count text;
  v_keys  text := '';   -- the picked rows' key columns the first level of the cascade needs
  c       record;
begin
  rels := '{}';
  if p_policy.approval = 'required' or s.age_expr is null
     or not pg_catalog.current_setting('track_counts')::boolean
     or exists (select from retention_internal._tree_nodes(p_tree) t where t.cycle)
     or exists (select from retention_internal._tree_nodes(p_tree) t
                  join pg_catalog.pg_class k on k.oid = t.rel
                 where t.action = 'delete'
                   and (k.relkind <> 'r' or k.relrowsecurity
                        or not pg_catalog.has_table_privilege(t.rel, 'SELECT')
                        or not pg_catalog.has_table_privilege(t.rel, 'DELETE'))) then
    return;
  end if;
  -- The first level takes the keys it references from the rows done deleted (RETURNING)
  -- instead of fetching the picked rows again by ctid: about a fifth of the statement's
  -- time on a one-level cascade. Not from picked: a row updated after the statement's
  -- snapshot is locked in its new version, which done (by ctid, under the snapshot) does
  -- not delete; its children must stay with it.
  select coalesce(string_agg(format(', t.%I as %I', k.col, 'retention key ' || k.col), '' order by k.col), '')
    into v_keys
    from (select distinct u.col from retention_internal._tree_nodes(p_tree) t, unnest(t.ref) u(col)
           where t.action = 'delete' and t.parent = 0) k;
  for c in select * from retention_internal._tree_nodes(p_tree) t where t.action = 'delete' order by t.n loop
    v_ctes := v_ctes || format(
      ', k%s as (delete from only %s c where (%s) in (%s)
                 returning row(c.*)::%s as "retention archived row", c.tableoid as "retention tableoid", c.*)',
      c.n, retention.qualified_name(c.rel), retention_internal._column_list('c', c.fk),
      case when c.parent = 0
           then format('select %s from done',
                       (select string_agg(format('%I', 'retention key ' || r.col), ', ' order by r.o)
                          from unnest(c.ref) with ordinality r(col, o)))
           else retention_internal._node_source(c.parent, c.ref, c.referenced, s.tbl, 'k') end,
      retention.qualified_name(c.rel));
    v_arch := v_arch || format(
      ', a%1$s as (insert into retention.archived_batches (run_id, batch_no, policy_name, rel, rel_name, depth, row_count, rows)
                   select $9, $10, $3, %2$s, %3$L, %4$s, count(*), pg_catalog.json_agg(x."retention archived row") from k%1$s x
                   having count(*) > 0 returning row_count)',
      c.n, c.rel::oid, retention.qualified_name(c.rel), c.depth);
    v_sum := v_sum || format(' + coalesce((select sum(row_count) from a%s), 0)', c.n);
    if not c.rel::oid = any (rels) then
      rels := rels || c.rel::oid;
    end if;
  end loop;
  -- The rows deleted per table of rels (a table two keys reach has two nodes).
  select coalesce(string_agg(format('(%s)', (select string_agg(format('(select count(*) from k%s)', t.n), ' + ')
                                                 from retention_internal._tree_nodes(p_tree) t
                                                where t.action = 'delete' and t.rel::oid = r.rel)), ', ' order by r.o), '')
    into v_count
    from unnest(rels) with ordinality r(rel, o);
  final := format(
    'with picked as (select t.ctid as tid from only %1$s t
                      where %2$s and %3$s >= $5::%4$s and not (%5$s)
                        and t.ctid <> all ($7::tid[]) and ($8::tid is null or t.ctid = $8::tid)
                      order by %3$s limit $6 for update of t skip locked),
     done as (delete from only %1$s t where t.ctid = any (array(select tid from picked))
              returning row(t.*)::%1$s as "retention archived row", %3$s as age%7$s%14$s)%6$s,
     a0 as (insert into retention.archived_batches (run_id, batch_no, policy_name, rel, rel_name, depth, row_count, rows)
            select $9, $10, $3, %8$s, %9$L, 0, count(*), pg_catalog.json_agg(d."retention archived row") from done d
            having count(*) > 0 returning row_count)%10$s%11$s
     select count(*)::int as n, min(age)::timestamptz as oldest, max(age)::timestamptz as newest,
            (%12$s)::int as related, array[%13$s]::bigint[] as deleted
       from done',
    s.tbl, s.eligible, s.age_expr, v_type, s.held, v_ctes, v_flag.flag_key, v_root::oid,
    retention.qualified_name(v_root), v_arch, v_flag.close_cte, v_sum, v_count, v_keys);
end
$$;
comment on function retention_internal._one_statement_sql(retention.policies, jsonb) is
  'Internal. An archiving batch as one statement that deletes and copies every level of its cascade itself (the fast path, checked afterwards by _one_statement_exec), with the tables whose deletions are checked; NULL final where it does not apply.';

-- The rows this transaction has deleted from each table of p_rels, counted by the server.
create or replace function retention_internal._deleted_in_xact(p_rels oid[])
returns bigint[]
language sql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(array_agg(pg_catalog.pg_stat_get_xact_tuples_deleted(r.rel) order by r.o), '{}')
    from unnest(p_rels) with ordinality r(rel, o)
$$;
comment on function retention_internal._deleted_in_xact(oid[]) is
  'Internal. pg_stat_get_xact_tuples_deleted for each table: the rows this transaction deleted there.';

-- The partitions a key action of the reach may move rows between: those of every
-- partitioned table (in the reach) that an ON DELETE SET NULL or SET DEFAULT key, or an
-- ON UPDATE action (a key into a row the reach sets to null: round atk168 F1), changes a
-- partition key column of (or whose key is an expression). PostgreSQL moves such a row as
-- a delete from one partition and an insert into another, and counts the delete (round
-- atk161 F1).
create or replace function retention_internal._mover_tables(p_reach oid[])
returns oid[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(array_agg(distinct m.relid), '{}')
    from pg_catalog.pg_constraint c
   cross join lateral (select pg_catalog.pg_partition_root(c.conrelid) as root) r
   cross join lateral pg_catalog.pg_partition_tree(r.root) m
   where c.contype = 'f' and (c.confdeltype in ('n', 'd') or c.confupdtype in ('c', 'n', 'd')) and c.conrelid = any (p_reach)
     and r.root is not null
     and exists (select from pg_catalog.pg_partition_tree(r.root) x
                   join pg_catalog.pg_partitioned_table pt on pt.partrelid = x.relid
                  where 0 = any (pt.partattrs::int2[])
                     or exists (select from pg_catalog.pg_attribute a
                                  join pg_catalog.pg_attribute k on k.attrelid = c.conrelid and k.attnum = any (c.conkey)
                                 where a.attrelid = pt.partrelid and a.attnum = any (pt.partattrs::int2[])
                                   and a.attname = k.attname))
$$;
comment on function retention_internal._mover_tables(oid[]) is
  'Internal. The partitions between which an ON DELETE SET NULL or SET DEFAULT key, or an ON UPDATE action, of the reach may move rows (it changes a partition key column): their insertions count against their deletions (_removed_in_xact).';

-- The rows this transaction has removed from each table of p_rels: deleted, less, in a
-- partition of p_movers (_mover_tables), the rows inserted there: a row moved between
-- partitions by a key action is no deletion (round atk161 F1). Insertions elsewhere are
-- not counted against deletions: the application's trigger that logs a removal into a
-- partitioned table the cascade also deletes from hid as many deletions (round atk163 F1).
create or replace function retention_internal._removed_in_xact(p_rels oid[], p_movers oid[] default '{}')
returns bigint[]
language sql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(array_agg(pg_catalog.pg_stat_get_xact_tuples_deleted(r.rel)
                            - case when r.rel = any (p_movers) then pg_catalog.pg_stat_get_xact_tuples_inserted(r.rel) else 0 end
                            order by r.o), '{}')
    from unnest(p_rels) with ordinality r(rel, o)
$$;
comment on function retention_internal._removed_in_xact(oid[], oid[]) is
  'Internal. For each table: the rows this transaction deleted there, less, in a partition of p_movers (_mover_tables), the rows it inserted there (a row moved between partitions by a key action is counted by the server as deleted from one and inserted into another).';

-- The rows a statement deleted in other tables through its foreign keys' cascade: what
-- this transaction removed from the tables of p_reach since p_before (_removed_in_xact),
-- less the p_rows the statement itself deleted from its own table (one of them).
drop function if exists retention_internal._removed_in_xact(oid[]);
drop function if exists retention_internal._cascaded(oid[], bigint[], bigint);
create or replace function retention_internal._cascaded(p_reach oid[], p_before bigint[], p_rows bigint, p_movers oid[] default '{}')
returns integer
language sql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select greatest(0, coalesce(sum(x.a - x.b), 0) - coalesce(p_rows, 0))::integer
    from unnest(retention_internal._removed_in_xact(p_reach, p_movers), p_before) x(a, b)
$$;
comment on function retention_internal._cascaded(oid[], bigint[], bigint, oid[]) is
  'Internal. The rows this transaction removed from the tables of p_reach since p_before (_removed_in_xact: rows moved between partitions are not removed), less p_rows: what a batch''s cascade deleted in other tables.';

-- Runs _one_statement_sql's statement for up to p_size rows (or the one row p_tid) in a
-- subtransaction, and keeps its work only when every table of p_rels lost exactly the
-- rows the statement deleted and copied there: nothing went by the cascade alone. Else it
-- undoes it and returns o_done false (the caller runs the batch on the locked path).
create or replace function retention_internal._one_statement_exec(
  p_final text, p_rels oid[], p_pol retention.policies, p_run_id bigint, p_batch_no integer,
  p_cutoff timestamptz, p_as_of timestamptz, p_floor timestamptz, p_size bigint, p_skip tid[], p_tid tid,
  out o_done boolean, out o_rows integer, out o_oldest timestamptz, out o_newest timestamptz, out o_related integer)
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_before  bigint[];
  v_deleted bigint[];
begin
  o_done := true;
  begin
    v_before := retention_internal._deleted_in_xact(p_rels);
    execute p_final into o_rows, o_oldest, o_newest, o_related, v_deleted
      using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_floor, p_size, p_skip, p_tid, p_run_id, p_batch_no;
    if (select bool_or((x.a - x.b) is distinct from x.d)
          from unnest(retention_internal._deleted_in_xact(p_rels), v_before, v_deleted) x(a, b, d)) then
      raise exception 'a row came to reference the batch''s rows during its statement' using errcode = 'RT900';
    end if;
  exception when sqlstate 'RT900' then
    o_done := false;
    o_rows := null; o_oldest := null; o_newest := null; o_related := null;
  end;
end
$$;
comment on function retention_internal._one_statement_exec(text, oid[], retention.policies, bigint, integer, timestamptz, timestamptz, timestamptz, bigint, tid[], tid) is
  'Internal. Runs the one-statement archiving batch (_one_statement_sql) and keeps it only if the server''s deletion counts show no row went without its copy; o_done false: undone, take the locked path.';
