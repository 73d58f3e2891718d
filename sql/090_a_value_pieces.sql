-- The text a bytea holds, where it is UTF-8 of up to 64 kB without control characters
-- other than tab and line ends (an address kept as bytes); NULL otherwise (an image, a
-- hash, a key).
create or replace function retention_internal._bytea_text(p_bytes bytea)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_text text;
begin
  if p_bytes is null or pg_catalog.octet_length(p_bytes) > 65536 or pg_catalog.getdatabaseencoding() <> 'UTF8' then
    return null;
  end if;
  v_text := pg_catalog.convert_from(p_bytes, 'UTF8');
  if v_text ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' then
    return null;
  end if;
  return v_text;
exception when character_not_in_repertoire or untranslatable_character then
  return null;
end
$$;
comment on function retention_internal._bytea_text(bytea) is
  'Internal. The UTF-8 text a bytea of up to 64 kB holds, without control characters but tab and line ends; NULL otherwise.';

-- The text of UTF-16 bytes from byte p_start (p_big: big-endian), where every pair (or
-- surrogate pair) is a character that is no control character but tab and line ends, no
-- zero and no non-character; NULL otherwise (an image's bytes fail within a few pairs).
create or replace function retention_internal._utf16_text(p_bytes bytea, p_start integer, p_big boolean)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_len   integer := pg_catalog.octet_length(p_bytes);
  v_codes integer[] := '{}';
  i       integer := p_start;
  u       integer;
  w       integer;
begin
  if p_bytes is null or (v_len - p_start) < 2 or (v_len - p_start) % 2 <> 0 then
    return null;
  end if;
  while i < v_len loop
    u := case when p_big then pg_catalog.get_byte(p_bytes, i) * 256 + pg_catalog.get_byte(p_bytes, i + 1)
              else pg_catalog.get_byte(p_bytes, i + 1) * 256 + pg_catalog.get_byte(p_bytes, i) end;
    i := i + 2;
    if u between 55296 and 56319 then
      if i >= v_len then
        return null;
      end if;
      w := case when p_big then pg_catalog.get_byte(p_bytes, i) * 256 + pg_catalog.get_byte(p_bytes, i + 1)
                else pg_catalog.get_byte(p_bytes, i + 1) * 256 + pg_catalog.get_byte(p_bytes, i) end;
      i := i + 2;
      if w not between 56320 and 57343 then
        return null;
      end if;
      u := 65536 + (u - 55296) * 1024 + (w - 56320);
    elsif u between 56320 and 57343 or (u < 32 and u not in (9, 10, 13)) or u between 127 and 159 or u in (65534, 65535) then
      return null;
    end if;
    v_codes := v_codes || u;
  end loop;
  return (select pg_catalog.string_agg(pg_catalog.chr(c), '' order by n) from unnest(v_codes) with ordinality x(c, n));
end
$$;
comment on function retention_internal._utf16_text(bytea, integer, boolean) is
  'Internal. The text of UTF-16 bytes (from p_start, big- or little-endian) of characters without control characters or zeros; NULL otherwise.';

-- The texts a bytea may hold, for the pieces of a value: its UTF-8 text (_bytea_text);
-- where it is no UTF-8, its UTF-16 text (the order a byte-order mark says, else both, or
-- the one of Latin-1 characters alone: Windows and nvarchar exports, any script; round
-- atk139 F2) and its Latin-1 text.
-- Each without control characters but tab and line ends, of up to 64 kB. An application
-- that retyped a subject column to bytea with convert_to(who, 'LATIN1') kept the person's
-- name there, in bytes no UTF-8 reading took (left open at stop 43).
create or replace function retention_internal._bytea_texts(p_bytes bytea)
returns text[]
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_len  integer := pg_catalog.octet_length(p_bytes);
  v_out  text[] := '{}';
  v_text text;
begin
  if p_bytes is null or v_len > 65536 or pg_catalog.getdatabaseencoding() <> 'UTF8' then
    return v_out;
  end if;
  v_text := retention_internal._bytea_text(p_bytes);
  -- UTF-16: a byte-order mark (FF FE little-endian, FE FF big-endian) says the order;
  -- without one, both are read — also where the bytes are UTF-8 too (はな in UTF-16LE is
  -- "o0j0": round atk142 F2). Up to 16 kB (8,192 characters; a held id is at most 2,000
  -- bytes), read once detoasted: a 64 kB value took seconds a row (round atk142 F7).
  if v_len >= 2 and v_len % 2 = 0 and v_len <= 16384 then
    p_bytes := p_bytes || ''::bytea;
    if pg_catalog.get_byte(p_bytes, 0) = 255 and pg_catalog.get_byte(p_bytes, 1) = 254 then
      v_out := array[retention_internal._utf16_text(p_bytes, 2, false)];
    elsif pg_catalog.get_byte(p_bytes, 0) = 254 and pg_catalog.get_byte(p_bytes, 1) = 255 then
      v_out := array[retention_internal._utf16_text(p_bytes, 2, true)];
    else
      v_out := array[retention_internal._utf16_text(p_bytes, 0, false), retention_internal._utf16_text(p_bytes, 0, true)];
    end if;
    v_out := array(select t from unnest(v_out) t where t is not null);
    -- Without a mark, a reading of Latin-1 characters alone is the one ('a' is 61 00, not
    -- U+6100).
    if pg_catalog.cardinality(v_out) = 2 and (v_out[1] ~ '^[\x01-\xff]*$' or v_out[2] ~ '^[\x01-\xff]*$') then
      v_out := array(select t from unnest(v_out) t where t ~ '^[\x01-\xff]*$' limit 1);
    end if;
  end if;
  if v_text is not null then
    return v_text || v_out;
  end if;
  -- A zero byte (an image's, a hash's) is no Latin-1 text (and convert_from refuses it).
  if pg_catalog.position(p_bytes, '\x00'::bytea) > 0 then
    return v_out;
  end if;
  v_text := pg_catalog.convert_from(p_bytes, 'LATIN1');
  if v_text ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]' then
    return v_out;
  end if;
  return v_out || v_text;
