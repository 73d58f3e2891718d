-- A scrub policy's column map, checked when the policy is saved and returned in normal
-- form: {"column": "null" | "sha256" | "empty_json" | {"constant": "text"}, ...}.
-- Every column must exist and suit its strategy: NULL needs a nullable column, sha256 a
-- text column long enough for 'sha256:' and 64 hex digits, empty_json a json or jsonb
-- column, a constant must be a value of the column's type and cannot go into a column
-- with a unique index (two scrubbed rows would collide: use sha256 there). Key columns,
-- the age column and the subject column are not scrubbed: the row keeps its identity,
-- its age and its legal holds.
create or replace function retention_internal._validate_scrub(
  p_target         regclass,
  p_scrub          jsonb,
  p_age_column     text,
  p_subject_column text
)
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_col    text;
  v_rule   jsonb;
  v_kind   text;
  v_type   regtype;
  v_att    record;
  v_ref    text;
  v_out    jsonb := '{}';
  v_hint   constant text := 'Map each column to "null", "sha256", "empty_json" or {"constant": "..."}, e.g. {"email": "sha256", "name": "null"}.';
begin
  if p_scrub is null or jsonb_typeof(p_scrub) <> 'object' or p_scrub = '{}' then
    raise exception 'scrub needs the columns to scrub and how'
      using errcode = 'RT019', hint = v_hint;
  end if;
  for v_col, v_rule in select * from jsonb_each(p_scrub) loop
    select a.atttypid::regtype as type, a.attnotnull, a.atttypmod, a.attnum into v_att
      from pg_catalog.pg_attribute a
     where a.attrelid = p_target and a.attname = v_col and a.attnum > 0 and not a.attisdropped;
    if not found then
      raise exception 'column % does not exist in %', quote_literal(v_col), p_target
        using errcode = 'RT002', hint = 'Name the columns that hold personal data (\d ' || p_target::text || ' lists them).';
    end if;
    v_type := v_att.type;
    -- Any write into it (null, sha256, a constant) runs the checks of its domains as the
    -- owner, and the owner of a domain may add one at any time (round atk103).
    v_ref := retention_internal._untrusted_domain(v_type);
    if v_ref is not null then
      raise exception 'column % of % is of %: a write runs its checks with the retention owner''s rights', quote_ident(v_col), p_target, v_ref
        using errcode = 'RT025', hint = 'Have the retention owner (or a superuser) own the domain (ALTER DOMAIN ... OWNER TO), or scrub other columns.';
    end if;
    if v_col in (p_age_column, p_subject_column) or exists (
         select from pg_catalog.pg_index i
          where i.indrelid = p_target and i.indisprimary and v_att.attnum = any (i.indkey::int2[])) then
      raise exception 'column % cannot be scrubbed: it is the %', quote_ident(v_col),
            case when v_col = p_age_column then 'age column'
                 when v_col = p_subject_column then 'subject column' else 'primary key' end
        using errcode = 'RT019', hint = 'A scrubbed row keeps its key, its age and its legal holds; scrub the personal columns only.';
    end if;
    -- A column other rows point at (email as a foreign key target).
    perform retention_internal._check_scrub_referenced(p_target, array[v_col::name]);
    v_kind := case when jsonb_typeof(v_rule) = 'string' then v_rule #>> '{}'
                   when jsonb_typeof(v_rule) = 'null' then 'null'
                   when jsonb_typeof(v_rule) = 'object' and v_rule ? 'constant' and (select count(*) from jsonb_object_keys(v_rule)) = 1
                        and jsonb_typeof(v_rule -> 'constant') = 'string' then 'constant' end;
    if v_kind is null or v_kind not in ('null', 'sha256', 'empty_json', 'constant') then
      raise exception 'unknown scrub strategy % for column %', v_rule, quote_ident(v_col)
        using errcode = 'RT019', hint = v_hint;
    end if;
    if v_kind = 'null' and v_att.attnotnull then
      raise exception 'column % is NOT NULL and cannot be scrubbed to NULL', quote_ident(v_col)
        using errcode = 'RT019', hint = 'Use a constant such as {"constant": "[purged]"}, or sha256.';
    elsif v_kind = 'sha256' and (v_type not in ('text'::regtype, 'character varying'::regtype, 'character'::regtype)
                                 and format_type(v_type, null) <> 'citext'
                                 or v_type <> 'text'::regtype and v_att.atttypmod between 0 and 71 + 4 - 1) then
      raise exception 'column % (%) cannot hold a sha256 digest', quote_ident(v_col), format_type(v_type, v_att.atttypmod)
        using errcode = 'RT019', hint = 'sha256 writes ''sha256:'' and 64 hex digits (71 characters) into a text column; use null or a constant here.';
    elsif v_kind = 'empty_json' and v_type not in ('json'::regtype, 'jsonb'::regtype) then
      raise exception 'column % is %, not json or jsonb', quote_ident(v_col), format_type(v_type, null)
        using errcode = 'RT019', hint = 'empty_json is for json and jsonb columns.';
    elsif v_kind = 'constant' then
      -- Casting the constant runs the checks of the column's domains (and of the domains of
      -- a composite's fields, an array's elements) as the owner: another role's code there
      -- is refused before the cast, as a run would refuse it.
      v_ref := retention_internal._type_code(v_type, (select c.relowner from pg_catalog.pg_class c where c.oid = p_target));
      if v_ref is not null then
        raise exception 'column % of %: %: pg-retention would run it with the retention owner''s rights', quote_ident(v_col), p_target, v_ref
          using errcode = 'RT025', hint = 'Have the retention owner (or a superuser) own the function, or scrub the column to null or sha256.';
      end if;
      -- A constant that names a moment ('now', 'today') is another value in every statement
      -- that casts it: a row scrubbed in one batch reads as unscrubbed in the next, and is
      -- scrubbed and counted again (round atk87 F6).
      if pg_catalog.lower(pg_catalog.btrim(v_rule ->> 'constant')) in ('now', 'today', 'tomorrow', 'yesterday') then
        raise exception 'constant % of column % names a moment, not a value', quote_literal(v_rule ->> 'constant'), quote_ident(v_col)
          using errcode = 'RT019', hint = 'Give a fixed value, e.g. {"constant": "1970-01-01"}, or scrub the column to null.';
      end if;
      begin
        execute format('select %L::%s', v_rule ->> 'constant', format_type(v_type, v_att.atttypmod));
        -- A character column shorter than the constant would cut it short (REDACTED into
        -- varchar(3) is RED; round atk83 F9).
        if retention_internal._base_type(v_type, -1) in ('character varying', 'character')
           and v_att.atttypmod > 4 and pg_catalog.length(v_rule ->> 'constant') > v_att.atttypmod - 4 then
          raise exception 'constant % is longer than column % (%)', quote_literal(v_rule ->> 'constant'),
                quote_ident(v_col), format_type(v_type, v_att.atttypmod)
            using errcode = 'RT019', hint = 'Give a constant that fits the column, or scrub it to null.';
        end if;
      exception when data_exception or check_violation or not_null_violation then
        raise exception 'constant % is not a value of column % (%)', quote_literal(v_rule ->> 'constant'),
              quote_ident(v_col), format_type(v_type, v_att.atttypmod)
          using errcode = 'RT019', hint = 'Give a constant of the column''s type (its domain''s checks included), e.g. purged@redacted.local for an email column.';
      end;
      if exists (select from pg_catalog.pg_index i
                  where i.indrelid = p_target and i.indisunique and i.indpred is null
                    and i.indnkeyatts = 1 and i.indkey[0] = v_att.attnum) then
        raise exception 'column % has a unique index: one constant for every scrubbed row would collide', quote_ident(v_col)
          using errcode = 'RT019', hint = 'Use sha256: each value becomes sha256:<digest of the original>, unique as the originals were.';
      end if;
    end if;
    v_out := v_out || jsonb_build_object(v_col, case when v_kind = 'constant' then v_rule else to_jsonb(v_kind) end);
  end loop;
  return v_out;
end
$$;
comment on function retention_internal._validate_scrub(regclass, jsonb, text, text) is
  'Internal. Checks a scrub policy''s column map against the table (columns, strategies, types, NOT NULL, unique indexes, key/age/subject columns, foreign-key targets) and returns it normalised.';
