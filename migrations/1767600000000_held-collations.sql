-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767600000000_held-collations') then
    raise exception 'migration 1767600000000_held-collations is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A subject hold placed while a column had a nondeterministic collation (ICU, case- or
-- accent-insensitive, a language's tailoring: Danish aa = å, German phonebook ue = ü,
-- numeric ordering) held every row equal to the held value under it. Made "C" since, the
-- column kept only what pg-retention's own loose comparison (_hold_skeleton) matches, and
-- a run deleted rows the hold had held (round atk102 F1). Such a column's collation is
-- copied into retention_internal (the application may drop its own) as holds are placed
-- and runs open under them, and its rows are compared under every copy recorded for it.
create table retention_internal.held_collations (
  rel       oid not null,
  attname   name not null,
  copy      name not null,
  source    text not null,
  noted_at  timestamptz not null default pg_catalog.clock_timestamp(),
  primary key (rel, attname, copy)
);
revoke all on retention_internal.held_collations from public;
comment on table retention_internal.held_collations is
  'Internal. Nondeterministic collations a column had while subject holds were open, as pg-retention''s own copies: subject holds compare the column''s values under each of them too.';
comment on column retention_internal.held_collations.rel is 'The table (its OID).';
comment on column retention_internal.held_collations.attname is 'The column.';
comment on column retention_internal.held_collations.copy is 'The copy of its collation, in retention_internal (named by the collation''s properties).';
comment on column retention_internal.held_collations.source is 'The application''s collation it copies, as named when noted.';
comment on column retention_internal.held_collations.noted_at is 'When it was first noted.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
