-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765700000000_archive-batches') then
    raise exception 'migration 1765700000000_archive-batches is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- Archived rows are kept one tuple per batch and table (a JSON array of the rows) instead
-- of one tuple per row: an archiving batch then writes two or three tuples instead of
-- thousands (docs/benchmarks.md measures the difference). retention.archived_rows stays,
-- as a view with a row per archived row, for psql and the existing queries.
create table retention.archived_batches (
  archive_id  bigint generated always as identity primary key,
  run_id      bigint not null,
  batch_no    integer not null,
  policy_name text not null,
  rel         oid not null,
  rel_name    text not null,
  depth       integer not null default 0,
  row_count   integer not null check (row_count > 0),
  rows        json not null check (json_typeof(rows) = 'array'),
  archived_at timestamptz not null default clock_timestamp(),
  object_id   bigint references retention.archive_objects (object_id)
);
create index archived_batches_object_idx on retention.archived_batches (object_id, archive_id);
-- lz4 where the server has it; else stored uncompressed (pglz cost an archiving batch
-- about 3 ms per 1,000 rows, and the rows stay only until the worker moves them out).
do $$ begin
  if exists (select from pg_settings where name = 'default_toast_compression' and 'lz4' = any (enumvals)) then
    alter table retention.archived_batches alter column rows set compression lz4;
  else
    alter table retention.archived_batches alter column rows set storage external;
  end if;
end $$;
comment on table retention.archived_batches is
  'Rows an archiving run removed, one tuple per batch and table (depth 0: the policy''s table; 1+: removed by ON DELETE CASCADE), copied in the transaction that removed them, until the worker moves them into a verified archive object. Personal data: readable by the owner and retention_admin only. retention.archived_rows shows them a row each.';
comment on column retention.archived_batches.archive_id is 'Order of archiving.';
comment on column retention.archived_batches.run_id is 'The run whose batch removed the rows.';
comment on column retention.archived_batches.batch_no is 'The batch (for drop_partitions: the partition''s ledger row).';
comment on column retention.archived_batches.policy_name is 'The policy.';
comment on column retention.archived_batches.rel is 'The table (oid) the rows were removed from (a partitioned table''s root).';
comment on column retention.archived_batches.rel_name is 'The table''s name when archived.';
comment on column retention.archived_batches.depth is '0: the policy''s table; 1, 2, …: removed by ON DELETE CASCADE that many keys away.';
comment on column retention.archived_batches.row_count is 'How many rows the array holds.';
comment on column retention.archived_batches.rows is 'The rows, each as a JSON object of its columns (to_json: column order and json values kept as written).';
comment on column retention.archived_batches.archived_at is 'When they were copied (the transaction that removed them).';
comment on column retention.archived_batches.object_id is 'The object being written with them (they leave this table when the object is verified).';

insert into retention.archived_batches (run_id, batch_no, policy_name, rel, rel_name, depth, row_count, rows, archived_at, object_id)
select r.run_id, r.batch_no, r.policy_name, r.rel, r.rel_name, r.depth, count(*),
       json_agg(r.row_data::json order by r.archive_id), min(r.archived_at), r.object_id
  from retention.archived_rows r
 group by r.run_id, r.batch_no, r.policy_name, r.rel, r.rel_name, r.depth, r.object_id
 order by min(r.archive_id);
drop table retention.archived_rows;

create view retention.archived_rows as
  select b.archive_id, e.row_no::integer as row_no, b.run_id, b.batch_no, b.policy_name, b.rel, b.rel_name,
         b.depth, e.value::jsonb as row_data, b.archived_at, b.object_id
    from retention.archived_batches b
   cross join lateral json_array_elements(b.rows) with ordinality e(value, row_no);
comment on view retention.archived_rows is
  'retention.archived_batches a row per archived row (row_data as jsonb), for psql. Personal data: the owner and retention_admin only.';
comment on column retention.archived_rows.archive_id is 'The batch tuple (retention.archived_batches) holding the row.';
comment on column retention.archived_rows.row_no is 'The row''s place in its batch tuple.';
comment on column retention.archived_rows.run_id is 'The run whose batch removed the row.';
comment on column retention.archived_rows.batch_no is 'The batch.';
comment on column retention.archived_rows.policy_name is 'The policy.';
comment on column retention.archived_rows.rel is 'The table (oid) the row was removed from.';
comment on column retention.archived_rows.rel_name is 'The table''s name when archived.';
comment on column retention.archived_rows.depth is '0: the policy''s table; 1+: removed by ON DELETE CASCADE.';
comment on column retention.archived_rows.row_data is 'The row as jsonb.';
comment on column retention.archived_rows.archived_at is 'When it was copied.';
comment on column retention.archived_rows.object_id is 'The object being written with it.';

-- An archiving batch's statements come from one builder now (_two_phase_sql), with a
-- lock statement per level of the cascade.
drop function if exists retention._archive_lock_sql(retention.policies);
drop function if exists retention._archive_batch_sql(retention.policies, boolean);
-- The checks take the cascade tree the batch already walked; the offload reads rows as
-- json (as archived) instead of jsonb.
drop function if exists retention._check_archivable(regclass, boolean);
drop function if exists retention._check_delete_triggers(regclass);
drop function if exists retention.archive_object_rows(bigint);
-- _lock_reach takes p_strong (the table locks under open holds).
drop function if exists retention._lock_reach(retention.policies);

-- The transaction that placed a hold, so that a check made under a snapshot can tell a
-- hold it could not see (archive prune: archive_object_deleted's p_snapshot).
alter table retention.legal_holds add column placed_xid xid8 default pg_catalog.pg_current_xact_id();
comment on column retention.legal_holds.placed_xid is 'The transaction that placed the hold (NULL for holds placed before migration 20): a check made under a snapshot that did not see it has to be made again.';
drop function if exists retention.archive_object_deleted(bigint, text, timestamptz);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
