-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764800000000_one-hold-rule') then
    raise exception 'migration 1764800000000_one-hold-rule is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- One hold rule (sql/029_held_sql.sql): the erasure hold check reads the plan and the
-- block records a reason instead of a hold row, so the old signatures go; sql/ creates
-- the new ones.
drop function if exists retention._erasure_hold(text, text[]);
drop procedure if exists retention._block_erasure(bigint, text, retention.legal_holds);
-- A detached partition found under a hold before it is dropped is attached again.
alter table retention.run_batches drop constraint if exists run_batches_disposition_check;
alter table retention.run_batches add constraint run_batches_disposition_check
  check (disposition in ('detached', 'dropped', 'archived', 'rows_deleted', 'reattached'));
-- (Earlier development signatures of the hold rule, should a database carry them.)
drop function if exists retention._held_sql(regclass, text, text, boolean, integer, oid[], oid);
drop function if exists retention._held_refs_sql(oid, text, integer, oid[]);
drop function if exists retention._subject_value(text, regtype);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
