-- Runs every enabled policy in name order. Each is isolated: a refusal or failure is
-- recorded in that policy's run and the others still run.
create or replace procedure retention.run_all(
  p_dry_run boolean default false,
  p_as_of   timestamptz default null
)
language plpgsql
as $$
declare
  v_name   text;
  v_run_id bigint;
begin
  perform retention._check_run_time(p_dry_run, p_as_of);
  perform retention._pin_session();
  for v_name in select name from retention.policies where enabled order by name loop
    v_run_id := null;
    call retention._run_policy(v_name, p_dry_run, p_as_of, null, null, false, false, v_run_id);
  end loop;
  perform retention._unpin_session();
end
$$;
comment on procedure retention.run_all(boolean, timestamptz) is
  'Runs every enabled policy; a refusal or failure of one is recorded in its run and does not stop the others.';
