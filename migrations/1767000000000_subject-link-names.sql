-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767000000000_subject-link-names') then
    raise exception 'migration 1767000000000_subject-link-names is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A column recorded as naming a subject (subject_links: a foreign key's column into a
-- subject table, or the key of an erasure subject table) was known only by its number.
-- The application rebuilding it (a new column, the values copied, the old one dropped,
-- the new one renamed to the old name: an int -> bigint migration) left a record of a
-- dropped number, and holds stopped covering the rows (round atk62 F2). The name it had
-- is kept with it, and a column under that name counts too.
alter table retention_internal.subject_links add column attname name;
update retention_internal.subject_links l set attname = a.attname
  from pg_catalog.pg_attribute a
 where a.attrelid = l.rel and a.attnum = l.attnum and not a.attisdropped;
comment on column retention_internal.subject_links.attname is
  'The column''s name when it was recorded: a column under that name counts too (the one recorded rebuilt under its name).';
comment on table retention_internal.subject_links is
  'Internal. Columns that named a subject when a subject hold was placed, a run opened under one or an erasure request was filed: the columns of foreign keys referencing a subject column, and the key of erasure subject tables. Subject columns for holds from then on, the key dropped or changed or not.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
