-- Carries out an erasure request: its plan (_erasure_steps) deepest tables first, each
-- step a run of the one executor (run_step; in the ledger as kind 'erasure' with the
-- request and step) in batches of p_batch_size rows that commit one by one (delete the
-- rows, or scrub them with the table's column map; kept rows are counted and left), then
-- records the evidence per table from the ledger — table, rule, legal reason, rows — and
-- completes the request: the subject's key and who asked are removed from it, and what
-- the retention schema knew of the person (released holds, exemptions, flags,
-- notifications, failed rows: _forget_subject) goes; the audit log and the outbox
-- (erasure_completed: the confirmation to send the person) say so by the subject's token,
-- whose link back to the person is deleted.
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
  v_status pg_catalog.text;  -- qualified: DECLARE types resolve with the caller's path
  v_req    record;
  v_step   record;
begin
  -- open_erasure and erasure_step do the checking and the recording (SECURITY DEFINER);
  -- this loop commits between them and between the batches of each step's run. Every
  -- name is qualified (see pin_session).
  commit;  -- in a transaction block: refused here, before anything is taken (see run)
  perform retention.pin_session();
  -- Again: this transaction began at the caller's isolation (repeatable read, say), and
  -- what follows reads application tables at read committed only (_check_planner_code).
  commit;
  begin
    v_status := retention.open_erasure(p_request, p_batch_size);
  exception when query_canceled or others then
    perform retention.release_run_locks(null, p_request);
    perform retention.unpin_session();
    raise;
  end;
  commit;
  if pg_catalog.texteq(v_status, 'failed') then
    select r.status_reason into v_req from retention.erasure_requests r where r.request_id operator(pg_catalog.=) p_request;
    -- The caller's settings back for good before the error: pin_session's were committed
    -- above, and an unpin in the transaction the error aborts would be undone with it.
    perform retention.unpin_session();
    commit;
    raise exception 'erasure request % cannot be carried out as planned: %', p_request, v_req.status_reason
      using errcode = 'RT032',
            hint = pg_catalog.format('Nothing was changed. Each warning says what to do (most often a rule: scrub the referenced table instead of deleting it, or delete the referencing rows too: retention.set_erasure_rule), then process it again; SELECT * FROM retention.erasure_plan(%s) shows the warnings.', p_request);
  end if;
  if pg_catalog.textne(v_status, 'in_progress') then
    perform retention.unpin_session();
    return;
  end if;
  -- An error or cancel a step could not record leaves no lock behind (see run): the next
  -- processing, from any session, records the step's run interrupted and carries on.
  loop
    begin
      v_step := retention.erasure_step(p_request);
    exception when query_canceled or others then
      perform retention.release_run_locks(null, p_request);
      raise;
    end;
    commit;
    exit when v_step.run_id is null;
    loop
      begin
        v_status := retention.run_step(v_step.run_id);
      exception when query_canceled or others then
        perform retention.release_run_locks(v_step.run_id, p_request);
        raise;
      end;
      commit;
      exit when pg_catalog.textne(v_status, 'running');
    end loop;
  end loop;
  perform retention.unpin_session();
  commit;  -- kept, whatever is raised below
  if pg_catalog.texteq(v_step.status, 'interrupted') then
    raise exception '%', v_step.message using errcode = 'query_canceled', hint = v_step.hint;
  end if;
  if pg_catalog.texteq(v_step.status, 'failed') then
    raise exception '%', v_step.message
      using errcode = coalesce(v_step.code, 'RT032'), hint = v_step.hint;
  end if;
  if pg_catalog.texteq(v_step.status, 'completed') then
    raise notice 'erasure request % completed', p_request;
  elsif v_step.message is not null then
    raise notice '%', v_step.message;
  end if;
end
$$;
comment on procedure retention.process_erasure(bigint, integer) is
  'Carries out an erasure request in committed batches (deepest tables first: delete, scrub, keep), records evidence per table without personal data, completes it (the subject''s key, who asked and what holds, exemptions, flags, notifications and failed rows said of them removed; their token, subject_hash, unlinked), audit-logs it and queues erasure_completed. A legal hold blocks it (blocked_by_hold).';
