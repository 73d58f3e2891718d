-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764200000000_erasure-requests') then
    raise exception 'migration 1764200000000_erasure-requests is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Erasure requests (GDPR Art. 17, CCPA deletion): a data subject named by a row of a
-- table, a due date, and a plan derived from the foreign-key graph around that table.
-- retention.erasure_rules says per table what an erasure does to the subject's rows
-- there: delete them, scrub columns, or keep them for a stated legal reason; the row with
-- no target is the default for tables no rule names.

create table retention.erasure_rules (
  rule_id        bigint generated always as identity primary key,
  target         regclass unique,
  rule           text not null check (rule in ('delete', 'scrub', 'keep')),
  scrub_columns  jsonb,
  reason         text,
  updated_at     timestamptz not null default now(),
  updated_by     text not null,
  check ((rule = 'scrub') = (scrub_columns is not null)),
  check (rule <> 'keep' or length(btrim(reason)) > 0)
);
-- One default rule at most (target NULL).
create unique index erasure_rules_default_idx on retention.erasure_rules ((target is null)) where target is null;

create table retention.erasure_requests (
  request_id     bigint generated always as identity primary key,
  subject_table  regclass not null,
  -- The subject's key while the request is open; replaced by NULL once it is done, when
  -- only subject_hash (sha256 of '<table>:<key>') is kept.
  subject_id     text,
  subject_hash   text not null,
  requested_by   text not null check (length(btrim(requested_by)) > 0),
  requested_at   timestamptz not null default now(),
  due_at         timestamptz not null,
  status         text not null default 'pending'
                 check (status in ('pending', 'in_progress', 'completed', 'blocked_by_hold', 'failed')),
  status_reason  text,
  completed_at   timestamptz,
  check (due_at > requested_at),
  check ((status = 'completed') = (completed_at is not null)),
  check (status <> 'completed' or subject_id is null)
);
create index erasure_requests_open_idx on retention.erasure_requests (due_at)
  where status in ('pending', 'in_progress', 'blocked_by_hold');

grant select on retention.erasure_rules, retention.erasure_requests
  to retention_admin, retention_auditor, retention_runner;
grant insert, update, delete on retention.erasure_rules to retention_admin;
grant insert, update on retention.erasure_requests to retention_admin, retention_runner;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
