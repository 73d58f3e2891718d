-- Flagged rows of notice policies as of p_as_of (the injectable clock): open flags with
-- the days left before the action may touch them; with p_all also closed ones (acted,
-- cancelled with the reason, exempted). `pg-retention accounts inactive` prints this.
create or replace function retention.flags(
  p_policy  text default null,
  p_as_of   timestamptz default now(),
  p_all     boolean default false
)
returns table (
  policy            text,
  tenant            text,
  row_key           text,
  last_activity_at  timestamptz,
  flagged_at        timestamptz,
  act_after         timestamptz,
  days_left         integer,
  status            text,
  closed_at         timestamptz,
  close_reason      text,
  flag_run_id       bigint,
  close_run_id      bigint
)
language plpgsql
security definer
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- Finite (round atk133 F2: 'infinity' listed nothing, quietly).
  perform retention_internal._check_moment(p_as_of, 'p_as_of');
  if p_policy is not null then
    perform retention_internal._get_policy(p_policy);
  end if;
  return query
  select f.policy_name, f.tenant, f.row_key, f.last_activity_at, f.flagged_at, f.act_after,
         case when f.status = 'flagged' then greatest(0, ceil(extract(epoch from f.act_after - p_as_of) / 86400))::int end,
         f.status, f.closed_at, f.close_reason, f.flag_run_id, f.close_run_id
    from retention.flagged_rows f
   where (p_policy is null or f.policy_name = p_policy)
     and (p_all or f.status = 'flagged')
   order by f.policy_name, f.tenant nulls first, f.act_after, f.row_key;
end
$$;
comment on function retention.flags(text, timestamptz, boolean) is
  'Rows flagged by notice policies (e.g. inactive accounts) with the days left before the action, as of p_as_of; p_all adds closed flags (acted, cancelled, exempted).';
