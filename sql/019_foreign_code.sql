-- Code of other roles a run would execute. Runs act as the retention schema's owner, and
-- PostgreSQL runs a table's triggers, rules, the functions of its row-level security
-- policies and, for rows it updates, of its check constraints, defaults and generated
-- columns, index expressions and its columns' domain checks (domains over domains too),
-- range types' subtype_diff and canonical functions, the key expressions of the
-- partitioned tables above it, and the operator classes of its indexes and of those keys,
-- as the role that changes the row. An application role that owns a table could otherwise have its function run with
-- the owner's rights (a superuser's, often) the moment a run deletes a row. So before a
-- run acts on a table (open_run, every batch, every erasure step) this lists such code on
-- the table and every table a change reaches through a foreign key's action (ON DELETE
-- CASCADE deletes, SET NULL or SET DEFAULT updates, ON UPDATE CASCADE updates), and their
-- partitions: a function (or the function behind an operator) _untrusted_call refuses —
-- another role's that is not SECURITY DEFINER, pg-retention's own routines, built-ins that
-- run SQL or reach the server, and any the table's owner may not execute itself. Returns
-- one line naming the first few, or NULL when there is none.
-- The tables a change of rows of p_rel reaches: itself, the tables whose foreign keys'
-- actions a delete (or, with p_update, an update) sets off (ON DELETE CASCADE deletes,
-- SET NULL or SET DEFAULT updates, ON UPDATE CASCADE updates) — keys naming the table, a
-- table above it or a partition below it — recursively, and the partitions of each; upd
-- says whether rows of it are updated (else deleted).
create or replace function retention_internal._reach(p_rel regclass, p_update boolean)
returns table (rel oid, upd boolean)
language sql
-- A realistic row estimate (the planner's default is 1,000: docs/development.md).
rows 10
stable
set search_path = pg_catalog, pg_temp
-- Short statements over the catalog and a batch's rows: JIT compiling them costs more than
-- it saves (milliseconds on every call, per batch).
set jit = off
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with recursive reach(rel, upd) as (
    select p_rel::oid, p_update
    union
    select c.conrelid, c.confdeltype in ('n', 'd') or r.upd
      from reach r
      cross join lateral (select r.rel union select t.relid from pg_catalog.pg_partition_ancestors(r.rel) t
                          union select t.relid from pg_catalog.pg_partition_tree(r.rel) t) k(ref)
      join pg_catalog.pg_constraint c on c.contype = 'f' and c.confrelid = k.ref
     where (not r.upd and c.confdeltype in ('c', 'n', 'd')) or (r.upd and c.confupdtype in ('c', 'n', 'd'))
  )
  select r.rel, r.upd from reach r
  union
  select t.relid, r.upd from reach r cross join lateral pg_catalog.pg_partition_tree(r.rel) t
$$;
comment on function retention_internal._reach(regclass, boolean) is
  'Internal. The tables a delete (or update) of rows of the table reaches through foreign-key actions, with their partitions.';

-- The types a value of a column's type is made of, whose own code a write of the value can
-- run: the type itself, the domains it is built on in turn (a domain over a domain checks
-- both), the element type of an array, the fields of a composite, the range of a
-- multirange and the subtype of a range, each followed in turn.
create or replace function retention_internal._type_chain(p_type oid)
returns table (typ oid)
language plpgsql
-- A realistic row estimate (the planner's default is 1,000: docs/development.md).
rows 5
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
  with recursive chain(typ, depth) as (
    select p_type, 0
    union
    select n.next, c.depth + 1
      from chain c
      join pg_catalog.pg_type t on t.oid = c.typ
      cross join lateral (select t.typbasetype as next where t.typtype = 'd'
                          union all select t.typelem where t.typcategory = 'A' and t.typelem <> 0
                          union all select a.atttypid from pg_catalog.pg_attribute a
                                     where t.typtype = 'c' and a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
                          union all select r.rngtypid from pg_catalog.pg_range r where r.rngmultitypid = t.oid
                          union all select r.rngsubtype from pg_catalog.pg_range r where r.rngtypid = t.oid) n
     where c.depth < 16 and n.next <> 0)
  select distinct c.typ from chain c;
end
$$;
comment on function retention_internal._type_chain(oid) is
  'Internal. A type with the types it is built on (domains'' base types, arrays'' elements, composites'' fields, multiranges'' ranges, ranges'' subtypes), recursively: whose checks and support functions writing a value can run.';

-- A domain another role owns in a type (_type_chain), named where the planner loads its
-- constraints and folds them (a cast in an index expression, a default argument): its
-- owner may add a CHECK at any time, also while a routine waits for a lock between its
-- check and its statement (ALTER DOMAIN takes no lock a routine could hold; round atk103
-- F2), and one domain's CHECK may cast to another's (F3). Only the retention owner's and
-- superusers' domains are trusted there. The domain and its owner as a line, or NULL.
create or replace function retention_internal._untrusted_domain(p_type oid)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select pg_catalog.format('domain %s, owned by %I (it may be given a CHECK at any time)', t.oid::pg_catalog.regtype, o.rolname)
    from retention_internal._type_chain(p_type) c
    join pg_catalog.pg_type t on t.oid = c.typ
    join pg_catalog.pg_roles o on o.oid = t.typowner
   where t.typtype = 'd' and not o.rolsuper and o.rolname <> current_user
   order by 1
   limit 1
$$;
comment on function retention_internal._untrusted_domain(oid) is
  'Internal. A domain in the type (or the types it is built on) that another role than the retention owner or a superuser owns, as a line; NULL when none.';

-- The first function writing a value of the type would run (its domains' checks, also
-- those of the domains it is built on: _type_chain) that _untrusted_call refuses for code
-- p_owner wrote, as a line; NULL when none. A scrub's constant is cast with it.
create or replace function retention_internal._type_code(p_type oid, p_owner oid)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
-- A catalog query of many parts: its estimated cost would have JIT compile it on every call.
set jit = off
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  -- The domains of the type, and those its domains' checks cast to (a CHECK
  -- ((value::app.dom2) is not null) runs dom2's checks: round atk103 F3), to a depth of 4.
  with recursive doms(typ, depth) as (
    select y.typ, 0 from retention_internal._type_chain(p_type) y
    union
    select z.typ, d.depth + 1
      from doms d
      join pg_catalog.pg_constraint c on c.contypid = d.typ
     cross join lateral retention_internal._tree_refs(c.conbin::text) r
     cross join lateral retention_internal._type_chain(r.id) z
     where d.depth < 4 and r.kind = 'type'
       and exists (select from pg_catalog.pg_type t where t.oid = r.id and (t.typtype in ('d', 'c', 'r', 'm') or t.typcategory = 'A'))),
  checks as (
    select c.contypid, c.conbin::text as tree
      from (select distinct typ from doms) y
      join pg_catalog.pg_constraint c on c.contypid = y.typ),
  -- What each check's expression tree calls (built-ins are pinned: pg_depend has no row).
  fns(contypid, fn) as (
    select k.contypid, r.id
      from checks k cross join lateral retention_internal._tree_refs(k.tree) r
     where r.kind = 'function')
  select format('domain %s calls %s (%s)', f.contypid::regtype, f.fn::regprocedure, u.why)
    from fns f
    cross join lateral (select retention_internal._untrusted_call(f.fn, p_owner) as why) u
   where u.why is not null
   order by 1
   limit 1
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._type_code(oid, oid) is
  'Internal. The first function a write of a value of the type runs (domain checks, through domains, arrays, composites and ranges) that _untrusted_call refuses for code p_owner wrote, or NULL.';

-- A range type in the type (_type_chain) whose subtype_diff (or canonical function) is
-- code _untrusted_call refuses for p_owner: the planner's range estimators (rangesel,
-- multirangesel) call subtype_diff on a column's histogram while they estimate a
-- condition on it, as whoever plans (round atk105 F2); GiST calls it for every entry
-- written. A line, or NULL. Built-in types are built on built-in ranges only.
create or replace function retention_internal._range_code(p_type oid, p_owner oid)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select pg_catalog.format('range type %s calls %s (%s) when the planner estimates a condition on it',
                           r.rngtypid::pg_catalog.regtype, f.fn::pg_catalog.regprocedure, u.why)
    from retention_internal._type_chain(p_type) y
    join pg_catalog.pg_range r on r.rngtypid = y.typ
   cross join lateral (values (r.rngsubdiff::oid), (r.rngcanonical::oid)) f(fn)
   cross join lateral (select retention_internal._untrusted_call(f.fn, p_owner) as why) u
   where p_type >= 16384 and f.fn <> 0 and u.why is not null
   order by 1
   limit 1
$$;
comment on function retention_internal._range_code(oid, oid) is
  'Internal. A range type in the type (or the types it is built on) whose subtype_diff or canonical function _untrusted_call refuses for code p_owner wrote (the planner''s range estimators call it), as a line; NULL when none.';

create or replace function retention_internal._foreign_code(p_rel regclass, p_update boolean)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
-- A catalog query of many parts: its estimated cost would have JIT compile it on every call.
set jit = off
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  with tables(rel, upd) as (select r.rel, r.upd from retention_internal._reach(p_rel, p_update) r),
  -- The types of the updated tables' columns with what they are built on (_type_chain),
  -- computed for those columns only (materialized: not once per row of pg_attribute).
  upd_cols as materialized (
    select x.rel, a.atttypid from tables x
      join pg_catalog.pg_attribute a on a.attrelid = x.rel and a.attnum > 0 and not a.attisdropped
     where x.upd),
  upd_types as materialized (
    select distinct c.rel, y.typ from upd_cols c cross join lateral retention_internal._type_chain(c.atttypid) y),
  -- Each object with its expression tree: built-in functions are pinned, so pg_depend
  -- records no dependency on them, and what a tree calls is read from it (funcs below).
  -- fold: an expression the planner simplifies when it plans a statement on the table
  -- (eval_const_expressions runs an IMMUTABLE function whose arguments are constants):
  -- CHECK constraints (constraint exclusion), index expressions and predicates, partition
  -- keys, extended statistics. For a table whose rows are only deleted or read, only
  -- such immutable calls are refused (round atk73 F2: CHECK (app.f(1)) on a partition ran
  -- app.f as the owner when a drop planned its query).
  objs(cls, id, what, rel, tree, fold) as (
    select 'pg_catalog.pg_trigger'::regclass, g.oid, format('trigger %I on %s', g.tgname, g.tgrelid::regclass), x.rel, g.tgqual::text, false
      from tables x join pg_catalog.pg_trigger g on g.tgrelid = x.rel
     where not g.tgisinternal and g.tgenabled <> 'D'
    union all
    select 'pg_catalog.pg_rewrite'::regclass, w.oid, format('rule %I on %s', w.rulename, w.ev_class::regclass), x.rel,
           w.ev_qual::text || w.ev_action::text, false
      from tables x join pg_catalog.pg_rewrite w on w.ev_class = x.rel where w.rulename <> '_RETURN'
    union all
    select 'pg_catalog.pg_policy'::regclass, p.oid, format('row-level security policy %I on %s', p.polname, p.polrelid::regclass), x.rel,
           concat(p.polqual::text, p.polwithcheck::text), false
      from tables x join pg_catalog.pg_policy p on p.polrelid = x.rel
     where pg_catalog.row_security_active(x.rel)
    union all
    select 'pg_catalog.pg_constraint'::regclass, c.oid, format('constraint %I on %s', c.conname, c.conrelid::regclass), x.rel, c.conbin::text,
           not x.upd
      from tables x join pg_catalog.pg_constraint c on c.conrelid = x.rel
     where (x.upd and c.contype in ('c', 'x')) or c.contype = 'c'
    union all
    select 'pg_catalog.pg_attrdef'::regclass, d.oid, format('default or generated column of %s', d.adrelid::regclass), x.rel, d.adbin::text, false
      from tables x join pg_catalog.pg_attrdef d on d.adrelid = x.rel where x.upd
    union all
    select 'pg_catalog.pg_class'::regclass, i.indexrelid, format('index %s', i.indexrelid::regclass), x.rel,
           concat(i.indexprs::text, i.indpred::text), not x.upd
      from tables x join pg_catalog.pg_index i on i.indrelid = x.rel
     where i.indexprs is not null or i.indpred is not null
    union all
    select 'pg_catalog.pg_statistic_ext'::regclass, e.oid, format('statistics %s on %s', e.stxname, x.rel::regclass), x.rel,
           e.stxexprs::text, true
      from tables x join pg_catalog.pg_statistic_ext e on e.stxrelid = x.rel
     where e.stxexprs is not null
    union all
    -- The checks of a column's domain and of the domains under it (a domain over a domain
    -- checks both), also inside arrays and ranges (_type_chain).
    select 'pg_catalog.pg_constraint'::regclass, c.oid, format('domain %s of a column of %s', c.contypid::regtype, y.rel::regclass), y.rel, c.conbin::text,
           false
      from upd_types y
      join pg_catalog.pg_constraint c on c.contypid = y.typ
    union all
    -- An updated row is checked against its partition's bounds (and routed through the
    -- table's key) by evaluating the key expressions of every partitioned table above it;
    -- any statement's plan simplifies them.
    select 'pg_catalog.pg_class'::regclass, k.partrelid, format('the partition key of %s', k.partrelid::regclass), k.partrelid, k.partexprs::text,
           not x.upd
      from tables x
      cross join lateral pg_catalog.pg_partition_ancestors(x.rel) a
      join pg_catalog.pg_partitioned_table k on k.partrelid = a.relid
     where k.partexprs is not null
  ),
  -- Operator classes made after initdb, of an updated table's indexes and of the partition
  -- keys above it: a new index entry, a bound check and routing compare values with their
  -- operators and support functions.
  opclasses(what, opc, rel) as (
    select format('operator class %I of index %s', c.opcname, i.indexrelid::regclass), c.oid, x.rel
      from tables x
      join pg_catalog.pg_index i on i.indrelid = x.rel
      cross join lateral unnest(i.indclass::oid[]) u(opc)
      join pg_catalog.pg_opclass c on c.oid = u.opc
     where x.upd and c.oid >= 16384
    union all
    select format('operator class %I of the partition key of %s', c.opcname, k.partrelid::regclass), c.oid, k.partrelid
      from tables x
      cross join lateral pg_catalog.pg_partition_ancestors(x.rel) a
      join pg_catalog.pg_partitioned_table k on k.partrelid = a.relid
      cross join lateral unnest(k.partclass::oid[]) u(opc)
      join pg_catalog.pg_opclass c on c.oid = u.opc
     where x.upd and c.oid >= 16384
  ),
  -- The types an expression tree names (constants, results, casts, columns): a value
  -- made of a type runs the type's domain checks, and a cast or to_json of it a cast of
  -- the type's owner, which no funcid shows.
  tree_types(what, rel, typ) as materialized (
    select distinct o.what, o.rel, r.id
      from objs o cross join lateral retention_internal._tree_refs(o.tree) r
     where not o.fold and r.kind in ('type', 'vartype') and r.id::bigint >= 16384),
  funcs(what, fn, rel, fold, tree) as (
    -- What each object depends on, and what its expression tree calls: built-ins are
    -- pinned (pg_depend has no row for them), so the tree is read as the predicate check
    -- reads it.
    select o.what, f.fn, o.rel, o.fold, o.tree
      from objs o
      cross join lateral (
        select case when d.refclassid = 'pg_catalog.pg_proc'::regclass then d.refobjid
                    else (select op.oprcode::oid from pg_catalog.pg_operator op where op.oid = d.refobjid) end
          from pg_catalog.pg_depend d
         where d.classid = o.cls and d.objid = o.id
           and d.refclassid in ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
        union all
        -- (Not for what the planner folds: there only another role's function counts,
        -- which is no built-in, so pg_depend has it.)
        select r.id from retention_internal._tree_refs(case when not o.fold then o.tree end) r where r.kind = 'function') f(fn)
    union all
    -- A range type's subtype_diff and canonical functions, which index support for ranges
    -- (GiST, also through built-in operator classes) calls as the role writing the row.
    select format('range type %s of a column of %s', r.rngtypid::regtype, y.rel::regclass), f.fn, y.rel, false, null::text
      from upd_types y
      join pg_catalog.pg_range r on r.rngtypid = y.typ
      cross join lateral (values (r.rngsubdiff::oid), (r.rngcanonical::oid)) f(fn)
     where f.fn <> 0
    union all
    select o.what, p.amproc::oid, o.rel, false, null::text
      from opclasses o join pg_catalog.pg_opclass c on c.oid = o.opc
      join pg_catalog.pg_amproc p on p.amprocfamily = c.opcfamily
    union all
    select o.what, op.oprcode::oid, o.rel, false, null::text
      from opclasses o join pg_catalog.pg_opclass c on c.oid = o.opc
      join pg_catalog.pg_amop m on m.amopfamily = c.opcfamily
      join pg_catalog.pg_operator op on op.oid = m.amopopr
  )
  select pg_catalog.string_agg(x.line, '; ') from (
    -- Casts of other roles from a column's type to text or json (keys and subject values
    -- are turned into text and json); only types created after initdb can have them.
    select c.line
      from tables x
      join pg_catalog.pg_attribute a on a.attrelid = x.rel and a.attnum > 0 and not a.attisdropped
      cross join lateral (select retention_internal._foreign_cast(a.atttypid) as line) c
     where a.atttypid >= 16384 and c.line is not null
    union all
    select format('%s uses type %s: %s', t.what, t.typ::regtype, w.line)
      from tree_types t
      join pg_catalog.pg_class c on c.oid = t.rel
      cross join lateral (select coalesce(retention_internal._type_code(t.typ, c.relowner), retention_internal._foreign_cast(t.typ)) as line) w
     where w.line is not null
    union all
    -- _untrusted_call says which (another role's, pg-retention's own, one that runs SQL or
    -- reaches the server, one the table's owner may not execute itself).
    select format('%s calls %s (%s)', f.what, f.fn::regprocedure, u.why) as line
      from funcs f
      join pg_catalog.pg_class c on c.oid = f.rel
      cross join lateral (select retention_internal._untrusted_call(f.fn, c.relowner) as why) u
     where u.why is not null
       -- Of what the planner simplifies, a function it inlines (whatever its arguments) and
       -- an immutable call it folds (no column among its own arguments: _folded_calls).
       and case when not f.fold then true
                when retention_internal._inlinable(f.fn) then true
                when (select p.provolatile from pg_catalog.pg_proc p where p.oid = f.fn) = 'i'
                then f.fn in (select retention_internal._folded_calls(f.tree))
                else false end
       -- A column default's nextval is never evaluated by our statements (above).
       and not (f.what like 'default or generated column of %' and u.why like 'it changes or reads a sequence%')
     group by f.what, f.fn, u.why
     order by 1
     limit 3) x
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._foreign_code(regclass, boolean) is
  'Internal. Functions _untrusted_call refuses (another role''s, pg-retention''s own, built-ins that run SQL or reach the server, ones the table''s owner may not execute) that acting on the table would run as the owner (triggers, rules, RLS policies; for updates also constraints, defaults, index expressions, domains, partition key expressions and operator classes of indexes and partition keys; for any statement the immutable ones the planner simplifies in CHECK constraints, index expressions and predicates, partition keys and extended statistics), on it and the tables its foreign keys'' actions reach; NULL when none.';

