-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767900000000_schema-default-by-oid') then
    raise exception 'migration 1767900000000_schema-default-by-oid is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A policy without a period of its own inherits its table's schema's default, which was
-- looked up by the schema's name as it is now: the application that renamed its schema
-- (and made a new one under the old name) or moved the table to another schema cut a
-- 10-year default to the global one, or to 30 days (round atk132 F1). A schema's default
-- now also names the schemas it was set for by OID (a rename keeps them; a schema made
-- again under the name adds its OID, never replacing the first's: round atk135 F8), and a
-- policy the schema its table was in when the policy was made (a move keeps it); a policy
-- takes the longest of the defaults that apply.
alter table retention.defaults add column schema_oids oid[] not null default '{}';
comment on column retention.defaults.schema_oids is
  'For a schema''s default, the OIDs of the schemas it was set for under that name: the default follows each through a rename, and applies to the tables moved out of it.';
alter table retention.policies add column schema_oid oid;
comment on column retention.policies.schema_oid is
  'The schema its table was in when the policy was made (or its table last changed): a schema default set for it still applies after the table moves (effective_retain).';

-- Recorded by the engine, not a change of a default or a policy: not audited as a direct
-- write.
select pg_catalog.set_config('retention.routine_write', pg_catalog.pg_current_xact_id()::text, true);
update retention.defaults d set schema_oids = array[n.oid]
  from pg_catalog.pg_namespace n where d.scope = 'schema:' || n.nspname;
update retention.policies p set schema_oid = c.relnamespace
  from pg_catalog.pg_class c where c.oid = p.target;
select pg_catalog.set_config('retention.routine_write', '', true);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
