-- Whether a policy missed its schedule. The worker owns the calendar (cron is evaluated
-- where pg-boss evaluates it) and passes the occurrence that should have produced a run;
-- the database owns the facts: a policy is overdue when it is enabled, existed at that
-- occurrence, and no live run has ended completed or stopped by its budget or cap since
-- then. The first time an occurrence is found missed, one notification is queued
-- (however many workers ask).
create or replace function retention.note_overdue(
  p_policy  text,
  p_due_at  timestamptz,
  p_as_of   timestamptz default now()
)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
-- The occurrence is written into the notification's key: one spelling whatever the
-- caller's DateStyle (round atk82 F4: three alerts for one occurrence).
set datestyle = 'ISO, YMD'
as $$
declare
  v_pol      retention.policies;
  v_last_ok  timestamptz;
begin
  v_pol := retention_internal._get_policy(p_policy);
  -- An occurrence still to come cannot have been missed: noted early, its one notification
  -- would be spent before the policy had a chance to run.
  if p_due_at is null or p_due_at > p_as_of or p_due_at > now() then
    raise exception 'the due time % is not in the past of %', p_due_at, least(p_as_of, now())
      using errcode = 'RT017', hint = 'Pass the schedule occurrence that should already have produced a run (by the database clock).';
  end if;
  if not v_pol.enabled or v_pol.created_at > p_due_at then
    return false;
  end if;
  select max(r.started_at) into v_last_ok
    from retention.runs r
   where r.policy_id = v_pol.policy_id and r.mode = 'live'
     and retention_internal._run_succeeded(r);
  if v_last_ok >= p_due_at then
    return false;
  end if;
  insert into retention.notifications (kind, policy_name, dedupe_key, payload)
  values ('policy_overdue', v_pol.name, 'policy_overdue:' || v_pol.name || ':' || p_due_at,
          jsonb_build_object('kind', 'policy_overdue', 'policy', v_pol.name,
                             'table', retention.qualified_name(v_pol.target),
                             'due_at', p_due_at, 'last_successful_run_at', v_last_ok,
                             'checked_at', least(p_as_of, now())))
  on conflict (dedupe_key) do nothing;
  return true;
end
$$;
comment on function retention.note_overdue(text, timestamptz, timestamptz) is
  'True when the policy has had no successful live run since p_due_at (a schedule occurrence); the first call for an occurrence queues a policy_overdue notification.';
