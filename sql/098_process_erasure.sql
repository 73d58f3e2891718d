-- Carries out an erasure request: its plan (_erasure_steps) deepest tables first, each
-- step in batches of p_batch_size rows that commit one by one (delete the rows, or scrub
-- them with the table's column map; kept rows are counted and left), then records the
-- evidence per table — table, rule, legal reason, rows — and completes the request: the
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
  v_sql    text;
  v_held   text;
  v_n      bigint;
  v_bad    bigint;
  v_total  bigint;
  v_code   text;
  v_err    text;
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

  -- Holds: the subject, or a table where the plan finds their rows.
  perform retention._lock_holds_shared();
  select jsonb_agg(to_jsonb(s) order by s.depth desc, s.step desc) into v_plan
    from retention._erasure_steps(p_request) s;
  select * into v_hold from retention._erasure_hold(v_plan, v_req.subject_table, v_req.subject_id);
  if v_hold.held is not null then
    call retention._block_erasure(p_request, v_req.subject_hash, v_hold.hold_id, v_hold.reason);
    perform retention._unpin_session();
    return;
  end if;
  -- A delete a foreign key would refuse (or cascade into rows that stay) stops it before
  -- anything changes: the rules must say what happens to those rows first.
  select string_agg(format('%s: %s', e->>'target', w.warning), '; ' order by w.step) into v_err
    from retention._erasure_conflicts(v_plan) w
    join jsonb_array_elements(v_plan) e on (e->>'step')::int = w.step;
  if v_err is not null then
    update retention.erasure_requests set status = 'failed', status_reason = v_err where request_id = p_request;
    perform retention._append_audit('erasure.failed', 'erasure_request', p_request::text,
      jsonb_build_object('subject_hash', v_req.subject_hash, 'conflict', v_err));
    commit;
    perform retention._unpin_session();
    raise exception 'erasure request % cannot be carried out as planned: %', p_request, v_err
      using errcode = 'RT020',
            hint = format('Nothing was changed. Scrub the referenced table instead of deleting it, or delete the referencing rows too (retention.set_erasure_rule), then process it again; SELECT * FROM retention.erasure_plan(%s) shows the warnings.', p_request);
  end if;
  update retention.erasure_requests set status = 'in_progress', status_reason = null where request_id = p_request;
  commit;

  -- The steps, deepest first: rows that reference others go before the rows they reference.
  for v_step in select * from jsonb_to_recordset(v_plan) as x(step int, depth int, target text, rule text,
                                                               reason text, scrub jsonb, rows bigint, cond text) loop
    v_total := 0;
    -- Every statement leaves held rows alone (_held_sql, checked in the statement under the
    -- holds lock): a hold placed while the erasure runs protects what it covers.
    v_held := retention._held_sql(v_step.target::regclass, 't', null, v_step.rule = 'delete',
                                  p_changes => array(select k::name from jsonb_object_keys(coalesce(v_step.scrub, '{}')) k));
    if v_step.rule = 'delete' then
      v_sql := format('with u as (delete from only %1$s t where t.ctid = any (array(select t.ctid from only %1$s t where (%2$s) and not %3$s limit $1)) returning 1)
                       select count(*), 0::bigint from u',
                      v_step.target, v_step.cond, v_held);
    elsif v_step.rule = 'scrub' then
      v_pol.target := to_regclass(v_step.target);
      v_pol.scrub_columns := v_step.scrub;
      -- Each updated row must read as scrubbed afterwards (else a trigger or rule put values
      -- back, and the step would pick the same rows forever): such a batch fails the step.
      v_sql := format('with u as (update only %1$s t set %3$s where t.ctid = any (array(select t.ctid from only %1$s t where (%2$s) and not (%4$s) and not %5$s limit $1))
                                 returning (%4$s) as ok)
                       select count(*), count(*) filter (where not coalesce(ok, false)) from u',
                      v_step.target, v_step.cond, (retention._scrub_sql(v_pol)).set_list, (retention._scrub_sql(v_pol)).scrubbed, v_held);
    end if;
    loop
      exit when v_step.rule = 'keep';
      -- Each batch takes the holds lock: a hold placed meanwhile is read by its statement.
      perform retention._lock_holds_shared();
      begin
        execute v_sql into v_n, v_bad using p_batch_size;
        if v_bad > 0 then
          raise exception '% of % scrubbed rows still hold the old values after the update (a trigger or rule on the table?)', v_bad, v_n
            using errcode = 'RT020';
        end if;
      exception when others then
        get stacked diagnostics v_code = returned_sqlstate, v_err = message_text;
      end;
      exit when v_code is not null or v_n = 0;
      v_total := v_total + v_n;
      commit;
    end loop;
    if v_code is null and v_step.rule <> 'keep' then
      -- Rows left because a hold placed while the erasure ran covers them: blocked, and
      -- processing it again once the hold is released carries on.
      perform retention._lock_holds_shared();
      select * into v_hold from retention._erasure_hold(
        jsonb_build_array(jsonb_build_object('step', v_step.step, 'target', v_step.target, 'rule', v_step.rule,
                                             'cond', v_step.cond, 'scrub', v_step.scrub)),
        v_req.subject_table, v_req.subject_id);
      if v_hold.held is not null then
        call retention._block_erasure(p_request, v_req.subject_hash, v_hold.hold_id, v_hold.reason);
        perform retention._unpin_session();
        return;
      end if;
    end if;
    if v_code is not null then
      update retention.erasure_requests
         set status = 'failed', status_reason = format('%s: %s (%s)', v_step.target, v_err, v_code)
       where request_id = p_request;
      perform retention._append_audit('erasure.failed', 'erasure_request', p_request::text,
        jsonb_build_object('subject_hash', v_req.subject_hash, 'table', v_step.target, 'error_code', v_code));
      commit;
      perform retention._unpin_session();
      raise exception 'erasure request %: % failed: %', p_request, v_step.target, v_err
        using errcode = v_code,
              hint = 'Rows elsewhere may still need these (a foreign key to rows that stay): change the rules, then process the request again.';
    end if;
    insert into retention.erasure_evidence (request_id, step, depth, target, rule, reason, rows)
    values (p_request, v_step.step, v_step.depth, v_step.target, v_step.rule, v_step.reason,
            case when v_step.rule = 'keep' then v_step.rows else v_total end)
    on conflict (request_id, step) do update set rows = erasure_evidence.rows + excluded.rows, done_at = excluded.done_at;
    v_steps := v_steps || jsonb_build_object('table', v_step.target, 'rule', v_step.rule,
                                             'rows', case when v_step.rule = 'keep' then v_step.rows else v_total end);
    commit;
    raise notice 'erasure request %: % % rows of %', p_request,
      case v_step.rule when 'delete' then 'deleted' when 'scrub' then 'scrubbed' else 'kept' end,
      case when v_step.rule = 'keep' then v_step.rows else v_total end, v_step.target;
  end loop;

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
  perform retention._unpin_session();
end
$$;
comment on procedure retention.process_erasure(bigint, integer) is
  'Carries out an erasure request in committed batches (deepest tables first: delete, scrub, keep), records evidence per table without personal data, completes it (subject key replaced by its sha256), audit-logs it and queues erasure_completed. A legal hold blocks it (blocked_by_hold).';
