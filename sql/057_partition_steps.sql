-- The drop_partitions action, for one run that _run_policy has counted (p_plan: the
-- partitions past the cutoff with their rows and dispositions, from _partition_plan) and
-- recorded as running. Three steps, none waiting for a lock longer than lock_timeout:
--  1. detach, in one transaction: take the holds lock shared (a hold being placed waits),
--     lock the table and its foreign-key neighbours ACCESS EXCLUSIVE up front, parents
--     before partitions, in attempts short enough that a deadlock with the application
--     always resolves against this run (_lock_for_ddl), re-check holds, and detach
--     the partitions that may go, oldest first, up to p_limit rows; each is recorded in
--     run_batches as 'detached'. All or nothing: on a lock timeout or an error nothing is
--     detached and the next run tries again. The table is locked only for these catalog
--     changes (and the foreign-key check PostgreSQL makes when other tables reference it);
--  2. finish each detached partition in its own transaction (locked the same way: dropping
--     a table with foreign keys locks the tables they reference): count its rows exactly (no
--     one writes to it any more), drop it or move it into the archive schema, and record
--     'dropped' or 'archived' with the count, so the ledger counts what went. Partitions a
--     dead run detached but never finished are finished here too;
--  3. partitions kept because a legal hold covers some of their rows have their other
--     rows deleted by the batch loop, leaf by leaf.
create or replace procedure retention._drop_partitions(
  p_pol      retention.policies,
  p_run_id   bigint,
  p_cutoff   timestamptz,
  p_as_of    timestamptz,
  p_plan     jsonb,
  p_limit    bigint,
  p_budget   interval,
  p_started  timestamptz,
  inout p_affected bigint,
  inout p_batches  integer,
  inout p_status   text,
  inout p_code     text,
  inout p_err      text,
  inout p_hint     text
)
language plpgsql
as $$
declare
  v_parent    text := retention._qualified_name(p_pol.target);
  v_lock_ms   text := (extract(epoch from p_pol.lock_timeout) * 1000)::bigint::text;
  v_p         record;
  v_e         jsonb;
  v_name      text;
  v_start     timestamptz;
  v_planned   bigint := 0;
  v_detached  int := 0;
  v_capped    boolean := false;
  v_rows_left text[] := '{}';
  v_count     bigint;
  v_held      boolean := false;
  v_oldest    timestamptz;
  v_leaf      retention.policies;
  v_leaf_id   regclass;
