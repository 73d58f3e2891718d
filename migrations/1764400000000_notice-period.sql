-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764400000000_notice-period') then
    raise exception 'migration 1764400000000_notice-period is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Notice before acting (the inactive-accounts lifecycle): a row policy with a
-- notice_period first flags the rows it finds eligible (retention.flagged_rows), announces
-- them through the outbox (rows_flagged: one notification per tenant_column value,
-- listing its rows), and acts on a flagged row only once the notice period has passed and
-- the row is still eligible with the same age (a login moves last_login_at and cancels).
-- retention.row_exemptions lets an admin keep a row out for good or until a date.
-- runs.flagged / runs.flags_cancelled count a run's notice work next to its affected rows.
-- set_policy gains p_notice_period and p_tenant_column, so its old signature is dropped
-- here; its new text is in sql/021_set_policy.sql.

alter table retention.policies
  add column notice_period interval check (notice_period > interval '0'),
  add column tenant_column name,
  add constraint policies_notice_check
      check ((notice_period is null or action in ('delete', 'soft_delete', 'scrub'))
             and (tenant_column is null or notice_period is not null));

alter table retention.runs
  add column flagged bigint,
  add column flags_cancelled bigint;

create table retention.flagged_rows (
  flag_id           bigint generated always as identity primary key,
  policy_id         bigint references retention.policies (policy_id) on delete set null,
  policy_name       text not null,
  -- The row's single-column primary key, as text.
  row_key           text not null,
  tenant            text,
  -- The row's age (e.g. last_login_at) when it was flagged: acting needs it unchanged.
  last_activity_at  timestamptz,
  flagged_at        timestamptz not null,
  flag_run_id       bigint not null references retention.runs (run_id) on delete restrict,
  act_after         timestamptz not null,
  status            text not null default 'flagged'
                    check (status in ('flagged', 'cancelled', 'exempted', 'acted')),
  closed_at         timestamptz,
  close_run_id      bigint references retention.runs (run_id) on delete restrict,
  close_reason      text,
  check (act_after > flagged_at),
  check ((status = 'flagged') = (closed_at is null))
);
-- One open flag per row and policy; acting looks flags up by row.
create unique index flagged_rows_open_idx on retention.flagged_rows (policy_id, row_key)
  where status = 'flagged';
create index flagged_rows_policy_idx on retention.flagged_rows (policy_id, flagged_at);

create table retention.row_exemptions (
  exemption_id  bigint generated always as identity primary key,
  policy_id     bigint not null references retention.policies (policy_id) on delete cascade,
  row_key       text not null,
  reason        text not null check (length(btrim(reason)) > 0),
  exempted_by   text not null,
  exempted_at   timestamptz not null default now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  revoked_by    text,
  check (expires_at is null or expires_at > exempted_at),
  check ((revoked_at is null) = (revoked_by is null))
);
create unique index row_exemptions_open_idx on retention.row_exemptions (policy_id, row_key)
  where revoked_at is null;

alter table retention.notifications
  drop constraint notifications_kind_check,
  add constraint notifications_kind_check
      check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed',
                      'erasure_completed', 'erasure_overdue', 'rows_flagged'));

grant select on retention.flagged_rows, retention.row_exemptions
  to retention_admin, retention_auditor, retention_runner;
grant insert, update on retention.flagged_rows to retention_admin, retention_runner;
grant insert, update on retention.row_exemptions to retention_admin;

drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text,
                                   integer, bigint, interval, interval, text, text, boolean, text,
                                   text, bigint, text, jsonb, text, text[], bigint);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