end
$$;
comment on function retention_internal._bytea_texts(bytea) is
  'Internal. The texts a bytea of up to 64 kB may hold: UTF-8, UTF-16 up to 16 kB (a byte-order mark''s order, or both), Latin-1 where no UTF-8, without control characters or zero bytes; none otherwise.';

-- Whether a JSON value nests 1,000 levels deep or more, deeper than its pieces are read (a
-- path query over a value 12,000 deep failed every run: round atk142 F6), found by a path
-- query that stops at level 1,000 (reading it as text cost a gigabyte for a value of
-- numbers like 1e131071: round atk144 F3). Inlined.
create or replace function retention_internal._jsonb_deep(p jsonb)
returns boolean
language sql
immutable
as $$
  select pg_catalog.pg_column_size(p) > 4000 and pg_catalog.jsonb_path_exists(p, 'strict $.**{1000}')
$$;
comment on function retention_internal._jsonb_deep(jsonb) is
  'Internal. Whether a jsonb value nests 1,000 levels deep or more (its pieces are not read; a hold holds it whole).';

-- A JSON number as a piece: the number it is, as trim_scale writes it, where it is within
-- 2,000 digits either side of the point (a held id is at most 2,000 bytes); none beyond
-- (1e131071 printed costs milliseconds a piece: round atk144 F4). Inlined.
create or replace function retention_internal._json_number_piece(p jsonb)
returns text
language sql
immutable
as $$
  select case when pg_catalog.abs(n) < 1e2001 and pg_catalog.scale(n) < 2001 then n::pg_catalog.text end
    from (select pg_catalog.trim_scale(p::pg_catalog.numeric) as n) s
$$;
comment on function retention_internal._json_number_piece(jsonb) is
  'Internal. A JSON number''s text as trim_scale writes it, within 2,000 digits either side of the point; NULL beyond.';

