-- Whether a policy archives what it removes: its archive setting, or, left NULL, whether
-- approval is required of a policy that deletes rows.
create or replace function retention_internal._archives(p retention.policies)
returns boolean
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select coalesce(p.archive, p.approval = 'required' and p.action in ('delete', 'purge_soft_deleted'))
$$;
comment on function retention_internal._archives(retention.policies) is
  'Internal. Whether the policy copies the rows it removes to retention.archived_rows (archive, or NULL and approval required on a deleting policy).';

-- The tables whose foreign keys a row of p_rel can be the referenced row of: the table,
-- every partitioned table above it, and for a partitioned table every partition below it
-- (a foreign key may reference one partition directly). Not an inheritance parent: a
-- key naming it covers the parent's own rows only, as a DELETE ONLY would.
create or replace function retention_internal._referenced_as(p_rel regclass)
returns regclass[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select array[p_rel]
         || coalesce(array(select t.relid from pg_catalog.pg_partition_ancestors(p_rel) t where t.relid <> p_rel), '{}')
         || coalesce(array(select t.relid from pg_catalog.pg_partition_tree(p_rel) t where t.relid <> p_rel), '{}')
$$;
comment on function retention_internal._referenced_as(regclass) is
  'Internal. The table, the tables above it and the partitions below it: what a foreign key referencing one of its rows may name.';

-- The columns an UPDATE that sets p_changed of a row of p_rel may change: those, the
-- stored generated columns (computed from any of them), and every column where a BEFORE
-- UPDATE row trigger is enabled on the table or a partition of it (a trigger may change
-- any column: tsvector_update_trigger, a built-in the planner check lets run, recomputes
-- its column from others; round atk93 F1). NULL for NULL (a delete).
create or replace function retention_internal._update_changes(p_rel regclass, p_changed name[])
returns name[]
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select case when p_changed is null then null
              when exists (select from pg_catalog.pg_trigger g
                            where (g.tgrelid = p_rel or g.tgrelid in (select t.relid from pg_catalog.pg_partition_tree(p_rel) t))
                              and not g.tgisinternal and g.tgenabled <> 'D'
                              and (g.tgtype & 1) <> 0 and (g.tgtype & 2) <> 0 and (g.tgtype & 16) <> 0)
              then array(select a.attname from pg_catalog.pg_attribute a
                          where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped)
              else p_changed || array(select a.attname from pg_catalog.pg_attribute a
                                       where a.attrelid = p_rel and a.attgenerated = 's' and not a.attisdropped) end
$$;
comment on function retention_internal._update_changes(regclass, name[]) is
  'Internal. The columns an UPDATE setting the given ones may change: those and the stored generated columns, or every column where a BEFORE UPDATE row trigger is enabled on the table or its partitions; NULL for NULL.';

-- The tables a delete from p_rel reaches through foreign keys, at any depth, as a tree: n
-- numbers the nodes (a node's children have larger numbers), parent is the node whose
-- rows the foreign key references (0: p_rel), fk and ref the column lists, referenced the
-- table the key names (when it is a partition below the parent's table, only rows in it
-- are referenced). action: 'delete' (ON DELETE CASCADE: removed), 'set_null',
-- 'set_default' (ON DELETE: key columns changed), and below a changed node, through keys
-- on the changed columns declared ON UPDATE, 'update_cascade', 'update_set_null',
-- 'update_set_default' (changed in turn). A self-reference or a cycle is reported with
-- cycle = true and not followed, nor is anything deeper than 8. With p_changed, the rows
-- of p_rel are changed, not removed: the tree starts at the ON UPDATE keys on those
-- columns (and on the columns _update_changes counts with them): what a soft delete's or
-- a scrub's update reaches.
drop function if exists retention_internal._cascade_tree_json(regclass);
drop function if exists retention_internal._cascade_tree(regclass);
drop function if exists retention_internal._check_cascade_keys(regclass, jsonb);
create or replace function retention_internal._cascade_tree(p_rel regclass, p_changed name[] default null)
returns table (n integer, parent integer, rel regclass, fk name[], ref name[], action text, depth integer,
               cycle boolean, referenced regclass)
language plpgsql
-- A realistic row estimate (the planner's default is 1,000: docs/development.md).
rows 10
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_stack  jsonb := jsonb_build_array(jsonb_build_object(
                      'n', 0, 'rel', p_rel::oid, 'depth', 0,
                      'changed', retention_internal._update_changes(p_rel, p_changed),
                      'path', jsonb_build_array(p_rel::oid)));
  v_top    jsonb;
  v_next   integer := 0;
  v_changed name[];
  v_refs   regclass[];
  c        record;
begin
  while jsonb_array_length(v_stack) > 0 loop
    v_top := v_stack -> -1;
    v_stack := v_stack - (-1);
    v_changed := case when v_top -> 'changed' <> 'null' then array(select jsonb_array_elements_text(v_top -> 'changed'))::name[] end;
    v_refs := retention_internal._referenced_as((v_top ->> 'rel')::oid::regclass);  -- once, not per catalog row
    for c in
      select x.oid, x.conrelid::regclass as child, x.confrelid::regclass as confrel,
             case when v_changed is null then x.confdeltype else x.confupdtype end as act,
             (select array_agg(a.attname order by k.o) from unnest(x.conkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = x.conrelid and a.attnum = k.att) as fk,
             (select array_agg(a.attname order by k.o) from unnest(x.confkey) with ordinality k(att, o)
                join pg_catalog.pg_attribute a on a.attrelid = x.confrelid and a.attnum = k.att) as ref
        from pg_catalog.pg_constraint x
       where x.contype = 'f' and x.conparentid = 0
         and x.confrelid = any (v_refs)
         and case when v_changed is null then x.confdeltype in ('c', 'n', 'd')
                  else x.confupdtype in ('c', 'n', 'd')
                       and exists (select from unnest(x.confkey) k(att)
                                     join pg_catalog.pg_attribute a on a.attrelid = x.confrelid and a.attnum = k.att
                                    where a.attname = any (v_changed)) end
       order by x.conname desc
    loop
      v_next := v_next + 1;
      n := v_next;
      parent := (v_top ->> 'n')::int;
      rel := c.child;
      fk := c.fk;
      ref := c.ref;
      referenced := c.confrel;
      action := case when v_changed is null then '' else 'update_' end
                || case c.act when 'c' then case when v_changed is null then 'delete' else 'cascade' end
                              when 'n' then 'set_null' else 'set_default' end;
      depth := (v_top ->> 'depth')::int + 1;
      cycle := (v_top -> 'path') @> to_jsonb(c.child::oid) or depth > 8;
      return next;
      if not cycle then
        -- A removed row sets off its own ON DELETE keys; a changed one the ON UPDATE keys on
        -- the columns that changed: its foreign key's columns, the stored generated columns
        -- computed from them, and any column a BEFORE UPDATE trigger may change (round
        -- atk93 F1, F2: _update_changes).
        v_stack := v_stack || jsonb_build_object('n', n, 'rel', c.child::oid, 'depth', depth,
                                                 'changed', case when action = 'delete' then null
                                                                 else to_jsonb(retention_internal._update_changes(c.child, c.fk)) end,
                                                 'path', (v_top -> 'path') || to_jsonb(c.child::oid));
      end if;
    end loop;
  end loop;
end
$$;
comment on function retention_internal._cascade_tree(regclass, name[]) is
  'Internal. Every table a delete from the table (or, with p_changed, a change of those columns) reaches through foreign-key actions (ON DELETE CASCADE / SET NULL / SET DEFAULT, then ON UPDATE actions on the changed keys), as a tree; cycles are flagged, not followed.';

-- _cascade_tree as one value (a jsonb array of its nodes), so that a batch walks the
-- catalog once and hands the tree to each check and statement builder (_tree_nodes reads
-- it back).
create or replace function retention_internal._cascade_tree_json(p_rel regclass, p_changed name[] default null)
returns jsonb
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(jsonb_agg(jsonb_build_object('n', t.n, 'parent', t.parent, 'rel', t.rel::oid, 'fk', t.fk, 'ref', t.ref,
                                               'action', t.action, 'depth', t.depth, 'cycle', t.cycle,
                                               'referenced', t.referenced::oid) order by t.n), '[]')
    from retention_internal._cascade_tree(p_rel, p_changed) t
$$;
comment on function retention_internal._cascade_tree_json(regclass, name[]) is
  'Internal. retention_internal._cascade_tree(p_rel, p_changed) as a jsonb array of its nodes (read back with _tree_nodes).';

create or replace function retention_internal._tree_nodes(p_tree jsonb)
returns table (n integer, parent integer, rel regclass, fk name[], ref name[], action text, depth integer,
               cycle boolean, referenced regclass)
language sql
-- A realistic row estimate (the planner's default is 1,000: docs/development.md).
rows 10
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select (e ->> 'n')::int, (e ->> 'parent')::int, (e ->> 'rel')::oid::regclass,
         array(select jsonb_array_elements_text(e -> 'fk'))::name[], array(select jsonb_array_elements_text(e -> 'ref'))::name[],
         e ->> 'action', (e ->> 'depth')::int, (e ->> 'cycle')::boolean, (e ->> 'referenced')::oid::regclass
    from jsonb_array_elements(p_tree) e
$$;
comment on function retention_internal._tree_nodes(jsonb) is
  'Internal. The nodes of a cascade tree given by _cascade_tree_json, as _cascade_tree returns them.';

-- Archiving copies whole rows, as JSON, of the table and of every table its delete
-- cascades into, in the statement that deletes them. Refused (RT033) where that copy could
-- be incomplete or run another role's code: a cascade that loops back (a self-reference,
-- a cycle) or goes deeper than 8 tables, and a column type with a cast to json or text
-- another role defined (to_jsonb would call it as the retention owner). p_partitioned: a
-- drop_partitions policy (partitions are copied whole; only their own columns count).
-- p_tree: the table's _cascade_tree as _cascade_tree_json gives it, when the caller has it.
create or replace function retention_internal._check_archivable(p_rel regclass, p_partitioned boolean default false,
                                                       p_tree jsonb default null)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bad  text;
  v_rels regclass[] := array[p_rel];
  v_tree jsonb;
begin
  if not p_partitioned then
    v_tree := coalesce(p_tree, retention_internal._cascade_tree_json(p_rel));
    select format('%s references %s through %s', t.rel, t.referenced, array_to_string(t.fk, ', '))
      into v_bad
      from retention_internal._tree_nodes(v_tree) t
     where t.cycle and t.action = 'delete'
     limit 1;
    if v_bad is not null then
      raise exception 'cannot archive %: its delete cascades around a loop or deeper than 8 tables (%)', p_rel, v_bad
        using errcode = 'RT033',
              hint = 'Archiving copies every row a delete removes, and follows ON DELETE CASCADE only along a tree. Delete the looping rows by their own policy first, or archive without that cascade (ON DELETE RESTRICT).';
    end if;
    v_rels := v_rels || array(select t.rel from retention_internal._tree_nodes(v_tree) t where t.action = 'delete');
  end if;
  -- Each column type once (a batch runs this check every time); as in _foreign_code,
  -- only types created after initdb can have another role's cast.
  select format('%s.%I: %s', a.attrelid::regclass, a.attname, f.line)
    into v_bad
    from (select distinct x.atttypid from pg_catalog.pg_attribute x
           where x.attrelid = any (v_rels) and x.attnum > 0 and not x.attisdropped and x.atttypid >= 16384) t
   cross join lateral (select retention_internal._foreign_cast(t.atttypid) as line) f
    join pg_catalog.pg_attribute a on a.atttypid = t.atttypid and a.attrelid = any (v_rels) and a.attnum > 0 and not a.attisdropped
   where f.line is not null
   limit 1;
  if v_bad is not null then
    raise exception 'cannot archive %: copying a row would run another role''s cast (%)', p_rel, v_bad
      using errcode = 'RT025',
            hint = 'Archives are made as the retention owner. Have the owner (or a superuser) own that cast''s function, or drop the cast.';
  end if;
end
$$;
comment on function retention_internal._check_archivable(regclass, boolean, jsonb) is
  'Internal. RT033 when a delete from the table cascades around a loop (archives follow a tree of at most 8 levels); RT025 when copying its rows (or its cascade''s) as JSON would call another role''s cast.';

-- Rows a trigger deletes are neither frozen in a proposal nor copied to the archive: an
-- approval-gated or archiving policy refuses a table (or a table its delete cascades
-- into) with an enabled DELETE trigger of its own (RT033). Checked when the policy is set
-- and again in every batch (a trigger may come later).
create or replace function retention_internal._check_delete_triggers(p_rel regclass, p_tree jsonb default null)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bad  text;
  v_tree jsonb := coalesce(p_tree, retention_internal._cascade_tree_json(p_rel));
  v_del  oid[];  -- tables (and their partitions) the delete removes rows from
  v_chg  oid[];  -- tables (and their partitions) whose rows a key action changes
begin
  select coalesce(array_agg(l.relid::oid) filter (where t.action = 'delete'), '{}'),
         coalesce(array_agg(l.relid::oid) filter (where t.action <> 'delete'), '{}')
    into v_del, v_chg
    from retention_internal._tree_nodes(v_tree) t
   cross join lateral (select t.rel as relid union select x.relid from pg_catalog.pg_partition_tree(t.rel) x) l;
  -- DELETE triggers on the table, the tables above it, and every table (with the
  -- partitions below it) the delete cascades into; UPDATE triggers on every table (and
  -- partition) whose rows a key action changes: such a trigger may delete rows too.
  select format('trigger %I on %s', g.tgname, g.tgrelid::regclass) into v_bad
    from pg_catalog.pg_trigger g
   where not g.tgisinternal and g.tgenabled <> 'D'
     -- An object column's triggers only queue object references (set_object_column).
     and g.tgfoid <> 'retention.object_column_trigger()'::regprocedure
     and (((g.tgtype & 8) <> 0
           and g.tgrelid = any (array[p_rel::oid]
                                || array(select a.relid::oid from pg_catalog.pg_partition_ancestors(p_rel) a)
                                || v_del))
          or ((g.tgtype & 16) <> 0 and g.tgrelid = any (v_chg)))
   limit 1;
  if v_bad is not null then
    raise exception 'cannot archive or gate deletes from %: % fires on the delete or its key actions and may remove rows nobody approved or copied', p_rel, v_bad
      using errcode = 'RT033',
            hint = 'Archives and proposals follow foreign keys, not triggers. Replace the trigger by a foreign key with ON DELETE CASCADE, disable it for these deletes, or leave archive and approval off.';
  end if;
end
$$;
-- A key action that sets a default can point a row at another row the same statement
-- deletes (its cascade then takes the row, unseen by the copies and the proposal); a key
-- whose columns have another type than the columns it references is compared by the
-- cascade in the referenced type (char(n): trailing blanks do not count) and by the
-- engine's statements in its own (refused where that can differ: blank-padded
-- characters, types created after initdb); a SET NULL or ON UPDATE action on a column a
-- table is partitioned by moves the row between partitions, which deletes it from the
-- first one, where keys naming that partition cascade unseen; a key whose referenced
-- columns are unique under an operator class other than their type's default
-- (record_image_ops) is compared by the cascade with that class's equality and by the
-- engine with `=`. All refused (RT033) for archiving and approval-gated policies, for any
-- delete while a table or subject hold is open, and for a policy's delete whose reach has
-- a key action that may move rows between partitions (_batch, _mover_tables).
create or replace function retention_internal._check_cascade_keys(p_rel regclass, p_tree jsonb default null,
                                                                  p_change text default 'delete from')
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bad text;
begin
  select format('%s (%s) references %s (%s)%s', t.rel, array_to_string(t.fk, ', '), t.referenced, array_to_string(t.ref, ', '),
                case when t.action in ('set_default', 'update_set_default') then ' with a SET DEFAULT action'
                     when t.action <> 'delete' then ', and the key action changes a partition key (moving the row deletes it from its partition)'
                     else ' in another type' end)
    into v_bad
    from retention_internal._tree_nodes(coalesce(p_tree, retention_internal._cascade_tree_json(p_rel))) t
   where not t.cycle
     and (t.action in ('set_default', 'update_set_default')
          -- A key action that changes a column the table (or a table above or below it)
          -- is partitioned by moves the row to another partition: PostgreSQL deletes it
          -- from the first, and keys naming that partition cascade unseen.
          or (t.action <> 'delete'
              and exists (select from pg_catalog.pg_partitioned_table pt
                           where pt.partrelid in (select t.rel union select a.relid from pg_catalog.pg_partition_ancestors(t.rel) a
                                                  union select x.relid from pg_catalog.pg_partition_tree(t.rel) x)
                             and (0 = any (pt.partattrs::int2[])
                                  or exists (select from pg_catalog.pg_attribute a
                                              where a.attrelid = pt.partrelid and a.attnum = any (pt.partattrs::int2[])
                                                and a.attname = any (t.fk)))))
          or exists (select from unnest(t.fk, t.ref) k(f, r)
                      cross join lateral (
                        select (select a.atttypid from pg_catalog.pg_attribute a where a.attrelid = t.rel and a.attname = k.f) as ft,
                               (select a.atttypid from pg_catalog.pg_attribute a where a.attrelid = t.referenced and a.attname = k.r) as rt) y
                      cross join lateral (select retention_internal._base_type(y.ft, -1) as fb, retention_internal._base_type(y.rt, -1) as rb
                                           where y.ft is distinct from y.rt) z
                      -- Equality that differs from the referenced type's: blank-padded
                      -- characters, or a type created after initdb on either side.
                     where z.fb is distinct from z.rb
                       and (z.fb in ('character', 'bpchar') or z.rb in ('character', 'bpchar')
                            or y.ft >= 16384 or y.rt >= 16384)))
   limit 1;
  if v_bad is null then
    -- A key whose referenced columns are unique under an operator class other than their
    -- type's default (record_image_ops, or a class of another role's): the cascade
    -- compares with that class's equality, the engine's SQL with the type's `=`, and the
    -- two can disagree (1.0 and 1.00 are `=` but not `*=`).
    select format('%s (%s) references %s (%s) compared by operator %s, not its type''s default equality',
                  t.rel, array_to_string(t.fk, ', '), t.referenced, array_to_string(t.ref, ', '), e.op::regoperator)
      into v_bad
      from retention_internal._tree_nodes(coalesce(p_tree, retention_internal._cascade_tree_json(p_rel))) t
      join pg_catalog.pg_constraint x
        on x.contype = 'f' and x.conparentid = 0 and x.conrelid = t.rel and x.confrelid = t.referenced
       and array(select a.attname from unnest(x.conkey) with ordinality k(att, o)
                   join pg_catalog.pg_attribute a on a.attrelid = x.conrelid and a.attnum = k.att order by k.o) = t.fk
      cross join lateral unnest(x.conppeqop) e(op)
      join pg_catalog.pg_operator o on o.oid = e.op
     where not t.cycle
       and not e.op = any (array(select m.amopopr
                                   from pg_catalog.pg_opclass d
                                   join pg_catalog.pg_amop m on m.amopfamily = d.opcfamily and m.amopstrategy = 3
                                                            and m.amoplefttype = d.opcintype and m.amoprighttype = d.opcintype
                                  where d.opcmethod = (select a.oid from pg_catalog.pg_am a where a.amname = 'btree')
                                    and d.opcdefault and d.opcintype = o.oprleft))
     limit 1;
  end if;
  if v_bad is not null then
    raise exception 'cannot follow the % % safely: %', p_change, p_rel, v_bad
      using errcode = 'RT033',
            hint = 'Give the key the referenced columns'' type and an action of CASCADE or RESTRICT (SET NULL only where no partition key uses the column), or partition that table by other columns.';
  end if;
end
$$;
comment on function retention_internal._check_cascade_keys(regclass, jsonb, text) is
  'Internal. RT033 when a foreign key a delete from the table (or the change p_change names, with the tree p_tree) follows has a SET DEFAULT action, columns of another type than those it references, an action that changes a partition key, or referenced columns unique under a non-default operator class.';

-- The columns a soft delete's or a scrub's update changes: the scrubbed columns and the
-- scrubbed-at column, or the deleted-at column (NULL for an action that removes rows).
-- Stored generated columns computed from them change too: _held_sql and _cascade_tree
-- count those themselves.
create or replace function retention_internal._changed_columns(p_pol retention.policies)
returns name[]
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select case p_pol.action
           when 'scrub' then array(select k::name from pg_catalog.jsonb_object_keys(p_pol.scrub_columns) k)
                             || p_pol.scrubbed_at_column
           when 'soft_delete' then array[p_pol.deleted_at_column] end
$$;
comment on function retention_internal._changed_columns(retention.policies) is
  'Internal. The columns a soft delete (its deleted-at column) or a scrub (its scrubbed and scrubbed-at columns) changes; NULL for an action that removes rows.';

-- A soft delete or a scrub changes rows in place, and the hold check for an update follows
-- the ON UPDATE actions of keys on the changed columns. Where a change moves a row to
-- another partition, PostgreSQL deletes it from the first one, and keys naming that
-- partition take their ON DELETE action unseen (round atk91 F1: a held row went, the run
-- ended completed). Refused (RT033) while a table or subject hold is open, by the rules
-- of _check_cascade_keys for a delete:
--   - what the ON UPDATE keys on the changed columns (and on stored generated ones)
--     reach (_cascade_tree with p_changed);
--   - what the delete of a scrub's revoke tables' rows reaches.
-- The policy's own rows never move: a row policy's table is an ordinary table, and an
-- UPDATE of a partition itself fails on its partition constraint rather than move a row.
-- A scrubbed column that a foreign key references is refused when the policy is set
-- (RT019, _validate_scrub); a key added since is refused here, in every batch
-- (_check_scrub_referenced), holds or not.
create or replace function retention_internal._check_update_keys(p_pol retention.policies)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel regclass;
begin
  perform retention_internal._check_cascade_keys(p_pol.target,
            retention_internal._cascade_tree_json(p_pol.target, retention_internal._changed_columns(p_pol)),
            case p_pol.action when 'scrub' then 'scrub of' else 'soft delete of' end);
  foreach v_rel in array coalesce(p_pol.revoke_tables, '{}') loop
    perform retention_internal._check_cascade_keys(v_rel);
  end loop;
end
$$;
comment on function retention_internal._check_update_keys(retention.policies) is
  'Internal. RT033 when the ON UPDATE keys on the columns a soft delete or a scrub changes (or the delete of a scrub''s revoke tables'' rows) reach a key _check_cascade_keys refuses: an action that moves a row between partitions, among others.';

-- A scrubbed column that a foreign key references (email as a key's target): rewriting it
-- would break the references, or rewrite them too through ON UPDATE CASCADE. Checked for
-- each column when a scrub is set (_validate_scrub), and for the policy's columns in every
-- scrub batch: a key added since the policy was set is refused too (RT019).
create or replace function retention_internal._check_scrub_referenced(p_target regclass, p_columns name[])
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_ref text;
begin
  select format('column %s cannot be scrubbed: %s (%s) references it by foreign key', quote_ident(a.attname), c.conrelid::regclass, c.conname)
    into v_ref
    from pg_catalog.pg_constraint c
    join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = any (c.confkey)
   where c.contype = 'f' and c.conparentid = 0
     and c.confrelid = any (retention_internal._referenced_as(p_target))
     and a.attname = any (p_columns)
   order by c.conrelid::regclass::text, c.conname
   limit 1;
  if v_ref is not null then
    raise exception '%', v_ref
      using errcode = 'RT019', hint = 'Rows elsewhere would lose (or, with ON UPDATE CASCADE, rewrite) their reference; point the foreign key at the primary key instead, or scrub the column in the referencing table too.';
  end if;
end
$$;
comment on function retention_internal._check_scrub_referenced(regclass, name[]) is
  'Internal. RT019 when a foreign key references one of the columns of the table (or of a table above or below it in its partition tree) a scrub changes.';

comment on function retention_internal._check_delete_triggers(regclass, jsonb) is
  'Internal. RT033 when the table, a partitioned table above it or a table (or partition) its delete cascades into has an enabled DELETE trigger, or a table a key action changes has an UPDATE trigger (rows it removes would be neither approved nor archived).';
