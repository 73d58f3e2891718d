-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766600000000_timestamp-zone') then
    raise exception 'migration 1766600000000_timestamp-zone is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A timestamp (without time zone) or date age column holds wall-clock times: the zone
-- they are read in decides when a row's period ends. Until now they were read as UTC,
-- which deletes early the rows of an application writing local time west of UTC
-- (created_at timestamp default now() under ALTER DATABASE ... SET timezone). A policy
-- names the zone its application writes in (timestamp_zone), or leaves it NULL for the
-- installation's default (retention.settings), read together with UTC and the database's
-- TimeZone (the latest reading deciding).
alter table retention.policies add column timestamp_zone text;
comment on column retention.policies.timestamp_zone is 'The IANA time zone a timestamp (without time zone) or date age column, and such partition bounds, are read in: the zone the application writes them in. NULL: the installation''s default (retention.settings timestamp_zone) together with UTC and the database''s TimeZone, the latest reading deciding.';

-- Settings of the installation (one row per name), written through routines only.
create table retention.settings (
  name        text primary key check (name in ('timestamp_zone')),
  value       text not null,
  updated_at  timestamptz not null default now(),
  updated_by  text not null default session_user
);
comment on table retention.settings is 'Settings of the installation: timestamp_zone, the zone timestamp and date age columns of policies without their own timestamp_zone are read in (with UTC and the database''s TimeZone). Written by retention.set_default_timestamp_zone.';
comment on column retention.settings.name is 'The setting: timestamp_zone.';
comment on column retention.settings.value is 'Its value: for timestamp_zone an IANA time zone name.';
comment on column retention.settings.updated_at is 'When it was last set.';
comment on column retention.settings.updated_by is 'Who set it (the migration records the installing role).';
grant select on retention.settings to retention_admin, retention_runner, retention_auditor;

-- The default is the TimeZone of the session that installs or upgrades the schema: the
-- owner's (server, database and owner's role settings), never a later login's. A zone
-- PostgreSQL knows by an IANA name only; else UTC, as before.
insert into retention.settings (name, value)
select 'timestamp_zone',
       case when z in ('Etc/UTC', 'Etc/UCT', 'UCT', 'Etc/Universal', 'Universal', 'Etc/Zulu', 'Zulu')
                 or z !~ '^[A-Za-z]' or z ~ '^(posix|right)/' or z in ('Factory', 'localtime', 'posixrules')
                 or not exists (select from pg_catalog.pg_timezone_names n where n.name = z)
            then 'UTC' else z end
  from (select pg_catalog.current_setting('TimeZone') as z) s
on conflict (name) do nothing;

-- set_policy and alter_policy take the new setting; partition bounds are read in the
-- policy's zones (sql/ creates them again).
drop function if exists retention.alter_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text,
  boolean, interval, interval, interval, interval, text, text[]);
drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text,
  boolean, interval, interval, interval, interval, text);
drop function if exists retention_internal._partition_bounds(regclass, regtype);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
