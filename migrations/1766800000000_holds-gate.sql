-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766800000000_holds-gate') then
    raise exception 'migration 1766800000000_holds-gate is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- The holds lock: every batch locks this table ACCESS SHARE for its transaction, a hold is
-- placed under ACCESS EXCLUSIVE, so a hold waits for the batches in flight and every later
-- batch reads it. It was an advisory lock, whose key any login can take: one that took it
-- shared kept every hold from being placed while runs went on deleting (round atk48). No
-- role but the owner may lock this table (it is in retention_internal, which no role may
-- use, and no role holds a privilege on it).
create table retention_internal.holds_gate ();
revoke all on retention_internal.holds_gate from public;
comment on table retention_internal.holds_gate is
  'Internal. No rows: its table lock is the holds lock (ACCESS SHARE by every batch for its transaction, ACCESS EXCLUSIVE to place a hold or write legal_holds directly).';

-- A table hold names its table by OID, which a rebuilt table (a copy, the old one dropped,
-- the copy renamed) does not keep: the hold then covered nothing, and the table under its
-- name lost it (round atk44). The name is kept too; a hold whose table is gone covers the
-- table under that name (retention_internal._open_holds).
alter table retention.legal_holds add column target_name text;
comment on column retention.legal_holds.target_name is 'A table hold: the table''s schema-qualified name when it was placed. Once that table is gone, the hold covers the table under this name.';
do $$ begin
  -- Recorded as written by a routine (this migration), not as a direct write.
  perform pg_catalog.set_config('retention.routine_write', pg_catalog.pg_current_xact_id()::text, true);
  update retention.legal_holds h
     set target_name = (select pg_catalog.format('%I.%I', n.nspname, c.relname)
                          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                         where c.oid = h.target)
   where h.scope = 'table' and h.target is not null;
end $$;

-- A failed object's key counts as cleared only once a claim handed it out after the grace
-- period: an offloader that deleted it earlier, within the grace, and said so later would
-- otherwise clear a key a writer cut off for a few minutes stored in between (round atk45).
alter table retention.archive_objects add column clear_handed_at timestamptz;
comment on column retention.archive_objects.clear_handed_at is 'A failed object: when a claim last handed its key out to be deleted after its grace period had passed; archive_cleared records it cleared only after that.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
