create or replace function retention.request_stop(p_run_id bigint)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  v_run retention.runs;
begin
  update retention.runs set stop_requested_at = clock_timestamp()
   where run_id = p_run_id and status = 'running' and stop_requested_at is null
  returning * into v_run;
  if not found then
    return false;
  end if;
  -- Who stopped it, in the audit log (a stopped erasure step leaves its request open).
  perform retention_internal._append_audit('run.stop_requested',
    case when v_run.kind = 'erasure' then 'erasure_request' else 'policy' end,
    case when v_run.kind = 'erasure' then v_run.request_id::text else v_run.policy_name end,
    jsonb_build_object('run_id', v_run.run_id));
  return true;
end
$$;
comment on function retention.request_stop(bigint) is
  'Asks a running run to stop after its current batch (audited: run.stop_requested); returns false if it is not running.';
