-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765200000000_audit-checkpoints') then
    raise exception 'migration 1765200000000_audit-checkpoints is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Signed checkpoints of the audit chain's head. The worker signs the head with an Ed25519
-- key kept outside the database and records the signature here (record_checkpoint checks
-- that the hash is the chain's), publishes it through the outbox and to a file; `pg-retention
-- audit verify --checkpoints` checks the chain against such checkpoints, so an owner who
-- rewrites a row and re-chains every hash after it is caught by the first checkpoint past it.
create table retention.audit_checkpoints (
  checkpoint_id bigint generated always as identity primary key,
  audit_id      bigint not null,
  row_hash      bytea not null,
  signed_at     timestamptz not null,
  key_id        text not null check (length(key_id) between 1 and 200),
  signature     bytea not null check (length(signature) = 64),
  recorded_at   timestamptz not null default now(),
  recorded_by   text not null default session_user
);
create index audit_checkpoints_audit_idx on retention.audit_checkpoints (audit_id);
comment on table retention.audit_checkpoints is 'Signed checkpoints of the audit chain''s head (Ed25519, key outside the database), recorded by record_checkpoint.';
grant select on retention.audit_checkpoints to retention_admin, retention_auditor, retention_runner;

alter table retention.notifications
  drop constraint notifications_kind_check,
  add constraint notifications_kind_check
      check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed',
                      'erasure_completed', 'erasure_overdue', 'rows_flagged', 'audit_checkpoint'));

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
