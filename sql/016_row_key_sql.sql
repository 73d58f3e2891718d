-- How a row of a table is named where personal data must not appear (run_row_failures,
-- proposals): a jsonb expression over an alias (t unless given) of its primary key
-- columns, or its ctid when the table has no primary key.
create or replace function retention_internal._row_key_expr(p_rel regclass, p_alias text)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(
    (select format('jsonb_build_object(%s)',
                   string_agg(format('%L, %s.%I', a.attname, p_alias, a.attname), ', ' order by k.o))
       from pg_catalog.pg_index i
      cross join lateral unnest(i.indkey::int2[]) with ordinality k(att, o)
       join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.att
      where i.indrelid = p_rel and i.indisprimary
     -- No primary key: no rows here, and the ctid below (string_agg of none is NULL, but
     -- format() made 'jsonb_build_object()' of it, one key for every row: a proposal of
     -- 100 rows froze 1; found in round atk167).
     having pg_catalog.count(*) > 0),
    format('jsonb_build_object(''ctid'', %s.ctid::text)', p_alias))
$$;
comment on function retention_internal._row_key_expr(regclass, text) is
  'Internal. A jsonb expression over the given alias naming a row by its primary key (else its ctid).';

create or replace function retention_internal._row_key_sql(p_rel regclass)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$ select retention_internal._row_key_expr(p_rel, 't') $$;
comment on function retention_internal._row_key_sql(regclass) is
  'Internal. A jsonb expression over alias t naming a row by its primary key (else its ctid).';

-- The first foreign table below a table, among its partitions or inheritance children, or
-- NULL. Reading a foreign table runs its wrapper with the reader's user mapping: as the
-- retention owner, postgres_fdw would connect back as the owner (a superuser needs no
-- password) and run what the remote side's views call.
create or replace function retention_internal._foreign_descendant(p_rel regclass)
returns regclass
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with recursive below(rel, depth) as (
    select p_rel::oid, 0
    union
    select i.inhrelid, b.depth + 1 from below b join pg_catalog.pg_inherits i on i.inhparent = b.rel where b.depth < 32)
  select c.oid::regclass from below b join pg_catalog.pg_class c on c.oid = b.rel
   where b.depth > 0 and c.relkind = 'f'
   order by b.depth, c.oid
   limit 1
$$;
comment on function retention_internal._foreign_descendant(regclass) is
  'Internal. The first foreign table among a table''s partitions and inheritance children, or NULL.';

