-- The database, not the worker, decides what is worth telling someone: every live run
-- that ends failed, is refused by its ceiling, left rows it could not act on
-- (failed_rows, their keys in run_row_failures), or affects at least its policy's
-- notify_over_rows (100000 unless set) puts a notification in the outbox, in the same
-- transaction that records the outcome, whoever started the run (worker, CLI or psql).
-- Payloads carry counts, codes and names only: never row contents (an error's message only
-- as far as _outbound_error keeps it).
create or replace function retention_internal._notify_run()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_kind      text;
  v_kinds     text[];
  v_threshold bigint;
  v_target    text;
begin
  if new.mode <> 'live' or new.status in ('running', 'already_running')
     or (tg_op = 'UPDATE' and old.status is not distinct from new.status) then
    return null;
  end if;
  select coalesce(p.notify_over_rows, 100000), retention.qualified_name(p.target)
    into v_threshold, v_target
    from retention.policies p where p.policy_id = new.policy_id;
  v_kinds := case
    when new.status = 'failed' then array['run_failed']
    when new.status = 'refused' then array['run_refused']
    else array_remove(array[
           case when new.failed_rows > 0 then 'rows_failed' end,
           case when new.affected >= coalesce(v_threshold, 100000) then 'large_deletion' end], null)
  end;
  foreach v_kind in array v_kinds loop
    insert into retention.notifications (kind, policy_name, run_id, dedupe_key, payload)
    values (v_kind, new.policy_name, new.run_id, v_kind || ':run:' || new.run_id,
            jsonb_build_object(
              'kind', v_kind, 'policy', new.policy_name, 'table', v_target,
              'run_id', new.run_id, 'status', new.status, 'action', new.action,
              'cutoff', new.cutoff, 'eligible', new.eligible, 'held_back', new.held_back,
              'affected', new.affected, 'batches', new.batches, 'failed_rows', new.failed_rows,
              'threshold', case when v_kind = 'large_deletion' then v_threshold end,
              -- As the worker's log would keep it (round atk70): the payload leaves the database.
              'error_code', new.error_code, 'error', retention_internal._outbound_error(new.error_code, new.error),
              'started_by', new.started_by, 'job_id', new.job_id,
              'started_at', new.started_at, 'finished_at', new.finished_at)
            -- Counts from the statistics (a drop_partitions policy's count estimate) say so.
            || case when new.estimated then '{"estimated": true}'::jsonb else '{}' end)
    on conflict (dedupe_key) do nothing;
  end loop;
  return null;
end
$$;
comment on function retention_internal._notify_run() is
  'Internal. Trigger on retention.runs: queues a notification when a live run fails, is refused by its ceiling, leaves rows it could not act on, or affects at least notify_over_rows rows.';

create or replace trigger runs_notify
  after insert or update of status on retention.runs
  for each row execute function retention_internal._notify_run();
