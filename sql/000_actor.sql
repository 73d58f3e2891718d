-- The characters a caller's name or note may not hold: control characters (the audit
-- hash separates its fields with \x1e and \x1f), and the invisible, joining, filler and
-- direction-changing ones that make a name read as another ('alice' and a soft hyphen,
-- 'mallory' and U+202E then 'nimda'): format characters, line and paragraph separators,
-- variation selectors, tag characters, Hangul and Mongolian fillers. One regular
-- expression class, for _actor, _printable and request references.
create or replace function retention_internal._hidden_chars()
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select '[[:cntrl:]\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u2028-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB\U0001D173-\U0001D17A\U000E0000-\U000E007F\U000E0100-\U000E01EF]'::text
$$;
comment on function retention_internal._hidden_chars() is
  'Internal. A regular-expression class of the characters a caller''s name or note may not hold (control, invisible, joining, filler and direction-changing characters).';

-- Who is acting: the application-supplied actor (SET retention.actor = 'alice@example.com',
-- set by the runner and the CLI) or else the database session user. Recorded on every
-- ledger and audit row so that a shared database role does not hide the person.
create or replace function retention_internal._actor()
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  -- Control characters are dropped (the audit hash separates its fields with \x1e and
  -- \x1f), and so are invisible and direction-changing ones (which make a name read as
  -- another: 'mallory' and U+202E then 'nimda'); at most 200 characters.
  select coalesce(nullif(pg_catalog.left(pg_catalog.regexp_replace(current_setting('retention.actor', true),
                                                                   retention_internal._hidden_chars(), '', 'g'),
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
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select p_text is not null and length(p_text) between 1 and p_max and btrim(p_text) <> ''
     and p_text !~ retention_internal._hidden_chars()
$$;
comment on function retention_internal._printable(text, integer) is
  'Internal. Whether a caller''s name or note is 1 to p_max printable characters (no control, invisible or direction-changing characters).';

-- A free-text note that enters the permanent audit log (a hold's or exemption's reason, a
-- decision's comment, a policy's description): at most p_max characters, and no control
-- (but line breaks and tabs), invisible or direction-changing characters, which would let
-- a reason read otherwise in active_holds or the audit log than it was written (round
-- atk64 F5). Refused with p_errcode, naming p_what. NULL and blank are the caller's to judge.
create or replace function retention_internal._check_note(p_text text, p_max integer, p_what text, p_errcode text)
returns void
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_text is not null
     and (length(p_text) > p_max
          or pg_catalog.translate(p_text, E'\n\r\t', '   ') ~ retention_internal._hidden_chars()) then
    raise exception '% must be at most % characters, without control, invisible or direction-changing characters', p_what, p_max
      using errcode = p_errcode,
            hint = 'Line breaks and tabs are kept; write the text plainly (it stays in the audit log for good).';
  end if;
end
$$;
comment on function retention_internal._check_note(text, integer, text, text) is
  'Internal. Refuses (p_errcode) a free-text note over p_max characters or with control (other than line breaks and tabs), invisible or direction-changing characters.';

-- A text a program wrote (an error of a store, a verifier's detail), as evidence may keep
-- it: at most p_max characters, its control (but line breaks and tabs), invisible and
-- direction-changing characters each shown as U+FFFD. Refused, it would leave the step it
-- settles unsettled; kept as given, U+202E or the audit hash's separators went into the
-- append-only log (round atk97 F1, F6).
create or replace function retention_internal._plain_text(p_text text, p_max integer)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  -- Line breaks and tabs stand aside (as private-use characters) while the others go.
  select pg_catalog.left(pg_catalog.translate(pg_catalog.regexp_replace(pg_catalog.translate(p_text, E'\n\r\t', E'\uE000\uE001\uE002'),
                                                                        retention_internal._hidden_chars(), E'\uFFFD', 'g'),
                                              E'\uE000\uE001\uE002', E'\n\r\t'), p_max)
$$;
comment on function retention_internal._plain_text(text, integer) is
  'Internal. A program''s text as evidence keeps it: at most p_max characters, control (but line breaks and tabs), invisible and direction-changing characters replaced by U+FFFD.';

-- The text of the client's statement the checks below read: current_query(), or for an
-- EXECUTE the text of the prepared statement it names, for a FETCH or MOVE the text of the
-- cursor it names (psql with FETCH_COUNT sends FETCH ... FROM _psql_cursor: round atk149
-- F2). Only that one: any prepared statement or cursor of the session counted before, and
-- the application's code can open one (F1). NULL when there is no client statement (a
-- logical replication apply, a background worker: F4); an empty array when the named
-- statement or cursor is not found.
create or replace function retention_internal._client_statements()
returns text[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_query text := pg_catalog.current_query();
  v_name  text;
begin
  if v_query is null then
    return null;
  end if;
  if v_query ~* '^\s*execute\M' then
    v_name := (pg_catalog.regexp_match(v_query, '^\s*execute\s+("(?:[^"]|"")+"|[^\s(;]+)', 'i'))[1];
  elsif v_query ~* '^\s*(fetch|move)\M' then
    v_name := (pg_catalog.regexp_match(v_query, '("(?:[^"]|"")+"|[^\s;"]+)\s*;?\s*$'))[1];
  else
    return array[v_query];
  end if;
  v_name := case when v_name ~ '^"' then pg_catalog.replace(pg_catalog.substr(v_name, 2, pg_catalog.length(v_name) - 2), '""', '"')
                 else pg_catalog.lower(v_name) end;
  if v_query ~* '^\s*execute\M' then
    return array(select s.statement from pg_catalog.pg_prepared_statements s where s.name = v_name);
  end if;
  return array(select c.statement from pg_catalog.pg_cursors c where c.name = v_name);
end
$$;
comment on function retention_internal._client_statements() is
  'Internal. The client statement''s text for the callers'' checks: current_query(), or the named prepared statement''s (EXECUTE) or cursor''s (FETCH, MOVE) text; NULL without a client statement; empty when the name is not found.';
revoke all on function retention_internal._client_statements() from public;

-- 42501 unless the routine that calls this was called by a client's statement (or by
-- another routine of the retention schemas): a decision a person takes (an approval, a
-- hold, a policy's or a rule's change) is never made by code that ran inside their
-- session on their behalf — a row security policy's, a trigger's, a view's, a default's
-- or a DO block's. The application had its function, run by a row security policy as an
-- approver reviewed the proposal's rows, approve the proposal in the approver's name (and,
-- as an admin read the table, switch the approval gate off and release a legal hold):
-- round atk120 F2. Two checks:
--  * the call stack (PG_CONTEXT): every frame above the routine is one of the retention
--    schemas' PL/pgSQL functions;
--  * the client's statement (current_query()) names the outermost of them: a SQL function
--    of one SELECT, which the planner inlines, leaves no frame, and its call sits in the
--    statement that read the table (round atk123 F1).
-- A statement that both reads the application's tables and names the routine is the
-- client's own choice to make.
create or replace function retention_internal._check_called_directly(p_what text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ctx   text;
  v_frame text;
  v_outer text;
  v_texts text[] := retention_internal._client_statements();
begin
  get diagnostics v_ctx = pg_context;
  -- Lines 1-3: this function, the statement that called it, the routine it guards.
  select l into v_frame
    from unnest(pg_catalog.string_to_array(v_ctx, E'\n')) with ordinality c(l, n)
   where c.n > 3
     and (c.l ~ '^(PL/\S+|SQL) function ' or c.l ~ '^\S+ function ')
     and c.l !~ '^PL/pgSQL function retention(_internal)?\.'
   order by c.n
   limit 1;
  if v_frame is not null then
    raise exception 'cannot % from inside another function (%)', p_what, v_frame
      using errcode = '42501',
            hint = 'Call it in a statement of your own (psql, the CLI): a decision is not made by code that runs in your session on your behalf, such as a row security policy''s, a trigger''s or a view''s function.';
  end if;
  -- The outermost routine of the retention schema's on the stack.
  select m[1] into v_outer
    from unnest(pg_catalog.string_to_array(v_ctx, E'\n')) with ordinality c(l, n)
   cross join lateral pg_catalog.regexp_match(c.l, '^PL/pgSQL function retention\.([a-z_0-9]+)\(') m
   where c.n >= 3
   order by c.n desc
   limit 1;
  if v_outer is not null and v_texts is null then
    raise exception 'cannot % without a client''s statement that calls retention.%', p_what, v_outer
      using errcode = '42501',
            hint = 'A decision is made by a statement of a person or of the worker, not by code a logical replication apply or a background worker runs.';
  end if;
  if v_outer is not null
     and not exists (select from unnest(v_texts) t(q) where t.q ~* ('(^|[^a-z0-9_$])' || v_outer || '("|\s)*\(')) then
    raise exception 'cannot % from inside a statement that does not call retention.%', p_what, v_outer
      using errcode = '42501',
            hint = 'Call it in a statement of your own (psql, the CLI): a decision is not made by code that runs in your session on your behalf, such as a row security policy''s or a view''s function inlined into your query.';
  end if;
end
$$;
comment on function retention_internal._check_called_directly(text) is
  'Internal. 42501 unless the calling routine was called by a client''s statement that names it (or by a PL/pgSQL routine of the retention schemas called so): not by a row security policy''s, trigger''s, view''s or DO block''s code run in the session, nor by an inlined SQL function in a statement that reads a table.';
revoke all on function retention_internal._check_called_directly(text) from public;

-- Another role's code that a reader answering by the session login's rights is called
-- from, described; NULL when there is none. The application's code run in an admin's
-- session (an index expression, a trigger, a view's function, its SECURITY DEFINER
-- function) must not read what the admin may read (round atk137: it copied every erasure
-- request into its own table). Two checks:
--  * the call stack: every function frame is pg-retention's PL/pgSQL, a DO block, (p_self)
--    the reader's own SQL function frame just after this one, or a PL/pgSQL function of
--    the login's: one whose name, as the frame prints it (with its schema, or without
--    where it was on the search path when it was compiled), no function of another role
--    and none of the system's has (an application's app.lower(text) printed as
--    lower(text) is not pg_catalog's: round atk145 F2, F3), and whose statement nearest
--    the reader names it (round atk148 F1: a rule or a view in it leaves no frame). Any
--    other frame (another role's function or trigger, any other SQL function) is another
--    role's code;
--  * unless the login's own PL/pgSQL function is on the stack, the client's statement
--    names the outermost pg-retention routine on the stack, or else one of p_names (the
--    reader and the views over it): a view of the application's that calls the reader
--    leaves no frame, and hands each row it reads to the application's function after
--    the reader returns (round atk143 F1). A statement that executes a prepared statement
--    or fetches from a cursor is judged by that statement's text (round atk145 F4). A DO
--    block is judged by its text (round atk145 F1: one reading the application's view).
drop function if exists retention_internal._foreign_frame(text);
create or replace function retention_internal._foreign_frame(p_self text, p_names text[])
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ctx   text;
  v_own   boolean := false;
  v_outer text;
  v_texts text[] := retention_internal._client_statements();
  v_me    oid := (select r.oid from pg_catalog.pg_roles r where r.rolname = session_user);
  v_sig   text;
  v_name  text;
  v_chunk text := '';
  v_last  text := '';
  f       record;
begin
  get diagnostics v_ctx = pg_context;
  -- The names a statement that calls the reader names: the outermost pg-retention
  -- routine on the stack, else the reader and the views over it.
  select m[1] into v_outer
    from unnest(pg_catalog.string_to_array(v_ctx, E'\n')) with ordinality c(l, n)
   cross join lateral pg_catalog.regexp_match(c.l, '^PL/pgSQL function retention\.([a-z_0-9]+)\(') m
   where c.n > 1
   order by c.n desc
   limit 1;
  for f in select x.l, x.n from unnest(pg_catalog.string_to_array(v_ctx, E'\n')) with ordinality x(l, n) where x.n > 1 order by x.n loop
    if f.l !~ '^(PL/\S+|SQL) function ' and f.l !~ '^\S+ function ' then
      -- The text of the statement the next frame out was running (over several lines).
      v_chunk := v_chunk || E'\n' || f.l;
      continue;
    end if;
    v_last := v_chunk;
    v_chunk := '';
    continue when f.l ~ '^PL/pgSQL function retention(_internal)?\.';
    continue when f.n = 2 and p_self is not null and f.l ~ ('^SQL function "' || p_self || '" statement \d+$');
    continue when f.l ~ '^PL/pgSQL function inline_code_block line \d+';
    v_sig := (pg_catalog.regexp_match(f.l, '^PL/pgSQL function (.+\)) line \d+'))[1];
    v_name := pg_catalog.btrim((pg_catalog.regexp_match(v_sig, '([^.(]+)\('))[1], '"');
    -- The login's own: every function the frame's name may be (with its schema, or
    -- without) is the login's, and none is the system's.
    if v_sig is not null
       and exists (select from pg_catalog.pg_proc p
                     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                    where p.proname = v_name
                      and v_sig in (p.oid::regprocedure::text,
                                    pg_catalog.substr(p.oid::regprocedure::text, pg_catalog.length(pg_catalog.quote_ident(n.nspname)) + 2)))
       and not exists (select from pg_catalog.pg_proc p
                         join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                        where p.proname = v_name
                          and v_sig in (p.oid::regprocedure::text,
                                        pg_catalog.substr(p.oid::regprocedure::text, pg_catalog.length(pg_catalog.quote_ident(n.nspname)) + 2))
                          and (p.proowner <> v_me or n.nspname in ('pg_catalog', 'information_schema'))) then
      -- The login's own function nearest the reader must call it by name: a rule or a view
      -- of the application's in its statement reads the reader without a frame of its own
      -- (round atk148 F1: an admin's function that wrote a row, a rule on the table read).
      if not v_own and not exists (select from unnest(case when v_outer is not null then array[v_outer] else p_names end) x(name)
                                    where v_last ~* ('(^|[^a-z0-9_$])' || x.name || '([^a-z0-9_$]|$)')) then
        return format('a statement of %s that does not name retention.%s, such as a rule''s or a view''s', v_sig, coalesce(v_outer, p_names[1]));
      end if;
      v_own := true;
      continue;
    end if;
    return f.l;
  end loop;
  -- Called from the login's own function: its own code.
  if v_own then
    return null;
  end if;
  if v_texts is null then
    return 'code run without a client''s statement (a logical replication apply, a background worker)';
  end if;
  if not exists (select from unnest(case when v_outer is not null then array[v_outer] else p_names end) x(name)
                     cross join unnest(v_texts) t(q)
                      where t.q ~* ('(^|[^a-z0-9_$])' || x.name || '([^a-z0-9_$]|$)')) then
    return format('a statement that does not name retention.%s, such as a view''s', coalesce(v_outer, p_names[1]));
  end if;
  return null;
end
$$;
comment on function retention_internal._foreign_frame(text, text[]) is
  'Internal. Another role''s code a reader answering by the session login''s rights is called from (a function frame neither pg-retention''s, a DO block nor the login''s own, the login''s own function nearest the reader running a statement that does not name it, or, without the login''s own function on the stack, a client statement — a prepared statement''s or a cursor''s for EXECUTE and FETCH — that names neither the outermost pg-retention routine on the stack nor one of p_names), described; NULL when there is none.';
revoke all on function retention_internal._foreign_frame(text, text[]) from public;

-- 42501 naming the frame _foreign_frame found (p_frame), if any.
create or replace function retention_internal._check_reader(p_what text, p_frame text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_frame is not null then
    raise exception 'cannot % from inside another role''s code (%)', p_what, p_frame
      using errcode = '42501',
            hint = 'It answers by your login''s rights: call it in a statement of your own that names it (psql, the CLI) or from a function your login owns, not through code of another role that runs in your session (an index expression, a trigger, a view or its function).';
  end if;
end
$$;
comment on function retention_internal._check_reader(text, text) is
  'Internal. 42501 when p_frame (from _foreign_frame) names another role''s code calling a reader that answers by the session login''s rights.';
revoke all on function retention_internal._check_reader(text, text) from public;
