-- Who is acting: the application-supplied actor (SET retention.actor = 'alice@example.com',
-- set by the runner and the CLI) or else the database session user. Recorded on every
-- ledger and audit row so that a shared database role does not hide the person.
create or replace function retention._actor()
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
  select coalesce(nullif(current_setting('retention.actor', true), ''), session_user::text)
$$;
comment on function retention._actor() is
  'Internal. The acting person or system: setting retention.actor if set, else session_user.';
