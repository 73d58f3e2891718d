-- Carries out an erasure request: its plan (_erasure_steps) deepest tables first, each
-- step a run of the one executor (_batch_loop; in the ledger as kind 'erasure' with the
-- request and step) in batches of p_batch_size rows that commit one by one (delete the
-- rows, or scrub them with the table's column map; kept rows are counted and left), then
-- records the evidence per table from the ledger — table, rule, legal reason, rows — and
-- completes the request: the
-- subject's key is replaced by its sha256 (subject_hash), the audit log and the outbox
-- (erasure_completed: the confirmation to send the person) say so without naming them.
-- A legal hold on the subject, or on a table of the plan that holds their rows, blocks
-- it: status blocked_by_hold with the hold's reason, nothing changed. A delete that a
-- foreign key would refuse (_erasure_conflicts) stops it too: status failed with the
-- conflict, nothing changed. A step that fails anyway (a trigger, a lock timeout) leaves
-- the request failed with the error; the steps done so far stay done and processing it
-- again carries on.
create or replace procedure retention.process_erasure(
  p_request    bigint,
  p_batch_size integer default 1000
)
language plpgsql
as $$
declare
  v_req    retention.erasure_requests;
  v_hold   record;
  v_step   record;
  v_pol    retention.policies;
  v_n      bigint;
  v_total  bigint;
  v_code   text;
  v_err    text;
  v_hint   text;
  v_run    bigint;
  v_affected bigint;
  v_batches  integer;
  v_status   text;
  v_steps  jsonb := '[]';
  v_plan   jsonb;
begin
  perform retention._pin_session();  -- names and time zone as checked (see _pin_session)
  select * into v_req from retention.erasure_requests r where r.request_id = p_request for update;
  if not found then
    perform retention._unpin_session();
    raise exception 'erasure request % does not exist', p_request
      using errcode = 'RT020', hint = 'SELECT * FROM retention.erasure_overview lists them.';
  end if;
  if v_req.status = 'completed' then
    perform retention._unpin_session();
    raise exception 'erasure request % is already completed', p_request
      using errcode = 'RT020', hint = 'Its evidence is in retention.erasure_evidence.';
  end if;
  if p_batch_size is null or p_batch_size not between 1 and 50000 then
    perform retention._unpin_session();
    raise exception 'batch size must be between 1 and 50000, got %', p_batch_size
      using errcode = 'RT006', hint = 'The default of 1000 rows keeps each batch''s locks short.';
  end if;

  -- One processing of a request at a time (the run lock's namespace; a policy name cannot
  -- hold ':'); steps a dead session left running are interrupted.
  if not retention._try_lock_run(format('erasure:%s', p_request)) then
    perform retention._unpin_session();
    raise exception 'erasure request % is being processed by another session', p_request
      using errcode = '55006', hint = 'Wait for it to finish, or stop its run (retention.request_stop(run_id), see retention.runs where request_id = ...).';
  end if;
  update retention.runs set status = 'interrupted', finished_at = clock_timestamp(),
         error = 'the session running it ended before the run finished'
   where request_id = p_request and status = 'running';

  -- The plan in running order, its holds and its conflicts. An error or a cancel here
  -- lets go of the request's lock before it is raised.
  begin
    perform retention._lock_holds_shared();
    if retention._qualified_name(v_req.subject_table) is null then
      raise exception 'erasure request %: its subject table no longer exists', p_request
        using errcode = 'RT020', hint = 'The table was dropped after the request was filed.';
    end if;
    select retention._erasure_order(jsonb_agg(to_jsonb(s))) into v_plan
      from retention._erasure_steps(p_request) s;
    select * into v_hold from retention._erasure_hold(v_plan, v_req.subject_table, v_req.subject_id);
    -- A delete a foreign key would refuse (or cascade into rows that stay) stops it before
    -- anything changes: the rules must say what happens to those rows first.
    select string_agg(format('%s: %s', e->>'target', w.warning), '; ' order by w.step) into v_err
      from retention._erasure_conflicts(v_plan) w
      join jsonb_array_elements(v_plan) e on (e->>'step')::int = w.step;
  exception when query_canceled or others then
    perform retention._unlock_run(format('erasure:%s', p_request));
    perform retention._unpin_session();
    raise;
  end;
  if v_hold.held is not null then
    call retention._block_erasure(p_request, v_req.subject_hash, v_hold.hold_id, v_hold.reason);
    perform retention._unlock_run(format('erasure:%s', p_request));
    perform retention._unpin_session();
    return;
  end if;
  if v_err is not null then
    update retention.erasure_requests set status = 'failed', status_reason = v_err where request_id = p_request;
    perform retention._append_audit('erasure.failed', 'erasure_request', p_request::text,
      jsonb_build_object('subject_hash', v_req.subject_hash, 'conflict', v_err));
    commit;
    perform retention._unlock_run(format('erasure:%s', p_request));
    perform retention._unpin_session();
    raise exception 'erasure request % cannot be carried out as planned: %', p_request, v_err
      using errcode = 'RT020',
            hint = format('Nothing was changed. Scrub the referenced table instead of deleting it, or delete the referencing rows too (retention.set_erasure_rule), then process it again; SELECT * FROM retention.erasure_plan(%s) shows the warnings.', p_request);
  end if;
  update retention.erasure_requests set status = 'in_progress', status_reason = null where request_id = p_request;
  commit;

  -- The steps in running order: rows that reference others go before the rows they reference.
  -- Each is a run of the one executor (_batch_loop, kind 'erasure' in the ledger): batches
  -- that commit one by one, the holds lock and the hold rule in every statement,
  -- lock_timeout, stop requests (retention.request_stop(run_id)), bad rows recorded in
  -- run_row_failures. Its evidence is the ledger's count.
  for v_step in select * from jsonb_to_recordset(v_plan) as x(step int, depth int, target text, rule text,
                                                               reason text, scrub jsonb, rows bigint, cond text) loop
    v_total := v_step.rows;
    if v_step.rule <> 'keep' then
      v_pol := null;
      v_pol.name := format('erasure-%s', p_request);
      v_pol.target := v_step.target::regclass;
      v_pol.action := v_step.rule;
      v_pol.scrub_columns := v_step.scrub;
      v_pol.batch_size := p_batch_size;
      v_pol.lock_timeout := interval '2 seconds';
      insert into retention.runs (kind, request_id, erasure_step, erasure_table, policy_name, mode, status, action, as_of,
                                  cutoff, retain, retain_source, eligible, started_by, job_id)
      values ('erasure', p_request, v_step.step, v_step.target, v_pol.name, 'live', 'running', v_step.rule, now(), now(),
              interval '0', 'erasure', v_step.rows, retention._actor(),
              nullif(current_setting('retention.job_id', true), ''))
      returning run_id into v_run;
      commit;
      v_affected := 0; v_batches := 0; v_status := 'running'; v_code := null; v_err := null; v_hint := null;
      call retention._batch_loop(v_pol, v_run, v_pol.target::oid, now(), now(), 9223372036854775807,
                                 interval '24 hours', clock_timestamp(), null, v_affected, v_batches,
                                 v_status, v_code, v_err, v_hint, v_step.cond);
      if v_status = 'running' then
        v_status := 'completed';
      end if;
      update retention.runs
         set status = v_status, finished_at = clock_timestamp(), error_code = v_code, error = v_err
       where run_id = v_run;
      commit;
      if v_status = 'interrupted' then
        perform retention._unlock_run(format('erasure:%s', p_request));
        perform retention._unpin_session();
        raise exception 'erasure request %: run % of step % interrupted: %', p_request, v_run, v_step.step, v_err
          using errcode = 'query_canceled', hint = 'Its committed batches are counted in the ledger; process the request again to carry on.';
      end if;
      if v_status in ('stopped_requested', 'stopped_lock_timeout') then
        update retention.erasure_requests
           set status_reason = format('%s at %s (run %s); process it again to carry on',
                                      case v_status when 'stopped_requested' then 'stopped on request' else 'stopped on a lock timeout' end,
                                      v_step.target, v_run)
         where request_id = p_request;
        commit;
        raise notice 'erasure request %: % at %, run %', p_request, v_status, v_step.target, v_run;
        perform retention._unlock_run(format('erasure:%s', p_request));
        perform retention._unpin_session();
        return;
      end if;
      if v_status = 'completed' then
        -- Rows left because a hold placed while the erasure ran covers them: blocked, and
        -- processing it again once the hold is released carries on.
        perform retention._lock_holds_shared();
        select * into v_hold from retention._erasure_hold(
          jsonb_build_array(jsonb_build_object('step', v_step.step, 'target', v_step.target, 'rule', v_step.rule,
                                               'cond', v_step.cond, 'scrub', v_step.scrub)),
          v_req.subject_table, v_req.subject_id);
        if v_hold.held is not null then
          call retention._block_erasure(p_request, v_req.subject_hash, v_hold.hold_id, v_hold.reason);
          perform retention._unlock_run(format('erasure:%s', p_request));
          perform retention._unpin_session();
          return;
        end if;
        -- Rows the executor could not act on (run_row_failures): the step is not done.
        execute format('select count(*) from only %s t where %s', v_step.target,
                       (retention._policy_sql(v_pol, v_step.cond)).eligible)
          into v_n;
        if v_n > 0 then
          v_status := 'failed';
          select f.error_code, f.error into v_code, v_hint
            from retention.run_row_failures f where f.run_id = v_run order by f.batch_no limit 1;
          v_code := coalesce(v_code, 'RT020');
          v_err := format('%s row(s) could not be %s: %s (see retention.run_row_failures for run %s)', v_n,
                          case v_step.rule when 'delete' then 'deleted' else 'scrubbed' end,
                          coalesce(v_hint, 'locked or changed meanwhile'), v_run);
        end if;
      end if;
      if v_status <> 'completed' then
        update retention.erasure_requests
           set status = 'failed', status_reason = format('%s: %s (%s)', v_step.target, v_err, v_code)
         where request_id = p_request;
        perform retention._append_audit('erasure.failed', 'erasure_request', p_request::text,
          jsonb_build_object('subject_hash', v_req.subject_hash, 'table', v_step.target, 'error_code', v_code,
                             'run_id', v_run));
        commit;
        perform retention._unlock_run(format('erasure:%s', p_request));
        perform retention._unpin_session();
        raise exception 'erasure request %: % failed: %', p_request, v_step.target, v_err
          using errcode = coalesce(v_code, 'RT020'),
                hint = 'Rows elsewhere may still need these (a foreign key to rows that stay): change the rules, then process the request again.';
      end if;
      -- The evidence counts what the ledger counts for this table, over every run of it
      -- (step numbers change when the plan does between two processings).
      select coalesce(sum(r.affected), 0) into v_total
        from retention.runs r where r.request_id = p_request and r.erasure_table = v_step.target and r.kind = 'erasure';
    end if;
    insert into retention.erasure_evidence (request_id, step, depth, target, rule, reason, rows)
    values (p_request, v_step.step, v_step.depth, v_step.target, v_step.rule, v_step.reason, v_total)
    on conflict (request_id, step) do update
      set depth = excluded.depth, target = excluded.target, rule = excluded.rule, reason = excluded.reason,
          rows = excluded.rows, done_at = excluded.done_at;
    v_steps := v_steps || jsonb_build_object('table', v_step.target, 'rule', v_step.rule, 'rows', v_total);
    commit;
    raise notice 'erasure request %: % % rows of %', p_request,
      case v_step.rule when 'delete' then 'deleted' when 'scrub' then 'scrubbed' else 'kept' end,
      v_total, v_step.target;
  end loop;

  -- Tables an earlier processing changed that the plan no longer has (dropped since): their
  -- rows were changed all the same, and the evidence says so.
  for v_step in
    select r.erasure_table as target, r.action as rule, sum(r.affected) as rows
      from retention.runs r
     where r.request_id = p_request and r.kind = 'erasure' and r.affected > 0
       and r.erasure_table not in (select x->>'target' from jsonb_array_elements(v_plan) x)
     group by r.erasure_table, r.action
  loop
    select greatest(coalesce(max(e.step), 0), jsonb_array_length(v_plan)) + 1 into v_n
      from retention.erasure_evidence e where e.request_id = p_request;
    insert into retention.erasure_evidence (request_id, step, depth, target, rule, reason, rows)
    values (p_request, v_n, 0, v_step.target, v_step.rule, 'changed by an earlier processing; no longer in the plan', v_step.rows)
    on conflict (request_id, step) do update
      set depth = excluded.depth, target = excluded.target, rule = excluded.rule, reason = excluded.reason,
          rows = excluded.rows, done_at = now();
    v_steps := v_steps || jsonb_build_object('table', v_step.target, 'rule', v_step.rule, 'rows', v_step.rows);
  end loop;
  -- Rows that failed in this request's runs were named by their key, and their error may
  -- quote them: neither stays once the person is erased.
  update retention.run_row_failures f
     set row_key = jsonb_build_object('erased', true), error = 'removed when the erasure completed'
   where f.run_id in (select r.run_id from retention.runs r where r.request_id = p_request);
  update retention.erasure_requests
     set status = 'completed', status_reason = null, completed_at = clock_timestamp(), subject_id = null
   where request_id = p_request;
  perform retention._append_audit('erasure.completed', 'erasure_request', p_request::text,
    jsonb_build_object('subject_hash', v_req.subject_hash, 'steps', v_steps));
  insert into retention.notifications (kind, dedupe_key, payload)
  values ('erasure_completed', 'erasure_completed:' || p_request,
          jsonb_build_object('kind', 'erasure_completed', 'request_id', p_request,
                             'subject_table', retention._qualified_name(v_req.subject_table),
                             'subject_hash', v_req.subject_hash, 'requested_by', v_req.requested_by,
                             'requested_at', v_req.requested_at, 'due_at', v_req.due_at,
                             'completed_at', clock_timestamp(), 'steps', v_steps))
  on conflict (dedupe_key) do nothing;
  commit;
  raise notice 'erasure request % completed', p_request;
  perform retention._unlock_run(format('erasure:%s', p_request));
  perform retention._unpin_session();
end
$$;
comment on procedure retention.process_erasure(bigint, integer) is
  'Carries out an erasure request in committed batches (deepest tables first: delete, scrub, keep), records evidence per table without personal data, completes it (subject key replaced by its sha256), audit-logs it and queues erasure_completed. A legal hold blocks it (blocked_by_hold).';
