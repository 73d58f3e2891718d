-- Does the next step of a run this session opened (open_run, or an erasure step opened by
-- process_erasure) and returns the run's status: 'running' while there is more to do.
-- The caller commits after each step, so each batch is its own transaction. A SECURITY
-- DEFINER function: the step reads what to do from the run's own row (spec and state,
-- which only these routines write), does it and writes its ledger row in the same
-- transaction, so the ledger tells the truth whoever calls it; only the session that
-- opened the run may step it. One step is
--  * between steps: the run stops at its time budget (after at least one batch), its row
--    limit, or a stop request (request_stop), but not before a partition it detached is
--    finished;
--  * a batch of rows (_batch; for drop_partitions, of the leaves of partitions a hold
--    keeps), or for drop_partitions the detach of one partition (_detach_partitions) and
--    then the detached partition finished (_finish_partition), partition by partition;
--  * when no row is left, or on a lock timeout, an error or a cancel, the run is closed
--    (_close_run: status, error, audit entry, run lock released): 'completed',
--    'stopped_max_rows', 'stopped_time_budget', 'stopped_requested',
--    'stopped_lock_timeout', 'failed' or 'interrupted' (statement_timeout,
--    pg_cancel_backend: the caller raises the cancel again).
create or replace function retention.run_step(p_run_id bigint)
returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
-- Short statements over the catalog and a batch's rows: JIT compiling them costs more than
-- it saves (milliseconds on every call, per batch).
set jit = off
set standard_conforming_strings = on
set timezone = 'UTC'
set extra_float_digits = 1
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set bytea_output = 'hex'
as $$
declare
  r        retention.runs;
  v_pol    retention.policies;
  v_leaf   retention.policies;
  v_limit  bigint;
  v_total  bigint;
  v_budget interval;
  v_wait   interval;
  v_size   int;
  v_target float8;
  v_t0     timestamptz;
  v_state  jsonb;
  v_phase  text;
  v_b      record;
  v_det    record;
  v_conc   boolean;
  v_leaves text[];
  v_i      int;
  v_part   text;
  v_code   text;
  v_err    text;
  v_hint   text;
  v_ctx    text;
  v_status text;
  v_mine   boolean := false;
