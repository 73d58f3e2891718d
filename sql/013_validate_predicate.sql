-- A policy's extra predicate, parsed by PostgreSQL itself and returned in PostgreSQL's own
-- deparsed form, which is what the policy stores and the engine pastes (inside
-- parentheses) into its statements. The text is never inspected by hand, and it is parsed
-- as retention_predicate_checker, a role with no privileges: parsing can run user code (a
-- literal of an array or record type runs its element type's input, a domain its check),
-- which then can harm nothing, and names in schemas the role may not use (all but
-- pg_catalog, trusted schemas and those of the table's own column types) are not found.
--  1. one statement: it is placed in EXPLAIN SELECT (...) opened as a cursor and never
--     fetched, which PostgreSQL refuses for more than one statement without planning or
--     running anything (no ';' can hide in the text below);
--  2. one boolean expression over the table's own columns: it becomes a NOT VALID CHECK
--     constraint of an empty temporary copy of the table (parsed and stored, never
--     evaluated), which PostgreSQL accepts only for a boolean expression without
--     subqueries, aggregates, window or set-returning functions and system columns;
--  3. what it calls, read from the stored expression: functions and operators must be in
--     pg_catalog or a schema an admin trusted (retention.trusted_schemas) and not volatile,
--     nor take cstring or internal (type input functions such as array_in and record_in
--     would run a type's code at run time), nor be among pg_catalog's few that run SQL or
--     a type's input of their own (table_to_xml and kin, pg_input_is_valid); types must be
--     built in, trusted, or enums; the whole row may not be used;
--  4. the deparsed text of that one constraint is the result.
-- All of it runs in a subtransaction that is always rolled back: the temporary table and
-- whatever parsing did never outlive the call. Any refusal is RT005 with the reason.
-- Parsing runs in _parse_as_checker, a SECURITY DEFINER function owned by
-- retention_predicate_checker: the only way to act as another role inside the SECURITY
-- DEFINER routines that save policies (SET ROLE is refused there).
create or replace function retention_internal._parse_as_checker(p_tmp text, p_predicate text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_cur refcursor;
begin
  open v_cur for execute format('explain select (%s) from pg_temp.%I t', p_predicate, p_tmp);
  close v_cur;
  execute format('alter table pg_temp.%I add constraint retention_predicate check (%s) not valid', p_tmp, p_predicate);
end
$$;
comment on function retention_internal._parse_as_checker(text, text) is
  'Internal. Parses a predicate as retention_predicate_checker (it owns this function): EXPLAIN of it, and a NOT VALID CHECK on the temporary copy of the table.';
revoke all on function retention_internal._parse_as_checker(text, text) from public;

-- Hands a routine to retention_predicate_checker. An owner that is not a superuser may
-- give a function away only to a role it is a member of and that may create in the
-- function's schema: the owner joins the role (which has no rights: nothing gained; and it
-- must own the function to replace it at the next migrate), and the role may create in
-- retention_internal for this statement only.
create or replace function retention_internal._give_to_checker(p_routine regprocedure)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if not pg_catalog.pg_has_role(current_user, 'retention_predicate_checker', 'MEMBER') then
    begin
      execute format('grant retention_predicate_checker to %I', current_user);
    exception when insufficient_privilege then
      raise exception 'the retention owner % cannot join retention_predicate_checker: %', current_user, sqlerrm
        using errcode = '42501',
              hint = format('pg-retention''s roles were made by another role (an install in another database of this cluster): have a superuser run GRANT retention_predicate_checker TO %I; (and, on PostgreSQL 16 and later, GRANT each retention_* role TO %I WITH ADMIN OPTION), then migrate again.', current_user, current_user);
    end;
  end if;
  grant create on schema retention_internal to retention_predicate_checker;
  execute format('alter function %s owner to retention_predicate_checker', p_routine);
  revoke create on schema retention_internal from retention_predicate_checker;
end
$$;
comment on function retention_internal._give_to_checker(regprocedure) is
  'Internal (migrate). Makes retention_predicate_checker own a routine, as an owner that is not a superuser may: it joins the role, which may create in retention_internal only for the change.';
revoke all on function retention_internal._give_to_checker(regprocedure) from public;
select retention_internal._give_to_checker('retention_internal._parse_as_checker(text, text)');

create or replace function retention_internal._validate_predicate(p_target regclass, p_predicate text)
returns text
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_hint constant text :=
    'Give one boolean expression over the table''s columns using built-in functions, e.g. status = ''processed'' or user_id IS NULL.';
  v_tmp    text := format('retention_predicate_%s', pg_catalog.pg_backend_pid());
  v_norm   text;
  v_tree   text;
  v_bad    text;
  v_n      int;
  v_state  text;
  v_msg    text;
  v_trust  oid[];
  v_parsing boolean := false;
begin
  if p_predicate is null then
    return null;
  end if;
  if pg_catalog.btrim(p_predicate) = '' then
    raise exception 'predicate is empty' using errcode = 'RT005', hint = v_hint;
  end if;
  -- It stays in the policy and in the append-only audit log (each change a new entry): at
  -- most 10,000 characters, none of them control, invisible or direction-changing, as any
  -- other text that enters the log (round atk83 F1).
  perform retention_internal._check_note(p_predicate, 10000, 'a predicate', 'RT005');
  -- Read while still the caller: the checker role cannot read the retention schema.
  v_trust := array(select n.oid from retention.trusted_schemas s join pg_catalog.pg_namespace n on n.nspname = s.schema_name)
             || 'pg_catalog'::regnamespace::oid;
  begin
    execute format('create temporary table %I (like %I.%I)', v_tmp,
                   (select n.nspname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = p_target),
                   (select c.relname from pg_catalog.pg_class c where c.oid = p_target));
    perform retention_internal._checker_usage(p_target);
    execute format('alter table pg_temp.%I owner to retention_predicate_checker', v_tmp);
    v_parsing := true;
    perform retention_internal._parse_as_checker(v_tmp, p_predicate);
    -- Parsed as the caller wrote it (their IntervalStyle and DateStyle); written out in the
    -- styles runs read it back in, so the constants mean the same there: '-2 days -3 hours'
    -- parsed under sql_standard came out as '-2 3:00:00', which runs read as -2 days +3
    -- hours (round atk64 F6). Local to this subtransaction, which is always rolled back.
    perform pg_catalog.set_config('intervalstyle', 'postgres', true), pg_catalog.set_config('datestyle', 'ISO, YMD', true),
            pg_catalog.set_config('extra_float_digits', '3', true);
    select count(*), min(pg_catalog.pg_get_expr(c.conbin, c.conrelid)), min(c.conbin::text)
      into v_n, v_norm, v_tree
      from pg_catalog.pg_constraint c
     where c.conrelid = format('pg_temp.%I', v_tmp)::regclass and c.contype = 'c';
    if v_n <> 1 or v_norm is null then
      v_bad := 'it is not one expression';
    end if;
    -- What the expression calls, read from PostgreSQL's own serialised tree of it
    -- (pg_depend does not list built-in objects): functions, operators (and the functions
    -- behind them) and types (domains run their own checks). Text the user wrote appears
    -- in that tree only escaped, so it cannot hide a reference; at worst it adds one.
    with refs as (select r.kind, r.id from retention_internal._tree_refs(v_tree) r),
    funcs as (select r.id from refs r where r.kind = 'function'),
    types as (
      -- Every type the expression produces or converts to (a column's own type is the
      -- table's business: kind vartype is left out), with what it is made of.
      select distinct t.oid, t.typnamespace, t.typtype, e.typtype as elemtype, e.typnamespace as elemnsp
        from refs r
        join pg_catalog.pg_type t on t.oid = r.id
        left join pg_catalog.pg_type e on e.oid = t.typelem and t.typelem <> 0
       where r.kind = 'type')
    select pg_catalog.string_agg(x.what, ', ' order by x.what) into v_msg
      from (
        select format('function %s (%s)', p.oid::regprocedure,
                      case when p.provolatile = 'v' then 'volatile'
                           when p.pronamespace <> all (v_trust) then 'not built in'
                           else 'runs SQL or a type''s code of its own' end) as what
          from funcs f join pg_catalog.pg_proc p on p.oid = f.id
         where p.provolatile = 'v'
            or p.pronamespace <> all (v_trust)
            or 'cstring'::regtype::oid = any (p.proargtypes::oid[])
            or 'internal'::regtype::oid = any (p.proargtypes::oid[])
            or (p.pronamespace = 'pg_catalog'::regnamespace
                and (p.proname ~ '_to_xml' or p.proname ~ '^pg_input_' or p.proname in ('ts_rewrite', 'ts_stat')))
        union
        select format('operator %s (not built in)', o.oid::regoperator)
          from refs r join pg_catalog.pg_operator o on o.oid = r.id
         where r.kind = 'operator' and o.oprnamespace <> all (v_trust)
        union
        select format('type %s (not built in)', t.oid::regtype)
          from types t
         where not (t.typnamespace = any (v_trust) and coalesce(t.elemnsp = any (v_trust), true))
           and not (t.typtype = 'e' or t.elemtype = 'e')
        union
        -- A temporary schema's type (an enum too) is written without its schema, and every
        -- later statement would find whatever the running session has under that name
        -- there (a domain whose check is its own function: round atk80 F1).
        select format('type %s (of a temporary schema)', t.oid::regtype)
          from types t
          join pg_catalog.pg_namespace n on n.oid in (t.typnamespace, coalesce(t.elemnsp, t.typnamespace))
         where n.nspname ~ '^pg_temp_' or n.oid = pg_catalog.pg_my_temp_schema()
        union
        -- A trusted schema's code runs as the retention owner: only while the schema and
        -- all in it are the owner's (_schema_untrusted; round atk77 F1).
        select format('%s of schema %s, which cannot be trusted (%s)', w.what, n.nspname, u.why)
          from (select format('function %s', p.oid::regprocedure) as what, p.pronamespace as nsp
                  from funcs f join pg_catalog.pg_proc p on p.oid = f.id
                union all
                select format('operator %s', o.oid::regoperator), o.oprnamespace
                  from refs r join pg_catalog.pg_operator o on o.oid = r.id where r.kind = 'operator'
                union all
                select format('type %s', t.oid::regtype), t.typnamespace from types t) w
          join pg_catalog.pg_namespace n on n.oid = w.nsp
          cross join lateral (select retention_internal._schema_untrusted(w.nsp) as why) u
         where w.nsp <> 'pg_catalog'::regnamespace and w.nsp = any (v_trust) and u.why is not null
        union
        select 'the whole row (use its columns)'
         where v_tree ~ ' :varattno 0 ') x;
    if v_msg is not null then
      v_bad := coalesce(v_bad || '; ', '') || 'it calls ' || v_msg;
    end if;
    -- Always roll back: the temporary table (and anything else) goes.
    raise exception using errcode = 'RTZ00';
  exception
    when sqlstate 'RTZ00' then
      null;
    when insufficient_privilege then
      if not v_parsing then
        raise;  -- the caller's own rights (TEMP on the database, SELECT on the table)
      end if;
      get stacked diagnostics v_msg = message_text;
      raise exception 'predicate refers to something it may not use on %: %', p_target, v_msg
        using errcode = 'RT005', hint = 'A predicate may use the table''s columns, built-in functions and those of trusted schemas (retention.trust_schema).',
              detail = 'SQLSTATE 42501';
    when syntax_error_or_access_rule_violation or data_exception or feature_not_supported
      or invalid_cursor_definition then
      get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
      raise exception 'predicate is not a valid condition on %: %', p_target, v_msg
        using errcode = 'RT005', hint = v_hint, detail = 'SQLSTATE ' || v_state;
  end;
  if v_bad is not null then
    raise exception 'predicate refused on %: %', p_target, v_bad
      using errcode = 'RT005',
            hint = 'A predicate may call built-in functions that are not volatile (no subqueries, aggregates, random(), now() is fine); an admin can trust a schema of the application''s own functions with retention.trust_schema.';
  end if;
  return v_norm;
end
$$;
comment on function retention_internal._validate_predicate(regclass, text) is
  'Internal. Parses a policy predicate with PostgreSQL (one boolean expression over the table''s columns; built-in, non-volatile functions or trusted schemas) and returns its deparsed form; RT005 otherwise.';
