-- An archiving batch (a policy that archives: _archives) is two statements in the batch's
-- transaction, so that no row is deleted without its copy, including the rows its
-- ON DELETE CASCADE foreign keys remove:
--  1. _archive_lock_sql picks the rows as any batch does (eligible, unheld, oldest first,
--     SKIP LOCKED) and locks FOR UPDATE every row the delete will cascade into or change
--     through a foreign key, level by level (waiting up to lock_timeout). Once the picked rows are locked no new row can
--     reference them (an insert's foreign-key check needs a lock they conflict with), and
--     once the cascaded rows are locked none can change or gain children of its own.
--  1b. The same locks again (_archive_lock_sql's relock) under a new snapshot: a row
--     that came to reference a picked row just before it was locked is locked too.
--  2. _archive_batch_sql, with a snapshot taken after those locks, re-checks eligibility
--     and holds, deletes the rows, and inserts into retention.archived_rows each deleted
--     row and each row the cascade removes (read in the same statement, before the
--     cascade fires at its end), as JSON, with the run, batch and depth.
-- An approval-gated delete that does not archive runs the same statements without the
-- copies (p_copy false): its re-check of the proposal's cascaded rows then sees every row
-- that references the picked ones, none can come after.
-- Whole rows are written t.* (a column named t, c or r must not stand in for the row).
-- Bind parameters of 1: as _batch_sql ($1 cutoff, $2 as_of, $3 policy, $4 target oid, $5
-- floor, $6 limit, $7 tids to skip, $8 one tid or NULL); it returns the picked tids. Of 2:
-- $1-$4 as above, $5 run id, $6 batch number, $7 the tids from 1; it returns what
-- _batch_sql returns (rows, oldest, newest, related = cascaded rows archived).
create or replace function retention._archive_lock_sql(p_policy retention.policies, out pick text, out relock text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  s       record := retention._policy_sql(p_policy);
  v_type  text := format_type(retention._column_type(p_policy.target, p_policy.age_column), null);
  v_ctes  text := '';
  v_count text := '0';
  c       record;
begin
  for c in select * from retention._cascade_tree(p_policy.target) t where not t.cycle order by t.n loop
    v_ctes := v_ctes || format(
      ', l%s as (select c.tableoid as "retention tableoid", c.* from %s c where (%s) in (%s) for update of c)',
      c.n, retention._reach_scan(c.rel), retention._column_list('c', c.fk),
      case when c.parent = 0
           then format('select %s from only %s t where t.ctid in (select tid from picked)',
                       retention._column_list('t', c.ref), s.tbl)
           else format('select %s from l%s p%s', retention._column_list('p', c.ref), c.parent, retention._below_cond(c.referenced)) end);
    v_count := v_count || format(' + (select count(*) from l%s)', c.n);
  end loop;
  -- 1b: again, with a snapshot taken after the picked rows were locked: a row that came
  -- to reference them just before (committed after the first statement's snapshot) is
  -- locked now too, so nothing can come to reference it before the delete.
  relock := format('with picked as (select pg_catalog.unnest($1::tid[]) as tid)%s select (%s)::bigint', v_ctes, v_count);
  pick := format(
    'with picked as (select t.ctid as tid from only %1$s t
                      where %2$s and %3$s >= $5::%4$s and not (%5$s)
                        and t.ctid <> all ($7::tid[]) and ($8::tid is null or t.ctid = $8::tid)
                      order by %3$s limit $6 for update of t skip locked)%6$s
     select array(select tid from picked), (%7$s)::bigint',
    s.tbl, s.eligible, s.age_expr, v_type, s.held, v_ctes, v_count);
end
$$;
comment on function retention._archive_lock_sql(retention.policies) is
  'Internal. Statement 1 of an archiving batch (pick: picks the rows, SKIP LOCKED, and locks every row their delete reaches; returns the picked tids) and 1b (relock: the same locks for tids given as $1, under a later snapshot).';

create or replace function retention._archive_batch_sql(p_policy retention.policies, p_copy boolean default true)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  s        record := retention._policy_sql(p_policy);
  v_root   regclass := coalesce(pg_catalog.pg_partition_root(p_policy.target), p_policy.target);
  v_ctes   text := '';
  v_arch   text := '';
  v_count  text := '0';
  v_flag   record := retention._flag_close_sql(p_policy);
  c        record;
begin
  for c in select * from retention._cascade_tree(p_policy.target) t
            where p_copy and t.action = 'delete' and not t.cycle order by t.n loop
    v_ctes := v_ctes || format(
      ', k%s as (select pg_catalog.to_jsonb(c.*) as "retention archived row", c.tableoid as "retention tableoid", c.*
                  from %s c where (%s) in (%s))',
      c.n, retention._reach_scan(c.rel), retention._column_list('c', c.fk),
      case when c.parent = 0
           then format('select %s from only %s t where t.ctid in (select tid from picked)',
                       retention._column_list('t', c.ref), s.tbl)
           else format('select %s from k%s p%s', retention._column_list('p', c.ref), c.parent, retention._below_cond(c.referenced)) end);
    v_arch := v_arch || format(
      ', a%1$s as (insert into retention.archived_rows (run_id, batch_no, policy_name, rel, rel_name, depth, row_data)
                   select $5, $6, $3, %2$s, %3$L, %4$s, x."retention archived row" from k%1$s x returning 1)',
      c.n, c.rel::oid, retention.qualified_name(c.rel), c.depth);
    v_count := v_count || format(' + (select count(*) from a%s)', c.n);
  end loop;
  return format(
    'with picked as (select t.ctid as tid from only %1$s t
                      where t.ctid = any ($7::tid[]) and %2$s and not (%3$s))%4$s,
     done as (delete from only %1$s t where t.ctid in (select tid from picked)
              returning pg_catalog.to_jsonb(t.*) as "retention archived row", %5$s as age%6$s),
     a0 as (insert into retention.archived_rows (run_id, batch_no, policy_name, rel, rel_name, depth, row_data)
            select $5, $6, $3, %7$s, %8$L, 0, d."retention archived row" from done d where %12$s returning 1)%9$s%10$s
     select count(*)::int as n, min(age)::timestamptz as oldest, max(age)::timestamptz as newest,
            (%11$s)::int as related
       from done',
    s.tbl, s.eligible, s.held, v_ctes, s.age_expr, v_flag.flag_key, v_root::oid,
    retention.qualified_name(v_root), v_arch, v_flag.close_cte, v_count, case when p_copy then 'true' else 'false' end);