begin
  -- 1. Detach.
  begin
    perform set_config('lock_timeout', v_lock_ms, true);
    perform retention._lock_holds_shared();
    perform retention._lock_for_ddl(p_pol.target, p_pol.lock_timeout);
    perform set_config('lock_timeout', v_lock_ms, true);
    for v_p in select x.part, x.lower_bound, x.upper_bound from retention._partitions_of(p_pol, p_cutoff) x
                where x.expired and not x.keep_last order by x.upper_bound loop
      v_e := p_plan -> (v_p.part::oid::text);
      continue when v_e is null;  -- attached since the run counted: the next run sees it
      v_name := retention._qualified_name(v_p.part);
      if v_e->>'disposition' = 'rows' then
        v_rows_left := v_rows_left || v_name;
        continue;
      end if;
      continue when v_e->>'disposition' not in ('drop', 'archive');
      -- Holds again, now that the table is locked (_held_sql, the one rule): a hold on the
      -- table, the partition or the policy keeps it whole; one on some of its rows (or rows
      -- they reach) turns it into a row-by-row partition.
      execute 'select ' || retention._hold_scope_sql(v_p.part, null, p_pol.name) into v_held;
      continue when v_held;
      execute format('select exists (select from %s t where %s)', v_name, retention._held_sql(v_p.part, 't', p_pol.name, true))
        into v_held;
      if v_held then
        v_rows_left := v_rows_left || v_name;  -- a hold placed since the count: delete rows instead
        continue;
      end if;
      if v_planned + (v_e->>'rows')::bigint > p_limit then
        v_capped := true;
        exit;
      end if;
      v_start := clock_timestamp();
      execute format('alter table %s detach partition %s', v_parent, v_name);
      v_detached := v_detached + 1;
      v_planned := v_planned + (v_e->>'rows')::bigint;
      insert into retention.run_batches (run_id, batch_no, rows, started_at, finished_at,
                                         duration_ms, oldest_at, newest_at, partition_name,
                                         disposition)
      values (p_run_id, p_batches + v_detached, 0, v_start, clock_timestamp(),
              extract(epoch from clock_timestamp() - v_start) * 1000, v_p.lower_bound,
              v_p.upper_bound, v_name, 'detached');
    end loop;
    update retention.runs set batches = p_batches + v_detached where run_id = p_run_id;
  exception
    when lock_not_available then
      get stacked diagnostics p_code = returned_sqlstate, p_err = message_text;
      p_status := 'stopped_lock_timeout';
    when foreign_key_violation then
      get stacked diagnostics p_code = returned_sqlstate, p_err = message_text;
      p_hint := 'Rows of another table reference this partition: drop that table''s partitions first (a drop_partitions policy on it that runs before this one) or delete those rows.';
      p_status := 'failed';
    when others then
      get stacked diagnostics p_code = returned_sqlstate, p_err = message_text, p_hint = pg_exception_hint;
      p_status := 'failed';
  end;
  commit;
  if p_status <> 'running' then
    return;
  end if;
  p_batches := p_batches + v_detached;
  raise notice 'policy %: % partition(s) detached from %', p_pol.name, v_detached, v_parent;

  -- 2. Finish every detached partition of this policy: this run's and those of dead runs.
  for v_p in select b.run_id, b.batch_no, b.partition_name, b.oldest_at, b.newest_at
               from retention.run_batches b
               join retention.runs r on r.run_id = b.run_id
               join pg_catalog.pg_class c on c.oid = to_regclass(b.partition_name)
              where r.policy_id = p_pol.policy_id and b.disposition = 'detached'
                and not c.relispartition  -- still there (dropped or archived, its name is gone), not re-attached
              order by b.newest_at loop
    v_start := clock_timestamp();
    begin
      perform retention._lock_for_ddl(v_p.partition_name::regclass, p_pol.lock_timeout);
      perform set_config('lock_timeout', v_lock_ms, true);
      -- Holds once more (a hold may have come since the detach, or a dead run detached it):
      -- the detached table is no partition any more, so the parent's rule is applied to
      -- its rows, and a hold on the table itself counts too. Held: attached again.
      perform retention._lock_holds_shared();
      execute format('select %s or %s or exists (select from %s t where %s)',
                     retention._hold_scope_sql(p_pol.target, null, p_pol.name),
                     retention._hold_scope_sql(v_p.partition_name::regclass, null, null),
                     v_p.partition_name, retention._held_sql(p_pol.target, 't', p_pol.name, true))
        into v_held;
      if v_held then
        execute format('alter table %s attach partition %s for values from (%L) to (%L)',
                       v_parent, v_p.partition_name, v_p.oldest_at, v_p.newest_at);
        update retention.run_batches set disposition = 'reattached', finished_at = clock_timestamp()
         where run_id = v_p.run_id and batch_no = v_p.batch_no;
        raise notice 'policy %: partition % is under a legal hold: attached again', p_pol.name, v_p.partition_name;
      else
      execute format('select count(*), min(t.%I)::timestamptz from %s t', p_pol.age_column, v_p.partition_name)
        into v_count, v_oldest;
      if p_pol.archive_schema is not null then
        execute format('alter table %s set schema %I', v_p.partition_name, p_pol.archive_schema);
      else
        execute format('drop table %s', v_p.partition_name);
      end if;
      if v_p.run_id = p_run_id then
        update retention.run_batches
           set rows = v_count, disposition = case when p_pol.archive_schema is not null then 'archived' else 'dropped' end,
               oldest_at = coalesce(v_oldest, oldest_at), finished_at = clock_timestamp(),
               duration_ms = duration_ms + extract(epoch from clock_timestamp() - v_start) * 1000
         where run_id = v_p.run_id and batch_no = v_p.batch_no;
      else
        -- Detached by a run that died before finishing it: this run drops and counts it.
        insert into retention.run_batches (run_id, batch_no, rows, started_at, finished_at,
                                           duration_ms, oldest_at, newest_at, partition_name,
                                           disposition)
        values (p_run_id, p_batches + 1, v_count, v_start, clock_timestamp(),
                extract(epoch from clock_timestamp() - v_start) * 1000,
                coalesce(v_oldest, v_p.oldest_at), v_p.newest_at, v_p.partition_name,
                case when p_pol.archive_schema is not null then 'archived' else 'dropped' end);
      end if;
      update retention.runs
         set affected = p_affected + v_count,
             batches = p_batches + case when v_p.run_id <> p_run_id then 1 else 0 end
       where run_id = p_run_id;
      end if;
    exception
      when lock_not_available then
        get stacked diagnostics p_code = returned_sqlstate, p_err = message_text;
        p_status := 'stopped_lock_timeout';
      when others then
        get stacked diagnostics p_code = returned_sqlstate, p_err = message_text, p_hint = pg_exception_hint;
        p_status := 'failed';
    end;
    commit;
    if p_status <> 'running' then
      return;
    end if;
    continue when v_held;
    p_affected := p_affected + v_count;
    if v_p.run_id <> p_run_id then
      p_batches := p_batches + 1;
    end if;
    raise notice 'policy %: partition % % (% rows, up to %)', p_pol.name, v_p.partition_name,
      case when p_pol.archive_schema is not null then 'moved to ' || quote_ident(p_pol.archive_schema) else 'dropped' end,
      v_count, v_p.newest_at;
  end loop;

  -- 3. Partitions kept for a hold on some of their rows: the batch loop deletes the others.
  if not v_capped then
    foreach v_name in array v_rows_left loop
      for v_leaf_id in select t.relid from pg_catalog.pg_partition_tree(v_name::regclass) t where t.isleaf loop
        v_leaf := p_pol;
        v_leaf.target := v_leaf_id;
        v_leaf.action := 'delete';
        call retention._batch_loop(v_leaf, p_run_id, p_pol.target::oid, p_cutoff, p_as_of, p_limit,
                                   p_budget, p_started, retention._qualified_name(v_leaf_id),
                                   p_affected, p_batches, p_status, p_code, p_err, p_hint);
        exit when p_status <> 'running' or p_affected >= p_limit;
      end loop;
      exit when p_status <> 'running' or p_affected >= p_limit;
    end loop;
  end if;
  if p_status = 'running' and v_capped then
    p_status := 'stopped_max_rows';
  end if;
end
$$;
comment on procedure retention._drop_partitions(retention.policies, bigint, timestamptz, timestamptz, jsonb, bigint, interval, timestamptz, bigint, integer, text, text, text, text) is
  'Internal. The drop_partitions action of one run: detaches expired partitions under the table''s lock in one transaction, then counts and drops (or archives) each in its own, then deletes the unheld rows of partitions a hold keeps.';