-- The tables a change of the policy's table (and of its revoke tables) reaches: p_reach
-- when the caller has them (a batch, from _lock_reach, which locked them: the reach
-- cannot change before it commits), else computed.
create or replace function retention_internal._reach_of(p retention.policies, p_reach oid[] default null)
returns oid[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  select coalesce(p_reach, array(
    select r.rel from retention_internal._reach(p.target, p.action in ('soft_delete', 'scrub')) r
    union select r.rel from unnest(coalesce(p.revoke_tables, '{}')) x cross join lateral retention_internal._reach(x, false) r))
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._reach_of(retention.policies, oid[]) is
  'Internal. The tables a change of the policy''s table and revoke tables reaches (p_reach when given).';

-- Raises RT025 when acting on a policy's table (or a scrub's revoke tables) would run
-- another role's code (_foreign_code). p carries the table and action (an erasure step too).
-- A relation the policy's statements read or change that is no longer a table: a table
-- can be turned into a view (CREATE RULE "_RETURN", PostgreSQL 15 and older), and a view's
-- query runs with the rights of whoever plans it — the retention owner, in runs, previews
-- and estimates. The first such relation, or NULL.
create or replace function retention_internal._not_a_table(p retention.policies, p_reach oid[] default null)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  select case when c.relkind not in ('r', 'p', 'f')
              then format('%s is no longer a table (relkind %s)', c.oid::regclass, c.relkind)
              else format('%s is a Citus distributed table (a batch addresses rows by ctid, unique within one shard only)', c.oid::regclass) end
    from (select unnest(retention_internal._reach_of(p, p_reach)) as rel
          union select p.target::oid) t
    join pg_catalog.pg_class c on c.oid = t.rel
   where c.relkind not in ('r', 'p', 'f')  -- a foreign table's reads run its wrapper, not a query of its owner
      or retention_internal._citus_table(c.oid)
   order by c.oid
   limit 1
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._not_a_table(retention.policies, oid[]) is
  'Internal. The first relation a policy''s statements read or change that is not an ordinary, partitioned or foreign table (a table turned into a view runs its query as whoever plans it) or that Citus distributes (_citus_table), or NULL.';

