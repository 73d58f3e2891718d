-- A policy's extra predicate must be one boolean expression over the target table.
-- It is pasted into the purge statements inside parentheses, so this check makes sure
-- it cannot leave them: no statement separators or comments, balanced parentheses
-- outside string literals, no dollar quoting. Then the planner (EXPLAIN, nothing is
-- executed) checks that it parses, names real columns and is boolean, and the plan may
-- read only the target's own schema.
create or replace function retention._validate_predicate(p_target regclass, p_predicate text)
returns void
language plpgsql
as $$
declare
  v_depth   int := 0;
  v_in_str  boolean := false;
  v_ch      text;
  v_plan    jsonb;
  v_schema  text;
  v_other   text;
  v_hint    constant text :=
    'Give one boolean expression over the table''s columns, e.g. status = ''processed'' or user_id IS NULL.';
begin
  if p_predicate is null then
    return;
  end if;
  if btrim(p_predicate) = '' then
    raise exception 'predicate is empty' using errcode = 'RT005', hint = v_hint;
  end if;
  if strpos(p_predicate, ';') > 0 then
    raise exception 'predicate must not contain a statement separator (;)'
      using errcode = 'RT005', hint = v_hint;
  end if;
  if strpos(p_predicate, '--') > 0 or strpos(p_predicate, '/*') > 0 then
    raise exception 'predicate must not contain comments (-- or /*)'
      using errcode = 'RT005', hint = v_hint;
  end if;
  if strpos(p_predicate, '$') > 0 then
    raise exception 'predicate must not contain $ (dollar quoting or parameters)'
      using errcode = 'RT005', hint = v_hint;
  end if;
  for i in 1 .. length(p_predicate) loop
    v_ch := substr(p_predicate, i, 1);
    if v_ch = '''' then
      v_in_str := not v_in_str;
    elsif not v_in_str and v_ch = '(' then
      v_depth := v_depth + 1;
    elsif not v_in_str and v_ch = ')' then
      v_depth := v_depth - 1;
      if v_depth < 0 then
        raise exception 'predicate has a closing parenthesis without an opening one'
          using errcode = 'RT005', hint = v_hint;
      end if;
    end if;
  end loop;
  if v_in_str or v_depth <> 0 then
    raise exception 'predicate has an unterminated string literal or unbalanced parentheses'
      using errcode = 'RT005', hint = v_hint;
  end if;

  begin
    execute format('explain (verbose, format json) select 1 from only %s t where (%s)',
                   retention._qualified_name(p_target), p_predicate)
      into v_plan;
  exception
    when syntax_error or undefined_column or undefined_function or undefined_table
      or datatype_mismatch or invalid_text_representation or undefined_object
      or ambiguous_column or grouping_error or wrong_object_type
      or insufficient_privilege or feature_not_supported then
      raise exception 'predicate is not a valid condition on %: %', p_target, sqlerrm
        using errcode = 'RT005', hint = v_hint, detail = 'SQLSTATE ' || sqlstate;
  end;

  select n.nspname into v_schema
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_target;
  select string_agg(distinct node ->> 'Schema' || '.' || (node ->> 'Relation Name'), ', ')
    into v_other
    from jsonb_path_query(v_plan, 'strict $.**') as node
   where jsonb_typeof(node) = 'object'
     and node ? 'Relation Name'
     and node ->> 'Schema' is distinct from v_schema;
  if v_other is not null then
    raise exception 'predicate reads tables outside schema %: %', v_schema, v_other
      using errcode = 'RT005',
            hint = 'A predicate may refer to the target table and tables of its own schema only.';
  end if;
end
$$;
comment on function retention._validate_predicate(regclass, text) is
  'Internal. Raises RT005 unless the text is one boolean expression over the table that reads only its schema.';
