-- Whether p_text holds a value of four characters or more of the row of p_table whose key
-- column p_col has p_key, without case and with runs of blanks as one: its text columns
-- (citext and other string types too), numbers (a phone number kept as bigint), uuids and
-- times, each as its type's output function writes it (format's %s: no cast of another
-- role's runs as the owner). Round atk72 F1.
create or replace function retention_internal._names_row(p_table regclass, p_col name, p_key text, p_text text)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set extra_float_digits = 1
as $$
declare
  v_cols  text;
  v_hit   boolean;
begin
  if p_text is null or p_key is null then
    return false;
  end if;
  -- Each value as the erasure looks for it in messages (_value_pieces_sql): an array's
  -- elements, a JSON column's strings, numbers and keys, a composite's fields, a range's
  -- bounds, however deep they nest, a network address too (rounds atk78 F4, atk81 F3);
  -- not intervals, which name nobody.
  v_cols := retention_internal._row_pieces_sql(p_table, '{T}');
  if v_cols is null then
    return false;
  end if;
  -- In one Unicode form (an NFD spelling of a name is the same name), as a reader sees
  -- both ('ｕ３＠ｅｘ．ｃｏｍ', 'u3%40ex.com', 'u3@еx.com' with a Cyrillic е, 'Zoe' for 'Zoë':
  -- rounds atk83 F7, atk86 F2), and loosely: other encodings, blanks and separators,
  -- words in another order, a phone number in another format (_text_names_value, round
  -- atk92 F1).
  execute format('select exists (select from %s t cross join lateral unnest(%s) v(v)
                                 where t.%I = $1::%s and retention_internal._text_names_value($2, v.v collate "default"))',
                 retention_internal._reach_scan(p_table), v_cols, p_col,
                 (select k.key_type from retention_internal._single_key(p_table) k))
    into v_hit
    using p_key, p_text;
  return v_hit;
end
$$;
comment on function retention_internal._names_row(regclass, name, text, text) is
  'Internal. Whether a text holds a value (4+ characters: text, number, uuid, time, and the pieces of arrays, composites, ranges and JSON) of a subject''s row, as _text_names_value compares them: a request''s reference must not.';

-- Files an erasure request for the data subject whose row in p_subject_table has primary
-- key p_subject_id, due p_due_at (default 30 days). The subject must exist. The audit
-- log, which is kept for good, records the request by the subject's random token only
-- (subject_hash), never the key or who asked; the erasure unlinks the token. p_reference
-- is the application's own reference (an opaque ticket id, at most 200 characters, not
-- personal data): the erasure_completed notification hands it back, so the application
-- can confirm to the person without pg-retention holding their contact data.
create or replace function retention.request_erasure(
  p_subject_table text,
  p_subject_id    text,
  p_requested_by  text,
  p_due_at        timestamptz default null,
  p_reference     text default null
)
returns retention.erasure_requests
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_table regclass;
  v_pk    text;
  v_type  text;
  v_req   retention.erasure_requests;
  v_stored text;
