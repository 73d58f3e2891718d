-- Procedures that commit cannot carry a SET clause, and every statement after a COMMIT
-- would otherwise resolve names (functions, operators) through the caller's search_path
-- and read timestamps in the caller's TimeZone. So the public procedures (run, run_all,
-- process_erasure) pin the session itself for their length: search_path pg_catalog,
-- pg_temp, TimeZone UTC, timezone_abbreviations Default, standard_conforming_strings on and default_transaction_isolation read committed (every batch
-- after the first commit must read holds committed while it waited for the holds lock:
-- a repeatable-read snapshot taken before would not see them), saving the caller's values in retention.caller_* settings and
-- putting them back when they finish or raise a known error (unpin_session). A run
-- cancelled mid-statement leaves the session pinned; reconnect or SET them again.
-- Neither routine may have a SET clause (it would undo what they set) nor use an
-- operator: every name in them is qualified.
create or replace function retention.pin_session()
returns void
language plpgsql
as $$
declare
  v_key pg_catalog.int4;
begin
  perform pg_catalog.set_config('retention.caller_search_path', pg_catalog.current_setting('search_path'), false);
  perform pg_catalog.set_config('retention.caller_timezone', pg_catalog.current_setting('TimeZone'), false);
  perform pg_catalog.set_config('retention.caller_isolation', pg_catalog.current_setting('default_transaction_isolation'), false);
  perform pg_catalog.set_config('retention.caller_scs', pg_catalog.current_setting('standard_conforming_strings'), false);
  perform pg_catalog.set_config('retention.caller_jit', pg_catalog.current_setting('jit'), false);
  perform pg_catalog.set_config('retention.caller_tz_abbreviations', pg_catalog.current_setting('timezone_abbreviations'), false);
  perform pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false);
  -- String literals read as the routines were written ('\w' is a regular expression's
  -- word class, not an escape), whatever the caller's setting.
  perform pg_catalog.set_config('standard_conforming_strings', 'on', false);
  -- A run's statements are short: JIT compiling them costs milliseconds on every batch.
  perform pg_catalog.set_config('jit', 'off', false);
  perform pg_catalog.set_config('TimeZone', 'UTC', false);
  -- Zone names in AT TIME ZONE read as PostgreSQL's Default abbreviations, not as a set
  -- the caller, its role or its database chose (round atk98 F1, _zones_as_read). Only
  -- set when it differs: setting it reads the set's file.
  if not pg_catalog.texteq(pg_catalog.current_setting('timezone_abbreviations'), 'Default') then
    perform pg_catalog.set_config('timezone_abbreviations', 'Default', false);
  end if;
  perform pg_catalog.set_config('default_transaction_isolation', 'read committed', false);
  -- A run or erasure starts here, so any run lock this session still holds is left from
  -- one that is over: a cancel landed while its procedure committed between two steps,
  -- where no handler could let go (docs/security.md). Released, whichever policy or
  -- request it was for: other sessions can run it again (the next run records the old one
  -- interrupted). A run stepped by hand in this session loses its lock too: its next step
  -- fails (55000).
  for v_key in
    select l.objid::pg_catalog.int4 from pg_catalog.pg_locks l
     where pg_catalog.texteq(l.locktype, 'advisory') and pg_catalog.int4eq(l.pid, pg_catalog.pg_backend_pid())
       and l.granted and pg_catalog.int2eq(l.objsubid, 2::pg_catalog.int2)
       and pg_catalog.oideq(l.classid, x'52540002'::pg_catalog.int4::pg_catalog.oid)
  loop
    -- Taken twice, it is held twice (one row in pg_locks however often it was taken).
    for i in 1 .. 16 loop
      exit when not exists (select from pg_catalog.pg_locks l
                             where pg_catalog.texteq(l.locktype, 'advisory') and pg_catalog.int4eq(l.pid, pg_catalog.pg_backend_pid())
                               and l.granted and pg_catalog.int2eq(l.objsubid, 2::pg_catalog.int2)
                               and pg_catalog.oideq(l.classid, x'52540002'::pg_catalog.int4::pg_catalog.oid)
                               and pg_catalog.int4eq(l.objid::pg_catalog.int4, v_key));
      perform pg_catalog.pg_advisory_unlock(x'52540002'::pg_catalog.int4, v_key);
    end loop;
  end loop;
end
$$;
comment on function retention.pin_session() is
  'Pins this session''s search_path (pg_catalog, pg_temp), TimeZone (UTC), timezone_abbreviations (Default), default isolation (read committed), standard_conforming_strings (on) and jit (off), saving the caller''s values, for a procedure that commits (run, run_all, run_due, process_erasure call it as they start), and releases any run lock the session still holds from a run that is over. unpin_session puts the settings back. Changes nothing but this session''s settings and locks.';

create or replace function retention.unpin_session()
returns void
language plpgsql
as $$
begin
  perform pg_catalog.set_config('search_path',
    coalesce(pg_catalog.current_setting('retention.caller_search_path', true), 'pg_catalog, pg_temp'), false);
  perform pg_catalog.set_config('TimeZone',
    coalesce(pg_catalog.current_setting('retention.caller_timezone', true), 'UTC'), false);
  perform pg_catalog.set_config('default_transaction_isolation',
    coalesce(pg_catalog.current_setting('retention.caller_isolation', true), 'read committed'), false);
  perform pg_catalog.set_config('standard_conforming_strings',
    coalesce(pg_catalog.current_setting('retention.caller_scs', true), 'on'), false);
  perform pg_catalog.set_config('jit', coalesce(pg_catalog.current_setting('retention.caller_jit', true), 'on'), false);
  if not pg_catalog.texteq(pg_catalog.current_setting('timezone_abbreviations'),
                           coalesce(pg_catalog.current_setting('retention.caller_tz_abbreviations', true), 'Default')) then
    perform pg_catalog.set_config('timezone_abbreviations',
      coalesce(pg_catalog.current_setting('retention.caller_tz_abbreviations', true), 'Default'), false);
  end if;
end
$$;
comment on function retention.unpin_session() is
  'Puts back the search_path, TimeZone, timezone_abbreviations, isolation, standard_conforming_strings and jit pin_session saved. Changes nothing but this session''s settings.';
