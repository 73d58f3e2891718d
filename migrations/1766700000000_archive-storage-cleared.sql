-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766700000000_archive-storage-cleared') then
    raise exception 'migration 1766700000000_archive-storage-cleared is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- An object that failed (abandoned, or left writing by a session that ended) may still be
-- in storage: the offloader that learnt of it could die before deleting it, its delete
-- could fail, or a writer cut off from the database could still be storing it. Every claim
-- on its target hands its key out again until an offloader has deleted it and said so
-- (archive_cleared), no sooner than a grace period after it failed.
alter table retention.archive_objects add column failed_at timestamptz;
alter table retention.archive_objects add column storage_cleared_at timestamptz;
comment on column retention.archive_objects.failed_at is 'When the object was abandoned or found left writing by a session that ended (NULL for objects that failed before migration 30).';
comment on column retention.archive_objects.storage_cleared_at is 'A failed object: when an offloader deleted whatever was stored under its key (archive_cleared); NULL while something may be there, and every archive_claim on its target hands the key out to be deleted.';
create index archive_objects_uncleared on retention.archive_objects (target, object_id)
  where status = 'failed' and storage_cleared_at is null;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
