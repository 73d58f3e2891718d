-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764300000000_erasure-evidence') then
    raise exception 'migration 1764300000000_erasure-evidence is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- What processing an erasure request did, per table of its plan, without personal data:
-- the table, the rule, the legal reason for kept rows and how many rows were deleted,
-- scrubbed or kept. The request itself keeps only the subject's sha256 once completed.
-- The outbox learns two kinds: erasure_completed (the confirmation to send the person)
-- and erasure_overdue.

create table retention.erasure_evidence (
  request_id  bigint not null references retention.erasure_requests (request_id) on delete restrict,
  step        integer not null,
  depth       integer not null,
  target      text not null,
  rule        text not null check (rule in ('delete', 'scrub', 'keep')),
  reason      text,
  rows        bigint not null,
  done_at     timestamptz not null default clock_timestamp(),
  primary key (request_id, step)
);
grant select on retention.erasure_evidence to retention_admin, retention_auditor, retention_runner;
grant insert on retention.erasure_evidence to retention_admin, retention_runner;

alter table retention.notifications
  drop constraint notifications_kind_check,
  add constraint notifications_kind_check
      check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed',
                      'erasure_completed', 'erasure_overdue'));

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
