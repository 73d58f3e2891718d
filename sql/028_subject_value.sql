-- A subject hold's id as a value of a subject column's type, in that type's canonical text
-- ('042' is 42 for an integer column, an upper-case UUID its lower-case form), or NULL
-- when it is no value of that type ('abc' for a bigint column cannot match any row).
-- Holds are compared with rows in the column's type, never as text. p_type is the
-- column's full type as format_type gives it, modifier included (char(4), not char(1)).
create or replace function retention_internal._subject_value(p_value text, p_type text)
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
  v     text;
  v_why text;
begin
  -- A type created after initdb may have casts of another role's, from text into it or
  -- from it into text: ::type and ::text below would call them as the retention owner
  -- (round atk50: a cast from text to an application's enum). Casts between built-in
  -- types only a superuser can create.
  if p_type::regtype::oid >= 16384 then
    v_why := coalesce(retention_internal._foreign_cast(p_type::regtype), retention_internal._cast_into_code(p_type::regtype));
    if v_why is not null then
      raise exception 'subject values of type % would run another role''s code with the retention owner''s rights: %', p_type, v_why
        using errcode = 'RT025', hint = 'Drop the cast, or have the retention owner (or a superuser) own its function.';
    end if;
  end if;
  begin
    execute format('select %L::%s::text', p_value, p_type) into v;
    return v;
  exception when data_exception or invalid_text_representation or feature_not_supported then
    -- '7.0' names subject 7 in an integer column as it does in a numeric one.
    if p_type in ('smallint', 'integer', 'bigint') then
      begin
        execute format('select case when v = trunc(v) then trunc(v)::%s::text end from (select %L::numeric as v) x', p_type, p_value)
          into v;
        return v;
      exception when data_exception or invalid_text_representation or feature_not_supported then
        -- ('NaN' and 'Infinity' are numbers but no integer.)
        return null;
      end;
    end if;
    return null;
  end;
end
$$;
comment on function retention_internal._subject_value(text, text) is
  'Internal. A subject id as canonical text of a column type (NULL when it is no value of that type; an integral number such as 7.0 is 7 in an integer column).';

-- Whether a subject column declared on another table of p_rel's family (p_target, or the
-- tables that were above it: p_family) ought to be a column of p_rel too, so that its
-- absence there means it was renamed or dropped: the declaring table (or one recorded
-- above it) is in p_rel's partition tree, where every table has every column; or a table
-- above p_rel now or before (p_up: a partition detached since, or an inheritance child
-- made NO INHERIT, had every column of it) is the declaring table, one of the tables
-- above it, or recorded above it, and has the column or is gone (round atk62 F5); or the
-- declaring table is still there and lacks the column as well.
drop function if exists retention_internal._shares_subject_column(regclass, oid[], name, oid[], oid);
create or replace function retention_internal._shares_subject_column(p_target regclass, p_family oid[], p_column name,
                                                                    p_fam oid[], p_root oid, p_up oid[])
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if not (p_target::oid = any (p_fam) or p_family operator(pg_catalog.&&) p_fam) then
    return false;
  end if;
  if p_root is not null and exists (select from pg_catalog.pg_class c
                                     where c.oid = any (p_target::oid || p_family)
                                       and pg_catalog.pg_partition_root(c.oid) = p_root) then
    return true;
  end if;
  if exists (select from unnest(p_up[2:]) u(rel)
              where (u.rel = any (p_target::oid || p_family)
                     or (p_target is not null and u.rel = any (retention_internal._hold_ancestors(p_target))))
                and (not exists (select from pg_catalog.pg_class c where c.oid = u.rel)
                     or exists (select from pg_catalog.pg_attribute a
                                 where a.attrelid = u.rel and a.attname = p_column and a.attnum > 0 and not a.attisdropped))) then
    return true;
  end if;
  return exists (select from pg_catalog.pg_class c where c.oid = p_target)
         and not exists (select from pg_catalog.pg_attribute a
                          where a.attrelid = p_target and a.attname = p_column and a.attnum > 0 and not a.attisdropped);
end
$$;
comment on function retention_internal._shares_subject_column(regclass, oid[], name, oid[], oid, oid[]) is
  'Internal. Whether a subject column another table of the family declares is one the table must have too (the same partition tree, a table above it now or before that has the column, or gone from the declaring table as well): missing, it was renamed or dropped (RT002).';

