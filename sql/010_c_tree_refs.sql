-- What a stored expression tree (pg_node_tree: a CHECK's conbin, a trigger's WHEN, a
-- default, an index or partition expression, a row security policy, a rule's action, a
-- parsed predicate) refers to, read from PostgreSQL's own serialisation of it. pg_depend
-- has no row for built-in objects (they are pinned), so a tree is the only place that
-- shows a built-in function such as query_to_xml in a WHEN clause. Text a user wrote
-- appears in a tree only as a constant's bytes, so it cannot hide a reference; at worst it
-- adds one. Kinds:
--  * function: what it calls (FuncExpr, the functions of OpExpr, DistinctExpr, NullIfExpr
--    and ScalarArrayOpExpr, aggregates and window functions), the functions behind every
--    operator it names included;
--  * operator: an operator it names (OpExpr and its kin, the operators of a row
--    comparison, a sort or grouping clause's);
--  * vartype: the type of a column it reads (the table's business, not the expression's);
--  * type: any other type it names (constants, results, casts, arrays, rows).
create or replace function retention_internal._tree_refs(p_tree text)
returns table(kind text, id oid)
language plpgsql
-- A realistic row estimate (the planner's default is 1,000: docs/development.md).
rows 20
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
#variable_conflict use_column
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return query
  with fields(field, id) as (
    select m[1], m[2]::oid
      from pg_catalog.regexp_matches(coalesce(p_tree, ''),
             ' :([a-z_]*type[a-z_]*|typeId|funcid|opfuncid|hashfuncid|negfuncid|aggfnoid|winfnoid|opno|eqop|sortop) ([0-9]+)', 'g') m
    union all
    select 'opno', pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.btrim(m[1]), ' '))::oid
      from pg_catalog.regexp_matches(coalesce(p_tree, ''), ' :opnos \(o ([0-9 ]+)\)', 'g') m),
  refs(kind, id) as (
    select case when f.field in ('funcid', 'opfuncid', 'hashfuncid', 'negfuncid', 'aggfnoid', 'winfnoid') then 'function'
                when f.field in ('opno', 'eqop', 'sortop') then 'operator'
                when f.field = 'vartype' then 'vartype'
                else 'type' end,
           f.id
      from fields f
     where f.id <> 0)
  select r.kind, r.id from refs r
  union
  select 'function', o.oprcode::oid
    from refs r join pg_catalog.pg_operator o on o.oid = r.id
   where r.kind = 'operator' and o.oprcode::oid <> 0;
end
$$;
comment on function retention_internal._tree_refs(text) is
  'Internal. What a stored expression tree (pg_node_tree text) refers to: the functions it calls (those behind its operators included), its operators, its columns'' types (vartype) and the other types it names; read from the serialised tree because pg_depend has no row for built-in objects.';

-- The functions a stored expression tree calls that the planner may run while it
-- simplifies the expression (eval_const_expressions runs an IMMUTABLE function once all
-- its arguments have become constants). A call is left out only when one of its own
-- arguments is a column (a VAR, perhaps relabelled, coerced or collated): that argument
-- never becomes a constant, so the call is not run before a row is read (round atk73 F2,
-- F3). A column deeper down is no proof: coalesce(1, id) folds to 1, a strict function
-- of a NULL folds to NULL, a CASE on a constant drops its other branches (round atk90
-- F1), so such calls count.
create or replace function retention_internal._folded_calls(p_tree text)
returns setof oid
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
declare
  v_pos   integer := 1;
  v_at    integer;
  v_fn    oid;
  v_start integer;
  v_end   integer;
  v_depth integer;
  v_len   integer := pg_catalog.length(coalesce(p_tree, ''));
  v_node  text;
  v_i     integer;
  v_args  integer;
  v_item  integer;
  v_col   boolean;
  ch      text;
