create or replace function retention.request_stop(p_run_id bigint)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
begin
  update retention.runs set stop_requested_at = clock_timestamp()
   where run_id = p_run_id and status = 'running' and stop_requested_at is null;
  return found;
end
$$;
comment on function retention.request_stop(bigint) is
  'Asks a running run to stop after its current batch; returns false if it is not running.';
