-- What an erasure request would do, derived from the foreign-key graph: the subject's own
-- row (depth 0), the rows of tables that hold its key in a subject column without a
-- foreign key (depth 1: an erasure rule's p_subject_column, a policy's subject column;
-- _subject_locations), then the rows of every table that references it, then the rows that
-- reference those, and so on (breadth first, each table once, at most 10 levels; a table
-- reached by several paths before its turn takes the rows of all of them). Each
-- table's rule comes from erasure_rules (the table's, else the default, else 'delete'),
-- with where it came from. The walk does not go past a table whose rows are kept: rows
-- referencing kept rows stay with them. Rows are counted now; nothing is changed.
create or replace function retention_internal._erasure_steps(p_request bigint)
returns table (
  step        integer,
  depth       integer,
  target      text,
  via         text,
  rule        text,
  rule_source text,
  reason      text,
  scrub       jsonb,
  rows        bigint,
  cond        text
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_req retention.erasure_requests;
begin
  select * into v_req from retention.erasure_requests r where r.request_id = p_request;
  if not found then
    raise exception 'erasure request % does not exist', p_request
      using errcode = 'RT031', hint = 'SELECT request_id, status FROM retention.erasure_requests lists them.';
  end if;
  if v_req.subject_id is null then
    raise exception 'erasure request % is %: its subject is no longer known', p_request, v_req.status
      using errcode = 'RT031', hint = 'A completed request keeps only the subject''s token (subject_hash), which names nobody any more; its evidence says what was done.';
  end if;
  return query select * from retention_internal._subject_steps(v_req.subject_table, v_req.subject_id);
end
$$;
comment on function retention_internal._erasure_steps(bigint) is
  'Internal. erasure_plan with each step''s row condition (SQL over alias t), for process_erasure.';

-- The steps of _erasure_steps for a subject given by table and key (the key as the
-- column reads it): what an erasure of them would touch, and what a subject export
-- (export_subject) returns.
create or replace function retention_internal._subject_steps(p_subject_table regclass, p_subject_id text)
returns table (
  step        integer,
  depth       integer,
  target      text,
  via         text,
  rule        text,
  rule_source text,
  reason      text,
  scrub       jsonb,
  rows        bigint,
  cond        text
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_req     record;
  v_pk      text;
  v_type    text;
  v_queue   jsonb;
  v_item    jsonb;
  v_seen    oid[];
  v_rel     regclass;
  v_cond    text;
  v_rule    retention.erasure_rules;
  v_child   record;
  v_add     jsonb;
  v_new     jsonb;
  v_i       int := 0;
  v_j       int;
begin
  select p_subject_table as subject_table, p_subject_id as subject_id into v_req;
  select k.key_column, k.key_type into v_pk, v_type from retention_internal._single_key(v_req.subject_table) k;
  -- The subject's own row (depth 0; in each partition of a partitioned subject table).
  v_queue := '[]';
  v_seen := '{}';
  -- Tables that hold the key without a foreign key, next to the subject's row (depth 1):
  -- the column an erasure rule names for this subject table, and every policy's subject
  -- column that can hold the key (_subject_locations).
  perform retention_internal._check_subject_rules(v_req.subject_table);
  v_add := jsonb_build_array(jsonb_build_object(
               'depth', 0, 'rel', v_req.subject_table::oid, 'via', null,
               'cond', format('t.%I::%s = %L::%s', v_pk, v_type, v_req.subject_id, v_type),
               -- A partition's own key is unique only within it: that partition alone.
               'exact', (select k.relispartition from pg_catalog.pg_class k where k.oid = v_req.subject_table)))
           || coalesce((select jsonb_agg(jsonb_build_object('depth', 1, 'rel', x.rel::oid, 'via', x.via, 'cond', x.cond,
                                                            'cols', to_jsonb(x.cols), 'ref', v_req.subject_table::oid))
                          from retention_internal._subject_locations(v_req.subject_table, v_req.subject_id) x
                         where not x.rel::oid = any (retention_internal._family(v_req.subject_table))), '[]');
  loop
    -- Enqueue what was found (v_add): a partitioned table (or a partition a key names)
    -- as each of its leaf partitions, with the same condition (their columns are the
    -- table's), so that every partition's rows are reached whichever partitions carry
    -- the key — except a partition whose columns of that key reference another table
    -- (there they name something else: _erasure_leaves); a table already seen and still
    -- waiting takes the rows of both paths (a
    -- diamond: cards from the person and from their accounts; a table reached by a key
    -- and by a subject column); one already done is not revisited (_erasure_conflicts
    -- warns about rows left).
    for v_new in
      select jsonb_build_object('depth', (a.e ->> 'depth')::int, 'rel', l.leaf::oid, 'via', a.e ->> 'via', 'cond', a.e ->> 'cond')
        from jsonb_array_elements(v_add) with ordinality a(e, o)
        cross join lateral retention_internal._erasure_leaves((a.e ->> 'rel')::oid::regclass,
                                                     case when a.e ? 'cols' then array(select jsonb_array_elements_text(a.e -> 'cols'))::name[] end,
                                                     (a.e ->> 'ref')::oid::regclass,
                                                     coalesce((a.e ->> 'exact')::boolean, false)) l(leaf)
       order by a.o, l.leaf::text
    loop
      if not (v_new ->> 'rel')::oid = any (v_seen) then
        v_seen := v_seen || (v_new ->> 'rel')::oid;
        v_queue := v_queue || v_new;
        continue;
      end if;
      select e.o - 1 into v_j
        from jsonb_array_elements(v_queue) with ordinality e(x, o)
       where (e.x ->> 'rel')::oid = (v_new ->> 'rel')::oid and e.o - 1 >= v_i;
      if v_j is not null and not (v_queue -> v_j ->> 'cond') = (v_new ->> 'cond') then
        v_queue := jsonb_set(jsonb_set(v_queue, array[v_j::text, 'cond'],
                               to_jsonb(format('(%s or %s)', v_queue -> v_j ->> 'cond', v_new ->> 'cond'))),
                             array[v_j::text, 'via'],
                             to_jsonb(concat_ws(', ', v_queue -> v_j ->> 'via', v_new ->> 'via')));
      end if;
      v_j := null;
    end loop;
    exit when v_i >= jsonb_array_length(v_queue);
    v_item := v_queue -> v_i;
    v_i := v_i + 1;
    v_add := '[]';
    v_rel := (v_item ->> 'rel')::oid::regclass;
    v_cond := v_item ->> 'cond';
    -- The table's own rule, else the rule of the nearest table above it (a partitioned
    -- table, or a parent it INHERITS from), else the default, else delete.
    select r.* into v_rule
      from retention.erasure_rules r
      join unnest(retention_internal._rel_and_parents(v_rel)) with ordinality u(rel, o)
        on r.target = u.rel
     order by u.o
     limit 1;
    rule_source := 'table';
    if not found then
      select * into v_rule from retention.erasure_rules r where r.target is null;
      rule_source := case when found then 'default' else 'system' end;
    end if;
    step := v_i; depth := (v_item ->> 'depth')::int; target := retention.qualified_name(v_rel);
    via := v_item ->> 'via';
    rule := coalesce(v_rule.rule, 'delete'); reason := v_rule.reason; scrub := v_rule.scrub_columns;
    perform retention_internal._check_planner_code(v_rel);
    -- Its condition compares the keys it was reached by: not through another role's cast
    -- (RT025; round atk113 F8).
    perform retention_internal._check_key_casts(array(select a::oid from unnest(retention_internal._rel_and_ancestors(v_rel)) a));
    -- Counted by its name: the lock above waited for it, and the application may have put
    -- a view under the name meanwhile (its query would run as the owner: round atk119 F1).
    -- Locked by name, found by it again, still a table without code a read would run
    -- (_erasure_read_check, a volatile function: it reads the catalog as it is after the
    -- wait, not as this function's snapshot has it).
    if retention_internal._erasure_read_check(null, target, rule) is distinct from v_rel then
      raise exception 'cannot read %: the table was renamed or replaced while this waited for it', target
        using errcode = 'RT025',
              hint = 'pg-retention reads the table as its owner: make it the table again, then try again.';
    end if;
    execute format('select count(*) from only %s t where %s', target, v_cond) into rows;
    cond := v_cond;
    return next;
    v_rule := null;
    continue when rule = 'keep' or depth >= 10;
    -- Tables referencing this one: rows whose foreign key points at the rows above. A key
    -- may name this table, a partitioned table above it or a partition below it
    -- (_referenced_as); one declared on a partition stands for its partitioned table.
    for v_child in
      select c.conrelid::regclass as rel,
             array_agg(distinct a2.attname) as cols,
             '(' || string_agg(distinct format('(%s) in (select %s from only %s t where %s)',
                               (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
                                  from unnest(c.conkey) with ordinality k(att, o)
                                  join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.att),
                               (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
                                  from unnest(c.confkey) with ordinality k(att, o)
                                  join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.att),
                               target, v_cond), ' or ') || ')' as cond,
             -- Distinct: the join gives a composite key once per column.
             string_agg(distinct c.conname::text, ', ') as via
        from pg_catalog.pg_constraint c
        join pg_catalog.pg_attribute a2 on a2.attrelid = c.conrelid and a2.attnum = any (c.conkey)
       where c.contype = 'f' and c.confrelid = any (retention_internal._referenced_as(v_rel)) and c.conparentid = 0
         -- Not a key within the table's own partitioned table (a self-reference: other
         -- people's rows; _erasure_conflicts says so).
         and not c.conrelid = any (retention_internal._family(v_rel))
       group by c.conrelid
       order by c.conrelid::regclass::text
    loop
      v_add := v_add || jsonb_build_object('depth', depth + 1, 'rel', v_child.rel::oid, 'via', v_child.via, 'cond', v_child.cond,
                                           'cols', to_jsonb(v_child.cols), 'ref', v_rel::oid);
    end loop;
  end loop;
end
$$;
comment on function retention_internal._subject_steps(regclass, text) is
  'Internal. The steps of an erasure of the subject (table, key): each table''s rule and the condition selecting the subject''s rows (_erasure_steps, export_subject).';

-- The column names a table's key is held under elsewhere, from its name alone: <table>_id
-- and <table in the singular>_id, the singular by the English rules a schema's names
-- follow: a final s dropped (users: user_id), -ies to -y (companies: company_id), -ses,
-- -xes, -ches, -shes without the -es (addresses: address_id, boxes: box_id), people to
-- person (person_id). The plain forms stay candidates too (companie_id, addresse_id):
-- which one a schema uses is not known, and a candidate no column has costs nothing.
-- The one rule for _subject_key_names, _key_name_elsewhere and _subject_orphans.
create or replace function retention_internal._table_key_names(p_relname name)
returns text[]
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select array(select distinct x from unnest(array[
    p_relname || '_id',
    regexp_replace(p_relname, 's$', '') || '_id',
    regexp_replace(p_relname, 'ies$', 'y') || '_id',
    regexp_replace(p_relname, '(s|x|ch|sh)es$', '\1') || '_id',
    regexp_replace(p_relname, 'people$', 'person') || '_id']) x order by x)
$$;
comment on function retention_internal._table_key_names(name) is
  'Internal. The column names that hold a table''s key elsewhere by its name: <table>_id and its singular forms (users: user_id; companies: company_id; addresses: address_id; people: person_id), the plain ones kept.';

-- The names under which other tables hold a key of p_subject_table: the columns of
-- single-column foreign keys that reference it, and <table>_id and <table in the
-- singular>_id (_table_key_names: users_id, user_id).
create or replace function retention_internal._subject_key_names(p_subject_table regclass)
returns text[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select array(
    select a.attname::text
      from pg_catalog.pg_constraint k
      join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
     where k.contype = 'f' and k.confrelid = p_subject_table and cardinality(k.conkey) = 1
    union
    select unnest(retention_internal._table_key_names(c.relname)) from pg_catalog.pg_class c where c.oid = p_subject_table)
$$;
comment on function retention_internal._subject_key_names(regclass) is
  'Internal. Column names that hold a key of the table elsewhere: those of foreign keys referencing it, <table>_id, <singular>_id (_table_key_names).';

-- Whether a table other than p_subject_table (and its partitions), in schema p_nsp or in
-- any schema when NULL, could own a column named p_name too: a table named for it
-- (<table>_id, <table in the singular>_id), or a single-column foreign key so named that
-- references it. Then a column of that name names the people of whichever table it is
-- about, and its name alone does not say which (tenant_a.users and tenant_b.users).
create or replace function retention_internal._key_name_elsewhere(p_subject_table regclass, p_name name, p_nsp oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select exists (
           select from pg_catalog.pg_class c
            where c.relkind in ('r', 'p') and not c.relispartition
              and not c.oid = any (retention_internal._family(p_subject_table))
              and (p_nsp is null or c.relnamespace = p_nsp)
              and p_name::text = any (retention_internal._table_key_names(c.relname))
              and not retention_internal._system_namespace(c.relnamespace))
      or exists (
           select from pg_catalog.pg_constraint k
             join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
             join pg_catalog.pg_class c on c.oid = k.confrelid
            where k.contype = 'f' and k.conparentid = 0 and cardinality(k.conkey) = 1 and a.attname = p_name
              and not k.confrelid = any (retention_internal._family(p_subject_table))
              and (p_nsp is null or c.relnamespace = p_nsp)
              and not retention_internal._system_namespace(c.relnamespace))
$$;
comment on function retention_internal._key_name_elsewhere(regclass, name, oid) is
  'Internal. Whether another table (in the given schema, or anywhere) has a column name among its key names too (a table named for it, or a foreign key so named): a policy''s subject column of that name is then not taken for the subject table''s people by its name alone.';

-- The tables that hold the key of a row of p_subject_table without a foreign key to it,
-- each once, with the condition (over alias t) that selects the rows holding p_key and
-- where it came from (via):
--  * an erasure rule's subject column for that subject table;
--  * a policy's subject column that names this subject table's people: named like a
--    column that references the subject table through a foreign key (user_id, when
--    sessions.user_id references auth.users), or <table>_id, <table in the singular>_id
--    (_subject_key_names); that can hold the key (_same_key_type); that is not its
--    table's own primary key (then the rows are subjects of their own kind: device 81 is
--    not user 81); that has no single-column foreign key to another table (a column
--    that references the tenants names a tenant; one that references the subject table
--    is reached through the key anyway); and whose name no other table could own as well
--    (_key_name_elsewhere): in the subject table's schema, none there; in another schema,
--    none anywhere. A policy says a column names a person, not which table's: an erasure
--    of a customer must not take a user's logs, nor one of tenant_a.users' user 7 the logs
--    of tenant_b.users' user 7. A column left out so is listed by erasure_plan as a gap
--    (an erasure rule's subject column decides).
-- Not the subject table itself, not a table that no longer exists (a partitioned table
-- is one location: _erasure_steps acts on each of its partitions). The key is compared as
-- _key_match_sql says (without the column's modifier, text byte for byte; an integer key
-- in a text column an erasure rule names as its canonical digits); a key the type cannot
-- hold selects nothing. An erasure rule whose column is gone or
-- no longer fits is an error (_check_subject_rules), not a silent omission.
create or replace function retention_internal._subject_locations(p_subject_table regclass, p_key text)
returns table (rel regclass, cond text, via text, cols name[])
language sql
-- A realistic row estimate (the planner's default is 1,000: docs/development.md).
rows 10
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with cand as (
    select r.target as rel, r.subject_column as col, format('erasure rule: column %I', r.subject_column) as via,
           true as by_rule
      from retention.erasure_rules r
     where r.subject_table = p_subject_table and r.subject_column is not null
    union
    select p.target, p.subject_column, format('subject column %I of policy %s', p.subject_column, p.name), false
      from retention.policies p
     where p.subject_column is not null
       and p.subject_column::text = any (retention_internal._subject_key_names(p_subject_table))
       and p.subject_column is distinct from (select y.key_column from retention_internal._single_key(p.target) y)
       and not exists (select from pg_catalog.pg_constraint k
                         join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
                        where k.contype = 'f' and k.conrelid = p.target and a.attname = p.subject_column)
       and case when (select k.relnamespace from pg_catalog.pg_class k where k.oid = p.target)
                     = (select k.relnamespace from pg_catalog.pg_class k where k.oid = p_subject_table)
                then not retention_internal._key_name_elsewhere(p_subject_table, p.subject_column,
                       (select k.relnamespace from pg_catalog.pg_class k where k.oid = p_subject_table))
                else not retention_internal._key_name_elsewhere(p_subject_table, p.subject_column, null) end
  ),
  -- The key as its type's canonical text: a text column an erasure rule names holds an
  -- integer key as '7' (_text_holds_key), whatever spelling the request used.
  skey as (
    select y.key_type::regtype::oid as typ, coalesce(retention_internal._subject_value(p_key, y.key_type), p_key) as val
      from retention_internal._single_key(p_subject_table) y
  ),
  typed as (
    select c.rel, c.col, c.via, retention_internal._key_cond_sql(c.col, a.atttypid, (select x.typ from skey x), (select x.val from skey x)) as cond
      from cand c
      join pg_catalog.pg_class k on k.oid = c.rel and k.relkind in ('r', 'p')
      join pg_catalog.pg_attribute a on a.attrelid = c.rel and a.attname = c.col and a.attnum > 0 and not a.attisdropped
     where c.rel <> p_subject_table
       and (retention_internal._same_key_type(a.atttypid, (select x.typ from skey x))
            or (c.by_rule and retention_internal._text_holds_key(a.atttypid, (select x.typ from skey x))))
  ),
  conds as (select t.rel, t.col, t.via, t.cond from typed t where t.cond is not null)
  select c.rel, '(' || string_agg(distinct c.cond, ' or ') || ')', string_agg(distinct c.via, ', '), array_agg(distinct c.col)
    from conds c
   group by c.rel
   order by c.rel::text
$$;
comment on function retention_internal._subject_locations(regclass, text) is
  'Internal. Tables holding the key of a subject table''s row in a subject column without a foreign key (erasure rules'' p_subject_column for that table; policies'' subject columns named like its keys), with the condition selecting the key''s rows and the columns: where an erasure reaches beyond foreign keys.';

-- An erasure rule that names a subject column for p_subject_table but no longer can (its
-- table or column dropped, renamed or retyped since): RT002, so
-- that a request does not complete with the rows the rule was meant for left in place.
create or replace function retention_internal._check_subject_rules(p_subject_table regclass)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bad record;
begin
  select retention.qualified_name(r.target) as tbl, r.subject_column as col into v_bad
    from retention.erasure_rules r
   where r.subject_table = p_subject_table and r.subject_column is not null
     and not exists (select from pg_catalog.pg_attribute a
                       join pg_catalog.pg_class k on k.oid = a.attrelid and k.relkind in ('r', 'p')
                      where a.attrelid = r.target and a.attname = r.subject_column and a.attnum > 0 and not a.attisdropped
                        and (retention_internal._same_key_type(a.atttypid,
                               (select y.key_type::regtype::oid from retention_internal._single_key(p_subject_table) y))
                             or retention_internal._text_holds_key(a.atttypid,
                               (select y.key_type::regtype::oid from retention_internal._single_key(p_subject_table) y))))
   limit 1;
  if found then
    raise exception 'erasure rule on %: column % no longer holds a key of %', coalesce(v_bad.tbl, '(a dropped table)'),
          quote_ident(v_bad.col), retention.qualified_name(p_subject_table)
      using errcode = 'RT002',
            hint = 'Its column was renamed, dropped or retyped: set the rule again with the column''s new name (retention.set_erasure_rule), or drop the rule.';
  end if;
end
$$;
comment on function retention_internal._check_subject_rules(regclass) is
  'Internal. RT002 when an erasure rule names a subject column for the subject table that is gone or no longer fits (renamed, dropped, retyped).';

-- The tables an erasure step acts on for p_rel: itself when it is an ordinary table (and
-- every table that inherits from it, INHERITS, at any level), or
-- with p_exact a partition taken alone (a subject table that is a partition: its key is
-- unique only within it); otherwise, for a partitioned table or a partition of one, every
-- leaf partition of the partitioned table at the top (a key declared on one partition
-- reaches the person's rows in all of them: the plan treats the partitioned table as
-- one). With p_cols (the columns that hold the key) and p_ref (the table whose rows they
-- name), a leaf is left out where its key columns have foreign keys but none to p_ref (or
-- a table above it): there they name something else — a tenant, or another partition's
-- rows. Leaves that are not ordinary tables (foreign tables) are not listed; when they
-- are all there is, the partitioned table itself is (a step the plan refuses).
create or replace function retention_internal._erasure_leaves(p_rel regclass, p_cols name[] default null, p_ref regclass default null,
                                                     p_exact boolean default false)
returns setof regclass
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  with leaves as (
    select t.relid::regclass as leaf
      from pg_catalog.pg_partition_tree(coalesce(pg_catalog.pg_partition_root(p_rel), p_rel)) t
     where t.isleaf and not p_exact and (select k.relkind from pg_catalog.pg_class k where k.oid = t.relid) = 'r'
    union
    select p_rel
     where (pg_catalog.pg_partition_root(p_rel) is null or p_exact)
       and (select k.relkind from pg_catalog.pg_class k where k.oid = p_rel) = 'r'
    union
    -- Tables that INHERIT from it (not partitions), at any level: a query of the table
    -- reads their rows as its own, the application's too.
    select x::regclass
      from unnest(retention_internal._inheritance_children(p_rel)) x
     where (select k.relkind from pg_catalog.pg_class k where k.oid = x) = 'r'),
  fks as (
    -- The foreign keys on each leaf (declared on it or on a table above it) that touch
    -- the key's columns: whether all their columns are key columns and they name p_ref.
    select l.leaf, f.oid,
           (select bool_and(a.attname = any (p_cols)) from pg_catalog.pg_attribute a
             where a.attrelid = f.conrelid and a.attnum = any (f.conkey)) as within,
           f.confrelid = any (retention_internal._referenced_as(p_ref)::oid[]) as names_ref
      from leaves l
      join pg_catalog.pg_constraint f on f.contype = 'f'
       and f.conrelid in (select y.relid from pg_catalog.pg_partition_ancestors(l.leaf) y
                          union select l.leaf::oid)
     where p_cols is not null
       and exists (select from pg_catalog.pg_attribute a
                    where a.attrelid = f.conrelid and a.attnum = any (f.conkey) and a.attname = any (p_cols)))
  , chosen as (
    select l.leaf
      from leaves l
     where p_cols is null
        or not exists (select from fks k where k.leaf = l.leaf)
        or exists (select from fks k where k.leaf = l.leaf and k.within and k.names_ref))
  select c.leaf from chosen c
  union all
  -- None to act on, but partitions that are not ordinary tables (foreign tables): the
  -- partitioned table itself, so that the plan refuses it (_erasure_conflicts) instead of
  -- passing over the person's rows there.
  select coalesce(pg_catalog.pg_partition_root(p_rel), p_rel)
   where not p_exact and not exists (select from chosen)
     and exists (select from pg_catalog.pg_partition_tree(coalesce(pg_catalog.pg_partition_root(p_rel), p_rel)) t
                   join pg_catalog.pg_class k on k.oid = t.relid
                  where t.isleaf and k.relkind <> 'r')
$$;
comment on function retention_internal._erasure_leaves(regclass, name[], regclass, boolean) is
  'Internal. The ordinary tables an erasure step on the table acts on: the table (or, p_exact, the partition alone), or every leaf partition of its partitioned table but those whose key columns reference only tables other than p_ref.';
