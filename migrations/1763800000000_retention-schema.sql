-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1763800000000_retention-schema') then
    raise exception 'migration 1763800000000_retention-schema is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- The retention schema's state: policies, defaults, legal holds, the run ledger and the
-- hash-chained audit log, with the three roles and their table privileges.
-- Routines and views live in sql/ and are re-applied after every migrate.

create schema if not exists retention;
comment on schema retention is 'pg-retention: retention policies, legal holds, batched purges, run ledger and tamper-evident audit log.';

do $$
begin
  if not exists (select from pg_roles where rolname = 'retention_admin') then
    create role retention_admin nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'retention_runner') then
    create role retention_runner nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'retention_auditor') then
    create role retention_auditor nologin;
  end if;
end
$$;

-- Retention periods that policies inherit: one global row and one row per schema.
create table retention.defaults (
  scope       text primary key
              check (scope = 'global' or scope ~ '^schema:.+$'),
  retain      interval not null check (retain > interval '0'),
  updated_at  timestamptz not null default now(),
  updated_by  text not null default session_user
);

create table retention.policies (
  policy_id         bigint generated always as identity primary key,
  name              text not null unique
                    check (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  target            regclass not null,
  action            text not null
                    check (action in ('delete', 'soft_delete', 'purge_soft_deleted')),
  age_column        name not null,
  retain            interval check (retain > interval '0'),
  predicate         text,
  subject_column    name,
  deleted_at_column name,
  batch_size        integer not null default 1000 check (batch_size between 1 and 50000),
  max_rows_per_run  bigint not null default 10000 check (max_rows_per_run between 1 and 1000000000),
  time_budget       interval not null default '10 minutes'
                    check (time_budget > interval '0' and time_budget <= interval '24 hours'),
  lock_timeout      interval not null default '2 seconds'
                    check (lock_timeout > interval '0' and lock_timeout <= interval '1 minute'),
  schedule          text,
  time_zone         text not null default 'UTC',
  enabled           boolean not null default true,
  description       text,
  created_at        timestamptz not null default now(),
  created_by        text not null default session_user,
  updated_at        timestamptz not null default now(),
  updated_by        text not null default session_user,
  check (action <> 'soft_delete' or deleted_at_column is not null)
);
create index policies_target_idx on retention.policies (target);

create table retention.legal_holds (
  hold_id         bigint generated always as identity primary key,
  scope           text not null check (scope in ('table', 'subject', 'policy')),
  target          regclass,
  policy_name     text,
  subject_id      text,
  reason          text not null check (length(btrim(reason)) > 0),
  case_reference  text,
  placed_at       timestamptz not null default now(),
  placed_by       text not null,
  expires_at      timestamptz,
  released_at     timestamptz,
  released_by     text,
  release_reason  text,
  check ((scope = 'table') = (target is not null)),
  check ((scope = 'policy') = (policy_name is not null)),
  check ((scope = 'subject') = (subject_id is not null)),
  check (expires_at is null or expires_at > placed_at),
  check ((released_at is null) = (released_by is null))
);
create index legal_holds_open_subject_idx on retention.legal_holds (subject_id)
  where released_at is null and scope = 'subject';
create index legal_holds_open_idx on retention.legal_holds (scope, target, policy_name)
  where released_at is null;

-- The run ledger: one row per run, one per committed batch.
create table retention.runs (
  run_id          bigint generated always as identity primary key,
  policy_id       bigint references retention.policies (policy_id) on delete set null,
  policy_name     text not null,
  mode            text not null check (mode in ('live', 'dry_run')),
  status          text not null check (status in (
                    'running', 'completed', 'refused', 'already_running',
                    'stopped_time_budget', 'stopped_max_rows', 'stopped_lock_timeout',
                    'stopped_requested', 'failed', 'interrupted')),
  action          text not null,
  as_of           timestamptz not null,
  cutoff          timestamptz not null,
  retain          interval not null,
  retain_source   text not null,
  eligible        bigint,
  held_back       bigint,
  affected        bigint not null default 0,
  batches         integer not null default 0,
  max_rows        bigint,
  forced          boolean not null default false,
  error_code      text,
  error           text,
  started_by      text not null,
  db_user         text not null default session_user,
  job_id          text,
  started_at      timestamptz not null default clock_timestamp(),
  finished_at     timestamptz,
  stop_requested_at timestamptz
);
create index runs_policy_started_idx on retention.runs (policy_id, started_at desc);
create index runs_running_idx on retention.runs (policy_id) where status = 'running';

create table retention.run_batches (
  run_id       bigint not null references retention.runs (run_id) on delete restrict,
  batch_no     integer not null,
  rows         integer not null,
  started_at   timestamptz not null,
  finished_at  timestamptz not null,
  duration_ms  numeric(12, 3) not null,
  oldest_at    timestamptz,
  newest_at    timestamptz,
  primary key (run_id, batch_no)
);

-- Append-only, hash-chained audit log. audit_chain holds the head of the chain so that
-- appends serialise on one row and deleting the newest entries is detectable.
create table retention.audit_log (
  audit_id     bigint primary key,
  occurred_at  timestamptz not null,
  actor        text not null,
  db_user      text not null,
  action       text not null,
  object_type  text not null,
  object_name  text,
  details      jsonb not null default '{}',
  prev_hash    bytea not null,
  row_hash     bytea not null
);

create table retention.audit_chain (
  singleton    boolean primary key default true check (singleton),
  last_id      bigint not null,
  last_hash    bytea not null
);
insert into retention.audit_chain (last_id, last_hash)
values (0, decode(repeat('00', 32), 'hex'));

-- Privileges on state. Routine privileges are granted in sql/ (re-applied on migrate).
revoke all on schema retention from public;
grant usage on schema retention to retention_admin, retention_runner, retention_auditor;
grant retention_runner, retention_auditor to retention_admin;

grant select on all tables in schema retention to retention_admin, retention_auditor;
grant insert, update, delete on retention.policies, retention.defaults, retention.legal_holds
  to retention_admin;
grant select on retention.policies, retention.defaults, retention.legal_holds
  to retention_runner;
grant select, insert, update on retention.runs, retention.run_batches
  to retention_admin, retention_runner;
-- Nobody writes audit_log or audit_chain directly: the SECURITY DEFINER append routine does.

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
