-- Setup checks for DBAs: what would make purges slow or fail, and policies that are
-- declared but not enforced (disabled, or never run). Each problem comes with the exact
-- statement that fixes it:
--  * the index a policy's batches walk: its age column, partial where only some rows can
--    ever be eligible (soft_delete: not yet deleted; purge_soft_deleted: deleted);
--  * an index on the referencing columns of every foreign key into the table, without
--    which each deleted row scans the referencing table;
--  * the runner's privileges (for drop_partitions: membership in the table owner's role,
--    which DETACH and DROP require, and CREATE on the archive schema);
--  * pg_partman retention configured on the same table (two tools would drop partitions);
--  * partitions a drop_partitions run detached but could not drop yet, or handed to the
--    worker to detach concurrently and did not see detached;
--  * row-level security that binds the retention owner (runs refuse it);
--  * a max_replication_lag the schema's owner cannot measure (pg_read_all_stats);
--  * a subject column of a policy or erasure rule renamed or dropped (runs fail, RT002);
--  * a timestamp or date age column that names no zone while the database's TimeZone is
--    not the installation's default (read in both, its rows may go late);
--  * the event trigger that records what open holds rely on missing (retention_watch_ddl);
--  * an owner that cannot see other roles' transactions (monthly reports, RT040) or read
--    the server's configuration files (a TimeZone set there, for timestamp age columns).
-- The rows of check_setup (which runs it as the owner, in a subtransaction).
create or replace function retention_internal._check_setup_rows()
returns table (policy text, problem text, fix text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  p        retention.policies;
  v_tbl    text;
  v_fix    text;
  v_where  text;
  v_rls    text;
  v_fk     record;
  v_left   record;
  v_partman text;
  v_retention text;
  v_pm_name text;
  -- The zone the database's sessions start in (ALTER DATABASE ... SET timezone), and the
  -- installation's default for timestamp columns; never the caller's session TimeZone.
  v_db_zone text := retention_internal._database_zone();
  v_zone    text := coalesce((select s.value from retention.settings s where s.name = 'timestamp_zone'), 'UTC');
begin
  select n.nspname into v_partman
    from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
   where e.extname = 'pg_partman';
  for p in select * from retention.policies order by name loop
    v_tbl := retention.qualified_name(p.target);
    policy := p.name;
    if v_tbl is null then
      problem := 'the policy''s table no longer exists';
      fix := format('SELECT retention.drop_policy(%L);', p.name);
      return next; continue;
    end if;
    if retention_internal._column_type(p.target, p.age_column) is null then
      problem := format('column %s no longer exists', p.age_column);
      fix := format('SELECT retention.drop_policy(%L); -- or set_policy with the new column', p.name);
      return next; continue;
    end if;
    -- A subject column (a policy's or an erasure rule's on the table's tree) renamed or
    -- dropped since: every run of the table fails (RT002) rather than let holds lapse.
    begin
      perform retention_internal._subject_columns(p.target);
    exception when sqlstate 'RT002' then
      get stacked diagnostics v_fix = pg_exception_hint;
      problem := sqlerrm || ': its runs fail until it is fixed';
      fix := v_fix;
      return next; continue;
    end;
    -- A timestamp or date age column without its own zone while the database's TimeZone
    -- is not the installation's default: read in UTC, the default and the database's
    -- zone, the latest reading deciding, its rows go never early but up to the zones'
    -- difference late for an application writing in only one of them.
    if p.timestamp_zone is null and v_db_zone is not null and v_db_zone <> v_zone
       and retention_internal._column_type(p.target, p.age_column) in ('timestamp'::regtype, 'date'::regtype) then
      problem := format('the age column %I is %s and the policy names no zone, while the database''s TimeZone is %s and the default %s: it is read in %s, the latest reading deciding, so its rows may go up to the zones'' difference late',
                        p.age_column, retention_internal._column_type(p.target, p.age_column), v_db_zone, v_zone,
                        array_to_string(retention_internal._timestamp_zones(p), ', '));
      fix := format('SELECT retention.alter_policy(%L, p_timestamp_zone => %L); -- the zone the application writes %I in (or retention.set_default_timestamp_zone for every policy)',
                    p.name, v_db_zone, p.age_column);
      return next;
    end if;
    v_where := case p.action
                 when 'soft_delete' then format(' WHERE %I IS NULL', p.deleted_at_column)
                 when 'purge_soft_deleted' then format(' WHERE %I IS NOT NULL', p.age_column)
                 when 'scrub' then case when p.scrubbed_at_column is not null
                                        then format(' WHERE %I IS NULL', p.scrubbed_at_column) else '' end
                 else '' end;
    if not exists (
      select from pg_catalog.pg_index i
       where i.indrelid = p.target and i.indisvalid
         and i.indkey[0] = (select attnum from pg_catalog.pg_attribute
                             where attrelid = p.target and attname = p.age_column)) then
      problem := format('no index leads with the age column %s: every batch scans the table', p.age_column);
      -- A partitioned table's index cannot be built CONCURRENTLY in one statement.
      fix := case when p.action = 'drop_partitions'
                  then format('CREATE INDEX ON %s (%I); -- only needed for rows kept by a subject hold', v_tbl, p.age_column)
                  else format('CREATE INDEX CONCURRENTLY ON %s (%I)%s;', v_tbl, p.age_column, v_where) end;
      return next;
    end if;
    if p.action in ('delete', 'purge_soft_deleted', 'scrub') then
      for v_fk in
        select c.conname, c.conrelid::regclass as rel,
               string_agg(quote_ident(a.attname), ', ' order by k.ord) as cols
          from pg_catalog.pg_constraint c
          cross join lateral unnest(c.conkey) with ordinality k(attnum, ord)
          join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
         where c.contype = 'f' and c.confrelid = p.target and c.conparentid = 0
           and (p.action <> 'scrub' or c.conrelid = any (p.revoke_tables))
           and not exists (
             select from pg_catalog.pg_index i
              where i.indrelid = c.conrelid and i.indisvalid and i.indpred is null
                and array(select u.k from unnest(i.indkey::int2[]) with ordinality u(k, n)
                           where u.n <= cardinality(c.conkey) order by u.n) = c.conkey)
         group by c.conname, c.conrelid
         order by 2, 1
      loop
        problem := format('no index on %s (%s) for foreign key %I: each %s row scans %s',
                          retention.qualified_name(v_fk.rel), v_fk.cols, v_fk.conname,
                          case when p.action = 'scrub' then 'scrubbed' else 'deleted' end,
                          retention.qualified_name(v_fk.rel));
        fix := format('CREATE INDEX CONCURRENTLY ON %s (%s);', retention.qualified_name(v_fk.rel), v_fk.cols);
        return next;
      end loop;
    end if;
    foreach v_fix in array coalesce(string_to_array(retention_internal._privilege_gap(p, 'retention_runner'), E'\n'), '{}') loop
      problem := case when p.action = 'drop_partitions' and v_fix like 'GRANT CREATE%'
                      then format('role retention_runner cannot move partitions into schema %I', p.archive_schema)
                      when p.action = 'drop_partitions'
                      then format('role retention_runner cannot detach or drop partitions of %s: only its owner %I can', v_tbl,
                                  (select c.relowner::regrole::name from pg_catalog.pg_class c where c.oid = p.target))
                      when v_fix like 'GRANT SELECT, DELETE ON%' and p.action = 'scrub'
                      then format('role retention_runner cannot revoke rows of %s', split_part(split_part(v_fix, ' ON ', 2), ' TO ', 1))
                      else format('role retention_runner lacks privileges on %s', v_tbl) end;
      fix := v_fix;
      return next;
    end loop;
    if p.action = 'drop_partitions' then
      for v_left in
        select d.partition_name, d.run_id, d.ready, d.partition_oid from retention_internal._detached_left(p.target) d
         order by d.run_id, d.batch_no
      loop
        if v_left.ready then
          problem := format('partition %s was detached by run %s but not dropped yet: its rows are out of the table and not yet counted',
                            v_left.partition_name, v_left.run_id);
          fix := format('CALL retention.run(%L); -- finishes it (retention.runs says why run %s stopped)', p.name, v_left.run_id);
        else
          problem := format('partition %s was detached by run %s and changed since (now %s): no run will finish it; its rows are out of the table and not counted',
                            v_left.partition_name, v_left.run_id, v_left.partition_oid::regclass);
          fix := format('Attach it again (ALTER TABLE %s ATTACH PARTITION ...) or drop it by hand.', retention.qualified_name(p.target));
        end if;
        return next;
      end loop;
      -- Handed to a worker to detach concurrently by a run that ended before it recorded
      -- the detach: pending (the next run completes it), or detached (nothing tells that
      -- table from one changed by someone since: left to the DBA).
      for v_left in
        select b.partition_name, b.run_id, b.partition_oid, c.relispartition as pending
          from retention.run_batches b
          join retention.runs x on x.run_id = b.run_id
          join pg_catalog.pg_class c on c.oid = b.partition_oid
         where b.disposition = 'detaching' and b.partition_parent = p.target::oid
           and (x.status <> 'running' or not retention_internal._run_lock_held(x.policy_name, x.backend_pid))
           and (not c.relispartition
                or exists (select from pg_catalog.pg_inherits i where i.inhrelid = c.oid and i.inhdetachpending))
         order by b.run_id, b.batch_no
      loop
        if v_left.pending then
          problem := format('partition %s is still being detached concurrently (run %s ended before the detach did): its rows are out of the table''s sight and not yet counted',
                            v_left.partition_oid::regclass, v_left.run_id);
          fix := format('CALL retention.run(%L); -- completes the detach (FINALIZE) and drops it', p.name);
        else
          problem := format('partition %s was detached concurrently for run %s, which ended before it recorded the detach: no run will finish it; its rows are out of the table and not counted',
                            v_left.partition_oid::regclass, v_left.run_id);
          fix := format('Check it, then attach it again (ALTER TABLE %s ATTACH PARTITION ...) or drop it by hand.', retention.qualified_name(p.target));
        end if;
        return next;
      end loop;
      if v_partman is not null then
        -- pg_partman names its parent tables schema.table, unquoted.
        select n.nspname || '.' || c.relname into v_pm_name
          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where c.oid = p.target;
        execute format('select retention::text from %I.part_config where parent_table = $1', v_partman)
          into v_retention using v_pm_name;
        if v_retention is not null then
          problem := format('pg_partman also drops partitions of %s (part_config.retention = %s)', v_tbl, v_retention);
          fix := format('UPDATE %I.part_config SET retention = NULL WHERE parent_table = %L; -- let one tool own retention',
                        v_partman, v_pm_name);
          return next;
        end if;
      end if;
    end if;
    -- Row security that binds the owner (runs act as it) on the table, a partition, or a
    -- table the change reaches: runs refuse it (RT023, _check_rls_of).
    select r.rel::regclass::text into v_rls
      from retention_internal._reach(p.target, p.action in ('soft_delete', 'scrub')) r
     where pg_catalog.row_security_active(r.rel)
       and not (p.action = 'drop_partitions' and r.rel = p.target)  -- its partitions are read, not it
     order by r.rel
     limit 1;
    if v_rls is not null then
      problem := format('row-level security on %s applies to the retention owner %s: runs are refused (RT023), since they would not see every row',
                        v_rls, current_user);
      fix := format('ALTER ROLE %I BYPASSRLS; -- or take FORCE ROW LEVEL SECURITY off %s', current_user, v_rls);
      return next;
    end if;
    -- max_replication_lag reads pg_stat_replication as the schema's owner (the executor is
    -- SECURITY DEFINER): without the right to see other sessions' statistics the lag reads
    -- NULL and the throttle never waits.
    if p.max_replication_lag is not null
       and not (select r.rolsuper or pg_catalog.pg_has_role(r.oid, 'pg_read_all_stats', 'MEMBER')
                  from pg_catalog.pg_roles r where r.oid = (select n.nspowner from pg_catalog.pg_namespace n where n.nspname = 'retention')) then
      problem := 'max_replication_lag cannot see the standbys: the retention schema''s owner may not read pg_stat_replication''s lag';
      fix := format('GRANT pg_read_all_stats TO %I;',
                    (select pg_catalog.pg_get_userbyid(n.nspowner) from pg_catalog.pg_namespace n where n.nspname = 'retention'));
      return next;
    end if;
    if not p.enabled then
      problem := 'policy is disabled';
      fix := format('SELECT retention.set_policy(...) for %L with p_enabled => true, or drop it', p.name);
      return next;
    elsif not exists (select from retention.runs r where r.policy_id = p.policy_id) then
      problem := 'policy has never run';
      fix := format('CALL retention.run(%L, p_dry_run => true); -- then without p_dry_run', p.name);
      return next;
    end if;
  end loop;
  -- Partitions detached from a table no drop_partitions policy acts on any more (its
  -- policy was dropped, or set on another table): no run will finish them.
  for v_left in
    select r.policy_name, b.partition_name, b.run_id, t.rel, b.disposition
      from retention.run_batches b
      join retention.runs r on r.run_id = b.run_id
     cross join lateral (select coalesce(b.partition_parent, pg_catalog.to_regclass(r.spec #>> '{policy,target}')::oid) as rel) t
     where t.rel is not null
       -- a policy acts on it only while its table and age column are there
       and not exists (select from retention.policies x where x.action = 'drop_partitions' and x.target = t.rel
                        and retention_internal._column_type(x.target, x.age_column) is not null)
       and ((b.disposition = 'detached'
             and exists (select from retention_internal._detached_left(t.rel) d where d.run_id = b.run_id and d.batch_no = b.batch_no))
            -- handed to a worker to detach concurrently: detached or pending since
            or (b.disposition = 'detaching'
                and (r.status <> 'running' or not retention_internal._run_lock_held(r.policy_name, r.backend_pid))
                and exists (select from pg_catalog.pg_class c where c.oid = b.partition_oid
                             and (not c.relispartition
                                  or exists (select from pg_catalog.pg_inherits i where i.inhrelid = c.oid and i.inhdetachpending)))))
     order by b.run_id, b.batch_no
  loop
    policy := v_left.policy_name;
    problem := format('partition %s was detached from %s by run %s, and no drop_partitions policy acts on that table now: no run will finish it; its rows are out of the table and not counted',
                      v_left.partition_name, v_left.rel::regclass, v_left.run_id);
    fix := format('Attach it again (ALTER TABLE %s ATTACH PARTITION ...), or drop it by hand.', v_left.rel::regclass)
           || case when v_left.disposition = 'detaching'
                   then ' A detach still pending is finished first: ALTER TABLE ... DETACH PARTITION ... FINALIZE.' else '' end;
    return next;
  end loop;
  -- Without the event trigger (only a superuser may create one), what holds rely on is
  -- recorded when holds are placed and runs open, not when the application changes it.
  if not exists (select from pg_catalog.pg_event_trigger e where e.evtname = 'retention_watch_ddl' and e.evtenabled <> 'D')
     and exists (select from retention_internal._open_holds) then
    policy := null;
    problem := 'the event trigger retention_watch_ddl is missing or disabled: a key or partition made and undone by the application between two runs is not recorded, and open holds do not follow it';
    fix := 'Run pg-retention migrate as a superuser once (it creates the event trigger), or ALTER EVENT TRIGGER retention_watch_ddl ENABLE.';
    return next;
  end if;
  -- An owner that cannot see other roles' transactions cannot store a monthly report
  -- (RT040: a transaction begun before the month's end may still commit into it).
  if not retention_internal._sees_all_sessions() then
    policy := null;
    problem := format('the retention owner %s cannot see other roles'' transactions: monthly reports are not stored (RT040) while another role is connected', current_user);
    fix := format('GRANT pg_read_all_stats TO %I;', current_user);
    return next;
  end if;
  -- An owner that cannot read the server's configuration files and command line does not
  -- see a TimeZone set there (ALTER SYSTEM, postgresql.conf, postgres -c timezone=…) for
  -- timestamp age columns; only the zone its own sessions start with stands in for it.
  if exists (select from retention.policies x
                join pg_catalog.pg_attribute a on a.attrelid = x.target and a.attname = x.age_column
                                              and a.attnum > 0 and not a.attisdropped
              where retention_internal._base_type(a.atttypid, -1) in ('timestamp without time zone', 'date'))
     and not retention_internal._reads_file_settings() then
    policy := null;
    problem := format('the retention owner %s cannot read the server''s configuration (pg_file_settings) or command line (postmaster.opts): a TimeZone set there after installation is seen only as its own sessions start with it, for timestamp and date age columns', current_user);
    fix := format('GRANT SELECT ON pg_catalog.pg_file_settings TO %1$I; GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO %1$I; GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO %1$I; -- or give each such policy p_timestamp_zone', current_user);
    return next;
  end if;
end
$$;
-- Whether the current role (the retention owner, in its routines) sees other roles'
-- sessions in pg_stat_activity: a superuser or a member of pg_read_all_stats.
create or replace function retention_internal._sees_all_sessions()
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select r.rolsuper or pg_catalog.pg_has_role(r.oid, 'pg_read_all_stats', 'MEMBER')
    from pg_catalog.pg_roles r where r.rolname = current_user
$$;
comment on function retention_internal._sees_all_sessions() is
  'Internal. Whether the current role sees other roles'' sessions (superuser or pg_read_all_stats).';

-- Whether the current role may read pg_file_settings (the server's configuration files).
create or replace function retention_internal._reads_file_settings()
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
begin
  perform from pg_catalog.pg_file_settings limit 1;
  perform pg_catalog.pg_read_file('postmaster.opts');
  return true;
exception when insufficient_privilege then
  return false;
end
$$;
comment on function retention_internal._reads_file_settings() is
  'Internal. Whether the current role may read pg_file_settings and the server''s command line (postmaster.opts).';
comment on function retention_internal._check_setup_rows() is
  'Internal. The rows of retention.check_setup.';
revoke all on function retention_internal._check_setup_rows() from public;

-- The checks read the policies' tables (row security, partitions, indexes), taking
-- locks: in a subtransaction rolled back once the rows are read, so that none outlasts
-- the call (a reader's ACCESS SHARE on a partition, kept while its transaction stayed
-- open, stopped a drop_partitions run on its lock timeout: round atk135 F2).
create or replace function retention.check_setup()
returns table (policy text, problem text, fix text)
language plpgsql
security definer
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rows jsonb;
begin
  begin
    v_rows := (select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r) order by r.n), '[]')
                 from (select x.*, row_number() over () as n from retention_internal._check_setup_rows() x) r);
    raise exception using errcode = 'RTREL';
  exception when sqlstate 'RTREL' then
    null;
  end;
  return query select y.policy, y.problem, y.fix from pg_catalog.jsonb_to_recordset(v_rows) as y(policy text, problem text, fix text);
end
$$;
comment on function retention.check_setup() is
  'Lists setup problems per policy with the exact statement that fixes each: the missing age-column index (partial where the action allows), missing indexes behind foreign keys into the table, missing runner privileges (table owner membership for drop_partitions), pg_partman retention on the same table, partitions detached but not yet dropped, dropped tables or columns, a timestamp or date age column naming no zone while the database''s TimeZone is not the default, disabled or never-run policies.';
