-- Up Migration
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
alter table retention.run_batches drop column partition_name, drop column disposition;
delete from retention.policies where action = 'drop_partitions';
alter table retention.policies
  drop constraint policies_archive_schema_check,
  drop column archive_schema,
  drop constraint policies_action_check,
  add constraint policies_action_check
      check (action in ('delete', 'soft_delete', 'purge_soft_deleted'));
