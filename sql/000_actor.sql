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
  -- Control characters are dropped (the audit hash separates its fields with \x1e and
  -- \x1f), and so are invisible and direction-changing ones (which make a name read as
  -- another: 'mallory' and U+202E then 'nimda'); at most 200 characters.
  select coalesce(nullif(pg_catalog.left(pg_catalog.regexp_replace(current_setting('retention.actor', true),
                                                                   '[[:cntrl:]\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]', '', 'g'),
                                         200), ''),
                  session_user::text)
$$;
comment on function retention_internal._actor() is
  'Internal. The acting person or system: setting retention.actor if set, else session_user.';

-- Whether a name or note given by a caller (who asked, who placed a hold) is 1 to p_max
-- printable characters: no control characters and no invisible or direction-changing
-- ones, which would make it read as something else in a log, a report or a notification.
create or replace function retention_internal._printable(p_text text, p_max integer)
returns boolean
language sql
immutable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
  select p_text is not null and length(p_text) between 1 and p_max and btrim(p_text) <> ''
     and p_text !~ '[[:cntrl:]\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]'
$$;
comment on function retention_internal._printable(text, integer) is
  'Internal. Whether a caller''s name or note is 1 to p_max printable characters (no control, invisible or direction-changing characters).';
