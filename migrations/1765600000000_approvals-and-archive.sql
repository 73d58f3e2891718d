-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765600000000_approvals-and-archive') then
    raise exception 'migration 1765600000000_approvals-and-archive is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- retention_approver: the second pair of eyes. Approves or rejects the proposals of
-- approval-gated policies (never one its own login proposed) and reads them; nothing
-- else. Not granted to retention_admin: a DBA grants it to people.
do $$
begin
  if not exists (select from pg_roles where rolname = 'retention_approver') then
    create role retention_approver nologin;
  end if;
end
$$;
grant usage on schema retention to retention_approver;

-- retention_archiver: moves archived rows (personal data) into objects in cold storage and
-- prunes expired objects. Trusted with the archive's contents and completeness, as a
-- backup operator is; the worker's login needs it only where policies archive.
do $$
begin
  if not exists (select from pg_roles where rolname = 'retention_archiver') then
    create role retention_archiver nologin;
  end if;
end
$$;
grant usage on schema retention to retention_archiver;

-- Policy settings: approval ('required': nothing is removed without an approved
-- proposal), archive (every removed row copied to retention.archived_rows in the batch's
-- transaction; NULL: on when approval is required) and archive_retain (how long archive
-- objects are kept; NULL: until removed by hand).
alter table retention.policies
  add column approval text not null default 'none' check (approval in ('none', 'required')),
  add column archive boolean,
  add column archive_retain interval check (archive_retain > interval '0');
alter table retention.policies add constraint policies_archive_check
  check ((archive is not true or action in ('delete', 'purge_soft_deleted', 'drop_partitions'))
         and (archive_retain is null or archive is not false));
