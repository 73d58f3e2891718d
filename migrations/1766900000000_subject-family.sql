-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766900000000_subject-family') then
    raise exception 'migration 1766900000000_subject-family is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- A subject column declared by a policy (or erasure rule) on a partition or inheritance
-- child names a subject in the whole family: its siblings' rows are held by it too. That
-- coverage went with the table: once the partition was dropped, the policy's target named
-- nothing, and subject holds stopped covering the siblings' rows (round atk44). The tables
-- above the target are kept with it, and the column covers their families while any is left
-- (retention_internal._own_subject_columns).
alter table retention.policies add column subject_family oid[] not null default '{}';
comment on column retention.policies.subject_family is
  'The tables above the policy''s table (partitioned or inheritance parents) since its subject column was declared: the column names a subject in their families even once the policy''s own table is gone. Kept by a trigger.';
alter table retention.erasure_rules add column subject_family oid[] not null default '{}';
comment on column retention.erasure_rules.subject_family is
  'The tables above the rule''s table since its subject column was declared, as for policies.subject_family. Kept by a trigger.';
do $$ begin
  -- Recorded as written by a routine (this migration), not as a direct write.
  perform pg_catalog.set_config('retention.routine_write', pg_catalog.pg_current_xact_id()::text, true);
  update retention.policies p
     set subject_family = coalesce((with recursive a(rel, depth) as (
                                      select i.inhparent, 1 from pg_catalog.pg_inherits i where i.inhrelid = p.target
                                      union
                                      select i.inhparent, a.depth + 1 from pg_catalog.pg_inherits i join a on i.inhrelid = a.rel
                                       where a.depth < 64)
                                    select array_agg(distinct a.rel) from a), '{}')
   where p.subject_column is not null;
  update retention.erasure_rules r
     set subject_family = coalesce((with recursive a(rel, depth) as (
                                      select i.inhparent, 1 from pg_catalog.pg_inherits i where i.inhrelid = r.target
                                      union
                                      select i.inhparent, a.depth + 1 from pg_catalog.pg_inherits i join a on i.inhrelid = a.rel
                                       where a.depth < 64)
                                    select array_agg(distinct a.rel) from a), '{}')
   where r.subject_column is not null and r.target is not null;
end $$;

-- A policy or erasure rule names its table by OID, and so does an erasure request its
-- subject table; a rebuilt table (a copy, the old one dropped, the copy renamed) keeps
-- neither, and subject holds stopped covering its rows by the subject column or key they
-- declared (round atk44, as for table holds in migration 31). Their tables' names are kept
-- too: a declaration whose table is gone covers the table under that name.
alter table retention.policies add column target_name text;
comment on column retention.policies.target_name is
  'The policy''s table''s schema-qualified name, kept by a trigger: once that table is gone, its subject column is declared for the table under this name.';
alter table retention.erasure_rules add column target_name text;
comment on column retention.erasure_rules.target_name is
  'The rule''s table''s schema-qualified name, kept by a trigger: once that table is gone, its subject column is declared for the table under this name.';
alter table retention.erasure_requests add column subject_table_name text;
comment on column retention.erasure_requests.subject_table_name is
  'The subject table''s schema-qualified name, kept by a trigger: once that table is gone, the table under this name is the subject table (its key names the subject for holds).';
do $$ begin
  perform pg_catalog.set_config('retention.routine_write', pg_catalog.pg_current_xact_id()::text, true);
  update retention.policies p
     set target_name = (select pg_catalog.format('%I.%I', n.nspname, c.relname)
                          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                         where c.oid = p.target);
  update retention.erasure_rules r
     set target_name = (select pg_catalog.format('%I.%I', n.nspname, c.relname)
                          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                         where c.oid = r.target)
   where r.target is not null;
  update retention.erasure_requests q
     set subject_table_name = (select pg_catalog.format('%I.%I', n.nspname, c.relname)
                                 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                                where c.oid = q.subject_table);
end $$;