-- Whether a type is json or jsonb, through domains.
create or replace function retention_internal._json_type(p_type oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(retention_internal._domain_base(p_type) in ('json'::pg_catalog.regtype, 'jsonb'::pg_catalog.regtype), false)
$$;
comment on function retention_internal._json_type(oid) is
  'Internal. Whether a type is json or jsonb (a domain over one too).';

-- The pieces of a text that spells a value of pieces (round atk144 F1): read as JSON (an
-- object or an array: its strings, numbers and keys), and as an array's or a composite's
-- text (its quoted elements, "" and backslash escapes undone, and its bare ones); each
-- piece that spells such a value again, read the same way (three levels down). A
-- {"id": "jdoe"} kept as text, in a text[] element or in a composite's field, and
-- ("Doe, John",5) are read for jdoe and Doe, John. Up to 64 kB; none for other texts.
create or replace function retention_internal._text_pieces(p text, p_depth integer default 0)
returns text[]
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v   text := pg_catalog.btrim(p, E' \t\r\n');
  v_out text[] := '{}';
  j   jsonb;
  m   text[];
  t   text;
begin
  if v is null or p_depth > 3 or pg_catalog.octet_length(v) > 65536 or v !~ '^[[{(]' then
    return v_out;
  end if;
  j := retention_internal._jsonb_or_null(v);
  if j is not null and not retention_internal._jsonb_deep(j) then
    v_out := v_out
      || array(select x #>> '{}' from pg_catalog.jsonb_path_query(j, 'strict $.** ? (@.type() == "string")') x)
      || array(select n from (select retention_internal._json_number_piece(x) as n
                                from pg_catalog.jsonb_path_query(j, 'strict $.** ? (@.type() == "number")') x) y where n is not null)
      || array(select x #>> '{}' from pg_catalog.jsonb_path_query(j, 'strict $.** ? (@.type() == "object").keyvalue().key') x);
    foreach t in array v_out loop
      if t ~ '^\s*[[{(]' then
        v_out := v_out || retention_internal._text_pieces(t, p_depth + 1);
      end if;
    end loop;
  end if;
  for m in select pg_catalog.regexp_matches(v, '"((?:[^"\\]|\\.|"")*)"|([^][{}(),"]+)', 'g') loop
    t := coalesce(pg_catalog.regexp_replace(pg_catalog.replace(m[1], '""', '"'), '\\(.)', '\1', 'g'), m[2]);
    t := pg_catalog.btrim(t, E' \t\r\n');
    continue when t = '';
    v_out := v_out || t;
    if t ~ '^[[{(]' then
      v_out := v_out || retention_internal._text_pieces(t, p_depth + 1);
    end if;
  end loop;
  return v_out;
end
$$;
comment on function retention_internal._text_pieces(text, integer) is
  'Internal. The pieces of a text that spells a JSON value, an array or a composite (its strings, numbers, keys, elements and fields, three levels down); none for other texts.';

-- A json value as jsonb where the cast refuses it (any row's value: a cast failed every
-- erasure of the table and every hold check on it). jsonb cannot hold the escape \u0000
-- (round atk134 F1), a lone UTF-16 surrogate escape ("\ud83d", a string cut mid-emoji),
-- or a number beyond numeric's range (1e1000000; round atk135 F3), all of which json
-- takes. Such escapes become the six characters they are written with, so a value with
-- one still equals no other; failing that, its numbers become strings (their text is what
-- a comparison reads). Never fails: the whole text as one string last.
create or replace function retention_internal._jsonb_of_slow(p json)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_text text := p::text;
begin
  begin
    return v_text::pg_catalog.jsonb;
  exception when others then
    null;
  end;
  -- Escaped backslashes set aside first (a raw control character cannot be in a json
  -- text), so that "\\u0000" (a backslash, then u0000) stays as it is.
  v_text := pg_catalog.replace(pg_catalog.regexp_replace(pg_catalog.replace(v_text, '\\', pg_catalog.chr(1)),
                                                         '\\(u0000|u[dD][89a-fA-F][0-9a-fA-F]{2})', '\\\\\1', 'g'),
                               pg_catalog.chr(1), '\\');
  begin
    return v_text::pg_catalog.jsonb;
  exception when others then
    null;
  end;
  -- Every number outside a string as a string: a string token is kept (\1), a number
  -- token (\2) quoted, through a character no json text holds.
  v_text := pg_catalog.replace(pg_catalog.replace(
              pg_catalog.regexp_replace(v_text, '("(?:[^"\\]|\\.)*")|(-?[0-9][0-9.eE+-]*)', '\1' || pg_catalog.chr(2) || '\2' || pg_catalog.chr(2), 'g'),
              pg_catalog.chr(2) || pg_catalog.chr(2), ''), pg_catalog.chr(2), '"');
  begin
    return v_text::pg_catalog.jsonb;
  exception when others then
    return pg_catalog.to_jsonb(p::text);
  end;
end
$$;
comment on function retention_internal._jsonb_of_slow(json) is
  'Internal. _jsonb_of for a json text the cast to jsonb refuses: \u0000 and lone surrogate escapes kept as text, then numbers as strings, then the whole text as a string.';

-- A json value as jsonb: the cast where the text has no \u escape and no long number or
-- exponent, else _jsonb_of_slow. No SET clause, so that PostgreSQL inlines it into the
-- statement over the rows (a SET clause made it a call per row, ~7 times slower: round
-- atk137): the operator named with its schema, the pattern an E'' literal (the same
-- whatever standard_conforming_strings says).
create or replace function retention_internal._jsonb_of(p json)
returns jsonb
language sql
immutable
parallel safe
as $$
  select case when p::pg_catalog.text operator(pg_catalog.!~) E'\\\\u|[0-9]{250}|[eE][+-]?[0-9]{5}'
              then p::pg_catalog.jsonb
              else retention_internal._jsonb_of_slow(p) end
$$;
comment on function retention_internal._jsonb_of(json) is
  'Internal. A json value as jsonb, never failing: escapes jsonb refuses (\u0000, lone surrogates) kept as the text they are written with, numbers beyond its range as strings (_jsonb_of_slow).';

-- A text read as JSON where it is a JSON object or array (an API payload kept as
-- received, inside a JSON string); NULL otherwise, and past 1 MB.
create or replace function retention_internal._jsonb_or_null(p_text text)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
begin
  if p_text is null or pg_catalog.octet_length(p_text) > 1048576 or p_text !~ '^\s*[[{]' then
    return null;
  end if;
  return p_text::pg_catalog.jsonb;
exception when others then
  return null;
end
$$;
comment on function retention_internal._jsonb_or_null(text) is
  'Internal. A text read as jsonb where it is a JSON object or array of up to 1 MB; NULL otherwise.';

-- The pieces of a value a message (or a reference, or a hold) might quote, as SQL: an
-- expression of type text[] over p_expr, a value of type p_type. One definition for the
-- erasure's search of messages and holds (_forget_rows) and for the check that a
-- request's reference names none of the person's values (_names_row).
--   * the value as its type's output function writes it (format's %s: no cast, so no cast
--     another role defined on the type runs as the owner);
--   * an array's elements, a composite's fields, a range's bounds, a multirange's ranges,
--     each taken apart the same way, however deep they nest (an array of composites
--     whose field is jsonb: round atk81 F1b/F3/F4);
--   * a JSON value's strings and numbers, at every level, and its object keys that are
--     not plain identifiers ('alice@example.com' as a key is data; 'email' is a field
--     name, and taking it would cut the word out of every message and refuse every
--     reference that says it); and the strings and numbers of a JSON text held in one of
--     its strings (a payload kept as received: {"payload": "{\"passport\": …}"}; left
--     open since stop 39);
--   * the double-quoted pieces of a type whose text quotes what it holds (hstore:
--     '"email"=>"alice@…"'; round atk78 F6), the numbers of a geometric value (a point's
--     coordinates);
--   * a bytea's text where it is UTF-8 text without control characters (an address kept
--     as bytes, round atk92 F3), up to 64 kB; not its bytes otherwise;
--   * nothing of a boolean, a bit string or an enum's label (they name nobody), but an
--     enum's label where p_labels says so (a hold: a subject column the application made
--     an enum of its values, round atk107 F1).
-- p_skip: type categories left out besides those (the reference check leaves out
-- intervals, which name nobody). Domains are taken as their base type. Past sixteen levels
-- a value is taken whole.
drop function if exists retention_internal._value_pieces_sql(text, oid, text[], integer);
create or replace function retention_internal._value_pieces_sql(p_expr text, p_type oid, p_skip text[] default '{}',
                                                                 p_depth integer default 0, p_labels boolean default false)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_type oid := p_type;
  v_t    record;
  v_sub  oid;
  v_e    text := format('e%s', p_depth);
  v_sql  text;
