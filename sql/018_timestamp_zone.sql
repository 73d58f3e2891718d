-- The zone a policy's timestamp (without time zone) or date age column is read in, and
-- what the run's cutoff (a point in time) is on that column's wall clock. One definition
-- for every statement that decides eligibility: runs, preview, propose, partitions(),
-- policy_status's estimate, the notice flags, explain_batch and the partition drop checks.
--
-- The zones: the policy's timestamp_zone when it has one (the zone its application
-- writes in); else UTC, the installation's default (retention.settings, recorded from
-- the installing owner's session) and the zones its application may write in
-- (_written_zones: the database's TimeZone, the table owner's role setting, the server
-- configuration's, each as PostgreSQL spells it), a row going only once it is past its
-- period in every reading. An
-- application that writes local time and one that writes UTC (as many ORMs do) are then
-- never purged early; a zone that is not the writer's can only make rows go later (up to
-- its offset from the writer's) until the policy names its zone. Nothing here reads the
-- session's TimeZone: a login cannot move a cutoff.
-- A zone as PostgreSQL itself reads it (the TimeZone setting's own spelling: a name in
-- any case becomes America/Los_Angeles, an offset such as '-8' its POSIX form '<-08>+08',
-- whose sign AT TIME ZONE reads the same way), or NULL when PostgreSQL refuses it. Set in
-- a function of its own, whose SET clause puts the session's value back.
create or replace function retention_internal._zone_canonical(p_zone text)
returns text
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_zone is null or btrim(p_zone) = '' then
    return null;
  end if;
  perform pg_catalog.set_config('TimeZone', p_zone, true);
  -- UTC by another name is UTC (one zone list, one policy version, whatever the spelling).
  if pg_catalog.current_setting('TimeZone') in ('Etc/UTC', 'Etc/UCT', 'UCT', 'Universal', 'Zulu', 'Etc/Universal', 'Etc/Zulu',
                                                'GMT', 'Etc/GMT', 'GMT0', 'Etc/GMT0', 'Etc/GMT+0', 'Etc/GMT-0', 'GMT+0', 'GMT-0',
                                                'Greenwich', 'Etc/Greenwich') then
    return 'UTC';
  end if;
  return pg_catalog.current_setting('TimeZone');
exception when others then
  return null;
end
$$;
comment on function retention_internal._zone_canonical(text) is
  'Internal. A TimeZone value as PostgreSQL spells it once set (name case, POSIX form of an offset), or NULL when it is refused.';

-- The database's configured TimeZone (ALTER DATABASE ... SET timezone), as PostgreSQL
-- spells it; NULL when none.
create or replace function retention_internal._database_zone()
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select retention_internal._zone_canonical(pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1))
    from pg_catalog.pg_db_role_setting s cross join lateral pg_catalog.unnest(s.setconfig) c
   where s.setrole = 0
     and s.setdatabase = (select d.oid from pg_catalog.pg_database d where d.datname = pg_catalog.current_database())
     and pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) = 'timezone'
   limit 1
$$;
comment on function retention_internal._database_zone() is
  'Internal. The database''s configured TimeZone (ALTER DATABASE ... SET timezone; pg_db_role_setting for no role), as PostgreSQL spells it, else NULL. Never the session''s.';

