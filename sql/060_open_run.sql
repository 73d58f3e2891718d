-- The engine behind run() and run_all(). One run of one policy:
--  * time (_check_run_time): a live run acts on the real clock; p_as_of may only move its
--    cutoff back (a future one is refused, RT022); what it stamps (flags, deleted-at,
--    scrubbed-at) carries the real time, and holds are judged at now() whatever p_as_of;
--  * one run per policy at a time (session advisory lock; a second caller records
--    'already_running'); earlier runs left 'running' by a dead session become 'interrupted';
--    a run cancelled mid-way (statement_timeout, pg_cancel_backend) is recorded
--    'interrupted', lets go of its lock and re-raises the cancel;
--  * eligible rows are counted at the start (waiting for table locks no longer than
--    lock_timeout); a run that would exceed the policy's ceiling is refused unless forced;
--  * a policy with a notice period flags newly eligible rows and cancels flags of rows
--    no longer eligible (_flag_rows) in the same transaction; its batches act only on
--    rows flagged at least the notice period ago;
--  * row actions then go through the batch loop (_batch_loop: one transaction per batch,
--    keyset over the age index, holds re-checked in the deleting statement);
--    drop_partitions through _drop_partitions (detach under the table's lock, then count
--    and drop each partition);
--  * it stops between batches when the time budget or p_max_rows is spent, or a stop was
--    requested; the next run carries on.
-- Errors are recorded in the ledger and re-raised when p_raise (run_all passes false).
create or replace procedure retention._run_policy(
  p_policy      text,
  p_dry_run     boolean,
  p_as_of       timestamptz,
  p_max_rows    bigint,
  p_time_budget interval,
  p_force       boolean,
  p_raise       boolean,
  inout p_run_id bigint default null
)
language plpgsql
as $$
declare
  v_pol       retention.policies;
  v_sql       record;
  v_ret       record;
  v_as_of     timestamptz := coalesce(p_as_of, now());
  v_cutoff    timestamptz;
  v_eligible  bigint;
  v_held      bigint;
  v_budget    interval;
  v_started   timestamptz;
  v_status    text := 'running';
  v_code      text;
  v_err       text;
  v_hint      text;
  v_affected  bigint := 0;
  v_batches   int := 0;
  v_limit     bigint;
  v_actor     text := retention._actor();
  v_run_open  boolean;
  v_plan      jsonb;
  v_dead      record;
