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

-- Whether a bounded setting (a pause, a lock timeout, a lease, a proposal's life) lies
-- between p_min and p_max on the calendar it is applied on: positive in every part
-- (_period_positive), so '1000 mon -30000 days 1 minute' (1 minute by PostgreSQL's 30-day
-- comparison, 437 days on the calendar) is not (round atk64 F4), and within p_max from
-- any day of the year (a month is 28 to 31 days). p_min is inclusive.
create or replace function retention_internal._interval_between(p interval, p_min interval, p_max interval)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(retention_internal._period_positive(p) and p >= p_min and p <= p_max
                  and (select bool_and(t + p <= t + p_max)
                         from unnest(array[pg_catalog.now(), '2000-01-31', '2000-02-29', '2001-02-28', '2000-04-30',
                                           '2000-07-31', '2000-12-31']::timestamptz[]) t), false)
$$;
comment on function retention_internal._interval_between(interval, interval, interval) is
  'Internal. True when an interval is positive in every part, at least p_min and at most p_max from any date (months of 28 to 31 days).';
