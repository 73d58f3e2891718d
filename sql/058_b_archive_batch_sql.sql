-- An archiving batch copies every row it removes, and every row its ON DELETE CASCADE
-- foreign keys remove, into retention.archived_batches in the transaction that removes
-- them; an approval-gated delete removes only rows whose cascade is what was approved.
-- Both must know every row the delete will reach before it happens. _two_phase_sql builds
-- the statements (bind parameters as _batch_sql's: $1 cutoff, $2 as_of, $3 policy, $4
-- target oid):
--  pick   picks the rows as any batch does (eligible, unheld, oldest first, SKIP LOCKED
--         from $5 floor, $6 limit, $7 tids to skip, $8 one tid or NULL) and locks them FOR
--         UPDATE; it returns their tids. From then on no row can come to reference them
--         (an insert's foreign-key check needs a lock that conflicts).
--  passes one statement per level i of the cascade tree (given $1, the tids), each under
--         a snapshot taken after the level above was locked, so it sees every row of
--         level i and locks it FOR UPDATE: locked, it can neither change nor gain
--         children. For a policy that archives without approval, with no table or
--         subject hold open, the last level is left to final, which deletes it itself
--         (RETURNING gives each row as deleted), or locks it where row security or a
--         missing privilege could hide rows from it.
--  final  ($5 run id, $6 batch number, $7 the tids) re-checks eligibility and holds
--         where something could have changed (approval required, or a hold open: see
--         below), deletes the rows, and (p_copy) copies them and every row the cascade
--         removes (read in the same statement, before the cascade fires at its end) as
--         one tuple per table: a JSON array, with the run, batch, depth and count. It
--         returns what _batch_sql returns (related: cascaded rows copied).
-- A policy that archives without approval and cascades nowhere needs none of this: pick
-- is NULL and final is one statement like _batch_sql's with the copy added ($1-$8 as
-- _batch_sql's, $9 run id, $10 batch number).
-- An approval-gated policy locks every level in passes before final, whose re-check of
-- the proposal's cascaded rows then reads rows that can no longer change; so does every
-- deleting batch while a table or subject hold is open (p_lock_all: _batch), so that its
-- hold check reads the cascaded rows as they will be deleted, none added or changed
-- since.
-- Whole rows are written t.* (a column named t, c or r must not stand in for the row).
create or replace function retention_internal._two_phase_sql(p_policy retention.policies, p_copy boolean,
                                                    p_tree jsonb default null, p_lock_all boolean default false,
                                                    p_cond text default null,
                                                    out pick text, out passes text[], out final text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  s        record := retention_internal._policy_sql(p_policy, p_cond);
  v_type   text := format_type(retention_internal._column_type(p_policy.target, p_policy.age_column), null);
  v_age    text := coalesce(s.age_expr, 'null::timestamptz');
  v_root   regclass := coalesce(pg_catalog.pg_partition_root(p_policy.target), p_policy.target);
  v_tree   jsonb := coalesce(p_tree, retention_internal._cascade_tree_json(p_policy.target));
  v_gated  boolean := p_policy.approval = 'required';
  v_depth  integer;
  v_last   integer;   -- levels locked by passes; the rest (one at most) by final
  v_flag   record := retention_internal._flag_close_sql(p_policy);
  v_ctes   text;
  v_count  text;
  v_arch   text := '';
  v_sum    text := '0';
  v_src    text;
  c        record;
  i        integer;
begin
  select coalesce(max(t.depth), 0) into v_depth from retention_internal._tree_nodes(v_tree) t where not t.cycle;
  v_last := case when v_gated or p_lock_all then v_depth else greatest(v_depth - 1, 0) end;
  passes := '{}';
  if not v_gated and v_depth = 0 and p_cond is null then
    pick := null;
    final := format(
      'with picked as (select t.ctid as tid from only %1$s t
                        where %2$s and %3$s >= $5::%4$s and not (%5$s)
                          and t.ctid <> all ($7::tid[]) and ($8::tid is null or t.ctid = $8::tid)
                        order by %3$s limit $6 for update of t skip locked),
       done as (delete from only %1$s t where t.ctid = any (array(select tid from picked))
                returning pg_catalog.to_json(t.*) as "retention archived row", %3$s as age%6$s),
       a0 as (insert into retention.archived_batches (run_id, batch_no, policy_name, rel, rel_name, depth, row_count, rows)
              select $9, $10, $3, %7$s, %8$L, 0, count(*), pg_catalog.json_agg(d."retention archived row") from done d
              having count(*) > 0 returning row_count)%9$s
       select count(*)::int as n, min(age)::timestamptz as oldest, max(age)::timestamptz as newest,
              0 as related
         from done',
      s.tbl, s.eligible, s.age_expr, v_type, s.held, v_flag.flag_key, v_root::oid,
      retention.qualified_name(v_root), v_flag.close_cte);
    return;
  end if;

  if p_cond is not null then
    -- An erasure step's work condition: no keyset over an age, the rows as they come.
    pick := format(
      'select array(select t.ctid from only %1$s t
                     where %2$s and not (%3$s)
                       and t.ctid <> all ($7::tid[]) and ($8::tid is null or t.ctid = $8::tid)
                     limit $6 for update of t skip locked)',
      s.tbl, s.eligible, s.held);
  else
    pick := format(
      'select array(select t.ctid from only %1$s t
                     where %2$s and %3$s >= $5::%4$s and not (%5$s)
                       and t.ctid <> all ($7::tid[]) and ($8::tid is null or t.ctid = $8::tid)
                     order by %3$s limit $6 for update of t skip locked)',
      s.tbl, s.eligible, s.age_expr, v_type, s.held);
  end if;

  for i in 1 .. v_last loop
    v_ctes := '';
    v_count := '0';
    for c in select * from retention_internal._tree_nodes(v_tree) t where not t.cycle and t.depth <= i order by t.n loop
      v_ctes := v_ctes || format(
        ', l%s as (select c.tableoid as "retention tableoid", c.* from %s c where (%s) in (%s)%s)',
        c.n, retention_internal._reach_scan(c.rel), retention_internal._column_list('c', c.fk),
        retention_internal._node_source(c.parent, c.ref, c.referenced, s.tbl, 'l'),
        case when c.depth = i then ' for update of c' else '' end);
      if c.depth = i then
        v_count := v_count || format(' + (select count(*) from l%s)', c.n);
      end if;
    end loop;
    passes := passes || format('with picked as (select pg_catalog.unnest($1::tid[]) as tid)%s select (%s)::bigint', v_ctes, v_count);
  end loop;

  v_ctes := '';
  for c in select * from retention_internal._tree_nodes(v_tree) t
            where p_copy and t.action = 'delete' and not t.cycle order by t.n loop
    v_src := retention_internal._node_source(c.parent, c.ref, c.referenced, s.tbl, 'k');
    if c.depth > v_last
       and not (select k.relrowsecurity from pg_catalog.pg_class k where k.oid = c.rel)
       and pg_catalog.has_table_privilege(c.rel, 'DELETE') then
      -- The last level, deleted here rather than by the cascade at the statement's end
      -- (which then finds nothing): RETURNING gives each row as it was deleted, with no
      -- lock taken first. Where row security or a missing privilege could hide rows from
      -- this statement, they are locked and read instead, and the cascade deletes them.
      v_ctes := v_ctes || format(
        ', k%s as (delete from %s c where (%s) in (%s)
                   returning pg_catalog.to_json(c.*) as "retention archived row", c.tableoid as "retention tableoid",
                             c.ctid as "retention ctid", c.*)',
        c.n, retention_internal._reach_scan(c.rel), retention_internal._column_list('c', c.fk), v_src);
    else
      v_ctes := v_ctes || format(
        ', k%s as (select pg_catalog.to_json(c.*) as "retention archived row", c.tableoid as "retention tableoid",
                           c.ctid as "retention ctid", c.*
                    from %s c where (%s) in (%s)%s)',
        c.n, retention_internal._reach_scan(c.rel), retention_internal._column_list('c', c.fk), v_src,
        case when c.depth > v_last then ' for update of c' else '' end);
    end if;
    -- A row two keys reach (a diamond) is in two nodes' CTEs: copied with the first.
    v_arch := v_arch || format(
      ', a%1$s as (insert into retention.archived_batches (run_id, batch_no, policy_name, rel, rel_name, depth, row_count, rows)
                   select $5, $6, $3, %2$s, %3$L, %4$s, count(*), pg_catalog.json_agg(x."retention archived row") from k%1$s x%5$s
                   having count(*) > 0 returning row_count)',
      c.n, c.rel::oid, retention.qualified_name(c.rel), c.depth,
      coalesce(' where ' || (select string_agg(format('not exists (select from k%s y where y."retention tableoid" = x."retention tableoid"
                                                        and y."retention ctid" = x."retention ctid")', e.n), ' and ' order by e.n)
                               from retention_internal._tree_nodes(v_tree) e
                              where e.action = 'delete' and not e.cycle and e.n < c.n), ''));
    v_sum := v_sum || format(' + coalesce((select sum(row_count) from a%s), 0)', c.n);
  end loop;
  -- The rows pick locked are checked again when approval is required (the proposal's
  -- cascaded rows, now locked) or a table or subject hold is open (p_lock_all: the
  -- cascaded rows, now locked and complete). Otherwise nothing can have changed: the rows
  -- are locked, the cutoff is fixed, and no hold can come before the commit.
  final := format(
    'with picked as (%14$s)%4$s,
     done as (delete from only %1$s t where t.ctid = any (array(select tid from picked))
              returning %13$s as "retention archived row", %5$s as age%6$s),
     a0 as (insert into retention.archived_batches (run_id, batch_no, policy_name, rel, rel_name, depth, row_count, rows)
            select $5, $6, $3, %7$s, %8$L, 0, count(*), pg_catalog.json_agg(d."retention archived row") from done d
            where %12$s having count(*) > 0 returning row_count)%9$s%10$s
     select count(*)::int as n, min(age)::timestamptz as oldest, max(age)::timestamptz as newest,
            (%11$s)::int as related
       from done',
    s.tbl, s.eligible, s.held, v_ctes, v_age, v_flag.flag_key, v_root::oid,
    retention.qualified_name(v_root), v_arch, v_flag.close_cte, v_sum, case when p_copy then 'true' else 'false' end,
    case when p_copy then 'pg_catalog.to_json(t.*)' else 'null::json' end,
    case when v_gated or p_lock_all
         then format('select t.ctid as tid from only %s t where t.ctid = any ($7::tid[]) and %s and not (%s)', s.tbl, s.eligible, s.held)
         else 'select pg_catalog.unnest($7::tid[]) as tid' end);
