-- Time is the database's, and a live run cannot be talked out of it. p_dry_run must say
-- true or false (NULL is refused rather than read as either). A live run acts on the real
-- clock: its p_as_of may lie in the past (the cutoff moves back, so it deletes less) but
-- not in the future, where it would delete rows before their period ends ('infinity'
-- included). Dry runs and previews may look anywhere in time.
create or replace function retention_internal._check_run_time(p_dry_run boolean, p_as_of timestamptz)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_dry_run is null then
    raise exception 'p_dry_run must be true or false, not NULL'
      using errcode = 'RT022',
            hint = 'Pass p_dry_run => true to see what a run would do, or leave it out (false) to run it.';
  end if;
  perform retention_internal._check_moment(p_as_of, 'p_as_of');
  if not p_dry_run and p_as_of is not null and p_as_of > pg_catalog.now() then
    raise exception 'a live run acts on the real clock: p_as_of % is in the future', p_as_of
      using errcode = 'RT022',
            hint = 'Look ahead with p_dry_run => true or retention.preview(p_as_of => ...); a live run takes no p_as_of (or a past one, which deletes less).';
  end if;
end
$$;
comment on function retention_internal._check_run_time(boolean, timestamptz) is
  'Internal. Refuses (RT022) p_dry_run NULL and a live run with a p_as_of in the future.';

-- A step's clock is its transaction's start (now()): what it stamps, the flags whose notice
-- it starts, the expiry it checks. A transaction opened long before the step would wind
-- that clock back (a runner that began one and waited stamped a soft delete or a notice
-- as older than it was, and carried out an approval after it expired: round atk47). Steps
-- and approvals refuse a transaction that began more than 10 seconds before they are
-- called; CALL retention.run, run_all, process_erasure and the worker start a transaction
-- for each step.
create or replace function retention_internal._check_fresh_clock()
returns void
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if pg_catalog.clock_timestamp() - pg_catalog.now() > interval '10 seconds' then
    raise exception 'this transaction began % ago: a step''s clock is its transaction''s start', date_trunc('second', pg_catalog.clock_timestamp() - pg_catalog.now())
      using errcode = 'RT022',
            hint = 'Call it in a transaction of its own (outside BEGIN ... COMMIT), as CALL retention.run and the worker do.';
  end if;
end
$$;
comment on function retention_internal._check_fresh_clock() is
  'Internal. Refuses (RT022) a step or approval in a transaction that began more than 10 seconds before it: its clock (now()) would be wound back.';
