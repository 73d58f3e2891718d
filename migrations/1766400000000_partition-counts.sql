-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766400000000_partition-counts') then
    raise exception 'migration 1766400000000_partition-counts is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- Partition drops that need not count every row: a drop_partitions policy's count is
-- 'estimate' (NULL, the default: the rows of a partition are what PostgreSQL's statistics
-- say, so a drop costs a number of partitions, not of rows; a partition without
-- statistics, or with rows under a legal hold, is counted exactly) or 'exact' (every
-- expired partition is read and counted, as before). The ledger says which: runs and
-- run_batches gain estimated. Policies made before take the new default at once.
alter table retention.policies
  add column count text check (count in ('exact', 'estimate'));
comment on column retention.policies.count is 'drop_partitions only: how a run counts the rows of the partitions it drops. estimate (NULL, the default): from PostgreSQL''s statistics (pg_class.reltuples), counting exactly only partitions without statistics or with held rows; exact: every row counted. The ledger marks estimates (runs.estimated, run_batches.estimated).';

alter table retention.runs add column estimated boolean not null default false;
comment on column retention.runs.estimated is 'Whether eligible and affected include estimates from PostgreSQL''s statistics (a drop_partitions policy with count estimate) rather than counted rows.';
alter table retention.run_batches add column estimated boolean not null default false;
comment on column retention.run_batches.estimated is 'Whether rows is an estimate from PostgreSQL''s statistics (a partition dropped by a policy with count estimate) rather than counted rows.';

-- A detached partition is known by its OID as well as its name: a table made later under
-- the name of one a dead run detached is not that partition (runs recorded before have
-- none and are matched by name, and only until a later run settled that name).
alter table retention.run_batches add column partition_oid oid,
  add column partition_parent oid, add column partition_xmin xid;
comment on column retention.run_batches.partition_oid is 'The OID of the partition a drop_partitions batch detached or finished (NULL for rows and for batches recorded before migration 27): only that table is finished by a later run.';
comment on column retention.run_batches.partition_parent is 'The OID of the table a drop_partitions batch detached the partition from: only a run of a policy on that table finishes it.';
comment on column retention.run_batches.partition_xmin is 'The version of the detached partition''s pg_class row its detach wrote: a table changed since (renamed, moved, attached and detached again) is left for the DBA, never finished by a run.';

-- The partition-level preview says which counts are estimates (sql/ creates it again).
drop function if exists retention.partitions(text, timestamptz);
drop function if exists retention_internal._partition_plan(retention.policies, timestamptz, timestamptz);

-- A drop_partitions run detaches one partition per step (sql/ creates the step again with
-- the rows planned so far).
drop function if exists retention_internal._detach_partitions(retention.runs, retention.policies);

-- set_policy and alter_policy take the new setting (sql/ creates them again).
drop function if exists retention.alter_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text,
  boolean, interval, interval, interval, interval, text[]);
drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text,
  boolean, interval, interval, interval, interval);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
