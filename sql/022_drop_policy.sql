-- A dropped policy's runs still 'running' (their session was killed): the caller holds
-- the policy's run lock, so whoever ran them is gone. Marked interrupted and audited, as
-- the policy's next run would have done; a dropped policy has none (round atk74 F1).
create or replace function retention_internal._close_dead_policy_runs(p_name text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_dead retention.runs;
begin
  for v_dead in
    update retention.runs set status = 'interrupted', finished_at = clock_timestamp(),
           error = 'the session running it ended before the run finished'
     where policy_name = p_name and status = 'running' and kind = 'policy'
    returning *
  loop
    if v_dead.spec ? 'proposal' then
      perform retention_internal._proposal_run_closed(v_dead, 'interrupted');
    end if;
    perform retention_internal._append_audit('run.interrupted', 'policy', p_name,
      jsonb_build_object('run_id', v_dead.run_id, 'affected', v_dead.affected, 'batches', v_dead.batches,
                         'error', 'the session running it ended before the run finished')
      || case when v_dead.estimated then '{"estimated": true}'::jsonb else '{}' end);
  end loop;
end
$$;
comment on function retention_internal._close_dead_policy_runs(text) is
  'Internal. Marks a policy''s runs still running interrupted, audited (the caller holds its run lock: their sessions are gone).';

-- Removes a policy. Its runs stay in the ledger (they keep the policy's name) and
-- policy-scoped legal holds stay in force for any later policy of the same name.
create or replace function retention.drop_policy(p_name text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_old   retention.policies;
  v_cover oid[];
begin
  perform retention_internal._check_called_directly('drop a policy');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  perform retention_internal._get_policy(p_name);
  -- Not while it runs: a policy of the same name created meanwhile would run beside it.
  if not retention_internal._try_lock_run(p_name) then
    raise exception 'policy % is running', p_name
      using errcode = '55006', hint = 'Wait for the run to finish, or stop it with retention.request_stop(run_id), then drop the policy.';
  end if;
  v_old := retention_internal._get_policy(p_name);
  -- What its subject column covered, judged again without it (RT024). The run lock is a
  -- session's: a refusal lets go of it (it would keep every run of the policy waiting).
  begin
    perform retention_internal._close_dead_policy_runs(p_name);
    if v_old.subject_column is not null then
      perform retention_internal._lock_for_coverage();
    end if;
    v_cover := retention_internal._subject_coverage(v_old.subject_column, v_old.target, v_old.subject_family, v_old.target_name, v_old.subject_attnum);
    delete from retention.policies where name = p_name returning * into v_old;
    perform retention_internal._check_subject_coverage(v_cover,
      retention_internal._subject_column_now(v_old.target, v_old.subject_column, v_old.subject_attnum), format('policy %s', p_name));
  exception when others then
    perform retention_internal._unlock_run(p_name);
    raise;
  end;
  perform retention_internal._unlock_run(p_name);
  perform retention_internal._append_audit('policy.dropped', 'policy', p_name,
    jsonb_strip_nulls(to_jsonb(v_old) - array['created_at', 'updated_at', 'subject_family', 'target_name', 'subject_attnum', 'schema_oid']));
  -- Its open proposals end with it: a policy created again under the name is another one.
  update retention.proposals set status = 'stale', closed_at = clock_timestamp(), closed_reason = 'the policy was dropped'
   where policy_name = p_name and status in ('pending', 'approved');
  raise notice 'policy % dropped', p_name;
end
$$;
comment on function retention.drop_policy(text) is
  'Removes a policy (RT008 if unknown). Its ledger rows remain. Audit-logged.';
