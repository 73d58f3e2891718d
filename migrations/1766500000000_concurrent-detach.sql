-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766500000000_concurrent-detach') then
    raise exception 'migration 1766500000000_concurrent-detach is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- Partitions detached CONCURRENTLY, by the worker: a drop_partitions run the worker drives
-- records the partition it hands to the worker as 'detaching' (before the statement, so a
-- crash leaves it accounted for); the step after it records 'detached' (the worker's
-- statement, or a FINALIZE of one a crash left pending, detached it) or 'not_detached'
-- (it is still attached: the run detaches it the plain way).
alter table retention.run_batches drop constraint if exists run_batches_disposition_check;
alter table retention.run_batches add constraint run_batches_disposition_check
  check (disposition in ('detached', 'dropped', 'archived', 'rows_deleted', 'reattached', 'detaching', 'not_detached'));
comment on column retention.run_batches.disposition is 'drop_partitions: what the batch did with partition_name: detaching (handed to the worker to detach CONCURRENTLY), detached, not_detached (still attached after that), dropped, archived, reattached (a hold placed since the detach covers it), or rows_deleted (a batch of the unheld rows of a partition a hold keeps).';

-- The tables a detached partition was made of when it was detached (itself and those
-- below it): a table attached below it since is not dropped with it.
alter table retention.run_batches add column partition_tree oid[];
comment on column retention.run_batches.partition_tree is 'The OIDs of the detached partition and of the tables below it when it was detached (NULL for batches recorded before migration 28): a run drops it only while it is made of exactly those.';

-- Partitions detached and not finished, looked up by OID by every batch (a run acts on
-- none of them, nor on a table below one, but the run of the policy that detached it).
create index run_batches_partition_oid on retention.run_batches (partition_oid)
  where disposition in ('detached', 'detaching');

-- A drop_partitions step detaches plainly or hands the partition to the worker (sql/
-- creates the step again with that choice).
drop function if exists retention_internal._detach_partitions(retention.runs, retention.policies, bigint);

-- The checks a batch makes take the tables it locked instead of finding them again (sql/
-- creates them again with that argument).
drop function if exists retention_internal._check_foreign_code(retention.policies);
drop function if exists retention_internal._not_a_table(retention.policies);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
