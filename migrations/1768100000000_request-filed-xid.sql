-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1768100000000_request-filed-xid') then
    raise exception 'migration 1768100000000_request-filed-xid is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A batch run under an open hold stops when an erasure request was committed while it ran
-- (a request makes its table's key a subject column the batch's hold rule did not compare).
-- It told such a request by an id above the last one it saw, but ids are taken when a
-- request is inserted, not when it commits: one with a lower id that committed later (it
-- waited on the application's uncommitted DDL record) went unseen, and the batch deleted
-- a row the hold then covered (round atk136 F1). The transaction that filed each request
-- is recorded, and the batch asks whether it had committed when the rule was built.
alter table retention.erasure_requests add column filed_xid xid8;
alter table retention.erasure_requests alter column filed_xid set default pg_catalog.pg_current_xact_id();
comment on column retention.erasure_requests.filed_xid is
  'The transaction that filed the request (NULL for requests filed before migration 44): a batch stops when one committed after it built its hold rule.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