-- The columns of a table that name a data subject, so a subject hold covers its rows:
-- the subject column of every policy and erasure rule on the table or on a table of its
-- partition or inheritance tree, and the key of a table people are erased from (erasure
-- requests' subject tables). A policy's or rule's column renamed or dropped: RT002.
create or replace function retention_internal._subject_columns(p_rel regclass)
returns name[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_gone record;
  v_moved record;
  -- Once, not for every catalog row the queries below read.
  v_up   oid[] := retention_internal._hold_ancestors(p_rel);  -- former parents too (atk56)
  v_tree oid[] := array(select t.relid from pg_catalog.pg_partition_tree(p_rel) t);
  v_root oid := pg_catalog.pg_partition_root(p_rel);
  v_fam  oid[];
begin
  -- A policy's subject column renamed or dropped since: subject holds would quietly stop
  -- covering the table, so every check of it fails until the policy is fixed.
  -- So for a policy on another table of its family (a sibling partition, or one dropped
  -- since: subject_family) whose column it shares: renamed on the partitioned table, it
  -- would leave this table's rows quietly uncovered (a partition has every column of its
  -- tree; an inheritance child has its parent's, so a column gone from the policy's own
  -- table too was renamed or dropped there).
  v_fam := retention_internal._hold_family(p_rel);
  select p.name, p.subject_column into v_gone
    from retention.policies p
   where p.subject_column is not null
     and not exists (select from pg_catalog.pg_attribute a
                      where a.attrelid = p_rel and a.attname = p.subject_column and a.attnum > 0 and not a.attisdropped)
     and (p.target::oid = any (v_up) or p.target::oid = any (v_tree)
          or retention_internal._shares_subject_column(p.target, p.subject_family, p.subject_column, v_fam, v_root, v_up))
   limit 1;
  if found then
    raise exception 'policy %: subject column % no longer exists in %', v_gone.name, v_gone.subject_column,
          retention.qualified_name(p_rel)
      using errcode = 'RT002',
            hint = 'Subject holds are matched on it: set the policy''s p_subject_column to the column''s new name before runs go on (dropping the policy is refused while subject holds rely on the column). A policy whose own table is gone declares it for the tables that were above that table: declare the new name there (retention.set_erasure_rule on the partitioned table, p_subject_column), then drop the policy.';
  end if;
  -- A subject column whose name now names another column of the declaring table (renamed,
  -- and the name given to another: round atk56) fails too, wherever the declaration covers.
  select p.name, p.subject_column, retention.qualified_name(p.target) as tbl into v_moved
    from retention.policies p
   where p.subject_attnum is not null
     and (p.target::oid = any (v_fam) or p.subject_family operator(pg_catalog.&&) v_fam)
     and exists (select from pg_catalog.pg_attribute a
                  where a.attrelid = p.target and a.attname = p.subject_column and a.attnum > 0 and not a.attisdropped
                    and a.attnum <> p.subject_attnum)
   limit 1;
  if found then
    raise exception 'policy %: subject column % of % is not the column it was declared on (renamed since)', v_moved.name,
          v_moved.subject_column, v_moved.tbl
      using errcode = 'RT002',
            hint = 'Subject holds are matched on it: set the policy again with the column that holds the subject (set_policy declares it anew) before runs go on.';
  end if;
  select retention.qualified_name(r.target) as name, r.subject_column, retention.qualified_name(r.target) as tbl into v_moved
    from retention.erasure_rules r
   where r.subject_attnum is not null
     and (r.target::oid = any (v_fam) or r.subject_family operator(pg_catalog.&&) v_fam)
     and exists (select from pg_catalog.pg_attribute a
                  where a.attrelid = r.target and a.attname = r.subject_column and a.attnum > 0 and not a.attisdropped
                    and a.attnum <> r.subject_attnum)
   limit 1;
  if found then
    raise exception 'erasure rule on %: subject column % is not the column it was declared on (renamed since)', v_moved.name,
          v_moved.subject_column
      using errcode = 'RT002',
            hint = 'Subject holds are matched on it: set the rule again with the column that holds the subject (retention.set_erasure_rule) before runs go on.';
  end if;
  -- So for an erasure rule's subject column.
  select coalesce(retention.qualified_name(r.target), 'a dropped table') as name, r.subject_column into v_gone
    from retention.erasure_rules r
   where r.subject_column is not null
     and not exists (select from pg_catalog.pg_attribute a
                      where a.attrelid = p_rel and a.attname = r.subject_column and a.attnum > 0 and not a.attisdropped)
     and (r.target::oid = any (v_up) or r.target::oid = any (v_tree)
          or retention_internal._shares_subject_column(r.target, r.subject_family, r.subject_column, v_fam, v_root, v_up))
   limit 1;
  if found then
    raise exception 'erasure rule on %: subject column % no longer exists in %', v_gone.name, v_gone.subject_column,
          retention.qualified_name(p_rel)
      using errcode = 'RT002',
            hint = 'Subject holds are matched on it: set the rule again with the column''s new name (retention.set_erasure_rule) before runs go on; a rule whose own table is gone: declare the new name on the table above it, then delete the rule.';
  end if;
  -- Its own subject columns, and every column of a foreign key (of one column or more)
  -- that matches a subject column of another table (a message's recipient points at a
  -- person, alone or with the tenant as (tenant_id, recipient_id): a hold on that person
  -- covers the message, whoever else's erasure or policy would remove it). Rows that
  -- reach a person through other keys (a unique column, a chain of keys) are held by
  -- _subject_held_sql.
  return (select coalesce(array_agg(distinct x.col order by x.col), '{}')
    from (select c.col from retention_internal._own_subject_columns(p_rel) c
          union
          select a.attname
            from pg_catalog.pg_constraint k
            cross join unnest(k.conkey, k.confkey) u(att, ratt)
            join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.att
            join pg_catalog.pg_attribute r on r.attrelid = k.confrelid and r.attnum = u.ratt
           where k.contype = 'f'
             and (k.conrelid = any (v_up) or k.conrelid = any (v_tree))
             and r.attname in (select o.col from retention_internal._own_subject_columns(k.confrelid) o)
          union
          -- Columns of such a key, and the key of an erasure subject table, recorded
          -- while a subject hold was open or a request was filed (subject_links): the key
          -- dropped or replaced since, they still name the subject. By number (a rename
          -- keeps it) and by the name it had (the column rebuilt under its name: atk62 F2).
          select a.attname
            from retention_internal.subject_links l
            join pg_catalog.pg_attribute a on a.attrelid = l.rel and a.attnum > 0 and not a.attisdropped
                                          and (a.attnum = l.attnum or a.attname = l.attname)
           where l.rel = any (v_up) or l.rel = any (v_tree)
          union
          -- Of a table rebuilt under the recorded name (a copy, the old one dropped, the copy
          -- renamed: round atk76 F5), by the column's name.
          select a.attname
            from retention_internal.subject_links l
            join pg_catalog.pg_attribute a on a.attrelid = retention_internal._rel_by_name(l.rel_name) and a.attname = l.attname
                                          and a.attnum > 0 and not a.attisdropped
           where not exists (select from pg_catalog.pg_class c where c.oid = l.rel)
             and (retention_internal._rel_by_name(l.rel_name) = any (v_up) or retention_internal._rel_by_name(l.rel_name) = any (v_tree))) x
   where exists (select from pg_catalog.pg_attribute a
                  where a.attrelid = p_rel and a.attname = x.col and not a.attisdropped));
end
$$;
comment on function retention_internal._subject_columns(regclass) is
  'Internal. Columns of a table that subject holds match: policies'' subject columns (the table''s and its parents''), the key of erasure subject tables, and the columns of foreign keys (of any number of columns) that match such a column of another table.';

-- A table's own subject columns: the subject columns of policies on it (or a parent) and
-- the key of a table erasure requests were filed against.
create or replace function retention_internal._own_subject_columns(p_rel regclass)
returns table (col name)
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
declare
  v_fam   oid[] := retention_internal._hold_family(p_rel);
  v_names text[] := '{}';
begin
  -- A declaration whose table is gone covers the table under the name it last had (a
  -- rebuilt table: a copy, the old one dropped, the copy renamed). The family's names are
  -- read only when some declaration's table is gone.
  if exists (select from retention.policies p
              where p.subject_column is not null
                and not exists (select from pg_catalog.pg_class c where c.oid = p.target))
     or exists (select from retention.erasure_rules r
                 where r.subject_column is not null and r.target is not null
                   and not exists (select from pg_catalog.pg_class c where c.oid = r.target))
     or exists (select from (select distinct q.subject_table from retention.erasure_requests q) q
                 where not exists (select from pg_catalog.pg_class c where c.oid = q.subject_table)) then
    v_names := array(select retention.qualified_name(x::regclass) from unnest(v_fam) x);
  end if;
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return query
  -- Of policies on the table or on any table of its partitioned table's tree (above it,
  -- below it, beside it): a partition's columns are its partitioned table's, so a column
  -- one of them calls a subject column names a subject in all of them.
  -- An inheritance child's columns are its parent's too: the same holds (_hold_family).
  -- A policy's table dropped since still declares the column for the tables that were
  -- above it (subject_family): a dropped partition's siblings stay covered (atk44).
  select p.subject_column
    from retention.policies p
   where p.subject_column is not null
     and (p.target = any (v_fam)
          or retention_internal._family_now(p.subject_family) operator(pg_catalog.&&) v_fam
          or (p.target_name = any (v_names) and not exists (select from pg_catalog.pg_class c where c.oid = p.target)))
  union
  -- Of erasure rules that name the column holding a subject's key (set_erasure_rule's
  -- p_subject_column): a hold on the person keeps those rows too.
  select r.subject_column
    from retention.erasure_rules r
   where r.subject_column is not null
     and (r.target = any (v_fam)
          or retention_internal._family_now(r.subject_family) operator(pg_catalog.&&) v_fam
          or (r.target_name = any (v_names) and not exists (select from pg_catalog.pg_class c where c.oid = r.target)))
  union
  select k.key_column
    from retention_internal._single_key(p_rel) k
   where exists (select from retention.erasure_requests r
                  where r.subject_table = any (v_fam)
                     or (r.subject_table_name = any (v_names)
                         and not exists (select from pg_catalog.pg_class c where c.oid = r.subject_table)))
  union
  -- The key column of a subject table above or beside it (an inheritance child has no
  -- primary key of its own, but holds the same people).
  select k.key_column
    from retention.erasure_requests r
   cross join lateral retention_internal._single_key(r.subject_table) k
   where r.subject_table = any (v_fam);
