-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765100000000_writes-through-routines') then
    raise exception 'migration 1765100000000_writes-through-routines is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Writes only through routines. No role but the owner writes a retention table: every
-- change is made by a SECURITY DEFINER routine (pinned search_path) that checks it and
-- audits it. A run keeps what its steps need in its own row, where nobody else can
-- change it: spec (the policy as it was when the run opened, the work condition of an
-- erasure step, the limits), state (where the batches have got to) and the session that
-- drives it (backend_pid). An erasure request keeps its plan and how far processing got.
alter table retention.runs
  add column spec        jsonb,
  add column state       jsonb,
  add column backend_pid integer,
  add column error_hint  text;
comment on column retention.runs.spec is 'What the run was opened with: the policy as it was then, the work condition of an erasure step, the row limit and time budget. Written once, by open_run.';
comment on column retention.runs.state is 'Where the run has got to (its phase, the keyset floor, rows left out after failing): written by run_step only.';
comment on column retention.runs.backend_pid is 'The session that opened the run and alone may step it (run_step).';
comment on column retention.runs.error_hint is 'The hint of the error that ended the run, if any.';

alter table retention.erasure_requests
  add column plan      jsonb,
  add column plan_step integer,
  add column step_run  bigint references retention.runs (run_id),
  add column plan_batch_size integer;
comment on column retention.erasure_requests.plan is 'The plan of the current processing, in running order (from _erasure_steps and _erasure_order), fixed when the processing began.';
comment on column retention.erasure_requests.plan_step is 'How many steps of the plan the current processing has finished.';
comment on column retention.erasure_requests.step_run is 'The run of the step in progress.';

revoke insert, update, delete, truncate on all tables in schema retention
  from retention_admin, retention_runner, retention_auditor, retention_requester;
revoke all on all sequences in schema retention
  from retention_admin, retention_runner, retention_auditor, retention_requester;
-- The application follows its requests through erasure_overview; the requests themselves
-- (every subject's key) are not its to read.
revoke select on retention.erasure_requests from retention_requester;
grant select on retention.runs, retention.run_batches, retention.run_row_failures,
  retention.policies, retention.defaults, retention.notifications, retention.erasure_requests
  to retention_runner;

-- Steps that used to be procedures are functions now; the old signatures go.
drop procedure if exists retention._run_policy(text, boolean, timestamptz, bigint, interval, boolean, boolean, bigint);
drop procedure if exists retention._batch_loop(retention.policies, bigint, oid, timestamptz, timestamptz, bigint,
  interval, timestamptz, text, bigint, integer, text, text, text, text, text);
drop procedure if exists retention._drop_partitions(retention.policies, bigint, timestamptz, timestamptz, jsonb, bigint,
  interval, timestamptz, bigint, integer, text, text, text, text);
drop procedure if exists retention._block_erasure(bigint, text, bigint, text);
-- Predicates are parsed inside _parse_as_checker, which the checker role owns: nobody
-- needs to switch to that role any more (membership would let an admin execute it).
revoke retention_predicate_checker from retention_admin;

-- Helpers the views call are public now (a view calls functions with the reader's rights):
-- the views that use them go too and sql/ creates both again.
drop function if exists retention._qualified_name(regclass) cascade;
drop function if exists retention._effective_retain(retention.policies) cascade;
drop function if exists retention._effective_schedule(retention.policies) cascade;
drop function if exists retention._pin_session();
drop function if exists retention._unpin_session();

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
