-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767400000000_erasure-held-values') then
    raise exception 'migration 1767400000000_erasure-held-values is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- An erasure forgets released subject holds on any value of the person's rows (their
-- phone number) as each step begins, while the rows can still be read. A hold still in
-- force then and released later (while the erasure ran, or after it completed) kept the
-- value, its reason and case reference (round atk81 F2). The step records such holds by
-- id (no value is kept): completion forgets those released by then, and release_hold
-- forgets the others as it releases them.
create table retention_internal.erasure_held_values (
  request_id bigint not null references retention.erasure_requests (request_id),
  hold_id    bigint not null references retention.legal_holds (hold_id),
  noted_at   timestamptz not null default pg_catalog.clock_timestamp(),
  primary key (hold_id, request_id)
);
revoke all on retention_internal.erasure_held_values from public;
comment on table retention_internal.erasure_held_values is
  'Internal. Subject holds in force on a value of a person''s rows when a step of their erasure began: forgotten when released (at completion, or by release_hold after it).';
comment on column retention_internal.erasure_held_values.request_id is 'The erasure request.';
comment on column retention_internal.erasure_held_values.hold_id is 'The subject hold on a value of the person''s rows.';
comment on column retention_internal.erasure_held_values.noted_at is 'When the step recorded it.';

-- A message written while an erasure is processing, after the step of the table it quotes
-- began (a policy run failing on the person's row in between), was never searched: the
-- step read the messages as it began, and at its end the rows were gone (round atk78 F8).
-- The step keeps its rows' values here while it runs and searches the messages again with
-- them when it ends; they go then, or, for a step that failed, when the request completes
-- (a trigger in sql/097_a_forget_subject.sql).
create table retention_internal.erasure_step_values (
  request_id bigint not null references retention.erasure_requests (request_id),
  v          text not null
);
create index erasure_step_values_request on retention_internal.erasure_step_values (request_id);
revoke all on retention_internal.erasure_step_values from public;
comment on table retention_internal.erasure_step_values is
  'Internal. Values (4+ characters) of the person''s rows of an erasure step, kept until it ends (or, when it failed, until the request completes): messages written meanwhile are searched for them then.';
comment on column retention_internal.erasure_step_values.request_id is 'The erasure request in progress.';
comment on column retention_internal.erasure_step_values.v is 'A value of the person''s rows, as _value_pieces_sql takes it.';

-- An erasure step's delete counted only its own table's rows: rows its cascade took in
-- other tables (an order the application inserted for the person after the orders step)
-- were in no evidence and no receipt (round atk84 F7).
alter table retention.erasure_evidence add column related_rows bigint;
comment on column retention.erasure_evidence.related_rows is
  'Rows the step''s deletes took in other tables by ON DELETE CASCADE (the server''s own count), besides rows of its table; NULL before it was counted.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