begin
  -- Filed by the login, not by code that runs in its session: an application's function
  -- (an index expression, a trigger) filed requests in an admin's name (round atk137 F1).
  perform retention_internal._check_called_directly('file an erasure request');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  -- The request runs as the schema's owner: the requesting login must itself be able to
  -- read the subject table, without row security hiding people from it.
  select x.rel, x.key_column, x.key_type into v_table, v_pk, v_type
    from retention_internal._subject_table(p_subject_table, 'file requests for') x;
  if p_requested_by is null or btrim(p_requested_by) = '' then
    raise exception 'an erasure request needs who asked for it'
      using errcode = 'RT029', hint = 'E.g. p_requested_by => ''support ticket 4711'' or the requester''s role.';
  end if;
  if not retention_internal._printable(p_requested_by, 500) then
    raise exception 'who asked must be 1 to 500 printable characters'
      using errcode = 'RT029', hint = 'E.g. p_requested_by => ''support ticket 4711'' or the requester''s e-mail address, without control, invisible or direction-changing characters.';
  end if;
  -- Printable: no control or direction-changing characters (which could make it read as
  -- another reference in a notification or a log).
  if p_reference is not null and (length(p_reference) not between 1 and 200 or p_reference ~ '[[:cntrl:]]'
                                   or p_reference ~ retention_internal._hidden_chars()
                                   or btrim(p_reference) = '') then
    raise exception 'the reference must be 1 to 200 printable characters'
      using errcode = 'RT029', hint = 'Give the application''s own id for the request (e.g. a ticket number), or leave it NULL.';
  end if;
  -- It is kept after the erasure, which forgets who asked: it must not be, or hold, who
  -- asked (round atk92 F1b: 'ticket of alice@example.com' kept her address).
  if p_reference is not null and (lower(btrim(p_reference)) = lower(btrim(p_requested_by))
                                  or retention_internal._text_names_value(p_reference, p_requested_by)) then
    raise exception 'the reference holds who asked'
      using errcode = 'RT029', hint = 'The reference stays after the erasure and must not name the person: give the application''s own id for the request (e.g. a ticket number).';
  end if;
  if p_due_at is not null and (p_due_at <= pg_catalog.clock_timestamp() or not isfinite(p_due_at)) then
    raise exception 'due date % is not a moment in the future', p_due_at
      using errcode = 'RT029', hint = 'Leave it NULL for the default of 30 days.';
  end if;
  -- A deadline is the law's, not the filer's: one month, extended by two at most (GDPR
  -- Art. 12(3)). A later one would keep the request from ever being overdue.
  if p_due_at > clock_timestamp() + interval '3 months' then
    raise exception 'due date % is more than three months away', p_due_at
      using errcode = 'RT029', hint = 'An erasure is due within a month, three at most where the law allows an extension; leave it NULL for 30 days.';
  end if;
  -- The key as the person's row holds it ('042' is 42; under a case-insensitive collation
  -- 'carol' is the row's 'Carol'; 7.5 is a numeric key's 7.50): the erasure compares other
  -- tables' subject columns with it byte for byte. Named everywhere but here by its token.
  v_stored := retention_internal._stored_key(v_table, p_subject_id);
  if v_stored is null then
    raise exception 'no subject % in %', coalesce(quote_literal(p_subject_id), 'NULL'), v_table
      using errcode = 'RT030', hint = format('p_subject_id is the value of %s.%I of the person''s row.', v_table, v_pk)
                                      || case when exists (select from pg_catalog.pg_inherits i where i.inhparent = v_table)
                                                   and (select c.relkind from pg_catalog.pg_class c where c.oid = v_table) = 'r'
                                              then format(' A row of a table inheriting from %s is that table''s: file the request on it.', v_table)
                                              else '' end;
  end if;
  p_subject_id := v_stored;
  -- The reference is kept after the erasure and handed out in erasure_completed: it must
  -- not be the person's key in any spelling, nor hold it or a text value of their row of
  -- four characters or more (their e-mail address; round atk66 F2).
  -- In its compatibility form as well (both check so).
  if p_reference is not null
     and (retention_internal._names_key(p_reference, v_stored)
          or retention_internal._names_row(v_table, v_pk, v_stored, p_reference)) then
    raise exception 'the reference names the person: it holds their key or a value of their row'
      using errcode = 'RT029', hint = 'The reference stays after the erasure and must not name the person: give the application''s own id for the request (e.g. a ticket number).';
  end if;
  -- Received now, not when its transaction began: a transaction held open would date it
  -- back, into an earlier month's report, and shorten its 30 days (round atk82 F2).
  insert into retention.erasure_requests (subject_table, subject_id, subject_hash, requested_by, due_at, filed_by, reference,
                                          requested_at)
  values (v_table, p_subject_id, retention_internal._subject_token('subject:' || p_subject_id),
          p_requested_by, coalesce(p_due_at, clock_timestamp() + interval '30 days'), session_user, p_reference,
          clock_timestamp())
  returning * into v_req;
  -- The key it is filed on is recorded as naming people: the application giving the table
  -- another primary key later does not take it from subject holds (atk62 F3). (It does
  -- not wait for the batches in flight, as a declaration does: the holds gate held
  -- exclusively in a transaction the requester keeps open stopped every hold and run;
  -- round atk130 F2.)
  perform retention_internal._note_subject_links();
  -- requested_by may be the person (an e-mail address): it stays in the request until the
  -- erasure completes, and never enters the audit log.
  perform retention_internal._append_audit('erasure.requested', 'erasure_request', v_req.request_id::text,
    jsonb_build_object('subject_table', retention.qualified_name(v_table), 'subject_hash', v_req.subject_hash,
                       'filed_by', session_user, 'due_at', v_req.due_at));
  raise notice 'erasure request % filed, due %', v_req.request_id, v_req.due_at;
  return v_req;
end
$$;
comment on function retention.request_erasure(text, text, text, timestamptz, text) is
  'Files an erasure request for the subject row (table, primary key value), due in 30 days unless given, with the application''s own reference (handed back in erasure_completed); audit-logged by the subject''s random token only (subject_hash), which the completed erasure makes unlinkable.';

-- The table an erasure request or an export names as holding the people (p_table), for
-- the session's login: it exists (RT001), the login may read it (42501: the routines run
-- as the owner) with no row security hiding people from it (RT023, p_what says what it
-- could not do; checked before anyone is looked up, so no error tells whether a hidden
-- row exists), and it has a single-column primary key, which names the person (RT029).
create or replace function retention_internal._subject_table(p_table text, p_what text,
                                                    out rel regclass, out key_column text, out key_type text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  rel := retention_internal._resolve_table(p_table, 'Name the table whose row is the data subject, e.g. auth.users.');
  perform retention_internal._check_can_read(rel);
  -- People are rows of an application's table: not of PostgreSQL's catalogs (an erasure
  -- would delete a pg_class row), pg-retention's own tables (their ledger), the job queue
  -- or a temporary table; and a table, not a view.
  if retention_internal._system_namespace((select c.relnamespace from pg_catalog.pg_class c where c.oid = rel))
     or (select c.relkind from pg_catalog.pg_class c where c.oid = rel) not in ('r', 'p') then
    raise exception '% is not an application table', rel
      using errcode = 'RT013', hint = 'Name the table that holds the people, outside the system, retention, job queue and temporary schemas (e.g. auth.users).';
  end if;
  if retention_internal._rls_hides(rel) then
    raise exception 'row-level security on % applies to %: it cannot % people it may not see', rel, session_user, p_what
      using errcode = 'RT023', hint = 'Use a login that bypasses its row-level security.';
  end if;
  select k.key_column, k.key_type into key_column, key_type from retention_internal._single_key(rel) k;
  if key_column is null then
    raise exception '% has no single-column primary key', rel
      using errcode = 'RT029', hint = 'The person is named by their row''s primary key; give the table that holds the people (e.g. auth.users).';
  end if;
end
$$;
comment on function retention_internal._subject_table(text, text) is
  'Internal. The subject table of an erasure request or export, checked for the login (exists, readable, no row security hiding people, single-column key), with its key column and type.';
