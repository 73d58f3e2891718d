-- The drop_partitions action, for one run already recorded as running by _run_policy.
-- One transaction, all or nothing, waiting for no lock longer than the policy's
-- lock_timeout: it takes the holds lock shared (a hold placed meanwhile waits for it),
-- locks the expired partitions in SHARE mode (reads go on, writes to those old partitions
-- wait) so their counts are exact, counts them, applies the ceiling, then detaches each
-- partition that may go, oldest first, and drops it or moves it into the archive schema,
-- recording it with its row count in run_batches. A lock timeout or any error rolls all
-- of it back: nothing is dropped and the next run tries again.
-- Then partitions kept because a legal hold covers some of their rows have their other
-- rows deleted by the batch engine, leaf by leaf.
create or replace procedure retention._drop_partitions(
  p_pol      retention.policies,
  p_run_id   bigint,
  p_cutoff   timestamptz,
  p_as_of    timestamptz,
  p_max_rows bigint,
  p_force    boolean,
  p_budget   interval,
  p_started  timestamptz,
  inout p_eligible bigint,
  inout p_held     bigint,
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
  v_parent  text := retention._qualified_name(p_pol.target);
  v_plan    jsonb;
  v_p       record;
  v_leaf    retention.policies;
  v_leaf_id regclass;
  v_limit   bigint;
  v_capped  boolean := false;
  v_start   timestamptz;
  v_done    bigint := 0;
  v_count   int := 0;
begin
  begin
    perform set_config('lock_timeout', (extract(epoch from p_pol.lock_timeout) * 1000)::bigint::text, true);
    perform retention._lock_holds_shared();
    for v_p in select x.part from retention._partitions_of(p_pol, p_cutoff) x
                where x.expired and not x.keep_last order by x.upper_bound loop
      execute format('lock table %s in share mode', retention._qualified_name(v_p.part));
    end loop;
    select coalesce(jsonb_agg(jsonb_build_object(
             'part', x.part::oid, 'name', retention._qualified_name(x.part),
             'lower_bound', x.lower_bound, 'upper_bound', x.upper_bound, 'rows', x.rows,
             'held_rows', x.held_rows, 'oldest_at', x.oldest_at, 'disposition', x.disposition)
             order by x.upper_bound), '[]')
      into v_plan
      from retention._partition_plan(p_pol, p_as_of, p_cutoff) x
     where x.disposition in ('drop', 'archive', 'rows', 'held');
    select coalesce(sum((e->>'rows')::bigint), 0), coalesce(sum((e->>'held_rows')::bigint), 0)
      into p_eligible, p_held
      from jsonb_array_elements(v_plan) e;
    v_limit := least(p_eligible - p_held, coalesce(p_max_rows, p_eligible - p_held));
    if v_limit > p_pol.max_rows_per_run and not coalesce(p_force, false) then
      p_status := 'refused';
      p_code := 'RT012';
      p_err := format('run would affect %s rows, more than the policy''s ceiling of %s',
                      v_limit, p_pol.max_rows_per_run);
      p_hint := 'Check SELECT * FROM retention.partitions(policy); then run with p_force => true, cap it with p_max_rows, or raise max_rows_per_run.';
    else
      for v_p in select * from jsonb_to_recordset(v_plan) as e(part oid, name text, rows bigint,
                          lower_bound timestamptz, upper_bound timestamptz, oldest_at timestamptz,
                          disposition text)
                  where e.disposition in ('drop', 'archive') order by e.upper_bound loop
        if v_done + v_p.rows > v_limit then
          v_capped := true;
          exit;
        end if;
        v_start := clock_timestamp();
        execute format('alter table %s detach partition %s', v_parent, v_p.name);
        if v_p.disposition = 'archive' then
          execute format('alter table %s set schema %I', v_p.name, p_pol.archive_schema);
        else
          execute format('drop table %s', v_p.name);
        end if;
        v_count := v_count + 1;
        v_done := v_done + v_p.rows;
        insert into retention.run_batches (run_id, batch_no, rows, started_at, finished_at,
                                           duration_ms, oldest_at, newest_at, partition_name,
                                           disposition)
        values (p_run_id, p_batches + v_count, v_p.rows, v_start, clock_timestamp(),
                extract(epoch from clock_timestamp() - v_start) * 1000,
                coalesce(v_p.oldest_at, v_p.lower_bound), v_p.upper_bound, v_p.name,
                case when v_p.disposition = 'archive' then 'archived' else 'dropped' end);
        raise notice 'policy %: partition % % (% rows, up to %)', p_pol.name, v_p.name,
          case when v_p.disposition = 'archive' then 'moved to ' || quote_ident(p_pol.archive_schema) else 'dropped' end,
          v_p.rows, v_p.upper_bound;
      end loop;
    end if;
    update retention.runs
       set eligible = p_eligible, held_back = p_held, affected = p_affected + v_done,
           batches = p_batches + v_count
     where run_id = p_run_id;
  exception
    when lock_not_available then
      get stacked diagnostics p_code = returned_sqlstate, p_err = message_text;
      p_status := 'stopped_lock_timeout';
      v_done := 0; v_count := 0; v_plan := '[]';
    when foreign_key_violation then
      get stacked diagnostics p_code = returned_sqlstate, p_err = message_text;
      p_hint := 'Rows of another table reference this partition: drop that table''s partitions first (a drop_partitions policy on it that runs before this one) or delete those rows.';
      p_status := 'failed';
      v_done := 0; v_count := 0; v_plan := '[]';
    when others then
      get stacked diagnostics p_code = returned_sqlstate, p_err = message_text, p_hint = pg_exception_hint;
      p_status := 'failed';
      v_done := 0; v_count := 0; v_plan := '[]';
  end;
  commit;
  p_affected := p_affected + v_done;
  p_batches := p_batches + v_count;

  -- Partitions kept for a hold on some of their rows: the batch engine deletes the others.
  if p_status = 'running' and not v_capped then
    for v_p in select e.name from jsonb_to_recordset(v_plan) as e(name text, upper_bound timestamptz, disposition text)
                where e.disposition = 'rows' order by e.upper_bound loop
      for v_leaf_id in select t.relid from pg_catalog.pg_partition_tree(v_p.name::regclass) t where t.isleaf loop
        v_leaf := p_pol;
        v_leaf.target := v_leaf_id;
        v_leaf.action := 'delete';
        call retention._batch_loop(v_leaf, p_run_id, p_pol.target::oid, p_cutoff, p_as_of, v_limit,
                                   p_budget, p_started, retention._qualified_name(v_leaf_id),
                                   p_affected, p_batches, p_status, p_code, p_err, p_hint);
        exit when p_status <> 'running' or p_affected >= v_limit;
      end loop;
      exit when p_status <> 'running' or p_affected >= v_limit;
    end loop;
  end if;
  if p_status = 'running' then
    p_status := case when v_capped or (p_affected >= v_limit and v_limit < p_eligible - p_held)
                     then 'stopped_max_rows' else 'completed' end;
  end if;
end
$$;
comment on procedure retention._drop_partitions(retention.policies, bigint, timestamptz, timestamptz, bigint, boolean, interval, timestamptz, bigint, bigint, bigint, integer, text, text, text, text) is
  'Internal. The drop_partitions action of one run: locks, counts, applies the ceiling and detaches and drops (or archives) expired partitions in one transaction, then deletes the unheld rows of partitions a hold keeps.';
