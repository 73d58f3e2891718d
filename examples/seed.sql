-- About 100,000 rows with realistic ages relative to the demo's reference time: the
-- setting demo.as_of if the session has one (SET demo.as_of = '2026-12-01Z'), else now.
-- random() is seeded so every demo run has the same data. Runs as it is with psql:
--   psql -v ON_ERROR_STOP=1 -f examples/schema.sql -f examples/seed.sql DATABASE
do $$ begin
  perform setseed(0.42);
  perform set_config('demo.as_of', coalesce(nullif(current_setting('demo.as_of', true), ''), now()::text), false);
end $$;

insert into auth.users (id, org_id, email, name, created_at, last_login_at)
select i, 'org-' || (1 + i % 5), format('user%s@example.com', i), format('User %s', i), c,
       greatest(c, current_setting('demo.as_of')::timestamptz - make_interval(days => (i * 37) % 1200))
  from (select i, current_setting('demo.as_of')::timestamptz - make_interval(days => (random() * 900)::int) as c
          from generate_series(1, 2000) i) u;

insert into auth.sessions (user_id, token_hash, expires_at)
select 1 + (i % 2000), md5(i::text), current_setting('demo.as_of')::timestamptz - make_interval(secs => (random() * 120 - 20) * 86400)
  from generate_series(1, 20000) i;
insert into auth.refresh_tokens (user_id, expires_at)
select 1 + (i % 2000), current_setting('demo.as_of')::timestamptz - make_interval(secs => (random() * 120 - 30) * 86400)
  from generate_series(1, 8000) i;
insert into auth.password_reset_tokens (user_id, created_at)
select 1 + (i % 2000), current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 10 * 86400)
  from generate_series(1, 1500) i;
insert into auth.login_history (user_id, ip, logged_in_at)
select 1 + (i % 2000), '10.0.0.0'::inet + (i % 65000), current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 365 * 86400)
  from generate_series(1, 20000) i;
insert into auth.failed_logins (email, attempted_at)
select format('user%s@example.com', i % 2500), current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 90 * 86400)
  from generate_series(1, 5000) i;

insert into ops.webhook_events (status, payload, created_at)
select (array['processed', 'processed', 'processed', 'failed', 'pending'])[1 + i % 5],
       jsonb_build_object('event', 'invoice.paid', 'n', i),
       current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 200 * 86400)
  from generate_series(1, 12000) i;
insert into ops.app_logs (user_id, message, logged_at)
select 1 + (i % 2000), 'GET /api/v1/things 200', current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 60 * 86400)
  from generate_series(1, 12000) i;
insert into ops.error_logs (user_id, message, logged_at)
select 1 + (i % 2000), 'TypeError: cannot read properties of undefined', current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 90 * 86400)
  from generate_series(1, 3000) i;
insert into ops.request_logs (user_id, path, status, requested_at)
select 100 + (i % 2000), '/api/v1/things', 200, current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 180 * 86400)
  from generate_series(1, 20000) i;
insert into ops.request_logs (user_id, path, status, requested_at)
select 42, '/api/v1/account', 200, current_setting('demo.as_of')::timestamptz - make_interval(days => 150 + i)
  from generate_series(1, 3) i;
insert into ops.audit_logs (user_id, event, logged_at)
select 1 + (i % 2000), 'settings.changed', current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 365 * 86400)
  from generate_series(1, 6000) i;

insert into meet.transcripts (id, user_id, created_at)
select i, case when i % 3 = 0 then null else 1 + (i % 2000) end,
       current_setting('demo.as_of')::timestamptz - make_interval(secs => random() * 30 * 86400)
  from generate_series(1, 3000) i;
insert into meet.meetings (id, transcript_id, title)
select i, i, 'Weekly sync' from generate_series(1, 3000) i;
insert into meet.recordings (id, meeting_id, bytes, storage_key)
select i, 1 + (i - 1) / 2, (random() * 1e9)::bigint, format('meetings/%s/%s.webm', 1 + (i - 1) / 2, i)
  from generate_series(1, 6000) i;

insert into realty.properties
select i, format('%s Main St', i), case when i % 4 = 0 then current_setting('demo.as_of')::timestamptz - make_interval(days => (random() * 3650)::int) end
  from generate_series(1, 1000) i;
insert into realty.leases
select i, 1 + i % 1000, case when i % 4 = 0 then current_setting('demo.as_of')::timestamptz - make_interval(days => (random() * 3650)::int) end
  from generate_series(1, 1500) i;
insert into realty.maintenance_requests
select i, 1 + i % 1000, case when i % 3 = 0 then current_setting('demo.as_of')::timestamptz - make_interval(days => (random() * 2000)::int) end
  from generate_series(1, 1500) i;
insert into realty.inspections
select i, 1 + i % 1000, case when i % 3 = 0 then current_setting('demo.as_of')::timestamptz - make_interval(days => (random() * 400)::int) end
  from generate_series(1, 1000) i;
insert into realty.documents
select i, 1 + i % 1000, case when i % 3 = 0 then current_setting('demo.as_of')::timestamptz - make_interval(days => (random() * 400)::int) end
  from generate_series(1, 1000) i;

analyze;
