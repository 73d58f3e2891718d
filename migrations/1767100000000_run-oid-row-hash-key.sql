-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767100000000_run-oid-row-hash-key') then
    raise exception 'migration 1767100000000_run-oid-row-hash-key is already applied'
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

-- A proposal's rows were hashed as md5 of the row's text: whoever may read proposal_rows
-- (an approver, an auditor) recovered a row's values by trying every id and date (round
-- atk66 F12). Rows are hashed under a secret key from now on, which only the retention
-- owner can read; proposals made before keep their unkeyed hashes (32 hex digits) and are
-- still compared as they were.
create table retention_internal.row_hash_key (
  one boolean primary key default true check (one),
  k   text not null
);
insert into retention_internal.row_hash_key (k)
values (pg_catalog.md5(pg_catalog.gen_random_uuid()::text) || pg_catalog.md5(pg_catalog.gen_random_uuid()::text));
revoke all on retention_internal.row_hash_key from public;
comment on column retention_internal.row_hash_key.one is 'Always true: the table holds one key.';
comment on column retention_internal.row_hash_key.k is 'The secret (64 hex digits from gen_random_uuid), prefixed to a row''s text before md5.';
comment on table retention_internal.row_hash_key is
  'Internal. The secret key proposal rows are hashed under (proposal_rows.row_hash: ''k'' and md5(key || row text)), readable by the owner only, so a hash cannot be reversed by trying values.';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
