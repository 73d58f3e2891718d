-- Whether a period is positive in every reading: PostgreSQL compares intervals with 30-day
-- months and 24-hour days, but a cutoff is computed on the calendar, where
-- '-100 years +36001 days' lies in the future. So each part (months, days, time) must be
-- zero or more, and the whole more than zero.
create or replace function retention_internal._period_positive(p_period interval)
returns boolean
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select p_period > interval '0'
     and extract(year from p_period) * 12 + extract(month from p_period) >= 0
     and extract(day from p_period) >= 0
     and p_period - make_interval(months => (extract(year from p_period) * 12 + extract(month from p_period))::int,
                                  days => extract(day from p_period)::int) >= interval '0'
$$;
comment on function retention_internal._period_positive(interval) is
  'Internal. True when an interval is positive in months, days and time alike (so now() - it lies in the past on any date).';
