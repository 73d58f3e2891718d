-- The SQL of a policy's notice period (policies.notice_period), over alias t like
-- _policy_sql: the row's key as text, whether it holds an open flag whose notice has run
-- out with its age unchanged ($2 is as_of), and whether an admin exempted it.
create or replace function retention_internal._notice_sql(
  p_policy retention.policies,
  out key_column name,
  out key_type text,
  out due text,
  out exempted text
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  select k.key_column, k.key_type into key_column, key_type from retention_internal._single_key(p_policy.target) k;
  if key_column is null then
    raise exception 'policy %: % has no single-column primary key', p_policy.name, p_policy.target
      using errcode = 'RT021', hint = 'A notice period remembers flagged rows by their key; add a primary key of one column.';
  end if;
  due := format(
    'exists (select from retention.flagged_rows f where f.policy_id = %s and f.status = ''flagged'''
    ' and f.row_key = t.%I::text and f.act_after <= $2'
    ' and f.last_activity_at is not distinct from %s)',
    p_policy.policy_id, key_column, retention_internal._age_at_sql(p_policy, format('t.%I', p_policy.age_column)));
  exempted := format(
    'exists (select from retention.row_exemptions e where e.policy_id = %s and e.row_key = t.%I::text'
    ' and e.revoked_at is null and (e.expires_at is null or e.expires_at > $2))',
    p_policy.policy_id, key_column);
end
$$;
comment on function retention_internal._notice_sql(retention.policies) is
  'Internal. A notice policy''s key column and type, its "flagged and notice run out" and "exempted" conditions over alias t ($2 as_of).';