begin
  perform retention._check_run_time(p_dry_run, p_as_of);
  v_pol := retention._get_policy(p_policy);

  if not retention._try_lock_run(v_pol.name) then
    insert into retention.runs (policy_id, policy_name, mode, status, action, as_of, cutoff,
                                retain, retain_source, started_by, job_id, finished_at)
    select v_pol.policy_id, v_pol.name, case when p_dry_run then 'dry_run' else 'live' end,
           'already_running', v_pol.action, v_as_of, v_as_of, r.retain, r.source, v_actor,
           nullif(current_setting('retention.job_id', true), ''), clock_timestamp()
      from retention._effective_retain(v_pol) r
    returning run_id into p_run_id;
    commit;
    raise notice 'policy %: another run is in progress, nothing done', p_policy;
    return;
  end if;

  v_started := clock_timestamp();  -- the run begins once it holds the lock
  -- Set-up: mark dead runs, count, record the run. Any error is recorded, not lost.
  begin
    -- Runs of this policy (by name: it may have been dropped and created again) left
    -- 'running' by a session that ended: interrupted, each with its audit entry.
    for v_dead in
      update retention.runs set status = 'interrupted', finished_at = clock_timestamp(),
             error = 'the session running it ended before the run finished'
       where policy_name = v_pol.name and status = 'running'
      returning run_id, affected, batches
    loop
      perform retention._append_audit('run.interrupted', 'policy', v_pol.name,
        jsonb_build_object('run_id', v_dead.run_id, 'affected', v_dead.affected, 'batches', v_dead.batches,
                           'error', 'the session running it ended before the run finished'));
    end loop;
    v_ret := retention._effective_retain(v_pol);
    v_cutoff := v_as_of - v_ret.retain;
    if not retention._period_positive(v_ret.retain) or v_cutoff >= v_as_of then
      raise exception 'policy %: its period % puts the cutoff at %, not before %', v_pol.name, v_ret.retain, v_cutoff, v_as_of
        using errcode = 'RT004', hint = 'Give the policy (or its default) a period with no negative part, e.g. ''90 days''.';
    end if;
    v_sql := retention._policy_sql(v_pol);
    v_budget := coalesce(p_time_budget, v_pol.time_budget);
    -- The count waits for table locks no longer than a batch would (e.g. behind DDL).
    perform set_config('lock_timeout', (extract(epoch from v_pol.lock_timeout) * 1000)::bigint::text, true);
    perform set_config('search_path', 'pg_catalog, pg_temp', true);
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
               'rows', x.rows, 'held_rows', x.held_rows, 'disposition', x.disposition)), '{}')
        into v_eligible, v_held, v_plan
        from retention._partition_plan(v_pol, v_as_of, v_cutoff) x
       where x.disposition in ('drop', 'archive', 'rows', 'held');
    end if;
    v_limit := least(v_eligible - v_held, coalesce(p_max_rows, v_eligible - v_held),
                     coalesce(v_pol.run_cap, v_eligible - v_held));
    if p_dry_run then
      v_status := 'completed';
      v_affected := v_limit;
    elsif v_limit > v_pol.max_rows_per_run and not coalesce(p_force, false) then
      v_status := 'refused';
      v_code := 'RT012';
      v_err := format('run would affect %s rows, more than the policy''s ceiling of %s',
                      v_limit, v_pol.max_rows_per_run);
      v_hint := 'Check the preview; then run with p_force => true, cap it with p_max_rows, or raise max_rows_per_run.';
    end if;
    insert into retention.runs (policy_id, policy_name, mode, status, action, as_of, cutoff,
                                retain, retain_source, eligible, held_back, affected, max_rows,
                                forced, error_code, error, started_by, job_id, started_at,
                                finished_at)
    values (v_pol.policy_id, v_pol.name, case when p_dry_run then 'dry_run' else 'live' end,
            v_status, v_pol.action, v_as_of, v_cutoff, v_ret.retain, v_ret.source,
            v_eligible, v_held, v_affected, p_max_rows, coalesce(p_force, false), v_code, v_err,
            v_actor, nullif(current_setting('retention.job_id', true), ''), v_started,
            case when v_status <> 'running' then clock_timestamp() end)
    returning run_id into p_run_id;
    if v_status = 'running' and v_pol.notice_period is not null then
      perform retention._flag_rows(v_pol, p_run_id, v_cutoff, v_as_of);
    end if;
    if v_status <> 'running' then
      perform retention._append_audit('run.' || v_status, 'policy', v_pol.name,
        jsonb_build_object('run_id', p_run_id, 'mode', case when p_dry_run then 'dry_run' else 'live' end,
                           'cutoff', v_cutoff, 'eligible', v_eligible, 'held_back', v_held,
                           'affected', v_affected, 'error', v_err));
    end if;
  exception
    when lock_not_available then
      get stacked diagnostics v_code = returned_sqlstate, v_err = message_text;
      v_status := 'stopped_lock_timeout';
      p_run_id := null;  -- the block's run row (if any) was rolled back with it
    when query_canceled then
      get stacked diagnostics v_code = returned_sqlstate, v_err = message_text;
      v_status := 'interrupted';
      p_run_id := null;
    when others then
      get stacked diagnostics v_code = returned_sqlstate, v_err = message_text, v_hint = pg_exception_hint;
      v_status := 'failed';
      p_run_id := null;
  end;
  if v_status in ('failed', 'stopped_lock_timeout', 'interrupted') and p_run_id is null then
    insert into retention.runs (policy_id, policy_name, mode, status, action, as_of, cutoff,
                                retain, retain_source, error_code, error, started_by, job_id,
                                finished_at)
    values (v_pol.policy_id, v_pol.name, case when p_dry_run then 'dry_run' else 'live' end,
            v_status, v_pol.action, v_as_of, v_as_of, coalesce(v_ret.retain, interval '0'),
            coalesce(v_ret.source, 'unknown'), v_code, v_err, v_actor,
            nullif(current_setting('retention.job_id', true), ''), clock_timestamp())
    returning run_id into p_run_id;
  end if;
  commit;
  raise notice 'policy %: run % %, cutoff %, eligible %, held back %',
    p_policy, p_run_id, case when p_dry_run then '(dry run)' else 'started' end,
    v_cutoff, v_eligible, v_held;
  v_run_open := v_status = 'running';

  if v_status = 'running' then
    if v_pol.action = 'drop_partitions' then
      call retention._drop_partitions(v_pol, p_run_id, v_cutoff, v_as_of, v_plan, v_limit, v_budget,
                                      v_started, v_affected, v_batches, v_status, v_code, v_err,
                                      v_hint);
    else
      call retention._batch_loop(v_pol, p_run_id, v_pol.target::oid, v_cutoff, v_as_of, v_limit,
                                 v_budget, v_started, null, v_affected, v_batches, v_status,
                                 v_code, v_err, v_hint);
    end if;
    if v_status = 'running' then
      v_status := case when v_affected >= v_limit and v_limit < v_eligible - v_held
                       then 'stopped_max_rows' else 'completed' end;
    end if;
  end if;
  if v_run_open then
    begin
      update retention.runs
         set status = v_status, finished_at = clock_timestamp(), error_code = v_code, error = v_err
       where run_id = p_run_id;
      perform retention._append_audit('run.' || v_status, 'policy', v_pol.name,
        jsonb_build_object('run_id', p_run_id, 'mode', 'live', 'cutoff', v_cutoff,
                           'eligible', v_eligible, 'held_back', v_held, 'affected', v_affected,
                           'batches', v_batches, 'error', v_err));
    exception when query_canceled then
      -- Cancelled while closing the run (e.g. waiting for the audit chain): the run is still
      -- recorded as interrupted; its audit entry comes from the next run (see set-up).
      get stacked diagnostics v_code = returned_sqlstate, v_err = message_text;
      v_status := 'interrupted';
      update retention.runs
         set status = 'interrupted', finished_at = clock_timestamp(), error_code = v_code, error = v_err
       where run_id = p_run_id;
    end;
    commit;
  end if;

  perform retention._unlock_run(v_pol.name);
  if v_status = 'interrupted' or (p_raise and v_status in ('refused', 'failed')) then
    perform retention._unpin_session();  -- the caller's settings back before the error (see _pin_session)
  end if;
  if v_status = 'interrupted' then
    -- Cancelled (statement_timeout, pg_cancel_backend): recorded and unlocked above; the
    -- caller still gets the cancel, and run_all stops too.
    raise exception 'policy %: run % interrupted: %', p_policy, p_run_id, v_err
      using errcode = 'query_canceled',
            hint = 'The batches committed before the cancel are counted in the ledger; the next run carries on.';
  end if;
  raise notice 'policy %: run % %: % rows % in % batches', p_policy, p_run_id, v_status,
    v_affected, case when p_dry_run then 'would be affected' else 'affected' end, v_batches;
  if p_raise and v_status in ('refused', 'failed') then
    if v_code = 'RT012' then
      raise exception '%', v_err using errcode = 'RT012', hint = v_hint;
    end if;
    raise exception 'policy %: run % failed: %', p_policy, p_run_id, v_err
      using errcode = coalesce(v_code, 'XX000'), hint = coalesce(v_hint, 'See retention.runs for the run.');
  end if;
end
$$;
comment on procedure retention._run_policy(text, boolean, timestamptz, bigint, interval, boolean, boolean, bigint) is
  'Internal. The batch engine: one run of one policy, recorded in the ledger. Use retention.run or retention.run_all.';
