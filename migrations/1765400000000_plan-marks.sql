-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765400000000_plan-marks') then
    raise exception 'migration 1765400000000_plan-marks is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- A plan (pg-retention plan, or a DBA trying changes out) applies changes in a transaction
-- that can never commit: begin_plan marks it here, and a deferred constraint trigger
-- refuses the commit. Such a transaction appends nothing to the audit log, so it holds no
-- lock on the chain while it counts what its changes would do.
create table retention.plan_marks (
  xid       xid8 primary key,
  marked_at timestamptz not null default clock_timestamp()
);
comment on table retention.plan_marks is 'Transactions begin_plan marked as plans: they never commit (a deferred trigger refuses) and append nothing to the audit log.';

-- The session processing an erasure request: only it may step the request (erasure_step).
alter table retention.erasure_requests add column processing_pid integer;
comment on column retention.erasure_requests.processing_pid is 'The session that began the current processing (open_erasure); erasure_step refuses any other.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
