-- Where an erasure plan would collide with a foreign key, found before anything changes.
-- For each step that deletes rows, every foreign key into its table is looked at:
--  * NO ACTION / RESTRICT: rows of the referencing table that point at the rows to be
--    deleted and that stay — their table is kept or scrubbed, is not in the plan, or is
--    deleted under another condition (a second path through the graph) — would make the
--    delete fail;
--  * CASCADE: rows of a table the plan keeps or scrubs would be deleted with them, or rows
--    outside the plan's condition for that table (a self-reference, a cycle: other people);
--  * SET NULL / SET DEFAULT: the database handles it, no warning.
-- p_plan is _erasure_steps as a jsonb array (step, target, rule, cond). Counts are exact.
create or replace function retention_internal._erasure_conflicts(p_plan jsonb)
returns table (step integer, warning text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  s       record;
  c       record;
  v_child record;
  l       record;
  v_n     bigint;
  v_msg   text;
begin
  -- Steps a plan cannot carry out faithfully yet, whatever their rule: a partitioned table
  -- (its rows are in its partitions, which the steps do not reach; issue 16), and a scrub
  -- of a column another table's foreign key references (its rows would change or break).
  for s in select * from jsonb_to_recordset(p_plan) as x(step int, target text, rule text, cond text, scrub jsonb)
            order by x.step loop
    v_msg := null;
    if (select pc.relkind from pg_catalog.pg_class pc where pc.oid = s.target::regclass) = 'p' then
      v_msg := 'a partitioned table: erasure steps act on its partitions, not on it';
    end if;
    -- A partition of a partitioned table one of whose partitions is not an ordinary table
    -- (a foreign table): the person's rows there cannot be erased from here.
    select concat_ws('; ', v_msg, string_agg(format('partition %s of %s is a %s: the person''s rows there cannot be erased from here',
                                                    k.oid::regclass, pg_catalog.pg_partition_root(s.target::regclass),
                                                    case k.relkind when 'f' then 'foreign table' else 'table of another kind' end), '; '))
      into v_msg
      from pg_catalog.pg_partition_tree(pg_catalog.pg_partition_root(s.target::regclass)) t
      join pg_catalog.pg_class k on k.oid = t.relid
     where t.isleaf and k.relkind <> 'r';
    -- A table that inherits from it and is not an ordinary table (a foreign table): the
    -- person's rows there cannot be erased from here either.
    select concat_ws('; ', v_msg, string_agg(format('%s inherits from %s and is a %s: the person''s rows there cannot be erased from here',
                                                    k.oid::regclass, s.target,
                                                    case k.relkind when 'f' then 'foreign table' else 'table of another kind' end), '; '))
      into v_msg
      from unnest(retention_internal._inheritance_children(s.target::regclass)) x
      join pg_catalog.pg_class k on k.oid = x
     where k.relkind <> 'r';
    if s.rule = 'scrub' then
      select concat_ws('; ', v_msg, string_agg(format('scrubbing %s would change rows of %s through %s', a.attname,
                                                       fk.conrelid::regclass, fk.conname), '; ' order by fk.conname))
        into v_msg
        from pg_catalog.pg_constraint fk
        cross join unnest(fk.confkey) k(att)
        join pg_catalog.pg_attribute a on a.attrelid = fk.confrelid and a.attnum = k.att
       where fk.contype = 'f' and fk.confrelid = any (retention_internal._referenced_as(s.target::regclass)) and fk.conparentid = 0
         and a.attname in (select jsonb_object_keys(coalesce(s.scrub, '{}')));
    end if;
    if v_msg is not null and v_msg <> '' then
      step := s.step; warning := v_msg;
      return next;
    end if;
  end loop;
  for s in select * from jsonb_to_recordset(p_plan) as x(step int, depth int, target text, rule text, cond text)
            where x.rule = 'delete' order by x.step loop
    v_msg := null;
    for c in
      select con.conname, con.conrelid::regclass as rel, con.confdeltype,
             (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
                from unnest(con.conkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.att) as fk,
             (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
                from unnest(con.confkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.att) as pk
        from pg_catalog.pg_constraint con
       where con.contype = 'f' and con.confrelid = any (retention_internal._referenced_as(to_regclass(s.target))) and con.conparentid = 0
         and con.confdeltype in ('a', 'r', 'c', 'n', 'd')
       order by con.conrelid::regclass::text, con.conname
    loop
     -- Each table the key applies to: the table, or each partition of it (a keep rule on
     -- one partition, a step another partition lacks, count per partition).
     for l in select x.leaf from (select t.relid::regclass as leaf from pg_catalog.pg_partition_tree(c.rel) t where t.isleaf
                                  union select c.rel where pg_catalog.pg_partition_root(c.rel) is null) x
               where (select k.relkind from pg_catalog.pg_class k where k.oid = x.leaf) = 'r'
               order by x.leaf::text loop
      select x.rule, x.cond into v_child
        from jsonb_to_recordset(p_plan) as x(target text, rule text, cond text)
       where x.target = retention.qualified_name(l.leaf);
      if c.confdeltype in ('n', 'd') then
        -- SET NULL / SET DEFAULT: rows outside that table's own step (a manager's reports,
        -- through a self-reference) would be changed: other people's rows.
        execute format('select count(*) from only %s t where (%s) in (select %s from only %s t where %s) and not coalesce((%s), false)',
                       l.leaf, c.fk, c.pk, s.target, s.cond, coalesce(v_child.cond, 'false'))
          into v_n;
        if v_n > 0 then
          v_msg := concat_ws('; ', v_msg, format(
            'deleting these rows would set %s in %s other row(s) of %s outside the plan (%s)%s',
            replace(c.fk, 't.', ''), v_n, retention.qualified_name(l.leaf), c.conname,
            case when v_child.rule is null and s.depth >= 10
                 then ': they are more than ten keys away from the person''s row, where the plan stops; remove them (or their key to these) first, or end the chain sooner with a scrub or keep rule on a table nearer the person' else '' end));
        end if;
        v_child := null;
        continue;
      end if;
      if c.confdeltype = 'c' and coalesce(v_child.rule, 'delete') = 'delete' then
        -- Rows the cascade reaches outside that table's own step (a self-reference such as
        -- a manager's reports, or a cycle, or a partition the plan leaves out): other
        -- people's rows, which an erasure never takes along. The plan says so and
        -- processing refuses.
        execute format('select count(*) from only %s t where (%s) in (select %s from only %s t where %s) and not coalesce((%s), false)',
                       l.leaf, c.fk, c.pk, s.target, s.cond, coalesce(v_child.cond, 'false'))
          into v_n;
        if v_n > 0 then
          v_msg := concat_ws('; ', v_msg, format(
            'deleting these rows would cascade through %s to %s other row(s) of %s outside the plan, and on to the rows those reach (a self-reference, a cycle, or a partition whose key names something else)',
            c.conname, v_n, retention.qualified_name(l.leaf)));
        end if;
        v_child := null;
        continue;
      end if;
      execute format('select count(*) from only %s t where (%s) in (select %s from only %s t where %s)%s',
                     l.leaf, c.fk, c.pk, s.target, s.cond,
                     case when c.confdeltype <> 'c' and v_child.rule = 'delete'
                          then format(' and not coalesce((%s), false)', v_child.cond) else '' end)
        into v_n;
      continue when v_n = 0;
      v_msg := concat_ws('; ', v_msg, case
        when c.confdeltype = 'c' then
          format('deleting these rows would cascade to %s row(s) of %s, which the plan %s (%s)',
                 v_n, retention.qualified_name(l.leaf), case v_child.rule when 'keep' then 'keeps' else 'scrubs' end, c.conname)
        when v_child.rule is null and s.depth >= 10 then
          -- The walk stops ten keys away from the person's row: no rule reaches further.
          format('%s row(s) of %s still reference these rows through %s, more than ten keys away from the person''s row, where the plan stops: the delete would fail; remove those rows (or their key to these) first, or end the chain sooner with a scrub or keep rule on a table nearer the person',
                 v_n, retention.qualified_name(l.leaf), c.conname)
        else
          format('%s row(s) of %s %s still reference these rows through %s: the delete would fail',
                 v_n, retention.qualified_name(l.leaf),
                 case v_child.rule when 'keep' then 'that are kept' when 'scrub' then 'that are scrubbed'
                                   when 'delete' then 'outside the plan''s condition for that table'
                                   else 'not in the plan' end, c.conname) end);
      v_child := null;
     end loop;
    end loop;
    if v_msg is not null then
      step := s.step; warning := v_msg;
      return next;
    end if;
  end loop;
end
$$;
comment on function retention_internal._erasure_conflicts(jsonb) is
  'Internal. The steps of an erasure plan (jsonb of _erasure_steps) whose deletes a foreign key would refuse or cascade into kept or scrubbed rows, with the reason.';

-- Whether a type (through its domains) is a string type (text, varchar, char, citext): a
-- key of such a type is usually a natural one, an e-mail address or a user name.
create or replace function retention_internal._text_like(p_type oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce((select t.typcategory = 'S' from pg_catalog.pg_type t where t.oid = retention_internal._domain_base(p_type)), false)
$$;
comment on function retention_internal._text_like(oid) is
  'Internal. Whether a type, its domains resolved, is a string type.';

-- Scrub steps that would leave the person's key in the rows they scrub: a scrub changes
-- the columns its map names and keeps the row, and a key column cannot be scrubbed (the
-- rows referencing it would break, or change with it). Where the key is text (an e-mail
-- address, a user name: the person, not a number standing for them) it stays readable:
--  * a string column of the step's table (not in its scrub map) that holds the request's
--    key when that key is text: the subject table's own key, a referencing key, a subject
--    column, a copy — unless it is a key to rows the plan deletes (the delete clears it, or
--    _erasure_conflicts reports the conflict);
--  * a key of the step's table to a string column of a table the plan scrubs (mails.to_email
--    referencing users.email when users is scrubbed): the person's address, whatever the
--    request's key.
-- Whether such a key is the person (an address) or a code standing for them (cust-7731, a
-- UUID kept as text) only the schema's owner knows, so this does not refuse: erasure_plan
-- lists each as a gap with the fix (delete those rows, or key the table by a surrogate
-- id), open_erasure records the columns in the plan (kept_key), and the step's evidence
-- says that the key stayed there. p_plan as _erasure_conflicts'.
create or replace function retention_internal._kept_keys(p_plan jsonb, p_subject_table regclass, p_subject_id text)
returns table (step integer, cols text, warning text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  s      record;
  c      record;
  v_text boolean;
  v_cols text[];
  v_hit  boolean;
begin
  if p_subject_id is null then
    return;
  end if;
  v_text := retention_internal._text_like((select y.key_type::regtype::oid from retention_internal._single_key(p_subject_table) y));
  for s in select * from jsonb_to_recordset(p_plan) as x(step int, target text, rule text, cond text, scrub jsonb)
            where x.rule = 'scrub' and x.cond is not null and to_regclass(x.target) is not null order by x.step loop
    v_cols := '{}';
    -- Columns holding the request's text key.
    for c in
      select a.attname
        from pg_catalog.pg_attribute a
       where v_text and a.attrelid = to_regclass(s.target) and a.attnum > 0 and not a.attisdropped
         and retention_internal._text_like(a.atttypid)
         and not a.attname::text in (select jsonb_object_keys(coalesce(s.scrub, '{}')))
         -- A key to rows the plan deletes: cleared by the delete (SET NULL, SET DEFAULT), or
         -- a conflict _erasure_conflicts reports (the delete would fail or cascade).
         and not exists (select from pg_catalog.pg_constraint f
                           join jsonb_to_recordset(p_plan) as p(target text, rule text) on p.rule = 'delete'
                            and f.confrelid = any (retention_internal._referenced_as(to_regclass(p.target)))
                          where f.contype = 'f' and f.conrelid = a.attrelid and a.attnum = any (f.conkey))
       order by a.attnum
    loop
      execute format('select exists (select from only %s t where (%s) and t.%I::text = $1)', s.target, s.cond, c.attname)
        into v_hit using p_subject_id;
      if v_hit then
        v_cols := v_cols || c.attname::text;
      end if;
    end loop;
    -- Keys to a string column of a table the plan scrubs, from rows of the step.
    for c in
      select f.conname,
             (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
                from unnest(f.conkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.att) as fk,
             (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
                from unnest(f.confkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.att) as pk,
             p.target as ref, p.cond as ref_cond
        from pg_catalog.pg_constraint f
        join jsonb_to_recordset(p_plan) as p(target text, rule text, cond text)
          on p.rule = 'scrub' and p.cond is not null and f.confrelid = any (retention_internal._referenced_as(to_regclass(p.target)))
       where f.contype = 'f' and f.conrelid = to_regclass(s.target)
         and exists (select from pg_catalog.pg_attribute a
                      where a.attrelid = f.confrelid and a.attnum = any (f.confkey) and retention_internal._text_like(a.atttypid))
       order by f.conname
    loop
      execute format('select exists (select from only %s t where (%s) and (%s) in (select %s from only %s t where %s))',
                     s.target, s.cond, c.fk, c.pk, c.ref, c.ref_cond)
        into v_hit;
      if v_hit then
        v_cols := v_cols || replace(c.fk, 't.', '');
      end if;
    end loop;
    if cardinality(v_cols) > 0 then
      step := s.step;
      cols := (select string_agg(distinct x, ', ') from unnest(v_cols) x);
      warning := format('scrubbing leaves the person''s key in %s (%s): a key cannot be scrubbed, and processing completes with it there (its evidence says so); if it names the person (an e-mail address, not a code), delete these rows (retention.set_erasure_rule(%L, ''delete'')), or key the table by a surrogate id',
                        s.target, cols, s.target);
      return next;
    end if;
  end loop;
end
$$;
comment on function retention_internal._kept_keys(jsonb, regclass, text) is
  'Internal. Scrub steps of an erasure plan whose rows would keep the person''s text key (an e-mail address) in a key column: the columns and a warning (erasure_plan lists them; the step''s evidence says the key stayed).';
