-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766000000000_backup-pruning') then
    raise exception 'migration 1766000000000_backup-pruning is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- Backup pruning: a backup policy keeps the base backups of a store (a directory or an S3
-- prefix the worker knows by name) grandfather-father-son: every backup younger than
-- keep_daily, the last backup of each week younger than keep_weekly, of each month
-- younger than keep_monthly, always the newest keep_last, and any a 'backups' legal hold
-- freezes. The worker lists the store, the database decides (backup_plan), and each
-- deletion is in retention.backup_prunings and the audit log.
create table retention.backup_policies (
  name          text primary key check (name ~ '^[a-z][a-z0-9_.-]{0,62}$'),
  -- One policy per store: two would decide differently over the same backups.
  store         text not null unique check (store ~ '^[a-z][a-z0-9_-]{0,62}$'),
  keep_daily    interval not null default interval '30 days',
  keep_weekly   interval not null default interval '90 days',
  keep_monthly  interval,
  keep_last     integer not null default 1 check (keep_last between 1 and 1000),
  enabled       boolean not null default true,
  reason        text,
  updated_at    timestamptz not null default now(),
  updated_by    text not null
);
comment on table retention.backup_policies is 'Backup policies (set_backup_policy): how long the base backups of a store are kept, grandfather-father-son.';
comment on column retention.backup_policies.name is 'The policy''s name (lower-case letters, digits, _ . -).';
comment on column retention.backup_policies.store is 'The backup store''s name, as the worker''s PG_RETENTION_BACKUP_STORES names it (no path, URL or credentials here).';
comment on column retention.backup_policies.keep_daily is 'Every backup younger than this is kept (the dailies; default 30 days).';
comment on column retention.backup_policies.keep_weekly is 'The last backup of each week (Monday to Sunday, UTC) younger than this is kept (the weeklies; default 90 days).';
comment on column retention.backup_policies.keep_monthly is 'The last backup of each calendar month (UTC) younger than this is kept (the monthlies; NULL: none beyond the weeklies).';
comment on column retention.backup_policies.keep_last is 'The newest this many backups are always kept, however old (at least 1: never the newest).';
comment on column retention.backup_policies.enabled is 'Whether the worker prunes the store.';
comment on column retention.backup_policies.reason is 'Why these periods (free text, for the auditors).';
comment on column retention.backup_policies.updated_at is 'When it was last set.';
comment on column retention.backup_policies.updated_by is 'Who set it (the session''s login).';

create table retention.backup_prunings (
  pruning_id   bigint generated always as identity primary key,
  policy_name  text not null,
  store        text not null,
  backup_name  text not null,
  taken_at     timestamptz not null,
  bytes        bigint,
  files        integer,
  as_of        timestamptz not null,
  reason       text not null,
  status       text not null default 'deleting' check (status in ('deleting', 'deleted', 'failed', 'cancelled', 'interrupted')),
  error        text,
  started_at   timestamptz not null default now(),
  finished_at  timestamptz,
  pruned_by    text not null,
  check ((status = 'deleting') = (finished_at is null))
);
create index backup_prunings_policy_idx on retention.backup_prunings (policy_name, pruning_id);
comment on table retention.backup_prunings is 'The backup ledger: one row per backup a backup policy pruned (or tried to), written before the deletion starts and settled after it.';
comment on column retention.backup_prunings.pruning_id is 'Identifies the pruning.';
comment on column retention.backup_prunings.policy_name is 'The backup policy.';
comment on column retention.backup_prunings.store is 'The store''s name.';
comment on column retention.backup_prunings.backup_name is 'The backup (its directory or prefix in the store).';
comment on column retention.backup_prunings.taken_at is 'When the backup was taken (from its name or its backup_label).';
comment on column retention.backup_prunings.bytes is 'Its size as listed.';
comment on column retention.backup_prunings.files is 'Its files (objects) as listed.';
comment on column retention.backup_prunings.as_of is 'The time the decision was made for.';
comment on column retention.backup_prunings.reason is 'Why it went (which keep rule it fell out of).';
comment on column retention.backup_prunings.status is 'deleting (started), deleted, failed (the store refused; error), cancelled (a hold or a newer listing kept it before the deletion), interrupted (the pruner ended mid-way and the backup was still there).';
comment on column retention.backup_prunings.error is 'Why it failed or was cancelled.';
comment on column retention.backup_prunings.started_at is 'When the deletion was decided.';
comment on column retention.backup_prunings.finished_at is 'When it was settled.';
comment on column retention.backup_prunings.pruned_by is 'Who pruned (the actor: the worker or the login).';

-- A legal hold can freeze a backup store (every backup in it) or one backup of it; placed
-- by naming the store's backup policy, it holds the store, whichever policy prunes it later.
alter table retention.legal_holds
  add column backup_store text,
  add column backup_name text;
alter table retention.legal_holds drop constraint legal_holds_scope_check;
alter table retention.legal_holds add constraint legal_holds_scope_check
  check (scope in ('table', 'subject', 'policy', 'backups'));
alter table retention.legal_holds add constraint legal_holds_backups_check
  check ((scope = 'backups') = (backup_store is not null) and (backup_name is null or scope = 'backups'));
comment on column retention.legal_holds.backup_store is 'A backups hold: the backup store it freezes (the store of the backup policy named when placing it).';
comment on column retention.legal_holds.backup_name is 'A backups hold on one backup: its name (NULL: every backup of the store).';

-- Notifications: a backup could not be deleted.
alter table retention.notifications drop constraint notifications_kind_check;
alter table retention.notifications add constraint notifications_kind_check
  check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed',
                  'erasure_completed', 'erasure_overdue', 'rows_flagged', 'audit_checkpoint',
                  'approval_requested', 'archive_failed', 'object_deletion_failed', 'backup_prune_failed'));

-- Erasures reach partitioned tables: _subject_locations also returns the key's columns
-- (sql/ creates it again); a processing remembers the partitions there were when it began.
drop function if exists retention._subject_locations(regclass, text);
alter table retention.erasure_requests add column plan_leaves oid[];
comment on column retention.erasure_requests.plan_leaves is 'Every partition of the partitioned tables the current processing''s plan reaches, when it began: a partition attached since fails the request instead of completing it.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
