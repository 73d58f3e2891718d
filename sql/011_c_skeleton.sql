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
  m text[];
begin
  if p_text is null or pg_catalog.strpos(p_text, '%') = 0 or pg_catalog.getdatabaseencoding() <> 'UTF8' then
    return p_text;
  end if;
  for m in select pg_catalog.regexp_matches(p_text, '(?:%[0-9A-Fa-f]{2})+', 'g') loop
    begin
      p_text := pg_catalog.replace(p_text, m[1],
                  pg_catalog.convert_from(pg_catalog.decode(pg_catalog.replace(m[1], '%', ''), 'hex'), 'UTF8'));
    exception when character_not_in_repertoire or untranslatable_character then
      null;  -- not UTF-8: left as written
    end;
  end loop;
  return p_text;
end
$$;
comment on function retention_internal._percent_decoded(text) is
  'Internal. A text with its runs of percent-escapes read as the UTF-8 they spell (runs that are not UTF-8 stay as written).';

-- What a text looks like to a reader, for telling whether a reference names a person
-- (round atk86 F2) and whether a value a hold named is held without its accents (round
-- atk79 F4): percent-escapes read, compatibility forms folded (fullwidth, ligatures),
-- accents dropped (Zoë as Zoe; Ł, Ø, Đ, Ħ as L, O, D, H; ß, æ, œ as ss, ae, oe), the
-- Cyrillic and Greek letters that look like Latin ones read as those (а as a, о as o, Ρ
-- as P), lower case. In the spirit of Unicode's confusable skeletons (UTS #39), with the
-- look-alikes of the Latin alphabet only.
create or replace function retention_internal._skeleton(p_text text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_text is null or pg_catalog.getdatabaseencoding() <> 'UTF8' then pg_catalog.lower(p_text)
         else pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.lower(pg_catalog.translate(
                pg_catalog.regexp_replace(pg_catalog.normalize(retention_internal._percent_decoded(p_text), 'NFKD'),
                                          '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g'),
                'аеорсухѕіјԁһӏԛԝвкмнтАВЕКМНОРСТХУЅІЈαορνιτκΑΒΕΖΗΙΚΜΝΟΡΤΥΧŁłØøĐđĦħ',
                'aeopcyxsijdhlqwbkmhtABEKMHOPCTXYSIJaopvitkABEZHIKMNOPTYXLlOoDdHh')), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe') end
$$;
comment on function retention_internal._skeleton(text) is
  'Internal. A text as a reader sees it: percent-escapes read, compatibility forms folded, accents dropped, Cyrillic and Greek look-alikes of Latin letters read as those, lower case.';
