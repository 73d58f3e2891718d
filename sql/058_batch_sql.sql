-- The statement one batch runs, with the same bind parameters as _policy_sql plus
-- $5 keyset floor (the newest age the previous batch reached) and $6 row limit.
-- It picks the oldest eligible, unheld, unlocked rows from the floor on, in index order,
-- locks them (SKIP LOCKED), and deletes, soft-deletes or scrubs exactly those rows by ctid.
-- It returns the row count and the oldest and newest age it touched.
create or replace function retention._batch_sql(p_policy retention.policies)
returns text
language plpgsql
stable
as $$
declare
  s          record := retention._policy_sql(p_policy);
  v_age_type text := format_type(retention._column_type(p_policy.target, p_policy.age_column), null);
  v_pick     text;
begin
  v_pick := format(
    'with picked as (select t.ctid as tid from only %1$s t
                      where %2$s and %3$s >= $5::%4$s and not (%5$s)
                      order by %3$s limit $6 for update of t skip locked)',
    s.tbl, s.eligible, s.age_expr, v_age_type, s.held);
  if p_policy.action = 'scrub' then
    return v_pick || format(
      ', done as (update only %1$s t set %2$s where t.ctid = any (array(select tid from picked))
                  returning %3$s as age)
       select count(*)::int, min(age)::timestamptz, max(age)::timestamptz from done',
      s.tbl,
      (retention._scrub_sql(p_policy)).set_list
        || case when p_policy.scrubbed_at_column is not null
                then format(', %I = $2::%s', p_policy.scrubbed_at_column,
                            format_type(retention._column_type(p_policy.target, p_policy.scrubbed_at_column), null))
                else '' end,
      s.age_expr);
  end if;
  if p_policy.action = 'soft_delete' then
    return v_pick || format(
      ', done as (update only %1$s t set %2$I = $2::%3$s where t.ctid = any (array(select tid from picked))
                  returning %4$s as age)
       select count(*)::int, min(age)::timestamptz, max(age)::timestamptz from done',
      s.tbl, p_policy.deleted_at_column,
      format_type(retention._column_type(p_policy.target, p_policy.deleted_at_column), null), s.age_expr);
  end if;
  return v_pick || format(
    ', done as (delete from only %1$s t where t.ctid = any (array(select tid from picked))
                returning %2$s as age)
     select count(*)::int, min(age)::timestamptz, max(age)::timestamptz from done',
    s.tbl, s.age_expr);
end
$$;
comment on function retention._batch_sql(retention.policies) is
  'Internal. The SQL of one purge batch of a policy (bind parameters: $1 cutoff, $2 as_of, $3 policy, $4 target oid, $5 keyset floor, $6 limit).';

-- Settings for a batch, local to its transaction. Planner: walk the age index from the
-- keyset floor; a sequential scan plus sort would re-read the whole table for every
-- batch once most rows are eligible (without an index these change nothing).
-- synchronous_commit off: a batch does not wait for its WAL to reach disk. A crash can
-- then undo the last few batches (under a second's worth), their deletions and their
-- ledger rows together, so the ledger never counts a row that is still there; the next
-- run deletes them again. Waiting for a flush per batch cost a third of the throughput
-- and competed with the application's own commits (docs/benchmarks.md).
create or replace function retention._batch_plan_settings()
returns void
language sql
as $$
  select set_config('enable_seqscan', 'off', true),
         set_config('enable_bitmapscan', 'off', true),
         set_config('enable_sort', 'off', true),
         set_config('synchronous_commit', 'off', true);
$$;
comment on function retention._batch_plan_settings() is
  'Internal. Transaction-local planner settings that keep batches on the age index.';