-- A subject column is named by its name; renamed, and another column given its name, the
-- check that fails runs on a renamed subject column (RT002) passed, and holds matched the
-- other column (round atk56). The column's number in the table is kept too: a name that
-- now names another column fails as a renamed one does.
alter table retention.policies add column subject_attnum smallint;
comment on column retention.policies.subject_attnum is
  'The subject column''s number in the policy''s table when it was declared (kept by a trigger): its name on another column fails runs with RT002.';
alter table retention.erasure_rules add column subject_attnum smallint;
comment on column retention.erasure_rules.subject_attnum is
  'The subject column''s number in the rule''s table when it was declared (kept by a trigger), as for policies.subject_attnum.';
do $$ begin
  perform pg_catalog.set_config('retention.routine_write', pg_catalog.pg_current_xact_id()::text, true);
  update retention.policies p
     set subject_attnum = (select a.attnum from pg_catalog.pg_attribute a
                            where a.attrelid = p.target and a.attname = p.subject_column and a.attnum > 0 and not a.attisdropped)
   where p.subject_column is not null;
  update retention.erasure_rules r
     set subject_attnum = (select a.attnum from pg_catalog.pg_attribute a
                            where a.attrelid = r.target and a.attname = r.subject_column and a.attnum > 0 and not a.attisdropped)
   where r.subject_column is not null and r.target is not null;
end $$;

-- A column of a foreign key that references a subject column names the subject too: a
-- subject hold covers its rows (_subject_columns). That coverage went with the key: once
-- the application dropped the foreign key, the rows were no longer held (round atk44).
-- Such columns are recorded (by table and attribute number, which a rename keeps) when a
-- subject hold is placed and when a run opens while one is open, and count as subject
-- columns from then on.
create table retention_internal.subject_links (
  rel       oid not null,
  attnum    smallint not null,
  noted_at  timestamptz not null default pg_catalog.clock_timestamp(),
  primary key (rel, attnum)
);
revoke all on retention_internal.subject_links from public;
comment on table retention_internal.subject_links is
  'Internal. Columns that were part of a foreign key referencing a subject column when a subject hold was placed or a run opened under one: subject columns for holds from then on, the key dropped or not.';
comment on column retention_internal.subject_links.rel is 'The table of the foreign key (its OID).';
comment on column retention_internal.subject_links.attnum is 'The column''s number in that table (a rename keeps it).';
comment on column retention_internal.subject_links.noted_at is 'When it was first recorded.';

-- A hold's cover that came from the partition (or inheritance) tree ended when the
-- application detached a table from it (round atk53): a table hold on the partitioned
-- table stopped covering the detached partition, and a subject column declared on one
-- partition stopped covering a sibling detached from the tree. The tree's edges are kept
-- once seen (when a run opens or a hold is placed), and the hold rule counts a table's
-- former parents with its parents.
create table retention_internal.past_parents (
  rel       oid not null,
  parent    oid not null,
  noted_at  timestamptz not null default pg_catalog.clock_timestamp(),
  primary key (rel, parent)
);
revoke all on retention_internal.past_parents from public;
comment on table retention_internal.past_parents is
  'Internal. Every partition and inheritance edge seen when a run opened or a hold was placed, kept after the table is detached: the hold rule counts former parents as parents.';
comment on column retention_internal.past_parents.rel is 'The partition or inheritance child (its OID).';
comment on column retention_internal.past_parents.parent is 'The table it was below (its OID).';
comment on column retention_internal.past_parents.noted_at is 'When the edge was first seen.';

-- A run closed while the audit chain stayed locked (a transaction holding it idle) was
-- recorded without its closing audit entry, and nothing wrote it later (round atk54): the
-- log said "started, 0 affected" of a run that deleted rows. Such a run is marked, and
-- the next entry appended to the chain, whoever appends it, writes its entry first.
alter table retention.runs add column audit_pending boolean not null default false;
comment on column retention.runs.audit_pending is
  'The run was closed without its closing audit entry (the audit chain stayed locked); the next audit entry appended writes it first.';
create index runs_audit_pending_idx on retention.runs (run_id) where audit_pending;

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
