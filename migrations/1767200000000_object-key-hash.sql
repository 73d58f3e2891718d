-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767200000000_object-key-hash') then
    raise exception 'migration 1767200000000_object-key-hash is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- An object deletion kept sha256 of the object's key once settled: a key may name a person
-- ('avatars/alice@example.com.png'), and whoever read object_deletions got it back by
-- hashing the likely keys (round atk70). From now on the hash is taken under the secret
-- key only the owner reads (retention_internal.row_hash_key), marked by a leading 'k'.
-- Deletions not settled yet still have their key and are hashed again; settled ones keep
-- the hash they have (their key is gone).
update retention.object_deletions d
   set key_sha256 = 'k' || pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(x.k || d.object_key, 'UTF8')), 'hex')
  from retention_internal.row_hash_key x
 where d.object_key is not null and d.key_sha256 !~ '^k';
comment on column retention.object_deletions.key_sha256 is
  'What stays of the key once settled: ''k'' and sha256 (hex) of the secret retention_internal.row_hash_key and the key (retention_internal._object_key_sha256); 64 hex digits without the ''k'' for deletions settled before migration 35 (unkeyed sha256).';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