end
$$;
comment on function retention._archive_batch_sql(retention.policies, boolean) is
  'Internal. Statement 2 of an archiving batch: re-checks the locked rows, deletes them and (p_copy) copies them and every row their cascade removes to retention.archived_rows, in one statement. Without p_copy: the two-phase delete of an approval-gated policy that does not archive.';

-- The part of a batch statement that closes the flags of the rows it acts on (a policy
-- with a notice period): a column of the done CTE (flag_key) and a CTE (close_cte); both
-- empty for other policies.
create or replace function retention._flag_close_sql(p_policy retention.policies, out flag_key text, out close_cte text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
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
      from retention._notice_sql(p_policy) n;
  end if;
end
$$;
comment on function retention._flag_close_sql(retention.policies) is
  'Internal. SQL pieces that close the flags of the rows a batch acts on (notice-period policies); empty otherwise.';

-- A foreign key that names a partition below its parent node's table references only the
-- rows in that partition: the condition on the parent node's rows (alias p, carrying
-- "retention tableoid"), or '' when the key names the table or one above it.
create or replace function retention._below_cond(p_referenced regclass)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
  select case when (select c.relispartition or c.relkind = 'p' from pg_catalog.pg_class c where c.oid = p_referenced)
              then format(' where p."retention tableoid" in (select relid from pg_catalog.pg_partition_tree(%s::oid::regclass))', p_referenced::oid)
              else '' end
$$;
comment on function retention._below_cond(regclass) is
  'Internal. SQL restricting a parent node''s rows to those in the partition a foreign key names (archive batches).';
