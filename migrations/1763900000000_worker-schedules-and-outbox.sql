-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1763900000000_worker-schedules-and-outbox') then
    raise exception 'migration 1763900000000_worker-schedules-and-outbox is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- What the scheduled worker needs from the database:
--  * policies.category picks a default schedule when a policy names none
--    (tokens/logs daily, accounts weekly, audit/metrics monthly), and
--    policies.notify_over_rows the size of a run that is announced as a large deletion;
--  * retention.notifications, the outbox the database fills (run failed, run refused by
--    its ceiling, large deletion, policy overdue) and the worker delivers to a webhook.
-- set_policy gains the two parameters, so its old signature is dropped here (a fresh
-- install has none yet: sql/ is applied after the migrations); its new
-- text is in sql/021_set_policy.sql.

alter table retention.policies
  add column category text
      check (category in ('tokens', 'logs', 'accounts', 'audit', 'metrics')),
  add column notify_over_rows bigint check (notify_over_rows > 0);

drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text,
                                   integer, bigint, interval, interval, text, text, boolean, text);

create table retention.notifications (
  notification_id  bigint generated always as identity primary key,
  kind             text not null
                   check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue')),
  policy_name      text,
  run_id           bigint references retention.runs (run_id) on delete set null,
  -- One notification per event even when several workers notice it (e.g. an overdue policy).
  dedupe_key       text unique,
  payload          jsonb not null,
  created_at       timestamptz not null default clock_timestamp(),
  status           text not null default 'pending'
                   check (status in ('pending', 'delivered', 'dead')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default clock_timestamp(),
  -- A delivery lease: the worker that claimed it, until when. Another worker only takes
  -- a notification over once the lease has run out.
  claimed_by       text,
  claimed_until    timestamptz,
  last_error       text,
  delivered_at     timestamptz,
  check ((status = 'delivered') = (delivered_at is not null))
);
create index notifications_due_idx on retention.notifications (next_attempt_at)
  where status = 'pending';

grant select on retention.notifications to retention_admin, retention_auditor, retention_runner;
-- Runs insert notifications through a trigger that executes as the running role.
grant insert, update on retention.notifications to retention_admin, retention_runner;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