begin
  v_type := retention_internal._domain_base(v_type);
  select t.typtype, t.typcategory, t.typrelid, t.typelem, t.typlen into v_t from pg_catalog.pg_type t where t.oid = v_type;
  -- A bytea: its text, where it holds UTF-8 text (an address kept as bytes: round atk92
  -- F3), or Latin-1 (_bytea_texts).
  if v_type = 'bytea'::regtype and not 'U' = any (p_skip) then
    return format('retention_internal._bytea_texts(%s)', p_expr);
  end if;
  if v_t.typcategory = 'E' and p_labels then
    return format('array[pg_catalog.format(''%%s'', %s)]', p_expr);
  end if;
  if v_t.typtype is null or v_type in ('boolean'::regtype, 'bytea'::regtype) or v_t.typcategory in ('B', 'E', 'V')
     or v_t.typcategory::text = any (p_skip) then
    return '''{}''::pg_catalog.text[]';
  end if;
  if p_depth >= 16 then
    return format('array[pg_catalog.format(''%%s'', %s)]', p_expr);
  end if;
  if v_type in ('json'::regtype, 'jsonb'::regtype) then
    p_expr := case when v_type = 'json'::regtype then format('retention_internal._jsonb_of((%s)::pg_catalog.json)', p_expr)
                   else p_expr end;
    -- Not a value nested too deep for a path query (round atk142 F6: its pieces are none;
    -- a hold holds it whole, _jsonb_deep). Numbers as the numbers they are, within reach
    -- (_json_number_piece).
    v_sql := format('retention_internal._jsonb_deep((%s)::pg_catalog.jsonb)', p_expr);
    return format('case when %3$s then ''{}''::pg_catalog.text[] else array(select x #>> ''{}'' from pg_catalog.jsonb_path_query((%1$s)::pg_catalog.jsonb,
                           ''strict $.** ? (@.type() == "string")'') x)
                   || array(select v from (select retention_internal._json_number_piece(x) as v from pg_catalog.jsonb_path_query((%1$s)::pg_catalog.jsonb,
                           ''strict $.** ? (@.type() == "number")'') x) n where v is not null)
                   || array(select x #>> ''{}'' from pg_catalog.jsonb_path_query((%1$s)::pg_catalog.jsonb,
                           ''strict $.** ? (@.type() == "object").keyvalue().key'') x
                           where %2$s or x #>> ''{}'' !~ ''^[A-Za-z_][A-Za-z0-9_]*$'')
                   || array(select v from (select case when pg_catalog.jsonb_typeof(y) = ''number'' then retention_internal._json_number_piece(y) else y #>> ''{}'' end as v
                               from pg_catalog.jsonb_path_query((%1$s)::pg_catalog.jsonb, ''strict $.** ? (@.type() == "string")'') x
                              cross join lateral (select retention_internal._jsonb_or_null(x #>> ''{}'') as j) i
                              cross join lateral pg_catalog.jsonb_path_query(case when retention_internal._jsonb_deep(i.j) then null else i.j end,
                               ''strict $.** ? (@.type() == "string" || @.type() == "number")'') y) n where v is not null) end', p_expr,
                  -- Every key for a hold (a map keyed by login: {"jdoe": ...}; round atk139
                  -- F3); a message's keys only where no field name looks like them.
                  case when p_labels then 'true' else 'false' end, v_sql);
  end if;
  -- An array (not a fixed-length one such as point, whose typelem is float8).
  if v_t.typcategory = 'A' and v_t.typelem <> 0 and v_t.typlen = -1 then
    return format('coalesce((select pg_catalog.array_agg(p) from (select pg_catalog.unnest(%s) as v) %s
                              cross join lateral pg_catalog.unnest(%s) p), ''{}''::pg_catalog.text[])',
                  p_expr, v_e, retention_internal._value_pieces_sql(v_e || '.v', v_t.typelem, p_skip, p_depth + 1, p_labels));
  end if;
  if v_t.typtype = 'c' then
    select string_agg(' || ' || retention_internal._value_pieces_sql(format('(%s).%I', p_expr, f.attname), f.atttypid, p_skip, p_depth + 1, p_labels),
                      '' order by f.attnum)
      into v_sql
      from pg_catalog.pg_attribute f
     where f.attrelid = v_t.typrelid and f.attnum > 0 and not f.attisdropped;
    return format('array[pg_catalog.format(''%%s'', %s)]%s', p_expr, coalesce(v_sql, ''));
  end if;
  if v_t.typtype = 'r' then
    select r.rngsubtype into v_sub from pg_catalog.pg_range r where r.rngtypid = v_type;
    return format('array[pg_catalog.format(''%%s'', %1$s)] || %2$s || %3$s', p_expr,
                  retention_internal._value_pieces_sql(format('pg_catalog.lower(%s)', p_expr), v_sub, p_skip, p_depth + 1, p_labels),
                  retention_internal._value_pieces_sql(format('pg_catalog.upper(%s)', p_expr), v_sub, p_skip, p_depth + 1, p_labels));
  end if;
  if v_t.typtype = 'm' then
    execute 'select r.rngtypid from pg_catalog.pg_range r where r.rngmultitypid = $1' into v_sub using v_type;
    return format('array[pg_catalog.format(''%%s'', %s)] || coalesce((select pg_catalog.array_agg(p) from (select pg_catalog.unnest(%s) as v) %s
                              cross join lateral pg_catalog.unnest(%s) p), ''{}''::pg_catalog.text[])',
                  p_expr, p_expr, v_e, retention_internal._value_pieces_sql(v_e || '.v', v_sub, p_skip, p_depth + 1, p_labels));
  end if;
  if v_t.typcategory = 'G' then
    return format('array[pg_catalog.format(''%%s'', %1$s)] || array(select m[1] from pg_catalog.regexp_matches(pg_catalog.format(''%%s'', %1$s),
                           ''([-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)'', ''g'') m)', p_expr);
  end if;
  -- A text search value's lexemes are single-quoted ('alice@x.com':1); an XML value's
  -- text lies between its tags; a char(n) pads with blanks a message leaves off (round
  -- atk86 F1).
  if v_type in ('tsvector'::regtype, 'tsquery'::regtype) then
    return format('array[pg_catalog.format(''%%s'', %1$s)] || array(select pg_catalog.replace(m[1], '''''''''''', '''''''')
                           from pg_catalog.regexp_matches(pg_catalog.format(''%%s'', %1$s), ''''''((?:[^'''']|'''''''')*)'''''', ''g'') m)', p_expr);
  end if;
  -- An XML value's text between its tags, its attributes' values and its CDATA sections
  -- (round atk139 F4; a subject hold holds every row of an xml column: _hold_kind).
  if v_type = 'xml'::regtype then
    return format('array[pg_catalog.format(''%%s'', %1$s)] || array(select pg_catalog.btrim(x) from pg_catalog.regexp_split_to_table(pg_catalog.format(''%%s'', %1$s), ''<[^>]*>'') x
                                                        where pg_catalog.btrim(x) <> '''')
                   || array(select coalesce(m[1], m[2], m[3]) from pg_catalog.regexp_matches(pg_catalog.format(''%%s'', %1$s),
                              ''=\s*"([^"]*)"|=\s*''''([^'''']*)''''|<!\[CDATA\[(.*?)\]\]>'', ''g'') m)', p_expr);
  end if;
  -- Money as written ($7.00) and as the number it is (round atk142 F4: {$7.00} of a
  -- money[] under a hold on 7).
  if v_type = 'money'::regtype then
    return format('array[pg_catalog.format(''%%s'', %1$s), (%1$s)::pg_catalog.numeric::pg_catalog.text]', p_expr);
  end if;
  if v_type = 'character'::regtype then
    return format('array[pg_catalog.format(''%%s'', %1$s), pg_catalog.rtrim(pg_catalog.format(''%%s'', %1$s))]', p_expr);
  end if;
  if v_t.typcategory = 'U' then
    return format('array[pg_catalog.format(''%%s'', %1$s)] || array(select pg_catalog.replace(pg_catalog.replace(m[1], ''\"'', ''"''), ''\\'', ''\'')
                           from pg_catalog.regexp_matches(pg_catalog.format(''%%s'', %1$s), ''"((?:[^"\\]|\\.)*)"'', ''g'') m)', p_expr);
  end if;
  return format('array[pg_catalog.format(''%%s'', %s)]', p_expr);
