-- Sets the installation's default zone for timestamp (without time zone) and date age
-- columns: policies without their own timestamp_zone read such columns (and such
-- partition bounds) in it, in UTC and in the database's TimeZone, a row going once it is
-- past its period in every reading.
-- The migration that introduced it recorded the installing owner's session TimeZone;
-- only this routine (the admin, audited) changes it, never a login's session.
create or replace function retention.set_default_timestamp_zone(p_zone text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_old text;
begin
  perform retention_internal._check_called_directly('set the default time zone');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  if not retention_internal._time_zone_ok(p_zone) then
    raise exception 'unknown time zone %', coalesce(quote_literal(p_zone), 'NULL')
      using errcode = 'RT016',
            hint = 'Name the zone applications write timestamp columns in, an IANA name such as America/Los_Angeles or UTC (SELECT name FROM pg_timezone_names, without the posix/ and right/ copies).';
  end if;
  select s.value into v_old from retention.settings s where s.name = 'timestamp_zone' for update;
  if v_old is not distinct from p_zone then
    raise notice 'default timestamp zone unchanged: %', p_zone;
    return;
  end if;
  insert into retention.settings as s (name, value, updated_by)
  values ('timestamp_zone', p_zone, retention_internal._actor())
  on conflict (name) do update set value = excluded.value, updated_at = now(), updated_by = excluded.updated_by;
  perform retention_internal._append_audit('default.timestamp_zone', 'default', 'timestamp_zone',
    jsonb_build_object('old', v_old, 'new', p_zone));
  raise notice 'timestamp and date age columns of policies without their own timestamp_zone are now read in %, UTC and the database''s TimeZone (the latest reading)', p_zone;
end
$$;
comment on function retention.set_default_timestamp_zone(text) is
  'Sets the installation''s default zone (IANA name; RT016 otherwise) for timestamp and date age columns and partition bounds of policies without their own timestamp_zone; they are read in it, UTC and the database''s TimeZone, the latest reading deciding. Audit-logged.';
