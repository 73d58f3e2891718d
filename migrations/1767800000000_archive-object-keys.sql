-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767800000000_archive-object-keys') then
    raise exception 'migration 1767800000000_archive-object-keys is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- An archived row is judged through the foreign keys by which it reaches a held person's
-- row. They were read from the table as it is at judging time, by column name: the
-- application that swapped the key column's name with another's (or renamed it and added
-- a column under its old name) before a hold had the object of a held person's rows pruned
-- (round atk122 F1). The keys each table had when the object was written are recorded in
-- its manifest, and archived rows are judged through them too.
alter table retention.archive_objects add column keys jsonb;
comment on column retention.archive_objects.keys is
  'Per table (by name), the foreign keys its rows had when the object was written: [{fk: columns, confrel: OID, confrel_name, ref: columns}]; archive holds follow them (archive_rows_held).';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