begin
  if p_tree is null then
    return;
  end if;
  -- A name in the tree (an argument's name, an alias) writes its braces, parentheses and
  -- blanks escaped with a backslash: '}{VAR' as \}\{VAR. Read as they stand, they closed
  -- the call's argument list early and made a column of a name (round atk99 F3). Each
  -- escaped character becomes '_' first (the tree keeps its length).
  p_tree := pg_catalog.regexp_replace(p_tree, '\\.', '__', 'g');
  loop
    v_at := pg_catalog.regexp_instr(p_tree, ':(funcid|opfuncid) [0-9]+', v_pos);
    exit when v_at = 0;
    v_fn := pg_catalog.regexp_substr(p_tree, ':(?:funcid|opfuncid) ([0-9]+)', v_at, 1, '', 1)::oid;
    -- The node the field belongs to: the nearest '{' before it that is not closed.
    v_start := v_at;
    v_depth := 0;
    while v_start > 1 loop
      v_start := v_start - 1;
      ch := pg_catalog.substr(p_tree, v_start, 1);
      if ch = '}' then
        v_depth := v_depth + 1;
      elsif ch = '{' then
        exit when v_depth = 0;
        v_depth := v_depth - 1;
      end if;
    end loop;
    -- Its end: the '}' that closes it.
    v_end := v_start;
    v_depth := 0;
    while v_end <= v_len loop
      ch := pg_catalog.substr(p_tree, v_end, 1);
      if ch = '{' then
        v_depth := v_depth + 1;
      elsif ch = '}' then
        v_depth := v_depth - 1;
        exit when v_depth = 0;
      end if;
      v_end := v_end + 1;
    end loop;
    v_node := pg_catalog.substr(p_tree, v_start, v_end - v_start + 1);
    -- Its own :args list (at the node's top level, not a nested node's), item by item.
    v_col := false;
    v_args := 0;
    v_depth := 0;
    v_i := 1;
    while v_i <= pg_catalog.length(v_node) loop
      ch := pg_catalog.substr(v_node, v_i, 1);
      if ch = '{' then
        v_depth := v_depth + 1;
      elsif ch = '}' then
        v_depth := v_depth - 1;
      elsif v_depth = 1 and pg_catalog.substr(v_node, v_i, 7) = ':args (' then
        v_args := v_i + 7;
        exit;
      end if;
      v_i := v_i + 1;
    end loop;
    if v_args > 0 then
      v_depth := 0;
      v_i := v_args;
      while v_i <= pg_catalog.length(v_node) loop
        ch := pg_catalog.substr(v_node, v_i, 1);
        if ch = '{' then
          if v_depth = 0 then
            v_item := v_i;
            if pg_catalog.substr(v_node, v_item) ~ '^\{((RELABELTYPE|COERCEVIAIO|COLLATEEXPR|NAMEDARGEXPR) :arg \{)*VAR ' then
              v_col := true;
              exit;
            end if;
          end if;
          v_depth := v_depth + 1;
        elsif ch = '}' then
          v_depth := v_depth - 1;
        elsif ch = ')' and v_depth = 0 then
          exit;  -- the end of the list
        end if;
        v_i := v_i + 1;
      end loop;
    end if;
    if v_fn <> 0 and not v_col then
      return next v_fn;
    end if;
    v_pos := v_at + 1;
  end loop;
end
$$;
comment on function retention_internal._folded_calls(text) is
  'Internal. The functions a stored expression tree calls that the planner may run while it simplifies the expression: all but those called with a column as one of their own arguments.';

-- Whether the planner may put a function's body into the expression that calls it
-- (inline_function): a LANGUAGE sql function, neither SECURITY DEFINER nor with SET
-- clauses. Its body is then simplified as part of the caller's expression, whatever the
-- call's arguments: an IMMUTABLE wrap(id) whose body calls evil(1) runs evil as whoever
-- plans (round atk90 F1b), and pg_depend records only wrap.
create or replace function retention_internal._inlinable(p_fn oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce((select l.lanname = 'sql' and not p.prosecdef and p.proconfig is null
                     from pg_catalog.pg_proc p join pg_catalog.pg_language l on l.oid = p.prolang
                    where p.oid = p_fn), false)
$$;
comment on function retention_internal._inlinable(oid) is
  'Internal. Whether the planner may inline a function into the expression that calls it (LANGUAGE sql, not SECURITY DEFINER, no SET clauses).';
