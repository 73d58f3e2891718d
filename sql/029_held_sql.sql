-- The one definition of "the open holds covering this row", as SQL over a row alias, for
-- every statement that removes or changes rows (batches, counts, previews, partition
-- drops, erasure steps). A row is held when an open hold (_open_holds) covers
--  * its table, or a partitioned table it belongs to (a hold on the parent covers every
--    partition; a hold on a partition covers the rows in it), or the policy acting;
--  * a subject named by one of its subject columns (_subject_columns), compared in the
--    column's type (_subject_value); in a text column, also as the canonical text of an
--    integer or a number ('042' holds '42', as an erasure takes it); or a subject whose
--    row it reaches up a chain of foreign keys, as an erasure of them would take it
--    (_subject_held_sql);
--  * when the statement removes the row (p_removes): any row the removal reaches through
--    foreign keys declared ON DELETE CASCADE, SET NULL or SET DEFAULT, at any depth (keys
--    that name the table, a table above it, or a partition below it: _referenced_as) —
--    those rows are removed or changed by the same statement, so a held one keeps the row
--    that reaches it (_held_refs_sql);
--  * when it changes columns of the row (p_changes: a scrub's columns; the key columns a
--    SET NULL sets): any row reached through foreign keys on those columns declared ON
--    UPDATE CASCADE, SET NULL or SET DEFAULT, at any depth.
-- p_skip_con: a self-reference the caller follows itself, or the key by which the caller
-- came to these rows (a subject hold's check does not go back up it).
-- The whole condition is gated by "is any hold open at all", which PostgreSQL evaluates
-- once per statement: without holds it costs nothing per row.
-- Whether no legal hold is open and none can open before this transaction ends: the
-- transaction holds the holds lock (place_hold and a direct write of legal_holds wait for
-- it: _lock_holds_exclusive) and no hold is open now. Then
-- "the open holds covering this row" is false for every row until the commit, and a
-- batch's statement needs no hold condition at all (most batches: holds are rare).
create or replace function retention_internal._no_hold_until_commit()
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  return exists (select from pg_catalog.pg_locks l
                  where l.locktype = 'relation' and l.pid = pg_catalog.pg_backend_pid() and l.granted
                    and l.database = (select d.oid from pg_catalog.pg_database d where d.datname = pg_catalog.current_database())
                    and l.relation = 'retention_internal.holds_gate'::regclass
                    and l.mode in ('AccessShareLock', 'AccessExclusiveLock'))
     and not exists (select from retention_internal._open_holds);
end
$$;
comment on function retention_internal._no_hold_until_commit() is
  'Internal. True when this transaction holds the holds lock (so no hold can be placed, re-opened or written before it commits) and no hold is open: no row is held until the commit.';

create or replace function retention_internal._held_sql(
  p_rel      regclass,
  p_alias    text,
  p_policy   text,
  p_removes  boolean,
  p_depth    integer default 0,
  p_path     oid[] default '{}',
  p_skip_con oid default null,
  p_changes  name[] default null
)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_parts  text[];
  v_refs   regclass[] := retention_internal._referenced_as(p_rel);  -- once, not per catalog row
  v_con    oid;
  v_sql    text;
begin
  -- No hold open, and none can open before the commit: no row is held (the statement
  -- would find so row by row; a batch takes the holds lock first).
  if p_depth = 0 and retention_internal._no_hold_until_commit() then
    return 'false';
  end if;
  -- Holds on the table, a partitioned table above it, a partition its row lies in, the policy.
  v_parts := array[retention_internal._hold_scope_sql(p_rel, p_alias, p_policy)];
  -- Stored generated columns may be computed from changed ones, and a BEFORE UPDATE
  -- trigger may change any column (round atk93 F1): count them as changed
  -- (_update_changes).
  if not p_removes and cardinality(p_changes) > 0 then
    p_changes := retention_internal._update_changes(p_rel, p_changes);
  end if;
  -- Holds on a person the row belongs to: in its subject columns, or up the foreign keys
  -- to a row of theirs (_subject_held_sql), only while a subject hold is open.
  v_sql := (retention_internal._subject_held_sql(p_rel, p_alias, p_skip_con => p_skip_con)).sql;
  if v_sql <> 'false' then
    v_parts := v_parts || ('(exists (select from retention_internal._open_holds h where h.scope = ''subject'') and ' || v_sql || ')');
  end if;
  -- Rows its removal, or the change of its columns, reaches through foreign keys.
  for v_con in
    select c.oid from pg_catalog.pg_constraint c
     where c.contype = 'f' and c.conparentid = 0
       and c.confrelid = any (v_refs)
       and (c.oid is distinct from p_skip_con or c.conrelid <> c.confrelid)
       and ((p_removes and c.confdeltype in ('c', 'n', 'd'))
            or (not p_removes and c.confupdtype in ('c', 'n', 'd')
                and exists (select from unnest(c.confkey) k(att)
                              join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.att
                             where a.attname = any (coalesce(p_changes, '{}')))))
     order by c.conname
  loop
    v_sql := retention_internal._held_refs_sql(v_con, p_alias, p_depth + 1, p_path || p_rel::oid,
                                      case when p_removes then 'delete' else 'update' end);
    if v_sql <> 'false' then
      v_parts := v_parts || v_sql;
    end if;
  end loop;
  v_sql := '(' || array_to_string(v_parts, ' or ') || ')';
  if p_depth = 0 then
    v_sql := '(exists (select from retention_internal._open_holds) and ' || v_sql || ')';
  end if;
  return v_sql;
end
$$;
comment on function retention_internal._held_sql(regclass, text, text, boolean, integer, oid[], oid, name[]) is
  'Internal. SQL over a row alias: true when an open hold covers the row (its table or partitions, the policy, a subject in its subject columns) or a row its removal (ON DELETE) or the change of its columns (ON UPDATE) reaches through CASCADE / SET NULL / SET DEFAULT.';

-- Whether a row (p_alias) reaches a held row through one foreign key (p_con) that
-- references its table: the referencing rows, held by _held_sql (and, for CASCADE, by
-- what their own removal reaches). A self-reference with CASCADE (a manager's reports, a
-- thread's replies) is followed to any depth by a recursive query over the rows it
-- reaches. A longer cycle of tables, or a chain deeper than 8, is judged conservatively:
-- the row is held when any row references it while any hold is open.
create or replace function retention_internal._held_refs_sql(
  p_con    oid,
  p_alias  text,
  p_depth  integer,
  p_path   oid[],
  p_action text default 'delete'
)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  c        record;
  v_tbl    text;
  v_scan   text;
  v_a      text := 'c' || p_depth;
  v_fk     name[];
  v_ref    name[];
begin
  -- What the statement does to the referencing rows: 'delete' follows ON DELETE, 'update'
  -- ON UPDATE, 'remove' says they are deleted outright (a scrub's revoke tables). CASCADE
  -- on delete removes them; anything else changes their key columns.
  select x.conrelid::regclass as child, x.confrelid, x.conrelid = x.confrelid as self,
         case p_action when 'remove' then true when 'delete' then x.confdeltype = 'c' else false end as removes
    into c from pg_catalog.pg_constraint x where x.oid = p_con;
  v_tbl := format('%I.%I', (select n.nspname from pg_catalog.pg_class r join pg_catalog.pg_namespace n on n.oid = r.relnamespace where r.oid = c.child),
                  (select r.relname from pg_catalog.pg_class r where r.oid = c.child));
  -- Read ONLY for an ordinary table (_reach_scan): the key is its own, not its inheritance
  -- children's (a foreign table there would be read as the owner).
  v_scan := retention_internal._reach_scan(c.child);
  -- Row-level security would hide rows of that table from this check while the foreign
  -- key's action, run as its owner, still reaches them: refuse rather than guess.
  if pg_catalog.row_security_active(c.child) then
    raise exception 'the hold check cannot see every row of % (row-level security applies to %)', v_tbl, current_user
      using errcode = 'RT023',
            hint = format('Rows of %s are deleted or changed through a foreign key when rows of the policy''s table go: run the policy as a role that bypasses its row security (BYPASSRLS, or its owner without FORCE ROW LEVEL SECURITY).', v_tbl);
  end if;
  -- Columns by name: the referencing table's, and the referenced one's (p_alias may be a
  -- partition of the referenced table, with other attribute numbers).
  select array_agg(a.attname order by k.o) into v_fk
    from pg_catalog.pg_constraint x cross join unnest(x.conkey) with ordinality k(att, o)
    join pg_catalog.pg_attribute a on a.attrelid = x.conrelid and a.attnum = k.att
   where x.oid = p_con;
  select array_agg(a.attname order by k.o) into v_ref
    from pg_catalog.pg_constraint x cross join unnest(x.confkey) with ordinality k(att, o)
    join pg_catalog.pg_attribute a on a.attrelid = x.confrelid and a.attnum = k.att
   where x.oid = p_con;

  if c.self and c.removes then
    -- Every row the self-reference reaches, to any depth; then whether any of them is
    -- held (their other references included, this one excepted: the recursion has it).
    return format(
      'exists (with recursive r%1$s(tbl, tid) as (
                 select x.tableoid, x.ctid from %2$s x where (%3$s) = (%4$s)
                 union
                 select x.tableoid, x.ctid from r%1$s join %2$s y on y.tableoid = r%1$s.tbl and y.ctid = r%1$s.tid
                   join %2$s x on (%3$s) = (%5$s))
               select from r%1$s join %2$s %6$s on %6$s.tableoid = r%1$s.tbl and %6$s.ctid = r%1$s.tid where %7$s)',
      p_depth, v_scan, retention_internal._column_list('x', v_fk), retention_internal._column_list(p_alias, v_ref),
      retention_internal._column_list('y', v_ref), v_a,
      retention_internal._held_sql(c.child, v_a, null, true, p_depth, p_path || c.child::oid, p_con));
  end if;
  if c.self and not c.removes and v_fk && v_ref then
    -- A self-reference whose changed key is also what it references: changes chain on
    -- through the table; judged conservatively.
    return format('exists (select from %s %s where (%s) = (%s))', v_scan, v_a,
                  retention_internal._column_list(v_a, v_fk), retention_internal._column_list(p_alias, v_ref));
  end if;
  if not c.self and (c.child::oid = any (p_path) or p_depth > 8) then
    -- A cycle through other tables, or too deep to spell out: held if anything is reached.
    return format('exists (select from %s %s where (%s) = (%s))', v_scan, v_a,
                  retention_internal._column_list(v_a, v_fk), retention_internal._column_list(p_alias, v_ref));
  end if;
  -- p_con as the key to skip: the child's rows are not the table's rows (it is no
  -- self-reference here), and the subject hold check need not go back up it to p_alias.
  return format('exists (select from %s %s where (%s) = (%s) and %s)', v_scan, v_a,
                retention_internal._column_list(v_a, v_fk), retention_internal._column_list(p_alias, v_ref),
                retention_internal._held_sql(c.child, v_a, null, c.removes and not c.self, p_depth, p_path,
                                    p_con, case when not c.removes then v_fk end));
end
$$;
comment on function retention_internal._held_refs_sql(oid, text, integer, oid[], text) is
  'Internal. SQL: whether rows referencing p_alias through one foreign key are held (or reach held rows), self-references followed recursively.';

-- The part of the hold rule that covers whole relations: an open hold on the table or a
-- partitioned table above it, on the partition a row of p_alias lies in (when p_rel is
-- partitioned and an alias is given), or on the policy. SQL, true or false.
create or replace function retention_internal._hold_scope_sql(p_rel regclass, p_alias text, p_policy text)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_part  boolean := p_alias is not null and (select c.relkind from pg_catalog.pg_class c where c.oid = p_rel) = 'p';
  v_moved text := '';
begin
  -- A partition below it that was below another table before (moved here since: round
  -- atk88 F3): its rows are held by holds on the tables it was below, not the others'.
  -- Looked for only when some table is under another parent than one recorded for it
  -- (PL/pgSQL keeps these plans).
  if v_part and exists (select from retention_internal.past_parents pp
                          join pg_catalog.pg_inherits i on i.inhrelid = pp.rel
                         where i.inhparent <> pp.parent) then
    v_moved := coalesce((
      select string_agg(format(' or (%s.tableoid = any (%L::oid[]) and h.held_oids && %L::oid[])',
                               p_alias, retention_internal._tree_oids(m.rel::regclass), m.former), '')
        from (select t.rel, array(select x from unnest(retention_internal._hold_ancestors(t.rel::regclass)) x
                                   where x <> all (retention_internal._tree_oids(t.rel::regclass))
                                     and x not in (select a.relid from pg_catalog.pg_partition_ancestors(t.rel::regclass) a)
                                     and x <> all (retention_internal._hold_ancestors(p_rel))) as former
                from unnest(retention_internal._tree_oids(p_rel)) t(rel)
               where exists (select from retention_internal.past_parents pp
                               join pg_catalog.pg_inherits i on i.inhrelid = pp.rel
                              where pp.rel = t.rel and i.inhparent <> pp.parent)) m
       where m.former <> '{}'), '');
  end if;
  return format(
    'exists (select from retention_internal._open_holds h where (h.scope = ''table'' and (h.held_oids && %L::oid[]%s%s))%s)',
    retention_internal._hold_ancestors(p_rel),
    case when v_part
         then format(' or h.held_oids && array(select a.relid::oid from pg_catalog.pg_partition_ancestors(%s.tableoid) a)', p_alias)
         else '' end,
    v_moved,
    case when p_policy is not null then format(' or (h.scope = ''policy'' and h.policy_name = %L)', p_policy) else '' end);
end
$$;
comment on function retention_internal._hold_scope_sql(regclass, text, text) is
  'Internal. SQL: whether an open hold covers a relation as a whole (the table, a partitioned table above it, the row''s partition, or the policy).';

-- "a.x, a.y" for columns x, y of alias a, quoted as identifiers.
create or replace function retention_internal._column_list(p_alias text, p_columns name[])
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$ select string_agg(format('%s.%I', p_alias, c), ', ' order by o) from unnest(p_columns) with ordinality u(c, o) $$;
comment on function retention_internal._column_list(text, name[]) is
  'Internal. A quoted column list over an alias, for dynamic SQL.';

-- Whether an open table hold names the partition or a table below it (a hold on an empty
-- sub-partition keeps it though no row shows it).
create or replace function retention_internal._tree_held(p_part regclass)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  -- A table below it, or a table any of those was below before (a held partition moved
  -- here from another partitioned table: round atk88 F3c).
  select exists (select from retention_internal._open_holds h
                  where h.scope = 'table'
                    and h.held_oids && array(select distinct a
                                               from unnest(retention_internal._tree_oids(p_part)) t(rel)
                                              cross join unnest(retention_internal._hold_ancestors(t.rel::regclass)) a))
$$;
comment on function retention_internal._tree_held(regclass) is
  'Internal. Whether an open table hold names the partition, a table below it, or a table above any of those now or before (past_parents).';
