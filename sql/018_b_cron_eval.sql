-- Schedules evaluated in the database, for psql (retention.policy_status's next run) and
-- for retention.run_due, which pg_cron can call instead of the worker. The same reading
-- as the worker's cron-parser (_cron_error's grammar): five fields or a macro; when both
-- the day of month and the day of week are restricted, a day matching either runs (as
-- cron does); L, nL and n#k as there. Times are wall-clock times in the policy's zone.

-- The values each field allows. dow_nth holds n*10+k for n#k; dow_last the n of nL.
create or replace function retention_internal._cron_sets(
  p_expr text,
  out minutes int[], out hours int[], out doms int[], out dom_last boolean, out dom_star boolean,
  out months int[], out dows int[], out dow_last int[], out dow_nth int[], out dow_star boolean)
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_expr   text := btrim(p_expr);
  v_fields text[];
  v_item   text;
  v_vals   int[];
  m        text[];
  v_a      int;
  v_b      int;
  v_hi     int[] := array[59, 23, 31, 12, 6];
  v_lo     int[] := array[0, 0, 1, 1, 0];
begin
  if retention_internal._cron_error(p_expr) is not null then
    raise exception 'not a schedule: %', retention_internal._cron_error(p_expr)
      using errcode = 'RT016', hint = 'Five fields (minute hour day-of-month month day-of-week) or @daily, @weekly, @monthly, @yearly, @hourly.';
  end if;
  v_expr := case v_expr when '@yearly' then '0 0 1 1 *' when '@annually' then '0 0 1 1 *' when '@monthly' then '0 0 1 * *'
                        when '@weekly' then '0 0 * * 0' when '@daily' then '0 0 * * *' when '@hourly' then '0 * * * *'
                        else v_expr end;
  v_fields := regexp_split_to_array(v_expr, '\s+');
  minutes := '{}'; hours := '{}'; doms := '{}'; months := '{}'; dows := '{}'; dow_last := '{}'; dow_nth := '{}';
  dom_last := false;
  dom_star := v_fields[3] in ('*', '?');
  dow_star := v_fields[5] in ('*', '?');
  for i in 1..5 loop
    foreach v_item in array string_to_array(upper(v_fields[i]), ',') loop
      if i = 4 then
        for v_a in 1..12 loop
          v_item := replace(v_item, (array['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC'])[v_a], v_a::text);
        end loop;
      elsif i = 5 then
        for v_a in 0..6 loop
          v_item := replace(v_item, (array['SUN','MON','TUE','WED','THU','FRI','SAT'])[v_a + 1], v_a::text);
        end loop;
      end if;
      if i = 3 and v_item = 'L' then
        dom_last := true;
        continue;
      end if;
      if i = 5 and v_item ~ '^[0-7]L$' then
        dow_last := dow_last || (left(v_item, 1)::int % 7);
        continue;
      end if;
      if i = 5 and v_item ~ '#' then
        m := regexp_match(v_item, '^([0-7])#([1-5])$');
        dow_nth := dow_nth || ((m[1]::int % 7) * 10 + m[2]::int);
        continue;
      end if;
      if v_item = '?' then
        v_item := '*';
      end if;
      m := regexp_match(v_item, '^(\*|\d{1,2}|\d{1,2}-\d{1,2})(?:/(\d{1,4}))?$');
      if m[1] = '*' then
        v_a := v_lo[i];
        v_b := v_hi[i];
      elsif m[1] ~ '-' then
        v_a := split_part(m[1], '-', 1)::int;
        v_b := split_part(m[1], '-', 2)::int;
      else
        v_a := m[1]::int;
        v_b := case when m[2] is null then v_a else v_hi[i] end;
      end if;
      v_vals := array(select case when i = 5 then g % 7 else g end from generate_series(v_a, v_b, coalesce(m[2]::int, 1)) g);
      case i
        when 1 then minutes := minutes || v_vals;
        when 2 then hours := hours || v_vals;
        when 3 then doms := doms || v_vals;
        when 4 then months := months || v_vals;
        else dows := dows || v_vals;
      end case;
    end loop;
  end loop;
end
$$;
comment on function retention_internal._cron_sets(text) is
  'Internal. The values each field of a schedule allows (macros expanded), for _cron_next and _cron_prev.';

-- Whether PostgreSQL reads the time zone (a name it does not know raises).
create or replace function retention_internal._zone_reads(p_tz text)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
begin
  perform now() at time zone p_tz;
  return true;
exception when invalid_parameter_value then
  return false;
end
$$;
comment on function retention_internal._zone_reads(text) is
  'Internal. Whether PostgreSQL knows the time zone (cheaply: without listing every zone).';