end
$$;
comment on function retention_internal._own_subject_columns(regclass) is
  'Internal. The subject columns a table has of its own: policies'' and erasure rules'' subject columns (its and its partitioned family''s) and the key of erasure subject tables.';

-- The spellings under which a subject id may equal another in some column type, for
-- judging values whose column type is no longer known (an archived row whose table was
-- renamed, dropped or its column retyped since): as given; without trailing blanks (a
-- char(n) pads); in lower case (uuid, citext, case-insensitive collations); as a number
-- without leading zeros, sign, exponent or trailing fractional zeros ('042', '+42',
-- '4.2e1' and '42.0' are 42); as a uuid (canonical, without hyphens, in braces); Unicode-composed. Two ids may be the same
-- subject when their sets overlap. Wider than any one type's equality, on purpose: what
-- it serves keeps data for a hold, and keeping too much is the safe side.
create or replace function retention_internal._subject_forms(p_value text)
returns text[]
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v text[];
  t text;
begin
  if p_value is null then
    return '{}';
  end if;
  t := pg_catalog.rtrim(p_value);
  v := array[p_value, t, pg_catalog.lower(t), pg_catalog.lower(pg_catalog.btrim(p_value, E' \t\r\n'))];
  -- Unicode-equal spellings (a nondeterministic collation takes 'José' decomposed and
  -- composed as one; round atk44): the composed, lower-case form.
  if pg_catalog.getdatabaseencoding() = 'UTF8' then
    v := v || pg_catalog.lower(pg_catalog.normalize(t, 'NFC'));
  end if;
  if pg_catalog.btrim(p_value) ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,6})?$' then
    begin
      v := v || pg_catalog.trim_scale(pg_catalog.btrim(p_value)::numeric)::text;
    exception when data_exception then
      null;
    end;
  end if;
  if pg_catalog.btrim(p_value) ~ '^\{?[0-9a-fA-F]{4}(-?[0-9a-fA-F]{4}){7}\}?$' then
    begin
      -- And as a text column may hold it: without hyphens, in braces (compared without
      -- case; round atk66 F5's spellings, which erasures take).
      t := pg_catalog.btrim(p_value)::uuid::text;
      v := v || t || pg_catalog.replace(t, '-', '') || ('{' || t || '}');
    exception when data_exception then
      null;
    end;
  end if;
  -- A network or hardware address as inet and macaddr write it ('2001:0db8::0001' is
  -- '2001:db8::1', '08-00-2B-01-02-03' is '08:00:2b:01:02:03'): the column retyped to text
  -- keeps that text (round atk79 F6).
  if pg_catalog.btrim(p_value) ~ '^[0-9a-fA-F:.]+(/[0-9]{1,3})?$' and pg_catalog.btrim(p_value) ~ '[:.]' then
    begin
      t := pg_catalog.btrim(p_value)::inet::text;
      v := v || t || pg_catalog.host(t::inet);
    exception when data_exception then
      null;
    end;
  end if;
  if pg_catalog.btrim(p_value) ~ '^[0-9a-fA-F]{2}([-:.]?[0-9a-fA-F]{2}){5}$|^[0-9a-fA-F]{4}[.][0-9a-fA-F]{4}[.][0-9a-fA-F]{4}$' then
    begin
      v := v || pg_catalog.btrim(p_value)::macaddr::text;
    exception when data_exception then
      null;
    end;
  end if;
  return v;
end
$$;

comment on function retention_internal._subject_forms(text) is
  'Internal. Spellings under which a subject id may equal another in some column type (as given, without trailing blanks, lower case, a canonical number, a canonical uuid): for judging archived values whose column type is no longer known; two ids may be one subject when their sets overlap.';

-- The SQL of _subject_value(p_expr, p_type) and of _subject_forms(p_expr), for the
-- statements that compare every open hold with a batch's rows (_subject_held_sql): they
-- run once per batch over every hold, and a PL/pgSQL call per hold made a batch under a
-- few hundred holds several times slower. The common spellings are written inline (digits
-- for an integer or number column, any text for a text column; an id with a character no
-- number, uuid or address has, an e-mail address say, for the forms), with the same result
-- as the functions (test/subject-values.test.ts compares them); anything else calls them.
create or replace function retention_internal._subject_value_sql(p_expr text, p_type text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select case p_type
           when 'smallint' then format('case when %1$s ~ ''^[+-]?[0-9]{1,4}$'' then (%1$s)::pg_catalog.int2::text else retention_internal._subject_value(%1$s, %2$L) end', p_expr, p_type)
           when 'integer' then format('case when %1$s ~ ''^[+-]?[0-9]{1,9}$'' then (%1$s)::pg_catalog.int4::text else retention_internal._subject_value(%1$s, %2$L) end', p_expr, p_type)
           when 'bigint' then format('case when %1$s ~ ''^[+-]?[0-9]{1,18}$'' then (%1$s)::pg_catalog.int8::text else retention_internal._subject_value(%1$s, %2$L) end', p_expr, p_type)
           when 'numeric' then format('case when %1$s ~ ''^[+-]?[0-9]{1,18}$'' then (%1$s)::pg_catalog.numeric::text else retention_internal._subject_value(%1$s, %2$L) end', p_expr, p_type)
           when 'text' then format('(%s)::pg_catalog.text', p_expr)
           else format('retention_internal._subject_value(%s, %L)', p_expr, p_type) end
$$;
comment on function retention_internal._subject_value_sql(text, text) is
  'Internal. SQL giving _subject_value(p_expr, p_type), inline for digits in an integer or numeric column and for a text column.';

create or replace function retention_internal._subject_forms_sql(p_expr text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select format('case when %1$s is not null and pg_catalog.btrim(%1$s) ~ ''[^0-9a-fA-F:.+{}/-]''
                      then array[%1$s, pg_catalog.rtrim(%1$s), pg_catalog.lower(pg_catalog.rtrim(%1$s)),
                                 pg_catalog.lower(pg_catalog.btrim(%1$s, E'' \t\r\n''))]
                           || case when pg_catalog.getdatabaseencoding() = ''UTF8''
                                   then array[pg_catalog.lower(pg_catalog.normalize(pg_catalog.rtrim(%1$s), ''NFC''))] else ''{}''::text[] end
                      else retention_internal._subject_forms(%1$s) end', p_expr)
$$;
comment on function retention_internal._subject_forms_sql(text) is
  'Internal. SQL giving _subject_forms(p_expr), inline for an id with a character no number, uuid or network address has.';
