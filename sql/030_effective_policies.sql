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
       retention._qualified_name(p.target) is null as target_missing,
       p.description,
       p.policy_id
  from retention.policies p
  cross join lateral retention._effective_retain(p) e;
comment on view retention.effective_policies is
  'Each policy with its effective retention period and its source (policy, schema, global or system default).';
