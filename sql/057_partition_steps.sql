-- The tables PostgreSQL's own foreign-key checks read when a partition of p_table is
-- detached or attached, checked and locked as any table the owner plans on
-- (_check_planner_code): every table with a foreign key, of any action, into p_table, a
-- table above it or a partition below it (DETACH PARTITION checks their rows:
-- RI_PartitionRemove_Check), and every table the foreign keys of those reference (ATTACH
-- PARTITION validates the keys it clones onto the partition: RI_Initial_Check). Both
-- queries run as the current user, the retention owner, not as a table's owner: a partial
-- index there that folds the application's function ran as the owner (round atk106 F1,
-- F2). RT025 names the table. The queries compare the keys' columns, through an implicit
-- cast where their types differ (_check_key_casts: an enum referencing a bigint through
-- the application's cast ran it as the owner, round atk113 F3), and read the tables with
-- their row-level security where it applies to the retention owner, not a superuser
-- (RT023: a policy's function would run as the owner, round atk113 F4).
create or replace function retention_internal._check_key_neighbours(p_table regclass)
returns void
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_tables oid[] := retention_internal._tree_oids(p_table)
                    || array(select a::oid from unnest(retention_internal._rel_and_ancestors(p_table)) a);
  v_rel    oid;
begin
  for v_rel in
    select distinct x.rel
      from (select c.conrelid as rel from pg_catalog.pg_constraint c where c.contype = 'f' and c.confrelid = any (v_tables)
            union
            select c.confrelid from pg_catalog.pg_constraint c where c.contype = 'f' and c.conrelid = any (v_tables)) x
     order by x.rel
  loop
    perform retention_internal._check_planner_code(v_rel::regclass);
    if pg_catalog.row_security_active(v_rel) then
      raise exception 'row-level security on % applies to the retention owner %: PostgreSQL''s key check of a detach or attach would run its policies as the owner', v_rel::regclass, current_user
        using errcode = 'RT023',
              hint = format('Let the owner bypass it (ALTER ROLE %I BYPASSRLS), or disable row security on that table.', current_user);
    end if;
  end loop;
  perform retention_internal._freeze_casts();
  perform retention_internal._check_key_casts(v_tables);
end
$$;
comment on function retention_internal._check_key_neighbours(regclass) is
  'Internal. _check_planner_code on every table a foreign-key check of PostgreSQL''s reads when a partition of the table is detached or attached (those referencing it, a table above or below it, and those they reference), RT023 where row-level security there applies to the retention owner, and _check_key_casts on the keys those checks compare.';
revoke all on function retention_internal._check_key_neighbours(regclass) from public;

-- The two partition steps of a drop_partitions run (run_step calls them; open_run counted
-- the run: spec.plan holds the partitions past the cutoff with their rows and
-- dispositions, from _partition_plan). Neither waits for a lock longer than lock_timeout.
--
-- _detach_partitions, in one transaction: take the holds lock shared (a hold being placed
-- waits), lock the table and its foreign-key neighbours ACCESS EXCLUSIVE, parents before
-- partitions, in attempts short enough that a deadlock with the application always
-- resolves against this run (_lock_for_ddl), re-check holds, and detach the oldest
-- partition that may go, within the run's limit of rows (p_planned: the rows of the
-- partitions this run detached before); it is recorded in run_batches as 'detached'.
-- One partition per transaction: the application waits for one detach at a time (on a
-- table other tables reference, PostgreSQL checks each detached partition against every
-- referencing row while the table is locked), and a run's step finishes that partition
-- before the next is detached. On a lock timeout or an error this step detaches nothing
-- and the run stops; the next run goes on. When none is left to detach (detached 0),
-- the partitions kept because a legal hold covers some of their rows are returned
-- (their leaves have their other rows deleted by batches); capped says the row limit
-- stopped the detaching.
create or replace function retention_internal._detach_partitions(p_run retention.runs, p_pol retention.policies,
                                                        p_planned bigint, p_concurrent boolean,
                                                        out leaves text[], out capped boolean,
                                                        out detached integer, out planned bigint)
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_parent    text := retention.qualified_name(p_pol.target);
  v_lock_ms   text := (extract(epoch from p_pol.lock_timeout) * 1000)::bigint::text;
  v_plan      jsonb := p_run.spec -> 'plan';
  v_limit     bigint := (p_run.spec ->> 'limit')::bigint;
  v_p         record;
  v_e         jsonb;
  v_name      text;
  v_start     timestamptz;
  v_planned   bigint := coalesce(p_planned, 0);
  v_detached  int := 0;
  v_rows_left text[] := '{}';
  v_held      boolean;
  v_chain     oid[];
  v_grown     oid[];
  v_rule      text;
begin
  capped := false;
  p_concurrent := coalesce(p_concurrent, false);
  perform set_config('lock_timeout', v_lock_ms, true);
  perform retention_internal._lock_holds_shared();
  if p_concurrent then
    -- The worker detaches it: no DDL on the table meanwhile, the application's reads and
    -- writes go on (the finish step checks holds again, under its lock, after the detach).
    execute format('lock table %s in share update exclusive mode', v_parent);
  else
    perform retention_internal._lock_for_ddl(p_pol.target, p_pol.lock_timeout);
    perform set_config('lock_timeout', v_lock_ms, true);
  end if;
  perform retention_internal._check_not_detached(p_pol.target);
  if retention_internal._citus_table(p_pol.target) then
    raise exception 'cannot act on %: it is a Citus distributed table', v_parent
      using errcode = 'RT013', hint = 'pg-retention does not act on Citus distributed tables yet (docs/scaling.md says why and what it would need): drop the policy.';
  end if;
  for v_p in select x.part, x.lower_bound, x.upper_bound from retention_internal._partitions_of(p_pol, p_run.cutoff) x
              where x.expired and not x.keep_last order by x.upper_bound loop
    v_e := v_plan -> (v_p.part::oid::text);
    continue when v_e is null;  -- attached since the run counted: the next run sees it
    v_name := retention.qualified_name(v_p.part);
    if v_e->>'disposition' = 'rows' then
      v_rows_left := v_rows_left || v_name;
      continue;
    end if;
    continue when v_e->>'disposition' not in ('drop', 'archive');
    continue when retention_internal._pending_below(v_p.part) is not null;  -- (see _partition_plan)
    -- A foreign table attached below it since the run counted: kept (see _partition_plan).
    continue when exists (select from pg_catalog.pg_class k
                           where k.relkind = 'f'
                             and (k.oid = v_p.part
                                  or k.oid in (select t.relid from pg_catalog.pg_partition_tree(v_p.part) t)));
    perform retention_internal._check_partition(v_p.part, true);  -- row security, ownership
    -- A table of its name in the archive schema already: moving it there would fail after
    -- the detach, and every run would leave it detached (round atk64 F12).
    if p_pol.archive_schema is not null
       and pg_catalog.to_regclass(format('%I.%I', p_pol.archive_schema,
                                         (select c.relname from pg_catalog.pg_class c where c.oid = v_p.part))) is not null then
      raise exception 'policy %: the archive schema % has a table named % already', p_pol.name, p_pol.archive_schema,
            (select c.relname from pg_catalog.pg_class c where c.oid = v_p.part)
        using errcode = 'RT018',
              hint = 'Nothing was detached. Rename or drop that table in the archive schema (or give the policy another p_archive_schema) before runs go on.';
    end if;
    -- Holds again, now that the table is locked (_held_sql, the one rule): a hold on the
    -- table, the partition or the policy keeps it whole; one on some of its rows (or rows
    -- they reach) turns it into a row-by-row partition.
    execute 'select ' || retention_internal._hold_scope_sql(v_p.part, null, p_pol.name) into v_held;
    continue when v_held;
    -- The tables its rule reads up the keys locked first, in a statement of their own, and
    -- built again if more came into its reach meanwhile (_lock_hold_reads; round atk117 F1).
    v_chain := retention_internal._lock_hold_reads(array[v_p.part::oid]);
    loop
      v_rule := retention_internal._held_sql(v_p.part, 't', p_pol.name, true);
      v_grown := retention_internal._lock_hold_reads(array[v_p.part::oid], v_chain);
      exit when v_grown <@ v_chain;
      v_chain := v_grown;
    end loop;
    execute format('select exists (select from %s t where %s)', v_name, v_rule)
      into v_held;
    v_held := v_held or retention_internal._tree_held(v_p.part);  -- a held table below it, empty or not
    if v_held then
      v_rows_left := v_rows_left || v_name;  -- a hold placed since the count: delete rows instead
      continue;
    end if;
    if v_planned + (v_e->>'rows')::bigint > v_limit then
      capped := true;
      exit;
    end if;
    -- The tables PostgreSQL's check of the detach reads (round atk106 F1); checked here
    -- for the worker's concurrent detach too, which runs after this step commits, as a
    -- login no stronger than their owners (_login_contained, round atk113 F6).
    perform retention_internal._check_key_neighbours(p_pol.target);
    v_start := clock_timestamp();
    if not p_concurrent then
      execute format('alter table %s detach partition %s', v_parent, v_name);
    end if;
    v_detached := 1;
    v_planned := v_planned + (v_e->>'rows')::bigint;
    -- Recorded with what identifies the table it detached: OID, parent, and the version of
    -- its pg_class row this detach wrote (anyone who changes the table later changes it).
    -- One the worker is to detach is recorded as detaching first, without a version: the
    -- next step records the detach (_settle_detaching).
    insert into retention.run_batches (run_id, batch_no, rows, started_at, finished_at,
                                       duration_ms, oldest_at, newest_at, partition_name,
                                       disposition, partition_oid, partition_parent, partition_xmin,
                                       partition_tree)
    values (p_run.run_id, p_run.batches + 1, 0, v_start, clock_timestamp(),
            extract(epoch from clock_timestamp() - v_start) * 1000, v_p.lower_bound,
            v_p.upper_bound, v_name, case when p_concurrent then 'detaching' else 'detached' end,
            v_p.part::oid, p_pol.target::oid,
            case when not p_concurrent then (select k.xmin from pg_catalog.pg_class k where k.oid = v_p.part) end,
            retention_internal._tree_oids(v_p.part));
    update retention.runs set batches = batches + 1 where run_id = p_run.run_id;
    if p_concurrent then
      raise notice 'policy %: partition % to be detached concurrently from %', p_pol.name, v_name, v_parent;
    else
      raise notice 'policy %: partition % detached from %', p_pol.name, v_name, v_parent;
    end if;
    exit;  -- one per transaction
  end loop;
  detached := v_detached;
  planned := v_planned;
  select coalesce(array_agg(retention.qualified_name(t.relid) order by o, t.relid), '{}') into leaves
    from unnest(v_rows_left) with ordinality u(name, o)
    cross join lateral pg_catalog.pg_partition_tree(u.name::regclass) t
   where t.isleaf;
exception when foreign_key_violation then
  raise exception '%', sqlerrm using errcode = 'foreign_key_violation',
    hint = 'Rows of another table reference this partition: drop that table''s partitions first (a drop_partitions policy on it that runs before this one) or delete those rows.';
end
$$;
comment on function retention_internal._detach_partitions(retention.runs, retention.policies, bigint, boolean) is
  'Internal. A step of a drop_partitions run: detaches the oldest expired, unheld partition within the row limit under the table''s lock, recording it as detached (detached 1; planned: the rows of the partitions this run detached so far), or with p_concurrent records it as detaching for the worker to detach CONCURRENTLY; with none left (detached 0), returns the leaves of partitions a hold on some rows keeps.';

-- The partitions runs detached from a table (p_target) and no run finished, whatever
-- policy ran them (a policy dropped and set again on the table finds them; one moved to
-- another table does not: it never acts on a partition of the table it left). A detached
-- table is known by the OID, name, parent and pg_class row version (xmin) its detach
-- recorded (runs recorded before migration 27: by name and the run's table). It is
-- 'ready' to finish while it is still that table, unchanged since the detach, not a
-- partition, under its name; 'changed' when it is there (by OID) but renamed, moved,
-- altered, or attached and detached again by someone else since: no run touches it
-- then, check_setup names it. Settled rows (a later batch that dropped, archived or
-- attached again the same table, by OID where both have one, else by name) and tables
-- attached again or gone are not listed.
create or replace function retention_internal._detached_left(p_target oid)
returns table (run_id bigint, batch_no integer, partition_name text, oldest_at timestamptz,
               newest_at timestamptz, partition_oid oid, policy_name text, ready boolean)
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select b.run_id, b.batch_no, b.partition_name, b.oldest_at, b.newest_at, c.oid, r.policy_name,
         pg_catalog.to_regclass(b.partition_name) is not distinct from c.oid::regclass
           and (b.partition_xmin is null or c.xmin = b.partition_xmin) as ready
    from retention.run_batches b
    join retention.runs r on r.run_id = b.run_id
    join pg_catalog.pg_class c on c.oid = coalesce(b.partition_oid, pg_catalog.to_regclass(b.partition_name)::oid)
   where b.disposition = 'detached'
     and coalesce(b.partition_parent, pg_catalog.to_regclass(r.spec #>> '{policy,target}')::oid) = p_target
     and not c.relispartition
     and not exists (select from retention.run_batches b2
                      where b2.disposition in ('dropped', 'archived', 'reattached')
                        and (b2.run_id, b2.batch_no) > (b.run_id, b.batch_no)
                        and case when b.partition_oid is not null and b2.partition_oid is not null
                                 then b2.partition_oid = b.partition_oid
                                 else b2.partition_name = b.partition_name end)
$$;
comment on function retention_internal._detached_left(oid) is
  'Internal. Partitions runs detached from a table and none finished: ready (still that table, unchanged since the detach, under its name, not a partition) or changed since (never touched by a run; check_setup names it).';

-- A partition a run detached that is not to be dropped (held, or holding rows the policy
-- keeps now), attached again to its table with the bounds it was detached with
-- ('reattached'). Where it cannot be (its table changed, a table took its place), it stays
-- detached, recorded as changed (no run takes it) and left for the DBA, whom check_setup
-- tells: kept either way.
create or replace function retention_internal._attach_again(p_pol retention.policies, p_run_id bigint, p_batch_no integer, p_why text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  b retention.run_batches;
begin
  select * into b from retention.run_batches x where x.run_id = p_run_id and x.batch_no = p_batch_no;
  begin
    -- The tables PostgreSQL's validation of the keys it clones reads (round atk106 F2);
    -- where one would run another role's code (RT025), the partition stays detached.
    perform retention_internal._check_key_neighbours(p_pol.target);
    if pg_catalog.to_regclass(b.partition_name) is not null then
      perform retention_internal._check_key_neighbours(pg_catalog.to_regclass(b.partition_name));
      -- ATTACH folds the CHECK constraints of the table attached and of the default
      -- partition to prove what it need not scan: an IMMUTABLE function the application
      -- put in a default partition's CHECK after the detach ran as the owner (round atk113
      -- F1). The table's tree (its default partition with it) and the table attached, as
      -- the planner would load them.
      perform retention_internal._check_planner_code(p_pol.target);
      perform retention_internal._check_planner_code(pg_catalog.to_regclass(b.partition_name));
    end if;
    execute format('alter table %s attach partition %s for values from (%L) to (%L)',
                   retention.qualified_name(p_pol.target), b.partition_name, b.oldest_at, b.newest_at);
    update retention.run_batches x set disposition = 'reattached', finished_at = clock_timestamp()
     where x.run_id = p_run_id and x.batch_no = p_batch_no;
    raise notice 'policy %: partition % %: attached again', p_pol.name, b.partition_name, p_why;
  exception when invalid_object_definition or check_violation or wrong_object_type or duplicate_table or sqlstate 'RT025' then
    update retention.run_batches x set partition_xmin = '0'::xid
     where x.run_id = p_run_id and x.batch_no = p_batch_no;
    raise warning 'policy %: detached partition % is not dropped: it % and cannot be attached again (%); left for the DBA (check_setup names it)',
      p_pol.name, b.partition_name, p_why, sqlerrm;
  end;
end
$$;
comment on function retention_internal._attach_again(retention.policies, bigint, integer, text) is
  'Internal. Attaches a detached partition that is not to be dropped back to the policy''s table (reattached), or, where it cannot be, leaves it detached for the DBA (check_setup names it).';

-- _finish_partition, in its own transaction: the oldest partition of the policy that a run
-- detached and nobody finished (this run's, or a dead run's), locked the same way
-- (dropping a table with foreign keys locks the tables they reference). Holds once more
-- (a hold may have come since the detach): the detached table is no partition any more,
-- so the parent's rule is applied to its rows, and a hold on the table itself counts
-- too; held, it is attached again ('reattached'). Otherwise its rows are counted (no one
-- writes to it any more) or, with the policy's count estimate (the default) and when the
-- policy does not archive its rows, taken from the statistics (_estimated_rows; counted
-- when it has none); copied to retention.archived_batches when the policy archives
-- (_archives); dropped or moved into the archive schema; and the ledger records
-- 'dropped' or 'archived' with the rows and whether they are an estimate. Returns false
-- when no detached partition is left.
create or replace function retention_internal._finish_partition(p_run retention.runs, p_pol retention.policies)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_parent  text := retention.qualified_name(p_pol.target);
  v_lock_ms text := (extract(epoch from p_pol.lock_timeout) * 1000)::bigint::text;
  v_p       record;
  v_start   timestamptz := clock_timestamp();
  v_held    boolean;
  v_count   bigint;
  v_oldest  timestamptz;
  v_leaf    record;
  v_step    bigint;
  v_block   bigint;
  v_n       bigint;
  v_copied  bigint;
  v_est     boolean := false;
  v_tree    oid[];
  v_cutoff  timestamptz;
  v_late    boolean;
  v_chain   oid[];
  v_grown   oid[];
  v_rule    text;
begin
  -- A partition another policy's run detached is that policy's to finish, with its period,
  -- archive and archive schema (round atk85 F5: a policy without an archive dropped what
  -- an archiving one had detached, and the copy was never made). Once that policy is gone
  -- from the table, this one finishes it only if it keeps what that one kept (an archive,
  -- an archive schema).
  select d.run_id, d.batch_no, d.partition_name, d.oldest_at, d.newest_at, d.partition_oid, d.policy_name into v_p
    from retention_internal._detached_left(p_pol.target) d
    left join retention.runs x on x.run_id = d.run_id
   where d.ready
     and (d.policy_name = p_pol.name
          or (not exists (select from retention.policies o where o.name = d.policy_name and o.target = p_pol.target)
              and (retention_internal._archives(p_pol)
                   or not coalesce(retention_internal._archives(jsonb_populate_record(null::retention.policies,
                                     (x.spec -> 'policy') - array['target', 'revoke_tables'])), false))
              and (p_pol.archive_schema is not null or (x.spec #>> '{policy,archive_schema}') is null)))
   order by d.newest_at
   limit 1;
  if not found then
    return false;
  end if;
  -- Locked by its OID; under the lock it cannot change, so it must still be as listed.
  perform retention_internal._lock_for_ddl(v_p.partition_oid::regclass, p_pol.lock_timeout);
  if not exists (select from retention_internal._detached_left(p_pol.target) d
                  where d.ready and d.run_id = v_p.run_id and d.batch_no = v_p.batch_no) then
    return true;  -- changed since it was listed: the next step looks again
  end if;
  perform set_config('lock_timeout', v_lock_ms, true);
  if retention_internal._citus_table(p_pol.target) or retention_internal._citus_table(v_p.partition_oid) then
    raise exception 'cannot act on %: it is a Citus distributed table', v_p.partition_name
      using errcode = 'RT013', hint = 'pg-retention does not act on Citus distributed tables yet (docs/scaling.md): attach the partition again or drop it by hand, and drop the policy.';
  end if;
  perform retention_internal._check_partition(v_p.partition_oid::regclass, true);
  -- Still what was detached, now that it is locked (whoever may write to it or attach
  -- to it since): made of the same tables, and no row in it that is not past the cutoff
  -- of the run that detached it (a row written into it since, or a table its owner
  -- attached again with other bounds before a concurrent detach). Else it is not
  -- finished: recorded as changed (no run takes it), left to the DBA, whom check_setup
  -- tells. The CHECK constraint a concurrent detach leaves lets constraint exclusion
  -- answer without reading a row; after a plain detach the age column's index does.
  select b.partition_tree, x.cutoff into v_tree, v_cutoff
    from retention.run_batches b join retention.runs x on x.run_id = b.run_id
   where b.run_id = v_p.run_id and b.batch_no = v_p.batch_no;
  perform set_config('constraint_exclusion', 'on', true);
  -- Not past it as the policy's eligibility reads the column (_cutoff_sql: a timestamp or
  -- date column on its wall clock in the policy's zones).
  execute format('select exists (select from %s t where t.%I is null or t.%I >= %s)',
                 retention.qualified_name(v_p.partition_oid::regclass), p_pol.age_column, p_pol.age_column,
                 retention_internal._cutoff_sql(p_pol, '$1'))
    into v_late using v_cutoff;
  if v_late or (v_tree is not null
                and v_tree is distinct from retention_internal._tree_oids(v_p.partition_oid::regclass)) then
    update retention.run_batches set partition_xmin = '0'::xid
     where run_id = v_p.run_id and batch_no = v_p.batch_no;
    raise warning 'policy %: detached partition % is not dropped: %; left for the DBA (check_setup names it)', p_pol.name, v_p.partition_name,
      case when v_late then 'it holds rows not past the cutoff ' || v_cutoff else 'tables were attached below it since it was detached' end;
    return true;
  end if;
  -- Detached by a run that died, and the policy keeps more now than when that run began
  -- (a longer period set since): rows the policy keeps now are not dropped for a dead
  -- run's cutoff. The partition is attached again, as a held one is; where it cannot be,
  -- it is left for the DBA (round atk85 F2).
  if v_p.run_id <> p_run.run_id and p_run.cutoff < v_cutoff then
    execute format('select exists (select from %s t where t.%I >= %s)',
                   retention.qualified_name(v_p.partition_oid::regclass), p_pol.age_column,
                   retention_internal._cutoff_sql(p_pol, '$1'))
      into v_late using p_run.cutoff;
    if v_late then
      perform retention_internal._attach_again(p_pol, v_p.run_id, v_p.batch_no,
        format('(detached by run %s) holds rows the policy keeps now (cutoff %s)', v_p.run_id, p_run.cutoff));
      return true;
    end if;
  end if;
  perform retention_internal._lock_holds_shared();
  -- The parent's rule (for the policy acting and the one whose run detached it), and the
  -- detached table's own (the subject columns policies name on it and the keys that name
  -- it count though it is no partition any more). A table that is, or holds, a foreign
  -- table is kept too: dropping it would not remove its rows on the other server.
  -- The tables the rules read up the keys locked first, in a statement of their own, and
  -- the rules built again if more came into their reach meanwhile (round atk117 F1).
  v_chain := retention_internal._lock_hold_reads(array[p_pol.target::oid, v_p.partition_name::regclass::oid]);
  loop
    v_rule := format('select %s or %s or %s or exists (select from %s t where (%s) or (%s) or (%s))',
                 retention_internal._hold_scope_sql(p_pol.target, null, p_pol.name),
                 retention_internal._hold_scope_sql(p_pol.target, null, v_p.policy_name),
                 retention_internal._hold_scope_sql(v_p.partition_name::regclass, null, null),
                 v_p.partition_name, retention_internal._held_sql(p_pol.target, 't', p_pol.name, true),
                 retention_internal._held_sql(p_pol.target, 't', v_p.policy_name, true),
                 retention_internal._held_sql(v_p.partition_name::regclass, 't', null, true));
    v_grown := retention_internal._lock_hold_reads(array[p_pol.target::oid, v_p.partition_name::regclass::oid], v_chain);
    exit when v_grown <@ v_chain;
    v_chain := v_grown;
  end loop;
  execute v_rule into v_held;
  v_held := v_held or retention_internal._tree_held(v_p.partition_oid::regclass) or exists (select from pg_catalog.pg_class k
                               where k.relkind = 'f'
                                 and (k.oid = v_p.partition_oid
                                      or k.oid in (select t.relid from pg_catalog.pg_partition_tree(v_p.partition_oid::regclass) t)));
  if v_held then
    perform retention_internal._attach_again(p_pol, v_p.run_id, v_p.batch_no, 'is under a legal hold (or holds a foreign table)');
    return true;
  end if;
  if coalesce(p_pol.count, 'estimate') = 'estimate' and not retention_internal._archives(p_pol) then
    v_count := retention_internal._estimated_rows(v_p.partition_name::regclass);
    v_est := v_count is not null;
  end if;
  if not v_est then
    execute format('select count(*), min(%s) from %s t',
                   retention_internal._age_at_sql(p_pol, format('t.%I', p_pol.age_column)), v_p.partition_name)
      into v_count, v_oldest;
  end if;
  if retention_internal._archives(p_pol) then
    -- Its rows copied to the archive in this transaction, before it is dropped: a tuple
    -- per run of about 10,000 rows (ranges of each leaf's blocks, read by TID range), and
    -- the copies counted against the rows counted above.
    v_copied := 0;
    -- The leaves: the table itself, or (partitioned in turn) the tables below it.
    for v_leaf in select k.oid::regclass as rel, k.relkind,
                         pg_catalog.pg_relation_size(k.oid) / current_setting('block_size')::bigint as blocks
                    from pg_catalog.pg_class k
                   where k.relkind <> 'p'
                     and (k.oid = v_p.partition_name::regclass
                          or k.oid in (select l.relid from pg_catalog.pg_partition_tree(v_p.partition_name::regclass) l))
                   order by k.oid loop
      -- Its columns' types as they are now, under the lock: the application owns the
      -- detached table and its types, and a cast to json it made after the detach would
      -- run in json_agg as the owner (round atk113 F2); none made after this check.
      perform retention_internal._freeze_casts();
      perform retention_internal._check_archivable(v_leaf.rel, true);
      v_step := case when v_leaf.relkind = 'r' and v_leaf.blocks > 0
                     then greatest(1, (10000 * v_leaf.blocks / greatest(v_count, 1))::bigint) end;
      v_block := 0;
      loop
        execute format('with a as (insert into retention.archived_batches (run_id, batch_no, policy_name, rel, rel_name, depth, row_count, rows)
                                   select $1, $2, $3, $4, $5, 0, count(*), pg_catalog.json_agg(t.*) from %s t%s
                                   having count(*) > 0 returning row_count)
                        select coalesce(sum(row_count), 0) from a',
                       v_leaf.rel,
                       case when v_step is not null then ' where t.ctid >= $6 and t.ctid < $7' else '' end)
          into v_n
          using p_run.run_id, case when v_p.run_id = p_run.run_id then v_p.batch_no else p_run.batches + 1 end,
                p_pol.name, p_pol.target::oid, v_parent,
                format('(%s,0)', v_block)::tid, format('(%s,0)', v_block + coalesce(v_step, 0))::tid;
        v_copied := v_copied + v_n;
        v_block := v_block + coalesce(v_step, 0);
        exit when v_step is null or v_block >= v_leaf.blocks;
      end loop;
    end loop;
    if v_copied <> v_count then
      raise exception 'partition %: % rows copied to the archive, % counted', v_p.partition_name, v_copied, v_count
        using errcode = 'P0001', hint = 'Nothing was dropped; report this with the table''s definition.';
    end if;
  end if;
  if p_pol.archive_schema is not null then
    execute format('alter table %s set schema %I', v_p.partition_name, p_pol.archive_schema);
  else
    -- Dropping fires no trigger: its rows' objects are queued here, in the same transaction.
    perform retention_internal._queue_partition_objects(v_p.partition_name::regclass, p_pol.target, p_run.run_id);
    execute format('drop table %s', v_p.partition_name);
  end if;
  if v_p.run_id = p_run.run_id then
    update retention.run_batches
       set rows = v_count, disposition = case when p_pol.archive_schema is not null then 'archived' else 'dropped' end,
           oldest_at = coalesce(v_oldest, oldest_at), finished_at = clock_timestamp(), estimated = v_est,
           duration_ms = duration_ms + extract(epoch from clock_timestamp() - v_start) * 1000
     where run_id = v_p.run_id and batch_no = v_p.batch_no;
  else
    -- Detached by a run that died before finishing it: this run drops and counts it.
    insert into retention.run_batches (run_id, batch_no, rows, started_at, finished_at,
                                       duration_ms, oldest_at, newest_at, partition_name,
                                       disposition, estimated, partition_oid, partition_parent)
    values (p_run.run_id, p_run.batches + 1, v_count, v_start, clock_timestamp(),
            extract(epoch from clock_timestamp() - v_start) * 1000,
            coalesce(v_oldest, v_p.oldest_at), v_p.newest_at, v_p.partition_name,
            case when p_pol.archive_schema is not null then 'archived' else 'dropped' end, v_est,
            v_p.partition_oid, p_pol.target::oid);
  end if;
  update retention.runs
     set affected = affected + v_count, estimated = estimated or v_est,
         batches = batches + case when v_p.run_id <> p_run.run_id then 1 else 0 end
   where run_id = p_run.run_id;
  raise notice 'policy %: partition % % (% rows, up to %)', p_pol.name, v_p.partition_name,
    case when p_pol.archive_schema is not null then 'moved to ' || quote_ident(p_pol.archive_schema) else 'dropped' end,
    case when v_est then 'about ' else '' end || v_count, v_p.newest_at;
  return true;
end
$$;
comment on function retention_internal._finish_partition(retention.runs, retention.policies) is
  'Internal. Step 2 of a drop_partitions run: finishes the oldest partition a run detached (this one''s or a dead run''s): re-checks holds (held: attached again), counts or estimates its rows (the policy''s count), drops or archives it and records it in the ledger. False when none is left.';

-- A partition handed to the worker to detach CONCURRENTLY (recorded 'detaching' by
-- _detach_partitions) is settled by the step after: this run's, whatever the worker did,
-- or one a run that ended left behind while it is still a partition of the table. Found
-- detached (by the worker's statement, or now by a FINALIZE of a detach a crash left
-- pending), the row becomes 'detached' with the version of the table's pg_class row, and
-- _finish_partition goes on as after a plain detach; found attached (the worker did not
-- detach it: an error, a lock timeout, a default partition made since), or gone, it
-- becomes 'not_detached' and this run detaches the plain way. One that a run that ended
-- left detached without recording it is not touched: nothing tells that table from one
-- changed by someone since; check_setup names it. Returns what it recorded, or NULL when
-- nothing was left to settle.
create or replace function retention_internal._settle_detaching(p_run retention.runs, p_pol retention.policies)
returns text
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_b       record;
  v_pending boolean;
  v_result  text;
begin
  select b.run_id, b.batch_no, b.partition_name, b.partition_oid into v_b
    from retention.run_batches b
    join retention.runs x on x.run_id = b.run_id
    left join pg_catalog.pg_class c on c.oid = b.partition_oid
   where b.disposition = 'detaching' and b.partition_parent = p_pol.target::oid
     and (b.run_id = p_run.run_id
          or ((x.status <> 'running' or not retention_internal._run_lock_held(x.policy_name, x.backend_pid)) and c.relispartition))
   order by b.run_id = p_run.run_id desc, b.run_id, b.batch_no  -- this run's first
   limit 1;
  if not found then
    return null;
  end if;
  perform set_config('lock_timeout', (extract(epoch from p_pol.lock_timeout) * 1000)::bigint::text, true);
  select i.inhdetachpending into v_pending
    from pg_catalog.pg_inherits i
   where i.inhrelid = v_b.partition_oid and i.inhparent = p_pol.target;
  if coalesce(v_pending, false) then
    -- Left pending (the worker's session ended, or its statement was cancelled, between
    -- the statement's two transactions): the detach is completed here, after the check
    -- of the tables PostgreSQL's check of it reads (round atk106 F1).
    perform retention_internal._check_key_neighbours(p_pol.target);
    execute format('alter table %s detach partition %s finalize',
                   retention.qualified_name(p_pol.target), retention.qualified_name(v_b.partition_oid::regclass));
  end if;
  if exists (select from pg_catalog.pg_class c where c.oid = v_b.partition_oid and not c.relispartition) then
    -- Recorded at once, taking no lock (a lock timeout here would leave it detached and
    -- unrecorded): what the table holds now is checked when it is finished, under its lock
    -- (_finish_partition: its rows against the cutoff, the tables it is made of, holds).
    v_result := 'detached';
    update retention.run_batches
       set disposition = 'detached', finished_at = clock_timestamp(),
           partition_xmin = (select c.xmin from pg_catalog.pg_class c where c.oid = v_b.partition_oid)
     where run_id = v_b.run_id and batch_no = v_b.batch_no;
    raise notice 'policy %: partition % detached concurrently from %', p_pol.name, v_b.partition_name,
      retention.qualified_name(p_pol.target);
  else
    v_result := 'not_detached';
    update retention.run_batches set disposition = 'not_detached', finished_at = clock_timestamp()
     where run_id = v_b.run_id and batch_no = v_b.batch_no;
    raise notice 'policy %: partition % was not detached concurrently: the run detaches the plain way', p_pol.name, v_b.partition_name;
  end if;
  return v_result;
end
$$;
comment on function retention_internal._settle_detaching(retention.runs, retention.policies) is
  'Internal. Settles a partition handed to the worker to detach concurrently (this run''s, or a pending one a run that ended left): detached (FINALIZE where pending; recorded with its pg_class version) or not_detached. NULL when none is left.';

-- Whether the session's login may run a concurrent detach of a partition of p_table: the
-- statement runs outside any routine, as the login, and PostgreSQL's own checks inside it
-- run code the tables' owners can add after the step that handed the partition over
-- checked (a partition's CHECK, an index on a referencing table): with the login's rights
-- (round atk113 F6; SET ROLE to the table's owner was tried, and that code can reset the
-- role). So only where that is no gain to them: every table the detach reads (the tree,
-- and the tables its keys join) is a superuser's, or the login has no rights those owners
-- lack but the worker's own — not a superuser, without CREATEROLE or REPLICATION (which
-- reads every table's changes through a logical slot), and a member of no role
-- but those owners, retention_runner, retention_archiver and the predefined roles that
-- only read statistics and settings. (A login in another application's owner role would
-- lend this one's code that application's tables; one in retention_admin, the release of
-- holds; one in the retention owner, everything.) Elsewhere the run detaches the plain way.
create or replace function retention_internal._login_contained(p_table regclass)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  with recursive t(rel) as (select x from unnest(retention_internal._tree_oids(p_table)) x
                  union select a::oid from unnest(retention_internal._rel_and_ancestors(p_table)) a),
  n(rel) as (select t.rel from t
             union select c.conrelid from pg_catalog.pg_constraint c join t on c.confrelid = t.rel where c.contype = 'f'
             union select c.confrelid from pg_catalog.pg_constraint c join t on c.conrelid = t.rel where c.contype = 'f'),
  owners(oid, rolsuper) as (select distinct o.oid, o.rolsuper
                              from n join pg_catalog.pg_class k on k.oid = n.rel join pg_catalog.pg_roles o on o.oid = k.relowner)
  select not exists (select from owners o where not o.rolsuper)
      or coalesce((select not r.rolsuper and not r.rolcreaterole and not r.rolreplication
                          and not exists (select from pg_catalog.pg_roles g
                                           where g.oid <> r.oid and pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')
                                             and g.oid not in (select o.oid from owners o)
                                             and g.rolname not in ('retention_runner', 'retention_archiver', 'pg_monitor',
                                                                   'pg_read_all_settings', 'pg_read_all_stats', 'pg_stat_scan_tables'))
                     from pg_catalog.pg_roles r where r.rolname = session_user), false)
$$;
comment on function retention_internal._login_contained(regclass) is
  'Internal. Whether the session''s login may detach a partition of the table concurrently: every table of its tree and of its keys'' checks is a superuser''s, or the login is no superuser, has no CREATEROLE or REPLICATION and is a member of no role but those tables'' owners, retention_runner, retention_archiver and the predefined roles that read statistics and settings.';
revoke all on function retention_internal._login_contained(regclass) from public;

-- The statement the worker runs when run_step returns 'detach': the partition this
-- session's run handed over, detached CONCURRENTLY (it cannot run inside a function or a
-- transaction block, so the worker issues it between steps, as its own login; the next
-- step records what it did), with the policy's lock_timeout for it. No row when the run
-- is not waiting for one.
-- (Dropped first: a schema migrated at an unreleased commit of stop 44 has it with a third
-- column, run_as, and a function's columns cannot change in place.)
drop function if exists retention.detach_statement(bigint);
create or replace function retention.detach_statement(p_run_id bigint)
returns table (statement text, lock_timeout interval)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select format('ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY',
                retention.qualified_name(b.partition_parent::regclass), retention.qualified_name(b.partition_oid::regclass)),
         (r.spec #>> '{policy,lock_timeout}')::interval
    from retention.runs r
    join retention.run_batches b on b.run_id = r.run_id and b.batch_no = (r.state ->> 'detaching')::int
   where r.run_id = p_run_id and r.status = 'running' and r.state ->> 'phase' = 'detaching'
     and r.backend_pid = pg_catalog.pg_backend_pid() and b.disposition = 'detaching'
$$;
comment on function retention.detach_statement(bigint) is
  'The ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (and the policy''s lock_timeout for it) a worker runs when run_step returned ''detach'' for the run this session opened, then it steps again; no row otherwise.';

-- A run acts on no table that is, or is below, a partition a run detached from the table
-- above it and did not finish (dropped, archived or attached again): that partition's
-- rows are under the holds of the table it came from, which a policy on the detached
-- table does not apply; the run of the policy it was detached by finishes it, under
-- those holds. 55000 otherwise.
create or replace function retention_internal._check_not_detached(p_rel regclass)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_b record;
begin
  select b.partition_oid, b.partition_parent, r.policy_name into v_b
    from retention.run_batches b
    join retention.runs r on r.run_id = b.run_id
    join pg_catalog.pg_class c on c.oid = b.partition_oid and not c.relispartition
   where b.disposition in ('detached', 'detaching')
     -- under its name still (an OID can be reused by a new table long after)
     and pg_catalog.to_regclass(b.partition_name) is not distinct from c.oid::regclass
     and b.partition_oid = any (retention_internal._rel_and_ancestors(p_rel)::oid[])
     and not exists (select from retention.run_batches b2
                      where b2.partition_oid = b.partition_oid
                        and b2.disposition in ('dropped', 'archived', 'reattached')
                        and (b2.run_id, b2.batch_no) > (b.run_id, b.batch_no))
   limit 1;
  if found then
    raise exception '% was detached from % by a run of policy % and not finished: a run of another policy may not act on it', v_b.partition_oid::regclass,
      coalesce(retention.qualified_name(v_b.partition_parent::regclass), 'a table no longer there'), v_b.policy_name
      using errcode = '55000',
            hint = format('The next run of policy %s finishes it, under the holds of the table it came from (check_setup says what stops it); or attach it again.', v_b.policy_name);
  end if;
end
$$;
comment on function retention_internal._check_not_detached(regclass) is
  'Internal. 55000 when the table, or a table above it, is a partition a run detached and did not finish: only the run of that partition''s policy acts on it.';