-- The objects of a table (and of every table below it: its partitions and inheritance
-- children, which a statement without ONLY reads with it; round atk105 F1) whose
-- expressions the planner loads when it plans a statement on it: CHECK constraints, index
-- expressions and predicates, extended statistics, and the partition keys above each.
-- cls and id name the object in pg_depend; tree is its expression tree; est the part the
-- planner estimates (an index's predicate, costed when a condition implies it).
create or replace function retention_internal._planner_objects(p_rel regclass)
returns table (cls regclass, id oid, what text, rel oid, tree text, est text)
language plpgsql
-- A realistic row estimate (the planner's default is 1,000: docs/development.md).
rows 10
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
set jit = off
as $$
#variable_conflict use_column
begin
  -- PL/pgSQL keeps this query's plan for the session.
  return query
  with recursive tables(rel, depth) as (
    select p_rel::oid, 0
    union
    select i.inhrelid, x.depth + 1 from tables x join pg_catalog.pg_inherits i on i.inhparent = x.rel where x.depth < 32),
  rels as (select distinct x.rel from tables x)
  select 'pg_catalog.pg_constraint'::regclass, c.oid, format('constraint %I on %s', c.conname, c.conrelid::regclass),
         c.conrelid::oid, c.conbin::text, null::text
    from rels x join pg_catalog.pg_constraint c on c.conrelid = x.rel
   where c.contype = 'c'
  union all
  select 'pg_catalog.pg_class'::regclass, i.indexrelid, format('index %s', i.indexrelid::regclass), i.indrelid::oid,
         concat(i.indexprs::text, i.indpred::text), i.indpred::text
    from rels x join pg_catalog.pg_index i on i.indrelid = x.rel
   where i.indexprs is not null or i.indpred is not null
  union all
  select 'pg_catalog.pg_statistic_ext'::regclass, e.oid, format('statistics %s on %s', e.stxname, e.stxrelid::regclass),
         e.stxrelid::oid, e.stxexprs::text, null::text
    from rels x join pg_catalog.pg_statistic_ext e on e.stxrelid = x.rel
   where e.stxexprs is not null
  union all
  select distinct 'pg_catalog.pg_class'::regclass, k.partrelid::oid, format('the partition key of %s', k.partrelid::regclass),
         k.partrelid::oid, k.partexprs::text, null::text
    from rels x
    cross join lateral pg_catalog.pg_partition_ancestors(x.rel) a
    join pg_catalog.pg_partitioned_table k on k.partrelid = a.relid
   where k.partexprs is not null;
end
$$;
comment on function retention_internal._planner_objects(regclass) is
  'Internal. The CHECK constraints, indexes with expressions or predicates, extended statistics with expressions and partition keys the planner loads when it plans a statement on the table or a table below it (partitions, inheritance children): pg_depend''s class and id, a description, the table, the expression tree, and the part it estimates (an index predicate).';

-- Code of another role the planner would run as the retention owner when it plans any
-- statement on p_rel (or on a table below it: _planner_objects):
--  * eval_const_expressions runs an IMMUTABLE function whose arguments are constants while
--    it loads a table's index expressions and predicates, partition keys and extended
--    statistics, and for constraint exclusion its CHECK constraints. PostgreSQL does not
--    check that a function declared IMMUTABLE is: one that alters roles made its owner
--    superuser when a run, a drop or request_erasure planned a read (round atk73 F2, F3).
--    A call with a column among its arguments (CHECK (app.valid(email))) is not run then,
--    and not counted (_folded_calls);
--  * the selectivity estimators run code of an index predicate when a statement's
--    condition implies the predicate and the index is costed: eqsel and scalarltsel call
--    an operator's function on the column's most common values and histogram, whatever
--    its arguments (round atk105 F3), and estimate_expression_value folds STABLE calls
--    without a column among their arguments too. A function called with a column (a
--    partial index WHERE app.active(status)) is not run: its selectivity is a default;
--  * rangesel calls a range type's subtype_diff on its histogram while it estimates a
--    condition on a column of the type (round atk105 F2): such a type (built on a range
--    whose subtype_diff another role wrote: _range_code) in an index predicate, or named
--    in an expression, is refused. Nothing else of ours puts a condition on such a
--    column (the policy's predicate is checked with it), so a delete of such a table runs.
-- The first such call, or NULL.
create or replace function retention_internal._planner_code(p_rel regclass)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
set jit = off
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session.
  return (select s.v from (
  with objs as materialized (select * from retention_internal._planner_objects(p_rel)),
  -- Another role's function is no built-in: pg_depend records it (directly, or behind an
  -- operator), so no expression tree is read unless one is there.
  calls(what, rel, tree, est, fn) as (
    select o.what, o.rel, o.tree, o.est,
           case when d.refclassid = 'pg_catalog.pg_proc'::regclass then d.refobjid
                else (select op.oprcode::oid from pg_catalog.pg_operator op where op.oid = d.refobjid) end
      from objs o
      join pg_catalog.pg_depend d on d.classid = o.cls and d.objid = o.id
                                 and d.refclassid in ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)),
  -- The default arguments of a function called: the planner fills in those a call leaves
  -- out and folds them, whatever the call's own arguments (round atk101 F1: f(id) with
  -- y int default app.evil()).
  defaults(what, rel, tree, est, fn) as (
    select format('%s (a default argument of %s)', k.what, k.fn::regprocedure), k.rel, p.proargdefaults::text, null::text, r.id
      from calls k
      join pg_catalog.pg_proc p on p.oid = k.fn
     cross join lateral retention_internal._tree_refs(p.proargdefaults::text) r
     where p.pronargdefaults > 0 and r.kind = 'function')
  select x.v from (
  select format('%s calls %s (%s)%s', k.what, k.fn::regprocedure, u.why,
                case when not (retention_internal._inlinable(k.fn) or (p.provolatile = 'i' and k.fn in (select retention_internal._folded_calls(k.tree))))
                     then ' in its predicate, which the planner estimates' else '' end) as v
    from (select * from calls union all select * from defaults) k
    join pg_catalog.pg_proc p on p.oid = k.fn
    join pg_catalog.pg_class c on c.oid = k.rel
    cross join lateral (select retention_internal._untrusted_call(k.fn, c.relowner) as why) u
   where u.why is not null
     -- What the planner runs: a function it inlines, whatever its arguments; an immutable
     -- one it folds (no column among its own arguments: _folded_calls); in an index's
     -- predicate, what the estimators run: an operator's function, whatever its
     -- arguments, and a call without a column among its own, STABLE too.
     and (retention_internal._inlinable(k.fn)
          or (p.provolatile = 'i' and k.fn in (select retention_internal._folded_calls(k.tree)))
          or k.fn in (select o.oprcode::oid from retention_internal._tree_refs(k.est) r
                        join pg_catalog.pg_operator o on o.oid = r.id where r.kind = 'operator')
          or k.fn in (select retention_internal._folded_calls(k.est)))
  union all
  -- A cast to a domain, in an expression or in a default argument of a function it calls:
  -- the planner loads its CHECK constraints and folds them (round atk101 F3:
  -- ((id::app.dom)) with CHECK (app.evil() = 1); round atk103 F1: f(x, y int default
  -- (0::app.dom)::int)). Refused when another role owns the domain (it may add a CHECK
  -- while a routine waits: atk103 F2) or its checks run another role's code. And a range
  -- type whose subtype_diff another role wrote (_range_code).
  select format('%s %s', t.what, w.line)
    from (select o.what, o.rel, d.refobjid as typ
            from objs o
            join pg_catalog.pg_depend d on d.classid = o.cls and d.objid = o.id and d.refclassid = 'pg_catalog.pg_type'::regclass
          union all
          select format('%s (a default argument of %s)', k.what, k.fn::regprocedure), k.rel, r.id
            from calls k
            join pg_catalog.pg_proc p on p.oid = k.fn
           cross join lateral retention_internal._tree_refs(p.proargdefaults::text) r
           where p.pronargdefaults > 0 and r.kind = 'type') t
    join pg_catalog.pg_class c on c.oid = t.rel
    cross join lateral (select coalesce('casts to ' || coalesce(retention_internal._untrusted_domain(t.typ), retention_internal._type_code(t.typ, c.relowner)),
                                        'uses ' || retention_internal._range_code(t.typ, c.relowner)) as line) w
   where w.line is not null
  union all
  -- A column (or a value) of such a range type in an index predicate: rangesel estimates
  -- a condition on it. (The policy's own predicate is checked with the policy:
  -- _check_predicate_code.)
  select format('%s has in its predicate a value of type %s, which %s', t.what, t.typ::regtype, w.line)
    from (select distinct o.what, o.rel, r.id as typ
            from objs o cross join lateral retention_internal._tree_refs(o.est) r
           where o.est is not null and r.kind in ('vartype', 'type') and r.id >= 16384) t
    join pg_catalog.pg_class c on c.oid = t.rel
   cross join lateral (select retention_internal._range_code(t.typ, c.relowner) as line) w
   where w.line is not null) x
   order by 1
   limit 1
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._planner_code(regclass) is
  'Internal. What of another role''s the planner would run as the retention owner when planning a statement on the table or a table below it (_planner_objects): a call, without a column among its arguments, of an IMMUTABLE function (_untrusted_call) in CHECK constraints, index expressions and predicates, partition keys or extended statistics, or in the default arguments of the functions they call; in an index predicate, such a role''s operator whatever its arguments, and its STABLE call without a column among its arguments (the estimators run them); a cast to a domain another role owns or whose checks run such code; a range type whose subtype_diff such a role wrote (_range_code), in an index predicate or an expression. NULL when none.';

-- The lock _check_planner_code takes (SHARE UPDATE EXCLUSIVE on the table, its partitions
-- and inheritance children, to the end of the transaction), where the retention owner may
-- take it; with no lock_timeout set, 5 seconds at most.
create or replace function retention_internal._plan_lock(p_rel regclass)
returns void
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_kind "char";
  v_wait text;
begin
  select c.relkind into v_kind from pg_catalog.pg_class c where c.oid = p_rel;
  -- (An owner that is not a superuser and may only read the table cannot take that lock:
  -- there the check stands alone, as before.)
  if v_kind in ('r', 'p', 'm') and not pg_catalog.pg_is_in_recovery()
     and pg_catalog.has_table_privilege(p_rel, 'UPDATE, DELETE, TRUNCATE') then
    -- A caller with no lock_timeout waits 5 seconds at most (a manual VACUUM holds the
    -- same lock for as long as it runs), then gets 55P03; runs wait their policy's.
    v_wait := pg_catalog.current_setting('lock_timeout');
    if v_wait in ('0', '0ms') then
      perform pg_catalog.set_config('lock_timeout', '5s', true);
    end if;
    -- A caller that holds the holds lock exclusively (place_hold's scan) must not wait:
    -- a batch holding this lock waits for the holds lock (a deadlock). It says so with
    -- retention.plan_lock_nowait, and takes 55P03 instead.
    -- Without ONLY: its partitions and inheritance children with it (a statement without
    -- ONLY plans them too; round atk105 F1), and no child can be added meanwhile.
    execute format('lock table %s in share update exclusive mode%s', p_rel,
                   case when pg_catalog.current_setting('retention.plan_lock_nowait', true) = 'on' then ' nowait' else '' end);
    if v_wait in ('0', '0ms') then
      perform pg_catalog.set_config('lock_timeout', v_wait, true);
    end if;
  end if;
end
$$;
comment on function retention_internal._plan_lock(regclass) is
  'Internal. SHARE UPDATE EXCLUSIVE on the table, its partitions and children, to the end of the transaction, where the owner may take it (UPDATE, DELETE or TRUNCATE privilege); 5 seconds at most when no lock_timeout is set; NOWAIT under retention.plan_lock_nowait.';
revoke all on function retention_internal._plan_lock(regclass) from public;

-- RT025 when planning a statement on p_rel would run another role's code (_planner_code).
-- The table is locked first, in SHARE UPDATE EXCLUSIVE mode (and its partitions with it),
-- until the transaction ends: every command that can give the planner code to run (CREATE
-- INDEX, concurrently or not, CREATE STATISTICS, CREATE TRIGGER, ATTACH PARTITION, ALTER
-- TABLE, CREATE RULE or POLICY) waits for it, so what the check read is what the
-- statements built after it are planned with. Checked before the lock, a command that
-- committed while the first statement waited for the table (an application holding ACCESS
-- EXCLUSIVE until it saw the wait) was planned unseen (round atk99 F2). Writers and
-- readers are not stopped; VACUUM and ANALYZE wait (autovacuum gives way). At read
-- committed only: an older snapshot reads a catalog the planner does not (round atk99 F1).
create or replace function retention_internal._check_planner_code(p_rel regclass)
returns void
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_why   text;
  v_funcs oid[];
begin
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'cannot read % at %: pg-retention reads application tables at read committed only', p_rel, current_setting('transaction_isolation')
      using errcode = '25001',
            hint = 'A snapshot taken earlier does not see an index or constraint created since, which the planner would still use: call it in a read committed transaction (the default).';
  end if;
  perform retention_internal._plan_lock(p_rel);
  -- The functions the table's expressions call (pg_depend: another role's, never a
  -- built-in) stay as read until the transaction ends: CREATE OR REPLACE or ALTER FUNCTION
  -- updates the function's row, and waits for this row lock. Else a function the check
  -- passed (PL/pgSQL, a column among its arguments) was replaced by an inlinable one that
  -- folds another call while a routine waited for another table (round atk101 F2).
  -- Only a superuser may lock catalog rows. An owner that is not one cannot hold another
  -- role's function still: such a function is refused outright, whatever it does now
  -- (round atk123: the race above, for an owner that is not a superuser).
  select pg_catalog.array_agg(distinct f.fn)
    into v_funcs
    from retention_internal._planner_objects(p_rel) o
    join pg_catalog.pg_depend d on d.classid = o.cls and d.objid = o.id
                               and d.refclassid in ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
    cross join lateral (
      select case when d.refclassid = 'pg_catalog.pg_proc'::regclass then d.refobjid
                  else (select op.oprcode::oid from pg_catalog.pg_operator op where op.oid = d.refobjid) end) f(fn)
   where f.fn is not null;
  if pg_catalog.has_table_privilege('pg_catalog.pg_proc', 'UPDATE') then
    perform from pg_catalog.pg_proc p where p.oid = any (v_funcs) for share of p;
  else
    select format('%s, owned by %I, could be replaced while a statement waits (only a superuser owner holds it still)',
                  p.oid::regprocedure, r.rolname)
      into v_why
      from pg_catalog.pg_proc p
      join pg_catalog.pg_roles r on r.oid = p.proowner
     where p.oid = any (v_funcs)
       and p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace and not r.rolsuper and r.rolname <> current_user
     limit 1;
  end if;
  v_why := coalesce(v_why, retention_internal._planner_code(p_rel));
  if v_why is not null then
    raise exception 'cannot read %: planning a statement on it would run another role''s code as the retention owner: %', p_rel, v_why
      using errcode = 'RT025',
            hint = 'The planner runs IMMUTABLE functions with constant arguments while it plans, and what an index predicate calls and a range type''s subtype_diff while it estimates: have the retention owner (or a superuser) own that function or type, or drop the constraint, index, statistics or column that names it.';
  end if;
end
$$;
comment on function retention_internal._check_planner_code(regclass) is
  'Internal. Locks the table (SHARE UPDATE EXCLUSIVE, to the end of the transaction), then RT025 when planning a statement on it would run another role''s code as the retention owner (_planner_code); 25001 outside read committed.';

-- How a statement reads a table whose rows a foreign key reaches: ONLY for an ordinary
-- table (an inheritance child has no foreign key, so no cascade reaches it), the whole
-- tree for a partitioned one, which may not hold a foreign table (RT013: its wrapper
-- would act as the retention owner).
create or replace function retention_internal._reach_scan(p_rel regclass)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_kind "char";
  v_far  regclass;
begin
  perform retention_internal._check_planner_code(p_rel);
  select c.relkind into v_kind from pg_catalog.pg_class c where c.oid = p_rel;
  if v_kind = 'p' then
    v_far := retention_internal._foreign_descendant(p_rel);
    if v_far is not null then
      raise exception 'cannot read %: its partition % is a foreign table', p_rel, v_far
        using errcode = 'RT013', hint = 'pg-retention reads tables as its owner, and a foreign table''s wrapper would connect with the owner''s user mapping: detach the foreign partition, or act on the partitions one by one.';
    end if;
    return retention.qualified_name(p_rel);
  end if;
  return 'only ' || retention.qualified_name(p_rel);
end
$$;
comment on function retention_internal._reach_scan(regclass) is
  'Internal. ''only <table>'' for an ordinary table, ''<table>'' for a partitioned one without foreign partitions (RT013 otherwise): the rows a foreign key''s action reaches; RT025 when planning on it would run another role''s code (_check_planner_code).';

-- A table's single-column primary key (column and type, domains resolved: _base_type),
-- both NULL when its primary key
-- has several columns or it has none. Erasure requests, notice policies and exemptions
-- name rows by it.
create or replace function retention_internal._single_key(p_rel regclass, out key_column name, out key_type text)
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select a.attname, retention_internal._base_type(a.atttypid, a.atttypmod)
    from pg_catalog.pg_index i
    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
   where i.indrelid = p_rel and i.indisprimary and i.indnkeyatts = 1
$$;
comment on function retention_internal._single_key(regclass) is
  'Internal. The single-column primary key of a table (column, type), or NULLs.';

-- Whether the table has a row whose single-column primary key is p_key (given as text,
-- bound and cast to the key's type, never spliced into SQL). A value that is not of the
-- key's type (e.g. '1; drop table ...' for a bigint) is simply not there.
-- RT025 when turning a key given as text into the key's type (or back) would call a cast
-- of another role's as the retention owner (_subject_value says why).
create or replace function retention_internal._check_key_type(p_type text)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_type::regtype::oid >= 16384 then
    perform retention_internal._subject_value('', p_type);
  end if;
end
$$;
comment on function retention_internal._check_key_type(text) is
  'Internal. Raises RT025 when a cast of another role''s would run turning text into the key type or back.';

create or replace function retention_internal._key_exists(p_rel regclass, p_key text)
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
  k       record := retention_internal._single_key(p_rel);
  v_found boolean;
begin
  if k.key_column is null or p_key is null then
    return false;
  end if;
  perform retention_internal._check_key_type(k.key_type);
  -- A partitioned table's rows are in its partitions (ONLY would find none).
  execute format('select exists (select from %s t where t.%I::%s = $1::%s)',
                 retention_internal._reach_scan(p_rel), k.key_column, k.key_type, k.key_type)
    into v_found using p_key;
  return v_found;
exception when data_exception then
  return false;
end
$$;
comment on function retention_internal._key_exists(regclass, text) is
  'Internal. True when the table has a row with that single-column primary key value (bound, cast to the key''s type).';

-- The key of the row whose single-column primary key equals p_key, as the row holds it
-- (its text), or NULL when there is none. Equal under the key's type and collation is not
-- always the same text: 'carol' finds 'Carol' under a case-insensitive collation, 7.5
-- finds 7.50 in a numeric key. An erasure request or an export names the person by the key
-- as stored, which is what other tables' subject columns hold and are compared with byte
-- for byte.
create or replace function retention_internal._stored_key(p_rel regclass, p_key text)
returns text
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
  k      record := retention_internal._single_key(p_rel);
  v_keys text[];
begin
  if k.key_column is null or p_key is null then
    return null;
  end if;
  perform retention_internal._check_key_type(k.key_type);
  execute format('select array(select t.%I::text from %s t where t.%I::%s = $1::%s limit 2)',
                 k.key_column, retention_internal._reach_scan(p_rel), k.key_column, k.key_type, k.key_type)
    into v_keys using p_key;
  -- A primary key is unique under its own equality: one row at most.
  return case when cardinality(v_keys) = 1 then v_keys[1] end;
exception when data_exception then
  return null;
end
$$;
comment on function retention_internal._stored_key(regclass, text) is
  'Internal. The single-column primary key of the row whose key equals p_key (bound, cast to the key''s type), as that row holds it (its text); NULL when there is none.';
