-- Up Migration
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
drop table retention.trusted_schemas;
