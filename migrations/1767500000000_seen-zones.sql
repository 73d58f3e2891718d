-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767500000000_seen-zones') then
    raise exception 'migration 1767500000000_seen-zones is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- The zones applications may write wall times in are read from the settings that stand
-- (every role's and database's TimeZone, the server's): a setting reset or removed
-- was no longer read, though rows written in its zone remained, and they went early by
-- up to the zone's offset (round atk98 F6). Every zone read is remembered here, at each
-- run and at the worker's periodic check, and read with them from then on (a zone only
-- ever makes rows go later). The owner deletes a row to forget a zone set by mistake.
create table retention_internal.seen_zones (
  zone       text primary key,
  first_seen timestamptz not null default pg_catalog.clock_timestamp(),
  last_seen  timestamptz not null default pg_catalog.clock_timestamp()
);
revoke all on retention_internal.seen_zones from public;
comment on table retention_internal.seen_zones is
  'Internal. Every zone an application was seen to be able to write wall times in (_written_zones), kept after its setting is gone: timestamp and date age columns of policies without their own timestamp_zone are read in these too.';
comment on column retention_internal.seen_zones.zone is 'The zone, as PostgreSQL spells it.';
comment on column retention_internal.seen_zones.first_seen is 'When it was first read from a setting.';
comment on column retention_internal.seen_zones.last_seen is 'When a setting last named it (updated at most hourly).';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
