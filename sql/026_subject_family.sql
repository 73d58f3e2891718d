-- A subject column declared on a partition or inheritance child names a subject in its
-- whole family (_own_subject_columns). The tables above the declaring table are kept with
-- the policy or rule (subject_family), so that coverage outlives the table: a partition
-- dropped by drop_partitions or by the application no longer takes its siblings' subject
-- holds with it (round atk44). The record only grows while the column stays the same; the
-- stored value is never taken from the writer.
create or replace function retention_internal._keep_subject_family()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- The table's name while it is there; once it is gone, the name it last had.
  new.target_name := coalesce(retention.qualified_name(new.target),
                              case when tg_op = 'UPDATE' and old.target is not distinct from new.target then old.target_name end);
  -- The subject column's number, where it is declared (or its table or name changes);
  -- kept otherwise, so that a name given to another column since is seen (atk56).
  if new.subject_column is null or new.target is null then
    new.subject_attnum := null;
  elsif tg_op = 'INSERT' or old.target is distinct from new.target or old.subject_column is distinct from new.subject_column then
    new.subject_attnum := (select a.attnum from pg_catalog.pg_attribute a
                            where a.attrelid = new.target and a.attname = new.subject_column and a.attnum > 0 and not a.attisdropped);
  else
    new.subject_attnum := old.subject_attnum;
  end if;
  if new.subject_column is null or new.target is null then
    new.subject_family := '{}';
    return new;
  end if;
  new.subject_family := array(
    select distinct x
      from unnest(case when tg_op = 'UPDATE' and old.subject_column = new.subject_column
                       then old.subject_family else '{}'::oid[] end
                  || case when exists (select from pg_catalog.pg_class c where c.oid = new.target)
                          then retention_internal._rel_and_ancestors(new.target)::oid[]
                          -- Its table gone, the table under its name (rebuilt) is covered by
                          -- OID from now on, so a later rename does not end it.
                          when pg_catalog.to_regclass(new.target_name) is not null
                          then retention_internal._rel_and_ancestors(pg_catalog.to_regclass(new.target_name))::oid[]
                          else '{}'::oid[] end) x
     where x <> new.target::oid
     order by x);
  -- The edges above the declaring table, with their names, as it is declared: a family
  -- table gone by OID stands for the table rebuilt under its name only through a recorded
  -- edge (_family_now), and the application may drop the declaring partition and rebuild
  -- its parent before any hold is placed or run opens (round atk158 F1).
  insert into retention_internal.past_parents (rel, parent, rel_name, parent_name)
  select i.inhrelid, i.inhparent, retention.qualified_name(i.inhrelid), retention.qualified_name(i.inhparent)
    from pg_catalog.pg_inherits i
   where i.inhrelid = any (new.subject_family || new.target::oid)
     and not exists (select from retention_internal.past_parents p where p.rel = i.inhrelid and p.parent = i.inhparent)
  on conflict do nothing;
  return new;
end
$$;
comment on function retention_internal._keep_subject_family() is
  'Internal. Trigger function: records a policy''s or erasure rule''s table''s name (target_name), and in subject_family the tables above it while its subject column stays the same.';

-- So for an erasure request's subject table.
create or replace function retention_internal._keep_subject_table_name()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  new.subject_table_name := coalesce(retention.qualified_name(new.subject_table),
                                     case when tg_op = 'UPDATE' and old.subject_table = new.subject_table then old.subject_table_name end);
  return new;
end
$$;
comment on function retention_internal._keep_subject_table_name() is
  'Internal. Trigger function: records an erasure request''s subject table''s name (subject_table_name).';
create or replace trigger erasure_requests_subject_table_name
  before insert or update on retention.erasure_requests
  for each row execute function retention_internal._keep_subject_table_name();

