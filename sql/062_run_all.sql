-- Runs every enabled policy in name order (open_run, then run_step until it ends). Each is
-- isolated: a refusal or failure is recorded in that policy's run and the others still
-- run; a cancel (statement_timeout, pg_cancel_backend) stops them all.
create or replace procedure retention.run_all(
  p_dry_run boolean default false,
  p_as_of   timestamptz default null
)
language plpgsql
as $$
declare
  v_name   pg_catalog.text;
  v_run_id pg_catalog.int8;
  v_status pg_catalog.text;  -- qualified: DECLARE types resolve with the caller's path
begin
  perform retention.pin_session();
  for v_name in select p.name from retention.policies p where p.enabled order by p.name loop
    begin
      v_run_id := retention.open_run(v_name, p_dry_run, p_as_of);
    exception when others then
      if pg_catalog.texteq(sqlstate, 'RT022') then
        -- The arguments themselves (a future p_as_of, a NULL p_dry_run): nothing runs.
        perform retention.unpin_session();
        raise;
      end if;
      -- Dropped since the loop began, or the login may not run it: recorded nowhere, said here.
      raise warning 'policy %: not run: %', v_name, sqlerrm;
      continue;
    end;
    commit;
    loop
      v_status := retention.run_step(v_run_id);
      commit;
      exit when pg_catalog.textne(v_status, 'running');
    end loop;
    if pg_catalog.texteq(v_status, 'interrupted') then
      perform retention.unpin_session();
      commit;  -- the caller's settings back for good before the error
      raise exception 'policy %: run % interrupted', v_name, v_run_id
        using errcode = 'query_canceled',
              hint = 'The batches committed before the cancel are counted in the ledger; the next run carries on.';
    end if;
  end loop;
  perform retention.unpin_session();
end
$$;
comment on procedure retention.run_all(boolean, timestamptz) is
  'Runs every enabled policy; a refusal or failure of one is recorded in its run and does not stop the others.';
