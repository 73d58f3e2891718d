-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767300000000_held-keys') then
    raise exception 'migration 1767300000000_held-keys is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A subject hold follows foreign keys up to the person's row: order_notes -> orders ->
-- users, mails.to_email -> users.email. Only the keys into a subject column were recorded
-- (subject_links); the others were read live, and the application dropping one (at any
-- time) ended the hold on the rows behind it (round atk76 F3). Every key the hold rule
-- may follow is recorded from now on, by OID and by name, whenever subject_links are.
create table retention_internal.held_keys (
  conrel       oid not null,
  conrel_name  text not null,
  fk           name[] not null,
  fk_num       smallint[] not null,
  confrel      oid not null,
  confrel_name text not null,
  ref          name[] not null,
  ref_num      smallint[] not null,
  noted_at     timestamptz not null default pg_catalog.clock_timestamp(),
  primary key (conrel, confrel, fk, ref)
);
revoke all on retention_internal.held_keys from public;
comment on table retention_internal.held_keys is
  'Internal. Foreign keys a subject hold could follow, recorded when a subject hold was placed, a run opened under one, a request was filed or (where the owner may) the application changed a table: the hold rule keeps following them once dropped.';
comment on column retention_internal.held_keys.conrel is 'The referencing table (its OID).';
comment on column retention_internal.held_keys.conrel_name is 'The referencing table''s qualified name when recorded (a table rebuilt under it is the same table for the hold).';
comment on column retention_internal.held_keys.fk is 'The referencing columns, by name, in key order.';
comment on column retention_internal.held_keys.fk_num is 'The referencing columns'' numbers (a column renamed after the key was dropped is still found).';
comment on column retention_internal.held_keys.ref_num is 'The referenced columns'' numbers.';
comment on column retention_internal.held_keys.confrel is 'The referenced table (its OID).';
comment on column retention_internal.held_keys.confrel_name is 'The referenced table''s qualified name when recorded.';
comment on column retention_internal.held_keys.ref is 'The referenced columns, by name, in key order.';
comment on column retention_internal.held_keys.noted_at is 'When it was first recorded.';

-- The records of key columns and of former parents were kept by OID alone: a table
-- rebuilt under its name (a copy, the old one dropped, the copy renamed) lost them, and
-- the held rows in it went (round atk76 F5). Their names are kept with them.
alter table retention_internal.subject_links add column rel_name text;
update retention_internal.subject_links l set rel_name = pg_catalog.format('%I.%I', n.nspname, c.relname)
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.oid = l.rel;
comment on column retention_internal.subject_links.rel_name is 'The table''s qualified name when recorded (a table rebuilt under it keeps the record).';
alter table retention_internal.past_parents add column rel_name text, add column parent_name text;
update retention_internal.past_parents p set rel_name = pg_catalog.format('%I.%I', n.nspname, c.relname)
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.oid = p.rel;
update retention_internal.past_parents p set parent_name = pg_catalog.format('%I.%I', n.nspname, c.relname)
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where c.oid = p.parent;
create index past_parents_rel_name on retention_internal.past_parents (rel_name);
comment on column retention_internal.past_parents.rel_name is 'The child''s qualified name when recorded (a table rebuilt under it keeps its former parents).';
comment on column retention_internal.past_parents.parent_name is 'The parent''s qualified name when recorded.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