end
$$;
comment on function retention_internal._two_phase_sql(retention.policies, boolean, jsonb, boolean, text) is
  'Internal. The statements of an archiving (p_copy), approval-gated or hold-checked (p_lock_all: every level locked before the re-check; also an erasure step, p_cond) batch: pick (locks the rows; NULL when one statement does it all), passes (one lock statement per level of the cascade) and final (re-check, delete, copies to archived_batches).';

-- The part of a batch statement that closes the flags of the rows it acts on (a policy
-- with a notice period): a column of the done CTE (flag_key) and a CTE (close_cte); both
-- empty for other policies.
create or replace function retention_internal._flag_close_sql(p_policy retention.policies, out flag_key text, out close_cte text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  flag_key := '';
  close_cte := '';
  if p_policy.notice_period is not null then
    -- The rows acted on close their flags in the same statement ('acted', with the run
    -- from the batch transaction's retention.run_id setting).
    select format(', t.%I::text as flag_key', n.key_column),
           format(', closed as (update retention.flagged_rows f
                                   set status = ''acted'', closed_at = pg_catalog.now(), close_reason = %L,
                                       close_run_id = nullif(current_setting(''retention.run_id'', true), '''')::bigint
                                  from done d
                                 where f.policy_id = %s and f.status = ''flagged'' and f.row_key = d.flag_key)',
                  p_policy.action, p_policy.policy_id)
      into flag_key, close_cte
      from retention_internal._notice_sql(p_policy) n;
  end if;
end
$$;
comment on function retention_internal._flag_close_sql(retention.policies) is
  'Internal. SQL pieces that close the flags of the rows a batch acts on (notice-period policies); empty otherwise.';

-- A foreign key that names a partition below its parent node's table references only the
-- rows in that partition: the condition on the parent node's rows (alias p, carrying
-- "retention tableoid"), or '' when the key names the table or one above it.
create or replace function retention_internal._below_cond(p_referenced regclass)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select case when (select c.relispartition or c.relkind = 'p' from pg_catalog.pg_class c where c.oid = p_referenced)
              then format(' where p."retention tableoid" in (select relid from pg_catalog.pg_partition_tree(%s::oid::regclass))', p_referenced::oid)
              else '' end
$$;
comment on function retention_internal._below_cond(regclass) is
  'Internal. SQL restricting a parent node''s rows to those in the partition a foreign key names (archive batches).';

-- What a node of the cascade tree references, for the statements of _two_phase_sql: the
-- key columns (p_ref) of the picked rows (parent 0, table p_tbl) or of the rows of the
-- parent node's CTE (p_prefix || parent), limited to the partition the key names.
create or replace function retention_internal._node_source(p_parent integer, p_ref name[], p_referenced regclass,
                                                  p_tbl text, p_prefix text)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select case when p_parent = 0
              then format('select %s from only %s t where t.ctid = any (array(select tid from picked))',
                          retention_internal._column_list('t', p_ref), p_tbl)
              else format('select %s from %s%s p%s', retention_internal._column_list('p', p_ref), p_prefix, p_parent,
                          retention_internal._below_cond(p_referenced)) end
$$;
comment on function retention_internal._node_source(integer, name[], regclass, text, text) is
  'Internal. The SQL selecting what a cascade tree node''s foreign key references: the picked rows'' key columns, or those of the parent node''s CTE.';
