-- A text with its runs of percent-escapes (%40, %C3%A9) read as the UTF-8 they spell; a run
-- that is not valid UTF-8 stays as written. A reference 'u4%40ex.com' is u4@ex.com to
-- anyone who reads it (round atk86 F2).
create or replace function retention_internal._percent_decoded(p_text text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  m      text[];
  v_text text collate "default" := p_text;
begin
  if v_text is null or pg_catalog.strpos(v_text, '%') = 0 or pg_catalog.getdatabaseencoding() <> 'UTF8' then
    return v_text;
  end if;
  for m in select pg_catalog.regexp_matches(v_text, '(?:%[0-9A-Fa-f]{2})+', 'g') loop
    begin
      -- Under the database's collation, whatever the argument's (the local variables take
      -- the call's; convert_from's result is "C"): one lowered under retention_internal.fold
      -- left replace() no collation to choose (42P22).
      v_text := pg_catalog.replace(v_text collate "default", m[1] collate "default",
                  pg_catalog.convert_from(pg_catalog.decode(pg_catalog.replace(m[1], '%', ''), 'hex'), 'UTF8') collate "default");
    exception when character_not_in_repertoire or untranslatable_character then
      null;  -- not UTF-8: left as written
    end;
  end loop;
  return v_text;
end
$$;
comment on function retention_internal._percent_decoded(text) is
  'Internal. A text with its runs of percent-escapes read as the UTF-8 they spell (runs that are not UTF-8 stay as written).';

-- What a text looks like to a reader, for telling whether a reference names a person
-- (round atk86 F2) and whether a value a hold named is held without its accents (round
-- atk79 F4): percent-escapes read, compatibility forms folded (fullwidth, ligatures),
-- accents dropped (Zoë as Zoe; Ł, Ø, Đ, Ħ as L, O, D, H; ß, æ, œ as ss, ae, oe), the
-- Cyrillic and Greek letters that look like Latin ones read as those (а as a, о as o, Ρ
-- as P; the dotless ı and the lunate sigma ϲ (as c, before NFKD makes it ς) too: round atk92 F1),
-- the final sigma ς as σ (lower('Σ') is σ, never ς: round atk107 F2), Arabic-Indic and
-- Devanagari digits as 0-9, lower case. In the spirit of Unicode's confusable skeletons (UTS #39), with the
-- look-alikes of the Latin alphabet only.
create or replace function retention_internal._skeleton(p_text text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_text is null or pg_catalog.getdatabaseencoding() <> 'UTF8' then pg_catalog.lower(p_text)
         else pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.lower((pg_catalog.translate(
                pg_catalog.regexp_replace(pg_catalog.normalize(pg_catalog.translate(retention_internal._percent_decoded(p_text), 'ϲϹ', 'cC'), 'NFKD'),
                                          '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g'),
                'аеорсухѕіјԁһӏԛԝвкмнтАВЕКМНОРСТХУЅІЈαορνιτκΑΒΕΖΗΙΚΜΝΟΡΤΥΧŁłØøĐđĦħıςϲ٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९',
                'aeopcyxsijdhlqwbkmhtABEKMHOPCTXYSIJaopvitkABEZHIKMNOPTYXLlOoDdHhiσc012345678901234567890123456789'))
                -- Lowered in every script, whatever the database's collation (retention_internal.fold).
                collate retention_internal.fold), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe') end
$$;
comment on function retention_internal._skeleton(text) is
  'Internal. A text as a reader sees it: percent-escapes read, compatibility forms folded, accents dropped, Cyrillic and Greek look-alikes of Latin letters read as those, other digits as 0-9, lower case.';

-- A value as the loosest collation an application may have had on a subject column reads
-- it, for telling whether a hold names it: _skeleton, then without what an ICU collation
-- at strength 1 ignores (the default-ignorable code points: soft hyphen, zero-width space
-- and joiners, word joiner, BOM, variation selectors, tags, Hangul fillers, controls)
-- and what it ignores with alternate=shifted (blanks and punctuation). A column made "C"
-- since keeps every row the hold held under it (round atk94 F3). Wider than any one
-- collation, on purpose: a hold keeps too much rather than too little.
create or replace function retention_internal._hold_skeleton(p_text text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select case when p_text is null or pg_catalog.getdatabaseencoding() <> 'UTF8'
              then pg_catalog.regexp_replace(pg_catalog.lower(p_text), '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]', '', 'g')
         else pg_catalog.regexp_replace(retention_internal._skeleton(p_text),
                '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f\u0080-\u00a0\u00a1\u00a7\u00ab\u00ad\u00b6\u00b7\u00bb\u00bf'
                '\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2000-\u206f\u2e00-\u2e7f\u3000-\u303f\u3164'
                '\ufe00-\ufe0f\ufe30-\ufe4f\ufeff\uffa0\ufff0-\ufffb\U0001bca0-\U0001bca3\U000e0000-\U000e0fff]', '', 'g') end
$$;
comment on function retention_internal._hold_skeleton(text) is
  'Internal. _skeleton without default-ignorable code points, controls, blanks and punctuation: a subject value as an ICU collation at strength 1 with alternate=shifted reads it, for holds.';

-- A text with the encodings people and programs write an address in read back: percent-
-- escapes however often applied (%2540), HTML character references (&#64;, &#x40;,
-- &commat;), JSON and JavaScript escapes (\u0040), quoted-printable (=40), and the words
-- that stand for '@' and '.' ("(at)", "[dot]", " at ", " dot "). For comparing a text with
-- a person's values (round atk92 F1, F4): both sides are read so, so a value that itself
-- says " at " still matches itself.
create or replace function retention_internal._unescaped(p_text text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  m    text[];
  v_cp bigint;
  v_prev text;
begin
  if p_text is null or pg_catalog.getdatabaseencoding() <> 'UTF8' then
    return p_text;
  end if;
  for i in 1 .. 3 loop
    v_prev := p_text;
    p_text := retention_internal._percent_decoded(p_text);
    exit when p_text = v_prev;
  end loop;
  -- Numeric character references and \u escapes, one code point each.
  for m in select pg_catalog.regexp_matches(p_text, '(&#[0-9]{1,7};|&#[xX][0-9A-Fa-f]{1,6};|\\u[0-9A-Fa-f]{4}|\\u\{[0-9A-Fa-f]{1,6}\})', 'g') loop
    v_cp := case when m[1] ~ '^&#[xX]' then ('x' || pg_catalog.lpad(pg_catalog.substr(m[1], 4, pg_catalog.length(m[1]) - 4), 8, '0'))::bit(32)::bigint
                 when m[1] ~ '^&#' then pg_catalog.substr(m[1], 3, pg_catalog.length(m[1]) - 3)::bigint
                 else ('x' || pg_catalog.lpad(pg_catalog.regexp_replace(m[1], '[\\u{}]', '', 'g'), 8, '0'))::bit(32)::bigint end;
    if v_cp between 1 and 1114111 and v_cp not between 55296 and 57343 then
      p_text := pg_catalog.replace(p_text, m[1], pg_catalog.chr(v_cp::int));
    end if;
  end loop;
  p_text := pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(p_text,
              '&commat;', '@'), '&period;', '.'), '&amp;', '&'), '&nbsp;', ' ');
  -- Quoted-printable: runs of =XX read as the UTF-8 they spell (not UTF-8: left as written).
  for m in select pg_catalog.regexp_matches(p_text, '(?:=[0-9A-F]{2})+', 'g') loop
    begin
      p_text := pg_catalog.replace(p_text, m[1],
                  pg_catalog.convert_from(pg_catalog.decode(pg_catalog.replace(m[1], '=', ''), 'hex'), 'UTF8'));
    exception when character_not_in_repertoire or untranslatable_character then
      null;
    end;
  end loop;
  p_text := pg_catalog.regexp_replace(p_text, '\s*[\(\[\{<]\s*at\s*[\)\]\}>]\s*|\s+at\s+', '@', 'gi');
  p_text := pg_catalog.regexp_replace(p_text, '\s*[\(\[\{<]\s*dot\s*[\)\]\}>]\s*|\s+dot\s+', '.', 'gi');
  return p_text;
end
$$;
comment on function retention_internal._unescaped(text) is
  'Internal. A text with percent-escapes (however often applied), HTML character references, \u escapes and quoted-printable read, and "(at)", " at ", "[dot]", " dot " read as @ and .: how a reader reads an address written to pass a filter.';

-- The forms of a text to compare a person's value with, loosely (round atk92 F1, F4): as a
-- reader sees it (_unescaped, then _skeleton) without anything but letters, digits and '@'
-- ('Alice  Smith', 'alice@example .com'); its words in order ('Smith, Alice' is 'alice
-- smith'); and, for a phone number (only digits and + ( ) . - / and blanks, at least seven
-- digits), its last nine digits ('+44 7700 900123' and '07700 900123' are one number).
-- Forms shorter than four characters are left out: they name nobody.
create or replace function retention_internal._loose_forms(p_text text)
returns text[]
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_s     text;
  v_reads text[];
  v_forms text[] := '{}';
  v_f     text;
  v_d     text;
begin
  if p_text is null then
    return null;
  end if;
  v_s := retention_internal._skeleton(retention_internal._unescaped(p_text));
  -- Read also as the address a URI, a display name or a sub-address carries ('mailto:…',
  -- 'tel:+44-…', 'Alicia Smith <alice@…>', 'alice+news@…'), and as the text base64 spells
  -- (round atk100 F4).
  v_reads := array[v_s, pg_catalog.regexp_replace(v_s, '^[[:space:]]*(mailto|tel|sms|callto|sips?):', '')]
             || array(select m[1] from pg_catalog.regexp_matches(v_s, '<([^<>]*@[^<>]*)>', 'g') m);
  v_reads := v_reads || array(select pg_catalog.regexp_replace(r, '[+][^@[:space:]]*@', '@', 'g') from unnest(v_reads) r
                               where r ~ '[+][^@[:space:]]*@');
  if pg_catalog.btrim(p_text) ~ '^[A-Za-z0-9+/]{8,}={0,2}$' and pg_catalog.length(pg_catalog.btrim(p_text)) % 4 = 0 then
    begin
      v_reads := v_reads || retention_internal._skeleton(pg_catalog.convert_from(pg_catalog.decode(pg_catalog.btrim(p_text), 'base64'), 'UTF8'));
    exception when others then
      null;  -- not base64 of UTF-8 text
    end;
  end if;
  foreach v_s in array v_reads loop
    v_f := pg_catalog.regexp_replace(v_s, '[^[:alnum:]@]+', '', 'g');
    if pg_catalog.length(v_f) >= 4 then
      v_forms := v_forms || v_f;
    end if;
    v_f := pg_catalog.array_to_string(array(select w from pg_catalog.regexp_split_to_table(v_s, '[^[:alnum:]@]+') w
                                             where w <> '' order by w collate "C"), ' ');
    if pg_catalog.strpos(v_f, ' ') > 0 and pg_catalog.length(v_f) >= 4 then
      v_forms := v_forms || v_f;
    end if;
    if v_s ~ '^[\s0-9+().\-/]+$' then
      v_d := pg_catalog.regexp_replace(v_s, '[^0-9]+', '', 'g');
      if pg_catalog.length(v_d) >= 7 then
        v_forms := v_forms || ('tel:' || pg_catalog.right(v_d, 9));
      end if;
    end if;
  end loop;
  return array(select distinct f from unnest(v_forms) f);
end
$$;
comment on function retention_internal._loose_forms(text) is
  'Internal. A text''s forms for a loose comparison with a person''s value: as read (_unescaped, _skeleton; also as a URI''s, a display name''s or a sub-address''s address and as base64''s text) with letters, digits and @ only; its words sorted; a phone number''s last nine digits. Forms under four characters left out.';

-- Whether p_text holds p_part (trimmed), without case and with runs of blanks as one.
-- SQL without SET, no backslash in its literals, operators qualified: PostgreSQL inlines it
-- into its callers, which pin search_path and standard_conforming_strings themselves.
create or replace function retention_internal._holds_text(p_text text, p_part text)
returns boolean
language sql
immutable
as $$
  select pg_catalog.strpos(pg_catalog.regexp_replace(pg_catalog.translate(pg_catalog.lower(p_text), 'ς', 'σ'), '[[:space:]]+', ' ', 'g'),
                           pg_catalog.regexp_replace(pg_catalog.translate(pg_catalog.lower(pg_catalog.btrim(p_part)), 'ς', 'σ'), '[[:space:]]+', ' ', 'g'))
         operator(pg_catalog.>) 0
$$;
comment on function retention_internal._holds_text(text, text) is
  'Internal. Whether a text holds another (trimmed), without case (the final sigma as σ) and with runs of blanks as one.';

-- The readings of a text someone could recover the person from (round atk118 F1: a
-- reference 'T-' || base64 of the e-mail address passed every check, and so did hex;
-- round atk119 F2: hex dumps with blanks or colons, base64 in dotted groups, base64 of the
-- address reversed, three rounds, rot13, base32, decimal character codes): the text as
-- written; reversed; rot13; and, round after round until nothing new comes (at most four),
-- in each reading and in it with the separators between its groups taken out (blanks,
-- dots, colons, commas, semicolons, bars; then dashes and underscores too), each run of
-- eight or more base64 characters (the URL-safe alphabet too) decoded at each of the four
-- alignments, each run of eight or more hex digits at both, each run of eight or more
-- base32 characters, and a list of three or more decimal character codes (32 to 126), as
-- UTF-8 where the bytes are, else as the ASCII they hold; each decoded reading reversed
-- too. At most 200 readings.
create or replace function retention_internal._text_reads(p_text text)
returns text[]
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_reads text[];
  v_front text[];
  v_new   text[];
  v_t     text;
  v_src   text;
  v_run   text;
  v_part  text;
  v_b     bytea;
  k       integer;
  r       integer;
begin
  if p_text is null then
    return null;
  end if;
  v_reads := array[p_text, pg_catalog.reverse(p_text),
                   pg_catalog.translate(p_text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                                                'NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm')];
  v_front := array[p_text, pg_catalog.reverse(p_text)];
  for r in 1 .. 4 loop
    v_new := '{}';
    foreach v_src in array v_front loop
      foreach v_t in array array[v_src,
                                 pg_catalog.regexp_replace(v_src, '([[:alnum:]])[[:space:].:,;|]+(?=[[:alnum:]])', '\1', 'g'),
                                 pg_catalog.regexp_replace(v_src, '([[:alnum:]])[[:space:].:,;|_-]+(?=[[:alnum:]])', '\1', 'g')] loop
        for v_run in
          select m[1] from pg_catalog.regexp_matches(v_t, '([A-Za-z0-9+/_-]{8,}={0,2})', 'g') m
          union
          select m[1] from pg_catalog.regexp_matches(v_t, '([A-Za-z0-9+/]{8,}={0,2})', 'g') m
        loop
          for k in 0 .. 3 loop
            v_part := pg_catalog.rtrim(pg_catalog.translate(pg_catalog.substr(v_run, k + 1), '-_', '+/'), '=');
            -- Without its padding ('…Mw'): padded again; a last lone character dropped.
            v_part := pg_catalog.left(v_part, pg_catalog.length(v_part) - case when pg_catalog.length(v_part) % 4 = 1 then 1 else 0 end);
            v_part := pg_catalog.rpad(v_part, (pg_catalog.length(v_part) + 3) / 4 * 4, '=');
            continue when pg_catalog.length(v_part) < 8;
            begin
              v_b := pg_catalog.decode(v_part, 'base64');
            exception when others then
              continue;
            end;
            v_new := v_new || retention_internal._bytes_read(v_b);
          end loop;
        end loop;
        for v_run in select m[1] from pg_catalog.regexp_matches(v_t, '([0-9A-Fa-f]{8,})', 'g') m loop
          for k in 0 .. 1 loop
            v_part := pg_catalog.substr(v_run, k + 1);
            v_part := pg_catalog.left(v_part, pg_catalog.length(v_part) / 2 * 2);
            v_new := v_new || retention_internal._bytes_read(pg_catalog.decode(v_part, 'hex'));
          end loop;
        end loop;
        for v_run in select m[1] from pg_catalog.regexp_matches(pg_catalog.upper(v_t), '([A-Z2-7]{8,})', 'g') m loop
          v_new := v_new || retention_internal._bytes_read(retention_internal._base32_decode(v_run));
        end loop;
      end loop;
      -- Decimal character codes: '106.117.110.101 …'.
      for v_run in select m[1] from pg_catalog.regexp_matches(v_src, '((?:[0-9]{2,3}[^0-9]+){3,}[0-9]{2,3})', 'g') m loop
        v_new := v_new || (select pg_catalog.string_agg(case when d::int between 32 and 126 then pg_catalog.chr(d::int) else ' ' end, '' order by o)
                             from pg_catalog.regexp_split_to_table(v_run, '[^0-9]+') with ordinality x(d, o) where d <> '');
      end loop;
    end loop;
    v_new := array(select distinct x from unnest(v_new || array(select pg_catalog.reverse(y) from unnest(v_new) y)) x
                    where x ~ '[[:alnum:]]{4}' and not x = any (v_reads));
    exit when pg_catalog.cardinality(v_new) = 0;
    v_reads := v_reads || v_new;
    exit when pg_catalog.cardinality(v_reads) >= 200;
    v_front := v_new;
  end loop;
  return v_reads[1:200];
end
$$;
comment on function retention_internal._text_reads(text) is
  'Internal. A text''s readings: as written, reversed, rot13, and (until nothing new, at most four rounds, also with the separators between groups taken out) its runs of base64 (any alignment, URL-safe too), hex and base32 and its lists of decimal character codes decoded, as UTF-8 or as the ASCII they hold, each also reversed; at most 200.';

-- Base32 (RFC 4648, upper case, without padding) as bytes; the bits of a last partial
-- byte dropped.
create or replace function retention_internal._base32_decode(p_text text)
returns bytea
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_bits bigint := 0;
  v_n    integer := 0;
  v_out  bytea := '\x';
  v_c    integer;
  i      integer;
begin
  for i in 1 .. pg_catalog.length(p_text) loop
    v_c := pg_catalog.strpos('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', pg_catalog.substr(p_text, i, 1)) - 1;
    continue when v_c < 0;
    v_bits := (v_bits << 5) | v_c;
    v_n := v_n + 5;
    if v_n >= 8 then
      v_out := v_out || pg_catalog.set_byte('\x00'::bytea, 0, ((v_bits >> (v_n - 8)) & 255)::integer);
      v_n := v_n - 8;
      v_bits := v_bits & ((1::bigint << v_n) - 1);
    end if;
  end loop;
  return v_out;
end
$$;
comment on function retention_internal._base32_decode(text) is
  'Internal. Base32 (RFC 4648 alphabet, upper case) decoded to bytes; other characters skipped.';

-- Bytes as the text they hold: UTF-8 where they are, else their printable ASCII with every
-- other byte as a blank.
create or replace function retention_internal._bytes_read(p_bytes bytea)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
begin
  if pg_catalog.getdatabaseencoding() = 'UTF8' then
    begin
      return pg_catalog.convert_from(p_bytes, 'UTF8');
    exception when others then
      null;
    end;
  end if;
  return pg_catalog.regexp_replace(pg_catalog.encode(p_bytes, 'escape'), '\\[0-7]{3}|\\\\|[^ -~]', ' ', 'g');
end
$$;
comment on function retention_internal._bytes_read(bytea) is
  'Internal. Bytes as text: UTF-8 where they are, else their printable ASCII with other bytes as blanks.';

-- Whether a text (a request's reference, who asked) holds a value of the person's: without
-- case and with runs of blanks as one, in one Unicode form, as a reader sees both
-- (_skeleton), and loosely (_loose_forms: the value's letters and digits among the text's,
-- its words all words of the text, a phone number's last nine digits among the text's
-- digits); a name's (two to four capitalised words) words of four letters or more, each
-- as a word of the text. Values of fewer than four characters are left out.
create or replace function retention_internal._names_value_as_read(p_text text, p_value text)
returns boolean
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_utf8 boolean := pg_catalog.getdatabaseencoding() = 'UTF8';
  v_t    text;
  v_f    text;
  v_hit  boolean;
begin
  if p_text is null or p_value is null or pg_catalog.length(pg_catalog.btrim(p_value)) < 4 then
    return false;
  end if;
  if retention_internal._holds_text(case when v_utf8 then pg_catalog.normalize(p_text, 'NFC') else p_text end,
                                    case when v_utf8 then pg_catalog.normalize(p_value, 'NFC') else p_value end)
     or retention_internal._holds_text(retention_internal._skeleton(p_text), retention_internal._skeleton(p_value))
     -- Lowered first too: _skeleton reads Ν as N and ν as v (round atk107 F2).
     or retention_internal._holds_text(retention_internal._skeleton(pg_catalog.lower(p_text collate retention_internal.fold)),
                                       retention_internal._skeleton(pg_catalog.lower(p_value collate retention_internal.fold))) then
    return true;
  end if;
  v_t := retention_internal._skeleton(retention_internal._unescaped(p_text));
  foreach v_f in array retention_internal._loose_forms(p_value) loop
    v_hit := case when v_f like 'tel:%'
                    then pg_catalog.strpos(pg_catalog.regexp_replace(v_t, '[^0-9]+', '', 'g'), pg_catalog.substr(v_f, 5)) > 0
                  when pg_catalog.strpos(v_f, ' ') > 0
                    then pg_catalog.string_to_array(v_f, ' ') <@ pg_catalog.regexp_split_to_array(v_t, '[^[:alnum:]@]+')
                  else pg_catalog.strpos(pg_catalog.regexp_replace(v_t, '[^[:alnum:]@]+', '', 'g'), v_f) > 0 end;
    if v_hit then
      return true;
    end if;
  end loop;
  -- A name (two to four capitalised words): any word of it of four letters or more, as a
  -- word of the text ('A. Smith' for 'Alice Smith').
  if p_value ~ '^\s*[[:upper:]][[:alpha:]''’.-]*(\s+[[:upper:]][[:alpha:]''’.-]*){1,3}\s*$' then
    return exists (select from pg_catalog.regexp_split_to_table(retention_internal._skeleton(p_value), '[^[:alnum:]]+') w
                    where pg_catalog.length(w) >= 4
                      and w = any (pg_catalog.regexp_split_to_array(v_t, '[^[:alnum:]]+')));
  end if;
  return false;
end
$$;
comment on function retention_internal._names_value_as_read(text, text) is
  'Internal. Whether a text, as it stands, holds a value (4+ characters) of a person: as written, in NFC, as read (_skeleton) or loosely (_loose_forms), without case and with runs of blanks as one; a word of 4+ letters of a name. _text_names_value reads the text in its other readings too.';


-- Whether a text (a request's reference, who asked) holds a value of the person's, in any
-- reading of it (_text_reads: reversed, for a value with letters or seven digits or more;
-- rot13; base64, hex, base32 or decimal codes decoded) as
-- _names_value_as_read compares them; a handle written with its '@' ('@alicez') also without it.
create or replace function retention_internal._text_names_value(p_text text, p_value text)
returns boolean
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_reads text[];
begin
  if p_text is null or p_value is null or pg_catalog.length(pg_catalog.btrim(p_value)) < 4 then
    return false;
  end if;
  v_reads := retention_internal._text_reads(p_text);
  for i in 1 .. pg_catalog.cardinality(v_reads) loop
    -- The reversed reading (the second) for a value with letters only: a number reversed
    -- is too often another number (ticket 1021 is not the person 1201).
    -- (A phone number, seven digits or more, reversed too.)
    continue when i = 2 and p_value !~ '[[:alpha:]]{2}'
                  and pg_catalog.length(pg_catalog.regexp_replace(p_value, '[^0-9]', '', 'g')) < 7;
    if retention_internal._names_value_as_read(v_reads[i], p_value)
       or (p_value ~ '^\s*@' and retention_internal._names_value_as_read(v_reads[i], pg_catalog.ltrim(pg_catalog.btrim(p_value), '@'))) then
      return true;
    end if;
  end loop;
  return false;
end
$$;
comment on function retention_internal._text_names_value(text, text) is
  'Internal. Whether a text holds a value (4+ characters) of a person in any of its readings (_text_reads: as written, reversed, base64 or hex decoded), as _names_value_as_read compares them; a handle also without its leading @.';

-- A key as a reader takes it, for telling whether a hold named a person by their key in
-- another spelling (round atk100 F1): its digits in any script ('４２' fullwidth, '٤٢'
-- Arabic-Indic, as _skeleton reads them), a uuid as a URN ('urn:uuid:…'), a decimal comma
-- between digits ('7,5'). _subject_value of it then gives the key's own text, or NULL.
create or replace function retention_internal._key_reading(p_text text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select pg_catalog.regexp_replace(pg_catalog.regexp_replace(retention_internal._skeleton(pg_catalog.btrim(p_text, E' \t\r\n')),
                                                             '^urn:uuid:', ''),
                                   '^([+-]?[0-9]+),([0-9]+)$', '\1.\2')
$$;
comment on function retention_internal._key_reading(text) is
  'Internal. A key as a reader takes it: digits of any script as 0-9, lower case, without a urn:uuid: prefix, a decimal comma between digits as a point.';