-- What reading the policy's rows as the owner (preview, estimates) would run of another
-- role: a relation that is no longer a table, code a run refuses (_foreign_code), or a
-- row-level security policy that applies to the owner. NULL when there is none.
create or replace function retention_internal._read_hazard(p retention.policies)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(retention_internal._not_a_table(p),
    -- Code a run would refuse to run (RT025): a count reads the same columns and compares
    -- the same values (a user's cast to json in the predicate, a scrub constant's domain).
    retention_internal._foreign_code(p.target, p.action in ('soft_delete', 'scrub')),
    (select format('row-level security policy %I on %s', po.polname, po.polrelid::regclass)
       from retention_internal._reach(p.target, false) r
       join pg_catalog.pg_policy po on po.polrelid = r.rel
      where pg_catalog.row_security_active(r.rel)
      limit 1),
    -- Row security with no policy (it hides every row) binds the owner too.
    (select format('row-level security on %s applies to the retention owner', r.rel::regclass)
       from retention_internal._reach(p.target, false) r
      where pg_catalog.row_security_active(r.rel)
      limit 1))
$$;
comment on function retention_internal._read_hazard(retention.policies) is
  'Internal. Why reading a policy''s rows as the owner could run another role''s code or miss rows (a relation no longer a table, code a run refuses, row security that applies to the owner), or NULL.';

