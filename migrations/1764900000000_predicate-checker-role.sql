-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764900000000_predicate-checker-role') then
    raise exception 'migration 1764900000000_predicate-checker-role is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- retention_predicate_checker: a role with no privileges of its own. _validate_predicate
-- parses a predicate as this role, so whatever user code parsing could reach (a domain's
-- check behind an array or record literal) runs with nothing it could harm, and names in
-- schemas nobody granted it cannot even be looked up. Whoever saves predicates (admins,
-- the owner who migrates) may switch to it. trust_schema grants it USAGE on a schema.
do $$
begin
  if not exists (select from pg_roles where rolname = 'retention_predicate_checker') then
    create role retention_predicate_checker nologin noinherit;
  end if;
end
$$;
grant retention_predicate_checker to retention_admin;
do $$
begin
  execute format('grant retention_predicate_checker to %I', current_user);
exception when others then
  null;  -- a superuser owner needs no membership (and cannot be granted its own role twice)
end
$$;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