-- The schedule's first occurrence after p_after (p_forward) or its last one at or before
-- p_after, in the time zone p_tz; NULL if none within 28 years (a whole cycle of the
-- calendar: 1#5 in February comes that rarely). Occurrences are wall-clock times turned
-- into instants, and compared as instants (never as wall-clock times, which the changes of
-- summer time make ambiguous): a time the change to summer time skips runs at the instant
-- it becomes (02:30 -> 03:30), one the change back repeats runs once, at its first
-- instant.
create or replace function retention_internal._cron_step(p_expr text, p_tz text, p_after timestamptz, p_forward boolean)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  s       record;
  v_day   date;
  v_dom   boolean;
  v_wd    boolean;
  v_dnum  int;
  v_dow   int;
  v_best  timestamptz;
begin
  if p_expr is null or p_tz is null or p_after is null or not isfinite(p_after) then
    raise exception 'a schedule, a time zone and a finite time are needed'
      using errcode = 'RT016', hint = 'E.g. retention.next_occurrence(''0 2 * * *'', ''Europe/Berlin'', now()).';
  end if;
  -- An IANA Area/Location name PostgreSQL can read is taken at once (reading the list of
  -- zones takes milliseconds); anything else (UTC+5, a POSIX spelling PostgreSQL reads the
  -- other way round from the worker) must be in the list.
  if not ((p_tz = 'UTC' or (p_tz ~ '^[A-Z][A-Za-z_-]*(/[A-Za-z0-9_+-]+)+$' and p_tz !~ '^(posix|right)/'))
          and retention_internal._zone_reads(p_tz))
     and not retention_internal._time_zone_ok(p_tz) then
    raise exception 'time zone % is not one the worker knows', quote_literal(p_tz)
      using errcode = 'RT016', hint = 'Use an IANA name such as UTC or Europe/Berlin (SELECT name FROM pg_timezone_names).';
  end if;
  select * into s from retention_internal._cron_sets(p_expr);
  -- From the day before (in the zone) on, so that no occurrence near midnight is missed.
  v_day := (p_after at time zone p_tz)::date + case when p_forward then -1 else 1 end;
  if v_day < date '1900-01-02' or v_day > date '9999-01-01' then
    return null;
  end if;
  for n in 0 .. 366 * 28 loop
    -- The day: its month, and its day of month or day of week (either, when both are
    -- restricted, as cron does).
    v_dnum := extract(day from v_day)::int;
    v_dow := extract(dow from v_day)::int;
    v_dom := v_dnum = any (s.doms) or (s.dom_last and extract(month from v_day + 1) <> extract(month from v_day));
    v_wd := v_dow = any (s.dows)
            or (v_dow = any (s.dow_last) and extract(month from v_day + 7) <> extract(month from v_day))
            or (v_dow * 10 + ((v_dnum - 1) / 7 + 1)) = any (s.dow_nth);
    v_dom := case when s.dom_star and s.dow_star then true when s.dom_star then v_wd when s.dow_star then v_dom
                  else v_dom or v_wd end;
    if extract(month from v_day)::int = any (s.months) and v_dom then
      if ((v_day + 1)::timestamp at time zone p_tz) - (v_day::timestamp at time zone p_tz) = interval '24 hours' then
        -- No change of offset that day: each wall-clock time is one instant.
        select case when p_forward then min(i) else max(i) end into v_best
          from unnest(s.hours) h, unnest(s.minutes) mi,
               lateral (select (v_day + make_interval(hours => h, mins => mi)) at time zone p_tz as i) c
         where case when p_forward then c.i > p_after else c.i <= p_after end;
      else
        -- A change of offset: a wall-clock time the clocks skip runs at the instant it
        -- becomes (02:30 -> 03:30), one they repeat runs once, at its first instant.
        select case when p_forward then min(i) else max(i) end into v_best
          from unnest(s.hours) h, unnest(s.minutes) mi,
               lateral (select v_day + make_interval(hours => h, mins => mi) as w) w,
               lateral (select coalesce(
                          (select min((w.w at time zone p_tz) + o)
                             from unnest(array[interval '-1 hour', interval '-30 minutes', interval '0']) o
                            where (((w.w at time zone p_tz) + o) at time zone p_tz) = w.w),
                          w.w at time zone p_tz) as i) c
         where case when p_forward then c.i > p_after else c.i <= p_after end;
      end if;
      if v_best is not null then
        return v_best;
      end if;
    end if;
    v_day := v_day + case when p_forward then 1 else -1 end;
    if v_day < date '1900-01-02' or v_day > date '9999-01-01' then
      return null;
    end if;
  end loop;
  return null;
end
$$;
comment on function retention_internal._cron_step(text, text, timestamptz, boolean) is
  'Internal. A schedule''s next occurrence after a time, or its last one at or before it, in a time zone (a wall-clock time skipped by a change to summer time runs at the instant it becomes, a repeated one once, first); NULL if none within 28 years.';

-- The public face of the above, for psql and the views (SECURITY DEFINER: they compute
-- from their arguments only).
create or replace function retention.next_occurrence(p_schedule text, p_time_zone text default 'UTC',
                                                     p_after timestamptz default now())
returns timestamptz
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select retention_internal._check_moment(p_after, 'p_after');
  select retention_internal._cron_step(p_schedule, p_time_zone, p_after, true);
$$;
comment on function retention.next_occurrence(text, text, timestamptz) is
  'A schedule''s first occurrence after p_after (default now), in the time zone (default UTC), read as the worker reads it; NULL if none within 28 years. RT016 for a schedule or time zone that is not one; RT022 for a time that is not finite or lies within 1000 years of the ends of the timestamp range.';

create or replace function retention.last_occurrence(p_schedule text, p_time_zone text default 'UTC',
                                                     p_at timestamptz default now())
returns timestamptz
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  -- Refused as next_occurrence refuses it (atk97 F10i: NULL here, RT022 there).
  select retention_internal._check_moment(p_at, 'p_at');
  select retention_internal._cron_step(p_schedule, p_time_zone, p_at, false);
$$;
comment on function retention.last_occurrence(text, text, timestamptz) is
  'A schedule''s last occurrence at or before p_at (default now), in the time zone (default UTC), read as the worker reads it; NULL if none within 28 years. RT016 for a schedule or time zone that is not one; RT022 for a time that is not finite or lies within 1000 years of the ends of the timestamp range.';
