-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1768000000000_stamped-marks') then
    raise exception 'migration 1768000000000_stamped-marks is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A mark pg-retention stamps (a soft delete's deleted-at, a scrub's scrubbed-at) is a
-- wall time of UTC, so a policy that ages rows by it in another zone reads it in UTC too.
-- That was decided by the stamping policy being there at reading time: dropped, or its
-- partition detached from the tree, the marks stamped seconds earlier went under a 6-hour
-- period (round atk132 F5). Every table and column a stamping policy can write is
-- remembered here for good.
create table retention_internal.stamped_marks (
  rel        oid  not null,
  attname    name not null,
  attnum     smallint,
  rel_name   text,
  first_seen timestamptz not null default pg_catalog.clock_timestamp(),
  primary key (rel, attname)
);
revoke all on retention_internal.stamped_marks from public;
comment on table retention_internal.stamped_marks is
  'Internal. Every table (by OID) and column a soft_delete or scrub policy stamps or stamped, with the tables of its partition tree: a policy aging rows by such a column reads it in UTC too, after the stamping policy is gone.';
comment on column retention_internal.stamped_marks.rel is 'The table, or a table of its partition tree.';
comment on column retention_internal.stamped_marks.attname is 'The stamped column.';
comment on column retention_internal.stamped_marks.attnum is 'Its number in the table: the column renamed since is still it.';
comment on column retention_internal.stamped_marks.rel_name is 'The table''s name: a table rebuilt under it (a new OID, the marks copied over) is still it.';
comment on column retention_internal.stamped_marks.first_seen is 'When it was first recorded.';

insert into retention_internal.stamped_marks (rel, attname, attnum, rel_name)
select distinct t.relid, x.col,
       (select a.attnum from pg_catalog.pg_attribute a where a.attrelid = t.relid and a.attname = x.col and not a.attisdropped),
       (select pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = t.relid)
  from (select p.target, case when p.action = 'soft_delete' then p.deleted_at_column else p.scrubbed_at_column end as col
          from retention.policies p
         where p.action in ('soft_delete', 'scrub') and exists (select from pg_catalog.pg_class c where c.oid = p.target)) x
 cross join lateral (select x.target::oid as relid
                     union select r.relid from pg_catalog.pg_partition_tree(pg_catalog.pg_partition_root(x.target)) r) t
 where x.col is not null and t.relid is not null
on conflict do nothing;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
