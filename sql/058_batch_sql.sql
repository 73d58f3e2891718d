-- The statement one batch runs, with the same bind parameters as _policy_sql plus
-- $5 keyset floor (the newest age the previous batch reached), $6 row limit, $7 rows to
-- leave out (tids that failed earlier in the run) and $8 one row only (a tid, or NULL).
-- It picks the oldest eligible, unheld, unlocked rows from the floor on, in index order,
-- locks them (SKIP LOCKED), and deletes, soft-deletes or scrubs exactly those rows by ctid.
-- What it stamps (deleted-at, scrubbed-at, a flag's closing) is the real time, never $2.
-- It returns the row count, the oldest and newest age it touched, and the rows of other
-- tables it deleted with them (a scrub policy's revoke tables; 0 otherwise).
create or replace function retention_internal._batch_sql(p_policy retention.policies, p_cond text default null)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  s          record := retention_internal._policy_sql(p_policy, p_cond);
  v_age_type text := format_type(retention_internal._column_type(p_policy.target, p_policy.age_column), null);
  v_age      text := coalesce(s.age_expr, 'null::timestamptz');
  v_pick     text;
  v_revoke   text;
  v_related  text;
  v_keys     text;
  v_flag_key text := '';
  v_close    text := '';
begin
  -- What it writes casts into the columns' types as the owner (round atk77 F2, F3).
  perform retention_internal._check_written_code(p_policy);
  select f.flag_key, f.close_cte into v_flag_key, v_close from retention_internal._flag_close_sql(p_policy) f;
  if s.age_expr is null then
    -- A work condition (an erasure step): no keyset over an age, the rows as they come.
    v_pick := format(
      'with picked as (select t.ctid as tid from only %1$s t
                        where %2$s and not (%3$s)
                          and t.ctid <> all ($7::tid[]) and ($8::tid is null or t.ctid = $8::tid)
                        limit $6 for update of t skip locked)',
      s.tbl, s.eligible, s.held);
  else
    v_pick := format(
      'with picked as (select t.ctid as tid from only %1$s t
                        where %2$s and %3$s >= $5::%4$s and not (%5$s)
                          and t.ctid <> all ($7::tid[]) and ($8::tid is null or t.ctid = $8::tid)
                        order by %3$s limit $6 for update of t skip locked)',
      s.tbl, s.eligible, s.age_expr, v_age_type, s.held);
  end if;
  if p_policy.action = 'scrub' then
    -- Rows of the revoke tables that reference a scrubbed row are deleted in the same
    -- statement, found through their foreign key; the fourth column counts them.
    select coalesce(string_agg(format(
             ', r%s as (delete from only %s r using done d where (%s) = (%s) returning 1)',
             x.n, retention.qualified_name(x.rel),
             (select string_agg(format('r.%I', a.attname), ', ' order by k.o)
                from unnest(c.conkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.att),
             (select string_agg(format('d.%I', a.attname), ', ' order by k.o)
                from unnest(c.confkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.att)), '' order by x.n), ''),
           coalesce(string_agg(format('(select count(*) from r%s)', x.n), ' + ' order by x.n), '0')
      into v_revoke, v_related
      from unnest(p_policy.revoke_tables) with ordinality x(rel, n)
      join pg_catalog.pg_constraint c on c.contype = 'f' and c.conrelid = x.rel and c.confrelid = p_policy.target;
    -- The scrubbed rows' referenced key columns, returned for the revoking deletes.
    select coalesce(string_agg(distinct format('t.%I', a.attname), ', '), '')
      into v_keys
      from unnest(p_policy.revoke_tables) x(rel)
      join pg_catalog.pg_constraint c on c.contype = 'f' and c.conrelid = x.rel and c.confrelid = p_policy.target
      cross join unnest(c.confkey) k(att)
      join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.att;
    -- Each scrubbed row must read as scrubbed afterwards, else a trigger or rule put values
    -- back: the ledger would count rows as scrubbed that are not, and a work condition
    -- would pick the same rows forever. Such a batch fails.
    return v_pick || format(
      ', done as (update only %1$s t set %2$s where t.ctid = any (array(select tid from picked))
                  returning %3$s as age, (%9$s) as scrubbed_ok%4$s%7$s)%5$s%8$s
       select count(*)::int as n, min(age)::timestamptz as oldest, max(age)::timestamptz as newest,
              (%6$s)::int + retention_internal._fail_unscrubbed((select count(*) from done where not coalesce(scrubbed_ok, false))) as related
         from done',
      s.tbl,
      (retention_internal._scrub_sql(p_policy)).set_list
        || case when p_policy.scrubbed_at_column is not null
                then format(', %I = %s', p_policy.scrubbed_at_column,
                            retention_internal._stamp_sql(p_policy, p_policy.scrubbed_at_column))
                else '' end,
      v_age, case when v_keys <> '' then ', ' || v_keys else '' end, v_revoke, v_related,
      v_flag_key, v_close,
      (retention_internal._scrub_sql(p_policy)).scrubbed);
  end if;
  if p_policy.action = 'soft_delete' then
    -- Each row must read as soft-deleted afterwards (a BEFORE trigger may have put NULL
    -- back): else the batch fails, and the ledger does not count rows as soft-deleted
    -- that are not.
    return v_pick || format(
      ', done as (update only %1$s t set %2$I = %3$s where t.ctid = any (array(select tid from picked))
                  returning %4$s as age, t.%2$I is not null as changed_ok%5$s)%6$s
       select count(*)::int as n, min(age)::timestamptz as oldest, max(age)::timestamptz as newest,
              retention_internal._fail_unscrubbed((select count(*) from done where not changed_ok)) as related from done',
      s.tbl, p_policy.deleted_at_column,
      retention_internal._stamp_sql(p_policy, p_policy.deleted_at_column), v_age,
      v_flag_key, v_close);
  end if;
  return v_pick || format(
    ', done as (delete from only %1$s t where t.ctid = any (array(select tid from picked))
                returning %2$s as age%3$s)%4$s
     select count(*)::int as n, min(age)::timestamptz as oldest, max(age)::timestamptz as newest, 0 as related from done',
    s.tbl, v_age, v_flag_key, v_close);
