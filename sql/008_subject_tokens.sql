-- Subject tokens. The audit log is kept for good and notifications leave the database, so
-- neither names a data subject or a row key by its value: they name it by a random token
-- (retention.subject_tokens holds the link, readable by the owner only). The erasure of
-- the subject deletes the link (_forget_subject), and the token then names nobody. A hash
-- would not do: the sha256 of an integer key is reversed by trying every id. A token is
-- made per scope and value: 'subject:<id>' for a data subject (requests and subject holds,
-- which match the id in every table), '<schema.table>:<key>' for a row (exemptions), so a
-- row of another table with the same key never shares the person's token.
create or replace function retention_internal._subject_token(p_subject text)
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_token text;
begin
  if p_subject is null then
    return null;
  end if;
  insert into retention.subject_tokens (subject, token)
  values (p_subject, 'subj_' || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''))
  on conflict (subject) do nothing
  returning token into v_token;
  if v_token is null then
    select t.token into strict v_token from retention.subject_tokens t where t.subject = p_subject;
  end if;
  return v_token;
end
$$;
comment on function retention_internal._subject_token(text) is
  'Internal. The random token that names a subject id or row key in the audit log and notifications (made on first use).';

-- p_text with every occurrence of p_value cut out and p_with put in, without case (both
-- lowered under fold), by position: where lowering changes the text's length (a letter
-- whose lower case is two), an occurrence is cut only as written. For values too long for
-- a regular expression (_erase_in).
create or replace function retention_internal._cut_out(p_text text, p_value text, p_with text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  -- Any sigma for any sigma, as _erase_in matches (round atk157 F6).
  v_low   text := pg_catalog.translate(pg_catalog.lower(p_text collate retention_internal.fold), 'ς', 'σ');
  v_val   text := pg_catalog.translate(pg_catalog.lower(p_value collate retention_internal.fold), 'ς', 'σ');
  v_out   text[] := '{}';
  v_from  integer := 1;
  v_at    integer;
begin
  if p_text is null or p_value is null or p_value = '' then
    return p_text;
  end if;
  if pg_catalog.length(v_low) <> pg_catalog.length(p_text) or pg_catalog.length(v_val) <> pg_catalog.length(p_value) then
    return pg_catalog.replace(p_text, p_value, p_with);
  end if;
  loop
    v_at := pg_catalog.strpos(pg_catalog.substr(v_low, v_from), v_val);
    exit when v_at = 0;
    v_out := pg_catalog.array_append(v_out, pg_catalog.substr(p_text, v_from, v_at - 1) || p_with);
    v_from := v_from + v_at - 1 + pg_catalog.length(p_value);
  end loop;
  return pg_catalog.array_to_string(pg_catalog.array_append(v_out, pg_catalog.substr(p_text, v_from)), '');
end
$$;
comment on function retention_internal._cut_out(text, text, text) is
  'Internal. A text with every occurrence of a value replaced, without case, by position (as written where lowering changes lengths): for values too long for a regular expression.';
revoke all on function retention_internal._cut_out(text, text, text) from public;

-- A message with the values erased: p_how 'quoted' replaces their quoted occurrences
-- ('v', "v", (v), as PostgreSQL's and our messages quote them: a bare 7 is also a batch
-- number); 'bare' every occurrence of values of four characters or more, without case; 'word' their
-- whole-word occurrences (letters, digits, _ only: for short values in messages about the
-- person's rows). Each is replaced by p_with, the longest first: a first name replaced
-- before the full name it begins would leave the surname (round atk66 F11).
create or replace function retention_internal._erase_in(p_text text, p_values text[], p_with text, p_how text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v     text;
  r     text := p_text;
  v_low text;
  -- An apostrophe after a letter, however a message spells it (&#39; &#x27; &apos; \'
  -- &rsquo; &#8217; ‘ ` and SQL's doubled ''): a made-up brien@example.org erased
  -- o&#39;brien@example.org (round atk157 F1).
  v_apos constant text := '(?<![[:alnum:]](?:[''’‘`]|''''|\\''|&#0*39;|&#[xX]0*27;|&apos;|&rsquo;|&lsquo;|&#0*821[67];|&#[xX]0*201[89];))';
  -- A string's prefix (PostgreSQL's E'...', SQL's N'...', Python's b'...', u'...', r'...',
  -- f'...', rb'...') is no word when its quote closes later on the line (round atk162 F3,
  -- atk166 F1, F2), not right after a quote; a name such as E'Twaun Moore is one (round
  -- atk165 F3), also quoted, 'E'Twaun Moore' (atk166 F6), or with 's after it.
  v_prefix constant text := '(?<=(?:^|[^[:alnum:]_''"])(?:[EeBbUuRrFfNn]|[RrBbFf][RrBbFf])'')';
  v_closed constant text := '(?=[^''\n]*''(?![[:alnum:]]))';
  v_val   text;
  v_start text;
  v_end   text;
begin
  if r is null then
    return null;
  end if;
  foreach v in array coalesce(array(select x from unnest(p_values) x order by pg_catalog.length(x) desc, x), '{}') loop
    continue when v is null or v = '';
    -- A value the text does not hold, lowered as the match below folds case, is passed over
    -- without building its expression (hundreds of a person's values against each message:
    -- round atk125 F7). Lowered again after a replacement.
    if p_how = 'bare' then
      v_low := coalesce(v_low, pg_catalog.translate(pg_catalog.lower(r collate retention_internal.fold), 'ς', 'σ'));
      continue when pg_catalog.strpos(v_low, pg_catalog.translate(pg_catalog.lower(v collate retention_internal.fold), 'ς', 'σ')) = 0;
    end if;
    case p_how
      when 'quoted' then
        r := pg_catalog.replace(r, '''' || pg_catalog.replace(v, '''', '''''') || '''', '''' || p_with || '''');
        r := pg_catalog.replace(r, '''' || v || '''', '''' || p_with || '''');
        r := pg_catalog.replace(r, '"' || v || '"', '"' || p_with || '"');
        r := pg_catalog.replace(r, '(' || v || ')', '(' || p_with || ')');
      when 'bare' then
        continue when pg_catalog.length(v) < 4;
        -- A value too long for one expression (PostgreSQL refuses one of ~50,000 states: a
        -- 48 KB value made every erasure of its person fail; round atk154 F5) is cut out
        -- literally, where the text and its lowered form line up, without case; no boundary
        -- (a value that long identifies on its own).
        if pg_catalog.length(v) > 1000 then
          r := retention_internal._cut_out(r, v, p_with);
          continue;
        end if;
        -- Without case: a message may quote an e-mail address in capitals (round atk72
        -- F5). Every character but letters, digits and blanks escaped: taken literally.
        -- Not inside a longer word, number, name or address: her key 1234 is not the end
        -- of bob's phone number 0113 4961234 (round atk100 F5), 'Ann Smith' not the end of
        -- 'Mary-Ann Smith', ann@example.com not the end of mary.ann@example.com (round
        -- atk104 F1). A full stop after it ends a sentence unless a letter or digit follows.
        -- Without case in every script, whatever the database's collation (fold).
        -- Any sigma for any sigma: case-insensitive matching takes Σ for σ, not for ς
        -- (round atk107 F2). Letters are letters in every script (fold): under a database
        -- collation of C a Greek letter was escaped.
        -- An apostrophe inside a word is part of it: brien@example.org is not the end of
        -- o'brien@example.org, nor Angelo Russo of D'Angelo Russo (round atk154 F7); a quote
        -- before a value is not. Nor is an address the end of one whose local part has
        -- other characters RFC 5322 allows there (a!ann@, a~ann@). PostgreSQL's E'...' (a
        -- string quote_literal writes with backslashes) is a quote, not a word.
        -- A number (a key) is cut out of a longer token that is not a number: a path
        -- /users/4242424.json, user_4242424, cust-4242424 (round atk151 F4), not out of
        -- digits grouped as one number (0113 496-1234). An address is cut out of a name
        -- it is glued to with _ (…@example.org_2026.json).
        v_start := case when v ~ '^[0-9]+$' then '(?<![[:digit:]])(?<![[:digit:]][-. ,/])'
                        when pg_catalog.strpos(v, '@') > 0 then '(?<![[:alnum:]_.%+!#$*^`{|}~-])'
                        else '(?<![[:alnum:]_.@+-])' end;
        v_val := pg_catalog.regexp_replace(pg_catalog.regexp_replace(v collate retention_internal.fold, '([^[:alnum:][:space:]])', '\\\1', 'g'),
                 '\\?[σςΣ]', '[σςΣ]', 'g');
        v_end := case when v ~ '^[0-9]+$' then '(?![[:digit:]])(?![-. ,/][[:digit:]])'
                      when pg_catalog.strpos(v, '@') > 0 then '(?![[:alnum:]@-])(?![.][[:alnum:]])'
                      else '(?![[:alnum:]_@-])(?![.][[:alnum:]])' end
                 -- Nor the start of a letter with its combining marks (NFD's José: round
                 -- atk166 F7).
                 || '(?![\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f])';
        r := pg_catalog.regexp_replace(r collate retention_internal.fold,
                                       case when v ~ '^[0-9]+$' then v_start || v_val || v_end
                                            else '(?:' || v_start || v_apos || v_val || v_end
                                                 || '|' || v_start || v_prefix || v_val || v_end || v_closed || ')' end,
                                       pg_catalog.replace(p_with, '\', '\\'), 'gi');
        -- The lowered text is not made again after each value (it was, for each of the
        -- thousands of values one message may quote: quadratic; round atk154 F6): a value
        -- it still shows that a replacement took away costs one search that finds nothing.
      when 'word' then
        continue when v !~ '^\w+$';
        r := pg_catalog.regexp_replace(r collate retention_internal.fold, '\m' || pg_catalog.regexp_replace(v, '[σςΣ]', '[σςΣ]', 'g') || '\M', p_with, 'gi');
    end case;
  end loop;
  return r;
end
$$;
comment on function retention_internal._erase_in(text, text[], text, text) is
  'Internal. A message with the values replaced: quoted occurrences (quoted), every occurrence of 4+ characters not inside a longer word or number (bare) or whole words (word).';

-- A JSON document with every string or number equal to one of p_exact replaced by the token
-- (a key, a requester), and the quoted occurrences of p_quoted inside other strings (an
-- error message) too.
create or replace function retention_internal._redact_jsonb(p_doc jsonb, p_exact text[], p_quoted text[], p_token text)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  r jsonb;
begin
  case pg_catalog.jsonb_typeof(p_doc)
    when 'object' then
      select coalesce(pg_catalog.jsonb_object_agg(e.key, retention_internal._redact_jsonb(e.value, p_exact, p_quoted, p_token)), '{}')
        into r from pg_catalog.jsonb_each(p_doc) e;
      return r;
    when 'array' then
      select coalesce(pg_catalog.jsonb_agg(retention_internal._redact_jsonb(e.value, p_exact, p_quoted, p_token) order by e.n), '[]')
        into r from pg_catalog.jsonb_array_elements(p_doc) with ordinality e(value, n);
      return r;
    when 'string' then
      if (p_doc #>> '{}') = any (p_exact) then
        return pg_catalog.to_jsonb(p_token);
      end if;
      return pg_catalog.to_jsonb(retention_internal._erase_in(p_doc #>> '{}', p_quoted, p_token, 'quoted'));
    when 'number' then
      if (p_doc #>> '{}') = any (p_exact) then
        return pg_catalog.to_jsonb(p_token);
      end if;
      return p_doc;
    else
      return p_doc;
  end case;
end
$$;
comment on function retention_internal._redact_jsonb(jsonb, text[], text[], text) is
  'Internal. Replaces strings and numbers equal to a value, and quoted occurrences of others inside strings, by a token, throughout a JSON document.';

-- A notification's payload with a person's values replaced (_redact_jsonb). A
-- rows_flagged notice lists rows by key: only a listed row's key equal to one of
-- p_exact becomes the token. Its count, run id and tenant, and the other rows' entries,
-- are evidence about others that merely may equal the key ('2' rows, tenant 2: round
-- atk100 F7); quoted occurrences inside its strings go as anywhere.
create or replace function retention_internal._redact_notice(p_doc jsonb, p_exact text[], p_quoted text[], p_token text)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
begin
  if p_doc ->> 'kind' = 'rows_flagged' and pg_catalog.jsonb_typeof(p_doc -> 'rows') = 'array' then
    return retention_internal._redact_jsonb(p_doc - 'rows', '{}', p_quoted, p_token)
           || pg_catalog.jsonb_build_object('rows',
                (select coalesce(pg_catalog.jsonb_agg(
                          case when pg_catalog.jsonb_typeof(e) = 'object' and e ->> 'key' = any (p_exact)
                               then retention_internal._redact_jsonb(e - 'key', '{}', p_quoted, p_token)
                                    || pg_catalog.jsonb_build_object('key', p_token)
                               else retention_internal._redact_jsonb(e, '{}', p_quoted, p_token) end order by n), '[]')
                   from pg_catalog.jsonb_array_elements(p_doc -> 'rows') with ordinality x(e, n)));
  end if;
  -- Any other notice: its ids, counts and days are evidence about the notice, not values
  -- of the person, whatever number they equal (an overdue notice's request_id and
  -- days_overdue became the token of a person keyed 1: round atk104 F4).
  return retention_internal._redact_jsonb(p_doc, p_exact, p_quoted, p_token)
         || coalesce((select pg_catalog.jsonb_object_agg(e.key, e.value) from pg_catalog.jsonb_each(p_doc) e
                       where pg_catalog.jsonb_typeof(e.value) = 'number'
                         and (e.key ~ '_id$' or e.key in ('count', 'days_overdue', 'rows', 'batches', 'attempt', 'affected', 'held_back',
                                                          'eligible', 'by_request', 'related_rows', 'failed_rows', 'flagged'))), '{}');
end
$$;
comment on function retention_internal._redact_notice(jsonb, text[], text[], text) is
  'Internal. _redact_jsonb for a notification''s payload: in a rows_flagged notice only the listed rows'' keys equal to a value become the token, in any other its numeric ids and counts stay (quoted occurrences go everywhere).';

-- A LIKE pattern matching text that contains the value (as JSON text when p_json: a quote
-- or backslash in the value is escaped there).
create or replace function retention_internal._like_pattern(p_value text, p_json boolean)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select '%' || pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
           case when p_json then pg_catalog.substr(pg_catalog.to_jsonb(p_value)::text, 2,
                                                   pg_catalog.length(pg_catalog.to_jsonb(p_value)::text) - 2)
                else p_value end,
           '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;
comment on function retention_internal._like_pattern(text, boolean) is
  'Internal. A LIKE pattern for text (or JSON text) containing a value.';

-- Where a message of ours goes on to quote the application's own text (a deferred
-- trigger's error, which may name a person's values: round atk66 F4): what follows it is
-- kept in retention.runs (an erasure redacts it there), never in the audit log or the
-- runner's log and job output.
create or replace function retention_internal._quoted_marker()
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select '; it said: '::text
$$;
comment on function retention_internal._quoted_marker() is
  'Internal. The words after which a pg-retention message quotes the application''s own text (kept out of the audit log).';

-- The message of an error as the audit log (kept for good) may keep it: pg-retention's own
-- (RT*), which name objects, never values. Any other — a trigger's RAISE under any code, a
-- data exception ('invalid input syntax … "value"') — may quote a person's data: the audit
-- log has its code, and the message stays in runs.error and the notification, where the
-- person's erasure removes their values.
create or replace function retention_internal._loggable_error(p_code text, p_message text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_code like 'RT%' then pg_catalog.split_part(p_message, retention_internal._quoted_marker(), 1) end
$$;
comment on function retention_internal._loggable_error(text, text) is
  'Internal. An error message when pg-retention raised it (RT*: it names objects, not values), up to the text it quotes from the application (_quoted_marker), else NULL.';

-- Whether an error was raised inside an application's code: its context (PG_EXCEPTION_CONTEXT,
-- innermost frame first) names a PL function outside pg-retention's schemas — a trigger
-- function, a function a default, check or index calls, a DO block. Such code raises any
-- SQLSTATE it likes, an RT one or a harmless-looking one ('45000', '42501'), with a person's
-- data for a message (round atk70): that an error's code is pg-retention's proves nothing.
-- Only the owner creates functions in retention and retention_internal, and PostgreSQL
-- prints a function of any other schema (pg_temp's too) under that schema's name; a
-- statement's text in the context may hold lines that look like frames, but cannot hide the
-- application's own frame.
create or replace function retention_internal._application_raised(p_context text)
returns boolean
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select exists (select from pg_catalog.regexp_split_to_table(coalesce(p_context, ''), E'\n') l
                  where l ~ '^PL/[A-Za-z0-9]+ function '
                    and l !~ '^PL/pgSQL function (retention|retention_internal)[.]')
$$;
comment on function retention_internal._application_raised(text) is
  'Internal. Whether an error''s context (PG_EXCEPTION_CONTEXT) shows it was raised inside a function outside pg-retention''s schemas (an application''s code, which may raise any SQLSTATE with any message).';

-- An error as a run records it (runs.error): one the application's code raised keeps its
-- message, and its hint, after _quoted_marker, behind words of pg-retention's own, so that
-- the audit log, the worker's log and a webhook keep only those words; runs.error keeps it
-- all, and a person's erasure removes their values there.
create or replace function retention_internal._recorded_error(p_code text, p_message text, p_hint text, p_context text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when retention_internal._application_raised(p_context)
              then pg_catalog.format('the application''s code raised an error (SQLSTATE %s)%s%s%s', p_code,
                                     retention_internal._quoted_marker(), p_message,
                                     ' (hint: ' || nullif(p_hint, '') || ')')
              else p_message end
$$;
comment on function retention_internal._recorded_error(text, text, text, text) is
  'Internal. An error''s message as a run records it: one raised in an application''s code (_application_raised) follows _quoted_marker (with its hint), behind pg-retention''s own words.';

-- An error of a run as a notification's payload carries it out of the database (a webhook),
-- by the rule of the worker's log (runner/log.ts, loggableMessage): up to _quoted_marker
-- (what follows is the application's), and only of pg-retention's own (RT*) and of the
-- SQLSTATE classes that name no values (connections, authorization, rollbacks, transaction
-- state, resources, locks, cancels, system errors, a missing privilege); any other class
-- may quote a row's values (a data exception, RAISE, to_tsquery's syntax error).
create or replace function retention_internal._outbound_error(p_code text, p_message text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_message is null then null
              when p_code ~ '^(RT|08|28|3D|40|25|53|55|57|58)' or p_code = '42501'
                then pg_catalog.split_part(p_message, retention_internal._quoted_marker(), 1)
              else pg_catalog.format('SQLSTATE %s: message withheld (it may quote a row''s values; retention.runs keeps it)', p_code) end
$$;
comment on function retention_internal._outbound_error(text, text) is
  'Internal. A run''s error as a notification carries it out of the database: up to _quoted_marker, and only for RT* and the SQLSTATE classes that name no values (the worker''s log keeps the same).';

-- An error as a warning of preview() or run_all() names it (warnings reach the server's
-- log, where no erasure reaches): by _outbound_error's rule (and an object that does not
-- exist: a column renamed since the policy was set), with its SQLSTATE; a message
-- withheld says how to see it (p_alone: the call that raises it whole, to its caller
-- only). Quoted whole, an application's error put a person's values in the log (round
-- atk104).
create or replace function retention_internal._warned_error(p_code text, p_message text, p_context text, p_alone text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_code ~ '^(RT|08|28|3D|40|25|53|55|57|58)' or p_code in ('42501', '42703', '42P01', '42704', '42883')
              then pg_catalog.format('%s (%s)', pg_catalog.split_part(retention_internal._recorded_error(p_code, p_message, null, p_context),
                                                                    retention_internal._quoted_marker(), 1), p_code)
              else pg_catalog.format('SQLSTATE %s: message withheld (it may quote a row''s values; %s raises it)', p_code, p_alone) end
$$;
comment on function retention_internal._warned_error(text, text, text, text) is
  'Internal. An error as a warning names it: its message (up to _quoted_marker, none raised by the application''s code) and SQLSTATE for RT* and the classes that name no values, else the SQLSTATE and the call that raises it whole.';
