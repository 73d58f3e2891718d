-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765800000000_erasure-subject-columns') then
    raise exception 'migration 1765800000000_erasure-subject-columns is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- An erasure reaches tables that hold the person's key without a foreign key (logs): an
-- erasure rule can name the column of its table that holds the key of a subject table's
-- rows (set_erasure_rule's p_subject_column, p_subject_table).
alter table retention.erasure_rules
  add column subject_column name,
  add column subject_table regclass,
  add constraint erasure_rules_subject_column_check
      check ((subject_column is null) = (subject_table is null) and (subject_column is null or target is not null));
comment on column retention.erasure_rules.subject_column is 'The column of the rule''s table that holds the key of a subject_table row, for tables no foreign key leads to (NULL: reached through foreign keys and policies'' subject columns only).';
comment on column retention.erasure_rules.subject_table is 'The table whose rows subject_column names (an erasure of a row of it reaches this table through the column).';
drop function if exists retention.set_erasure_rule(text, text, jsonb, text);

-- The application's own reference for a request (an opaque ticket id), handed back in the
-- erasure_completed notification so that it can confirm to the person.
alter table retention.erasure_requests
  add column reference text check (reference is null or length(reference) between 1 and 200);
comment on column retention.erasure_requests.reference is 'The application''s own reference for the request (opaque, e.g. a ticket id; not personal data), given when filing and handed back in the erasure_completed notification. Kept after completion.';
drop function if exists retention.request_erasure(text, text, text, timestamptz);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
