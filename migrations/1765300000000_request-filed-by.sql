-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765300000000_request-filed-by') then
    raise exception 'migration 1765300000000_request-filed-by is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Who filed an erasure request (the login): the application sees only its own requests
-- (erasure_overview, erasure_requests_as_of), not other teams' nor the reasons of the
-- holds that block them.
alter table retention.erasure_requests add column filed_by text;
comment on column retention.erasure_requests.filed_by is 'The login that filed the request (request_erasure); a requester sees only the requests it filed.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
