-- Opens one run of one policy: the first step of run() and run_all(), a SECURITY DEFINER
-- function, so the ledger says what happened whoever calls it. It
--  * refuses bad arguments before anything changes: an unknown policy (RT008), a future
--    p_as_of or a NULL p_dry_run (RT022, _check_run_time), p_max_rows below 1 and a time
--    budget outside (0, 24 hours] (RT006);
--  * acts only where the session's login may (42501 with the GRANT, _privilege_gap): the
--    run acts as the schema's owner, and the DBA's grants still decide which tables a
--    login may clean;
--  * one run per policy at a time (a session advisory lock; a second caller records
--    'already_running'); runs of the policy left 'running' by a session that ended (or
--    cancelled in this one) become 'interrupted', each with its audit entry;
--  * an approval-gated policy's live run is refused without an approved proposal of the
--    policy as it is now (RT034, RT035: _proposal_gate) or when the proposal's rows
--    drifted past its max_drift (RT035); otherwise it acts only on the proposal's rows
--    still eligible and unchanged (no ceiling: the approval stands for them);
--  * counts the eligible and held rows (waiting for table locks no longer than
--    lock_timeout), refuses a live run over the policy's ceiling unless forced (RT012),
--    flags newly eligible rows of a policy with a notice period (_flag_rows);
--  * records the run with what its steps need (spec: the policy as it is now, the row
--    limit and time budget; state: where the batches are; the session, backend_pid) and
--    audits its start (run.started) or its outcome. The caller commits, so the start is
--    in the audit log before the first batch.
-- Time: a live run acts on the real clock; p_as_of may only move its cutoff back; what it
-- stamps carries the real time; holds are judged at now().
-- Returns the run's id; run_step does the rest, one committed step at a time.
create or replace function retention.open_run(
  p_policy      text,
  p_dry_run     boolean default false,
  p_as_of       timestamptz default null,
  p_max_rows    bigint default null,
  p_time_budget interval default null,
  p_force       boolean default false
)
returns bigint
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
  v_pol       retention.policies;
  v_sql       record;
  v_ret       record;
  v_retain    interval;
  v_rsource   text;
  v_unlocked  boolean := false;
  v_as_of     timestamptz := coalesce(p_as_of, now());
  v_cutoff    timestamptz;
  v_eligible  bigint;
  v_held      bigint;
  v_status    text := 'running';
  v_code      text;
  v_err       text;
  v_hint      text;
  v_ctx       text;
  v_affected  bigint := 0;
  v_limit     bigint;
  v_actor     text := retention_internal._actor();
  v_plan      jsonb;
  v_estimated boolean := false;
  v_gap       text;
  v_mode      text := case when p_dry_run then 'dry_run' else 'live' end;
  v_job       text := nullif(current_setting('retention.job_id', true), '');
  v_run_id    bigint;
  v_gate      record;
  v_prop      retention.proposals;
