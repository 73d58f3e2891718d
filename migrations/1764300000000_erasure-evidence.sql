-- Up Migration
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
delete from retention.notifications where kind in ('erasure_completed', 'erasure_overdue');
alter table retention.notifications
  drop constraint notifications_kind_check,
  add constraint notifications_kind_check
      check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed'));
drop table retention.erasure_evidence;
