-- The plan of one batch of a policy, as a run would execute it now (EXPLAIN without
-- ANALYZE: nothing is executed, and no lock outlasts the call). For checking that batches
-- use an index.
create or replace function retention.explain_batch(
  p_policy text,
  p_as_of  timestamptz default now()
)
returns setof text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_pol  retention.policies := retention_internal._get_policy(p_policy);
  v_ret  record := retention.effective_retain(v_pol);
  v_line  text;
  v_lines text[] := '{}';
begin
  perform retention_internal._check_moment(p_as_of, 'p_as_of');
  perform retention_internal._check_can_read(v_pol.target);
  if v_pol.action = 'drop_partitions' then
    raise exception 'policy % drops whole partitions; it has no row batches to explain', p_policy
      using errcode = 'RT007', hint = format('SELECT * FROM retention.partitions(%L) shows what it would drop.', p_policy);
  end if;
  -- In a subtransaction rolled back once the plan is read: the locks planning takes (the
  -- table's planner lock, the delete's) do not last to the end of the caller's
  -- transaction (round atk130 F3). The plan settings go back with it.
  begin
    perform retention_internal._batch_plan_settings();
    for v_line in execute 'explain ' || retention_internal._batch_sql(v_pol)
      using retention_internal._policy_cutoff(v_pol, p_as_of, v_ret.retain), p_as_of, v_pol.name, v_pol.target::oid,
            '-infinity'::timestamptz, coalesce(v_pol.batch_size, 1000)::bigint, '{}'::tid[], null::tid
    loop
      v_lines := v_lines || v_line;
    end loop;
    raise exception using errcode = 'RTREL';
  exception when sqlstate 'RTREL' then
    null;
  end;
  return query select unnest(v_lines);
end
$$;
comment on function retention.explain_batch(text, timestamptz) is
  'EXPLAIN of one purge batch of a policy as a run would execute it (nothing executed, no lock kept after the call): shows whether batches walk the age-column index.';
