-- The keys recorded in held_keys that still resolve: their tables by OID, or by the name
-- they had (a table rebuilt under it), every column by name or else by number; of the
-- tables p_rels (all when NULL). Only those no longer declared matter (the hold rule reads declared ones).
create or replace function retention_internal._held_keys_now(p_rels oid[])
returns table (conrel oid, fk name[], confrel oid, ref name[])
language plpgsql
stable
rows 10
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
begin
  -- PL/pgSQL keeps the plan for the session: as a SQL function with settings, planning
  -- this query took ~20 ms at every call on PostgreSQL 15 (an empty held_keys too).
  return query
  select distinct x.conrel, fk.cols, y.confrel, ref.cols
    from retention_internal.held_keys h
    cross join lateral (select coalesce((select c.oid from pg_catalog.pg_class c where c.oid = h.conrel),
                                        retention_internal._rel_by_name(h.conrel_name)) as conrel) x
    cross join lateral (select coalesce((select c.oid from pg_catalog.pg_class c where c.oid = h.confrel),
                                        retention_internal._rel_by_name(h.confrel_name)) as confrel) y
    -- Each column by its recorded name (else by its number), and again by its number in
    -- the same table: a key column renamed since, and a new column under its old name,
    -- both count (holding more; round atk88 F1). A table rebuilt under its name only by
    -- name (round atk79 F3).
    cross join (values (false), (true)) fm(by_num)
    cross join (values (false), (true)) rm(by_num)
    cross join lateral (
      select array_agg(case when fm.by_num
               then (select a.attname from pg_catalog.pg_attribute a
                      where a.attrelid = x.conrel and x.conrel = h.conrel and a.attnum = u.k and not a.attisdropped)
               else coalesce(
               (select a.attname from pg_catalog.pg_attribute a
                 where a.attrelid = x.conrel and a.attname = u.n and a.attnum > 0 and not a.attisdropped),
               (select a.attname from pg_catalog.pg_attribute a
                 where a.attrelid = x.conrel and x.conrel = h.conrel and a.attnum = u.k and not a.attisdropped)) end
             order by u.o) as cols
        from unnest(h.fk, h.fk_num) with ordinality u(n, k, o)) fk
    cross join lateral (
      select array_agg(case when rm.by_num
               then (select a.attname from pg_catalog.pg_attribute a
                      where a.attrelid = y.confrel and y.confrel = h.confrel and a.attnum = u.k and not a.attisdropped)
               else coalesce(
               (select a.attname from pg_catalog.pg_attribute a
                 where a.attrelid = y.confrel and a.attname = u.n and a.attnum > 0 and not a.attisdropped),
               (select a.attname from pg_catalog.pg_attribute a
                 where a.attrelid = y.confrel and y.confrel = h.confrel and a.attnum = u.k and not a.attisdropped)) end
             order by u.o) as cols
        from unnest(h.ref, h.ref_num) with ordinality u(n, k, o)) ref
   where x.conrel is not null and y.confrel is not null
     and (p_rels is null or x.conrel = any (p_rels))
     and array_position(fk.cols, null) is null and array_position(ref.cols, null) is null;
end
$$;
comment on function retention_internal._held_keys_now(oid[]) is
  'Internal. The foreign keys recorded in held_keys as they resolve now (tables by OID or recorded name; columns by name and, in the same table, by number: each way a row), of the given tables (all when NULL).';
revoke all on function retention_internal._held_keys_now(oid[]) from public;

