-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766100000000_compliance-reports') then
    raise exception 'migration 1766100000000_compliance-reports is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- The monthly compliance report (retention.compliance_report): what was deleted, scrubbed,
-- archived and held back, the erasure requests, the legal holds, the approvals, what went
-- wrong, and the audit chain's head. The worker stores each month's once, with the sha256
-- of its canonical text, and notifies report_ready.
create table retention.compliance_reports (
  report_id     bigint generated always as identity primary key,
  period_from   timestamptz not null,
  period_to     timestamptz not null,
  report        jsonb not null,
  sha256        text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  generated_at  timestamptz not null default now(),
  generated_by  text not null,
  db_user       text not null default session_user,
  storage_key   text,
  check (period_to > period_from),
  unique (period_from, period_to)
);
comment on table retention.compliance_reports is 'Stored compliance reports (store_compliance_report): one per period, with the sha256 of its text; the worker stores each month''s on the first of the next.';
comment on column retention.compliance_reports.report_id is 'The report''s id.';
comment on column retention.compliance_reports.period_from is 'Start of the period (inclusive).';
comment on column retention.compliance_reports.period_to is 'End of the period (exclusive).';
comment on column retention.compliance_reports.report is 'The report as compliance_report returned it (counts, ids and hashes; no personal data).';
comment on column retention.compliance_reports.sha256 is 'sha256 (hex) of report::text, the canonical jsonb text: recompute it to check the stored report.';
comment on column retention.compliance_reports.generated_at is 'When it was stored.';
comment on column retention.compliance_reports.generated_by is 'Who stored it (the actor: retention.actor, else the login).';
comment on column retention.compliance_reports.db_user is 'The login that stored it.';
comment on column retention.compliance_reports.storage_key is 'Where the worker also wrote it in its storage target: reports/<YYYY-MM>.json, beside the .html (NULL: in the database only).';

alter table retention.notifications drop constraint notifications_kind_check;
alter table retention.notifications add constraint notifications_kind_check
  check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed',
                  'erasure_completed', 'erasure_overdue', 'rows_flagged', 'audit_checkpoint',
                  'approval_requested', 'archive_failed', 'object_deletion_failed', 'backup_prune_failed',
                  'report_ready'));

-- _lock_reach returns the tables it locked (sql/ creates it again): a plain batch counts
-- the rows its foreign keys' cascade deletes there (run_batches.related_rows).
drop function if exists retention._lock_reach(retention.policies, boolean);
comment on column retention.run_batches.related_rows is 'Rows removed in other tables with the batch''s rows: a delete''s cascade (from migration 24 also in plain deletes, counted by the server), a scrub''s revoke tables.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