-- The zones an application may write a table's wall times in, each as PostgreSQL spells it:
--   * every TimeZone a role or database setting names, in this database or in all
--     (ALTER DATABASE, ALTER ROLE, ALTER ROLE ALL, each IN DATABASE or not). Not only the
--     settings of the roles that may write the table: a login writes it through a view,
--     a SECURITY DEFINER function, a trigger or a rule of a role that may, with its own
--     session's zone, and privileges change after rows were written (round atk98 F2, F4);
--   * the server's: its configuration files (ALTER SYSTEM, postgresql.conf) and its
--     command line (`postgres -c timezone=…` or `-ctimezone=…`, as containers start it:
--     rounds atk95 F4, atk98 F3, read from postmaster.opts), where the owner may read them.
-- Each only ever makes rows go later (the latest reading decides, by at most the spread
-- of the zones' offsets), so none of them, whoever set it, can make a row go early.
-- Never the session's. p_rel is kept for callers; the answer no longer depends on it.
create or replace function retention_internal._written_zones(p_rel regclass)
returns text[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_zones text[];
  v_file  text;
  v_opts  text[];
begin
  select array_agg(distinct z) into v_zones
    from (select retention_internal._zone_canonical(substr(c, strpos(c, '=') + 1)) as z
            from pg_catalog.pg_db_role_setting s cross join lateral unnest(s.setconfig) c
           where lower(split_part(c, '=', 1)) = 'timezone'
             and s.setdatabase in (0, (select d.oid from pg_catalog.pg_database d where d.datname = current_database()))) x
   where z is not null;
  begin
    select f.setting into v_file from pg_catalog.pg_file_settings f
     where lower(f.name) = 'timezone' and f.applied order by f.seqno desc limit 1;
    v_file := retention_internal._zone_canonical(v_file);
    -- The server's command line overrides its files. postmaster.opts holds it, each
    -- argument in double quotes: "-c" "timezone=…", "-ctimezone=…" or "--timezone=…".
    v_opts := array(select retention_internal._zone_canonical(m[1])
                      from pg_catalog.regexp_matches(pg_catalog.pg_read_file('postmaster.opts'),
                                                     '"(?:--|-c)?timezone=([^"]*)"', 'gi') m);
  exception when others then
    -- The owner may not read the server's configuration files or its command line (not a
    -- superuser, round atk82 F3): the zone sessions start with stands in (the server's,
    -- unless a database or role setting, also taken above, or the login's own replaces
    -- it); check_setup says the owner cannot read them.
    v_opts := array(select retention_internal._zone_canonical(s.reset_val)
                      from pg_catalog.pg_settings s where s.name = 'TimeZone');
  end;
  return array(select distinct z from unnest(coalesce(v_zones, '{}') || v_file || coalesce(v_opts, '{}')) z
                where z is not null order by z);
end
$$;
comment on function retention_internal._written_zones(regclass) is
  'Internal. The zones an application may write a table''s wall times in: every TimeZone of a role or database setting (this database''s or all), the server configuration''s and command line''s, as PostgreSQL spells them (only ever making rows go later).';

-- Remembers the zones _written_zones reads now (retention_internal.seen_zones): a setting
-- reset or removed later no longer names its zone, though rows written in it remain
-- (round atk98 F6). Called as each run opens and at the worker's periodic check
-- (note_overdue_erasures); a zone's last_seen moves at most hourly.
create or replace function retention_internal._note_written_zones()
returns void
language sql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  insert into retention_internal.seen_zones as s (zone)
  select z from pg_catalog.unnest(retention_internal._written_zones(null)) z
  on conflict (zone) do update set last_seen = pg_catalog.clock_timestamp()
   where s.last_seen < pg_catalog.clock_timestamp() - interval '1 hour'
$$;
comment on function retention_internal._note_written_zones() is
  'Internal. Records the zones applications may write wall times in now (_written_zones) in retention_internal.seen_zones, where they stay after their setting is gone.';

-- Remembers the tables and columns stamping policies write (retention_internal.
-- stamped_marks): every table of the stamping policy's partition tree, with its mark
-- column, so the marks are read in UTC after the policy is gone or a table leaves the tree
-- (round atk132 F5). Called by set_policy and as each run opens.
create or replace function retention_internal._note_stamped_marks()
returns void
language sql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  insert into retention_internal.stamped_marks (rel, attname, attnum, rel_name)
  select distinct t.relid, x.col,
         (select a.attnum from pg_catalog.pg_attribute a where a.attrelid = t.relid and a.attname = x.col and not a.attisdropped),
         retention.qualified_name(t.relid::regclass)
    from (select p.target, case when p.action = 'soft_delete' then p.deleted_at_column else p.scrubbed_at_column end as col
            from retention.policies p
           where p.action in ('soft_delete', 'scrub') and exists (select from pg_catalog.pg_class c where c.oid = p.target)) x
   cross join lateral (select x.target::oid as relid
                       union select r.relid from pg_catalog.pg_partition_tree(pg_catalog.pg_partition_root(x.target)) r) t
   where x.col is not null and t.relid is not null
     and not exists (select from retention_internal.stamped_marks m where m.rel = t.relid and m.attname = x.col)
  on conflict do nothing
$$;
comment on function retention_internal._note_stamped_marks() is
  'Internal. Records every table of a soft_delete or scrub policy''s partition tree with its mark column in retention_internal.stamped_marks, for good.';

-- AT TIME ZONE reads a name as an abbreviation of the session's timezone_abbreviations
-- before it reads it as a zone: under the set 'Australia', 'EST' is +10, where the zone EST
-- that writers' sessions use is -5 (round atk98 F1). Runs, erasures and the runner's
-- connections pin the set 'Default' (pin_session, runner/db.ts), whose abbreviations
-- that are also zone names read the same or later (EST, MST, HST: the zones' offsets
-- since 1968; CET, EET, MET, WET: standard time, so summer rows go up to an hour late).
-- In a session with another set, the zones (but UTC) that are abbreviations there are
-- refused.
create or replace function retention_internal._zones_as_read(p_zones text[])
returns text[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_zone text;
begin
  if pg_catalog.current_setting('timezone_abbreviations') <> 'Default' then
    -- UTC is UTC in every set (_zone_canonical spells its aliases UTC).
    select z into v_zone from unnest(p_zones) z
     where z <> 'UTC' and exists (select from pg_catalog.pg_timezone_abbrevs a where upper(a.abbrev) = upper(z)) limit 1;
    if found then
      raise exception using errcode = '22023',
        message = format('RT022: this session''s timezone_abbreviations (%s) would read the time zone %s as an abbreviation, not as the zone its rows are written in',
                         pg_catalog.current_setting('timezone_abbreviations'), v_zone),
        hint = 'SET timezone_abbreviations = ''Default'' (pg-retention''s procedures and its runner do) and call again.';
    end if;
  end if;
  return p_zones;
end
$$;
comment on function retention_internal._zones_as_read(text[]) is
  'Internal. p_zones, refused (RT022) when the session''s timezone_abbreviations is not Default and would read one of them as an abbreviation in AT TIME ZONE.';

create or replace function retention_internal._timestamp_zones(p_policy retention.policies)
returns text[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select retention_internal._zones_as_read(case when p_policy.timestamp_zone is not null
              -- A mark pg-retention stamps (a soft delete's deleted-at, a scrub's
              -- scrubbed-at) is the latest wall time of UTC and the stamping policy's
              -- zones: read in another zone alone (Asia/Tokyo) it looks up to that zone's
              -- offset older than it is (round atk95 F6). Read in UTC too, it never does.
              then array(select distinct z
                           from pg_catalog.unnest(array[p_policy.timestamp_zone]
                                  || case when p_policy.action = 'purge_soft_deleted'
                                            or exists (select from retention.policies x
                                                        where (x.action = 'soft_delete' and x.deleted_at_column = p_policy.age_column
                                                               or x.action = 'scrub' and x.scrubbed_at_column = p_policy.age_column)
                                                          -- Anywhere in its partition tree: a stamped row moves
                                                          -- to a sibling when the application changes its
                                                          -- partition key (round atk98 F5).
                                                          and x.target in (select p_policy.target
                                                                           union all select t.relid from pg_catalog.pg_partition_tree(
                                                                                       pg_catalog.pg_partition_root(p_policy.target)) t))
                                            -- Or one did: the stamping policy dropped since, or this
                                            -- table detached from its tree (round atk132 F5).
                                            -- By OID and the column's name or number (renamed
                                            -- since), or by the table's name (rebuilt under it,
                                            -- the marks copied: round atk135 F6).
                                            or exists (select from retention_internal.stamped_marks m
                                                         join (select p_policy.target::oid as rel
                                                               union select t.relid from pg_catalog.pg_partition_tree(
                                                                               pg_catalog.pg_partition_root(p_policy.target)) t) r
                                                           on m.rel = r.rel
                                                             or m.rel_name = retention.qualified_name(r.rel::regclass)
                                                        where m.attname = p_policy.age_column
                                                           or (m.rel = r.rel and m.attnum = (select a.attnum from pg_catalog.pg_attribute a
                                                                                             where a.attrelid = r.rel and a.attname = p_policy.age_column
                                                                                               and not a.attisdropped)))
                                          then array['UTC'] else '{}'::text[] end) z
                          order by z)
              else array(select distinct z
                           from pg_catalog.unnest(array['UTC',
                                  coalesce((select s.value from retention.settings s where s.name = 'timestamp_zone'), 'UTC')]
                                  || retention_internal._written_zones(p_policy.target)
                                  -- And every zone read so before, its setting gone since.
                                  || array(select w.zone from retention_internal.seen_zones w)) z
                          order by z) end)
$$;
comment on function retention_internal._timestamp_zones(retention.policies) is
  'Internal. The zones a policy''s timestamp or date age column is read in: its timestamp_zone (with UTC where the column is a mark a soft delete or scrub stamps), else UTC, the installation''s default and the zones its application may write in (_written_zones, and those seen before: seen_zones; the latest reading wins).';

-- SQL for a cutoff (p_value, a timestamptz expression) on a wall clock in p_zones: the
-- latest wall time below which every value is past the cutoff in each zone. Around a
-- fall-back transition a wall time names two instants; least(c, (cutoff + N) in the zone
-- - N) keeps the repeated hours' rows until their second occurrence is past too, for a
-- transition back by up to N within N after the cutoff. N is 1, 3 and 25 hours: the
-- yearly hour, and the larger changes zones made (Asia/Magadan and Asia/Chita back 2
-- hours in 2014, Antarctica/Casey 3 hours, Kwajalein a day: round atk95 F5), since a
-- cutoff lies in the past. Each term only ever lowers the cutoff, and only near a
-- transition.
create or replace function retention_internal._local_cutoff_sql(p_zones text[], p_value text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select case when pg_catalog.cardinality(p_zones) = 1 then x.parts[1] else 'least(' || pg_catalog.array_to_string(x.parts, ', ') || ')' end
    from (select array(select pg_catalog.format(
                         'least((%1$s) at time zone %2$L, ((%1$s) + interval ''1 hour'') at time zone %2$L - interval ''1 hour'', '
                         '((%1$s) + interval ''3 hours'') at time zone %2$L - interval ''3 hours'', '
                         '((%1$s) + interval ''25 hours'') at time zone %2$L - interval ''25 hours'')',
                         p_value, z)
                         from pg_catalog.unnest(p_zones) with ordinality u(z, n) order by n) as parts) x
$$;
comment on function retention_internal._local_cutoff_sql(text[], text) is
  'Internal. SQL turning a timestamptz cutoff into the wall time (timestamp) below which values written in every one of the zones are past it, conservative around a fall-back (of up to 25 hours).';

-- The latest moment c such that every moment r before it has r + p_retain <= p_as_of, on
-- one calendar (a timestamp: the session's zone is UTC here, so a wall time is counted as
-- it reads). as_of - retain is not it: PostgreSQL subtracts the months, clamping at a
-- month's end, then the days, which does not undo adding them (2026-03-01 less '1 month 3
-- days' is 2026-01-29, yet 2026-01-28 12:00 plus it is 2026-03-03 12:00: round atk135 F1).
-- Nor is adding monotonic across days: a month added clamps the date but keeps the time,
-- so 10-30 23:30 plus '1 month 6 days' (12-06 23:30) ends after 10-31 00:33 plus it
-- (12-06 00:33; round atk138 F1). Within one day it is monotonic. So: step back a day at a
-- time until c + retain is not past as_of, forward by hours while it stays so; then every
-- day of the week before c whose last moment plus retain is past as_of moves c into that
-- day, again as far forward by hours as it goes.
create or replace function retention_internal._period_start(p_as_of timestamp, p_retain interval)
returns timestamp
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  v_cut timestamp := p_as_of - p_retain;
  v_top timestamp := v_cut;
  v_day timestamp;
begin
  for i in 1 .. 40 loop
    exit when v_cut + p_retain <= p_as_of;
    v_cut := v_cut - interval '1 day';
  end loop;
  if v_cut < v_top then
    for i in 1 .. 24 loop
      exit when v_cut + interval '1 hour' > v_top or (v_cut + interval '1 hour') + p_retain > p_as_of;
      v_cut := v_cut + interval '1 hour';
    end loop;
  end if;
  -- Earlier days whose late moments end their period after as_of (clamped onto the same
  -- date as c's): c goes into the latest of them.
  for k in 1 .. 10 loop
    select max(x.d) into v_day
      from pg_catalog.generate_series(1, 7) g(n)
     cross join lateral (select pg_catalog.date_trunc('day', v_cut) - g.n * interval '1 day' as d) x
     where (x.d + interval '1 day' - interval '1 microsecond') + p_retain > p_as_of;
    exit when v_day is null;
    v_cut := v_day;
    for i in 1 .. 40 loop
      exit when v_cut + p_retain <= p_as_of;
      v_cut := v_cut - interval '1 day';
    end loop;
    for i in 1 .. 23 loop
      exit when (v_cut + interval '1 hour') + p_retain > p_as_of
             or pg_catalog.date_trunc('day', v_cut + interval '1 hour') <> pg_catalog.date_trunc('day', v_cut);
      v_cut := v_cut + interval '1 hour';
    end loop;
  end loop;
  return v_cut;
end
$$;
comment on function retention_internal._period_start(timestamp, interval) is
  'Internal. The latest moment before which every moment''s period p_retain has ended by p_as_of, on one calendar (adding months clamps the date and keeps the time: not monotonic across days).';

-- A policy's cutoff at p_as_of: the period counted back on UTC's calendar and on the
-- calendar of every zone its age column is read or written in (_timestamp_zones),
-- whichever is earliest. A wall clock's month or day is not UTC's: counted in UTC, a Tokyo
-- row written 1 March 08:00 went under '1 month' on 29 March, and across a fall-back
-- '2 days' ended an hour early on the column's clock (round atk132 F3). A timestamptz
-- column too: it holds an instant, but the database's `created_at + interval '1 month'`
-- counts on the database's zone's calendar, and a row went 21 hours before it in a Tokyo
-- database (round atk153 F1). Each counted back so that adding the period to a row's age
-- never lands after p_as_of (_period_start). Zones are read as zones, not abbreviations.
create or replace function retention_internal._policy_cutoff(p_policy retention.policies, p_as_of timestamptz, p_retain interval)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set timezone_abbreviations = 'Default'
as $$
declare
  v_cut timestamptz := retention_internal._period_start(p_as_of at time zone 'UTC', p_retain) at time zone 'UTC';
  z     text;
begin
  -- Days and months only: hours are hours on any clock (a wall time's repeated hour is
  -- _local_cutoff_sql's to keep).
  if extract(year from p_retain) <> 0 or extract(month from p_retain) <> 0
     or extract(day from p_retain) <> 0 then
    foreach z in array retention_internal._timestamp_zones(p_policy) loop
      v_cut := least(v_cut, retention_internal._period_start(p_as_of at time zone z, p_retain) at time zone z);
    end loop;
  end if;
  return v_cut;
end
$$;
comment on function retention_internal._policy_cutoff(retention.policies, timestamptz, interval) is
  'Internal. The cutoff of a policy at a moment for a period: the latest moment whose period has ended by then on UTC''s calendar and, for a period with days or months, on that of each zone its age column is read or written in (_timestamp_zones, whatever the column''s type); the earliest.';

-- SQL for a policy's cutoff ($1-style expression p_value) in its age column's own type:
-- timestamptz as it is; timestamp and date as the wall time of _local_cutoff_sql (a date
-- is past when its whole day is: d < that wall time's date). Compared as `age < this`.
create or replace function retention_internal._cutoff_sql(p_policy retention.policies, p_value text)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_type regtype := retention_internal._column_type(p_policy.target, p_policy.age_column);
begin
  if v_type in ('timestamp'::regtype, 'date'::regtype) then
    return format('(%s)::%s', retention_internal._local_cutoff_sql(retention_internal._timestamp_zones(p_policy), p_value), v_type);
  end if;
  return format('(%s)::timestamptz', p_value);
end
$$;
comment on function retention_internal._cutoff_sql(retention.policies, text) is
  'Internal. SQL of a cutoff in the policy''s age column type: timestamp and date columns read in the policy''s zones (_timestamp_zones), conservatively.';

-- The cutoff on the age column's wall clock as a value (timestamp; a date column's at
-- midnight), NULL for a timestamptz column: what partition bounds are compared with.
create or replace function retention_internal._local_cutoff(p_policy retention.policies, p_cutoff timestamptz)
returns timestamp
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_type regtype := retention_internal._column_type(p_policy.target, p_policy.age_column);
  v      timestamp;
begin
  if not coalesce(v_type in ('timestamp'::regtype, 'date'::regtype), false) then
    return null;
  end if;
  execute 'select (' || retention_internal._cutoff_sql(p_policy, '$1') || ')::timestamp' into v using p_cutoff;
  return v;
end
$$;
comment on function retention_internal._local_cutoff(retention.policies, timestamptz) is
  'Internal. A cutoff on a timestamp or date age column''s wall clock (_cutoff_sql), NULL for timestamptz.';

-- SQL reading a value of a policy's age column (p_expr) as a point in time: timestamptz
-- as it is; a timestamp or date as its wall time in the policy's zones, the latest
-- reading (a repeated hour's wall time as its second occurrence). For what is shown and
-- remembered (oldest rows, a flagged row's last activity), never to decide eligibility.
create or replace function retention_internal._age_at_sql(p_policy retention.policies, p_expr text)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_type regtype := retention_internal._column_type(p_policy.target, p_policy.age_column);
  v_zones text[] := retention_internal._timestamp_zones(p_policy);
begin
  if not coalesce(v_type in ('timestamp'::regtype, 'date'::regtype), false) then
    return format('(%s)::timestamptz', p_expr);
  end if;
  return case when cardinality(v_zones) > 1 then 'greatest(' else '(' end
         || (select string_agg(format('(%s)::timestamp at time zone %L', p_expr, z), ', ' order by n)
               from unnest(v_zones) with ordinality u(z, n)) || ')';
end
$$;
comment on function retention_internal._age_at_sql(retention.policies, text) is
  'Internal. SQL of an age column value as timestamptz: timestamp and date read in the policy''s zones (the latest reading).';

-- SQL of the mark a run writes into a policy's column p_column (soft_delete's deleted-at,
-- scrub's scrubbed-at): the real time; in a timestamp or date column the latest wall
-- time of UTC and the policy's zones, so that a policy reading the column in any of them
-- (a purge of soft-deleted rows in the default's zones, or in the zone this policy
-- names) finds the mark no older than it is.
create or replace function retention_internal._stamp_sql(p_policy retention.policies, p_column name)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_type regtype := retention_internal._column_type(p_policy.target, p_column);
begin
  if not coalesce(v_type in ('timestamp'::regtype, 'date'::regtype), false) then
    return format('pg_catalog.clock_timestamp()::%s', format_type(v_type, null));
  end if;
  return format('(greatest(%s))::%s',
                (select string_agg(format('pg_catalog.clock_timestamp() at time zone %L', z), ', ' order by z)
                   from (select distinct z from unnest(array['UTC'] || retention_internal._timestamp_zones(p_policy)) z) u),
                v_type);
end
$$;
comment on function retention_internal._stamp_sql(retention.policies, name) is
  'Internal. SQL of the time a run stamps into a policy''s column: in a timestamp or date column the latest wall time of UTC and the policy''s zones.';