end
$$;
comment on function retention_internal._value_pieces_sql(text, oid, text[], integer, boolean) is
  'Internal. SQL (text[]) of the pieces of a value a message might quote: its text, an array''s elements, a composite''s fields, a range''s bounds, JSON strings, numbers and keys, at every level, a bytea''s text (UTF-8, UTF-16 or Latin-1), an XML value''s text, attributes and CDATA; every JSON key if p_labels (a hold''s pieces); nothing of booleans, bit strings, and enums unless p_labels.';

-- The same for every column of a table row (alias t): SQL of type text[], or NULL when no
-- column can hold a piece.
create or replace function retention_internal._row_pieces_sql(p_rel regclass, p_skip text[] default '{}')
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select string_agg(x.e, ' || ' order by x.attnum, x.k)
    from (select a.attnum, 0 as k, retention_internal._value_pieces_sql(format('t.%I', a.attname), a.atttypid, p_skip) as e
            from pg_catalog.pg_attribute a
           where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped
          union all
          -- Spellings a message prints that the pieces do not: a bytea as its hex output
          -- ('\x7a65...'; round atk150 F2, up to 1,000 bytes), a number without the zeros
          -- of its scale (98765432.00 quoted as 98765432: F4).
          select a.attnum, 1,
                 case retention_internal._domain_base(a.atttypid)
                   when 'bytea'::pg_catalog.regtype
                   then pg_catalog.format('(case when pg_catalog.octet_length(t.%1$I) <= 1000 then array[pg_catalog.chr(92) || ''x'' || pg_catalog.encode(t.%1$I, ''hex'')] else ''{}''::pg_catalog.text[] end)', a.attname)
                   else pg_catalog.format('(case when t.%1$I is null then ''{}''::pg_catalog.text[] else array[pg_catalog.trim_scale(t.%1$I)::pg_catalog.text] end)', a.attname) end
            from pg_catalog.pg_attribute a
           where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped
             and retention_internal._domain_base(a.atttypid) in ('bytea'::pg_catalog.regtype, 'numeric'::pg_catalog.regtype)) x
   where x.e <> '''{}''::pg_catalog.text[]'
$$;
comment on function retention_internal._row_pieces_sql(regclass, text[]) is
  'Internal. SQL (text[]) of the pieces of every column of a row (alias t) a message might quote (_value_pieces_sql); NULL when none can hold one.';
