-- Whether a run counts as the policy's success (policy_status's last success, the
-- compliance report's, note_overdue's "has it run since"): a live run that did what the
-- policy asks as of its own start, completed or stopped by the policy's own budget or cap.
-- A run a caller looked back in time with (p_as_of: it deletes less), capped (p_max_rows)
-- or cut short (p_time_budget) is in the ledger as it was, but makes no policy look
-- enforced (round atk84 F5).
-- A budget stop counts only when the run worked (its batches and throttle waits) for at
-- least half of it: a runner that stalled between its steps spends the budget doing
-- nothing (round atk87 F4). as_of is the run's transaction start: within a minute of its
-- start, never a caller's look back (round atk87 F7: five minutes was room to hide in).
create or replace function retention_internal._run_succeeded(r retention.runs)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select r.mode = 'live'
     and r.as_of >= r.started_at - interval '1 minute'
     and (r.status = 'completed'
          or (r.status = 'stopped_max_rows' and r.max_rows is null)
          or (r.status = 'stopped_time_budget'
              and (r.spec ->> 'budget') is not distinct from (r.spec #>> '{policy,time_budget}')
              and coalesce((select sum(b.duration_ms) from retention.run_batches b where b.run_id = r.run_id), 0)
                  + coalesce(extract(epoch from r.throttled) * 1000, 0)
                  >= extract(epoch from (r.spec ->> 'budget')::interval) * 1000 / 2))
$$;
comment on function retention_internal._run_succeeded(retention.runs) is
  'Internal. Whether a run counts as its policy''s success: live, as of its start, completed or stopped by the policy''s own cap or budget (having worked half of it), not a caller''s p_as_of, p_max_rows or p_time_budget.';
