-- The demo application: a SaaS product with accounts, tokens, logs, webhooks, meeting
-- transcripts, and a property-management module that soft-deletes its records.
drop schema if exists auth, ops, meet, realty cascade;
create schema auth;
create schema ops;
create schema meet;
create schema realty;

create table auth.users (
  id            bigint primary key,
  org_id        text not null,
  email         text not null unique,
  name          text,
  created_at    timestamptz not null,
  last_login_at timestamptz not null,
  deleted_at    timestamptz,
  phone         text,
  settings      jsonb,
  avatar_url    text,         -- a file in object storage (docs: set_object_column)
  scrubbed_at   timestamptz   -- when a scrub policy rewrote the personal data (docs: scrub)
);
create index on auth.users (last_login_at) where deleted_at is null;
create table auth.sessions (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references auth.users on delete cascade,
  token_hash text not null,
  expires_at timestamptz not null
);
create table auth.refresh_tokens (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references auth.users on delete cascade,
  expires_at timestamptz not null
);
create table auth.password_reset_tokens (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references auth.users on delete cascade,
  created_at timestamptz not null
);
create table auth.login_history (
  id         bigint generated always as identity primary key,
  user_id    bigint not null references auth.users on delete cascade,
  ip         inet,
  logged_in_at timestamptz not null
);
create table auth.failed_logins (
  id           bigint generated always as identity primary key,
  email        text not null,
  attempted_at timestamptz not null
);

create table ops.webhook_events (
  id         bigint generated always as identity primary key,
  status     text not null check (status in ('pending', 'processed', 'failed')),
  payload    jsonb,
  created_at timestamptz not null
);
create table ops.app_logs (
  id bigint generated always as identity primary key,
  user_id bigint, message text, logged_at timestamptz not null);
create table ops.error_logs (
  id bigint generated always as identity primary key,
  user_id bigint, message text, logged_at timestamptz not null);
create table ops.audit_logs (
  id bigint generated always as identity primary key,
  user_id bigint, event text, logged_at timestamptz not null);
-- HTTP request logs, partitioned by month (as pg_partman would): retention drops whole
-- partitions. Monthly partitions from six months back to next month, and a default one.
create table ops.request_logs (
  id bigint generated always as identity, user_id bigint, path text, status int,
  requested_at timestamptz not null, primary key (id, requested_at)) partition by range (requested_at);
create index on ops.request_logs (requested_at);
do $$
declare m timestamptz;
begin
  for m in select generate_series(date_trunc('month', now() - interval '6 months'),
                                  date_trunc('month', now() + interval '1 month'), interval '1 month') loop
    execute format('create table ops.%I partition of ops.request_logs for values from (%L) to (%L)',
                   'request_logs_p' || to_char(m, 'YYYYMMDD'), m, m + interval '1 month');
  end loop;
end $$;
create table ops.request_logs_default partition of ops.request_logs default;

-- Transcripts of anonymous users (no user id) go after 7 days, and with them their
-- meetings and recordings, through the application's ON DELETE CASCADE keys.
create table meet.transcripts (
  id         bigint primary key,
  user_id    bigint references auth.users on delete set null,
  created_at timestamptz not null
);
create table meet.meetings (
  id            bigint primary key,
  transcript_id bigint not null references meet.transcripts on delete cascade,
  title         text
);
-- storage_key names the recording's file in object storage (a directory in the demo):
-- registered with retention.set_object_column, the file goes with its row.
create table meet.recordings (
  id          bigint primary key,
  meeting_id  bigint not null references meet.meetings on delete cascade,
  bytes       bigint,
  storage_key text
);
create index on meet.meetings (transcript_id);
create index on meet.recordings (meeting_id);
create index on meet.recordings (storage_key);

create table realty.properties (
  id bigint primary key, address text, deleted_at timestamptz);
create table realty.leases (
  id bigint primary key, property_id bigint, deleted_at timestamptz);
create table realty.maintenance_requests (
  id bigint primary key, property_id bigint, deleted_at timestamptz);
create table realty.inspections (
  id bigint primary key, property_id bigint, deleted_at timestamptz);
create table realty.documents (
  id bigint primary key, property_id bigint, deleted_at timestamptz);

-- The indexes pg-retention's batches walk (retention.check_setup() lists missing ones).
create index on auth.sessions (expires_at);
create index on auth.refresh_tokens (expires_at);
create index on auth.password_reset_tokens (created_at);
create index on auth.login_history (logged_in_at);
create index on auth.failed_logins (attempted_at);
create index on ops.webhook_events (created_at);
create index on ops.app_logs (logged_at);
create index on ops.error_logs (logged_at);
create index on ops.audit_logs (logged_at);
create index on meet.transcripts (created_at);
create index on realty.properties (deleted_at);
create index on realty.leases (deleted_at);
create index on realty.maintenance_requests (deleted_at);
create index on realty.inspections (deleted_at);
create index on realty.documents (deleted_at);

-- The runner role gets exactly what its policies need (see retention.check_setup()).
grant usage on schema auth, ops, meet, realty to retention_runner;
grant select, delete on all tables in schema auth, ops, meet, realty to retention_runner;
grant update (expires_at) on auth.sessions, auth.refresh_tokens to retention_runner;
grant update (created_at) on auth.password_reset_tokens, meet.transcripts to retention_runner;
grant update (logged_in_at) on auth.login_history to retention_runner;
grant update (attempted_at) on auth.failed_logins to retention_runner;
grant update (created_at) on ops.webhook_events to retention_runner;
grant update (logged_at) on ops.app_logs, ops.error_logs, ops.audit_logs to retention_runner;
grant update (deleted_at) on all tables in schema realty to retention_runner;
