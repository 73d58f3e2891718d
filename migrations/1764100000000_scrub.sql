-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764100000000_scrub') then
    raise exception 'migration 1764100000000_scrub is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- The scrub action: personal data in chosen columns is replaced (NULL, a constant, a
-- sha256 of the value, an empty JSON object) while the row and its key stay.
-- policies.scrub_columns maps each column to its strategy; scrubbed_at_column names a
-- timestamp column set when a row is scrubbed; revoke_tables lists tables whose rows
-- referencing a scrubbed row (sessions, tokens) are deleted in the same transaction,
-- counted per batch in run_batches.related_rows; run_cap caps the rows of one run (any
-- action). set_policy gains these parameters, so
-- its old signature is dropped here; its new text is in sql/021_set_policy.sql.

alter table retention.policies
  drop constraint policies_action_check,
  add constraint policies_action_check
      check (action in ('delete', 'soft_delete', 'purge_soft_deleted', 'drop_partitions', 'scrub')),
  add column scrub_columns jsonb,
  add column scrubbed_at_column name,
  add column revoke_tables regclass[],
  -- At most this many rows per run; the rest waits for the next run (the ceiling, by
  -- contrast, refuses a run that would exceed it).
  add column run_cap bigint check (run_cap between 1 and 1000000000),
  add constraint policies_scrub_check
      check ((action = 'scrub') = (scrub_columns is not null)
             and (scrubbed_at_column is null or action = 'scrub')
             and (revoke_tables is null or action = 'scrub'));

alter table retention.run_batches add column related_rows integer not null default 0;

-- Rows a batch could not act on (a trigger refused, a constraint failed): the batch is
-- redone row by row, the others go, and each failure is recorded here by the row's key,
-- so one bad row neither stops a run nor hides among the rest.
alter table retention.runs add column failed_rows bigint not null default 0;
create table retention.run_row_failures (
  run_id      bigint not null references retention.runs (run_id) on delete restrict,
  batch_no    integer not null,
  row_key     jsonb not null,
  error_code  text not null,
  error       text not null,
  failed_at   timestamptz not null default clock_timestamp()
);
create index run_row_failures_run_idx on retention.run_row_failures (run_id);
grant select on retention.run_row_failures to retention_admin, retention_auditor, retention_runner;
grant insert on retention.run_row_failures to retention_admin, retention_runner;
alter table retention.notifications
  drop constraint notifications_kind_check,
  add constraint notifications_kind_check
      check (kind in ('run_failed', 'run_refused', 'large_deletion', 'policy_overdue', 'rows_failed'));

drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text,
                                   integer, bigint, interval, interval, text, text, boolean, text,
                                   text, bigint, text);
-- (and the 21- and 22-argument forms development builds of this migration had)
drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text,
                                   integer, bigint, interval, interval, text, text, boolean, text,
                                   text, bigint, text, jsonb, text);
drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text,
                                   integer, bigint, interval, interval, text, text, boolean, text,
                                   text, bigint, text, jsonb, text, text[]);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
