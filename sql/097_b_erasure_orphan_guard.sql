-- A batch of an erasure step that deletes rows which the tables of other delete or scrub
-- steps of its plan reference through a foreign key ON DELETE SET NULL or SET DEFAULT:
-- the delete would cut the person's rows there loose from them (their key NULL, or the
-- default), and neither a step nor the completion's re-count could find them again. Such
-- a row exists when the application wrote it after its table's step ran (or, in a cycle
-- of keys, when its step comes after this one). So the batch first locks the rows it will
-- delete (FOR UPDATE: a new referencing row must wait for the commit, when they are gone,
-- and a referencing row being written holds a lock this waits for), then, in a statement
-- that sees what committed meanwhile, counts the rows of the person in those tables that
-- reference them: any, and the batch fails (RT032; the request fails, and processing it
-- again plans them in). Otherwise it returns the step's condition restricted to the rows
-- it locked, so that the batch deletes no other. Without such keys, p_cond unchanged and
-- nothing locked.
-- The rows an erasure batch will delete, locked (FOR UPDATE SKIP LOCKED), by ctid: what the
-- orphan guard checks, and then the only rows the batch deletes.
create or replace function retention_internal._erasure_lock_rows(p_pol retention.policies, p_cond text,
                                                        p_size bigint, p_skip tid[])
returns tid[]
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_sql  record := retention_internal._policy_sql(p_pol, p_cond);
  v_tids tid[];
begin
  execute format('select array(select t.ctid from only %s t where %s and not (%s) and t.ctid <> all ($1)
                                limit $2 for update of t skip locked)',
                 v_sql.tbl, v_sql.eligible, v_sql.held)
    into v_tids using coalesce(p_skip, '{}'), p_size;
  return v_tids;
end
$$;
comment on function retention_internal._erasure_lock_rows(retention.policies, text, bigint, tid[]) is
  'Internal. Locks (FOR UPDATE SKIP LOCKED) up to p_size rows an erasure batch would delete, skipping p_skip, and returns their ctids.';

create or replace function retention_internal._erasure_orphan_guard(p_pol retention.policies, p_run_id bigint, p_cond text,
                                                           p_size bigint, p_skip tid[])
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_plan  jsonb;
  v_tids  tid[];
  v_child retention.policies;
  v_n     bigint;
  v_reach oid[];
  v_direct oid[] := retention_internal._referenced_as(p_pol.target);
  v_plan_rels oid[];
  g       record;
