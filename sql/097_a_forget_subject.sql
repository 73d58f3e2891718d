-- Whether a text names a subject key, without case and with runs of blanks as one: the key
-- in any spelling _subject_forms knows; holding one of those spellings of four characters
-- or more (an unhyphenated uuid); or holding a shorter key as a word ('ticket for user 42',
-- not 'ZD-4211'; round atk72 F1). _names_key also compares both in their compatibility
-- form.
create or replace function retention_internal._names_key_as_is(p_text text, p_key text)
returns boolean
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select p_text is not null and p_key is not null
         and (exists (select from unnest(retention_internal._subject_forms(p_text)) f
                       where pg_catalog.translate(pg_catalog.lower(f collate retention_internal.fold), 'ς', 'σ')
                             = any (array(select pg_catalog.translate(pg_catalog.lower(g collate retention_internal.fold), 'ς', 'σ')
                                            from unnest(retention_internal._subject_forms(p_key)) g)))
              or exists (select from unnest(retention_internal._subject_forms(p_key)) g
                          where pg_catalog.length(g) >= 4
                            and retention_internal._holds_text(p_text collate retention_internal.fold, g collate retention_internal.fold))
              -- (Lowered in every script, whatever the database's collation: fold.)
              or (pg_catalog.btrim(p_key) ~ '^\w+$'
                  and pg_catalog.translate(pg_catalog.lower(p_text collate retention_internal.fold), 'ς', 'σ')
                      ~ ('\m' || pg_catalog.translate(pg_catalog.lower(pg_catalog.btrim(p_key) collate retention_internal.fold), 'ς', 'σ') || '\M')))
$$;
comment on function retention_internal._names_key_as_is(text, text) is
  'Internal. Whether a text names a subject key as written (the key in any spelling, holding a spelling of 4+ characters, or a shorter key as a word), without case.';

-- _names_key_as_is, and again with both as a reader sees them (_skeleton): 'ｕ３＠ｅｘ．ｃｏｍ'
-- (fullwidth, round atk83 F7), 'u3%40ex.com', 'u3@еx.com' (a Cyrillic е) and 'zoe' for
-- 'Zoë' (round atk86 F2) name the person to anyone who reads them.
create or replace function retention_internal._names_key(p_text text, p_key text)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select retention_internal._names_key_as_is(p_text, p_key)
         or retention_internal._names_key_as_is(retention_internal._skeleton(p_text), retention_internal._skeleton(p_key))
         -- Lowered first too: _skeleton reads Ν as N and ν as v (round atk107 F2).
         or retention_internal._names_key_as_is(retention_internal._skeleton(pg_catalog.lower(p_text collate retention_internal.fold)),
                                                retention_internal._skeleton(pg_catalog.lower(p_key collate retention_internal.fold)))
$$;
comment on function retention_internal._names_key(text, text) is
  'Internal. Whether a text names a subject key (the key in any spelling, holding a spelling of 4+ characters, or a shorter key as a word), without case, as written or as a reader sees both (_skeleton).';

-- A table as the retention schema knows it: itself, its partitions and the tables it is a
-- partition of (their qualified names), the policies on any of them and every run on any
-- of them (dropped policies' too: a run's spec names its table).
create or replace function retention_internal._table_family(p_rel regclass, out rels regclass[], out tables text[],
                                                   out policies bigint[], out names text[], out runs bigint[])
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  rels := array(select t.relid from pg_catalog.pg_partition_tree(
                  coalesce(pg_catalog.pg_partition_root(p_rel), p_rel)) t) || p_rel;
  tables := array(select retention.qualified_name(r) from unnest(rels) r);
  -- A policy whose table is gone (rebuilt under its name: a new oid) counts by the name it
  -- had (round atk72 F3).
  select coalesce(array_agg(p.policy_id), '{}'), coalesce(array_agg(p.name), '{}') into policies, names
    from retention.policies p
   where p.target = any (rels)
      or (not exists (select from pg_catalog.pg_class c where c.oid = p.target)
          and pg_catalog.to_regclass(p.target_name) = any (rels));
  -- A run's spec records its table's oid (spec.rel): a dropped policy's table renamed since
  -- is found by it (round atk66 F7); runs from before it was recorded, and runs whose table
  -- is gone (rebuilt under its name), by name.
  runs := array(select r.run_id from retention.runs r
                 where r.policy_name = any (names)
                    or coalesce((select c.oid from pg_catalog.pg_class c where c.oid = (r.spec ->> 'rel')::oid),
                                to_regclass(r.spec #>> '{policy,target}')::oid) = any (rels::oid[]));
end
$$;
comment on function retention_internal._table_family(regclass) is
  'Internal. A table with its partitions and parents, the policies on them and every run on them (dropped policies'' too).';

-- Subject holds on any of p_ids, released or expired: the id goes (subject_token stays,
-- so the hold still matches its audit entries; p_token where it had none), reasons and
-- case reference too; with p_links, the ids' token links as well. Returns how many.
create or replace function retention_internal._forget_holds_on(p_ids text[], p_token text, p_request bigint,
                                                            p_links boolean default true)
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_erased text := format('erased with erasure request %s', p_request);
  v_n      bigint;
begin
  update retention.legal_holds h
     set subject_token = coalesce(h.subject_token, p_token), subject_id = null, reason = v_erased,
         release_reason = case when h.release_reason is not null then v_erased end, case_reference = null
   where h.scope = 'subject' and h.subject_id = any (p_ids)
     and not exists (select from retention_internal._open_holds o where o.hold_id = h.hold_id);
  get diagnostics v_n = row_count;
  if p_links then
    delete from retention.subject_tokens t where t.subject = any (array(select 'subject:' || x from unnest(p_ids) x));
  end if;
  return v_n;
end
$$;
comment on function retention_internal._forget_holds_on(text[], text, bigint, boolean) is
  'Internal. Removes the id, reasons and case reference of the released or expired subject holds on any of the ids (and their token links).';

-- Subject holds in force on a value of the person's rows when a step of their erasure
-- began (_forget_rows recorded them in erasure_held_values), released or expired since:
-- the value goes from them as it went from the holds released before (subject_token stays,
-- reasons and case reference go), and so do the value's token links. At completion, and
-- by release_hold for a request already completed (round atk81 F2). Returns the reasons
-- and case references it removed, for the messages that may quote them.
create or replace function retention_internal._forget_held_values(p_request bigint, p_token text)
returns text[]
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_ids     text[];
  v_reasons text[];
begin
  select coalesce(array_agg(distinct h.subject_id), '{}'),
         coalesce(array_agg(h.reason) || array_agg(h.release_reason) || array_agg(h.case_reference), '{}')
    into v_ids, v_reasons
    from retention_internal.erasure_held_values w join retention.legal_holds h on h.hold_id = w.hold_id
   where w.request_id = p_request and h.scope = 'subject' and h.subject_id is not null
     and not exists (select from retention_internal._open_holds o where o.hold_id = h.hold_id);
  if v_ids <> '{}' then
    perform retention_internal._forget_holds_on(v_ids, p_token, p_request);
  end if;
  delete from retention_internal.erasure_held_values w
   where w.request_id = p_request
     and not exists (select from retention_internal._open_holds o where o.hold_id = w.hold_id);
  return array(select r from unnest(v_reasons) r where r is not null);
end
$$;
comment on function retention_internal._forget_held_values(bigint, text) is
  'Internal. Forgets the subject holds an erasure''s steps found in force on a value of the person''s rows, once released or expired: the value, reasons and case reference go, and the value''s token links.';

-- Subject holds placed while an erasure's steps ran, on a value its steps kept of the
-- person's rows (erasure_step_values), as written or loosely (_loose_forms): a step that
-- began before the hold did not see it, so nothing recorded it, and once released it kept
-- her value for good (round atk92 F8). Recorded as the steps record holds in force
-- (erasure_held_values): _forget_held_values forgets them once released. Called as the
-- request completes, while the kept values are still there.
create or replace function retention_internal._note_late_holds(p_request bigint)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_since timestamptz := (select min(r.started_at) from retention.runs r where r.request_id = p_request);
begin
  if v_since is null
     or not exists (select from retention.legal_holds h
                     where h.scope = 'subject' and h.subject_id is not null and h.placed_at >= v_since) then
    return;
  end if;
  insert into retention_internal.erasure_held_values (request_id, hold_id)
  select p_request, h.hold_id
    from retention.legal_holds h
   where h.scope = 'subject' and h.subject_id is not null and h.placed_at >= v_since
     and (exists (select from retention_internal.erasure_step_values s
                   where s.request_id = p_request
                     and pg_catalog.lower(pg_catalog.btrim(s.v collate "default", E' \t\r\n'))
                         = pg_catalog.lower(pg_catalog.btrim(h.subject_id collate "default", E' \t\r\n')))
          or retention_internal._loose_forms(h.subject_id)
             && (select coalesce(array_agg(distinct f), '{}')
                   from retention_internal.erasure_step_values s
                  cross join lateral unnest(retention_internal._loose_forms(s.v collate "default")) f
                  where s.request_id = p_request))
  on conflict do nothing;
end
$$;
comment on function retention_internal._note_late_holds(bigint) is
  'Internal. Records the subject holds placed while an erasure''s steps ran on a value they kept of the person''s rows (as written or loosely), so they are forgotten once released.';

-- What an erasure's messages may concern (round atk124 F6): the tables of its plan and
-- its subject table, with those that hold their keys (_hold_reads_family), their names,
-- the policies on them (dropped ones too) and those policies' names, and the runs of those
-- policies and of the request. Messages elsewhere keep a value of the person's unless it
-- identifies on its own (_wide_values): integer keys collide across tables, and 'parent
-- (42) has open orders' of another table is no message about user 42.
create or replace function retention_internal._erasure_scope(p_request bigint,
  out rels oid[], out names text[], out policies bigint[], out policy_names text[], out runs bigint[])
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_req retention.erasure_requests;
begin
  select * into v_req from retention.erasure_requests q where q.request_id = p_request;
  rels := retention_internal._hold_reads_family(
            array(select r from (select to_regclass(x ->> 'target')::oid as r
                                   from jsonb_array_elements(case when jsonb_typeof(v_req.plan) = 'array' then v_req.plan else '[]' end) x
                                 union select v_req.subject_table::oid) y where r is not null));
  names := array(select retention.qualified_name(r::regclass) from unnest(rels) r);
  policies := array(select p.policy_id from retention.policies p where p.target = any (rels));
  policy_names := array(select p.name from retention.policies p where p.policy_id = any (policies));
  -- Runs of dropped policies too, by the table their spec records (round atk131 F1).
  runs := array(select r.run_id from retention.runs r
                 where r.request_id = p_request or r.policy_id = any (policies)
                    or coalesce((select c.oid from pg_catalog.pg_class c where c.oid = (r.spec ->> 'rel')::oid),
                                to_regclass(r.spec #>> '{policy,target}')::oid) = any (rels));
end
$$;
comment on function retention_internal._erasure_scope(bigint) is
  'Internal. The tables, table names, policies, policy names and runs whose messages may concern an erasure request''s person: its plan''s tables and subject table with the tables holding their keys, the policies on them and their runs, and the request''s own runs.';
revoke all on function retention_internal._erasure_scope(bigint) from public;

-- A character beyond ASCII in UTF-8 as lower-case hex (no surrogate, no overlong form,
-- nothing past U+10FFFF): a regular expression (a group) for _value_reading and
-- _decode_byte_runs.
drop function if exists retention_internal._utf8_hex_re();
create or replace function retention_internal._utf8_char_re()
returns text
language sql
immutable
parallel safe
as $$
  select text '(?:c[2-9a-f][89ab][0-9a-f]|d[0-9a-f][89ab][0-9a-f]|e0[ab][0-9a-f][89ab][0-9a-f]'
              '|e[1-9a-cef][89ab][0-9a-f][89ab][0-9a-f]|ed[89][0-9a-f][89ab][0-9a-f]'
              '|f0[9ab][0-9a-f](?:[89ab][0-9a-f]){2}|f[1-3](?:[89ab][0-9a-f]){3}|f48[0-9a-f](?:[89ab][0-9a-f]){2})'
$$;
comment on function retention_internal._utf8_char_re() is
  'Internal. A regular expression (a group) that lower-case hex of one UTF-8 character beyond ASCII matches.';
revoke all on function retention_internal._utf8_char_re() from public;

-- A value as its words read: a form the erasure made of it as a bytea's hex output
-- (\x5a6f…, _escaped_forms) read back as its text, so that it is judged as the value it
-- spells (a made-up Zoë's hex is one word, not seven digits: round atk165 F2).
create or replace function retention_internal._value_reading(p_value text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
begin
  -- Valid UTF-8 without NUL: ASCII bytes and characters beyond it.
  if p_value ~ '^\\x([0-9a-f]{2})+$'
     and pg_catalog.substr(p_value, 3) ~ ('^(?:0[1-9a-f]|[1-7][0-9a-f]|' || retention_internal._utf8_char_re() || ')+$')
     and pg_catalog.getdatabaseencoding() = 'UTF8' then
    return pg_catalog.convert_from(pg_catalog.decode(pg_catalog.substr(p_value, 3), 'hex'), 'UTF8');
  end if;
  -- Any other form as messages are read (_message_view): percent-encoded, \u, HTML, byte
  -- escapes decoded (a made-up José's Jos%C3%A9 is one word: round atk166 F5).
  return retention_internal._message_view(p_value);
end
$$;
comment on function retention_internal._value_reading(text) is
  'Internal. A value as its words read: a bytea hex output form (\x…) of valid UTF-8 read back as its text; any other value as messages are read (_message_view).';
revoke all on function retention_internal._value_reading(text) from public;

-- Of a person's values, those that identify on their own, and go from every message, not
-- only from those that may concern the person: an e-mail address, seven digits or more in
-- all (a phone, card or account number, however grouped), or several words one of which,
-- its numbers left out, is not pg-retention's own (_names_someone; round atk124 F1, F3).
-- Not a number as a numeric column writes it (an id, an amount: 1234567 is another
-- table's invoice as much as her key) nor a date or time (2026-10-01 is anybody's due
-- date): round atk125 F1. Nor money with thousands separators, a decimal fraction or a
-- number with an exponent, a time or an interval (round atk129 F1): numbers with one
-- point, with commas every three digits or an exponent, and values with a colon made only
-- of digits, signs, points, blanks and interval units. A phone written as a bare number
-- without a leading 0 or + is therefore kept outside the person's tables
-- (docs/dba-guide.md).
create or replace function retention_internal._wide_values(p_vals text[], p_words jsonb)
returns text[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_words jsonb := p_words;
begin
  if v_words is null
     and exists (select from unnest(p_vals) u(orig) where retention_internal._value_reading(u.orig) ~ '[^[:space:][:punct:]][[:space:][:punct:]]+[^[:space:][:punct:]]') then
    v_words := retention_internal._own_words();
  end if;
  -- Each value judged as it reads (a hex form as its text: _value_reading).
  return array(select u.orig from unnest(p_vals) u(orig) cross join lateral (select retention_internal._value_reading(u.orig) as v) r
                where v ~ '@'
                   or (pg_catalog.length(pg_catalog.regexp_replace(v, '[^0-9]', '', 'g')) >= 7
                       and v !~ '^-?[1-9][0-9]*([.][0-9]+)?$'
                       and v !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.]+([+-][0-9:]+|Z)?)?$'
                       and v !~ '^[-+]?[$€£¥]?[-+]?[0-9]{1,3}(,[0-9]{3})+([.][0-9]+)?$'
                       and v !~ '^[-+]?[$€£¥]?[0-9]*[.][0-9]+([eE][-+]?[0-9]+)?$'
                       and v !~ '^[-+]?[0-9]+([.][0-9]+)?[eE][-+]?[0-9]+$'
                       and v !~* '^(@ )?[-+0-9 .:]*:[-+0-9 .:]*$'
                       and v !~* '^(@ )?([-+]?[0-9.]+ (years?|mons?|months?|days?|hours?|mins?|minutes?|secs?|seconds?) ?)+([-+]?[0-9]+:[0-9:.]+)?( ago)?$'
                       and v !~* '^-?P([0-9.]+[YMWD])*(T([0-9.]+[HMS])+)?$')
                   or (v ~ '[^[:space:][:punct:]][[:space:][:punct:]]+[^[:space:][:punct:]]'
                       and retention_internal._names_someone(pg_catalog.regexp_replace(v, '[^[:space:][:punct:]]*[0-9][^[:space:][:punct:]]*', ' ', 'g'),
                                                             v_words)));
end
$$;
comment on function retention_internal._wide_values(text[], jsonb) is
  'Internal. Of a person''s values, those that identify on their own (an e-mail address, seven digits or more, several words not all pg-retention''s own): erased from every message, not only from those about the person''s tables.';
revoke all on function retention_internal._wide_values(text[], jsonb) from public;

-- A text's sha256 under the owner's secret key (retention_internal.row_hash_key: the key's
-- text, then the text): evidence that a message said this, which only the owner can check.
-- A plain sha256 of an erased message gave the person back to whoever may read the audit
-- log: 'cannot remove user 4242424' is one of a few million texts to try (round atk150 F1).
create or replace function retention_internal._keyed_digest(p_text text)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
           (select x.k from retention_internal.row_hash_key x) || coalesce(p_text, ''), 'UTF8')), 'hex')
$$;
comment on function retention_internal._keyed_digest(text) is
  'Internal. sha256 (hex) of the owner''s secret key (row_hash_key) and the text: a message''s digest in the audit log that no one without the key can test values against.';
revoke all on function retention_internal._keyed_digest(text) from public;

-- One message an erasure changed, for its erasure.messages_erased audit entry: the table,
-- the column, the row (by what names it: a run, a failed row's run, batch and time) and a
-- keyed sha256 of what it said (_keyed_digest). Null when the message is unchanged.
create or replace function retention_internal._message_entry(p_table text, p_column text, p_id jsonb, p_before text, p_after text)
returns jsonb
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_before is distinct from p_after
              then pg_catalog.jsonb_build_object('table', p_table, 'column', p_column, 'id', p_id,
                     'sha256_before', retention_internal._keyed_digest(p_before)) end
$$;
comment on function retention_internal._message_entry(text, text, jsonb, text, text) is
  'Internal. An erasure.messages_erased entry for one changed message (table, column, row id, keyed sha256 of the text before: _keyed_digest), or null when it did not change.';
revoke all on function retention_internal._message_entry(text, text, jsonb, text, text) from public;

-- Appends the erasure.messages_erased audit entry naming the messages an erasure changed
-- (none: no entry). Every rewrite of a message by an erasure is listed in one (round
-- atk124 F6: the key replaced at completion and the short words were not).
create or replace function retention_internal._audit_messages(p_request bigint, p_messages jsonb)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if coalesce(jsonb_array_length(p_messages), 0) > 0 then
    perform retention_internal._append_audit('erasure.messages_erased', 'erasure_request', p_request::text,
                                             jsonb_build_object('messages', p_messages));
  end if;
end
$$;
comment on function retention_internal._audit_messages(bigint, jsonb) is
  'Internal. Appends an erasure.messages_erased audit entry listing the messages an erasure changed (_message_entry), if any.';
revoke all on function retention_internal._audit_messages(bigint, jsonb) from public;

-- What the retention schema itself knows of a person, forgotten when their erasure
-- completes (erasure_step calls this last, in the transaction that completes the request).
-- The audit log never held their values, only tokens (_subject_token); this removes the
-- rest and deletes the links from the tokens back to them:
--   * released or expired subject holds on their id: the id goes (subject_token stays, so
--     the hold still matches its audit entries), reasons and case reference too (holds on
--     other values of their rows, an e-mail address in a subject column, went as each step
--     began: _forget_rows; those in force then and released since go now:
--     _forget_held_values);
--   * exemptions and flags of their row (policies on the subject table, dropped ones too):
--     the key becomes the token, the reasons and the tenant go, an exemption in force is
--     revoked and an open flag closed ('erased');
--   * notifications: their key in rows_flagged lists, who asked and why the request waited
--     in the request's own notifications, and quoted occurrences in any message;
--   * failed rows of their row (runs on their table): key and error; quoted occurrences of
--     their key in any other error;
--   * who asked, in the request;
--   * other open requests for the same person: completed as carried out by this one;
--   * the token links of their key and of every hold id that named them.
-- Holds still in force are left as they are: in force, a hold must name whom it holds, and
-- it blocked nothing this erasure changed (a hold placed after its last step, or on rows a
-- keep rule kept). Returns what it changed, for the audit entry.
create or replace function retention_internal._forget_subject(p_request bigint)
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_req      retention.erasure_requests;
  v_type     text;
  v_value    text;
  v_token    text;
  v_erased   text := format('erased with erasure request %s', p_request);
  v_values   text[];
  v_reasons  text[];
  v_rels     regclass[];
  v_policies bigint[];
  v_names    text[];
  v_tables   text[];
  v_runs     bigint[];
  n_holds    bigint;
  n_ex       bigint;
  n_flags    bigint;
  n_notes    bigint;
  n_fail     bigint;
  n_runs     bigint;
  n_dups     bigint := 0;
  v_n        bigint;
  v_dup      retention.erasure_requests;
  v_scope    record;
  v_wide     text[];
  v_done     jsonb := '[]';
begin
  select * into strict v_req from retention.erasure_requests r where r.request_id = p_request;
  v_type := (select k.key_type from retention_internal._single_key(v_req.subject_table) k);
  v_value := coalesce(retention_internal._subject_value(v_req.subject_id, v_type), v_req.subject_id);
  if v_value is null then
    return '{}';
  end if;
  -- A reference filed before references were checked (request_erasure, round atk66 F2)
  -- that names the person by their key goes: it is kept, and handed out on completion.
  update retention.erasure_requests r set reference = null
   where r.request_id = p_request and retention_internal._names_key(r.reference, v_value);
  -- Requests filed before tokens have a sha256 there: their subject gets a token now.
  v_token := case when v_req.subject_hash like 'subj\_%' then v_req.subject_hash
                  else retention_internal._subject_token('subject:' || v_value) end;

  -- Subject holds that named them, in whatever spelling ('042' for 42), and in every one
  -- the holds themselves match a text column in ('Alice@Example.com' held 'alice@example.com':
  -- _subject_forms compared without case, as _subject_held_sql does; round atk66 F1).
  select coalesce(array_agg(distinct h.subject_id), '{}'),
         coalesce(array_agg(distinct h.reason) || array_agg(distinct h.case_reference), '{}')
    into v_values, v_reasons
    from retention.legal_holds h
   where h.scope = 'subject' and h.subject_id is not null
     and (retention_internal._subject_value(h.subject_id, v_type) = v_value
          or exists (select from unnest(retention_internal._subject_forms(h.subject_id)) f
                      where pg_catalog.lower(f) = any (array(select pg_catalog.lower(g)
                                                              from unnest(retention_internal._subject_forms(v_value)) g)))
          -- Or their key in another script's digits, as a URN, with a decimal comma
          -- ('４２', '٤٢', 'urn:uuid:…', '7,5': round atk100 F1).
          or retention_internal._subject_value(retention_internal._key_reading(h.subject_id), v_type) = v_value);
  -- But not a spelling that is another person's key as it stands ('ANNA.K' beside
  -- 'anna.k' in a key compared byte for byte): that hold, its token links and its
  -- mentions are that person's (round atk100 F8).
  v_values := array(select distinct v from unnest(v_values) v
                     where coalesce(retention_internal._subject_value(v, v_type) = v_value, false)
                        or coalesce(retention_internal._stored_key(v_req.subject_table, v) = v_value, true));
  v_values := array(select distinct v from unnest(v_values || v_value) v);
  -- (Their token links go below, with their key's.)
  n_holds := retention_internal._forget_holds_on(v_values, v_token, p_request, false);
  -- Holds on other values of their rows that were in force when a step began and were
  -- released since (round atk81 F2), and those placed while the steps ran (round atk92 F8).
  perform retention_internal._note_late_holds(p_request);
  v_reasons := v_reasons || retention_internal._forget_held_values(p_request, v_token);

  -- Their row's exemptions and flags: policies on the subject table, its partitions and
  -- the tables it is a partition of.
  select f.rels, f.tables, f.policies, f.names, f.runs into v_rels, v_tables, v_policies, v_names, v_runs
    from retention_internal._table_family(v_req.subject_table) f;
  select v_reasons || coalesce(array_agg(e.reason) || array_agg(e.revoke_reason), '{}') into v_reasons
    from retention.row_exemptions e where e.policy_id = any (v_policies) and e.row_key = v_value;
  update retention.row_exemptions e
     set row_key = v_token, reason = v_erased,
         revoke_reason = case when e.revoked_at is null or e.revoke_reason is not null then v_erased end,
         revoked_by = coalesce(e.revoked_by, format('erasure request %s', p_request)),
         revoked_at = coalesce(e.revoked_at, now())
   where e.policy_id = any (v_policies) and e.row_key = v_value;
  get diagnostics n_ex = row_count;
  update retention.flagged_rows f
     set row_key = v_token, tenant = null,
         status = case when f.status = 'flagged' then 'erased' else f.status end,
         closed_at = coalesce(f.closed_at, now()),
         close_reason = case when f.status = 'flagged' or f.close_reason is not null then v_erased end
   where (f.policy_id = any (v_policies) or f.flag_run_id = any (v_runs)) and f.row_key = v_value;
  get diagnostics n_flags = row_count;
  -- Rows of a proposal (approval-gated policies) that name their row by its key, the
  -- subject's key, where the row went before this erasure (a purge, an earlier request):
  -- the key becomes the token and the row's hash goes (an md5 of the whole row is
  -- reversed by trying every id and date: round atk66 F12).
  update retention.proposal_rows pr
     set row_key = jsonb_build_object('erased', v_token, 'n', gen_random_uuid()), row_hash = ''
   where pr.rel = any (v_rels::oid[])
     and pr.row_key ->> (retention_internal._single_key(v_req.subject_table)).key_column = v_value
     and not pr.row_key ? 'erased'
     and (select count(*) from jsonb_object_keys(pr.row_key)) = 1;
  v_reasons := array(select distinct r from unnest(v_reasons) r where r is not null and btrim(r) <> '');

  -- Messages that may concern the person (_erasure_scope) lose their key where they quote
  -- it; others only a key that identifies on its own, an e-mail address (round atk124 F6:
  -- erasing user 42 rewrote another table's 'parent (42) has open orders').
  v_scope := retention_internal._erasure_scope(p_request);
  v_wide := retention_internal._wide_values(v_values, null);
  -- Notifications: rows_flagged of those policies list the key; the request's own name who
  -- asked and why it waited (a hold's reason); those of its scope may quote the key in a
  -- message, any other one a key that identifies on its own.
  with m as (
    update retention.notifications n
       set payload = retention_internal._redact_notice(
             case when n.payload ->> 'request_id' = p_request::text
                  then n.payload - 'requested_by' - 'status_reason' else n.payload end,
             case when n.payload ->> 'request_id' = p_request::text then v_values || v_reasons || v_req.requested_by
                  when n.kind = 'rows_flagged' and (n.policy_name = any (v_names) or n.payload ->> 'table' = any (v_tables) or coalesce(n.run_id, (n.payload ->> 'run_id')::bigint) = any (v_runs))
                  then v_values
                  else '{}' end,
             case when n.payload ->> 'request_id' = p_request::text or n.run_id = any (v_scope.runs)
                       or n.policy_name = any (v_scope.policy_names)
                  then v_values else v_wide end,
             v_token)
      from retention.notifications o
     where o.notification_id = n.notification_id
       and (n.payload ->> 'request_id' = p_request::text
            or (n.kind = 'rows_flagged' and (n.policy_name = any (v_names) or n.payload ->> 'table' = any (v_tables) or coalesce(n.run_id, (n.payload ->> 'run_id')::bigint) = any (v_runs)))
            or n.payload::text like any (array(select retention_internal._like_pattern(v, true)
                                                 from unnest(case when n.run_id = any (v_scope.runs) or n.policy_name = any (v_scope.policy_names)
                                                                  then v_values else v_wide end) v)))
    returning retention_internal._message_entry('notifications', 'payload', to_jsonb(n.notification_id), o.payload::text, n.payload::text) as e)
  select coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]'), count(*) filter (where m.e is not null)
    into v_done, n_notes from m;
  -- A rows_flagged notice that listed only their row went to their tenant alone: the
  -- tenant goes too, whatever the rule did with the row (a scrub keeps it; round atk66 F8).
  update retention.notifications n
     set payload = n.payload || jsonb_build_object('tenant', null),
         dedupe_key = format('rows_flagged:%s:erased:%s', n.payload ->> 'run_id', n.notification_id)
   where n.kind = 'rows_flagged' and (n.policy_name = any (v_names) or n.payload ->> 'table' = any (v_tables) or coalesce(n.run_id, (n.payload ->> 'run_id')::bigint) = any (v_runs))
     and n.payload ->> 'tenant' is not null
     and not exists (select from jsonb_array_elements(n.payload -> 'rows') r
                      where r ->> 'key' is distinct from v_token and not r ->> 'key' = any (v_values));

  -- Failed rows of their row, in runs on their table (policies dropped since too): the key
  -- becomes the token and the error goes (it may quote any column of the row). Elsewhere,
  -- quoted occurrences in errors.
  with m as (
    update retention.run_row_failures f
       set row_key = retention_internal._redact_jsonb(f.row_key, v_values, '{}', v_token),
           error = 'removed when the erasure completed'
      from retention.run_row_failures o
     where o.ctid = f.ctid and f.run_id = any (v_runs)
       and exists (select from jsonb_each_text(f.row_key) k where k.value = any (v_values))
    returning retention_internal._message_entry('run_row_failures', 'error',
                jsonb_build_object('run_id', f.run_id, 'batch_no', f.batch_no, 'failed_at', f.failed_at), o.error, f.error) as e)
  select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]'), count(*) into v_done, n_fail from m;
  -- Quoted occurrences of the key in other failed rows' errors: in runs of the scope; in
  -- any other run only a key that identifies on its own.
  with m as (
    update retention.run_row_failures f
       set error = retention_internal._erase_in(f.error, case when f.run_id = any (v_scope.runs) then v_values else v_wide end, v_token, 'quoted')
      from retention.run_row_failures o
     where o.ctid = f.ctid
       and f.error like any (array(select retention_internal._like_pattern(v, false)
                                     from unnest(case when f.run_id = any (v_scope.runs) then v_values else v_wide end) v))
       and f.error is distinct from retention_internal._erase_in(f.error, case when f.run_id = any (v_scope.runs) then v_values else v_wide end, v_token, 'quoted')
    returning retention_internal._message_entry('run_row_failures', 'error',
                jsonb_build_object('run_id', f.run_id, 'batch_no', f.batch_no, 'failed_at', f.failed_at), o.error, f.error) as e)
  select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
  -- The request's own runs worked on the person's rows only: their messages go, and the
  -- notifications of those runs' failures with them.
  with m as (
    update retention.notifications n
       set payload = n.payload || jsonb_build_object('error', 'removed when the erasure completed')
      from retention.notifications o
     where o.notification_id = n.notification_id
       and n.run_id in (select r.run_id from retention.runs r where r.request_id = p_request)
       and n.payload ->> 'error' is distinct from 'removed when the erasure completed'
       and n.payload ->> 'error' is not null
    returning retention_internal._message_entry('notifications', 'payload', to_jsonb(n.notification_id), o.payload::text, n.payload::text) as e)
  -- Counted with the notifications changed above (round atk129 F6).
  select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]'), n_notes + count(*) filter (where m.e is not null)
    into v_done, n_notes from m;
  with m as (
    update retention.runs r
       set error = case when r.error is not null then 'removed when the erasure completed' end,
           error_hint = null
      from retention.runs o
     where o.run_id = r.run_id and r.request_id = p_request and (r.error is not null or r.error_hint is not null)
    returning array[retention_internal._message_entry('runs', 'error', to_jsonb(r.run_id), o.error, r.error),
                    retention_internal._message_entry('runs', 'error_hint', to_jsonb(r.run_id), o.error_hint, r.error_hint)] as es)
  select v_done || coalesce((select jsonb_agg(e) from m cross join lateral unnest(m.es) e where e is not null), '[]'),
         (select count(*) from m)
    into v_done, n_runs;
  -- Quoted occurrences in other runs' errors and hints: those of the scope, and any
  -- other's of a key that identifies on its own.
  with m as (
    update retention.runs r
       set error = retention_internal._erase_in(r.error, x.vals, v_token, 'quoted'),
           error_hint = retention_internal._erase_in(r.error_hint, x.vals, v_token, 'quoted')
      from retention.runs o
     cross join lateral (select case when o.run_id = any (v_scope.runs) then v_values else v_wide end as vals) x
     where o.run_id = r.run_id
       and (r.error like any (array(select retention_internal._like_pattern(v, false) from unnest(x.vals) v))
            or r.error_hint like any (array(select retention_internal._like_pattern(v, false) from unnest(x.vals) v)))
       and (r.error, r.error_hint) is distinct from
           (retention_internal._erase_in(r.error, x.vals, v_token, 'quoted'), retention_internal._erase_in(r.error_hint, x.vals, v_token, 'quoted'))
    returning array[retention_internal._message_entry('runs', 'error', to_jsonb(r.run_id), o.error, r.error),
                    retention_internal._message_entry('runs', 'error_hint', to_jsonb(r.run_id), o.error_hint, r.error_hint)] as es)
  select v_done || coalesce((select jsonb_agg(e) from m cross join lateral unnest(m.es) e where e is not null), '[]'),
         (select count(*) from m)
    into v_done, v_n;
  n_runs := n_runs + v_n;

  update retention.erasure_requests set requested_by = '(' || v_erased || ')' where request_id = p_request;

  -- Other open requests for the same person (filed twice, or a failed one filed again) are
  -- carried out by this one: completed with a pointer to it, so none keeps their id. So is
  -- one left in progress by a session that is gone (a runner that died between steps;
  -- round atk55); one a live session is processing completes itself.
  for v_dup in
    select r.* from retention.erasure_requests r
     where r.request_id <> p_request
       -- Filed on the subject table, a partition of it or the table it is a partition of:
       -- the same row (round atk66 F3); or on a table inheriting from it, whose rows this
       -- erasure took with the same condition (round atk72 F6).
       and (r.subject_table = any (v_rels)
            or r.subject_table in (with recursive down(rel) as (
                                     select i.inhrelid from pg_catalog.pg_inherits i where i.inhparent = v_req.subject_table
                                     union
                                     select i.inhrelid from pg_catalog.pg_inherits i join down d on i.inhparent = d.rel)
                                   select d.rel::regclass from down d))
       and (r.status in ('pending', 'blocked_by_hold', 'failed')
            or (r.status = 'in_progress'
                and not retention_internal._run_lock_held(format('erasure:%s', r.request_id), r.processing_pid)))
       and coalesce(retention_internal._subject_value(r.subject_id, v_type), r.subject_id) = v_value
     order by r.request_id
  loop
    -- Runs its dead processing left running are interrupted (no processing of it comes
    -- again to close them: round atk74 F3).
    update retention.runs r set status = 'interrupted', finished_at = clock_timestamp(),
           error = 'the session running it ended before the run finished'
     where r.request_id = v_dup.request_id and r.status = 'running';
    get diagnostics v_n = row_count;
    if v_n > 0 then
      perform retention_internal._append_audit('run.interrupted', 'erasure_request', v_dup.request_id::text,
        jsonb_build_object('runs', v_n, 'error', 'the session running it ended before the run finished'));
    end if;
    -- Its runs worked on the person's rows only, as this request's: their conditions
    -- (which quote the key), messages and failed rows go (round atk55).
    with m as (
      update retention.run_row_failures f
         set row_key = jsonb_build_object('erased', true), error = 'removed when the erasure completed'
        from retention.run_row_failures o
       where o.ctid = f.ctid and f.run_id in (select r.run_id from retention.runs r where r.request_id = v_dup.request_id)
      returning retention_internal._message_entry('run_row_failures', 'error',
                  jsonb_build_object('run_id', f.run_id, 'batch_no', f.batch_no, 'failed_at', f.failed_at), o.error, f.error) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
    with m as (
      update retention.notifications n
         set payload = n.payload || jsonb_build_object('error', 'removed when the erasure completed')
        from retention.notifications o
       where o.notification_id = n.notification_id
         and n.run_id in (select r.run_id from retention.runs r where r.request_id = v_dup.request_id)
         and n.payload ->> 'error' is not null
      returning retention_internal._message_entry('notifications', 'payload', to_jsonb(n.notification_id), o.payload::text, n.payload::text) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
    with m as (
      update retention.runs r
         set spec = r.spec - 'cond',
             error = case when r.error is not null then 'removed when the erasure completed' end,
             error_hint = null
        from retention.runs o
       where o.run_id = r.run_id and r.request_id = v_dup.request_id
      returning array[retention_internal._message_entry('runs', 'error', to_jsonb(r.run_id), o.error, r.error),
                      retention_internal._message_entry('runs', 'error_hint', to_jsonb(r.run_id), o.error_hint, r.error_hint)] as es)
    select v_done || coalesce((select jsonb_agg(e) from m cross join lateral unnest(m.es) e where e is not null), '[]'),
           (select count(*) from m)
      into v_done, v_n;
    n_runs := n_runs + v_n;
    -- What its own steps recorded: holds in force then, released since, and its kept values
    -- (round atk86 F3).
    v_reasons := v_reasons || retention_internal._forget_held_values(v_dup.request_id, v_token);
    perform retention_internal._forget_step_values(v_dup.request_id);
    v_done := v_done || (select coalesce(jsonb_agg(x.e), '[]')
                           from (select retention_internal._message_entry('erasure_requests', 'status_reason', to_jsonb(v_dup.request_id),
                                          v_dup.status_reason, format('carried out by erasure request %s', p_request)) as e) x
                          where x.e is not null);
    update retention.erasure_requests
       set status = 'completed', completed_at = clock_timestamp(), subject_id = null, subject_hash = v_token,
           reference = case when not retention_internal._names_key(reference, v_value) then reference end,
           requested_by = '(' || v_erased || ')', status_reason = format('carried out by erasure request %s', p_request),
           step_run = null, processing_pid = null,
           plan = (select jsonb_agg(e - 'cond' order by o) from jsonb_array_elements(plan) with ordinality x(e, o))
     where request_id = v_dup.request_id;
    with m as (
      update retention.notifications n
         set payload = retention_internal._redact_jsonb(n.payload - 'requested_by' - 'status_reason',
                                               v_values || v_dup.requested_by, v_values, v_token)
        from retention.notifications o
       where o.notification_id = n.notification_id and n.payload ->> 'request_id' = v_dup.request_id::text
      returning retention_internal._message_entry('notifications', 'payload', to_jsonb(n.notification_id), o.payload::text, n.payload::text) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
    perform retention_internal._append_audit('erasure.completed', 'erasure_request', v_dup.request_id::text,
      jsonb_build_object('subject_hash', v_token, 'by_request', p_request));
    insert into retention.notifications (kind, dedupe_key, payload)
    values ('erasure_completed', 'erasure_completed:' || v_dup.request_id,
            jsonb_build_object('kind', 'erasure_completed', 'request_id', v_dup.request_id, 'by_request', p_request,
                               'reference', case when not retention_internal._names_key(v_dup.reference, v_value) then v_dup.reference end,
                               'subject_table', retention.qualified_name(v_req.subject_table), 'subject_hash', v_token,
                               'requested_at', v_dup.requested_at, 'due_at', v_dup.due_at, 'completed_at', clock_timestamp()))
    on conflict (dedupe_key) do nothing;
    n_dups := n_dups + 1;
  end loop;

  -- Row tokens ('<table>:<key>') under every name the family's tables had: their names
  -- now, their policies' names for them and the names their runs recorded (a table renamed
  -- since an exemption: round atk72 F7).
  delete from retention.subject_tokens t
   where t.subject = any (array(select 'subject:' || v from unnest(v_values) v))
      or t.subject = any (array(select q || ':' || v
                                  from (select unnest(v_tables)
                                        union select p.target_name from retention.policies p
                                               where p.policy_id = any (v_policies) and p.target_name is not null
                                        union select r.spec #>> '{policy,target}' from retention.runs r
                                               where r.run_id = any (v_runs) and r.spec ? 'policy') n(q)
                                 cross join unnest(v_values) v
                                 where q is not null));
  -- What now names the person by token only (some of it done by _forget_rows as each
  -- delete step began).
  select count(*) into n_holds from retention.legal_holds h where h.reason = v_erased;
  select count(*) into n_ex from retention.row_exemptions e where e.row_key = v_token or e.reason = v_erased;
  select count(*) into n_flags from retention.flagged_rows f where f.row_key = v_token or f.close_reason = v_erased;
  select count(*) into n_fail from retention.run_row_failures f where f.row_key::text like '%' || v_token || '%';
  select count(*) into v_n from retention.proposal_rows pr where pr.row_key ->> 'erased' = v_token;
  perform retention_internal._audit_messages(p_request, v_done);
  return jsonb_build_object('holds', n_holds, 'exemptions', n_ex, 'flags', n_flags, 'notifications', n_notes,
                            'failed_rows', n_fail, 'run_errors', n_runs, 'other_requests', n_dups,
                            'proposal_rows', v_n);
end
$$;
comment on function retention_internal._forget_subject(bigint) is
  'Internal. At an erasure''s completion: removes the subject''s id, key and reasons from released holds, exemptions, flags, proposals'' rows, notifications, failed rows and run errors (the token stays), and deletes the links from their tokens.';


-- Other ways a message may write a value (round atk131 F3, F7): inside a row literal
-- with both quotes and backslashes doubled; percent-encoded (a URL: 'a%40b.com'); with
-- HTML's entities (&amp; &lt; &gt; &quot; &#39;); as JSON that escapes every character
-- beyond ASCII (\u00e1, Python's default); with each line end or other control character
-- turned into a blank (settle_notification stores a receiver's answer so). Only the forms
-- that differ from the value, and only those p_kinds names ('r' row literal, 'p' percent,
-- 'h' HTML, 'j' JSON escapes, 'c' control characters: what the messages hold at all, so a
-- person's many values are not each encoded for nothing); values up to 1,000 characters.
drop function if exists retention_internal._escaped_forms(text);
create or replace function retention_internal._escaped_forms(p_value text, p_kinds text)
returns text[]
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_out  text[] := '{}';
  v_pct  text := '';
  v_json text := '';
  v_c    text;
  v_b    int;
  v_cp   int;
begin
  if p_value is null or p_value = '' or p_kinds = '' or pg_catalog.length(p_value) > 1000 then
    return '{}';
  end if;
  if pg_catalog.strpos(p_kinds, 'r') > 0 then
    v_out := v_out || pg_catalog.replace(pg_catalog.replace(p_value, '\', '\\'), '"', '""');
  end if;
  if pg_catalog.strpos(p_kinds, 'p') > 0 and p_value ~ '[^A-Za-z0-9_.~-]' then
    foreach v_b in array array(select pg_catalog.get_byte(x.b, i) from (select pg_catalog.convert_to(p_value, 'UTF8') as b) x
                                 cross join pg_catalog.generate_series(0, pg_catalog.octet_length(x.b) - 1) i) loop
      v_pct := v_pct || case when v_b < 128 and pg_catalog.chr(v_b) ~ '^[A-Za-z0-9_.~-]$' then pg_catalog.chr(v_b)
                             else '%' || pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(v_b), 2, '0')) end;
      -- And only the bytes beyond ASCII encoded (a browser's address bar, Zo%C3%AB
      -- Quuxington: round atk157 F2).
      v_json := v_json || case when v_b < 128 then pg_catalog.chr(v_b)
                               else '%' || pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(v_b), 2, '0')) end;
    end loop;
    v_out := v_out || v_pct;
    -- A form's blanks as + (application/x-www-form-urlencoded).
    if pg_catalog.strpos(v_pct, '%20') > 0 then
      v_out := v_out || pg_catalog.replace(v_pct, '%20', '+');
    end if;
    if v_json <> p_value then
      v_out := v_out || v_json;
    end if;
    v_json := '';
  end if;
  if pg_catalog.strpos(p_kinds, 'h') > 0 and p_value ~ '[&<>"'']' then
    v_out := v_out || pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                        p_value, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;');
  end if;
  if pg_catalog.strpos(p_kinds, 'j') > 0 and p_value ~ '[^\x01-\x7f]' and pg_catalog.getdatabaseencoding() = 'UTF8' then
    foreach v_c in array pg_catalog.regexp_split_to_array(p_value, '') loop
      v_cp := pg_catalog.ascii(v_c);
      v_json := v_json || case when v_cp < 128 then v_c
                               when v_cp < 65536 then '\u' || pg_catalog.lpad(pg_catalog.to_hex(v_cp), 4, '0')
                               else '\u' || pg_catalog.to_hex(55296 + ((v_cp - 65536) >> 10))
                                    || '\u' || pg_catalog.to_hex(56320 + ((v_cp - 65536) & 1023)) end;
    end loop;
    v_out := v_out || v_json;
  end if;
  if pg_catalog.strpos(p_kinds, 'c') > 0 and p_value ~ '[[:cntrl:]]' then
    v_out := v_out || pg_catalog.regexp_replace(p_value, '[[:cntrl:]]', ' ', 'g');
  end if;
  -- As bytes (round atk162 F2): the value's UTF-8 as PostgreSQL prints a bytea
  -- (\x7a65…: convert_to in a message), in its lowered and both Unicode forms too (the hex
  -- of a capital differs from its letter's: round atk165 F8). Byte escapes of a value's
  -- letters (\xc3\xab, \303\253, =C3=AB) are read by _decode_byte_runs instead.
  if pg_catalog.strpos(p_kinds, 'x') > 0 and pg_catalog.octet_length(p_value) >= 4 then
    foreach v_c in array array[p_value, pg_catalog.lower(p_value),
                               case when pg_catalog.getdatabaseencoding() = 'UTF8' then pg_catalog.normalize(p_value, 'NFC') end,
                               case when pg_catalog.getdatabaseencoding() = 'UTF8' then pg_catalog.normalize(p_value, 'NFD') end,
                               case when pg_catalog.getdatabaseencoding() = 'UTF8' then pg_catalog.normalize(pg_catalog.lower(p_value), 'NFD') end] loop
      if v_c is not null then
        v_out := pg_catalog.array_append(v_out, '\x' || pg_catalog.encode(pg_catalog.convert_to(v_c, 'UTF8'), 'hex'));
      end if;
    end loop;
  end if;
  return array(select distinct x from unnest(v_out) x where x <> p_value);
end
$$;
comment on function retention_internal._escaped_forms(text, text) is
  'Internal. Other ways a message may write a value, of the kinds named (r row literal with quotes and backslashes doubled, p percent-encoded, h HTML-escaped, j JSON with \u escapes beyond ASCII, c control characters as blanks, x its UTF-8, lowered and in both Unicode forms, as a bytea''s hex output).';
revoke all on function retention_internal._escaped_forms(text, text) from public;

-- One level of the escapes programs write into a message, decoded, in one pass (linear:
-- a quadratic first version took minutes over a 240 KB message of escapes the application
-- raised, and every erasure with it; round atk151 F7): JSON's and most languages'
-- backslash escapes (\uXXXX with surrogate pairs as one character, \" \' \/ \\, \xHH as
-- that character; a backslash before other punctuation dropped; \n \t \r \b \f stay as
-- written: read as blanks, CORP\nina.ross@... showed a made-up ina.ross@ in another's
-- login, round atk157 F5), and HTML's
-- entities (&#64; &#x40; &amp; &lt; &gt; &quot; &apos; &nbsp;). NUL, a lone surrogate and,
-- outside UTF8, a character beyond ASCII stay as written.
drop function if exists retention_internal._json_unescaped(text);
create or replace function retention_internal._unescape_once(p_text text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_utf8    boolean := pg_catalog.getdatabaseencoding() = 'UTF8';
  v_out     text[] := '{}';
  v_p       text;
  v_c       text;
  v_e       text;
  v_cp      integer;
  v_high    text;          -- a high surrogate's piece, waiting for its low half
  v_first   boolean := true;
  v_literal boolean := false;
  v_m       text;
  v_text    text := p_text;
begin
  if v_text is null then
    return null;
  end if;
  -- Pieces between backslashes, each read once and appended in place (array_append of
  -- the variable itself: no copy of what is built so far).
  if pg_catalog.strpos(v_text, '\') > 0 then
    foreach v_p in array pg_catalog.string_to_array(v_text, '\') loop
      if v_first or v_literal then
        v_out := pg_catalog.array_append(v_out, v_p);
        v_first := false;
        v_literal := false;
        continue;
      end if;
      if v_high is not null then
        if v_p ~ '^u[dD][c-fC-F][0-9a-fA-F]{2}' then
          v_cp := 65536 + ((('x' || pg_catalog.substr(v_high, 2, 4))::bit(16)::integer - 55296) << 10)
                  + (('x' || pg_catalog.substr(v_p, 2, 4))::bit(16)::integer - 56320);
          v_e := case when v_utf8 then pg_catalog.chr(v_cp) else '\' || v_high || '\' || pg_catalog.substr(v_p, 1, 5) end
                 || pg_catalog.substr(v_p, 6);
          v_out := pg_catalog.array_append(v_out, v_e);
          v_high := null;
          continue;
        end if;
        v_out := pg_catalog.array_append(v_out, '\' || v_high);
        v_high := null;
      end if;
      v_c := pg_catalog.substr(v_p, 1, 1);
      if v_p = '' then
        -- \\ : a backslash; the piece after it is text, not an escape.
        v_e := '\';
        v_literal := true;
      elsif v_c = 'u' and pg_catalog.substr(v_p, 2, 4) ~ '^[0-9a-fA-F]{4}$' then
        v_cp := ('x' || pg_catalog.substr(v_p, 2, 4))::bit(16)::integer;
        if v_cp between 55296 and 56319 and pg_catalog.length(v_p) = 5 then
          v_high := v_p;
          continue;
        end if;
        v_e := case when v_cp = 0 or v_cp between 55296 and 57343 or (v_cp > 127 and not v_utf8)
                    then '\' || pg_catalog.substr(v_p, 1, 5) else pg_catalog.chr(v_cp) end
               || pg_catalog.substr(v_p, 6);
      elsif v_c = 'x' and pg_catalog.substr(v_p, 2, 2) ~ '^[0-9a-fA-F]{2}$' then
        v_cp := ('x' || pg_catalog.substr(v_p, 2, 2))::bit(8)::integer;
        v_e := case when v_cp = 0 or (v_cp > 127 and not v_utf8) then '\' || pg_catalog.substr(v_p, 1, 3)
                    else pg_catalog.chr(v_cp) end
               || pg_catalog.substr(v_p, 4);
      elsif v_c ~ '^[[:punct:]]$' then
        v_e := v_p;
      else
        v_e := '\' || v_p;
      end if;
      v_out := pg_catalog.array_append(v_out, v_e);
    end loop;
    if v_high is not null then
      v_out := pg_catalog.array_append(v_out, '\' || v_high);
    end if;
    v_text := pg_catalog.array_to_string(v_out, '');
  end if;
  if pg_catalog.strpos(v_text, '&') > 0 then
    v_out := '{}';
    v_first := true;
    foreach v_p in array pg_catalog.string_to_array(v_text, '&') loop
      if v_first then
        v_out := pg_catalog.array_append(v_out, v_p);
        v_first := false;
        continue;
      end if;
      -- Numeric references with or without their ';' (as browsers read them: round
      -- atk154 F4), a few named ones, and the named letters of Latin-1 (&euml; &Aacute;
      -- &ccedil; &oslash; &szlig;…: round atk157 F8), each a letter and its mark composed.
      v_m := pg_catalog.substring(v_p, '^(#[0-9]{1,8};?|#[xX]0*[0-9a-fA-F]{1,6};?|(amp|lt|gt|quot|apos|nbsp|commat);'
                                       '|[A-Za-z](uml|acute|grave|circ|tilde|ring|cedil);|([Oo]slash|szlig|AElig|aelig|ETH|eth|THORN|thorn|OElig|oelig);)');
      if v_m is not null and v_m ~ '^[A-Za-z][a-zA-Z]+;$' and v_m !~ '^(amp|lt|gt|quot|apos|nbsp|commat);$' then
        v_cp := null;
        if v_utf8 then
          v_e := case when v_m ~ '^[A-Za-z](uml|acute|grave|circ|tilde|ring|cedil);$'
                      then pg_catalog.normalize(pg_catalog.substr(v_m, 1, 1)
                                                || pg_catalog.chr(case pg_catalog.rtrim(pg_catalog.substr(v_m, 2), ';')
                                                                    when 'uml' then 776 when 'acute' then 769 when 'grave' then 768
                                                                    when 'circ' then 770 when 'tilde' then 771 when 'ring' then 778
                                                                    else 807 end), 'NFC')
                      else pg_catalog.chr(case pg_catalog.rtrim(v_m, ';')
                                            when 'Oslash' then 216 when 'oslash' then 248 when 'szlig' then 223
                                            when 'AElig' then 198 when 'aelig' then 230 when 'ETH' then 208 when 'eth' then 240
                                            when 'THORN' then 222 when 'thorn' then 254 when 'OElig' then 338 else 339 end) end
                  || pg_catalog.substr(v_p, pg_catalog.length(v_m) + 1);
        else
          v_e := '&' || v_p;
        end if;
        v_out := pg_catalog.array_append(v_out, v_e);
        continue;
      end if;
      if v_m is null then
        v_cp := null;
      elsif v_m ~ '^#[0-9]' then
        v_cp := pg_catalog.rtrim(pg_catalog.substr(v_m, 2), ';')::integer;
      elsif v_m ~ '^#' then
        v_cp := ('x' || pg_catalog.lpad(pg_catalog.ltrim(pg_catalog.rtrim(pg_catalog.substr(v_m, 3), ';'), '0'), 8, '0'))::bit(32)::integer;
      else
        v_cp := case pg_catalog.rtrim(v_m, ';') when 'amp' then 38 when 'lt' then 60 when 'gt' then 62
                                                when 'quot' then 34 when 'apos' then 39 when 'commat' then 64 else 160 end;
      end if;
      if v_cp is null or v_cp = 0 or v_cp > 1114111 or v_cp between 55296 and 57343 or (v_cp > 127 and not v_utf8) then
        v_e := '&' || v_p;
      else
        v_e := pg_catalog.chr(v_cp) || pg_catalog.substr(v_p, pg_catalog.length(v_m) + 1);
      end if;
      v_out := pg_catalog.array_append(v_out, v_e);
    end loop;
    v_text := pg_catalog.array_to_string(v_out, '');
  end if;
  -- Percent-encoding of ASCII characters (%40 for @, %20 for a blank: a URL's query;
  -- round atk154 F3); %00 and bytes beyond ASCII stay as written.
  if pg_catalog.strpos(v_text, '%') > 0 then
    v_out := '{}';
    v_first := true;
    foreach v_p in array pg_catalog.string_to_array(v_text, '%') loop
      if v_first then
        v_out := pg_catalog.array_append(v_out, v_p);
        v_first := false;
        continue;
      end if;
      if v_p ~ '^[0-7][0-9a-fA-F]' and pg_catalog.substr(v_p, 1, 2) <> '00' then
        v_e := pg_catalog.chr(('x' || pg_catalog.substr(v_p, 1, 2))::bit(8)::integer) || pg_catalog.substr(v_p, 3);
      else
        v_e := '%' || v_p;
      end if;
      v_out := pg_catalog.array_append(v_out, v_e);
    end loop;
    v_text := pg_catalog.array_to_string(v_out, '');
  end if;
  return v_text;
end
$$;
comment on function retention_internal._unescape_once(text) is
  'Internal. One level of backslash escapes (JSON''s, \xHH, a backslash before punctuation), HTML entities (numeric with or without ;, amp lt gt quot apos nbsp commat, Latin-1''s named letters) and percent-encoded ASCII decoded, in one pass.';
revoke all on function retention_internal._unescape_once(text) from public;

-- Whether a message reads the same decoded (_message_view): no backslash, ampersand or
-- percent sign, no blank but single spaces (under any locale: a C.UTF-8 database's
-- [:graph:] takes U+00A0 for a visible character; round atk154 F1). SQL, inlined into its
-- callers' statements (a test per message row, not a call).
create or replace function retention_internal._plain_message(p_text text)
returns boolean
language sql
immutable
parallel safe
as $$
  select p_text operator(pg_catalog.!~) E'[\\\\&%]|=[0-9A-Fa-f]{2}|[^ [:graph:]]| {2}|[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u00ad\u200b-\u200d\u2060\ufeff]'
$$;
comment on function retention_internal._plain_message(text) is
  'Internal. Whether a message has nothing _message_view would decode or collapse (no backslash, ampersand, percent sign, =HH, or blank other than single spaces).';
revoke all on function retention_internal._plain_message(text) from public;

-- Bytes written as escapes, read as the UTF-8 they spell (round atk162 F1-F4, atk165,
-- atk166): in a run of \xHH (Python's, C's, Go's byte strings), octal \ooo (C, git, a
-- bytea under bytea_output = escape), quoted-printable =HH or percent-encoded %HH, each
-- sequence of bytes that is a character beyond ASCII in UTF-8 becomes that character
-- (Zo\xc3\xab, Zo\303\253, Zo=C3=AB and Zo%C3%AB read Zoë), and so do the run's printable
-- ASCII bytes once it has such a character (Zo=C3=AB=20Quux); a byte that is neither, a
-- control byte, or a run without such a character stays as written (a single \xeb and
-- %40 are _unescape_once's; control escapes stay, round atk157 F5). Each piece is read on
-- its own: a NUL pad after a name does not keep the name from being read (atk166 F4).
-- Quoted-printable's soft line breaks (= before a line end, or before an escaped \n) are
-- taken out (atk166 F3), and its =40 read as @ (an address: zelda.q=40example.org; also
-- size=40x40.png, read size@x40.png: only a made-up address of that spelling matches). A
-- \x after a backslash is an escaped backslash's.
create or replace function retention_internal._decode_byte_runs(p_text text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_pat   constant text := '(?<!\\)((?:\\[xX][0-9A-Fa-f]{2})+)|(?<!\\)((?:\\[0-3][0-7]{2})+)|((?:=[0-9A-Fa-f]{2})+)|((?:%[0-9A-Fa-f]{2})+)';
  -- A character beyond ASCII in UTF-8, as lower-case hex; else one byte.
  v_char  constant text := '(' || retention_internal._utf8_char_re() || ')|([0-9a-f]{2})';
  v_text  text := p_text;
  v_parts text[];
  v_out   text[] := '{}';
  v_m     text[];
  v_c     text[];
  v_run   text;
  v_hex   text;
  v_kind  integer;
  v_b     integer;
  v_piece text;
  v_any   boolean;
  v_bits  text[];
  i       integer := 1;
begin
  if v_text is null then
    return null;
  end if;
  if v_text ~ '=(\r?\n|(\\r)?\\n)' then
    v_text := pg_catalog.regexp_replace(v_text, '=(\r?\n|(\\r)?\\n)', '', 'g');
  end if;
  if v_text !~ '\\[xX][89a-fA-F][0-9a-fA-F]|\\[23][0-7]{2}|[=%][89a-fA-F][0-9a-fA-F]|=40' then
    return v_text;
  end if;
  v_parts := pg_catalog.regexp_split_to_array(v_text, v_pat);
  v_out := pg_catalog.array_append(v_out, v_parts[1]);
  for v_m in select m from pg_catalog.regexp_matches(v_text, v_pat, 'g') m loop
    i := i + 1;
    v_kind := case when v_m[1] is not null then 1 when v_m[2] is not null then 2 when v_m[3] is not null then 3 else 4 end;
    v_run := v_m[v_kind];
    v_hex := case v_kind
               when 1 then pg_catalog.lower(pg_catalog.replace(pg_catalog.replace(v_run, '\x', ''), '\X', ''))
               when 2 then (select pg_catalog.string_agg(pg_catalog.lpad(pg_catalog.to_hex(
                                      ((pg_catalog.substr(o[1], 1, 1)::int * 8) + pg_catalog.substr(o[1], 2, 1)::int) * 8
                                      + pg_catalog.substr(o[1], 3, 1)::int), 2, '0'), '' order by n)
                              from pg_catalog.regexp_matches(v_run, '\\([0-3][0-7]{2})', 'g') with ordinality x(o, n))
               when 3 then pg_catalog.lower(pg_catalog.replace(v_run, '=', ''))
               else pg_catalog.lower(pg_catalog.replace(v_run, '%', '')) end;
    -- Piece by piece: a character beyond ASCII decoded, a printable ASCII byte decoded if
    -- the run has such a character (or is quoted-printable's =40), any other byte written
    -- back as its escape.
    v_bits := '{}';
    v_any := false;
    for v_c in select c from pg_catalog.regexp_matches(v_hex, v_char, 'g') c loop
      if v_c[1] is not null then
        v_bits := pg_catalog.array_append(v_bits, pg_catalog.convert_from(pg_catalog.decode(v_c[1], 'hex'), 'UTF8'));
        v_any := true;
      else
        v_b := ('x' || v_c[2])::bit(8)::integer;
        v_bits := pg_catalog.array_append(v_bits, case when v_b between 32 and 126 then '~' || v_c[2] else '!' || v_c[2] end);
      end if;
    end loop;
    v_piece := '';
    foreach v_run in array v_bits loop
      v_piece := v_piece || case
        when pg_catalog.left(v_run, 1) not in ('~', '!') or pg_catalog.length(v_run) <> 3 then v_run
        when pg_catalog.left(v_run, 1) = '~' and (v_any or (v_kind = 3 and pg_catalog.substr(v_run, 2) = '40'))
          then pg_catalog.chr(('x' || pg_catalog.substr(v_run, 2))::bit(8)::integer)
        else case v_kind when 1 then '\x' when 3 then '=' when 4 then '%' else '\' end
             || case when v_kind = 2
                     then (select (x.b >> 6)::text || ((x.b >> 3) & 7)::text || (x.b & 7)::text
                             from (select ('x' || pg_catalog.substr(v_run, 2))::bit(8)::integer as b) x)
                     else pg_catalog.substr(v_run, 2) end end;
    end loop;
    v_out := pg_catalog.array_append(v_out, v_piece);
    v_out := pg_catalog.array_append(v_out, v_parts[i]);
  end loop;
  return pg_catalog.array_to_string(v_out, '');
end
$$;
comment on function retention_internal._decode_byte_runs(text) is
  'Internal. In runs of \xHH, octal \ooo, quoted-printable =HH or percent %HH escapes, each UTF-8 character beyond ASCII decoded (and the run''s printable ASCII with it, or quoted-printable''s =40), other bytes as escapes; quoted-printable''s soft line breaks removed.';
revoke all on function retention_internal._decode_byte_runs(text) from public;

-- A message as an erasure also reads it: escapes decoded (_unescape_once) until nothing
-- changes, up to three levels (an answer that echoes a JSON body inside its own JSON:
-- zelda.quux\\u0040example.org; round atk151 F1), and every run of blanks (a line break,
-- a tab, two spaces, a no-break space) read as one space (a name wrapped across lines:
-- round atk151 F3). A value quoted in such a message is found and erased in this form.
-- The message itself when it has nothing of these (the usual case, tested without a call).
create or replace function retention_internal._message_view(p_text text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v    text := p_text;
  v_in text;
begin
  if v is null or retention_internal._plain_message(v) then
    return v;
  end if;
  for i in 1 .. 3 loop
    v_in := v;
    -- Bytes first (a \xc3\xab pair is one letter, not two code points), then one level of
    -- escapes: a Python byte string inside JSON reads as its text (round atk165 F7).
    v := retention_internal._unescape_once(retention_internal._decode_byte_runs(v));
    exit when v = v_in;
  end loop;
  -- Characters that show nothing (a zero-width space, a soft hyphen) read as nothing
  -- (round atk157 F4).
  return pg_catalog.regexp_replace(pg_catalog.regexp_replace(v, E'[\u00ad\u200b-\u200d\u2060\ufeff]', '', 'g'),
                                   E'[[:space:]\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+', ' ', 'g');
end
$$;
comment on function retention_internal._message_view(text) is
  'Internal. A message with its escapes decoded (_decode_byte_runs and _unescape_once, up to three levels) and each run of blanks read as one space: the form erasures also search.';
revoke all on function retention_internal._message_view(text) from public;

-- Erases p_vals from a message (_erase_in, bare) as written and, where escapes or blanks
-- hide a value, in its read form (_message_view): a message is rewritten in that form only
-- when a value was found there; else it is returned as it was.
create or replace function retention_internal._erase_in_message(p_text text, p_vals text[])
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_as_is  text := retention_internal._erase_in(p_text, p_vals, '[erased]', 'bare');
  v_view   text := retention_internal._message_view(v_as_is);
  v_erased text;
begin
  if v_view is not distinct from v_as_is then
    return v_as_is;
  end if;
  v_erased := retention_internal._erase_in(v_view, p_vals, '[erased]', 'bare');
  return case when v_erased = v_view then v_as_is else v_erased end;
end
$$;
comment on function retention_internal._erase_in_message(text, text[]) is
  'Internal. A message with the values erased (_erase_in, bare), also where escapes or blanks spell them otherwise (in its read form then: _message_view); the message as it was when none is found.';
revoke all on function retention_internal._erase_in_message(text, text[]) from public;

-- The values an erasure looks for that some message quotes: p_rows is a query whose
-- column vs (text[]) holds the person's values (_row_pieces_sql over their rows, or the
-- values a step kept). Each is looked for as written and as messages escape it (quote_literal
-- doubles a quote, JSON escapes a newline: round atk81 F1), trimmed of blanks and line
-- ends and in both Unicode forms, NFC and NFD, and the e-mail addresses and phone numbers
-- inside a longer text (her address in her bio; round atk92 F3), without case, both sides
-- lowered under the database's collation (round atk78 F1). Messages: runs' errors and hints,
-- failed rows', requests' status reasons, notifications' error and status_reason, what
-- stores answered, proposals' notes and decision comments.
create or replace function retention_internal._values_in_messages(p_rows text)
returns text[]
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_msgs text;
  v_vals text[];
begin
  v_msgs := concat_ws(' ',
    (select string_agg(concat_ws(' ', r.error, r.error_hint), ' ') from retention.runs r
      where r.error is not null or r.error_hint is not null),
    (select string_agg(f.error, ' ') from retention.run_row_failures f where f.error is not null),
    (select string_agg(q.status_reason, ' ') from retention.erasure_requests q where q.status_reason is not null),
    (select string_agg(concat_ws(' ', n.payload ->> 'error', n.payload ->> 'status_reason', n.last_error), ' ') from retention.notifications n
      where n.payload ? 'error' or n.payload ? 'status_reason' or n.last_error is not null),
    -- What a webhook receiver, a store or S3 answered (round atk92 F7).
    (select string_agg(o.error, ' ') from retention.archive_objects o where o.error is not null),
    (select string_agg(b.error, ' ') from retention.backup_prunings b where b.error is not null),
    (select string_agg(d.last_error, ' ') from retention.object_deletions d where d.last_error is not null),
    (select string_agg(concat_ws(' ', p.note, p.decision_comment), ' ') from retention.proposals p
      where p.note is not null or p.decision_comment is not null));
  if v_msgs = '' then
    return '{}';
  end if;
  -- As programs escape it, decoded too, blanks as one space (round atk150 F3, atk151).
  v_msgs := v_msgs || ' ' || retention_internal._message_view(v_msgs);
  -- A value is looked for in the messages only if its first four bytes occur there (a hash
  -- join with the messages' four-byte pieces, cut from their bytes: cutting text is slower
  -- the further in it cuts): a person with a million rows costs a scan of them, not a
  -- million searches of every message.
  execute format('with grams as materialized (
                    select distinct pg_catalog.substr($2, i, 4) as g
                      from pg_catalog.generate_series(1, greatest(pg_catalog.length($2) - 3, 0)) i),
                  d as materialized (
                    select distinct f.v collate "C" as v from (%s) t
                     cross join lateral unnest(t.vs) v(v)
                     cross join lateral unnest(retention_internal._escaped_forms(v.v collate "default", %3$L) || array[v.v, pg_catalog.replace(v.v collate "default", '''''''', ''''''''''''),
                                                     pg_catalog.replace(v.v collate "default", ''"'', ''""''),
                                                     pg_catalog.replace(pg_catalog.replace(v.v collate "default", ''\'', ''\\''), '''''''', ''''''''''''),
                                                     pg_catalog.substr(pg_catalog.to_jsonb(v.v)::text, 2,
                                                                       pg_catalog.length(pg_catalog.to_jsonb(v.v)::text) - 2),
                                                     pg_catalog.btrim(v.v collate "default", E'' \t\r\n''),
                                                     case when %2$L = ''UTF8'' then pg_catalog.normalize(v.v collate "default", ''NFC'') end,
                                                     case when %2$L = ''UTF8'' then pg_catalog.normalize(v.v collate "default", ''NFD'') end]
                                              || array(select m[1] from pg_catalog.regexp_matches(v.v collate "default",
                                                         ''([^[:space:]"''''<>(),;:\[\]]+@[^[:space:]"''''<>(),;:\[\]]*[^[:space:]"''''<>(),;:\[\].]|\+?[0-9][0-9 ().-]{5,}[0-9])'', ''g'') m)) e(v)
                     -- A phone number as an SMS or telephony API writes it: its digits
                     -- alone, with its + (round atk151 F2); blanks as one space, as
                     -- messages are read (_message_view).
                     cross join lateral unnest(array[e.v,
                                                     case when e.v ~ ''^\+?[0-9][0-9 ().-]{5,}[0-9]$''
                                                          then pg_catalog.regexp_replace(e.v, ''[^0-9]'', '''', ''g'') end,
                                                     case when e.v ~ ''^\+[0-9][0-9 ().-]{5,}[0-9]$''
                                                          then ''+'' || pg_catalog.regexp_replace(e.v, ''[^0-9]'', '''', ''g'') end,
                                                     pg_catalog.regexp_replace(pg_catalog.regexp_replace(e.v collate "default", E''[\u00ad\u200b-\u200d\u2060\ufeff]'', '''', ''g''),
                                                                               E''[[:space:]\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+'', '' '', ''g'')]) f(v)
                     where v.v is not null and f.v is not null),
                  cand as materialized (
                    select d.v from d where pg_catalog.octet_length(d.v) < 4
                    union all
                    select d.v from d join grams on grams.g = pg_catalog.substr(pg_catalog.convert_to(pg_catalog.translate(pg_catalog.lower(d.v collate retention_internal.fold), ''ς'', ''σ''), ''UTF8''), 1, 4)
                     where pg_catalog.octet_length(d.v) >= 4)
                  select coalesce(array_agg(c.v), ''{}'') from cand c where pg_catalog.strpos($1, pg_catalog.translate(pg_catalog.lower(c.v collate retention_internal.fold), ''ς'', ''σ'')) > 0',
                 p_rows, pg_catalog.getdatabaseencoding(),
                 -- Which escaped forms the messages may hold at all (_escaped_forms).
                 concat(case when v_msgs ~ '""|\\\\' then 'r' end, case when v_msgs ~ '%[0-9A-Fa-f]{2}' then 'p' end,
                        case when v_msgs ~ '&(amp|lt|gt|quot|#39);' then 'h' end, case when v_msgs ~ '\\u[0-9a-fA-F]{4}' then 'j' end,
                        case when v_msgs ~ '\\x[0-9a-fA-F]{8}' then 'x' end,
                        'c'))
    into v_vals
    -- Lowered in every script, whatever the database's collation (fold; round atk104 F2),
    -- the final sigma as σ (lower('Σ') is σ: round atk107 F2).
    using pg_catalog.translate(pg_catalog.lower(v_msgs collate retention_internal.fold), 'ς', 'σ'),
          pg_catalog.convert_to(pg_catalog.translate(pg_catalog.lower(v_msgs collate retention_internal.fold), 'ς', 'σ'), 'UTF8');
  return v_vals;
end
$$;
comment on function retention_internal._values_in_messages(text) is
  'Internal. Of the values a query yields (column vs, text[]), those some message of the retention schema quotes, as written or escaped, without case.';

-- Whether a value names something pg-retention's own words do not: a word of it (between
-- blanks and punctuation, without case) that is not a key of p_words, the words of the
-- retention schemas' routines without their comments (_own_words). A value made of
-- pg-retention's words alone ('approved', 'requires an approved proposal') is kept in
-- messages: the application writes the person's row, and a "person" whose values were the
-- words of the ledger's errors and approvers' comments erased them from evidence that
-- concerned no one (round atk120 F4). Looked up only for values some message quotes.
drop function if exists retention_internal._names_someone(text, text);
create or replace function retention_internal._names_someone(p_value text, p_words jsonb)
returns boolean
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select from pg_catalog.regexp_split_to_table(pg_catalog.lower(p_value collate "default"), '[[:space:][:punct:]]+') w(w)
     where w.w <> '' and not p_words ? w.w)
$$;
comment on function retention_internal._names_someone(text, jsonb) is
  'Internal. Whether a value has a word (between blanks and punctuation) that is not one of the given words (_own_words): else it is made of pg-retention''s own words, and erasures leave it in messages.';
revoke all on function retention_internal._names_someone(text, jsonb) from public;

-- The words of the retention schemas' routines, their comments left out (the examples
-- there name made-up people), lowered, as the keys of a JSON object (a lookup per word,
-- not a search of the code: round atk124 F7).
drop function if exists retention_internal._own_words();
create or replace function retention_internal._own_words()
returns jsonb
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(pg_catalog.jsonb_object_agg(w.w, true), '{}')
    from (select distinct x.w
            from pg_catalog.pg_proc p
           cross join lateral pg_catalog.regexp_split_to_table(
                   pg_catalog.lower(pg_catalog.regexp_replace(p.prosrc, '--[^\n]*', '', 'g')), '[^a-z0-9]+') x(w)
           where p.pronamespace in ('retention'::pg_catalog.regnamespace, 'retention_internal'::pg_catalog.regnamespace)
             and x.w <> '') w
$$;
comment on function retention_internal._own_words() is
  'Internal. The words of the retention schemas'' routines without their comments, lowered, as the keys of a JSON object: the words pg-retention''s messages are made of (_names_someone).';
revoke all on function retention_internal._own_words() from public;

-- Erases p_vals (those of four characters or more, naming someone: _names_someone)
-- wherever a message that may concern request p_request's person quotes them: the errors
-- and hints of runs of this request and of policies on the tables of its plan (and of
-- the subject table), their failed rows', notifications of those runs, requests and
-- policies, requests' status reasons on the same subject table, archive objects' and
-- object deletions' errors of those tables, and those policies' proposals' notes and
-- approvers' comments ('[erased]'). Messages that concern other tables keep a value
-- unless it identifies on its own (an e-mail address, seven digits or more in all, or several
-- words: what a webhook receiver or a store may have echoed); a single word of the
-- person's rows there is anybody's word (round atk120 F4: an application's made-up person
-- rewrote another policy's ledger error and an approver's comment). Every message changed
-- is named, with a hash of what it said, in an audit entry (erasure.messages_erased).
drop function if exists retention_internal._erase_in_messages(text[]);
drop function if exists retention_internal._names_someone(text);
create or replace function retention_internal._erase_in_messages(p_vals text[], p_request bigint)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  -- Four characters or more as they read (Zoë's forms are as short as Zoë: round atk166 F5).
  v_vals  text[] := array(select distinct v from unnest(p_vals) v
                           where v is not null and length(retention_internal._value_reading(v)) >= 4);
  v_wide  text[];
  v_pats  text[];
  v_wpats text[];
  v_req   retention.erasure_requests;
  v_rels  oid[];
  v_names text[];
  v_pols  bigint[];
  v_pnames text[];
  v_sruns bigint[];
  v_objs  text[];
  v_tbl   name;
  v_col   name;
  v_key   text;
  v_scope text;
  v_done  jsonb := '[]';
  v_n     jsonb;
  v_src   jsonb;
begin
  if v_vals = '{}' then
    return;
  end if;
  -- A value with a digit, or a character other than ASCII letters, blanks and punctuation,
  -- names someone as it is (keys, addresses, phone numbers, names in other scripts); only
  -- the others are looked up in pg-retention's words, read once (the keys of a person's
  -- 30,000 rows were each matched against all of its code).
  if exists (select from unnest(v_vals) v where retention_internal._value_reading(v) ~ '^[A-Za-z[:space:][:punct:]]+$') then
    v_src := retention_internal._own_words();
    -- Judged as they read (a hex form as its text: _value_reading).
    v_vals := array(select v from unnest(v_vals) v
                     where retention_internal._value_reading(v) !~ '^[A-Za-z[:space:][:punct:]]+$'
                        or retention_internal._names_someone(retention_internal._value_reading(v), v_src));
  end if;
  if v_vals = '{}' then
    return;
  end if;
  -- Several words identify only with a word of letters that is not pg-retention's own
  -- ('proposal 11' is the ledger's words and a number, not a person).
  v_wide := retention_internal._wide_values(v_vals, v_src);
  select * into v_req from retention.erasure_requests q where q.request_id = p_request;
  select s.rels, s.names, s.policies, s.policy_names, s.runs into v_rels, v_names, v_pols, v_pnames, v_sruns
    from retention_internal._erasure_scope(p_request) s;
  -- The archive objects of those tables: their failure notifications quote their errors.
  v_objs := array(select o.object_id::text from retention.archive_objects o
                   where o.rels operator(pg_catalog.&&) v_rels or o.tables operator(pg_catalog.?|) v_names
                      or o.policies operator(pg_catalog.&&) v_pnames or o.runs operator(pg_catalog.&&) v_sruns);
  -- Lowered, the final sigma as σ, on both sides (round atk107 F2).
  v_pats := array(select pg_catalog.translate(pg_catalog.lower(retention_internal._like_pattern(v, false) collate retention_internal.fold), 'ς', 'σ')
                    from unnest(v_vals) v);
  v_wpats := array(select pg_catalog.translate(pg_catalog.lower(retention_internal._like_pattern(v, false) collate retention_internal.fold), 'ς', 'σ')
                     from unnest(v_wide) v);
  -- Every text column that keeps a message, with what tells whether it may concern the
  -- person ($3: the request, $4: its tables, $5: their policies, $6: those policies'
  -- names, $7: the tables' names, $8: the subject table).
  for v_tbl, v_col, v_key, v_scope in
    values ('runs', 'error', 'to_jsonb(t.run_id)', 't.run_id = any ($11)'),
           ('runs', 'error_hint', 'to_jsonb(t.run_id)', 't.run_id = any ($11)'),
           -- A failed row by its run, batch and time (a run has many: round atk124 F2; not
           -- by its key, which may be the person's).
           ('run_row_failures', 'error', 'jsonb_build_object(''run_id'', t.run_id, ''batch_no'', t.batch_no, ''failed_at'', t.failed_at)',
            't.run_id = any ($11)'),
           ('erasure_requests', 'status_reason', 'to_jsonb(t.request_id)', 't.request_id = $3 or t.subject_table = $8'),
           -- What a webhook receiver, a store or S3 answered (round atk92 F7).
           ('notifications', 'last_error', 'to_jsonb(t.notification_id)',
            't.run_id = any ($11)
             or t.payload ->> ''request_id'' = $3::text or t.policy_name = any ($6) or t.payload ->> ''subject_table'' = any ($7)
             or t.payload ->> ''object_id'' = any ($12)'),
           -- An object that failed before its manifest was complete has its tables' names or
           -- its policies' only (round atk131 F2).
           ('archive_objects', 'error', 'to_jsonb(t.object_id)', 't.object_id::text = any ($12)'),
           ('backup_prunings', 'error', 'to_jsonb(t.pruning_id)', 'false'),
           ('object_deletions', 'last_error', 'to_jsonb(t.deletion_id)', 't.rel_name = any ($7)'),
           -- What a proposer and an approver wrote (round atk100 F2).
           ('proposals', 'note', 'to_jsonb(t.proposal_id)', 't.policy_id = any ($5)'),
           ('proposals', 'decision_comment', 'to_jsonb(t.proposal_id)', 't.policy_id = any ($5)')
  loop
    execute format(
      'with m as (
         update retention.%1$I t
            set %2$I = retention_internal._erase_in_message(t.%2$I, case when (%4$s) then $1 else $9 end)
           from retention.%1$I o
          cross join lateral (select pg_catalog.translate(pg_catalog.lower(
                                       case when not retention_internal._plain_message(o.%2$I) then o.%2$I || '' '' || retention_internal._message_view(o.%2$I)
                                            else o.%2$I end collate retention_internal.fold), ''ς'', ''σ'') as low) x
          where o.ctid = t.ctid
            and (((%4$s) and x.low like any ($2)) or x.low like any ($10))
         returning %3$s as id, retention_internal._keyed_digest(o.%2$I) as before,
                   o.%2$I is distinct from t.%2$I as changed)
       select coalesce(jsonb_agg(jsonb_build_object(''table'', %1$L, ''column'', %2$L, ''id'', m.id, ''sha256_before'', m.before) order by m.id), ''[]'')
         from m where m.changed',
      v_tbl, v_col, v_key, v_scope)
      into v_n
      using v_vals, v_pats, p_request, v_rels, v_pols, v_pnames, v_names, v_req.subject_table::oid, v_wide, v_wpats, v_sruns, v_objs;
    v_done := v_done || v_n;
  end loop;
  -- A notification's payload quotes the run's error and the request's status reason.
  with m as (
    update retention.notifications n
       set payload = n.payload
                     || case when n.payload ? 'error'
                             then jsonb_build_object('error', retention_internal._erase_in_message(n.payload ->> 'error', s.vals)) else '{}' end
                     || case when n.payload ? 'status_reason'
                             then jsonb_build_object('status_reason', retention_internal._erase_in_message(n.payload ->> 'status_reason', s.vals)) else '{}' end
      from retention.notifications o
     cross join lateral (select coalesce(o.run_id = any (v_sruns)
                                         or o.payload ->> 'request_id' = p_request::text or o.policy_name = any (v_pnames)
                                         or o.payload ->> 'subject_table' = any (v_names)
                                         or o.payload ->> 'object_id' = any (v_objs), false) as mine) k
     cross join lateral (select case when k.mine then v_vals else v_wide end as vals,
                                case when k.mine then v_pats else v_wpats end as pats) s
     where o.notification_id = n.notification_id
       and (pg_catalog.translate(pg_catalog.lower(concat_ws(' ', n.payload ->> 'error', retention_internal._message_view(n.payload ->> 'error'))
                                                  collate retention_internal.fold), 'ς', 'σ') like any (s.pats)
            or pg_catalog.translate(pg_catalog.lower(concat_ws(' ', n.payload ->> 'status_reason', retention_internal._message_view(n.payload ->> 'status_reason'))
                                                     collate retention_internal.fold), 'ς', 'σ') like any (s.pats))
    returning n.notification_id as id, retention_internal._keyed_digest(o.payload::text) as before,
              o.payload is distinct from n.payload as changed)
  select v_done || coalesce(jsonb_agg(jsonb_build_object('table', 'notifications', 'column', 'payload', 'id', m.id, 'sha256_before', m.before) order by m.id), '[]')
    into v_done
    from m where m.changed;
  perform retention_internal._audit_messages(p_request, v_done);
end
$$;
comment on function retention_internal._erase_in_messages(text[], bigint) is
  'Internal. Erases an erasure request''s values (four characters or more, naming someone: _names_someone) from the messages of the retention schema that may concern its person (runs, failed rows, notifications, proposals of policies on its plan''s tables; its subject table''s requests; those tables'' archive objects and object deletions), and values that identify on their own from every other message; audits each message changed (erasure.messages_erased, with a hash of what it said).';

-- As a step of an erasure ends: the messages written while it ran (a policy run that
-- failed on the person's row between the step's start and its batches: round atk78 F8)
-- are searched for the values its rows had when it began. The values stay until the
-- request completes: a hold placed on one while later steps run is found then
-- (_note_late_holds; round atk92 F8).
create or replace function retention_internal._erase_step_values(p_request bigint)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if exists (select from retention_internal.erasure_step_values s where s.request_id = p_request) then
    perform retention_internal._erase_in_messages(retention_internal._values_in_messages(
      format('select array(select s.v from retention_internal.erasure_step_values s where s.request_id = %s) as vs', p_request)), p_request);
  end if;
end
$$;
comment on function retention_internal._erase_step_values(bigint) is
  'Internal. As an erasure step ends: erases from messages written meanwhile the values the request''s steps kept (they stay until it completes).';

-- As the request completes: the same, then the values go.
create or replace function retention_internal._forget_step_values(p_request bigint)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform retention_internal._erase_step_values(p_request);
  delete from retention_internal.erasure_step_values s where s.request_id = p_request;
end
$$;
comment on function retention_internal._forget_step_values(bigint) is
  'Internal. As an erasure request completes: erases from messages the values its steps kept, then forgets them.';

-- The values steps kept stay while the request is not completed: a failed or blocked
-- request keeps the messages that say why (they quote the person's rows, which are still
-- there too), and the processing that completes it searches every message with them,
-- those of the failed steps included (round atk86 F8), then they go.
create or replace function retention_internal._erasure_step_values_gone()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform retention_internal._forget_step_values(new.request_id);
  return null;
end
$$;
comment on function retention_internal._erasure_step_values_gone() is
  'Internal. Trigger: when a request completes, messages are searched for the values its steps kept, and the values go.';
create or replace trigger erasure_step_values_gone after update of status on retention.erasure_requests
  for each row when (new.status = 'completed') execute function retention_internal._erasure_step_values_gone();

-- Of p_vals, those (trimmed, lower case) that someone else's rows hold too: rows of the
-- step's table the condition does not pick (_values_elsewhere), and other people's rows of
-- the request's subject table (bob's phone in bob's users row and in alice's contacts
-- row; round atk86 F6).
create or replace function retention_internal._values_shared(p_request bigint, p_target regclass, p_tbl text,
                                                             p_exprs text, p_cond text, p_vals text[])
returns text[]
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_shared text[] := retention_internal._values_elsewhere(p_tbl, p_exprs, p_cond, p_vals);
  v_subj   regclass;
  v_cond   text;
  v_other  regclass;
  v_key    text;
  v_mine   text;
begin
  select q.subject_table, e.cond, q.subject_id into v_subj, v_cond, v_key
    from retention.erasure_requests q
    left join lateral (select x.cond from jsonb_to_recordset(q.plan) as x(target text, cond text)
                        where to_regclass(x.target) = q.subject_table and x.cond is not null limit 1) e on true
   where q.request_id = p_request;
  v_key := coalesce(retention_internal._stored_key(v_subj, v_key), v_key);
  if v_subj is not null and v_subj <> p_target and v_cond is not null then
    v_shared := v_shared || retention_internal._values_elsewhere(retention_internal._reach_scan(v_subj),
                              retention_internal._row_pieces_sql(v_subj), v_cond, p_vals);
  end if;
  -- And the rows of tables with subject columns of their own that her plan does not take
  -- (another erasure subject table, a policy's table with a subject column), and of the
  -- tables their keys reference: bob's key and phone in his contacts row and his tickets,
  -- named in her row as her emergency contact, are his (round atk104 F3). A table that
  -- cannot be read as the owner is passed over; rows there keyed by her key are hers.
  for v_other in
    select t.rel::regclass
      from (select d.rel from unnest(retention_internal._declaring_tables()) d(rel)
            -- and the tables their keys reference (the contacts row bob's tickets point at)
            union
            select k.confrelid from pg_catalog.pg_constraint k
             where k.contype = 'f' and k.conrelid = any (retention_internal._declaring_tables())) t
     where t.rel is not null and t.rel <> p_target::oid and t.rel is distinct from v_subj::oid
       and not t.rel = any (array(select f from retention.erasure_requests q
                                   cross join jsonb_to_recordset(q.plan) as e(target text)
                                   cross join unnest(retention_internal._family(to_regclass(e.target))) f
                                  where q.request_id = p_request and to_regclass(e.target) is not null))
       and exists (select from pg_catalog.pg_class c where c.oid = t.rel and c.relkind in ('r', 'p'))
  loop
    -- Its rows keyed by her (a subject column or its key spelling her key: a copy of her
    -- in another system, which her plan did not take) are hers, not someone else's.
    -- Spelt with format('%s'): the output function, never a cast of the application's.
    v_mine := coalesce((select string_agg(pg_catalog.format('pg_catalog.format(''%%s'', t.%I) = %L', x.col, v_key), ' or ')
                          from (select o.col from retention_internal._own_subject_columns(v_other) o
                                union select k.key_column from retention_internal._single_key(v_other) k
                                 where k.key_column is not null) x),
                       'false');
    begin
      v_shared := v_shared || retention_internal._values_elsewhere(retention_internal._reach_scan(v_other),
                                retention_internal._row_pieces_sql(v_other), v_mine, p_vals);
    exception when others then
      null;
    end;
  end loop;
  return v_shared;
end
$$;
comment on function retention_internal._values_shared(bigint, regclass, text, text, text, text[]) is
  'Internal. Of the values, those other people''s rows hold too: in the step''s table outside its condition, in the request''s subject table outside the person''s row, and in tables with subject columns of their own that the person''s plan does not take.';

-- Of p_vals, those (trimmed, lower case) that a row of p_tbl the condition p_cond does not
-- pick also holds (p_exprs: _row_pieces_sql over alias t): values the person shares with
-- someone else.
create or replace function retention_internal._values_elsewhere(p_tbl text, p_exprs text, p_cond text, p_vals text[])
returns text[]
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_out text[];
begin
  if p_vals is null or p_vals = '{}' or p_exprs is null then
    return '{}';
  end if;
  execute format('select coalesce(array_agg(distinct y.x), ''{}'')
                    from (select pg_catalog.lower(pg_catalog.btrim(v.v collate "default", E'' \t\r\n'')) collate "C" as x
                            from %s t cross join lateral unnest(%s) v(v)
                           where not coalesce((%s), false)) y
                   where y.x = any ($1)', p_tbl, p_exprs, p_cond)
    into v_out
    using array(select pg_catalog.lower(pg_catalog.btrim(x collate "default", E' \t\r\n')) collate "C" from unnest(p_vals) x);
  return v_out;
end
$$;
comment on function retention_internal._values_elsewhere(text, text, text, text[]) is
  'Internal. Of p_vals, those (trimmed, lower case) that rows of p_tbl other than those p_cond picks also hold.';

-- A table by a name pg-retention recorded ('schema.table'), also after a rename: the
-- catalog's table of that name, else the one a policy or a run recorded under it (round
-- atk86 F5: a renamed table read as gone).
create or replace function retention_internal._rel_of_name(p_name text)
returns oid
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v oid;
begin
  begin
    v := retention_internal._rel_by_name(p_name);
  exception when invalid_parameter_value or syntax_error or invalid_name then
    v := null;  -- no name at all
  end;
  return coalesce(v,
                  (select p.target::oid from retention.policies p where p.target_name = p_name limit 1),
                  (select (r.spec ->> 'rel')::oid from retention.runs r
                    where r.spec #>> '{policy,target}' = p_name and r.spec ? 'rel' order by r.run_id desc limit 1));
end
$$;
comment on function retention_internal._rel_of_name(text) is
  'Internal. The OID of a table by a name pg-retention recorded, also after a rename (the policy''s or a run''s record of it); NULL when none is known.';

-- Whether the row a record keys (p_key, in table p_rel) is gone: the table is gone, or it
-- has a single-column key and no row with that key. A table without one cannot tell: not
-- gone.
create or replace function retention_internal._key_row_gone(p_rel oid, p_key text)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_rel is null or not exists (select from pg_catalog.pg_class c where c.oid = p_rel) then
    return true;
  end if;
  if (retention_internal._single_key(p_rel::regclass)).key_column is null then
    return false;
  end if;
  return not retention_internal._key_exists(p_rel::regclass, p_key);
end
$$;
comment on function retention_internal._key_row_gone(oid, text) is
  'Internal. Whether the row keyed p_key in table p_rel is gone (the table gone, or no row with that single-column key).';

-- Whether the row a record keys by all its primary key's columns (p_key: a failed row's or a
-- proposal's row key, {"email": ..., "list": ...}) is gone from table p_rel: the table is
-- gone, or no row has those values. A key of other columns than the table's primary key
-- now (a ctid, a key changed since) cannot tell: not gone. Each value bound and cast to its
-- column's type, never spliced (a type whose cast is another role's is refused: RT025).
-- Round atk86 F4: a table whose key has two columns.
create or replace function retention_internal._key_json_gone(p_rel oid, p_key jsonb)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_cols  name[];
  v_types text[];
  v_found boolean;
begin
  if p_rel is null or not exists (select from pg_catalog.pg_class c where c.oid = p_rel) then
    return true;
  end if;
  if p_key is null or pg_catalog.jsonb_typeof(p_key) <> 'object' then
    return false;
  end if;
  select array_agg(a.attname order by k.o), array_agg(retention_internal._base_type(a.atttypid, a.atttypmod) order by k.o)
    into v_cols, v_types
    from pg_catalog.pg_index i
   cross join lateral unnest(i.indkey::int2[]) with ordinality k(att, o)
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.att
   where i.indrelid = p_rel and i.indisprimary;
  if v_cols is null
     or (select array_agg(x order by x) from unnest(v_cols) x) is distinct from (select array_agg(j::name order by j::name) from jsonb_object_keys(p_key) j) then
    return false;
  end if;
  for i in 1 .. cardinality(v_types) loop
    perform retention_internal._check_key_type(v_types[i]);
  end loop;
  execute format('select exists (select from %s t where %s)', retention_internal._reach_scan(p_rel::regclass),
                 (select string_agg(format('t.%I::%s = ($1 ->> %L)::%s', c, ty, c, ty), ' and ')
                    from unnest(v_cols, v_types) u(c, ty)))
    into v_found using p_key;
  return not v_found;
exception when data_exception then
  return true;  -- a value that is not of its column's type names no row there
end
$$;
comment on function retention_internal._key_json_gone(oid, jsonb) is
  'Internal. Whether the row a record keys by every column of the table''s primary key (a jsonb object) is gone: the table gone, or no row with those values; false when the key is not the table''s primary key.';

-- As each step of an erasure begins, while the person's rows of its table can still be
-- found (p_cond over alias t picks them): what the retention schema says about those rows.
--   * subject holds, released or expired, on a value in one of the table's subject
--     columns of their rows (their e-mail address where a policy names that column): the
--     id, reasons and case reference go, and the id's token link;
--   * exemptions and flags of those rows (policies on the table, its partitions and
--     parents, dropped ones too): reasons go; where the step deletes, the key becomes the
--     request's token, the tenant goes, an exemption in force is revoked, an open flag
--     closed 'erased', rows_flagged notifications name the rows by the token, and the key
--     tokens' links are deleted;
--   * failed rows of those rows in any run on the table: the message goes (and the key,
--     where the step deletes);
--   * messages anywhere (runs, failed rows, notifications' error and status_reason,
--     requests' status_reason) lose every value of those rows of four characters or more.
-- A keep step keeps the rows and their keys; it still removes reasons and messages.
create or replace function retention_internal._forget_rows(p_request bigint, p_target regclass, p_cond text, p_token text,
                                                  p_rule text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_erased   text := format('erased with erasure request %s', p_request);
  v_delete   boolean := p_rule = 'delete';
  -- ONLY for an ordinary table (_reach_scan): an inheritance child (a foreign table, say)
  -- is no row of this step, and reading it would run its code as the owner.
  v_tbl      text := retention_internal._reach_scan(p_target);
  v_key      name := (retention_internal._single_key(p_target)).key_column;
  v_rowkey   text := retention_internal._row_key_sql(p_target);
  v_rels     regclass[];
  v_tables   text[];
  v_policies bigint[];
  v_names    text[];
  v_runs     bigint[];
  v_ids      text[] := '{}';
  v_vals     text[];
  v_holds    text[] := '{}';
  v_more     bigint[];
  v_hids     bigint[] := '{}';
  v_shared   text[];
  v_rvals    text[] := '{}';
  v_exprs    text;
  v_keyvals  text[] := '{}';
  v_named    text;
  v_keynamed text[] := '{}';
  v_words    text[];
  v_refcols  text;
  v_lhold    bigint[];
  v_lval     text[];
  v_done     jsonb := '[]';
  v_sreqs    bigint[];
  c          record;
begin
  select f.rels, f.tables, f.policies, f.names, f.runs into v_rels, v_tables, v_policies, v_names, v_runs
    from retention_internal._table_family(p_target) f;
  if v_key is not null then
    execute format('select coalesce(array_agg(t.%I::text), ''{}'') from %s t where (%s)', v_key, v_tbl, p_cond)
      into v_ids;
  end if;
  -- Their rows' values, where a message might quote them (_value_pieces_sql): every
  -- column's value as its type's output function writes it (no cast another role defined
  -- runs as the owner), and the pieces of arrays, composites, ranges and JSON however deep
  -- they nest (round atk81 F1b). Every row of theirs (round atk55: the first 10,000 rows'
  -- were read, and a message quoting a later one stayed), but only the values some message
  -- holds: the messages are read first, and with none there is nothing to read.
  v_exprs := retention_internal._row_pieces_sql(p_target);
  if v_exprs is not null then
    -- Kept while the step runs: a message written meanwhile is searched for them as it
    -- ends (_forget_step_values; round atk78 F8).
    execute format('insert into retention_internal.erasure_step_values (request_id, v)
                    select distinct $1, v.v from (select %s as vs from %s t where (%s)) t
                     cross join lateral unnest(t.vs) v(v)
                     where pg_catalog.length(v.v) >= 4
                       and not exists (select from retention_internal.erasure_step_values s
                                        where s.request_id = $1 and s.v = v.v)', v_exprs, v_tbl, p_cond)
      using p_request;
    v_vals := retention_internal._values_in_messages(
      format('select %s as vs from %s t where (%s)', v_exprs, v_tbl, p_cond));
    -- A value other people's rows hold too (bob's city, his company's name) names them as
    -- much as her: their messages keep it (round atk100 F5), as holds on it stay (below).
    if v_vals <> '{}' then
      v_shared := retention_internal._values_shared(p_request, p_target, v_tbl, v_exprs, p_cond, v_vals);
      v_vals := array(select v from unnest(v_vals) v
                       where not pg_catalog.lower(pg_catalog.btrim(v collate "default", E' \t\r\n')) collate "C" = any (v_shared));
      -- Nor are they looked for again as the request completes (_forget_step_values).
      delete from retention_internal.erasure_step_values s
       where s.request_id = p_request
         and pg_catalog.lower(pg_catalog.btrim(s.v collate "default", E' \t\r\n')) collate "C" = any (v_shared);
    end if;
  end if;
  v_vals := coalesce(v_vals, '{}') || v_ids;
  -- The request's reference, and those of other open requests for the same subject, are
  -- handed back when it completes. The check at filing read the subject's row as it was
  -- then: a value they gave since (round atk92 F5), or one of their rows in another table
  -- (F1), is looked for here, as each step begins, while their rows are still there; a
  -- reference that names one goes (the notification then carries none).
  v_refcols := retention_internal._row_pieces_sql(p_target, '{T}');
  if v_refcols is not null then
    execute format(
      'update retention.erasure_requests q set reference = null
        where q.reference is not null
          and (q.request_id = $1
               or (q.status <> ''completed''
                   and (q.subject_table, q.subject_id) = (select r.subject_table, r.subject_id from retention.erasure_requests r
                                                          where r.request_id = $1)))
          and exists (select from (select distinct v.v collate "default" as v from %s t cross join lateral unnest(%s) v(v)
                                    where (%s) and pg_catalog.length(pg_catalog.btrim(v.v collate "default")) >= 4) d
                       where retention_internal._text_names_value(q.reference, d.v))',
      v_tbl, v_refcols, p_cond)
      using p_request;
  end if;
  -- Short values (a key such as 42) hit unrelated text anywhere, so they are erased as
  -- whole words only from the messages of runs on this table, which are about its rows.
  -- With a letter: a short number of theirs (their key 7) is anybody's count in another
  -- person's failed row ('has 7 unpaid invoices': round atk129 F3).
  v_words := array(select distinct v from unnest(v_vals) v where v ~ '^\w+$' and v ~ '[[:alpha:]]');
  -- Nor a word of pg-retention's own ('locked', 'failed'), as elsewhere (round atk131 F4).
  if v_words <> '{}' then
    v_words := array(select w from unnest(v_words) w where retention_internal._names_someone(w, retention_internal._own_words()));
  end if;

  -- Subject holds on values of their rows' subject columns, compared as the holds compare
  -- them (a text column in every spelling _subject_forms knows, without case: round atk66
  -- F1), and of the columns a subject column elsewhere references by foreign key (their
  -- e-mail address, which mails.to_email names: a hold on it held those rows, gone
  -- before this erasure; round atk66 F6).
  for c in
    select x.col, retention_internal._base_type(a.atttypid, a.atttypmod) as typ,
           retention_internal._text_like(a.atttypid) as is_text,
           retention_internal._base_type(a.atttypid, -1) in ('json', 'jsonb') as is_json
      from (select col from unnest(retention_internal._subject_columns(p_target)) col(col)
            union
            select ta.attname
              from pg_catalog.pg_constraint k
              -- Each column of the key with the column it references (a composite key too:
              -- (tenant, to_email) -> users (tenant, email); round atk72 F2).
              cross join lateral unnest(k.conkey, k.confkey) kc(att, ref)
              join pg_catalog.pg_attribute ra on ra.attrelid = k.confrelid and ra.attnum = kc.ref
              join pg_catalog.pg_attribute ta on ta.attrelid = p_target and ta.attname = ra.attname
                                              and ta.attnum > 0 and not ta.attisdropped
              join pg_catalog.pg_attribute fa on fa.attrelid = k.conrelid and fa.attnum = kc.att
             where k.contype = 'f'
               and (k.confrelid = p_target
                    or k.confrelid in (select a2.relid from pg_catalog.pg_partition_ancestors(p_target) a2))
               -- Declared on the referencing table or a table above it (read from the
               -- declarations: _subject_columns would fail this step over another table's
               -- renamed column).
               and (exists (select from retention.policies p
                             where p.subject_column = fa.attname
                               and (p.target = k.conrelid
                                    or p.target in (select a3.relid from pg_catalog.pg_partition_ancestors(k.conrelid) a3)))
                    or exists (select from retention.erasure_rules r
                                where r.subject_column = fa.attname
                                  and (r.target = k.conrelid
                                       or r.target in (select a3.relid from pg_catalog.pg_partition_ancestors(k.conrelid) a3))))) x(col)
      join pg_catalog.pg_attribute a on a.attrelid = p_target and a.attname = x.col and a.attnum > 0 and not a.attisdropped
  loop
    execute format(
      'select coalesce(array_agg(distinct h.hold_id), ''{}'') from retention.legal_holds h
        where h.scope = ''subject'' and h.subject_id is not null
          and exists (select from %s t where (%s)
                         and (t.%I::%s = retention_internal._subject_value(h.subject_id, %L)::%s%s))',
      v_tbl, p_cond, c.col, c.typ, c.typ, c.typ,
      case when c.is_text
           then format(' or pg_catalog.lower(pg_catalog.btrim(t.%1$I::text collate "default", E'' \t\r\n'')) collate "C" = any (array(select pg_catalog.lower(f) collate "C"
                                                                             from unnest(retention_internal._subject_forms(h.subject_id)) f))', c.col)
           -- A JSON column's scalar, as the hold compares it (round atk78 F10).
           when c.is_json
           then format(' or pg_catalog.lower(pg_catalog.btrim((retention_internal._jsonb_of(t.%I::pg_catalog.json) #>> ''{}'') collate "default", E'' \t\r\n'')) collate "C" = any (array(select pg_catalog.lower(f) collate "C"
                                                                             from unnest(retention_internal._subject_forms(h.subject_id)) f))', c.col)
           else '' end)
      into v_more;
    v_hids := v_hids || v_more;
  end loop;
  -- And on any other value of their rows (a phone number, a name) that no key ties to a
  -- subject column: a released hold on it named them too (round atk70). Four characters
  -- at least, as the holds compare text (trimmed, without case, in _subject_forms'
  -- spellings): a shorter one (a country code) names nobody.
  if v_exprs is not null then
    execute format(
      'select coalesce(array_agg(distinct h.hold_id), ''{}'') from retention.legal_holds h
        where h.scope = ''subject'' and h.subject_id is not null
          and pg_catalog.length(pg_catalog.btrim(h.subject_id, E'' \t\r\n'')) >= 4
          and exists (select from %s t cross join lateral unnest(%s) v(v) where (%s)
                         and pg_catalog.lower(pg_catalog.btrim(v.v collate "default", E'' \t\r\n'')) collate "C"
                             = any (array(select pg_catalog.lower(f) collate "C"
                                            from unnest(retention_internal._subject_forms(h.subject_id)) f)))',
      v_tbl, v_exprs, p_cond)
      into v_more;
    v_hids := v_hids || v_more;
  end if;
  -- A hold whose value is also in rows of this table that are not theirs (bob's e-mail the
  -- application wrote into alice's row is in bob's row too) is about someone else as well:
  -- it stays as it is (round atk84 F12).
  -- Other people's rows of the request's subject table count too (bob's phone in bob's
  -- users row and in alice's contacts row; round atk86 F6).
  if v_hids <> '{}' and v_exprs is not null then
    v_shared := retention_internal._values_shared(p_request, p_target, v_tbl, v_exprs, p_cond,
                  array(select h2.subject_id from retention.legal_holds h2 where h2.hold_id = any (v_hids)));
    v_more := array(select h.hold_id from retention.legal_holds h
                     where h.hold_id = any (v_hids)
                       and pg_catalog.lower(pg_catalog.btrim(h.subject_id collate "default", E' \t\r\n')) collate "C" = any (v_shared));
    v_hids := array(select x from unnest(v_hids) x where x <> all (v_more));
  end if;
  -- And on other spellings of their values (round atk92 F4): a hold on '07700 900123',
  -- 'Smith, Alice', 'ａｌｉｃｅ＠…', 'alice%40example.com' or 'аlice@…' (a Cyrillic а)
  -- named the person whose row holds '+44 7700 900123', 'Alice Smith', 'alice@example.com'.
  -- The holds not found above are compared loosely (_loose_forms) with the distinct values
  -- of their rows, each hold's forms and each value's computed once. A hold is left as it is
  -- when a value it matched is in rows of other people too, as above.
  if v_exprs is not null
     and exists (select from retention.legal_holds h
                  where h.scope = 'subject' and h.subject_id is not null and not h.hold_id = any (v_hids)) then
    execute format(
      'with hf as materialized (
         select h.hold_id, retention_internal._loose_forms(h.subject_id) as lf from retention.legal_holds h
          where h.scope = ''subject'' and h.subject_id is not null and not h.hold_id = any ($1)),
       vf as materialized (
         select d.v, retention_internal._loose_forms(d.v) as lf
           from (select distinct v.v collate "default" as v from %s t cross join lateral unnest(%s) v(v)
                  where (%s) and pg_catalog.length(pg_catalog.btrim(v.v collate "default")) >= 4) d)
       select coalesce(array_agg(hf.hold_id), ''{}''), coalesce(array_agg(vf.v), ''{}'')
         from hf join vf on hf.lf && vf.lf',
      v_tbl, v_exprs, p_cond)
      into v_lhold, v_lval
      using v_hids;
    if v_lhold <> '{}' then
      -- Shared: the value of her row it matched, or the hold's own spelling, in others'
      -- rows (bob's '07700 900456' in his contacts row, her row's '+44 7700 900456').
      v_shared := retention_internal._values_shared(p_request, p_target, v_tbl, v_exprs, p_cond,
                    v_lval || array(select h.subject_id from retention.legal_holds h where h.hold_id = any (v_lhold)));
      v_hids := v_hids || array(select distinct p.h from unnest(v_lhold, v_lval) p(h, v)
                                 except
                                 select p.h from unnest(v_lhold, v_lval) p(h, v)
                                  where pg_catalog.lower(pg_catalog.btrim(p.v collate "default", E' \t\r\n')) collate "C" = any (v_shared)
                                 except
                                 select h.hold_id from retention.legal_holds h
                                  where h.hold_id = any (v_lhold)
                                    and pg_catalog.lower(pg_catalog.btrim(h.subject_id collate "default", E' \t\r\n')) collate "C" = any (v_shared)
                                 -- Nor a hold spelt as another person's key of the request's
                                 -- subject table as stored ('ａｎｎａ' beside 'anna': round
                                 -- atk104 F6), as at completion (_forget_subject).
                                 except
                                 select h.hold_id from retention.legal_holds h
                                   join retention.erasure_requests q on q.request_id = p_request
                                  where h.hold_id = any (v_lhold)
                                    and retention_internal._stored_key(q.subject_table, h.subject_id)
                                        is distinct from coalesce(retention_internal._stored_key(q.subject_table, q.subject_id), q.subject_id)
                                    and retention_internal._stored_key(q.subject_table, h.subject_id) is not null);
    end if;
  end if;
  -- Those still in force name the person until they are released: recorded by id, they
  -- are forgotten at completion if released by then, else by release_hold as it releases
  -- them (round atk81 F2: a hold released while the erasure ran kept the value).
  insert into retention_internal.erasure_held_values (request_id, hold_id)
  select p_request, o.hold_id from retention_internal._open_holds o where o.hold_id = any (v_hids)
  on conflict do nothing;
  v_holds := array(select distinct h.subject_id from retention.legal_holds h
                    where h.hold_id = any (v_hids) and h.subject_id is not null
                      and not exists (select from retention_internal._open_holds o where o.hold_id = h.hold_id));
  if v_holds <> '{}' then
    select v_rvals || coalesce(array_agg(h.reason) || array_agg(h.release_reason) || array_agg(h.case_reference), '{}')
      into v_rvals from retention.legal_holds h where h.scope = 'subject' and h.subject_id = any (v_holds);
    perform retention_internal._forget_holds_on(v_holds, p_token, p_request);
  end if;

  -- Exemptions and flags of their rows.
  if v_ids <> '{}' then
    select v_rvals || coalesce(array_agg(e.reason) || array_agg(e.revoke_reason), '{}') into v_rvals
      from retention.row_exemptions e where e.policy_id = any (v_policies) and e.row_key in (select unnest(v_ids));
    select v_rvals || coalesce(array_agg(f.close_reason), '{}') into v_rvals
      from retention.flagged_rows f
     where (f.policy_id = any (v_policies) or f.flag_run_id = any (v_runs)) and f.row_key in (select unnest(v_ids));
    update retention.row_exemptions e
       set row_key = case when v_delete then p_token else e.row_key end,
           reason = v_erased,
           revoke_reason = case when e.revoke_reason is not null or (v_delete and e.revoked_at is null) then v_erased end,
           revoked_by = case when v_delete then coalesce(e.revoked_by, format('erasure request %s', p_request)) else e.revoked_by end,
           revoked_at = case when v_delete then coalesce(e.revoked_at, now()) else e.revoked_at end
     where e.policy_id = any (v_policies) and e.row_key in (select unnest(v_ids));
    update retention.flagged_rows f
       set row_key = case when v_delete then p_token else f.row_key end,
           tenant = case when p_rule <> 'keep' then null else f.tenant end,
           status = case when v_delete and f.status = 'flagged' then 'erased' else f.status end,
           closed_at = case when v_delete then coalesce(f.closed_at, now()) else f.closed_at end,
           close_reason = case when f.close_reason is not null or (v_delete and f.status = 'flagged') then v_erased end
     where (f.policy_id = any (v_policies) or f.flag_run_id = any (v_runs)) and f.row_key in (select unnest(v_ids));
    -- A notice that listed only their rows went to their tenant alone: the tenant goes,
    -- where the step deletes or scrubs them (a scrub keeps the rows: round atk66 F8).
    if p_rule <> 'keep' then
      update retention.notifications n
         set payload = n.payload || jsonb_build_object('tenant', null),
             dedupe_key = format('rows_flagged:%s:erased:%s', n.payload ->> 'run_id', n.notification_id)
       where n.kind = 'rows_flagged' and (n.policy_name = any (v_names) or n.payload ->> 'table' = any (v_tables) or coalesce(n.run_id, (n.payload ->> 'run_id')::bigint) = any (v_runs))
         and n.payload ->> 'tenant' is not null
         and not exists (select from jsonb_array_elements(n.payload -> 'rows') r
                          where r ->> 'key' is distinct from p_token and not r ->> 'key' in (select unnest(v_ids)));
    end if;
    if v_delete then
      update retention.notifications n
         set payload = retention_internal._redact_notice(n.payload, v_ids, '{}', p_token)
       where n.kind = 'rows_flagged' and (n.policy_name = any (v_names) or n.payload ->> 'table' = any (v_tables) or coalesce(n.run_id, (n.payload ->> 'run_id')::bigint) = any (v_runs))
         and exists (select from jsonb_array_elements(n.payload -> 'rows') r where r ->> 'key' in (select unnest(v_ids)));
      -- Under every name the tables had (their policies' and runs' names too: atk72 F7).
      delete from retention.subject_tokens t
       using (select unnest(v_tables)
              union select p.target_name from retention.policies p
                     where p.policy_id = any (v_policies) and p.target_name is not null
              union select r.spec #>> '{policy,target}' from retention.runs r
                     where r.run_id = any (v_runs) and r.spec ? 'policy') n(q)
       where n.q is not null
         and pg_catalog.left(t.subject, length(n.q) + 1) = n.q || ':'
         and substr(t.subject, length(n.q) + 2) in (select unnest(v_ids));
    end if;
  end if;

  -- Rows of any table keyed by a value of theirs (a subscription keyed by their e-mail)
  -- that went before this erasure (a policy run, the application): no row leads to them
  -- now, and their keys in failed rows, flags, exemptions, notices, proposals and token
  -- links named the person (round atk78 F3). The values of their rows of the request's
  -- subject table, of six characters or more, are taken for such keys.
  if v_exprs is not null
     and (select q.subject_table from retention.erasure_requests q where q.request_id = p_request) = any (v_rels) then
    -- As written and in lower case: the application may key by a lower-cased copy of a
    -- value the person's row holds in capitals (round atk86 F7).
    execute format('select coalesce(array_agg(distinct x.v), ''{}'') from (select %s as vs from %s t where (%s)) t
                     cross join lateral unnest(t.vs) v(v)
                     cross join lateral unnest(array[v.v, pg_catalog.lower(v.v collate "default")]) x(v)
                     where pg_catalog.length(v.v) >= 6', v_exprs, v_tbl, p_cond)
      into v_keyvals;
    -- A value other rows hold too ('premium', the plan of many users) is theirs as much as
    -- hers: a gone row keyed by it is nobody's in particular (round atk129 F4).
    if v_keyvals <> '{}' then
      v_shared := retention_internal._values_shared(p_request, p_target, v_tbl, v_exprs, p_cond, v_keyvals);
      v_keyvals := array(select k from unnest(v_keyvals) k
                          where not pg_catalog.lower(pg_catalog.btrim(k collate "default", E' \t\r\n')) collate "C" = any (v_shared));
    end if;
    -- And, for keys of several columns, each plain text column's value under its name
    -- ('email=alice@…', lower case): a key of several columns is theirs only by a part
    -- named as the column of their row that holds it. A list name in their row
    -- ('newsletter-weekly') is no claim on bob's (email, list) key (round atk92 F2).
    select 'array[' || string_agg(format('pg_catalog.lower(%L || ''='' || pg_catalog.btrim(t.%I::text))', a.attname, a.attname), ', ') || ']'
      into v_named
      from pg_catalog.pg_attribute a
     where a.attrelid = p_target and a.attnum > 0 and not a.attisdropped
       and retention_internal._base_type(a.atttypid, -1) in ('text', 'character varying', 'character');
    if v_named is not null then
      execute format('select coalesce(array_agg(distinct x.v), ''{}'') from (select %s as vs from %s t where (%s)) t
                       cross join lateral unnest(t.vs) x(v) where x.v is not null', v_named, v_tbl, p_cond)
        into v_keynamed;
    end if;
  end if;
  -- Only where the row so keyed is gone: a value of theirs may be another person's key
  -- (bob's e-mail the application wrote into alice's row), and bob's exemption, flag or
  -- failed row is his, not hers (round atk84 F12).
  if v_keyvals <> '{}' then
    update retention.row_exemptions e
       set row_key = p_token, reason = v_erased,
           revoke_reason = case when e.revoke_reason is not null or e.revoked_at is null then v_erased end,
           revoked_by = coalesce(e.revoked_by, format('erasure request %s', p_request)),
           revoked_at = coalesce(e.revoked_at, now())
     where e.row_key = any (v_keyvals)
       and retention_internal._key_row_gone((select x.target::oid from retention.policies x where x.policy_id = e.policy_id), e.row_key);
    update retention.flagged_rows f
       set row_key = p_token, tenant = null,
           status = case when f.status = 'flagged' then 'erased' else f.status end,
           closed_at = coalesce(f.closed_at, now()),
           close_reason = case when f.close_reason is not null or f.status = 'flagged' then v_erased end
     where f.row_key = any (v_keyvals)
       and retention_internal._key_row_gone(coalesce((select x.target::oid from retention.policies x where x.policy_id = f.policy_id),
                                                     (select (r.spec ->> 'rel')::oid from retention.runs r where r.run_id = f.flag_run_id)), f.row_key);
    update retention.notifications n
       set payload = retention_internal._redact_notice(n.payload, g.keys, '{}', p_token) || jsonb_build_object('tenant', null)
      from (select n2.notification_id,
                   array(select k from unnest(v_keyvals) k
                          where retention_internal._key_row_gone(
                                  coalesce((select (r.spec ->> 'rel')::oid from retention.runs r
                                             where r.run_id = coalesce(n2.run_id, (n2.payload ->> 'run_id')::bigint)),
                                           retention_internal._rel_of_name(n2.payload ->> 'table')), k)) as keys
              from retention.notifications n2
             where n2.kind = 'rows_flagged'
               and exists (select from jsonb_array_elements(n2.payload -> 'rows') r where r ->> 'key' = any (v_keyvals))) g
     where n.notification_id = g.notification_id and g.keys <> '{}'
       and exists (select from jsonb_array_elements(n.payload -> 'rows') r where r ->> 'key' = any (g.keys));
    -- Keyed by every column of the key: gone when no row has them all (a key of two
    -- columns, one the person's e-mail; round atk86 F4).
    -- A table rebuilt under its name since (a new OID) is found by that name (round atk92
    -- F6: the run's old OID, gone, read as "row gone").
    with m as (
      update retention.run_row_failures f
         set row_key = jsonb_build_object('erased', p_token), error = 'removed when the erasure completed'
        from retention.run_row_failures o
       where o.ctid = f.ctid
         and exists (select from jsonb_each_text(f.row_key) k
                      where k.value = any (v_keyvals)
                        and ((select count(*) from jsonb_object_keys(f.row_key)) = 1
                             or pg_catalog.lower(k.key || '=' || k.value) = any (v_keynamed)))
         and retention_internal._key_json_gone(
               (select coalesce((select k2.oid from pg_catalog.pg_class k2 where k2.oid = (r.spec ->> 'rel')::oid),
                                retention_internal._rel_of_name(r.spec #>> '{policy,target}'))
                  from retention.runs r where r.run_id = f.run_id), f.row_key)
      returning retention_internal._message_entry('run_row_failures', 'error',
                  jsonb_build_object('run_id', f.run_id, 'batch_no', f.batch_no, 'failed_at', f.failed_at), o.error, f.error) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
    update retention.proposal_rows pr
       set row_key = jsonb_build_object('erased', p_token, 'n', gen_random_uuid()), row_hash = ''
     where not pr.row_key ? 'erased'
       and exists (select from jsonb_each_text(pr.row_key) k
                    where k.value = any (v_keyvals)
                      and ((select count(*) from jsonb_object_keys(pr.row_key)) = 1
                           or pg_catalog.lower(k.key || '=' || k.value) = any (v_keynamed)))
       and retention_internal._key_json_gone(pr.rel, pr.row_key);
    -- A link is '<table>:<key>', and a quoted table name may hold ':' too: split at the key
    -- (round atk86 F9).
    delete from retention.subject_tokens t
     using unnest(v_keyvals) k(k)
     where t.subject !~ '^subject:' and pg_catalog.right(t.subject, pg_catalog.length(k.k) + 1) = ':' || k.k
       and retention_internal._key_row_gone(
             retention_internal._rel_of_name(pg_catalog.left(t.subject, pg_catalog.length(t.subject) - pg_catalog.length(k.k) - 1)), k.k);
  end if;

  -- Failed rows of their rows.
  execute format(
    'with m as (
       update retention.run_row_failures f
          set row_key = case when $3 then jsonb_build_object(''erased'', $2) else f.row_key end,
              error = ''removed when the erasure completed''
         from retention.run_row_failures o
        where o.ctid = f.ctid and f.run_id = any ($1) and exists (select from %s t where (%s) and %s = f.row_key)
       returning retention_internal._message_entry(''run_row_failures'', ''error'',
                   jsonb_build_object(''run_id'', f.run_id, ''batch_no'', f.batch_no, ''failed_at'', f.failed_at), o.error, f.error) as e)
     select $4 || coalesce(jsonb_agg(m.e) filter (where m.e is not null), ''[]'') from m',
    v_tbl, p_cond, v_rowkey)
    into v_done
    using v_runs, p_token, v_delete, v_done;

  -- A proposal's frozen rows (approval-gated policies) name rows by their key: a deleted
  -- row's key becomes the request's token, and its hash goes (atk66 F12).
  if v_delete then
    execute format(
      'update retention.proposal_rows pr
          set row_key = jsonb_build_object(''erased'', $2, ''n'', gen_random_uuid()), row_hash = ''''
        where pr.rel = any ($1) and not pr.row_key ? ''erased''
          and exists (select from %s t where (%s) and %s = pr.row_key)',
      v_tbl, p_cond, v_rowkey)
      using v_rels::oid[], p_token;
  end if;

  -- Messages anywhere that quote their values of four characters or more; before the
  -- short ones as words, which would cut a longer value they begin ('Carol' out of 'Carol
  -- Qwertyuiop' leaves the surname: round atk66 F11).
  perform retention_internal._erase_in_messages(v_vals, p_request);
  -- The reasons typed about them (a hold's, an exemption's): where pg-retention quotes them,
  -- in requests' status reasons and their notices, not in every message of the schema,
  -- where a reason such as 'fraud investigation' is anybody's words (round atk104 F8).
  -- Those of the requests on this request's tables (_erasure_scope), and only reasons
  -- that name someone: 'subject' or a reason another person's hold has too is not theirs
  -- to take out of another subject's request (round atk125 F4).
  v_rvals := array(select distinct r from unnest(v_rvals) r where r is not null and pg_catalog.length(r) >= 4);
  if v_rvals <> '{}' then
    v_rvals := array(select r from unnest(v_rvals) r where retention_internal._names_someone(r, retention_internal._own_words()));
    v_sreqs := array(select q.request_id from retention.erasure_requests q
                      where q.request_id = p_request or q.subject_table::oid = any ((retention_internal._erasure_scope(p_request)).rels));
  end if;
  if v_rvals <> '{}' then
    with m as (
      update retention.erasure_requests q
         set status_reason = retention_internal._erase_in(q.status_reason, v_rvals, '[erased]', 'bare')
        from retention.erasure_requests o
       where o.request_id = q.request_id and q.request_id = any (v_sreqs)
         and q.status_reason ilike any (array(select retention_internal._like_pattern(r, false) from unnest(v_rvals) r))
      returning retention_internal._message_entry('erasure_requests', 'status_reason', to_jsonb(q.request_id), o.status_reason, q.status_reason) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
    with m as (
      update retention.notifications n
         set payload = n.payload || jsonb_build_object('status_reason', retention_internal._erase_in(n.payload ->> 'status_reason', v_rvals, '[erased]', 'bare'))
        from retention.notifications o
       where o.notification_id = n.notification_id
         and n.payload ->> 'request_id' in (select x::text from unnest(v_sreqs) x)
         and n.payload ->> 'status_reason' ilike any (array(select retention_internal._like_pattern(r, false) from unnest(v_rvals) r))
      returning retention_internal._message_entry('notifications', 'payload', to_jsonb(n.notification_id), o.payload::text, n.payload::text) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
  end if;
  -- Messages of runs on this table: their values as whole words, however short.
  -- Only the words that occur in those messages (a person may have many rows).
  if v_words <> '{}' and v_runs <> '{}' then
    select array(select w from unnest(v_words) w where strpos(lower(m.text), lower(w)) > 0) into v_words
      from (select concat_ws(' ',
              (select string_agg(concat_ws(' ', r.error, r.error_hint), ' ') from retention.runs r where r.run_id = any (v_runs)),
              (select string_agg(f.error, ' ') from retention.run_row_failures f where f.run_id = any (v_runs)),
              (select string_agg(n.payload ->> 'error', ' ') from retention.notifications n where n.run_id = any (v_runs))) as text) m;
  end if;
  if v_words <> '{}' and v_runs <> '{}' then
    with m as (
      update retention.runs r
         set error = retention_internal._erase_in(r.error, v_words, '[erased]', 'word'), error_hint = retention_internal._erase_in(r.error_hint, v_words, '[erased]', 'word')
        from retention.runs o
       where o.run_id = r.run_id and r.run_id = any (v_runs) and (r.error is not null or r.error_hint is not null)
         and (r.error, r.error_hint) is distinct from (retention_internal._erase_in(r.error, v_words, '[erased]', 'word'), retention_internal._erase_in(r.error_hint, v_words, '[erased]', 'word'))
      returning array[retention_internal._message_entry('runs', 'error', to_jsonb(r.run_id), o.error, r.error),
                      retention_internal._message_entry('runs', 'error_hint', to_jsonb(r.run_id), o.error_hint, r.error_hint)] as es)
    select v_done || coalesce((select jsonb_agg(e) from m cross join lateral unnest(m.es) e where e is not null), '[]') into v_done;
    with m as (
      update retention.run_row_failures f
         set error = retention_internal._erase_in(f.error, v_words, '[erased]', 'word')
        from retention.run_row_failures o
       where o.ctid = f.ctid and f.run_id = any (v_runs) and f.error is distinct from retention_internal._erase_in(f.error, v_words, '[erased]', 'word')
      returning retention_internal._message_entry('run_row_failures', 'error',
                  jsonb_build_object('run_id', f.run_id, 'batch_no', f.batch_no, 'failed_at', f.failed_at), o.error, f.error) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
    with m as (
      update retention.notifications n
         set payload = n.payload || jsonb_build_object('error', retention_internal._erase_in(n.payload ->> 'error', v_words, '[erased]', 'word'))
        from retention.notifications o
       where o.notification_id = n.notification_id
         and n.run_id = any (v_runs) and n.payload ->> 'error' is distinct from retention_internal._erase_in(n.payload ->> 'error', v_words, '[erased]', 'word')
      returning retention_internal._message_entry('notifications', 'payload', to_jsonb(n.notification_id), o.payload::text, n.payload::text) as e)
    select v_done || coalesce(jsonb_agg(m.e) filter (where m.e is not null), '[]') into v_done from m;
  end if;
  perform retention_internal._audit_messages(p_request, v_done);
end
$$;
comment on function retention_internal._forget_rows(bigint, regclass, text, text, text) is
  'Internal. As an erasure step begins: removes what holds, exemptions, flags, proposals'' rows, rows_flagged notifications, failed rows and messages say of the person''s rows of its table (keys become the request''s token where the step deletes).';
