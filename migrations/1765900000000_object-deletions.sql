-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765900000000_object-deletions') then
    raise exception 'migration 1765900000000_object-deletions is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- Files deleted with their rows: a column that holds a reference to an object (a storage
-- key or URL) in a named storage target. When pg-retention deletes a row of the table (a
-- policy's batch, an erasure, a cascade from either) or scrubs the column, the reference
-- enters retention.object_deletions in the same transaction, through a trigger
-- set_object_column puts on the table; the worker deletes the objects.
create table retention.object_columns (
  column_id    bigint generated always as identity primary key,
  rel          regclass not null,
  column_name  name not null,
  attnum       smallint not null,
  target       text not null check (target ~ '^[a-z][a-z0-9_-]{0,62}$'),
  url_prefix   text check (url_prefix is null or length(url_prefix) between 1 and 500),
  reason       text,
  updated_at   timestamptz not null default now(),
  updated_by   text not null,
  unique (rel, column_name)
);
comment on table retention.object_columns is 'Columns that hold references to objects in a storage target (set_object_column): when pg-retention deletes or scrubs a row, its objects are deleted too (object_deletions).';
comment on column retention.object_columns.column_id is 'Identifies the column; its trigger is named retention_objects_<column_id>.';
comment on column retention.object_columns.rel is 'The table (an ordinary or partitioned table, not a partition).';
comment on column retention.object_columns.column_name is 'The text column holding the reference.';
comment on column retention.object_columns.attnum is 'The column''s number in the table: a renamed column is found by it (and a batch refuses until it is registered under its new name).';
comment on column retention.object_columns.target is 'The storage target''s name, as the worker''s PG_RETENTION_OBJECT_TARGETS names it (no URL or credentials here).';
comment on column retention.object_columns.url_prefix is 'What the column''s values start with before the object key (e.g. https://cdn.example.com/recordings/); NULL when they are keys.';
comment on column retention.object_columns.reason is 'Why these objects go with their rows (free text, for the auditors).';
comment on column retention.object_columns.updated_at is 'When it was last set.';
comment on column retention.object_columns.updated_by is 'Who set it (the session''s login).';

create table retention.object_deletions (
  deletion_id     bigint generated always as identity primary key,
  column_id       bigint not null,
  target          text not null,
  -- The object's key in the target while it is pending or dead; NULL once settled, when
  -- only key_sha256 is kept (a key may name a person).
  object_key      text,
  key_sha256      text not null,
  rel_name        text not null,
  column_name     name not null,
  run_id          bigint,
  enqueued_at     timestamptz not null default now(),
  status          text not null default 'pending' check (status in ('pending', 'deleted', 'kept', 'dead')),
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error      text,
  settled_at      timestamptz,
  check ((status in ('pending', 'dead')) = (object_key is not null)),
  check ((status in ('deleted', 'kept')) = (settled_at is not null))
);
create index object_deletions_due_idx on retention.object_deletions (target, next_attempt_at) where status = 'pending';
create index object_deletions_run_idx on retention.object_deletions (run_id);
comment on table retention.object_deletions is 'The object outbox: one row per object reference of a row pg-retention deleted or scrubbed, written in the same transaction; the worker deletes the object (retried with backoff, dead after the configured attempts) unless a remaining row still references it (kept).';
comment on column retention.object_deletions.deletion_id is 'Identifies the entry.';
comment on column retention.object_deletions.column_id is 'The object column (object_columns) the reference came from.';
comment on column retention.object_deletions.target is 'The storage target''s name.';
comment on column retention.object_deletions.object_key is 'The object''s key in the target (the column''s value without its url_prefix) while pending or dead; NULL once settled.';
comment on column retention.object_deletions.key_sha256 is 'sha256 (hex) of the key: what stays of it once settled.';
comment on column retention.object_deletions.rel_name is 'The table the row was in (a partition''s root).';
comment on column retention.object_deletions.column_name is 'The column that held the reference.';
comment on column retention.object_deletions.run_id is 'The run (policy or erasure step) whose batch removed or scrubbed the row.';
comment on column retention.object_deletions.enqueued_at is 'When the row went (the batch''s transaction).';
comment on column retention.object_deletions.status is 'pending (to delete), deleted (the store confirmed it, or it was not there), kept (a remaining row references the same object), dead (failed every attempt; retry_object_deletions queues it again).';
comment on column retention.object_deletions.attempts is 'Deletion attempts so far.';
comment on column retention.object_deletions.next_attempt_at is 'Not claimed before this time (backoff after a failure, a lease while a worker deletes it).';
comment on column retention.object_deletions.last_error is 'The last attempt''s error.';
comment on column retention.object_deletions.settled_at is 'When it was deleted or kept.';

-- The batch a transaction is running, while it runs: written by _batch (as the owner) when
-- the tables it reaches have object columns, and read by their triggers, which queue only
-- what such a batch removes from those tables. Never committed (the batch deletes its row
-- before it commits), so nothing else can claim to be a batch.
create unlogged table retention.batch_marks (
  xid       xid8 primary key,
  run_id    bigint not null,
  del_rels  oid[] not null,
  upd_rels  oid[] not null,
  held      jsonb not null default '{}'
);
comment on table retention.batch_marks is 'Internal. The batch the transaction xid is running (its run, the tables it deletes from and updates), for the triggers of object columns; a row lives only inside its batch''s transaction.';
comment on column retention.batch_marks.xid is 'The batch''s transaction.';
comment on column retention.batch_marks.run_id is 'The run the batch belongs to.';
comment on column retention.batch_marks.del_rels is 'Tables (partitions included) whose rows the batch, or a foreign key''s cascade from it, deletes.';
comment on column retention.batch_marks.upd_rels is 'Tables whose rows the batch (a scrub) or a foreign key''s SET NULL / SET DEFAULT action updates.';
comment on column retention.batch_marks.held is 'Per table with an object column (oid as text): the hold rule for its rows (SQL over alias t, _held_sql): a held row removed by other code during the batch keeps its objects.';

-- A dead object deletion is notified.
alter table retention.notifications drop constraint notifications_kind_check;
alter table retention.notifications add constraint notifications_kind_check
  check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed',
                  'erasure_completed', 'erasure_overdue', 'rows_flagged', 'audit_checkpoint',
                  'approval_requested', 'archive_failed', 'object_deletion_failed'));

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
