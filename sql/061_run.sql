-- Runs one policy now (see _run_policy for the guarantees). CALL it outside a transaction
-- block: each batch commits on its own. Returns the run's id; read it in retention.run_ledger.
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
begin
  -- Bad arguments are refused before the session is pinned (see _pin_session).
  perform retention._check_run_time(p_dry_run, p_as_of);
  perform retention._get_policy(p_policy);
  perform retention._pin_session();
  call retention._run_policy(p_policy, p_dry_run, p_as_of, p_max_rows, p_time_budget,
                             p_force, true, p_run_id);
  perform retention._unpin_session();
end
$$;
comment on procedure retention.run(text, boolean, timestamptz, bigint, interval, boolean, bigint) is
  'Runs one policy in batches that commit one by one (dry run with p_dry_run). Refuses (RT012) when the rows exceed the policy''s ceiling unless p_force or capped by p_max_rows. Stops between batches at the time budget. Returns the run id.';
