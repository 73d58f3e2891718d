-- The executor: every action that removes or changes rows goes through it — a policy's
-- run (p_pol), or a work condition (p_cond, SQL over alias t: an erasure step, with p_pol
-- carrying its table, action, scrub columns, batch size and lock timeout).
-- The batch loop of a run: batches of p_pol's table until p_limit rows are affected
-- (counted from p_affected on), no eligible row is left, the time budget since p_started
-- is spent, a stop is requested, or a batch fails. Each batch is its own transaction:
-- it takes the holds lock shared, sets lock_timeout, picks rows through the age index
-- from where the previous batch stopped (keyset, no rescans), skips locked rows, re-checks
-- holds in the same statement (the one hold rule, _held_sql: it names the tables itself;
-- p_hold_target is only bound as $4 for the statement's parameter list), and commits
-- together with its ledger row. A batch that fails on a row (a constraint, a trigger's exception, bad
-- data: SQLSTATE classes 22, 23 and P0) is redone row by row in the same transaction: the
-- other rows go, each failing row is recorded in run_row_failures by its key and left
-- out for the rest of the run. When every row of a batch (more than one) fails, the
-- batch fails as a whole, as any other error does. p_status stays 'running' when the loop ran out of rows or
-- reached the limit; otherwise it says why it stopped. p_partition names the partition
-- a drop_partitions run deletes rows from instead of dropping it (NULL otherwise).
create or replace procedure retention._batch_loop(
  p_pol         retention.policies,
  p_run_id      bigint,
  p_hold_target oid,
  p_cutoff      timestamptz,
  p_as_of       timestamptz,
  p_limit       bigint,
  p_budget      interval,
  p_started     timestamptz,
  p_partition   text,
  inout p_affected bigint,
  inout p_batches  integer,
  inout p_status   text,
  inout p_code     text,
  inout p_err      text,
  inout p_hint     text,
  p_cond           text default null
)
language plpgsql
as $$
declare
  v_stmt    text := retention._batch_sql(p_pol, p_cond);
  v_sql     record := retention._policy_sql(p_pol, p_cond);
  v_key     text := retention._row_key_sql(p_pol.target);
  v_floor   timestamptz := '-infinity';
  v_skip    tid[] := '{}';
  v_tids    tid[];
  v_tid     tid;
  v_rows    int;
  v_related int;
  v_one     record;
  v_failed  int;
  v_oldest  timestamptz;
  v_newest  timestamptz;
  v_b_start timestamptz;
  v_state   text;
  v_msg     text;
  v_row_key jsonb;
begin
  loop
    if p_batches > 0 and clock_timestamp() - p_started >= p_budget then
      p_status := 'stopped_time_budget'; exit;
    end if;
    exit when p_affected >= p_limit;
    if exists (select from retention.runs where run_id = p_run_id and stop_requested_at is not null) then
      p_status := 'stopped_requested'; exit;
    end if;
    v_b_start := clock_timestamp();
    v_failed := 0;
    begin
      perform set_config('lock_timeout', (extract(epoch from p_pol.lock_timeout) * 1000)::bigint::text, true);
      -- Names in the statement (a predicate's functions among them) resolve as they did
      -- when it was checked: pg_catalog first, whatever the caller's search_path.
      perform set_config('search_path', 'pg_catalog, pg_temp', true);
      perform retention._batch_plan_settings();
      perform set_config('retention.run_id', p_run_id::text, true);
      perform retention._lock_holds_shared();
      begin
        execute v_stmt into v_rows, v_oldest, v_newest, v_related
          using p_cutoff, p_as_of, p_pol.name, p_hold_target, v_floor,
                least(p_pol.batch_size, p_limit - p_affected), v_skip, null::tid;
      exception when data_exception or integrity_constraint_violation or plpgsql_error then
        -- Row by row: the rows this batch would have taken, each in its own subtransaction.
        execute format('select array(select t.ctid from only %s t where %s%s and not (%s)
                                       and t.ctid <> all ($7)%s limit $6)',
                       v_sql.tbl, v_sql.eligible,
                       case when v_sql.age_expr is not null then format(' and %s >= $5', v_sql.age_expr) else '' end,
                       v_sql.held,
                       case when v_sql.age_expr is not null then ' order by ' || v_sql.age_expr else '' end)
          into v_tids
          using p_cutoff, p_as_of, p_pol.name, p_hold_target, v_floor,
                least(p_pol.batch_size, p_limit - p_affected), v_skip;
        v_rows := 0; v_related := 0; v_oldest := null; v_newest := null;
        foreach v_tid in array v_tids loop
          begin
            execute v_stmt into v_one
              using p_cutoff, p_as_of, p_pol.name, p_hold_target, v_floor, 1::bigint, v_skip, v_tid;
            v_rows := v_rows + v_one.n;
            v_related := v_related + v_one.related;
            v_oldest := least(v_oldest, v_one.oldest);
            v_newest := greatest(v_newest, v_one.newest);
          exception when data_exception or integrity_constraint_violation or plpgsql_error then
            get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
            v_skip := v_skip || v_tid;
            v_failed := v_failed + 1;
            execute format('select %s from only %s t where t.ctid = $1', v_key, v_sql.tbl)
              into v_row_key using v_tid;
            insert into retention.run_row_failures (run_id, batch_no, row_key, error_code, error)
            values (p_run_id, p_batches + 1, coalesce(v_row_key, jsonb_build_object('ctid', v_tid::text)),
                    v_state, v_msg);
          end;
        end loop;
        if v_failed > 1 and v_failed = cardinality(v_tids) then
          -- Every row failed: not a bad row but a refusal of them all (a trigger, a missing
          -- privilege on a referencing table). The batch fails as a whole.
          raise exception '%', v_msg using errcode = v_state,
                hint = 'Every row of the batch failed this way; see the error, fix the cause, run again.';
        end if;
      end;
      if v_rows > 0 or v_failed > 0 then
        insert into retention.run_batches (run_id, batch_no, rows, started_at, finished_at,
                                           duration_ms, oldest_at, newest_at, partition_name,
                                           disposition, related_rows)
        values (p_run_id, p_batches + 1, v_rows, v_b_start, clock_timestamp(),
                extract(epoch from clock_timestamp() - v_b_start) * 1000, v_oldest, v_newest,
                p_partition, case when p_partition is not null then 'rows_deleted' end, v_related);
        update retention.runs
           set affected = p_affected + v_rows, batches = p_batches + 1, failed_rows = failed_rows + v_failed
         where run_id = p_run_id;
      end if;
    exception
      when lock_not_available then
        get stacked diagnostics p_code = returned_sqlstate, p_err = message_text;
        p_status := 'stopped_lock_timeout';
      when query_canceled then
        -- statement_timeout or pg_cancel_backend: the batch rolls back; _run_policy records
        -- the run 'interrupted', releases its lock and raises the cancel again.
        get stacked diagnostics p_code = returned_sqlstate, p_err = message_text;
        p_status := 'interrupted';
      when others then
        get stacked diagnostics p_code = returned_sqlstate, p_err = message_text, p_hint = pg_exception_hint;
        p_status := 'failed';
    end;
    commit;
    exit when p_status <> 'running';
    exit when v_rows = 0 and v_failed = 0;
    -- Counted only now that the batch has committed.
    p_batches := p_batches + 1;
    p_affected := p_affected + v_rows;
    v_floor := coalesce(v_newest, v_floor);
    if v_failed > 0 then
      raise warning 'policy %: batch % left % row(s) it could not act on (see retention.run_row_failures for run %)',
        p_pol.name, p_batches, v_failed, p_run_id;
    end if;
    raise notice 'policy %: batch % % rows in % ms (% of % done)', p_pol.name, p_batches, v_rows,
      round(extract(epoch from clock_timestamp() - v_b_start) * 1000, 1), p_affected, p_limit;
  end loop;
end
$$;
comment on procedure retention._batch_loop(retention.policies, bigint, oid, timestamptz, timestamptz, bigint, interval, timestamptz, text, bigint, integer, text, text, text, text, text) is
  'Internal. The batch loop of a run: one transaction per batch, keyset over the age index, holds re-checked per statement; a batch failing on a row is redone row by row, failures recorded in run_row_failures; stops at the limit, time budget, stop request or an error.';