create or replace function retention_internal._check_foreign_code(p retention.policies, p_reach oid[] default null)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_found text := retention_internal._foreign_code(p.target, p.action in ('soft_delete', 'scrub'));
  v_reach oid[] := retention_internal._reach_of(p, p_reach);
  v_rel   regclass;
  v_rule  text;
begin
  -- First: a table turned into a view (its query would run as the owner while planning).
  v_rule := retention_internal._not_a_table(p, v_reach);
  if v_rule is not null then
    raise exception 'cannot act on %: %', p.target, v_rule
      using errcode = 'RT013', hint = case when v_rule like '%Citus%'
        then 'pg-retention does not act on Citus distributed tables yet (docs/scaling.md says why and what it would need): drop the policy.'
        else 'Drop the policy, or point it at a table (retention.set_policy); a view is not retention''s to act on.' end;
  end if;
  foreach v_rel in array coalesce(p.revoke_tables, '{}') loop
    v_found := coalesce(v_found, retention_internal._foreign_code(v_rel, false));
  end loop;
  -- A rule on a table the change reaches rewrites what it does (DO INSTEAD, DO ALSO): rows
  -- it removes or changes are out of sight of the hold check, the ledger, proposals and the
  -- archive. Refused, whoever owns it.
  select format('rule %I on %s', w.rulename, w.ev_class::regclass) into v_rule
    from unnest(v_reach) t(rel)
    join pg_catalog.pg_rewrite w on w.ev_class = t.rel
   where w.rulename <> '_RETURN' and w.ev_type in ('2', '4') and w.ev_enabled <> 'D'
   limit 1;
  if v_rule is not null then
    raise exception 'acting on % would be rewritten by %: rows it changes would escape legal holds and the ledger', p.target, v_rule
      using errcode = 'RT033',
            hint = 'Replace the rule by a foreign key with the action you need (or a trigger pg-retention can see), or disable it (ALTER TABLE ... DISABLE RULE); then run again.';
  end if;
  if v_found is not null then
    raise exception 'acting on % would run code of another role with the rights of the retention schema''s owner: %', p.target, v_found
      using errcode = 'RT025',
            hint = 'Runs act as the retention owner, in its session: have the owner (or a superuser) own that function, or disable the trigger; then run again. SECURITY DEFINER is not enough: such a function still runs inside the run''s session and transaction.';
  end if;