-- Former partition and inheritance edges (past_parents) as they resolve now: each table by
-- OID, or by the name it had when recorded (a table rebuilt under it).
create or replace function retention_internal._past_parents_now()
returns table (rel oid, parent oid)
language plpgsql
stable
rows 100
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
begin
  -- The names of tables gone by OID are looked up together, once each (a database that
  -- dropped a thousand partitions has a thousand such edges: one catalog lookup each,
  -- through a function call, was most of a batch's hold reach).
  return query
  with p as materialized (
    select p.rel_name, p.parent_name,
           (select c.oid from pg_catalog.pg_class c where c.oid = p.rel) as rel_oid,
           (select c.oid from pg_catalog.pg_class c where c.oid = p.parent) as parent_oid
      from retention_internal.past_parents p),
  names as materialized (
    select distinct u.nm, pg_catalog.parse_ident(u.nm, false) as pi
      from p cross join lateral (values (case when p.rel_oid is null then p.rel_name end),
                                        (case when p.parent_oid is null then p.parent_name end)) u(nm)
     where u.nm is not null),
  -- As _rel_by_name reads them: schema and table by name, no privilege check.
  byname as materialized (
    select m.nm, c.oid
      from names m
      join pg_catalog.pg_namespace n on n.nspname = m.pi[1]
      join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = m.pi[2]
     where pg_catalog.cardinality(m.pi) = 2)
  select coalesce(p.rel_oid, r.oid), coalesce(p.parent_oid, q.oid)
    from p
    left join byname r on p.rel_oid is null and r.nm = p.rel_name
    left join byname q on p.parent_oid is null and q.nm = p.parent_name
   where coalesce(p.rel_oid, r.oid) is not null and coalesce(p.parent_oid, q.oid) is not null;
end
$$;
comment on function retention_internal._past_parents_now() is
  'Internal. The partition and inheritance edges recorded in past_parents, each table by OID or by its recorded name; edges whose tables are gone are left out.';
revoke all on function retention_internal._past_parents_now() from public;

-- The tables a chain of keys can lead up from to a person's row: those with subject columns
-- of their own (and their partition and inheritance trees) and every table up to 10 keys
-- below them, declared or recorded (held_keys). A key to any other table (a tenants or a
-- status table) leads nowhere and is not followed.
create or replace function retention_internal._hold_reach()
returns oid[]
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  -- Joined, not looked up per table: pg_constraint has no index on confrelid.
  with recursive pp as materialized (select * from retention_internal._past_parents_now()),
  e(parent, child, step) as materialized (
    -- A key's table one level down; a table above or below in its partition or
    -- inheritance tree at the same level (their columns and keys are one another's).
    select c.confrelid, c.conrelid, 1 from pg_catalog.pg_constraint c where c.contype = 'f' and c.conparentid = 0
    union all
    select h.confrel, h.conrel, 1 from retention_internal._held_keys_now(null) h
    union all
    select i.inhrelid, i.inhparent, 0 from pg_catalog.pg_inherits i
    union all
    select i.inhparent, i.inhrelid, 0 from pg_catalog.pg_inherits i
    -- And the trees they were in (past_parents): a partition detached from a declaring tree
    -- still holds the person's rows, and so do the rows that reference it (round atk79 F1).
    union all
    select p.rel, p.parent, 0 from pp p
    union all
    select p.parent, p.rel, 0 from pp p
  ),
  r(rel, d) as (
    select t.rel, 0 from unnest(retention_internal._declaring_tables()) t(rel)
    union
    select e.child, r.d + e.step from r join e on e.parent = r.rel where r.d + e.step <= 10)
  select array(select distinct r.rel from r)
$$;
comment on function retention_internal._hold_reach() is
  'Internal. The tables from which a chain of foreign keys (declared or recorded in held_keys) can lead to a row with subject columns, at most 10 keys: those a subject hold''s rule follows keys from.';
revoke all on function retention_internal._hold_reach() from public;

-- The given tables with the tables above them (now or recorded: _hold_ancestors) and
-- every table below them (_tree_oids: partitions and inheritance children).
create or replace function retention_internal._hold_reads_family(p_rels oid[])
returns oid[]
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select array(select distinct x.rel
                 from unnest(p_rels) f(rel)
                cross join lateral (select unnest(retention_internal._hold_ancestors(f.rel::regclass))
                                    union
                                    select unnest(retention_internal._tree_oids(f.rel::regclass))) x(rel)
                where exists (select from pg_catalog.pg_class c where c.oid = x.rel)
                order by 1)
$$;
comment on function retention_internal._hold_reads_family(oid[]) is
  'Internal. The given tables with the tables above them (now or recorded: _hold_ancestors) and below them (_tree_oids), sorted.';
revoke all on function retention_internal._hold_reads_family(oid[]) from public;

-- The tables a subject hold's rule over rows of p_rels may read (_subject_held_sql): their
-- families (_hold_reads_family) and, up every foreign key declared there or recorded
-- (held_keys), the referenced table and its family again, at most 11 keys up. Every key
-- is followed, not only those to tables of _hold_reach (the rule's own filter, which reads
-- every key of the database: too dear to pay twice per batch); a few tables more are
-- locked. Sorted by OID.
create or replace function retention_internal._hold_reads(p_rels oid[])
returns oid[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_all   oid[] := '{}';
  v_front oid[] := p_rels;
  v_fam   oid[];
  i       integer := 0;
begin
  while cardinality(v_front) > 0 and i <= 11 loop
    v_fam := retention_internal._hold_reads_family(v_front);
    v_fam := array(select x from unnest(v_fam) x where x <> all (v_all));
    v_all := v_all || v_fam;
    v_front := array(select distinct k.rel
                       from (select c.confrelid as rel from pg_catalog.pg_constraint c
                              where c.contype = 'f' and c.conrelid = any (v_fam)
                             union
                             select h.confrel from retention_internal.held_keys h
                              where h.conrel = any (v_fam) or h.conrel_name = any (array(select retention.qualified_name(f::regclass) from unnest(v_fam) f))) k
                      where k.rel <> all (v_all)
                        and exists (select from pg_catalog.pg_class c where c.oid = k.rel));
    i := i + 1;
  end loop;
  return array(select distinct x from unnest(v_all) x order by 1);
end
$$;
comment on function retention_internal._hold_reads(oid[]) is
  'Internal. The tables the subject-hold rule over rows of the given tables may read: their families and, up every foreign key (declared or recorded in held_keys), the referenced tables and theirs, at most 11 keys; sorted by OID.';
revoke all on function retention_internal._hold_reads(oid[]) from public;

-- Locks the tables the hold rule over rows of p_rels may read (_hold_reads) but p_rels and
-- what is below them (their callers lock those), ACCESS SHARE (the table alone), in OID
-- order: no column of theirs can be renamed, retyped or dropped, nor a key of theirs
-- dropped, until the transaction ends; p_have: tables locked so already. Returns the set
-- with p_have. Called in a statement of its own BEFORE the statement that builds the
-- rule: the rule's builders are STABLE and read the catalog with that statement's
-- snapshot, so a table locked inside it (waiting for an application that swaps or retypes
-- a subject column and commits meanwhile) was read as it was before the change (round
-- atk117 F1). Called again after the build: a set grown since (a key added in between, which
-- ACCESS SHARE does not stop) means the rule is built again. Where the owner may not
-- read a table it is not locked (the rule holds such a key's rows whenever it is set). A
-- caller without lock_timeout waits 5 seconds at most; under retention.plan_lock_nowait,
-- not at all (55P03).
create or replace function retention_internal._lock_hold_reads(p_rels oid[], p_have oid[] default '{}')
returns oid[]
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_set  oid[] := retention_internal._hold_reads(p_rels);
  v_cov  oid[];
  v_rel  oid;
  v_wait text := pg_catalog.current_setting('lock_timeout');
begin
  if v_set <@ p_have then
    return p_have;
  end if;
  -- Below p_rels: locked by the caller (or no part of what it reads as a table of its own).
  v_cov := p_have || array(select unnest(retention_internal._tree_oids(r::regclass))
                             from unnest(p_rels) r where exists (select from pg_catalog.pg_class c where c.oid = r));
  if v_wait in ('0', '0ms') then
    perform pg_catalog.set_config('lock_timeout', '5s', true);
  end if;
  foreach v_rel in array v_set loop
    continue when v_rel = any (v_cov);
    continue when not exists (select from pg_catalog.pg_class c where c.oid = v_rel and c.relkind in ('r', 'p', 'f', 'm'))
               or not pg_catalog.has_table_privilege(v_rel, 'SELECT');
    execute format('lock table only %s in access share mode%s', v_rel::regclass,
                   case when pg_catalog.current_setting('retention.plan_lock_nowait', true) = 'on' then ' nowait' else '' end);
  end loop;
  if v_wait in ('0', '0ms') then
    perform pg_catalog.set_config('lock_timeout', v_wait, true);
  end if;
  return p_have || array(select x from unnest(v_set) x where x <> all (p_have));
end
$$;
comment on function retention_internal._lock_hold_reads(oid[], oid[]) is
  'Internal. ACCESS SHARE (the table alone) on every table the hold rule over rows of the given tables may read (_hold_reads) but those and what is below them, in OID order; returns the set with p_have. Called before the statement that builds the rule, and after it (a grown set: build again).';
revoke all on function retention_internal._lock_hold_reads(oid[], oid[]) from public;

-- Whether a type holds, at any depth (an array's elements, a composite's fields, a
-- range's bounds, through domains), a value whose text no comparison reads back: a text
-- search value, an XML value, a bit string (round atk142 F3: an xml[] or a bit(8)[] was
-- taken apart piece by piece, and its pieces read nothing).
create or replace function retention_internal._holds_opaque(p_type oid, p_depth integer default 0)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_type oid := p_type;
  t      record;
  v_sub  oid;
begin
  if p_depth > 100 then
    return true;
  end if;
  v_type := retention_internal._domain_base(p_type);
  select y.typtype, y.typcategory, y.typelem, y.typlen, y.typrelid into t from pg_catalog.pg_type y where y.oid = v_type;
  if t.typtype is null then
    return false;
  end if;
  -- Still a domain 1,000 domains down: a type it cannot read, held whole.
  if t.typtype = 'd' then
    return true;
  end if;
  if v_type in ('tsvector'::regtype, 'tsquery'::regtype, 'xml'::regtype) or t.typcategory = 'V' then
    return true;
  end if;
  if t.typcategory = 'A' and t.typelem <> 0 and t.typlen = -1 then
    return retention_internal._holds_opaque(t.typelem, p_depth + 1);
  end if;
  if t.typtype = 'c' then
    return exists (select from pg_catalog.pg_attribute a
                    where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
                      and retention_internal._holds_opaque(a.atttypid, p_depth + 1));
  end if;
  if t.typtype = 'r' then
    select r.rngsubtype into v_sub from pg_catalog.pg_range r where r.rngtypid = v_type;
    return retention_internal._holds_opaque(v_sub, p_depth + 1);
  end if;
  if t.typtype = 'm' then
    select r.rngsubtype into v_sub from pg_catalog.pg_range r where r.rngmultitypid = v_type;
    return retention_internal._holds_opaque(v_sub, p_depth + 1);
  end if;
  return false;
end
$$;
comment on function retention_internal._holds_opaque(oid, integer) is
  'Internal. Whether a type holds, at any depth, a text search value, an XML value or a bit string (a subject hold holds every row of such a column while open).';
revoke all on function retention_internal._holds_opaque(oid, integer) from public;

-- How a subject hold compares a column of a type (domains resolved):
--  * 'text': a string type; in its type, and loosely (_held_loosely_sql) as it is;
--  * 'typed': a scalar of an exact type (integers, numbers, uuid, dates, addresses): in
--    its type only;
--  * 'typed+pieces': jsonb and bytea, in their type and loosely piece by piece;
--  * 'pieces': a value that holds text in pieces (a composite, an array, an enum, a
--    range, json, hstore and other types of the user-defined category): loosely,
--    piece by piece (_value_pieces_sql, enum labels too). An application that retypes a
--    subject column under a hold to a composite (alice) or an enum Alice keeps the held
--    value in the column's text (round atk107 F1);
--  * 'opaque': a type whose text may hold a person's value in a form no comparison
--    recovers (a text search vector's stems, a bit string, an XML value's character
--    references and entities: round atk139 F4), or holds one at any depth (an xml[]:
--    round atk142 F3): every row with a value is held while a subject hold is open.
create or replace function retention_internal._hold_kind(p_type oid)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select case when t.typcategory = 'S' then 'text'
              when retention_internal._holds_opaque(p_type) then 'opaque'
              when t.oid in ('jsonb'::pg_catalog.regtype, 'bytea'::pg_catalog.regtype) then 'typed+pieces'
              when t.oid = 'json'::pg_catalog.regtype or t.typtype in ('c', 'e', 'r', 'm')
                   or (t.typcategory in ('A', 'U', 'G') and t.oid <> 'uuid'::pg_catalog.regtype) then 'pieces'
              else 'typed' end
    from pg_catalog.pg_type t
   where t.oid = retention_internal._domain_base(p_type)
$$;
comment on function retention_internal._hold_kind(oid) is
  'Internal. How a subject hold compares a column of the type: text, typed, typed+pieces, pieces or opaque.';
revoke all on function retention_internal._hold_kind(oid) from public;

-- The number a long spelling of one is, as trim_scale writes it (a numeric(1000,998)
-- stores 7 as 7.000…: round atk142 F1), or, beyond numeric's range, the spelling without
-- leading zeros or a fraction's trailing zeros; never an error.
create or replace function retention_internal._number_form(p text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
begin
  return pg_catalog.trim_scale(p::pg_catalog.numeric)::pg_catalog.text;
exception when others then
  return pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.regexp_replace(p, '^([+-]?)0+([0-9])', '\1\2'),
                                                             '(\.[0-9]*?)0+($|[eE])', '\1\2'), '\.($|[eE])', '\1');
end
$$;
comment on function retention_internal._number_form(text) is
  'Internal. A number''s spelling as trim_scale writes it, or beyond numeric''s range without leading and trailing zeros; never an error.';
revoke all on function retention_internal._number_form(text) from public;

-- SQL (boolean) telling whether a text expression is an open subject hold's id compared
-- loosely: without case and surrounding blanks, against every form of the held ids
-- (_subject_forms), and as the loosest collation an application may have had reads it
-- (_hold_skeleton); or, given p_ids (SQL of a relation with a column subject_id), one of
-- those ids. A number is compared as the number it spells too ('007', ' 7.0', '70e-1'
-- as 7: a numeric[] element, a jsonb number, a string of digits in an array or a JSON
-- value; round atk139 F1). A value of ASCII letters and digits alone is compared in lower case
-- with the held ids' skeletons too ('zoe' under a hold on 'zoë': round atk102 F2), and
-- only values with another character pay for the skeleton. Such a value is compared
-- lowered first too: _skeleton reads a capital as the Latin letter it looks like and its
-- small letter as another (Ν as N, ν as v), so 'ΝΙΚΟΛΑΟΣ' and 'νικολαος' have different
-- skeletons, and lowered the same one (round atk107 F2). NULL compares as false.
create or replace function retention_internal._held_loosely_sql(p_expr text, p_ids text default null)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select format(
    '(coalesce(pg_catalog.lower(pg_catalog.btrim((%1$s) collate "default", E'' \t\r\n'')) collate "C" = any (array(select pg_catalog.lower(f) collate "C"
                                                                 from %3$s h
                                                                cross join unnest(%2$s) f)), false)
      or coalesce(case when pg_catalog.octet_length(%1$s) < 1000
                        and pg_catalog.btrim((%1$s) collate "C", E'' \t\r\n'') ~ ''^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$''
                       then pg_catalog.trim_scale(pg_catalog.btrim((%1$s) collate "C", E'' \t\r\n'')::pg_catalog.numeric)::pg_catalog.text
                       when pg_catalog.octet_length(%1$s) < 20000
                        and pg_catalog.btrim((%1$s) collate "C", E'' \t\r\n'') ~ ''^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$''
                       then retention_internal._number_form(pg_catalog.btrim((%1$s) collate "C", E'' \t\r\n'')) end collate "C"
                  = any (array(select f collate "C" from %3$s h cross join unnest(%2$s) f)), false)
      or coalesce(case when (%1$s) collate "C" ~ ''[^\x01-\x7f]'' then retention_internal._hold_skeleton((%1$s) collate "default") collate "C"
                       when (%1$s) collate "C" ~ ''[^0-9A-Za-z]'' then pg_catalog.regexp_replace(pg_catalog.lower((%1$s) collate "C"), ''[^0-9a-z]'', '''', ''g'') collate "C"
                       else pg_catalog.lower((%1$s) collate "C") end
                  = any (array(select retention_internal._hold_skeleton(f) collate "C"
                                 from %3$s h
                                cross join unnest(%2$s) f)), false)
      or coalesce(case when (%1$s) collate "C" ~ ''[^\x01-\x7f]''
                       then retention_internal._hold_skeleton(pg_catalog.lower((%1$s) collate retention_internal.fold)) collate "C" end
                  = any (array(select retention_internal._hold_skeleton(pg_catalog.lower(f collate retention_internal.fold)) collate "C"
                                 from %3$s h
                                cross join unnest(%2$s) f)), false))',
    p_expr, retention_internal._subject_forms_sql('h.subject_id'),
    coalesce(p_ids, '(select h.subject_id from retention_internal._open_holds h where h.scope = ''subject'')'))
$$;
comment on function retention_internal._held_loosely_sql(text, text) is
  'Internal. SQL: whether a text expression is an open subject hold''s id (or one of p_ids, SQL of a relation with a column subject_id), compared without case and blanks around, and as _hold_skeleton reads both.';
revoke all on function retention_internal._held_loosely_sql(text, text) from public;

-- SQL (boolean) telling whether a value of a type with text in it (_hold_kind 'pieces' or
-- 'typed+pieces') has a piece (_value_pieces_sql, enum labels too) that is an open subject
-- hold's id (or one of p_ids), compared loosely (_held_loosely_sql).
create or replace function retention_internal._held_pieces_sql(p_expr text, p_type oid, p_ids text default null)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
begin
  -- plpgsql: _value_pieces_sql is defined in a later file.
  -- A piece that spells a value of pieces again (an element {"id": "jdoe"} of a text[],
  -- a composite's field (jdoe,5), a bytea's JSON text) is read piece by piece too
  -- (_text_pieces; round atk144 F1).
  return format('coalesce(exists (select from unnest(%s) hp0(v0)
                                  cross join lateral unnest(array[hp0.v0] || case when hp0.v0 ~ ''^\s*[[{(]'' then retention_internal._text_pieces(hp0.v0)
                                                                                  else ''{}''::pg_catalog.text[] end) hp(v)
                                  where %s), false)',
                retention_internal._value_pieces_sql(p_expr, p_type, '{}', 0, true),
                retention_internal._held_loosely_sql('hp.v', p_ids));
end
$$;
comment on function retention_internal._held_pieces_sql(text, oid, text) is
  'Internal. SQL: whether a value has a piece (_value_pieces_sql, enum labels too) that is an open subject hold''s id, compared loosely.';
revoke all on function retention_internal._held_pieces_sql(text, oid, text) from public;

-- A key's columns over an alias, as _column_list writes them, or each as its text
-- (p_text: a recorded key whose columns' built-in types differ now).
create or replace function retention_internal._key_list(p_alias text, p_cols name[], p_text boolean)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_text
              then (select string_agg(format('%s.%I::text', p_alias, c), ', ' order by o) from unnest(p_cols) with ordinality u(c, o))
              else retention_internal._column_list(p_alias, p_cols) end
$$;
comment on function retention_internal._key_list(text, name[], boolean) is
  'Internal. A key''s columns over an alias (_column_list), or each cast to text.';
revoke all on function retention_internal._key_list(text, name[], boolean) from public;

-- The subject part of the one hold rule (_held_sql), as SQL over a row alias: true when
-- an open subject hold names a person the row belongs to, as an erasure of that person
-- would take it (_subject_steps). A row is a person's when
--  * one of its subject columns (_subject_columns: its own, and the columns of a foreign
--    key, of any number of columns, that match a subject column of the table it
--    references) holds the person's id; or
--  * it references, through any foreign key (composite, or to a unique column other than
--    the key: mails.to_email -> users.email), a row that is the person's by this same
--    rule: up the chain of keys (order_notes -> orders -> users), at most 10 keys, as the
--    erasure walks at most 10 levels down them.
-- Like the erasure walk it leaves out keys within the table's own partitioned table (a
-- self-reference names other people) and, unlike it, does not stop at tables an erasure
-- rule keeps (holding more rather than less). A key to a table the hold check cannot read
-- (row security applies to the running role, or it lacks SELECT) holds every row whose
-- key is set. Only keys to tables from which a chain can reach a person's row are
-- followed (p_reach, computed once). Each costs one lookup in the referenced table's
-- unique index per row (kept so: OFFSET 0), and is spelt out once per path: past
-- p_budget keys (64 per condition, a schema whose keys fan out widely), a key holds the
-- row when it references any row.
-- p_skip: subject columns the caller already compares (those a key maps onto); p_skip_con:
-- the key by which the caller reached this row from the row it judges already (a
-- cascade's child row: its key leads back to that row); used: how many keys this
-- condition follows. Only catalog identifiers, quoted, go into the SQL.
create or replace function retention_internal._subject_held_sql(
  p_rel    regclass,
  p_alias  text,
  p_depth  integer default 0,
  p_path   oid[] default '{}',
  p_skip   name[] default '{}',
  p_budget integer default 64,
  p_skip_con oid default null,
  p_reach  oid[] default null,
  out sql  text,
  out used integer
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_parts  text[] := '{}';
  v_col    name;
  v_typmod text;
  v_kind   text;
  v_type   oid;
  k        record;
  v_a      text := p_alias || 's';
  v_inner  record;
  v_skip   name[];
  v_path   oid[] := p_path || retention_internal._family(p_rel);
  v_up     oid[];
  v_tree   oid[];
  v_text   boolean;
begin
  used := 0;
  -- Its subject columns, each as its type's kind says (_hold_kind).
  foreach v_col in array retention_internal._subject_columns(p_rel) loop
    continue when v_col = any (p_skip);
    select retention_internal._base_type(a.atttypid, a.atttypmod), retention_internal._hold_kind(a.atttypid), a.atttypid
      into v_typmod, v_kind, v_type
      from pg_catalog.pg_attribute a where a.attrelid = p_rel and a.attname = v_col;
    -- In the column's type. A text column may hold an integer key as its digits (an
    -- erasure rule says so, and an erasure then takes '42' for person 042): there a hold
    -- matches the value as given and as the canonical text of an integer and of a number
    -- too ('042' holds '42').
    if v_kind in ('text', 'typed', 'typed+pieces') then
      v_parts := v_parts || format(
        'coalesce(%1$s.%2$I::%3$s = any (array(select v from (select unnest(array[%4$s%5$s])::%3$s as v
                                                          from retention_internal._open_holds h where h.scope = ''subject'') s
                                          where v is not null)), false)',
        p_alias, v_col, v_typmod, retention_internal._subject_value_sql('h.subject_id', v_typmod),
        case when v_kind = 'text' then ', ' || retention_internal._subject_value_sql('h.subject_id', 'bigint')
                                  || ', ' || retention_internal._subject_value_sql('h.subject_id', 'numeric')
             else '' end);
    end if;
    -- And loosely (_held_loosely_sql): without case and surrounding blanks, and as the
    -- loosest collation reads it (_hold_skeleton: accents, ignorable code points, blanks
    -- and punctuation dropped). A text column may hold what another type held before the
    -- application changed it (a uuid, an e-mail under a case-insensitive or
    -- accent-insensitive collation; rounds atk62 F6, atk79 F4, atk94 F3, atk102 F2). Both
    -- sides lowered under the database's collation, never the column's: a column made
    -- Turkish (tr-x-icu) lowered 'ALICE' to 'alıce' (round atk76 F4). Holding more is the
    -- safe side.
    if v_kind = 'text' then
      v_parts := v_parts || retention_internal._held_loosely_sql(format('%s.%I::text', p_alias, v_col));
      -- And a value that spells an integer otherwise (' 07', '007', '+7'), as that integer:
      -- a key retyped to text with its digits padded stays held under a hold on 7.
      v_parts := v_parts || format(
        'coalesce(case when pg_catalog.btrim(%1$s.%2$I::text collate "C") ~ ''^[+-]?[0-9]{1,18}$''
                       then pg_catalog.btrim(%1$s.%2$I::text collate "C")::pg_catalog.int8::text end
                  = any (array(select v from (select %3$s as v from retention_internal._open_holds h where h.scope = ''subject'') s
                                where v is not null)), false)',
        p_alias, v_col, retention_internal._subject_value_sql('h.subject_id', 'bigint'));
      -- And a text that spells a value of pieces (a JSON value, an array's or a
      -- composite's text: a jsonb, array or composite column retyped to text under a
      -- hold; rounds atk142 F5, atk144 F1), piece by piece (_text_pieces).
      v_parts := v_parts || format(
        'coalesce(case when pg_catalog.btrim(%1$s.%2$I::text collate "C", E'' \t\r\n'') ~ ''^[[{(]''
                       then exists (select from unnest(retention_internal._text_pieces(%1$s.%2$I::text)) hp(v) where %3$s) end, false)',
        p_alias, v_col, retention_internal._held_loosely_sql('hp.v'));
    end if;
    -- A JSON value nested too deep for its pieces to be read (a path query over a value
    -- 12,000 levels deep failed every run: round atk142 F6): held while any subject hold
    -- is open (_jsonb_deep), as an opaque value.
    if v_kind in ('typed+pieces', 'pieces') and retention_internal._json_type(v_type) then
      v_parts := v_parts || format('(retention_internal._jsonb_deep(%s) and exists (select from retention_internal._open_holds h where h.scope = ''subject''))',
                                   case when v_kind = 'pieces' then format('retention_internal._jsonb_of(%s.%I::pg_catalog.json)', p_alias, v_col)
                                        else format('%s.%I::pg_catalog.jsonb', p_alias, v_col) end);
    end if;
    -- A value with text in it, piece by piece (_value_pieces_sql): a JSON value's strings
    -- and numbers at every level (a key retyped to jsonb, 42 becoming "42", or made an
    -- object {"id": "alice"}: rounds atk71 F3, atk107 F1), a bytea's UTF-8 text (round
    -- atk102), a composite's fields, an array's elements, an enum's label.
    if v_kind in ('typed+pieces', 'pieces') then
      v_parts := v_parts || retention_internal._held_pieces_sql(format('%s.%I', p_alias, v_col), v_type);
    end if;
    -- A value no comparison reads back: held while any subject hold is open.
    if v_kind = 'opaque' then
      v_parts := v_parts || format('(%s.%I is not null and exists (select from retention_internal._open_holds h where h.scope = ''subject''))',
                                   p_alias, v_col);
    end if;
    -- And under every nondeterministic collation the column was seen with while a subject
    -- hold was open (held_collations: pg-retention's copies), unless it has that one now:
    -- a tailoring (Danish aa = å) or numeric ordering no loose comparison knows, after the
    -- application made the column "C" (round atk102 F1).
    if v_kind = 'text' then
      v_parts := v_parts || array(
        select format('coalesce(%1$s.%2$I::text collate retention_internal.%3$I = any (array(select f
                                                                      from retention_internal._open_holds h
                                                                     cross join unnest(%4$s) f
                                                                     where h.scope = ''subject'')), false)',
                      p_alias, v_col, h.copy, retention_internal._subject_forms_sql('h.subject_id'))
          from retention_internal.held_collations h
          join pg_catalog.pg_collation c on c.collname = h.copy and c.collnamespace = 'retention_internal'::pg_catalog.regnamespace
         where h.rel = p_rel and h.attname = v_col
           and not exists (select from pg_catalog.pg_attribute a
                            where a.attrelid = p_rel and a.attname = v_col
                              and retention_internal._held_collation_name(a.attcollation) = h.copy)
         order by h.copy);
    end if;
  end loop;
  -- Rows it references through foreign keys (declared on it, on a table above it, or on a
  -- partition below it), when those are a person's.
  if p_depth < 10 then
    -- Once, not for every catalog row the query reads.
    v_up := retention_internal._hold_ancestors(p_rel);  -- former parents too (atk56)
    v_tree := array(select t.relid from pg_catalog.pg_partition_tree(p_rel) t);
    -- The tables a chain can lead up from to a person's row, once per condition: those
    -- with subject columns of their own (and their partition and inheritance trees) and
    -- every table up to 10 keys below them. A key to any other table (a tenants or a
    -- status table) leads nowhere and is not followed.
    if p_reach is null and (exists (select from pg_catalog.pg_constraint c
                                     where c.contype = 'f' and (c.conrelid = any (v_up) or c.conrelid = any (v_tree)))
                            or exists (select from retention_internal._held_keys_now(v_up || v_tree))) then
      p_reach := retention_internal._hold_reach();
    end if;
    for k in
      with declared as (
        select c.oid, c.conname, c.confrelid::regclass as parent,
               array(select a.attname from unnest(c.conkey) with ordinality u(att, o)
                       join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = u.att order by u.o) as fk,
               array(select a.attname from unnest(c.confkey) with ordinality u(att, o)
                       join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = u.att order by u.o) as ref
          from pg_catalog.pg_constraint c
         where c.contype = 'f' and c.conparentid = 0
           and (c.conrelid = any (v_up) or c.conrelid = any (v_tree))
           and not c.confrelid = any (v_path)
           and c.confrelid = any (p_reach)),
      live as (select * from declared d where d.oid is distinct from p_skip_con),
      -- Keys recorded while a subject hold could rely on them (held_keys), dropped since:
      -- still followed (round atk76 F3).
      recorded as (
        select null::oid as oid, null::name as conname, h.confrel::regclass as parent, h.fk, h.ref
          from retention_internal._held_keys_now(v_up || v_tree) h
         where not h.confrel = any (v_path)
           and h.confrel = any (p_reach))
      select * from live
      union all
      select r.* from recorded r
       where not exists (select from declared l where l.parent = r.parent and l.fk = r.fk and l.ref = r.ref)
       order by 2 nulls last, 1, 4, 5
    loop
      -- The referenced table's own subject columns this key maps onto are compared on
      -- this row already (_subject_columns counts the key's columns).
      v_skip := array(select r from unnest(k.ref) r
                       where r in (select o.col from retention_internal._own_subject_columns(k.parent) o));
      -- A key whose columns differ in type compares through an implicit cast; one of
      -- another role's would run as the owner in every statement with this rule, the
      -- tables along the chain being no part of the run's reach, whose casts runs check
      -- (round atk113 F7). Not compared, then: held whenever the key is set.
      -- A key recorded in held_keys, dropped since, whose columns' types differ now (a
      -- column of another type renamed to the key's name: round atk117 F2) may not compare
      -- at all: built-in types are compared as their text (below), another role's type
      -- holds the row whenever the key is set.
      v_text := k.oid is null and exists (
                  select from unnest(k.fk, k.ref) u(f, r)
                    join pg_catalog.pg_attribute a on a.attrelid = p_rel and a.attname = u.f and a.attnum > 0 and not a.attisdropped
                    join pg_catalog.pg_attribute b on b.attrelid = k.parent and b.attname = u.r and b.attnum > 0 and not b.attisdropped
                   where a.atttypid <> b.atttypid);
      if exists (select from unnest(k.fk, k.ref) u(f, r)
                   join pg_catalog.pg_attribute a on a.attrelid = p_rel and a.attname = u.f and a.attnum > 0 and not a.attisdropped
                   join pg_catalog.pg_attribute b on b.attrelid = k.parent and b.attname = u.r and b.attnum > 0 and not b.attisdropped
                  where retention_internal._key_cast(a.atttypid, b.atttypid) is not null
                     or (v_text and (a.atttypid >= 16384 or b.atttypid >= 16384))) then
        v_parts := v_parts || format('(%s)', (select string_agg(format('%s.%I is not null', p_alias, f), ' and ')
                                                from unnest(k.fk) f));
        continue;
      end if;
      if used >= p_budget then
        v_parts := v_parts || format('exists (select from %s %s where (%s) = (%s))', retention_internal._reach_scan(k.parent), v_a,
                                     retention_internal._key_list(v_a, k.ref, v_text), retention_internal._key_list(p_alias, k.fk, v_text));
        continue;
      end if;
      v_inner := retention_internal._subject_held_sql(k.parent, v_a, p_depth + 1, v_path, v_skip, p_budget - used - 1,
                                                      null, p_reach);
      used := used + 1 + v_inner.used;
      continue when v_inner.sql = 'false';
      if not pg_catalog.has_table_privilege(k.parent, 'SELECT') or pg_catalog.row_security_active(k.parent) then
        -- Rows the check cannot see: held whenever the key is set.
        v_parts := v_parts || format('(%s)', (select string_agg(format('%s.%I is not null', p_alias, f), ' and ')
                                                from unnest(k.fk) f));
        continue;
      end if;
      -- OFFSET 0 keeps it a lookup per row: without it the planner may turn it into a
      -- hashed subquery that reads the whole referenced table on every batch.
      -- ONLY for an ordinary table (_reach_scan): the key references it, not its
      -- inheritance children (a foreign table there would be read as the owner).
      v_parts := v_parts || format('exists (select from %s %s where (%s) = (%s) and %s offset 0)',
                                   retention_internal._reach_scan(k.parent), v_a,
                                   retention_internal._key_list(v_a, k.ref, v_text), retention_internal._key_list(p_alias, k.fk, v_text),
                                   v_inner.sql);
    end loop;
  end if;
  sql := case when cardinality(v_parts) = 0 then 'false' else '(' || array_to_string(v_parts, ' or ') || ')' end;
end
$$;
comment on function retention_internal._subject_held_sql(regclass, text, integer, oid[], name[], integer, oid, oid[]) is
  'Internal. SQL over a row alias: whether an open subject hold names a person the row belongs to — in its subject columns, or up any chain of foreign keys (composite, to a unique column) to such a row, at most 10 keys, as an erasure would take it.';
