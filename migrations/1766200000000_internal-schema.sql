-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766200000000_internal-schema') then
    raise exception 'migration 1766200000000_internal-schema is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- The internal routines (named _*) and the internal view _open_holds move to a schema of
-- their own, so that \df retention.* lists the public API and nothing else. They move
-- with ALTER ... SET SCHEMA: triggers, defaults and constraints that use them keep
-- pointing at the same objects; sql/ then replaces their bodies under the new name. No
-- role but the owner has USAGE on the schema or EXECUTE on its routines (sql/990_grants).
create schema retention_internal;
comment on schema retention_internal is 'pg-retention internals: the routines and views the public API in schema retention is built from. Not an interface: they change between versions, and no role but the owner may use them.';
revoke all on schema retention_internal from public;

do $$
declare
  r record;
begin
  for r in select p.oid::regprocedure as sig, p.prokind
             from pg_catalog.pg_proc p
            where p.pronamespace = 'retention'::regnamespace and p.proname ~ '^_' loop
    execute format('alter %s %s set schema retention_internal',
                   case r.prokind when 'p' then 'procedure' when 'a' then 'aggregate' else 'function' end, r.sig);
  end loop;
  for r in select c.relname, c.relkind
             from pg_catalog.pg_class c
            where c.relnamespace = 'retention'::regnamespace and c.relname ~ '^_' and c.relkind in ('v', 'm') loop
    execute format('alter %s retention.%I set schema retention_internal',
                   case r.relkind when 'm' then 'materialized view' else 'view' end, r.relname);
  end loop;
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
