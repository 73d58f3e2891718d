-- The partitions of a drop_partitions policy's table (one level down), oldest first, with
-- their bounds and what the cutoff makes of them: expired when the upper bound is at or
-- before the cutoff (every row in it is then past the period). A timestamp or date key
-- is compared on its wall clock with the cutoff as the policy's eligibility reads it
-- (_local_cutoff: in the policy's zones), so a partition expires exactly when every row
-- it can hold would be eligible. The default partition never expires, and when every
-- other partition has expired the newest is kept, so the table always keeps one
-- partition for new rows.
create or replace function retention_internal._partitions_of(p_policy retention.policies, p_cutoff timestamptz)
returns table (part regclass, lower_bound timestamptz, upper_bound timestamptz,
               is_default boolean, expired boolean, keep_last boolean)
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with c as (
    select retention_internal._local_cutoff(p_policy, p_cutoff) as local_cutoff
  ), b as (
    select i.inhrelid::regclass as part, x.lower_bound, x.upper_bound, x.upper_local, x.is_default
      from pg_catalog.pg_inherits i
      cross join lateral retention_internal._partition_bounds(
        i.inhrelid::regclass, retention_internal._column_type(p_policy.target, p_policy.age_column),
        retention_internal._timestamp_zones(p_policy)) x
     where i.inhparent = p_policy.target
       and not i.inhdetachpending  -- being detached concurrently: neither in nor out yet
  ), r as (
    select b.*,
           not b.is_default
             and case when b.upper_local is not null then b.upper_local <= c.local_cutoff
                      else b.upper_bound <= p_cutoff end as expired,
           not b.is_default
             and b.upper_bound = max(b.upper_bound) filter (where not b.is_default) over () as newest
      from b, c
  )
  select r.part, r.lower_bound, r.upper_bound, r.is_default, r.expired,
         r.expired and r.newest
           and not exists (select from r r2 where not r2.is_default and not r2.expired) as keep_last
    from r
   order by r.is_default, r.upper_bound, r.part::oid
$$;
comment on function retention_internal._partitions_of(retention.policies, timestamptz) is
  'Internal. Partitions of a drop_partitions policy''s table with bounds, expired (upper bound <= cutoff; a timestamp or date key on its wall clock in the policy''s zones) and keep_last (the newest, kept when all have expired).';