end
$$;
comment on function retention_internal._check_foreign_code(retention.policies, oid[]) is
  'Internal. RT033 when a rule rewrites a change of the policy''s table or of a table the change reaches; RT025 when acting on it (or its revoke tables) would execute a function owned by another role with the retention owner''s rights.';

-- Whether row-level security on the table applies to the session's login: not a
-- superuser, not BYPASSRLS, not the table's owner unless it is forced.
create or replace function retention_internal._rls_hides(p_rel regclass)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select exists (select from pg_catalog.pg_class c join pg_catalog.pg_roles s on s.rolname = session_user
                  where c.oid = p_rel and c.relrowsecurity and not s.rolsuper and not s.rolbypassrls
                    and (c.relforcerowsecurity or not pg_catalog.pg_has_role(session_user, c.relowner, 'MEMBER')))
$$;
comment on function retention_internal._rls_hides(regclass) is
  'Internal. Whether row-level security on the table applies to the session''s login.';

-- Rows a login could not see must not be changed on its behalf: runs act as the owner,
-- whom row-level security may not restrict. RT023 when a table the change reaches has
-- row-level security that would apply to the session's login (not a superuser, not
-- BYPASSRLS, not the table's owner unless it is forced).
create or replace function retention_internal._check_rls(p_rel regclass, p_update boolean)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  perform retention_internal._check_rls_of(array(select r.rel from retention_internal._reach(p_rel, p_update) r));
end
$$;
comment on function retention_internal._check_rls(regclass, boolean) is
  'Internal. RT023 when row-level security on a table a change reaches would hide rows from the session''s login, or from the retention owner a run acts as.';