comment on column retention.policies.approval is '''required'': a live run removes or changes only the rows of an approved proposal (retention.propose, approve_proposal); ''none'' (default): runs act on their own.';
comment on column retention.policies.archive is 'Every row a run removes (and every row its cascade removes) is copied to retention.archived_rows in the same transaction; NULL means on when approval is required.';
comment on column retention.policies.archive_retain is 'How long archive objects of this policy are kept in cold storage (NULL: until removed by hand); objects with held rows are kept longer.';

-- A proposal: a frozen dry run of an approval-gated policy, waiting for a second person.
create table retention.proposals (
  proposal_id      bigint generated always as identity primary key,
  policy_id        bigint references retention.policies (policy_id) on delete set null,
  policy_name      text not null,
  policy_version   text not null,
  action           text not null,
  cutoff           timestamptz not null,
  rows             bigint not null,
  held_back        bigint not null,
  cascade          jsonb not null default '[]',
  max_drift        numeric not null check (max_drift >= 0 and max_drift <= 1),
  status           text not null default 'pending'
                   check (status in ('pending', 'approved', 'rejected', 'expired', 'executed', 'stale', 'superseded')),
  note             text,
  proposed_at      timestamptz not null default clock_timestamp(),
  proposed_by      text not null,
  proposed_login   text not null,
  expires_at       timestamptz not null,
  decided_at       timestamptz,
  decided_by       text,
  decided_login    text,
  decision_comment text,
  run_id           bigint,
  executed_rows    bigint,
  skipped_held     bigint,
  skipped_gone     bigint,
  closed_at        timestamptz,
  closed_reason    text,
  check (expires_at > proposed_at)
);
create index proposals_policy_idx on retention.proposals (policy_name, status);
comment on table retention.proposals is
  'Frozen dry runs of approval-gated policies: the exact rows (proposal_rows), the cutoff, the policy''s version, who proposed and who approved or rejected; a live run removes only rows of an approved one. Written by retention.propose, approve_proposal, reject_proposal and the runs that execute them.';
comment on column retention.proposals.policy_version is 'sha256 of the policy''s settings when proposed, with its effective period and the foreign keys its delete sets off: execution stops if any of it changed.';
comment on column retention.proposals.cascade is 'Rows each foreign-key cascade would remove or change, per table: [{table, action, rows, depth}].';
comment on column retention.proposals.max_drift is 'Share of the proposal''s rows that may leave the eligible set (changed, gone) before execution stops and asks for a new proposal.';
comment on column retention.proposals.proposed_login is 'The login (session_user) that proposed: four eyes compare logins, which a session cannot set, as well as actors.';

create table retention.proposal_rows (
  proposal_id bigint not null references retention.proposals (proposal_id) on delete cascade,
  rel         oid not null,
  row_key     jsonb not null,
  row_hash    text not null,
  primary key (proposal_id, rel, row_key)
);
comment on table retention.proposal_rows is
  'The rows of a proposal by table and primary key (else ctid), with an md5 of the row as it was — the policy''s table''s rows and every row its delete would remove or change through foreign keys: a row that changed since, or gained a cascaded row the proposal does not hold, is skipped.';

-- Archive: rows removed by archiving policies, until the worker moves them to an object in
-- cold storage (archive_objects) and has read it back verified.
create table retention.archive_objects (
  object_id     bigint generated always as identity primary key,
  object_key    text not null unique,
  target        text not null,
  status        text not null default 'writing' check (status in ('writing', 'verified', 'failed', 'deleted')),
  sha256        text,
  bytes         bigint,
  rows          bigint,
  tables        jsonb,
  key_id        text,
  wrapped_key   text,
  policies      text[],
  runs          bigint[],
  first_archived_at timestamptz,
  last_archived_at  timestamptz,
  expires_at    timestamptz,
  created_at    timestamptz not null default clock_timestamp(),
  created_by    text not null,
  verified_at   timestamptz,
  deleted_at    timestamptz,
  error         text,
  claimed_pid   integer,
  rels          oid[],
  subject_columns jsonb
);
comment on column retention.archive_objects.rels is 'The tables whose rows the object holds, by oid (a hold on one, renamed since, still keeps the object).';
comment on column retention.archive_objects.subject_columns is 'Per table, the subject columns when the object was written: a subject hold keeps an object holding that subject''s rows even after the policy naming the column is gone.';
comment on table retention.archive_objects is
  'The manifest of archive objects in cold storage: key, storage target, sha256 of the stored bytes, rows per table, the key id and wrapped data key, the runs and policies whose rows it holds, when it expires.';

create table retention.archived_rows (
  archive_id  bigint generated always as identity primary key,
  run_id      bigint not null,
  batch_no    integer not null,
  policy_name text not null,
  rel         oid not null,
  rel_name    text not null,
  depth       integer not null default 0,
  row_data    jsonb not null,
  archived_at timestamptz not null default clock_timestamp(),
  object_id   bigint references retention.archive_objects (object_id)
);
create index archived_rows_object_idx on retention.archived_rows (object_id, archive_id);
comment on table retention.archived_rows is
  'Rows an archiving run removed (depth 0: the policy''s table; 1+: removed by ON DELETE CASCADE), copied in the transaction that removed them, until the worker moves them into a verified archive object. Personal data: readable by the owner and retention_admin only.';

-- Every column said.
comment on column retention.proposals.proposal_id is 'The proposals number (approve_proposal, pg-retention approvals).';
comment on column retention.proposals.policy_id is 'The policy it is for; NULL once that policy was dropped.';
comment on column retention.proposals.policy_name is 'The policy''s name when proposed.';
comment on column retention.proposals.action is 'The policy''s action when proposed.';
comment on column retention.proposals.cutoff is 'Rows older than this were proposed (the real clock when proposed, minus the period).';
comment on column retention.proposals.rows is 'Rows of the policy''s table in the proposal (eligible and unheld when proposed).';
comment on column retention.proposals.held_back is 'Eligible rows a legal hold kept out of the proposal.';
comment on column retention.proposals.status is 'pending, approved, rejected, expired, executed, stale (policy changed, drifted or dropped), superseded (a newer proposal).';
comment on column retention.proposals.note is 'The proposer''s note.';
comment on column retention.proposals.proposed_at is 'When it was proposed.';
comment on column retention.proposals.proposed_by is 'Who proposed (actor).';
comment on column retention.proposals.expires_at is 'After this it can be neither approved nor executed.';
comment on column retention.proposals.decided_at is 'When it was approved or rejected.';
comment on column retention.proposals.decided_by is 'Who approved or rejected it (actor).';
comment on column retention.proposals.decided_login is 'The login that approved or rejected it.';
comment on column retention.proposals.decision_comment is 'The approver''s comment.';
comment on column retention.proposals.run_id is 'The last run that executed it.';
comment on column retention.proposals.executed_rows is 'Rows its runs removed or changed.';
comment on column retention.proposals.skipped_held is 'Rows of it a legal hold kept at execution.';
comment on column retention.proposals.skipped_gone is 'Rows of it that changed or left the eligible set before execution.';
comment on column retention.proposals.closed_at is 'When it stopped being open (executed, rejected, expired, stale, superseded).';
comment on column retention.proposals.closed_reason is 'Why it closed.';
comment on column retention.proposal_rows.proposal_id is 'The proposal.';
comment on column retention.proposal_rows.rel is 'The table (oid): the policy''s, or one its delete reaches through foreign keys.';
comment on column retention.proposal_rows.row_key is 'The row''s primary key as JSON (its ctid when the table has none).';
comment on column retention.proposal_rows.row_hash is 'md5 of the whole row''s text when proposed (under pinned output settings).';
comment on column retention.archive_objects.object_id is 'The objects number.';
comment on column retention.archive_objects.object_key is 'Its key in the storage target.';
comment on column retention.archive_objects.target is 'The storage target (file://… or s3://bucket/prefix; no credentials).';
comment on column retention.archive_objects.status is 'writing (claimed by a session), verified (written, read back, checked), failed, deleted (pruned).';
comment on column retention.archive_objects.sha256 is 'sha256 of the stored (sealed) bytes.';
comment on column retention.archive_objects.bytes is 'Size of the stored object.';
comment on column retention.archive_objects.rows is 'Rows in the object.';
comment on column retention.archive_objects.tables is 'Rows per table, by name.';
comment on column retention.archive_objects.key_id is 'The id of the key-encryption key that wraps its data key.';
comment on column retention.archive_objects.wrapped_key is 'Its data key, wrapped (AES-256-GCM) by key_id''s key, base64.';
comment on column retention.archive_objects.policies is 'Policies whose rows it holds.';
comment on column retention.archive_objects.runs is 'Runs whose rows it holds.';
comment on column retention.archive_objects.first_archived_at is 'When its oldest row was archived.';
comment on column retention.archive_objects.last_archived_at is 'When its newest row was archived.';
comment on column retention.archive_objects.expires_at is 'When it may be pruned (its policy''s archive_retain), unless a hold keeps it; NULL: kept.';
comment on column retention.archive_objects.created_at is 'When it was claimed.';
comment on column retention.archive_objects.created_by is 'Who offloaded it (actor).';
comment on column retention.archive_objects.verified_at is 'When it was read back and verified.';
comment on column retention.archive_objects.deleted_at is 'When it was pruned.';
comment on column retention.archive_objects.error is 'Why writing it failed.';
comment on column retention.archive_objects.claimed_pid is 'The backend of the session writing it (objects of ended sessions are abandoned).';
comment on column retention.archived_rows.archive_id is 'Order of archiving.';
comment on column retention.archived_rows.run_id is 'The run whose batch removed the row.';
comment on column retention.archived_rows.batch_no is 'The batch.';
comment on column retention.archived_rows.policy_name is 'The policy.';
comment on column retention.archived_rows.rel is 'The table (oid) the row was removed from (a partitioned policy''s root table).';
comment on column retention.archived_rows.rel_name is 'The table''s name when archived.';
comment on column retention.archived_rows.depth is '0: the policy''s table; 1, 2, …: removed by ON DELETE CASCADE that many keys away.';
comment on column retention.archived_rows.row_data is 'The row as JSON.';
comment on column retention.archived_rows.archived_at is 'When it was copied (the transaction that removed it).';
comment on column retention.archived_rows.object_id is 'The object being written with it (it leaves this table when the object is verified).';

-- Notifications: a proposal waits for approval; an archive object could not be written.
alter table retention.notifications drop constraint notifications_kind_check;
alter table retention.notifications add constraint notifications_kind_check
  check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed',
                  'erasure_completed', 'erasure_overdue', 'rows_flagged', 'audit_checkpoint',
                  'approval_requested', 'archive_failed'));

-- set_policy and alter_policy take the new settings (sql/ creates them again).
drop function if exists retention.alter_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text[]);
drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
