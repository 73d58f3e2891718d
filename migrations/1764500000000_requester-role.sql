-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764500000000_requester-role') then
    raise exception 'migration 1764500000000_requester-role is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- retention_requester: for the application (its privacy form, its support tooling) to file
-- erasure requests and follow their deadlines, and nothing else: no policies, no holds, no
-- processing. Routine grants are in sql/990_grants.sql. request_erasure checks that the
-- subject exists, so the requester also needs SELECT on the subject tables (granted by
-- the DBA per table, like the runner's grants).

do $$
begin
  if not exists (select from pg_roles where rolname = 'retention_requester') then
    create role retention_requester nologin;
  end if;
end
$$;
grant usage on schema retention to retention_requester;
grant retention_requester to retention_admin;
grant select, insert on retention.erasure_requests to retention_requester;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
