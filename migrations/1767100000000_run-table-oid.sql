-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767100000000_run-table-oid') then
    raise exception 'migration 1767100000000_run-table-oid is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A run's spec named its table only by the name it had then: once its policy was dropped
-- and the table renamed, an erasure no longer found the run, and the person's failed rows
-- (their key, the error) stayed (round atk66 F7). Runs record the table's oid from now on
-- (spec.rel); runs already recorded get it where the name still resolves.
update retention.runs r
   set spec = r.spec || jsonb_build_object('rel', to_regclass(r.spec #>> '{policy,target}')::oid)
 where r.spec ? 'policy' and not r.spec ? 'rel' and to_regclass(r.spec #>> '{policy,target}') is not null;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
