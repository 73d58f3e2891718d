-- Runs one policy now: open_run (checks, counts, records and audits the start), then
-- run_step until the run ends, committing after each step so every batch is its own
-- transaction (see those two for the guarantees). CALL it outside a transaction block.
-- Returns the run's id; read it in retention.run_ledger. A refused (RT012 over the
-- ceiling, RT034/RT035 without an approved proposal) or failed run
-- raises its error after it is recorded; an interrupted one (statement_timeout,
-- pg_cancel_backend) raises the cancel again. Every name here is qualified: after a
-- COMMIT the caller's search_path would resolve unqualified ones (pin_session pins it too).
create or replace procedure retention.run(
  p_policy      text,
  p_dry_run     boolean default false,
  p_as_of       timestamptz default null,
  p_max_rows    bigint default null,
  p_time_budget interval default null,
  p_force       boolean default false,
  inout p_run_id bigint default null
)
language plpgsql
as $$
declare
  v_status pg_catalog.text;  -- qualified: DECLARE types resolve with the caller's path
  v_run    record;
begin
  -- Called inside a transaction block, the first COMMIT fails: here, before any lock is
  -- taken or anything recorded ("invalid transaction termination": CALL it on its own).
  commit;
  perform retention.pin_session();
  -- Again: this transaction began at the caller's isolation (repeatable read, say), and
  -- what follows reads application tables at read committed only (_check_planner_code).
  commit;
  begin
    -- This loop detaches partitions itself (the plain way): a concurrent detach needs a
    -- client between steps (the worker).
    perform pg_catalog.set_config('retention.detach_concurrently', 'off', true);
    p_run_id := retention.open_run(p_policy, p_dry_run, p_as_of, p_max_rows, p_time_budget, p_force);
  exception when query_canceled or others then
    perform retention.release_run_locks(p_run_id, null, p_policy);
    perform retention.unpin_session();  -- bad arguments: the caller's settings back, then the error
    raise;
  end;
  commit;
  loop
    -- An error or cancel the step could not record (it came before the step knew the run
    -- was this session's) leaves no lock behind: the next run records this one interrupted.
    begin
      v_status := retention.run_step(p_run_id);
    exception when query_canceled or others then
      perform retention.release_run_locks(p_run_id);
      raise;
    end;
    commit;
    exit when pg_catalog.textne(v_status, 'running');
  end loop;
  select r.status, r.error_code, r.error, r.error_hint, r.affected, r.batches, r.mode into v_run
    from retention.runs r where r.run_id operator(pg_catalog.=) p_run_id;
  perform retention.unpin_session();
  commit;  -- the caller's settings back for good, whatever is raised below
  if pg_catalog.texteq(v_run.status, 'interrupted') then
    raise exception 'policy %: run % interrupted: %', p_policy, p_run_id, v_run.error
      using errcode = 'query_canceled',
            hint = 'The batches committed before the cancel are counted in the ledger; the next run carries on.';
  end if;
  raise notice 'policy %: run % %: % rows % in % batches', p_policy, p_run_id, v_run.status, v_run.affected,
    case when pg_catalog.texteq(v_run.mode, 'dry_run') then 'would be affected' else 'affected' end, v_run.batches
    using detail = pg_catalog.jsonb_build_object('progress', 'pg-retention', 'final', true, 'run_id', p_run_id,
                     'policy', p_policy, 'status', v_run.status, 'mode', v_run.mode, 'batches', v_run.batches,
                     'rows_done', v_run.affected, 'rows_total', v_run.affected)::pg_catalog.text;
  if pg_catalog.texteq(v_run.status, 'refused') or pg_catalog.texteq(v_run.status, 'failed') then
    if pg_catalog.texteq(v_run.status, 'refused') then
      raise exception '%', v_run.error using errcode = v_run.error_code, hint = v_run.error_hint;
    end if;
    raise exception 'policy %: run % failed: %', p_policy, p_run_id, v_run.error
      using errcode = coalesce(v_run.error_code, 'XX000'),
            hint = coalesce(v_run.error_hint, 'See retention.runs for the run.');
  end if;
end
$$;
comment on procedure retention.run(text, boolean, timestamptz, bigint, interval, boolean, bigint) is
  'Runs one policy in batches that commit one by one (dry run with p_dry_run). Refuses (RT012) when the rows exceed the policy''s ceiling unless p_force or capped by p_max_rows, and a live run of an approval-gated policy without an approved proposal (RT034, RT035). Stops between batches at the time budget. Returns the run id.';
