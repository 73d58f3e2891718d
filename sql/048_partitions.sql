-- The partition-level preview of a drop_partitions policy: every partition of its table
-- with its bounds, and for those past the cutoff the rows (estimated from the statistics
-- or counted, as the policy's count says; estimated tells which), the rows under a legal
-- hold and what a run at p_as_of would do. Read-only.
create or replace function retention.partitions(
  p_policy text,
  p_as_of  timestamptz default now()
)
returns table (
  partition   text,
  lower_bound timestamptz,
  upper_bound timestamptz,
  rows        bigint,
  held_rows   bigint,
  action      text,
  estimated   boolean
)
language plpgsql
security definer
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_pol  retention.policies := retention_internal._get_policy(p_policy);
  v_rows jsonb;
begin
  perform retention_internal._check_can_read(v_pol.target);
  if v_pol.action <> 'drop_partitions' then
    raise exception 'policy % deletes rows (action %), it does not drop partitions', p_policy, v_pol.action
      using errcode = 'RT007', hint = format('SELECT * FROM retention.preview(%L) shows what it would delete.', p_policy);
  end if;
  -- In a subtransaction rolled back once the partitions are read: the planner locks the
  -- checks take (_check_planner_code) do not last to the end of the caller's transaction,
  -- which stopped runs and the application's DDL for as long as it stayed open (round
  -- atk130 F3).
  begin
    -- Counting reads the partitions as the owner: not where a run would refuse (RT013, RT025).
    perform retention_internal._check_foreign_code(v_pol);
    v_rows := (select coalesce(jsonb_agg(to_jsonb(y) order by y.n), '[]') from (
    select retention.qualified_name(x.part) as partition, x.lower_bound, x.upper_bound, x.rows, x.held_rows,
           case x.disposition
             when 'drop' then 'drop'
             when 'archive' then format('archive to %I', v_pol.archive_schema)
             when 'rows' then 'keep (legal hold): delete its unheld rows'
             when 'held' then 'keep: legal hold'
             when 'last' then 'keep: last partition'
             when 'foreign' then 'keep: a foreign table (its rows are on another server)'
             when 'pending' then 'keep: a table below it is being detached concurrently'
             when 'default' then 'keep: default partition'
             else 'keep: not past the cutoff' end as action,
           x.estimated, row_number() over () as n
      from retention_internal._partition_plan(v_pol, p_as_of,
             retention_internal._policy_cutoff(v_pol, p_as_of, (retention.effective_retain(v_pol)).retain)) x) y);
    raise exception using errcode = 'RTREL';
  exception when sqlstate 'RTREL' then
    null;
  end;
  return query
    select y.partition, y.lower_bound, y.upper_bound, y.rows, y.held_rows, y.action, y.estimated
      from jsonb_to_recordset(v_rows) as y(partition text, lower_bound timestamptz, upper_bound timestamptz,
                                           rows bigint, held_rows bigint, action text, estimated boolean);
end
$$;
comment on function retention.partitions(text, timestamptz) is
  'Read-only preview of a drop_partitions policy: each partition with its bounds, rows and held rows (for those past the cutoff) and what a run would do: drop, archive, keep (legal hold, last partition, a foreign table, a table below it being detached concurrently, default partition, not past the cutoff); estimated says whether rows is an estimate from the statistics (the policy''s count).';
