-- Who is acting: the application-supplied actor (SET retention.actor = 'alice@example.com',
-- set by the runner and the CLI) or else the database session user. Recorded on every
-- ledger and audit row so that a shared database role does not hide the person.
create or replace function retention_internal._actor()
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
  -- Control characters are dropped: the audit hash separates its fields with \x1e and \x1f.
  select coalesce(nullif(pg_catalog.regexp_replace(current_setting('retention.actor', true), '[[:cntrl:]]', '', 'g'), ''),
                  session_user::text)
$$;
comment on function retention_internal._actor() is
  'Internal. The acting person or system: setting retention.actor if set, else session_user.';