begin
  select q.plan into v_plan
    from retention.runs r
    join retention.erasure_requests q on q.request_id = r.request_id
   where r.run_id = p_run_id and r.kind = 'erasure';
  if v_plan is null or p_cond is null or p_pol.action <> 'delete' then
    return p_cond;
  end if;
  -- The tables the delete reaches: the step's own, and those its CASCADE keys delete from
  -- in turn (users, then their orders), whose rows a SET NULL key may point at too.
  v_reach := array(select r.rel from retention_internal._reach(p_pol.target, false) r where not r.upd);
  for g in
    select distinct e.target, e.rule, e.scrub, e.cond, con.conname,
           (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
              from unnest(con.conkey) with ordinality k(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.att) as fk,
           (select string_agg(format('p.%I', a.attname), ', ' order by k.o)
              from unnest(con.confkey) with ordinality k(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.att) as pk,
           case con.confdeltype when 'n' then 'SET NULL' else 'SET DEFAULT' end as action,
           con.confrelid = any (v_direct) as direct
      from jsonb_to_recordset(v_plan) as e(target text, rule text, scrub jsonb, cond text)
      join pg_catalog.pg_constraint con
        on con.contype = 'f' and con.confdeltype in ('n', 'd')
       and con.conrelid = to_regclass(e.target)
       and (con.confrelid = any (v_direct) or con.confrelid = any (v_reach))
     where e.rule in ('delete', 'scrub') and e.cond is not null
       and not to_regclass(e.target)::oid = any (retention_internal._family(p_pol.target))
     order by e.target, con.conname
  loop
    if v_tids is null then
      v_tids := retention_internal._erasure_lock_rows(p_pol, p_cond, p_size, p_skip);
      if cardinality(v_tids) = 0 then
        return format('(%s and false)', p_cond);
      end if;
    end if;
    v_child := null;
    v_child.target := g.target::regclass;
    v_child.action := g.rule;
    v_child.scrub_columns := g.scrub;
    if g.direct then
      execute format('select count(*) from %s t where %s and (%s) in (select %s from only %s p where p.ctid = any ($1))',
                     retention_internal._reach_scan(g.target::regclass), (retention_internal._policy_sql(v_child, g.cond)).eligible, g.fk, g.pk,
                     retention.qualified_name(p_pol.target))
        into v_n using v_tids;
    else
      -- A key to a table the delete cascades into (order_notes -> orders, users deleted):
      -- any row of the person there that still has its key set may be cut loose by the
      -- cascade (a new order and its note, written after the notes' step).
      execute format('select count(*) from %s t where %s and (%s) is not null',
                     retention_internal._reach_scan(g.target::regclass), (retention_internal._policy_sql(v_child, g.cond)).eligible,
                     replace(g.fk, ', ', ') is not null and ('))
        into v_n;
    end if;
    if v_n > 0 then
      raise exception '% row(s) of % that the erasure takes still reference the rows this step deletes through % (ON DELETE %): written after their table''s step ran (or, in a cycle of keys, their step comes after this one), they would be left without their key',
            v_n, g.target, g.conname, g.action
        using errcode = 'RT032',
              hint = 'Stop the application writing for the person, then process the request again: its plan then takes these rows.';
    end if;
  end loop;
  -- Keys ON DELETE SET NULL / SET DEFAULT from tables the plan does not name at all (created,
  -- or given the key, after processing began; the plan walked every key there was): their
  -- rows that reference the rows this batch deletes, or the rows its cascade deletes in a
  -- table the plan takes for the person, would be cut loose the same way. The batch runs
  -- after the tables it reaches are locked (_lock_reach), so no such key can be added
  -- before it commits. Every table counted is read as _reach_scan reads it (ONLY for an
  -- ordinary table, after _check_planner_code): an inheritance child added after the plan,
  -- with an index calling the application's function, was planned as the owner unchecked
  -- (round atk105 F1).
  v_plan_rels := array(select f from jsonb_to_recordset(v_plan) as e(target text)
                        cross join lateral unnest(retention_internal._family(to_regclass(e.target))) f
                        where to_regclass(e.target) is not null);
  for g in
    select con.conrelid::regclass as target, con.conname,
           (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
              from unnest(con.conkey) with ordinality k(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.att) as fk,
           (select string_agg(format('p.%I', a.attname), ', ' order by k.o)
              from unnest(con.confkey) with ordinality k(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.att) as pk,
           (select string_agg(format('o.%I', a.attname), ', ' order by k.o)
              from unnest(con.conkey) with ordinality k(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.att) as fk_o,
           (select string_agg(format('t.%I', a.attname), ', ' order by k.o)
              from unnest(con.confkey) with ordinality k(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.att) as pk_t,
           case con.confdeltype when 'n' then 'SET NULL' else 'SET DEFAULT' end as action,
           con.confrelid = any (v_direct) as direct, con.confrelid::regclass as parent,
           (select e.cond from jsonb_to_recordset(v_plan) as e(target text, rule text, cond text)
             where to_regclass(e.target) = con.confrelid and e.rule = 'delete' and e.cond is not null limit 1) as parent_cond
      from pg_catalog.pg_constraint con
     where con.contype = 'f' and con.confdeltype in ('n', 'd') and con.conparentid = 0
       and (con.confrelid = any (v_direct) or con.confrelid = any (v_reach))
       and not con.conrelid = any (v_plan_rels)
       and not con.conrelid = any (retention_internal._family(p_pol.target))
     order by con.conrelid::regclass::text, con.conname
  loop
    if v_tids is null then
      v_tids := retention_internal._erasure_lock_rows(p_pol, p_cond, p_size, p_skip);
      if cardinality(v_tids) = 0 then
        return format('(%s and false)', p_cond);
      end if;
    end if;
    if g.direct then
      execute format('select count(*) from %s t where (%s) in (select %s from only %s p where p.ctid = any ($1))',
                     retention_internal._reach_scan(g.target), g.fk, g.pk, retention.qualified_name(p_pol.target))
        into v_n using v_tids;
    elsif g.parent_cond is not null then
      -- The rows of the table the cascade deletes from that the plan takes for the person.
      v_child := null;
      v_child.target := g.parent;
      v_child.action := 'delete';
      execute format('select count(*) from %s o where (%s) in (select %s from %s t where %s)',
                     retention_internal._reach_scan(g.target), g.fk_o, g.pk_t, retention_internal._reach_scan(g.parent), (retention_internal._policy_sql(v_child, g.parent_cond)).eligible)
        into v_n;
    else
      -- A table the plan does not take for the person: any row with its key set may be one.
      execute format('select count(*) from %s t where (%s) is not null', retention_internal._reach_scan(g.target), replace(g.fk, ', ', ') is not null and ('))
        into v_n;
    end if;
    if v_n > 0 then
      raise exception '% row(s) of %, a table this erasure''s plan does not name (created, or given its key, after processing began), reference the rows this step deletes through % (ON DELETE %): they would be left without their key',
            v_n, g.target, g.conname, g.action
        using errcode = 'RT032',
              hint = 'Process the request again: its plan then takes that table (set an erasure rule for it if its rows should stay).';
    end if;
  end loop;
  if v_tids is null then
    return p_cond;
  end if;
  return format('(%s and t.ctid = any (%L::tid[]))', p_cond, v_tids);
end
$$;
comment on function retention_internal._erasure_orphan_guard(retention.policies, bigint, text, bigint, tid[]) is
  'Internal. For an erasure batch that deletes rows other plan steps'' tables reference ON DELETE SET NULL / SET DEFAULT: locks the batch''s rows, fails (RT032) when rows of the person there reference them, and returns the condition restricted to the locked rows.';
