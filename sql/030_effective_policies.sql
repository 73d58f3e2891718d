-- Every policy with its effective retention period and where that period came from.
create or replace view retention.effective_policies as
select p.name,
       p.target,
       p.action,
       p.age_column,
       e.retain,
       e.source as retain_source,
       p.predicate,
       p.subject_column,
       p.deleted_at_column,
       p.batch_size,
       p.max_rows_per_run,
       p.time_budget,
       p.lock_timeout,
       p.schedule,
       p.time_zone,
       p.enabled,
       retention.qualified_name(p.target) is null as target_missing,
       p.description,
       p.policy_id,
       p.category,
       s.schedule as effective_schedule,
       s.source as schedule_source,
       coalesce(p.notify_over_rows, 100000) as notify_over_rows,
       case when p.batch_size is null then coalesce(p.batch_target, interval '50 milliseconds') end as batch_target
  from retention.policies p
  cross join lateral retention.effective_retain(p) e
  cross join lateral retention.effective_schedule(p) s;
comment on view retention.effective_policies is
  'Each policy with its effective retention period and schedule and where each came from (retain: policy, schema, global or system default; schedule: policy, category or system default).';
