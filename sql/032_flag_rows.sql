-- The notice work of a live run of a policy with a notice period, in the run's set-up
-- transaction (holds lock shared, as a batch):
--  1. open flags whose row is gone, changed age (a login moved last_login_at) or is no
--     longer eligible are closed 'cancelled' with that reason;
--  2. rows eligible by age, deleted-at and predicate, not held, not exempted and not
--     flagged yet are flagged, oldest first, at most the policy's max_rows_per_run: their
--     notice runs out at clock_timestamp() + notice_period (the real clock, whatever the run's as_of or its transaction's start:
--     an earlier as_of must not make a notice look served already);
--  3. one rows_flagged notification per tenant (tenant_column's value; one for all rows
--     without it) lists the flagged rows by key with their last activity;
--  4. the run's ledger row counts both (runs.flagged, runs.flags_cancelled) and the audit
--     log records them (rows.flagged, counts per tenant).
-- Rows flagged now are acted on by a run at or after act_after (batches find them through
-- _policy_sql's notice condition and close their flags 'acted').
create or replace function retention_internal._flag_rows(
  p_pol     retention.policies,
  p_run_id  bigint,
  p_cutoff  timestamptz,
  p_as_of   timestamptz,
  out flagged   bigint,
  out cancelled bigint
)
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_base    retention.policies := p_pol;
  s         record;
  n         record := retention_internal._notice_sql(p_pol);
  v_tenants jsonb;
begin
  v_base.notice_period := null;  -- eligibility without the notice condition
  -- The holds lock first, then the table's (_policy_sql): the order every batch takes
  -- them in, so that place_hold or exempt_row, which take the holds lock alone, cannot
  -- deadlock with it.
  perform retention_internal._lock_holds_shared();
  s := retention_internal._policy_sql(v_base);

  execute format($q$
    with x as (
      select f.flag_id,
             case when r.found is null then 'the row is gone'
                  when r.age is distinct from f.last_activity_at then 'activity'
                  else 'no longer eligible' end as why
        from retention.flagged_rows f
        left join lateral (select true as found, %1$s as age, (%2$s) as ok
                             from only %3$s t where t.%4$I = f.row_key::%5$s) r on true
       where f.policy_id = %6$s and f.status = 'flagged'
         and not coalesce(r.ok and r.age is not distinct from f.last_activity_at, false)),
    closed as (
      update retention.flagged_rows f
         set status = 'cancelled', closed_at = pg_catalog.now(), close_run_id = $5, close_reason = x.why
        from x where f.flag_id = x.flag_id
      returning 1)
    select count(*) from closed$q$,
    retention_internal._age_at_sql(p_pol, s.age_expr), s.eligible, s.tbl, n.key_column, n.key_type, p_pol.policy_id)
    into cancelled
    using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_run_id;

  execute format($q$
    with new as (
      insert into retention.flagged_rows (policy_id, policy_name, row_key, tenant, last_activity_at,
                                          flagged_at, flag_run_id, act_after)
      select %1$s, $3, t.%2$I::text, %3$s, %13$s, pg_catalog.clock_timestamp(), $5, pg_catalog.clock_timestamp() + %5$L::interval
        from only %6$s t
       where %7$s and not (%8$s) and not %9$s
         and not exists (select from retention.flagged_rows f
                          where f.policy_id = %1$s and f.status = 'flagged' and f.row_key = t.%2$I::text)
       order by %4$s
       limit $6
      returning *),
    notes as (
      insert into retention.notifications (kind, policy_name, dedupe_key, payload)
      -- One key per tenant: no tenant and an empty one are two (round atk85 F4: the same
      -- key for both failed every run of the policy).
      select 'rows_flagged', $3, 'rows_flagged:' || $5 || case when tenant is null then ':' else ':t:' || tenant end,
             jsonb_build_object('kind', 'rows_flagged', 'policy', $3, 'table', %10$L,
                                'action', %11$L, 'tenant_column', %12$L, 'tenant', tenant,
                                'flagged_at', pg_catalog.clock_timestamp(), 'act_after', min(act_after),
                                'notice_period', %5$L, 'run_id', $5, 'count', count(*),
                                'rows', jsonb_agg(jsonb_build_object('key', row_key, 'last_activity_at', last_activity_at)
                                                  order by last_activity_at, row_key))
        from new group by tenant
      returning payload)
    select count(*), (select jsonb_object_agg(coalesce(payload->>'tenant', ''), payload->'count') from notes)
      from new$q$,
    p_pol.policy_id, n.key_column,
    case when p_pol.tenant_column is not null then format('t.%I::text', p_pol.tenant_column) else 'null::text' end,
    s.age_expr, p_pol.notice_period, s.tbl, s.eligible, s.held, n.exempted, s.tbl, p_pol.action,
    p_pol.tenant_column, retention_internal._age_at_sql(p_pol, s.age_expr))
    into flagged, v_tenants
    using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_run_id, p_pol.max_rows_per_run;

  update retention.runs set flagged = _flag_rows.flagged, flags_cancelled = _flag_rows.cancelled
   where run_id = p_run_id;
  if flagged > 0 or cancelled > 0 then
    perform retention_internal._append_audit('rows.flagged', 'policy', p_pol.name,
      jsonb_build_object('run_id', p_run_id, 'flagged', flagged, 'cancelled', cancelled,
                         -- How many tenants were told, not which: a tenant value may be one
                         -- person's (a sole trader), and the audit log is kept for good. The
                         -- rows_flagged notifications and flagged_rows say which.
                         'act_after', clock_timestamp() + p_pol.notice_period,
                         'tenants', (select count(*) from jsonb_object_keys(coalesce(v_tenants, '{}')))));
  end if;
  raise notice 'policy %: % row(s) flagged (action after %), % flag(s) cancelled',
    p_pol.name, flagged, clock_timestamp() + p_pol.notice_period, cancelled;
end
$$;
comment on function retention_internal._flag_rows(retention.policies, bigint, timestamptz, timestamptz) is
  'Internal. A notice policy''s run: cancels flags of rows no longer eligible (e.g. a login), flags newly eligible rows, queues one rows_flagged notification per tenant, counts both in the run.';
