-- The partitions of a drop_partitions policy's table (one level down), oldest first, with
-- their bounds and what the cutoff makes of them: expired when the upper bound is at or
-- before the cutoff (every row in it is then past the period). The default partition
-- never expires, and when every other partition has expired the newest is kept, so the
-- table always keeps one partition for new rows.
create or replace function retention_internal._partitions_of(p_policy retention.policies, p_cutoff timestamptz)
returns table (part regclass, lower_bound timestamptz, upper_bound timestamptz,
               is_default boolean, expired boolean, keep_last boolean)
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with b as (
    select i.inhrelid::regclass as part, x.lower_bound, x.upper_bound, x.is_default
      from pg_catalog.pg_inherits i
      cross join lateral retention_internal._partition_bounds(
        i.inhrelid::regclass, retention_internal._column_type(p_policy.target, p_policy.age_column)) x
     where i.inhparent = p_policy.target
       and not i.inhdetachpending  -- being detached concurrently: neither in nor out yet
  ), r as (
    select b.*,
           not b.is_default and b.upper_bound <= p_cutoff as expired,
           not b.is_default
             and b.upper_bound = max(b.upper_bound) filter (where not b.is_default) over () as newest
      from b
  )
  select r.part, r.lower_bound, r.upper_bound, r.is_default, r.expired,
         r.expired and r.newest
           and not exists (select from r r2 where not r2.is_default and not r2.expired) as keep_last
    from r
   order by r.is_default, r.upper_bound, r.part::oid
$$;
comment on function retention_internal._partitions_of(retention.policies, timestamptz) is
  'Internal. Partitions of a drop_partitions policy''s table with bounds, expired (upper bound <= cutoff) and keep_last (the newest, kept when all have expired).';
