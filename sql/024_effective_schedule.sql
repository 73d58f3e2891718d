-- When a policy runs by itself: its own cron expression, else the default of its
-- category, else daily at 02:00. Always read in the policy's time zone. The worker
-- turns this into pg-boss schedules; keeping the rule here lets DBAs see it in
-- effective_policies and keeps every replica of the worker in agreement.
create or replace function retention.effective_schedule(p_policy retention.policies)
returns table (schedule text, source text)
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(p_policy.schedule,
                  case p_policy.category
                    when 'accounts' then '0 3 * * 0'
                    when 'audit'    then '0 4 1 * *'
                    when 'metrics'  then '0 4 1 * *'
                    else '0 2 * * *'
                  end),
         case when p_policy.schedule is not null then 'policy'
              when p_policy.category is not null then 'category:' || p_policy.category
              else 'system' end
$$;
comment on function retention.effective_schedule(retention.policies) is
  'A policy''s cron schedule and where it came from (policy, category:<name>, system); used by effective_policies. Reads only.';