-- Tables of a subject_family as they are now: each by OID, or, gone, the table rebuilt
-- under a name it had in a recorded edge (past_parents: as a parent or as a child) too.
-- subject_family records OIDs only; the application dropping the declaring partition and
-- rebuilding its parent under its name took the declaration away from the rebuilt tree
-- (round atk158 F1-F4).
create or replace function retention_internal._family_now(p_oids oid[])
returns oid[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
begin
  if not exists (select from unnest(p_oids) o where not exists (select from pg_catalog.pg_class c where c.oid = o)) then
    return p_oids;
  end if;
  return array(select distinct x.o from (
    select o from unnest(p_oids) o
    union all
    select retention_internal._rel_by_name(n.nm)
      from unnest(p_oids) o
     cross join lateral (select p.parent_name as nm from retention_internal.past_parents p where p.parent = o
                         union
                         select p.rel_name from retention_internal.past_parents p where p.rel = o) n
     where not exists (select from pg_catalog.pg_class c where c.oid = o)) x(o)
   where x.o is not null);
end
$$;
comment on function retention_internal._family_now(oid[]) is
  'Internal. A subject_family''s tables: each by OID and, where it is gone, the table now under a name it had in a recorded partition or inheritance edge (past_parents).';
revoke all on function retention_internal._family_now(oid[]) from public;

-- The tables whose own columns declare subjects, as they are now: the tables of policies
-- and erasure rules with a subject column and those that were above them (subject_family),
-- and erasure requests' subject tables; each by its OID while it is there, else the table
-- under the name it last had (rebuilt: a copy, the old one dropped, the copy renamed).
create or replace function retention_internal._declaring_tables()
returns oid[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  return array(
    select distinct coalesce(c.oid, pg_catalog.to_regclass(t.name)::oid)
      from (select p.target as rel, p.target_name as name from retention.policies p where p.subject_column is not null
            union
            select r.target, r.target_name from retention.erasure_rules r where r.subject_column is not null and r.target is not null
            union
            select q.subject_table, q.subject_table_name from retention.erasure_requests q
            -- And the tables that were above them since they were declared (subject_family):
            -- they keep the declaration once the declaring partition is dropped (atk44), and
            -- a subject hold's key chains into them start there (round atk155 F1). Those
            -- still there only.
            union
            select f.rel, null from retention.policies p cross join unnest(retention_internal._family_now(p.subject_family)) f(rel)
             where p.subject_column is not null
            union
            select f.rel, null from retention.erasure_rules r cross join unnest(retention_internal._family_now(r.subject_family)) f(rel)
             where r.subject_column is not null) t
      left join pg_catalog.pg_class c on c.oid = t.rel
     where c.oid is not null or pg_catalog.to_regclass(t.name) is not null);
end
$$;
comment on function retention_internal._declaring_tables() is
  'Internal. The tables of policies and erasure rules with a subject column (and the tables that were above them since: subject_family) and erasure subject tables, each by OID or, its table gone, by the name it last had.';

create or replace trigger policies_subject_family
  before insert or update on retention.policies
  for each row execute function retention_internal._keep_subject_family();
create or replace trigger erasure_rules_subject_family
  before insert or update on retention.erasure_rules
  for each row execute function retention_internal._keep_subject_family();

-- Whether a table still there has another name than the one recorded for it (a renamed
-- table, or one in a renamed schema): the names _note_subject_families refreshes.
create or replace function retention_internal._name_stale(p_rel oid, p_name text)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select exists (select from pg_catalog.pg_class c where c.oid = p_rel)
         and p_name is distinct from retention.qualified_name(p_rel)
$$;
comment on function retention_internal._name_stale(oid, text) is
  'Internal. Whether the table p_rel is there under another name than p_name.';
revoke all on function retention_internal._name_stale(oid, text) from public;

-- Refreshes every policy's and erasure rule's record with the tables now above its table
-- (a table attached as a partition, or made to inherit, since its subject column was
-- declared): open_run and place_hold call it, so the window in which such a table's drop
-- would take the declaration with it closes at the next run or hold.
drop function if exists retention_internal._note_subject_families();
create or replace function retention_internal._note_subject_families(p_wait boolean default false)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_mark text := current_setting('retention.routine_write', true);
  v_pols bigint[];
  v_rules bigint[];
  v_tables oid[];
begin
  -- Every partition and inheritance edge, kept once seen: a table detached later keeps the
  -- holds of the tree it was in (_hold_ancestors; round atk53).
  -- Never forgotten: a table whose OID and name resolve to nothing at one moment may be in
  -- the middle of a rebuild under its name (the application decides when this runs, through
  -- the event trigger: round atk79 F5); an edge of tables gone for good resolves to nothing.
  insert into retention_internal.past_parents (rel, parent, rel_name, parent_name)
  select i.inhrelid, i.inhparent, retention.qualified_name(i.inhrelid), retention.qualified_name(i.inhparent)
    from pg_catalog.pg_inherits i
   where not exists (select from retention_internal.past_parents p where p.rel = i.inhrelid and p.parent = i.inhparent)
  on conflict do nothing;
  -- The names recorded follow a table still there when it is renamed: a table rebuilt
  -- later is rebuilt under the name it has then, not the one first recorded (round atk158
  -- F5, F6: renamed, detached and rebuilt under its new name, it lost its holds).
  -- A row another transaction is refreshing (its DDL not committed yet) is passed over,
  -- not waited for, by runs and holds: an open transaction that renamed a schema under a
  -- hold held up every run, hold and DDL of the database. The application's own DDL
  -- (p_wait, from the event trigger) waits for it instead: passed over there, a rename
  -- committed while the other transaction was open was never recorded, and a tree rebuilt
  -- under the new name lost its holds (round atk169 F1). Locked first, in statements of
  -- their own, so the updates below see the other transaction's rows once it committed.
  if p_wait then
    perform from retention_internal.past_parents x
     where retention_internal._name_stale(x.rel, x.rel_name) or retention_internal._name_stale(x.parent, x.parent_name)
       for update;
    perform from retention_internal.subject_links x where retention_internal._name_stale(x.rel, x.rel_name) for update;
    perform from retention_internal.held_keys x
     where retention_internal._name_stale(x.conrel, x.conrel_name) or retention_internal._name_stale(x.confrel, x.confrel_name)
       for update;
  end if;
  update retention_internal.past_parents p
     set rel_name = coalesce(retention.qualified_name(p.rel), p.rel_name),
         parent_name = coalesce(retention.qualified_name(p.parent), p.parent_name)
   where p.ctid in (select x.ctid from retention_internal.past_parents x
                     where retention_internal._name_stale(x.rel, x.rel_name) or retention_internal._name_stale(x.parent, x.parent_name)
                       for update skip locked);
  update retention_internal.subject_links l set rel_name = retention.qualified_name(l.rel)
   where l.ctid in (select x.ctid from retention_internal.subject_links x
                     where retention_internal._name_stale(x.rel, x.rel_name)
                       for update skip locked);
  update retention_internal.held_keys k
     set conrel_name = coalesce(retention.qualified_name(k.conrel), k.conrel_name),
         confrel_name = coalesce(retention.qualified_name(k.confrel), k.confrel_name)
   where k.ctid in (select x.ctid from retention_internal.held_keys x
                     where retention_internal._name_stale(x.conrel, x.conrel_name) or retention_internal._name_stale(x.confrel, x.confrel_name)
                       for update skip locked);
  -- Only tables that are some table's partition or inheritance child can have drifted.
  -- Or whose table is gone and another has its name (rebuilt), not yet recorded.
  select array_agg(p.policy_id) into v_pols
    from retention.policies p
   where p.subject_column is not null
     and ((exists (select from pg_catalog.pg_inherits i where i.inhrelid = p.target)
           and not (retention_internal._rel_and_ancestors(p.target)::oid[] <@ (p.subject_family || p.target::oid)))
          or (not exists (select from pg_catalog.pg_class c where c.oid = p.target)
              and not (pg_catalog.to_regclass(p.target_name)::oid = any (p.subject_family))));
  select array_agg(r.rule_id) into v_rules
    from retention.erasure_rules r
   where r.subject_column is not null and r.target is not null
     and ((exists (select from pg_catalog.pg_inherits i where i.inhrelid = r.target)
           and not (retention_internal._rel_and_ancestors(r.target)::oid[] <@ (r.subject_family || r.target::oid)))
          or (not exists (select from pg_catalog.pg_class c where c.oid = r.target)
              and not (pg_catalog.to_regclass(r.target_name)::oid = any (r.subject_family))));
  -- And those whose table was renamed since its name was recorded.
  select array_agg(p.policy_id) || coalesce(v_pols, '{}') into v_pols
    from retention.policies p
   where p.target_name is distinct from retention.qualified_name(p.target)
     and retention.qualified_name(p.target) is not null;
  select array_agg(r.rule_id) || coalesce(v_rules, '{}') into v_rules
    from retention.erasure_rules r
   where r.target_name is distinct from retention.qualified_name(r.target)
     and retention.qualified_name(r.target) is not null;
  select array_agg(distinct q.subject_table) into v_tables
    from (select distinct subject_table, subject_table_name from retention.erasure_requests) q
   where q.subject_table_name is distinct from retention.qualified_name(q.subject_table)
     and retention.qualified_name(q.subject_table) is not null;
  if v_pols = '{}' and v_rules = '{}' and v_tables is null then
    return;
  end if;
  -- A record kept by the engine, not a change of a policy or rule: not audited as a direct
  -- write, and only these statements marked so.
  perform retention_internal._routine_write();
  update retention.policies set subject_family = subject_family where policy_id = any (v_pols);
  update retention.erasure_rules set subject_family = subject_family where rule_id = any (v_rules);
  update retention.erasure_requests set subject_table = subject_table where subject_table = any (v_tables);
  perform pg_catalog.set_config('retention.routine_write', coalesce(v_mark, ''), true);
end
$$;
comment on function retention_internal._note_subject_families(boolean) is
  'Internal. Adds the tables now above each policy''s and erasure rule''s table to its subject_family, and records tables'' current names (open_run, place_hold; the DDL event trigger with p_wait: it waits for rows another transaction is refreshing instead of passing them over).';

-- Records the columns of foreign keys that reference a subject column (subject_links), so
-- a subject hold keeps covering rows through them once the application drops the key.
-- Called by place_hold for a subject hold, and by open_run while a subject hold is open:
-- whatever a hold relies on is recorded before a run can act on it.
create or replace function retention_internal._note_subject_links()
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rels  oid[];
  v_reach oid[];
begin
  -- Tables with subject columns of their own: declared by policies and erasure rules (in
  -- their families) and erasure subject tables.
  v_rels := array(select distinct f
                    from unnest(retention_internal._declaring_tables()) t(rel)
                   cross join unnest(retention_internal._hold_family(t.rel::regclass)) f);
  if v_rels = '{}' then
    return;
  end if;
  insert into retention_internal.subject_links (rel, attnum, attname, rel_name)
  select distinct k.conrelid, u.att, a.attname, retention.qualified_name(k.conrelid)
    from pg_catalog.pg_constraint k
   cross join unnest(k.conkey, k.confkey) u(att, ratt)
    join pg_catalog.pg_attribute r on r.attrelid = k.confrelid and r.attnum = u.ratt
    join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.att
   where k.contype = 'f'
     and k.confrelid = any (v_rels)
     and r.attname in (select o.col from retention_internal._own_subject_columns(k.confrelid) o)
     and not exists (select from retention_internal.subject_links l where l.rel = k.conrelid and l.attnum = u.att)
  on conflict do nothing;
  -- The key erasure requests were filed on, in each subject table (and its family): the
  -- application giving the table another primary key later, the old key column kept,
  -- still names the same people (round atk62 F3).
  insert into retention_internal.subject_links (rel, attnum, attname, rel_name)
  select distinct f, a.attnum, a.attname, retention.qualified_name(f)
    from (select distinct q.subject_table from retention.erasure_requests q) q
   cross join lateral retention_internal._single_key(q.subject_table) k
   cross join unnest(retention_internal._hold_family(q.subject_table)) f
    join pg_catalog.pg_attribute a on a.attrelid = f and a.attname = k.key_column and a.attnum > 0 and not a.attisdropped
   where exists (select from pg_catalog.pg_class c where c.oid = q.subject_table)
     and not exists (select from retention_internal.subject_links l where l.rel = f and l.attnum = a.attnum)
  on conflict do nothing;
  -- Every key a subject hold may follow up to a person's row (a chain, a key to a unique
  -- column other than the subject column), by OID and name: dropped later, it is still
  -- followed (held_keys; round atk76 F3).
  v_reach := retention_internal._hold_reach();  -- once, not per catalog row
  insert into retention_internal.held_keys (conrel, conrel_name, fk, fk_num, confrel, confrel_name, ref, ref_num)
  select c.conrelid, retention.qualified_name(c.conrelid),
         array(select a.attname from unnest(c.conkey) with ordinality u(att, o)
                 join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = u.att order by u.o),
         c.conkey,
         c.confrelid, retention.qualified_name(c.confrelid),
         array(select a.attname from unnest(c.confkey) with ordinality u(att, o)
                 join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = u.att order by u.o),
         c.confkey
    from pg_catalog.pg_constraint c
   where c.contype = 'f' and c.conparentid = 0
     and c.confrelid = any (v_reach)
     -- Those recorded already are not inserted again: an insert that meets a row another
     -- transaction is refreshing (a rename under a hold, not committed) waits for it.
     and not exists (select from retention_internal.held_keys k
                      where k.conrel = c.conrelid and k.confrel = c.confrelid
                        and k.fk = array(select a.attname from unnest(c.conkey) with ordinality u(att, o)
                                           join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = u.att order by u.o)
                        and k.ref = array(select a.attname from unnest(c.confkey) with ordinality u(att, o)
                                            join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = u.att order by u.o))
  on conflict do nothing;
end
$$;
comment on function retention_internal._note_subject_links() is
  'Internal. Records the columns of foreign keys referencing a subject column, and the key of erasure subject tables, by number and name (subject_links): subject columns for holds from then on (place_hold, open_run under an open subject hold, request_erasure).';

-- The name of pg-retention's copy of a collation (held_collations): by the collation's
-- properties (provider, locale, rules, determinism), so one copy serves every column with
-- those, whatever the application calls its collation or does with it afterwards.
create or replace function retention_internal._held_collation_name(p_coll oid)
returns name
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select ('held_' || pg_catalog.md5((pg_catalog.to_jsonb(c) - 'oid' - 'collname' - 'collnamespace' - 'collowner' - 'collversion')::text))::name
    from pg_catalog.pg_collation c where c.oid = p_coll
$$;
comment on function retention_internal._held_collation_name(oid) is
  'Internal. The name of pg-retention''s copy of a collation in retention_internal, from the collation''s properties.';

-- The nondeterministic collations of the application's columns (ICU, case- or accent-
-- insensitive, tailored), copied into retention_internal and recorded per column
-- (held_collations): a subject hold compares a column's values under every collation it
-- was seen with, after the application made the column "C" (round atk102 F1) or dropped
-- its collation. Called as a hold is placed and as a run opens under a subject hold (not
-- from the DDL watch: that runs as the application's login). Nothing to do, and a catalog
-- read only, where no such collation exists.
create or replace function retention_internal._note_held_collations()
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  r record;
begin
  if not exists (select from pg_catalog.pg_collation c where not c.collisdeterministic) then
    return;
  end if;
  for r in
    select distinct a.attrelid as rel, a.attname, a.attcollation::regcollation::text as source,
           retention_internal._held_collation_name(c.oid) as copy
      from pg_catalog.pg_collation c
      join pg_catalog.pg_attribute a on a.attcollation = c.oid and a.attnum > 0 and not a.attisdropped
      join pg_catalog.pg_class k on k.oid = a.attrelid and k.relkind in ('r', 'p')
      join pg_catalog.pg_namespace n on n.oid = k.relnamespace
     where not c.collisdeterministic and c.collnamespace <> 'retention_internal'::pg_catalog.regnamespace
       and n.nspname not in ('pg_catalog', 'information_schema', 'retention', 'retention_internal') and n.nspname !~ '^pg_'
       and not exists (select from retention_internal.held_collations h
                        where h.rel = a.attrelid and h.attname = a.attname
                          and h.copy = retention_internal._held_collation_name(c.oid))
  loop
    -- A collation that cannot be copied (renamed or dropped meanwhile, a locale this
    -- server's ICU refuses) is passed over with a warning: the application must not be
    -- able to stop a hold being placed or a run opening by what it names.
    begin
      if not exists (select from pg_catalog.pg_collation c
                      where c.collname = r.copy and c.collnamespace = 'retention_internal'::pg_catalog.regnamespace) then
        execute pg_catalog.format('create collation retention_internal.%I from %s', r.copy, r.source);
      end if;
      insert into retention_internal.held_collations (rel, attname, copy, source)
      values (r.rel, r.attname, r.copy, r.source)
      on conflict do nothing;
    exception when others then
      raise warning 'collation % of column % of % could not be copied for the holds (%): its equalities are not kept if the column changes collation',
            r.source, r.attname, r.rel::regclass, sqlstate;
    end;
  end loop;
end
$$;
comment on function retention_internal._note_held_collations() is
  'Internal. Copies the nondeterministic collations of the application''s columns into retention_internal and records them per column (held_collations): subject holds compare the column under each.';

comment on table retention_internal.past_parents is
  'Internal. Every partition and inheritance edge seen when a run opened, a hold was placed, a subject column was declared on a table below it, or (a hold open) the application changed a table, kept after the table is detached: the hold rule counts former parents as parents.';