begin
  -- The batch fires the deferred triggers pending in the transaction as a role without
  -- rights (_fire_deferred). Those the caller queued itself before the step, by writing to
  -- a table another role may put a trigger on (its temporary table, an application table),
  -- would fire with them: a runner's trigger dropped the routines that role owns (round
  -- atk127 F1). Such a transaction is refused; pg-retention's own writes (open_run's, in
  -- `begin; open_run; run_step; rollback`) are not the caller's.
  -- (Without track_counts nothing is counted there: any write refuses; round atk130 N1.)
  if pg_catalog.pg_current_xact_id_if_assigned() is not null
     and (pg_catalog.current_setting('track_counts') = 'off'
          or exists (select from pg_catalog.pg_stat_xact_all_tables s
                   join pg_catalog.pg_class c on c.oid = s.relid
                   join pg_catalog.pg_roles o on o.oid = c.relowner
                  where s.n_tup_ins + s.n_tup_upd + s.n_tup_del > 0
                    and not o.rolsuper and o.rolname <> current_user)) then
    raise exception 'run_step cannot follow the caller''s own writes in its transaction'
      using errcode = '25001',
            hint = 'Call retention.run_step(run_id) in a transaction that has written nothing of its own (a statement of its own, or after open_run): the step fires the transaction''s deferred triggers as a role without rights.';
  end if;
  perform retention_internal._check_fresh_clock();
  -- A cancel (statement_timeout, pg_cancel_backend) anywhere in the step, the checks
  -- included, ends the run interrupted when it is this session's: one that escaped the
  -- step would leave it running, its lock held by an idle session.
  begin
    -- Each step must read holds committed before it (an old snapshot would miss a hold
    -- placed since): read committed only, as run() and process_erasure pin it.
    if current_setting('transaction_isolation') <> 'read committed' then
      raise exception 'run_step runs at read committed, not %', current_setting('transaction_isolation')
        using errcode = '25001', hint = 'CALL retention.run(...) steps a run; outside it, step in a read committed transaction.';
    end if;
    select * into r from retention.runs where run_id = p_run_id;
    v_mine := r.backend_pid = pg_backend_pid() and r.status = 'running'
              and (not r.spec ? 'session' or r.spec ->> 'session' = retention_internal._session_id());
    if not found then
      raise exception 'run % does not exist', p_run_id
        using errcode = 'RT008', hint = 'CALL retention.run(policy) opens and steps a run; SELECT * FROM retention.run_ledger lists them.';
    end if;
    if r.status <> 'running' then
      return r.status;  -- ended (or never began: refused, already_running, failed at the start)
    end if;
    if r.spec is null then
      raise exception 'run % was not opened by open_run or process_erasure', p_run_id
        using errcode = 'RT008', hint = 'A run left running by an earlier version is closed by the next run of its policy.';
    end if;
    -- The session that opened it: its pid, and (runs opened since migration 28) its start
    -- time, for a pid comes round again and any login can take an advisory lock.
    if r.backend_pid is distinct from pg_backend_pid()
       or (r.spec ? 'session' and r.spec ->> 'session' is distinct from retention_internal._session_id())
       or not retention_internal._holds_run_lock(case r.kind when 'policy' then r.policy_name else format('erasure:%s', r.request_id) end) then
      raise exception 'run % belongs to another session', p_run_id
        using errcode = '55000', hint = 'Only the session that opened a run steps it; retention.request_stop(run_id) asks it to stop.';
    end if;
    v_pol := jsonb_populate_record(null::retention.policies, r.spec -> 'policy');
    v_limit := (r.spec ->> 'limit')::bigint;
    v_budget := (r.spec ->> 'budget')::interval;
    v_state := r.state;
    v_phase := v_state ->> 'phase';

    -- A partition this run detached is finished (dropped or archived) before the run stops
    -- for its budget or on request: its rows are out of the application's sight meanwhile.
    if v_phase not in ('finish', 'detaching') and (r.batches > 0 or r.throttled > interval '0') and clock_timestamp() - r.started_at >= v_budget then
      return retention_internal._close_run(r, 'stopped_time_budget');
    end if;
    -- The row limit ends row phases; partitions detached earlier are always finished first.
    if (v_phase in ('rows', 'leaves') and r.affected >= v_limit) or (v_phase = 'leaves' and (v_state ->> 'capped')::boolean) then
      return retention_internal._close_ended_run(r, v_pol);
    end if;
    if v_phase not in ('finish', 'detaching') and r.stop_requested_at is not null then
      return retention_internal._close_run(r, 'stopped_requested');
    end if;
    -- Throttling, before a batch and holding no lock: the policy's pause after the last
    -- batch, then a wait while a streaming standby's replay lags more than
    -- max_replication_lag. A wait lasts at most a second per step (then the caller commits
    -- and steps again), so a stop request and the time budget are seen; runs.throttled
    -- adds it up.
    if v_phase in ('rows', 'leaves') then
      if v_pol.pause_between_batches is not null and v_state ? 'batch_at' then
        -- Never longer than the pause itself: a clock set back puts batch_at ahead of it
        -- (round atk96).
        v_wait := least((v_state ->> 'batch_at')::timestamptz + v_pol.pause_between_batches - clock_timestamp(),
                        v_pol.pause_between_batches);
        if v_wait > interval '0' then
          perform pg_sleep(extract(epoch from v_wait)::float8);
        end if;
      end if;
      if v_pol.max_replication_lag is not null
         and retention_internal._replication_lag() > v_pol.max_replication_lag then
        v_t0 := clock_timestamp();
        loop
          perform pg_sleep(0.1);
          exit when coalesce(retention_internal._replication_lag() <= v_pol.max_replication_lag, true)
                 or clock_timestamp() - v_t0 >= interval '1 second';
        end loop;
        update retention.runs set throttled = throttled + (clock_timestamp() - v_t0) where run_id = r.run_id;
        if retention_internal._replication_lag() > v_pol.max_replication_lag then
          return 'running';  -- still behind: no batch this step
        end if;
      end if;
    end if;
    begin
      -- A run executing a proposal goes on only while the proposal stands: still approved (not
      -- superseded, withdrawn or stale), not expired, and for the policy as it is now.
      if r.spec ? 'proposal' then
        -- The tables the step will change locked first (no foreign key can be added to them
        -- until it commits), then the proposal and the policy's version, keys included.
        perform set_config('lock_timeout', (extract(epoch from v_pol.lock_timeout) * 1000)::bigint::text, true);
        perform retention_internal._lock_reach(v_pol);
        v_err := retention_internal._proposal_lapsed((r.spec ->> 'proposal')::bigint, r.policy_id);
        if v_err is not null then
          return retention_internal._close_run(r, 'failed', 'RT035', v_err,
            'Propose again for the policy as it is now (retention.propose) and have it approved; the batches done are counted.');
        end if;
      end if;
      -- A plain run goes on only while its policy says what it said when the run began (a
      -- longer period, another predicate, the policy disabled or dropped): otherwise it
      -- stops, its batches counted, and the next run works to the policy as it is. A
      -- partition it detached is finished first (phase finish).
      if r.kind = 'policy' and not r.spec ? 'proposal' and v_phase in ('rows', 'leaves', 'detach') then
        -- The policy's row and the defaults are read locked: a change (set_default too, which
        -- may insert a default the policy inherits) waits for this batch, as a hold does.
        perform from retention.policies x where x.policy_id = r.policy_id for share;
        lock table retention.defaults in share mode;
        v_err := retention_internal._policy_moved(r);
        if v_err is not null then
          return retention_internal._close_run(r, 'failed', 'RT041', v_err,
            'The batches done are counted; run the policy again to work to it as it is now.');
        end if;
      end if;
      -- An erasure's step goes on only under the erasure rules its plan was made with.
      if r.kind = 'erasure' and v_phase = 'rows' then
        -- Locked likewise: a rule or a subject column changed waits for this batch.
        lock table retention.erasure_rules in share mode;
        perform from retention.policies x where x.subject_column is not null for share;
        v_err := retention_internal._erasure_rules_moved(r.request_id);
        if v_err is not null then
          return retention_internal._close_run(r, 'failed', 'RT041', v_err,
            'The batches done are counted; process the request again to plan it under the rules as they are now.');
        end if;
      end if;
      if v_phase = 'detach' then
        -- One partition per step (the application waits for one detach at a time), finished
        -- before the next is detached; with none left, the leaves of the partitions a hold
        -- keeps are next.
        -- Where the worker drives the run (spec.detach), it detaches the partition itself,
        -- CONCURRENTLY (the application's queries go on meanwhile): this step records it as
        -- detaching and returns 'detach'; the worker runs detach_statement and steps again.
        -- Only for a login whose rights the application's code could not use in that
        -- statement (_login_contained; round atk113 F6).
        v_conc := coalesce(r.spec ->> 'detach' = 'concurrently', false) and not coalesce((v_state ->> 'plain')::boolean, false)
                  and retention_internal._login_contained(v_pol.target);
        v_det := retention_internal._detach_partitions(r, v_pol, (v_state ->> 'planned')::bigint, v_conc);
        v_state := v_state || jsonb_build_object('phase', case when v_conc and v_det.detached > 0 then 'detaching' else 'finish' end,
                                                 'more', v_det.detached > 0, 'planned', v_det.planned,
                                                 'planned_before', v_state -> 'planned', 'capped', v_det.capped,
                                                 'detaching', case when v_conc and v_det.detached > 0 then r.batches + 1 end)
                           || case when v_det.detached > 0 and not v_det.capped then '{}'::jsonb
                                   else jsonb_build_object('leaves', to_jsonb(v_det.leaves), 'leaf', 1) end;
        if v_conc and v_det.detached > 0 then
          update retention.runs set state = v_state where run_id = r.run_id;
          return 'detach';
        end if;
      elsif v_phase = 'detaching' then
        -- What the worker's statement did: detached (finished next), or not (this run
        -- detaches the plain way from now on, the partition's rows planned no more).
        if retention_internal._settle_detaching(r, v_pol) = 'not_detached' then
          v_state := v_state || jsonb_build_object('phase', 'detach', 'plain', true, 'planned', v_state -> 'planned_before');
        else
          v_state := v_state || jsonb_build_object('phase', 'finish');
        end if;
      elsif v_phase = 'finish' then
        -- First a partition a run that ended left pending a concurrent detach; then one
        -- detached and not yet finished.
        if retention_internal._settle_detaching(r, v_pol) is not null then
          null;  -- settled one: the next step finishes it
        elsif not retention_internal._finish_partition(r, v_pol) then
          v_state := v_state || jsonb_build_object(
            'phase', case when coalesce((v_state ->> 'more')::boolean, false) and not coalesce((v_state ->> 'capped')::boolean, false)
                          then 'detach' else 'leaves' end);
        end if;
      else
        -- A batch of rows: of the policy's table, or of the current leaf of a kept partition.
        if v_phase = 'leaves' then
          select array(select jsonb_array_elements_text(v_state -> 'leaves')) into v_leaves;
          v_i := (v_state ->> 'leaf')::int;
          if v_i > coalesce(cardinality(v_leaves), 0) then
            return retention_internal._close_ended_run(r, v_pol);
          end if;
          v_part := v_leaves[v_i];
          v_leaf := v_pol;
          v_leaf.target := v_part::regclass;
          v_leaf.action := 'delete';
          v_pol := v_leaf;
        end if;
        -- The batch's size: the policy's fixed batch_size, else the size this run has
        -- arrived at (from 1,000 rows).
        v_size := coalesce(v_pol.batch_size, (v_state ->> 'size')::int, 1000);
        v_b := retention_internal._batch(v_pol, r.run_id, r.cutoff, r.as_of, least(v_size, v_limit - r.affected),
                                r.batches + 1, v_part, r.spec ->> 'cond',
                                (v_state ->> 'floor')::timestamptz, (v_state ->> 'skip')::tid[]);
        if v_b.o_rows = 0 and v_b.o_failed > 1 then
          -- Every row of the batch failed (_batch): a refusal of them all, which the run
          -- ends on. Their errors are in run_row_failures, each by its row's key; the run's
          -- error names the batch and quotes no row (round atk92 F3).
          select f.error_code into v_code from retention.run_row_failures f
           where f.run_id = r.run_id and f.batch_no = r.batches + 1
           order by f.failed_at desc limit 1;
          update retention.runs set state = v_state where run_id = r.run_id;
          select * into r from retention.runs where run_id = p_run_id;
          return retention_internal._close_run(r, 'failed', v_code,
            format('every row of batch %s (%s rows) failed, SQLSTATE %s: their errors are in retention.run_row_failures for run %s',
                   r.batches, v_b.o_failed, v_code, r.run_id),
            'A refusal of every row, not a bad row: a trigger, a constraint or a missing privilege. See the rows'' errors, fix the cause, run again.');
        end if;
        if v_b.o_rows = 0 and v_b.o_failed = 0 then
          if v_phase <> 'leaves' then
            return retention_internal._close_ended_run(r, v_pol);
          end if;
          v_state := v_state || jsonb_build_object('leaf', v_i + 1, 'floor', '-infinity', 'skip', '{}');
        else
          v_state := v_state || jsonb_build_object('floor', v_b.p_floor, 'skip', v_b.p_skip::text, 'batch_at', clock_timestamp());
          -- Adaptive size (no fixed batch_size): toward the policy's batch_target (50 ms).
          -- A full batch faster than 80 % of it grows the next in proportion, at most
          -- twice; a slower one shrinks it in proportion at once; between 10 and 50,000.
          if v_pol.batch_size is null then
            v_target := extract(epoch from coalesce(v_pol.batch_target, interval '50 milliseconds')) * 1000;
            if v_b.o_ms > v_target then
              v_size := greatest(10, floor(v_size * v_target / v_b.o_ms)::int);
            elsif v_b.o_rows >= v_size and v_b.o_ms < v_target * 0.8 then
              v_size := least(50000, greatest(v_size + 1, floor(v_size * least(2.0, v_target / greatest(v_b.o_ms, 0.5)))::int));
            end if;
            v_state := v_state || jsonb_build_object('size', v_size);
          end if;
          if v_b.o_failed > 0 then
            raise warning '%: batch % left % row(s) it could not act on (see retention.run_row_failures for run %)',
              r.policy_name, r.batches + 1, v_b.o_failed, r.run_id;
          end if;
          -- Progress: at most one NOTICE every 3 seconds (the first batch's always), its
          -- DETAIL the figures as JSON for programs (pg-retention reads those, not the
          -- wording).
          if v_state ->> 'noticed_at' is null
             or clock_timestamp() - (v_state ->> 'noticed_at')::timestamptz >= interval '3 seconds' then
            -- Of what the run may take: its cap, at most the rows it counted (an erasure
            -- step has no cap).
            v_total := greatest(least(v_limit, coalesce(r.eligible - r.held_back, v_limit)), r.affected + v_b.o_rows);
            raise notice '%: batch % % rows in % ms (% of % done)',
              r.policy_name || coalesce(' ' || r.erasure_table::pg_catalog.text, ''), r.batches + 1, v_b.o_rows,
              v_b.o_ms, r.affected + v_b.o_rows, v_total
              using detail = jsonb_build_object('progress', 'pg-retention', 'run_id', r.run_id, 'policy', r.policy_name,
                                                'batches', r.batches + 1, 'rows_done', r.affected + v_b.o_rows,
                                                'rows_total', v_total, 'batch_rows', v_b.o_rows, 'batch_ms', v_b.o_ms,
                                                'elapsed_s', round(extract(epoch from clock_timestamp() - r.started_at)::numeric, 3))::text;
            v_state := v_state || jsonb_build_object('noticed_at', clock_timestamp());
          end if;
        end if;
      end if;
      update retention.runs set state = v_state where run_id = r.run_id;
      return 'running';
    exception
      when lock_not_available or query_canceled or others then
        -- The step rolls back; the run ends with what the committed steps did.
        get stacked diagnostics v_code = returned_sqlstate, v_err = message_text, v_hint = pg_exception_hint,
                                v_ctx = pg_exception_context;
        -- One the application's code raised keeps its message behind words of ours (round atk70).
        if retention_internal._application_raised(v_ctx) then
          v_err := retention_internal._recorded_error(v_code, v_err, v_hint, v_ctx);
          v_hint := null;
        end if;
        select * into r from retention.runs where run_id = p_run_id;
        v_status := case v_code when '55P03' then 'stopped_lock_timeout' when '57014' then 'interrupted' else 'failed' end;
        return retention_internal._close_run(r, v_status, v_code, v_err, nullif(v_hint, ''));
    end;
  exception when query_canceled then
    if v_mine then
      get stacked diagnostics v_err = message_text;
      select * into r from retention.runs where run_id = p_run_id;
      if r.status = 'running' then
        return retention_internal._close_run(r, 'interrupted', '57014', v_err);
      end if;
    end if;
    raise;
  end;
end
$$;
comment on function retention.run_step(bigint) is
  'Executor step: does the next step of a run this session opened (a batch that commits with its ledger row, a partition detach or drop) and returns the run''s status (''running'' while there is more; ''detach'' when it handed this session a partition to detach concurrently: run retention.detach_statement, then step again). CALL retention.run(...) loops over it.';

-- Rows a policy run leaves eligible and unheld as it ends, other than those it recorded
-- as failed (run_row_failures, by key): of its table, or of the leaves of the partitions a
-- hold kept (drop_partitions). An erasure step checks its own. Counted up to 10,001 per
-- table.
create or replace function retention_internal._run_left_rows(r retention.runs, p_pol retention.policies)
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_pol  retention.policies := p_pol;
  v_sql  record;
  v_n    bigint := 0;
  v_m    bigint;
  v_leaf text;
begin
  if r.kind <> 'policy' or r.mode <> 'live' then
    return 0;
  end if;
  for v_leaf in
    select x from jsonb_array_elements_text(case when p_pol.action = 'drop_partitions' then coalesce(r.state -> 'leaves', '[]')
                                                 else jsonb_build_array(p_pol.target::oid::text) end) x
  loop
    continue when to_regclass(v_leaf) is null and not exists (select from pg_catalog.pg_class c where c.oid::text = v_leaf);
    v_pol.target := case when v_leaf ~ '^[0-9]+$' then v_leaf::oid::regclass else v_leaf::regclass end;
    if p_pol.action = 'drop_partitions' then
      v_pol.action := 'delete';
    end if;
    v_sql := retention_internal._policy_sql(v_pol);
    execute format('select count(*) from (select from only %s t where %s and not (%s)
                                             and not exists (select from retention.run_row_failures f
                                                              where f.run_id = $5 and f.row_key = %s)
                                           limit 10001) x',
                   v_sql.tbl, v_sql.eligible, v_sql.held, retention_internal._row_key_sql(v_pol.target))
      into v_m
      using r.cutoff, r.as_of, r.policy_name, v_pol.target::oid, r.run_id;
    v_n := v_n + v_m;
  end loop;
  return v_n;
end
$$;
comment on function retention_internal._run_left_rows(retention.runs, retention.policies) is
  'Internal. Eligible, unheld rows a policy run leaves as it ends (of its table, or of the leaves a hold kept), other than those it recorded as failed: rows other sessions held locked, or wrote meanwhile.';

-- Ends a run that has done all it will, or reached its limit: completed (or
-- stopped_max_rows, _run_end_status), unless it leaves eligible, unheld rows it did not
-- record as failed. Batches skip rows another session holds locked, and a row that became
-- eligible during the run (a hold released or expired) is not in its limit: such a run is
-- stopped_lock_timeout, saying how many, never completed (rounds atk84 F1, atk87 F1-F3).
create or replace function retention_internal._close_ended_run(r retention.runs, p_pol retention.policies)
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_status text := retention_internal._run_end_status(r);
  v_left   bigint;
begin
  if v_status = 'completed' then
    v_left := retention_internal._run_left_rows(r, p_pol);
    if v_left > 0 then
      return retention_internal._close_run(r, 'stopped_lock_timeout', '55P03',
        format('%s eligible row(s) were left: another session held them locked as the run went by (batches skip locked rows), or they became eligible meanwhile',
               case when v_left > 10000 then 'over 10000' else v_left::text end),
        'Run the policy again once the sessions holding them are done; pg_locks and pg_stat_activity show which sessions hold locks.');
    end if;
  end if;
  return retention_internal._close_run(r, v_status);
end
$$;
comment on function retention_internal._close_ended_run(retention.runs, retention.policies) is
  'Internal. Closes a run that did all it will: completed or stopped_max_rows, or stopped_lock_timeout when eligible, unheld rows it did not record as failed are left.';

-- The status of a run that has done all it will: completed, or stopped_max_rows when a cap
-- (p_max_rows, run_cap, or the partitions' row limit) left eligible rows behind.
create or replace function retention_internal._run_end_status(r retention.runs)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select case when r.kind = 'policy' and coalesce((r.state ->> 'capped')::boolean, false)
                or (r.kind = 'policy' and r.affected >= (r.spec ->> 'limit')::bigint
                    and (r.spec ->> 'limit')::bigint < r.eligible - r.held_back)
              then 'stopped_max_rows' else 'completed' end
$$;
comment on function retention_internal._run_end_status(retention.runs) is
  'Internal. completed, or stopped_max_rows when a cap left eligible rows behind.';

-- Ends a run: its status and error, its audit entry (the policy's, or the erasure
-- request's for an erasure step), and a policy run lets go of its run lock. A cancel
-- while closing (waiting for the audit chain) still records the run interrupted; its
-- audit entry then comes from the next run of the policy (open_run).
-- Why a plain run may not go on under its policy as it is now (dropped, or what decides
-- which rows go changed since the run began: _policy_run_key), or NULL.
create or replace function retention_internal._policy_moved(r retention.runs)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set intervalstyle = 'postgres'
as $$
declare
  p      retention.policies;
  v_now  jsonb;
  v_then jsonb;
begin
  select * into p from retention.policies x where x.policy_id = r.policy_id;
  if not found then
    return format('policy %s was dropped while the run was in progress', r.policy_name);
  end if;
  v_now := retention_internal._policy_run_key(p);
  -- The period the run began with is the one it recorded (a schema default may have
  -- changed since: the policy's own row would not show it).
  v_then := retention_internal._policy_run_key(jsonb_populate_record(null::retention.policies, r.spec -> 'policy'))
            || jsonb_build_object('effective_retain', r.retain::text);
  if v_now is distinct from v_then then
    return format('policy %s changed while the run was in progress (%s)', r.policy_name,
                  (select string_agg(n.k, ', ' order by n.k) from jsonb_each(v_now) n(k, v) where n.v is distinct from v_then -> n.k));
  end if;
  return null;
end
$$;
comment on function retention_internal._policy_moved(retention.runs) is
  'Internal. Why a plain run may not go on: its policy was dropped, or a setting that decides which rows go (or the effective period) changed since it began; NULL while it may.';

-- A run's closing audit entry: what it did, and an error by its code (the audit log is kept
-- for good: an error that may quote a row's values, a trigger's or a data exception's, is
-- there by its code, and an erasure step's, which works on one person's rows, always;
-- runs.error has the message, and an erasure removes it).
create or replace function retention_internal._run_audit_details(r retention.runs, p_code text, p_err text)
returns jsonb
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select jsonb_strip_nulls(jsonb_build_object('run_id', r.run_id, 'mode', r.mode, 'cutoff', r.cutoff,
    'eligible', r.eligible, 'held_back', r.held_back, 'affected', r.affected, 'batches', r.batches,
    'table', r.erasure_table, 'step', r.erasure_step, 'error_code', p_code,
    'estimated', case when r.estimated then true end,
    'error', case when r.kind = 'policy' then retention_internal._loggable_error(p_code, p_err) end))
$$;
comment on function retention_internal._run_audit_details(retention.runs, text, text) is
  'Internal. The details of a run''s closing audit entry.';

create or replace function retention_internal._close_run(r retention.runs, p_status text, p_code text default null,
                                                p_err text default null, p_hint text default null)
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  begin
    update retention.runs
       set status = p_status, finished_at = clock_timestamp(), error_code = p_code, error = p_err, error_hint = p_hint
     where run_id = r.run_id;
    -- The audit chain is locked for the length of each append; a transaction that holds it
    -- idle must not keep a run from ending (a cancel comes only once).
    perform set_config('lock_timeout', '5000', true);
    perform retention_internal._append_audit('run.' || p_status,
      case r.kind when 'policy' then 'policy' else 'erasure_request' end,
      case r.kind when 'policy' then r.policy_name else r.request_id::text end,
      retention_internal._run_audit_details(r, p_code, p_err));
  exception when query_canceled or lock_not_available then
    -- Its closing entry is written by the next entry appended, whoever appends it (round
    -- atk54: the log otherwise said only that the run started). A cancel is not taken for
    -- the run's end: a run that did all its work keeps its status.
    update retention.runs
       set status = p_status,
           finished_at = clock_timestamp(), error_code = coalesce(p_code, case when sqlstate = '57014' then null else sqlstate end),
           error = coalesce(p_err, case when sqlstate = '57014' then 'its audit entry was written later: the close was cancelled while it waited for the audit chain'
                                        else 'its audit entry was written later: the audit chain stayed locked' end),
           audit_pending = true
     where run_id = r.run_id;
  end;
  if r.spec ? 'proposal' then
    perform retention_internal._proposal_run_closed(r, p_status);
  end if;
  if r.kind = 'policy' then
    perform retention_internal._unlock_run(r.policy_name);
  end if;
  return (select status from retention.runs where run_id = r.run_id);
end
$$;
comment on function retention_internal._close_run(retention.runs, text, text, text, text) is
  'Internal. Ends a run: status, error, audit entry; a policy run releases its run lock.';