-- The same for tables already listed (a batch's locked reach: _lock_reach, which lists
-- partitions too; a partition's tree: _tree_oids): checked in every batch, so row
-- security enabled or forced since the run opened refuses it too (ALTER TABLE ... ROW
-- LEVEL SECURITY waits for the batch's locks). Row security binds the retention owner as
-- well (current_user in the routines that run it) when it is not a superuser: FORCE ROW
-- LEVEL SECURITY on a table it owns, or any on one it does not own, unless it has
-- BYPASSRLS. Its hold checks and counts would then see some rows only, while a dropped
-- partition takes them all and expired rows it cannot see would stay behind a completed
-- run.
create or replace function retention_internal._check_rls_of(p_rels oid[])
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel oid;
begin
  select r into v_rel from unnest(p_rels) r where retention_internal._rls_hides(r::regclass) limit 1;
  if v_rel is not null then
    raise exception 'row-level security on % applies to %: a run would change rows it cannot see', v_rel::regclass, session_user
      using errcode = 'RT023',
            hint = 'Run the policy as a login that bypasses row-level security on that table (BYPASSRLS, or its owner), or disable it there.';
  end if;
  select r into v_rel from unnest(p_rels) r where pg_catalog.row_security_active(r) order by r limit 1;
  if v_rel is not null then
    raise exception 'row-level security on % applies to the retention owner %: a run would not see every row it acts on', v_rel::regclass, current_user
      using errcode = 'RT023',
            hint = format('Let the owner bypass it (ALTER ROLE %I BYPASSRLS), or take FORCE ROW LEVEL SECURITY off that table if the owner owns it, or disable row security there.', current_user);
  end if;
end
$$;
comment on function retention_internal._check_rls_of(oid[]) is
  'Internal. RT023 when row-level security on one of these tables hides rows from the session''s login or from the retention owner (current_user).';

-- A login may only look, through a routine that runs as the owner, at a table it can read
-- itself (previews, plans, counts): 42501 otherwise.
create or replace function retention_internal._check_can_read(p_rel regclass)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_nsp name;
begin
  if p_rel is not null and retention.qualified_name(p_rel) is not null
     and not has_table_privilege(session_user, p_rel, 'SELECT') then
    raise exception 'permission denied for table %: role % cannot read it', p_rel, session_user
      using errcode = '42501', hint = format('A DBA grants it: GRANT SELECT ON %s TO %I;', p_rel, session_user);
  end if;
  -- Nor a table in a schema the login may not look into (SELECT on the table alone does
  -- not let it read the rows).
  select n.nspname into v_nsp
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_rel;
  if v_nsp is not null and not has_schema_privilege(session_user, v_nsp, 'USAGE') then
    raise exception 'permission denied for schema %: role % cannot read %', v_nsp, session_user, p_rel
      using errcode = '42501', hint = format('A DBA grants it: GRANT USAGE ON SCHEMA %I TO %I;', v_nsp, session_user);
  end if;
end
$$;
comment on function retention_internal._check_can_read(regclass) is
  'Internal. 42501 unless the session''s login may SELECT from the table.';

-- Locks every table a change of the policy's table (and of its revoke tables) reaches in
-- ROW EXCLUSIVE mode, for the rest of the transaction: what the change itself would take,
-- taken before the check of other roles' code so that none can be added in between.
-- p_strong (a table or subject hold is open, and the batch's statement checks holds on
-- rows of other tables that its key actions then remove or change without a lock of
-- the batch's own: _strong_reach): SHARE ROW EXCLUSIVE instead on every table reached
-- but the policy's table itself (and on that too when its change comes back to it
-- through a key). Taken before the statement's snapshot, the lock waits for every
-- transaction writing to those tables and keeps new ones out until the batch commits:
-- the hold check then reads those rows as the key actions will find them.
create or replace function retention_internal._lock_reach(p retention.policies, p_strong boolean default false)
returns oid[]
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel    oid;
  v_reach  oid[];
  v_locked oid[];
  v_family oid[] := retention_internal._referenced_as(p.target)::oid[];
  v_self   boolean;
begin
  -- Until the reach stops growing: a foreign key committed while a lock was awaited (or
  -- just before it was taken) can make another table reachable, and that table, not yet
  -- locked, could gain a key of its own before the batch's statement. Once every table
  -- reached is locked, no key naming one of them can be added (ADD FOREIGN KEY locks both
  -- tables SHARE ROW EXCLUSIVE), so the reach can no longer grow.
  loop
    v_reach := array(
      select distinct r.rel
        from (select p.target as t, p.action in ('soft_delete', 'scrub') as upd
              union all select x, false from unnest(coalesce(p.revoke_tables, '{}')) x) s
        cross join lateral retention_internal._reach(s.t, s.upd) r
       order by 1);
    exit when v_reach <@ v_locked;
    -- The policy's table comes back to itself: one of its keys (or a partition's) names a
    -- table its change reaches, with an action.
    v_self := p_strong and exists (
      select from pg_catalog.pg_constraint c
       where c.contype = 'f' and c.conrelid = any (v_family) and c.confrelid = any (v_reach)
         and (c.confdeltype in ('c', 'n', 'd') or c.confupdtype in ('c', 'n', 'd')));
    foreach v_rel in array v_reach loop
      execute format('lock table only %s in %s mode', v_rel::regclass,
                     case when p_strong and (v_self or not v_rel = any (v_family)) then 'share row exclusive' else 'row exclusive' end);
    end loop;
    v_locked := v_reach;
  end loop;
  return v_reach;
end
$$;
comment on function retention_internal._lock_reach(retention.policies, boolean) is
  'Internal. ROW EXCLUSIVE on every table a change of the policy''s table reaches, before its code is checked, until the reach stops growing; p_strong: SHARE ROW EXCLUSIVE on the reached tables but the policy''s own (that too when its change comes back to it). Returns the tables (the batch counts the rows its cascade deletes there).';

-- Whether a batch of the policy (p_cond: an erasure step) must lock the tables it
-- reaches strongly (_lock_reach) while a table or subject hold is open: its statement
-- checks holds on rows of other tables that key actions then remove or change, and the
-- two-phase statements do not lock them first — a scrub's revoke tables, the tables a
-- soft delete's or a scrub's update reaches through ON UPDATE keys, and cascades that
-- loop (a self-reference, a cycle), which the lock passes do not follow.
create or replace function retention_internal._strong_reach(p retention.policies, p_tree jsonb)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_family oid[] := retention_internal._referenced_as(p.target)::oid[];
begin
  if p.action in ('delete', 'purge_soft_deleted') then
    return exists (select from retention_internal._tree_nodes(p_tree) t where t.cycle);
  end if;
  -- An update: revoke tables, tables its ON UPDATE keys reach, or a key of its own table
  -- on itself.
  return cardinality(coalesce(p.revoke_tables, '{}')) > 0
      or exists (select from retention_internal._reach(p.target, true) r where r.rel <> all (v_family))
      or exists (select from pg_catalog.pg_constraint c
                  where c.contype = 'f' and c.conrelid = any (v_family) and c.confrelid = any (v_family)
                    and c.confupdtype in ('c', 'n', 'd'));
end
$$;
comment on function retention_internal._strong_reach(retention.policies, jsonb) is
  'Internal. Whether a batch must lock the tables it reaches in SHARE ROW EXCLUSIVE while a table or subject hold is open (revoke tables, ON UPDATE reach, cascade loops).';

-- What a whole partition (the table and every table below it) must be for a run to drop
-- it on a login's behalf: no row security hiding rows from that login or from the
-- retention owner (RT023: the hold check and the count would miss rows the drop takes),
-- and, with p_acting (a detach or a drop), every table in it owned by a role the login
-- is a member of, as DETACH and DROP would require of it (42501).
create or replace function retention_internal._check_partition(p_part regclass, p_acting boolean)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel  oid;
  v_tree oid[] := retention_internal._tree_oids(p_part);
begin
  v_rel := retention_internal._pending_below(p_part);
  if v_rel is not null then
    raise exception '% is being detached concurrently from the table above it: its rows are out of sight, and a drop of % would take them', v_rel::regclass, p_part
      using errcode = '55000',
            hint = format('Finish that detach first (ALTER TABLE %s DETACH PARTITION %s FINALIZE, or the next run of the policy on that table does it), then run again.',
                          (select i.inhparent::regclass from pg_catalog.pg_inherits i where i.inhrelid = v_rel), v_rel::regclass);
  end if;
  perform retention_internal._check_rls_of(v_tree);
  -- Read as the owner (a detached partition is no longer in its table's tree, which the
  -- run's checks read): round atk73 F2.
  perform retention_internal._check_planner_code(p_part);
  if p_acting then
    select c.oid into v_rel
      from unnest(v_tree) t(rel) join pg_catalog.pg_class c on c.oid = t.rel
     where not pg_catalog.pg_has_role(session_user, c.relowner, 'MEMBER')
     order by c.oid
     limit 1;
    if v_rel is not null then
      raise exception 'role % may not drop %: it is not a member of its owner %', session_user, v_rel::regclass,
        pg_catalog.pg_get_userbyid((select c.relowner from pg_catalog.pg_class c where c.oid = v_rel))
        using errcode = '42501',
              hint = format('A DBA grants it: GRANT %I TO %I; (DETACH and DROP are the owner''s.)',
                            pg_catalog.pg_get_userbyid((select c.relowner from pg_catalog.pg_class c where c.oid = v_rel)), session_user);
    end if;
  end if;
end
$$;
comment on function retention_internal._check_partition(regclass, boolean) is
  'Internal. 55000 when a table below the partition is being detached concurrently; RT023 when row security on the partition or a table below it hides rows from the session''s login or the retention owner; with p_acting, 42501 unless the login is a member of the owner of each of those tables.';
