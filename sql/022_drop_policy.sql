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
    jsonb_strip_nulls(to_jsonb(v_old) - array['created_at', 'updated_at', 'subject_family', 'target_name', 'subject_attnum']));
  -- Its open proposals end with it: a policy created again under the name is another one.
  update retention.proposals set status = 'stale', closed_at = clock_timestamp(), closed_reason = 'the policy was dropped'
   where policy_name = p_name and status in ('pending', 'approved');
  raise notice 'policy % dropped', p_name;
end
$$;
comment on function retention.drop_policy(text) is
  'Removes a policy (RT008 if unknown). Its ledger rows remain. Audit-logged.';
