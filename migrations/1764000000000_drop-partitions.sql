-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1764000000000_drop-partitions') then
    raise exception 'migration 1764000000000_drop-partitions is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Partition-drop retention: the drop_partitions action detaches and drops (or moves into
-- policies.archive_schema) whole range partitions whose upper bound is at or before the
-- cutoff. The ledger records each partition in run_batches (partition_name, disposition):
-- 'detached' when it has left the table, then 'dropped' or 'archived' with its row count
-- once it is gone; row batches that stand in for a partition kept by a legal hold record
-- 'rows_deleted'. set_policy gains p_archive_schema, so its old
-- signature is dropped here; its new text is in sql/021_set_policy.sql.

alter table retention.policies
  drop constraint policies_action_check,
  add constraint policies_action_check
      check (action in ('delete', 'soft_delete', 'purge_soft_deleted', 'drop_partitions')),
  add column archive_schema name,
  add constraint policies_archive_schema_check
      check (archive_schema is null or action = 'drop_partitions');

alter table retention.run_batches
  add column partition_name text,
  add column disposition text
      check (disposition in ('detached', 'dropped', 'archived', 'rows_deleted')),
  add check ((disposition is null) = (partition_name is null));

drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text,
                                   integer, bigint, interval, interval, text, text, boolean, text,
                                   text, bigint);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