end
$$;
comment on function retention_internal._batch_sql(retention.policies, text) is
  'Internal. The SQL of one batch of a policy, or of a work condition p_cond (an erasure step) (bind parameters: $1 cutoff, $2 as_of, $3 policy, $4 target oid, $5 keyset floor, $6 limit, $7 tids to skip, $8 one tid or NULL).';

-- Fails a batch whose scrubbed (or soft-deleted) rows do not read so afterwards (a
-- trigger put values back): the ledger must not count them. Returns 0 otherwise, to be
-- added to a count.
create or replace function retention_internal._fail_unscrubbed(p_bad bigint)
returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_bad > 0 then
    raise exception '% row(s) do not read as changed after the update (still holding the values scrubbed, or not marked deleted): a trigger or rule on the table?', p_bad
      using errcode = 'RT032', hint = 'Find what writes the values back (triggers, rules) and stop it for these rows; then run the policy (or process the erasure request) again.';
  end if;
  return 0;
end
$$;
comment on function retention_internal._fail_unscrubbed(bigint) is
  'Internal. Raises RT032 when a scrub or soft-delete batch left rows unchanged; 0 otherwise.';

-- Settings for a batch, local to its transaction. Planner: walk the age index from the
-- keyset floor; a sequential scan plus sort would re-read the whole table for every
-- batch once most rows are eligible (without an index these change nothing).
-- synchronous_commit off: a batch does not wait for its WAL to reach disk. A crash can
-- then undo the last few batches (under a second's worth), their deletions and their
-- ledger rows together, so the ledger never counts a row that is still there; the next
-- run deletes them again. Waiting for a flush per batch cost a third of the throughput
-- and competed with the application's own commits (docs/benchmarks.md).
create or replace function retention_internal._batch_plan_settings()
returns void
language sql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  -- jit off: a plan made to avoid sequential scans carries their disable cost, which
  -- would make every later query of the batch (catalog reads, triggers) look worth
  -- compiling; on a server built with LLVM that cost a second per batch.
  select set_config('enable_seqscan', 'off', true),
         set_config('enable_bitmapscan', 'off', true),
         set_config('enable_sort', 'off', true),
         set_config('jit', 'off', true),
         set_config('synchronous_commit', 'off', true);
$$;
comment on function retention_internal._batch_plan_settings() is
  'Internal. Transaction-local planner settings that keep batches on the age index.';