begin
  perform retention_internal._check_run_time(p_dry_run, p_as_of);
  perform retention_internal._check_fresh_clock();
  v_pol := retention_internal._get_policy(p_policy);
  if p_max_rows is not null and p_max_rows < 1 then
    raise exception 'p_max_rows must be at least 1, got %', p_max_rows
      using errcode = 'RT006', hint = 'Leave it out for no cap beyond the policy''s ceiling, or give a positive number of rows.';
  end if;
  if p_time_budget is not null and (p_time_budget <= interval '0' or p_time_budget > interval '24 hours') then
    raise exception 'p_time_budget must be more than 0 and at most 24 hours, got %', p_time_budget
      using errcode = 'RT006', hint = 'E.g. ''5 minutes''; leave it out for the policy''s time budget.';
  end if;
  v_gap := retention_internal._privilege_gap(v_pol, session_user);
  if v_gap is not null then
    raise exception 'role % may not run policy %: it lacks privileges on %', session_user, v_pol.name,
      coalesce(retention.qualified_name(v_pol.target), 'its table')
      using errcode = '42501', hint = 'A DBA grants them: ' || v_gap;
  end if;

  if retention.qualified_name(v_pol.target) is not null then
    perform retention_internal._check_not_detached(v_pol.target);
  end if;
  -- The tables now above a policy's table join its subject column's record (a partition
  -- attached since it was declared): subject holds keep covering their rows once that
  -- table is gone.
  -- So for the columns of foreign keys that point at a subject, while a subject hold is
  -- open (an application that drops the key does not end the hold's cover).
  -- The writers' zones, remembered before this run reads them (they stay read when their
  -- setting goes: seen_zones), and the marks stamping policies write (stamped_marks).
  perform retention_internal._note_written_zones();
  perform retention_internal._note_stamped_marks();
  if not p_dry_run then
    perform retention_internal._note_subject_families();
    if exists (select from retention_internal._open_holds h where h.scope = 'subject') then
      perform retention_internal._note_subject_links();
      perform retention_internal._note_held_collations();
    end if;
  end if;
  -- A drop_partitions policy's table must still be partitioned by range on its age column
  -- (a column renamed since would make every partition look expired).
  if v_pol.action = 'drop_partitions' and retention.qualified_name(v_pol.target) is not null then
    perform retention_internal._validate_drop_partitions(v_pol.target, v_pol.age_column, null, v_pol.archive_schema);
  end if;
  if v_pol.action <> 'drop_partitions' and retention.qualified_name(v_pol.target) is not null then
    perform retention_internal._check_foreign_code(v_pol);
    perform retention_internal._check_rls(v_pol.target, v_pol.action in ('soft_delete', 'scrub'));
  end if;
  -- A partitioned table Citus distributes (or one of its partitions): _check_foreign_code's
  -- refusal, for the drop_partitions policies it does not cover.
  if v_pol.action = 'drop_partitions' and retention_internal._citus_table(v_pol.target) then
    raise exception 'cannot act on %: it is a Citus distributed table', v_pol.target
      using errcode = 'RT013', hint = 'pg-retention does not act on Citus distributed tables yet (docs/scaling.md says why and what it would need): drop the policy.';
  end if;

  if not retention_internal._try_lock_run(v_pol.name) then
    -- Which session holds it, and what it is doing (_run_lock_holder).
    v_err := 'the run lock is held by ' || retention_internal._run_lock_holder(v_pol.name);
    insert into retention.runs (policy_id, policy_name, mode, status, action, as_of, cutoff,
                                retain, retain_source, started_by, job_id, finished_at, error)
    select v_pol.policy_id, v_pol.name, v_mode, 'already_running', v_pol.action, v_as_of, v_as_of,
           r.retain, r.source, v_actor, v_job, clock_timestamp(), v_err
      from retention.effective_retain(v_pol) r
    returning run_id into v_run_id;
    raise notice 'policy %: another run is in progress, nothing done', p_policy
      using detail = coalesce(v_err, 'the run lock is held by another session');
    return v_run_id;
  end if;

  -- Set-up: mark dead runs, count, record the run. Any error is recorded, not lost.
  begin
    -- Runs of this policy (by name: it may have been dropped and created again) still
    -- 'running': this session holds the policy's lock, so whoever ran them is gone.
    perform retention_internal._close_dead_policy_runs(v_pol.name);
    v_ret := retention.effective_retain(v_pol);
    v_retain := v_ret.retain;
    v_rsource := v_ret.source;
    v_cutoff := retention_internal._policy_cutoff(v_pol, v_as_of, v_ret.retain);
    if not retention_internal._period_positive(v_ret.retain) or v_cutoff >= v_as_of then
      raise exception 'policy %: its period % puts the cutoff at %, not before %', v_pol.name, v_ret.retain, v_cutoff, v_as_of
        using errcode = 'RT004', hint = 'Give the policy (or its default) a period with no negative part, e.g. ''90 days''.';
    end if;
    -- An approval-gated policy's live run acts only on the rows of its approved proposal
    -- that are still eligible and unchanged (their condition joins the predicate).
    if v_pol.approval = 'required' and not p_dry_run then
      select * into v_gate from retention_internal._proposal_gate(v_pol);
      if v_gate.code is not null then
        v_status := 'refused';
        v_code := v_gate.code; v_err := v_gate.err; v_hint := v_gate.hint;
      else
        v_prop := v_gate.proposal;
        v_pol.predicate := concat_ws(' and ', '(' || v_pol.predicate || ')',
                                     retention_internal._proposal_cond(v_prop.proposal_id, v_pol.target));
      end if;
    end if;
    -- The checks (which lock the tables first: _check_planner_code) and the count wait for
    -- table locks no longer than a batch would (e.g. behind DDL).
    perform set_config('lock_timeout', (extract(epoch from v_pol.lock_timeout) * 1000)::bigint::text, true);
    v_sql := retention_internal._policy_sql(v_pol);
    if v_pol.action <> 'drop_partitions' then
      execute format(
        'select count(*), count(*) filter (where held)
           from (select (%s) as held from only %s t where %s) x',
        v_sql.held, v_sql.tbl, v_sql.eligible)
        into v_eligible, v_held
        using v_cutoff, v_as_of, v_pol.name, v_pol.target::oid;
    else
      select coalesce(sum(x.rows), 0), coalesce(sum(x.held_rows), 0),
             coalesce(jsonb_object_agg(x.part::oid::text, jsonb_build_object(
               'rows', x.rows, 'held_rows', x.held_rows, 'disposition', x.disposition,
               'estimated', x.estimated)), '{}'),
             coalesce(bool_or(x.estimated), false)
        into v_eligible, v_held, v_plan, v_estimated
        from retention_internal._partition_plan(v_pol, v_as_of, v_cutoff) x
       where x.disposition in ('drop', 'archive', 'rows', 'held');
    end if;
    v_limit := least(v_eligible - v_held, coalesce(p_max_rows, v_eligible - v_held),
                     coalesce(v_pol.run_cap, v_eligible - v_held));
    if p_dry_run then
      v_status := 'completed';
      v_affected := v_limit;
    elsif v_status = 'refused' then
      null;  -- no approved proposal
    elsif v_prop.proposal_id is not null then
      -- The approval stands for its rows, whatever the ceiling. Rows of the proposal that
      -- changed or went (deleted, updated, no longer eligible) count as drift; past the
      -- proposal's max_drift the run stops and a new proposal is needed.
      if v_prop.rows - coalesce(v_prop.executed_rows, 0) - v_eligible > v_prop.max_drift * v_prop.rows then
        update retention.proposals set status = 'stale', closed_at = clock_timestamp(),
               closed_reason = format('%s of its %s rows changed or left the eligible set',
                                      v_prop.rows - coalesce(v_prop.executed_rows, 0) - v_eligible, v_prop.rows)
         where proposal_id = v_prop.proposal_id;
        perform retention_internal._append_audit('proposal.stale', 'policy', v_pol.name,
          jsonb_build_object('proposal_id', v_prop.proposal_id, 'reason', 'drift',
                             'gone', v_prop.rows - coalesce(v_prop.executed_rows, 0) - v_eligible, 'rows', v_prop.rows));
        v_status := 'refused';
        v_code := 'RT035';
        v_err := format('%s of the %s rows of proposal %s changed or left the eligible set, more than its max_drift of %s',
                        v_prop.rows - coalesce(v_prop.executed_rows, 0) - v_eligible, v_prop.rows,
                        v_prop.proposal_id, v_prop.max_drift);
        v_hint := format('The data moved on since the approval: propose again (SELECT retention.propose(%L)) and have it approved.', v_pol.name);
      end if;
    elsif v_limit > v_pol.max_rows_per_run and not coalesce(p_force, false) then
      v_status := 'refused';
      v_code := 'RT012';
      v_err := format('run would affect %s rows, more than the policy''s ceiling of %s',
                      v_limit, v_pol.max_rows_per_run);
      v_hint := 'Check the preview; then run with p_force => true, cap it with p_max_rows, or raise max_rows_per_run.';
    end if;
    insert into retention.runs (policy_id, policy_name, mode, status, action, as_of, cutoff,
                                retain, retain_source, eligible, held_back, affected, max_rows,
                                forced, error_code, error, error_hint, started_by, job_id,
                                finished_at, spec, state, backend_pid, estimated)
    values (v_pol.policy_id, v_pol.name, v_mode, v_status, v_pol.action, v_as_of, v_cutoff,
            v_ret.retain, v_ret.source, v_eligible, v_held, v_affected, p_max_rows,
            coalesce(p_force, false), v_code, v_err, v_hint, v_actor, v_job,
            case when v_status <> 'running' then clock_timestamp() end,
            -- 'rel': the table's oid, which finds its runs after a rename (round atk66 F7).
            jsonb_build_object('policy', to_jsonb(v_pol), 'rel', v_pol.target::oid, 'limit', v_limit, 'session', retention_internal._session_id(),
                               'budget', coalesce(p_time_budget, v_pol.time_budget), 'plan', v_plan,
                               -- The policy's version (_policy_version, as proposals record it): an
                               -- approved run's is its proposal's (its predicate carries the proposal's rows).
                               'version', coalesce(v_prop.policy_version, retention_internal._policy_version_or_null(v_pol)))
              || case when v_prop.proposal_id is not null then jsonb_build_object('proposal', v_prop.proposal_id) else '{}' end
              -- The worker (retention.detach_concurrently on) detaches partitions itself,
              -- CONCURRENTLY, where PostgreSQL allows it (no default partition) and its login's
              -- rights are no use to the application's code in that statement
              -- (_login_contained: a superuser's worker detaches the plain way where the
              -- application owns a table it reads).
              || case when v_pol.action = 'drop_partitions' and not p_dry_run
                           and current_setting('retention.detach_concurrently', true) = 'on'
                           and retention_internal._login_contained(v_pol.target)
                           and not exists (select from pg_catalog.pg_partitioned_table t
                                            where t.partrelid = v_pol.target and t.partdefid <> 0)
                      then '{"detach": "concurrently"}'::jsonb else '{}' end,
            -- A drop_partitions run first finishes what a dead run of the policy detached, then
            -- detaches and finishes its partitions one by one.
            jsonb_build_object('phase', case when v_pol.action = 'drop_partitions' then 'finish' else 'rows' end,
                               'floor', '-infinity', 'skip', '{}')
              || case when v_pol.action = 'drop_partitions' then '{"more": true}'::jsonb else '{}' end,
            pg_backend_pid(), v_estimated)
    returning run_id into v_run_id;
    if v_status = 'running' and v_pol.notice_period is not null then
      perform retention_internal._flag_rows(v_pol, v_run_id, v_cutoff, v_as_of);
    end if;
    perform retention_internal._append_audit(case when v_status = 'running' then 'run.started' else 'run.' || v_status end,
      'policy', v_pol.name,
      jsonb_build_object('run_id', v_run_id, 'mode', v_mode, 'cutoff', v_cutoff, 'eligible', v_eligible,
                         'held_back', v_held, 'affected', v_affected, 'limit', v_limit,
                         'proposal', v_prop.proposal_id,
                         'error', retention_internal._loggable_error(v_code, v_err))
      || case when v_estimated then '{"estimated": true}'::jsonb else '{}' end);
  exception
    when lock_not_available or query_canceled or others then
      get stacked diagnostics v_code = returned_sqlstate, v_err = message_text, v_hint = pg_exception_hint,
                              v_ctx = pg_exception_context;
      -- One the application's code raised keeps its message behind words of ours (round atk70).
      if retention_internal._application_raised(v_ctx) then
        v_err := retention_internal._recorded_error(v_code, v_err, v_hint, v_ctx);
        v_hint := null;
      end if;
      v_status := case v_code when '55P03' then 'stopped_lock_timeout' when '57014' then 'interrupted' else 'failed' end;
      -- The run lock goes first (it is not transactional): should recording fail too (a
      -- read-only transaction), no idle session is left holding it.
      perform retention_internal._unlock_run(v_pol.name);
      v_unlocked := true;
      insert into retention.runs (policy_id, policy_name, mode, status, action, as_of, cutoff,
                                  retain, retain_source, error_code, error, error_hint, started_by, job_id,
                                  finished_at)
      values (v_pol.policy_id, v_pol.name, v_mode, v_status, v_pol.action, v_as_of, v_as_of,
              coalesce(v_retain, interval '0'), coalesce(v_rsource, 'unknown'), v_code, v_err,
              nullif(v_hint, ''), v_actor, v_job, clock_timestamp())
      returning run_id into v_run_id;
      -- Audited, unless the audit chain itself is what the run waited for when it was
      -- cancelled (a cancel comes once: this must not wait without end).
      begin
        perform set_config('lock_timeout', '1000', true);
        perform retention_internal._append_audit('run.' || v_status, 'policy', v_pol.name,
          jsonb_build_object('run_id', v_run_id, 'mode', v_mode, 'error_code', v_code,
                             'error', retention_internal._loggable_error(v_code, v_err)));
      exception when lock_not_available or query_canceled then
        -- Written by the next entry appended, whoever appends it (round atk84 F3: the run
        -- was otherwise in the ledger with no audit entry at all).
        update retention.runs set audit_pending = true where run_id = v_run_id;
      end;
  end;
  if v_status <> 'running' and not v_unlocked then
    perform retention_internal._unlock_run(v_pol.name);
  end if;
  raise notice 'policy %: run % %, cutoff %, eligible %, held back %',
    p_policy, v_run_id, case when p_dry_run then '(dry run)' else 'started' end,
    v_cutoff, v_eligible, v_held;
  return v_run_id;
end
$$;
comment on function retention.open_run(text, boolean, timestamptz, bigint, interval, boolean) is
  'Executor step: opens one run of a policy (checks arguments and the login''s privileges on the table, takes the policy''s run lock, counts, applies the ceiling, records and audits the start) and returns its id; run_step does its batches. CALL retention.run(...) does both.';
