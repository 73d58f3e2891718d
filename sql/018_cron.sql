-- A schedule as the worker will read it: cron-parser (what pg-boss and the worker's
-- overdue check use) with five fields — minute, hour, day of month, month, day of week —
-- or one of the macros @yearly, @annually, @monthly, @weekly, @daily, @hourly. Returns
-- what is wrong, or NULL when the expression is good. Deliberately no wider than
-- cron-parser: numbers, names (JAN–DEC, SUN–SAT, any case), *, ?, ranges, steps, lists;
-- L (last day) in the day of month; nL (last weekday n) and n#k (k-th weekday n) in the
-- day of week. Refused as cron-parser refuses them: values out of range, reversed ranges,
-- a step of 0, a value listed twice (7 and 0 are both Sunday), # with a list or a range,
-- and a day of month that no month has (31 in February) when the day of week is free.
-- Refused although cron-parser takes them, because they mislead: a sixth field (seconds
-- first, so '0 2 * * * *' runs every hour at minute 2), an empty expression (every
-- minute), H, W. test/cron.test.ts holds both to the same corpus.
create or replace function retention_internal._cron_error(p_expr text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_fields text[];
  v_names  text[] := array['minute', 'hour', 'day of month', 'month', 'day of week'];
  v_lo     int[]  := array[0, 0, 1, 1, 0];
  v_hi     int[]  := array[59, 23, 31, 12, 7];
  v_sets   int[][];
  v_seen   int[];
  v_vals   int[];
  v_dom    int[] := '{}';
  v_mon    int[] := '{}';
  v_dom_l  boolean := false;
  v_dow_free boolean := false;
  i        int;
  v_item   text;
  v_base   text;
  v_step   int;
  v_a      int;
  v_b      int;
  v_tokens text[];
  m        text[];
begin
  if p_expr is null then
    return null;
  end if;
  -- cron-parser knows a macro only as exactly that text ('@daily ' is no macro to it).
  if p_expr in ('@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly') then
    return null;
  end if;
  if p_expr like '%@%' then
    return format('%s is not a macro: use @yearly, @annually, @monthly, @weekly, @daily or @hourly, exactly', p_expr);
  end if;
  -- Plain spaces between fields; no tabs, newlines or other characters.
  if p_expr ~ '[^0-9A-Za-z*/,?#L -]' then
    return 'only digits, names, * / , ? # L - and spaces may appear';
  end if;
  v_fields := regexp_split_to_array(btrim(p_expr), '\s+');
  if btrim(p_expr) = '' or cardinality(v_fields) <> 5 then
    return format('%s field(s), not five (minute hour day-of-month month day-of-week)',
                  case when btrim(p_expr) = '' then 0 else cardinality(v_fields) end);
  end if;
  for i in 1..5 loop
    v_seen := '{}';
    v_tokens := '{}';
    if v_fields[i] ~ ',' and v_fields[i] ~ '#' then
      return format('%s: # cannot be combined with a list', v_names[i]);
    end if;
    foreach v_item in array string_to_array(v_fields[i], ',') loop
      if v_item = '' then
        return format('%s: empty list item in %s', v_names[i], v_fields[i]);
      end if;
      -- Names as numbers.
      if i = 4 then
        v_item := upper(v_item);
        for v_a in 1..12 loop
          v_item := replace(v_item, (array['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC'])[v_a], v_a::text);
        end loop;
      elsif i = 5 then
        if v_item ~ 'l' then  -- no weekday name has an l: a lower-case L
          return format('%s: %s is not a value, range or step', v_names[i], v_fields[i]);
        end if;
        v_item := upper(v_item);
        for v_a in 0..6 loop
          v_item := replace(v_item, (array['SUN','MON','TUE','WED','THU','FRI','SAT'])[v_a + 1], v_a::text);
        end loop;
      end if;
      v_vals := null;
      if i = 3 and v_item = 'L' then
        v_dom_l := true;
        v_tokens := array_append(v_tokens, 'L');
        continue;
      end if;
      if i = 5 and v_item ~ '^[0-7]L$' then
        if v_item = any (v_tokens) then
          return format('%s: %s listed twice', v_names[i], v_item);
        end if;
        v_tokens := array_append(v_tokens, v_item);
        continue;
      end if;
      if i = 5 and v_item ~ '#' then
        m := regexp_match(v_item, '^([0-7])#([1-5])$');
        if m is null then
          return format('%s: %s is not n#k (weekday n, k-th in the month, 1-5)', v_names[i], v_fields[i]);
        end if;
        continue;
      end if;
      if (i in (3, 5) and v_item = '?') then
        v_item := '*';
      end if;
      m := regexp_match(v_item, '^(\*|\d{1,2}|\d{1,2}-\d{1,2})(?:/(\d{1,4}))?$');
      if m is null then
        return format('%s: %s is not a value, range or step', v_names[i], v_fields[i]);
      end if;
      v_base := m[1];
      v_step := coalesce(m[2]::int, 1);
      if v_step = 0 then
        return format('%s: a step of 0 in %s', v_names[i], v_fields[i]);
      end if;
      if v_base = '*' then
        v_a := v_lo[i];
        v_b := case when i = 5 then 6 else v_hi[i] end;
        if i = 5 and m[2] is null then
          v_dow_free := true;
        end if;
      elsif v_base ~ '-' then
        v_a := split_part(v_base, '-', 1)::int;
        v_b := split_part(v_base, '-', 2)::int;
        if v_a > v_b then
          return format('%s: range %s runs backwards', v_names[i], v_base);
        end if;
      else
        v_a := v_base::int;
        v_b := case when m[2] is null then v_a else v_hi[i] end;
      end if;
      if v_a < v_lo[i] or v_b > v_hi[i] then
        return format('%s: %s is outside %s-%s', v_names[i], v_fields[i], v_lo[i], v_hi[i]);
      end if;
      v_vals := array(select g from generate_series(v_a, v_b, v_step) g);
      if i = 5 and v_base !~ '-' then
        v_vals := array(select case when g = 7 then 0 else g end from unnest(v_vals) g);
      end if;
      if v_seen && (case when i = 5 then array(select case when g = 7 then 0 else g end from unnest(v_vals) g) else v_vals end) then
        return format('%s: a value listed twice in %s', v_names[i], v_fields[i]);
      end if;
      v_seen := v_seen || (case when i = 5 then array(select case when g = 7 then 0 else g end from unnest(v_vals) g) else v_vals end);
      if i = 3 then
        v_dom := v_dom || v_vals;
      elsif i = 4 then
        v_mon := v_mon || v_vals;
      end if;
    end loop;
  end loop;
  -- With the day of week free, some month must have one of the days of month.
  if v_dow_free and not v_dom_l and v_dom <> '{}'
     and not exists (select from unnest(v_dom) d cross join unnest(v_mon) mo
                      where d <= (array[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[mo]) then
    return format('day of month %s never occurs in month %s', v_fields[3], v_fields[4]);
  end if;
  return null;
end
$$;
comment on function retention_internal._cron_error(text) is
  'Internal. What is wrong with a schedule as the worker''s cron-parser reads it (five fields or @daily-style macros), or NULL when it is good.';

-- A time zone the worker can schedule in: one PostgreSQL knows, as an IANA name the
-- worker's Node.js (ICU) knows too. PostgreSQL also lists posix/… and right/… copies,
-- Factory, localtime and posixrules, which cron-parser cannot use.
-- Reading pg_timezone_names reads every zone file (~40 ms where the system's tzdata has
-- 1,800), so an Area/Location name is looked up by itself: PostgreSQL loads its file,
-- whose name it finds without case and reports in the file's own case, so the name is one
-- of the list exactly when it reads back unchanged ('europe/berlin' is not). Such a name
-- cannot be a POSIX rule (PostgreSQL's other reading), which needs a comma before a '/'.
create or replace function retention_internal._time_zone_ok(p_zone text)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_zone is null or p_zone ~ '^(posix|right)/' or p_zone in ('Factory', 'localtime', 'posixrules') then
    return false;
  end if;
  if p_zone = 'UTC' then
    return true;
  end if;
  if p_zone ~ '^[A-Z][A-Za-z_-]*(/[A-Za-z0-9_+-]+)+$' then
    begin
      perform pg_catalog.set_config('timezone', p_zone, true);
      return pg_catalog.current_setting('timezone') = p_zone;
    exception when invalid_parameter_value then
      return false;
    end;
  end if;
  return exists (select from pg_catalog.pg_timezone_names z where z.name = p_zone);
end
$$;
comment on function retention_internal._time_zone_ok(text) is
  'Internal. Whether a time zone is one both PostgreSQL and the worker (cron-parser, ICU) know.';
