-- What a drop_partitions run does with each partition, with the rows of those past the
-- cutoff: with the policy's count exact, each is read and counted; with estimate (the
-- default) its rows are what the statistics say (_estimated_rows) and it is read only to
-- find held rows, which costs nothing while no hold is open at all (the hold condition is
-- gated by that) and stops at the first held row; a partition with held rows, or without
-- statistics, is counted exactly. estimated says which. Dispositions:
--   drop / archive  the partition goes (detached, then dropped or moved to archive_schema);
--   rows            a legal hold covers some of its rows: the partition stays and its
--                   unheld rows are deleted by the batch engine;
--   held            a hold covers the table, the partition, the policy or all its rows;
--   last            expired, but the newest partition: kept so the table keeps one;
--   foreign         expired, but it is (or holds) a foreign table: dropping it would remove
--                   the table's definition, not its rows on the other server; kept;
--   pending         expired, but a table below it is being detached concurrently: its rows
--                   are out of sight (uncounted, unchecked for holds) while a drop would
--                   take it; kept until that detach is finished;
--   default         the default partition, never dropped;
--   current         not past the cutoff yet.
-- Rows are given for expired partitions only (NULL otherwise); holds are judged at now()
-- by the one hold rule, whatever p_as_of. Reads only.
create or replace function retention_internal._partition_plan(
  p_policy retention.policies,
  p_as_of  timestamptz,
  p_cutoff timestamptz
)
returns table (part regclass, lower_bound timestamptz, upper_bound timestamptz,
               rows bigint, held_rows bigint, oldest_at timestamptz, disposition text,
               estimated boolean)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_p        record;
  v_tbl      text;
  v_whole    boolean;
  v_held     text;
  v_any      boolean;
begin
  for v_p in select * from retention_internal._partitions_of(p_policy, p_cutoff) loop
    part := v_p.part; lower_bound := v_p.lower_bound; upper_bound := v_p.upper_bound;
    rows := null; held_rows := null; oldest_at := null; estimated := false;
    if v_p.is_default or not v_p.expired then
      disposition := case when v_p.is_default then 'default' else 'current' end;
      return next;
      continue;
    end if;
    v_tbl := retention.qualified_name(v_p.part);
    if retention_internal._pending_below(v_p.part) is not null then
      disposition := 'pending';  -- its rows there are out of sight: neither counted nor checked
      return next;
      continue;
    end if;
    if exists (select from pg_catalog.pg_class k
                where k.relkind = 'f'
                  and (k.oid = v_p.part
                       or k.oid in (select t.relid from pg_catalog.pg_partition_tree(v_p.part) t))) then
      disposition := 'foreign';
      return next;
      continue;
    end if;
    -- Every row is read as the retention owner: row security binding it (or the login)
    -- would hide some from the hold check while the drop took them all (RT023).
    perform retention_internal._check_partition(v_p.part, false);
    -- Held rows by the one hold rule (_held_sql, the partition's rows as removed); a hold
    -- on the table, a parent, the partition or the policy keeps the partition whole.
    v_held := retention_internal._held_sql(v_p.part, 't', p_policy.name, true);
    if coalesce(p_policy.count, 'estimate') = 'estimate' then
      rows := retention_internal._estimated_rows(v_p.part);
      if rows is not null then
        execute format('select exists (select from %s t where %s)', v_tbl, v_held) into v_any;
        if v_any then
          rows := null;  -- some rows are held: count them
        else
          held_rows := 0; estimated := true;
        end if;
      end if;
    end if;
    if rows is null then
      execute format('select count(*), count(*) filter (where %s), min(%s) from %s t',
                     v_held, retention_internal._age_at_sql(p_policy, format('t.%I', p_policy.age_column)), v_tbl)
        into rows, held_rows, oldest_at;
    end if;
    execute 'select ' || retention_internal._hold_scope_sql(v_p.part, null, p_policy.name) into v_whole;
    if v_whole then
      held_rows := rows;
    end if;
    -- A table hold on a table below the partition keeps it even when that table is empty
    -- (no held row shows it): the partition stays and its unheld rows go row by row.
    disposition := case
      when v_p.keep_last then 'last'
      when v_whole or (held_rows > 0 and held_rows = rows) then 'held'
      when held_rows > 0 or retention_internal._tree_held(v_p.part) then 'rows'
      when p_policy.archive_schema is not null then 'archive'
      else 'drop' end;
    return next;
  end loop;
end
$$;
comment on function retention_internal._partition_plan(retention.policies, timestamptz, timestamptz) is
  'Internal. Per partition of a drop_partitions policy: bounds, rows (estimated or counted, by the policy''s count) and held rows of expired partitions, the disposition (drop, archive, rows, held, last, foreign, pending, default, current) and whether rows is an estimate.';
