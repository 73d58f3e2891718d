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
  if p_max_rows is not null and p_max_rows < 1 then
    raise exception 'p_max_rows must be at least 1, got %', p_max_rows
      using errcode = 'RT006', hint = 'Leave it out for no cap beyond the policy''s ceiling, or give a positive number of rows.';
  end if;
  if p_time_budget is not null and (p_time_budget <= interval '0' or p_time_budget > interval '24 hours') then
    raise exception 'p_time_budget must be more than 0 and at most 24 hours, got %', p_time_budget
      using errcode = 'RT006', hint = 'E.g. ''5 minutes''; leave it out for the policy''s time budget.';
  end if;
  perform retention._pin_session();
  call retention._run_policy(p_policy, p_dry_run, p_as_of, p_max_rows, p_time_budget,
                             p_force, true, p_run_id);
  perform retention._unpin_session();
end
$$;
comment on procedure retention.run(text, boolean, timestamptz, bigint, interval, boolean, bigint) is
  'Runs one policy in batches that commit one by one (dry run with p_dry_run). Refuses (RT012) when the rows exceed the policy''s ceiling unless p_force or capped by p_max_rows. Stops between batches at the time budget. Returns the run id.';
