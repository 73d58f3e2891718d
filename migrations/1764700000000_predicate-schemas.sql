-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764700000000_predicate-schemas') then
    raise exception 'migration 1764700000000_predicate-schemas is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Predicates are parsed by PostgreSQL and may call built-in, non-volatile functions only
-- (sql/013_validate_predicate.sql); an admin may declare further schemas trusted for
-- predicate functions, operators and domains (retention.trust_schema), audit-logged.
-- _validate_predicate now returns the predicate's deparsed form (it returned void).
drop function if exists retention._validate_predicate(regclass, text);

create table retention.trusted_schemas (
  schema_name  name primary key,
  reason       text not null check (length(btrim(reason)) > 0),
  trusted_at   timestamptz not null default now(),
  trusted_by   text not null
);
comment on table retention.trusted_schemas is
  'Schemas whose functions, operators and domains policy predicates may use besides pg_catalog (retention.trust_schema).';
grant select on retention.trusted_schemas to retention_admin, retention_auditor, retention_runner;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
