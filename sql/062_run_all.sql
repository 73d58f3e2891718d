-- Runs the named policies in order (open_run, then run_step until it ends; a commit after
-- each step). Each is isolated: a refusal or failure is recorded in that policy's run and
-- the others still run; a cancel (statement_timeout, pg_cancel_backend) stops them all.
create or replace procedure retention.run_policies(
  p_names        text[],
  p_dry_run      boolean default false,
  p_as_of        timestamptz default null,
  p_only_enabled boolean default false
)
language plpgsql
as $$
declare
  v_name   pg_catalog.text;
  v_run_id pg_catalog.int8;
  v_status pg_catalog.text;  -- qualified: DECLARE types resolve with the caller's path
  v_ctx    pg_catalog.text;
begin
  commit;  -- in a transaction block: refused here, before anything is taken (see run)
  perform retention.pin_session();
  -- Again: this transaction began at the caller's isolation (repeatable read, say), and
  -- what follows reads application tables at read committed only (_check_planner_code).
  commit;
  -- A list with a name no policy has, or a NULL, is refused before anything runs: a typo
  -- in the DBA's list went by as a warning while the other names ran (round atk152 F3). A
  -- policy dropped once the loop began is still only said (below), and so is one dropped
  -- since run_all or run_due made their list (p_only_enabled).
  if p_names is null or pg_catalog.array_position(p_names, null) is not null then
    perform retention.unpin_session();
    raise exception 'run_policies needs a list of policy names, without NULLs'
      using errcode = 'RT022', hint = 'CALL retention.run_policies(array[''name'', ...]); CALL retention.run_all() runs every enabled policy. Nothing was run.';
  end if;
  select x.n into v_name from unnest(p_names) x(n)
   where not p_only_enabled and not exists (select from retention.policies p where pg_catalog.texteq(p.name, x.n)) limit 1;
  if found then
    perform retention.unpin_session();
    raise exception 'policy % does not exist', pg_catalog.quote_literal(v_name)
      using errcode = 'RT008', hint = 'SELECT name FROM retention.effective_policies lists the policies. Nothing was run.';
  end if;
  foreach v_name in array p_names loop
    -- run_all and run_due: a policy disabled since the list was made (an emergency stop)
    -- is left alone when its turn comes.
    if p_only_enabled and not exists (select from retention.policies x
                                       where pg_catalog.texteq(x.name, v_name) and x.enabled) then
      raise notice 'policy %: disabled since the call began: not run', v_name;
      continue;
    end if;
    begin
      perform pg_catalog.set_config('retention.detach_concurrently', 'off', true);  -- (as run() does)
      v_run_id := retention.open_run(v_name, p_dry_run, p_as_of);
    exception when query_canceled then
      perform retention.release_run_locks(null, null, v_name);
      raise;
    when others then
      perform retention.release_run_locks(null, null, v_name);
      if pg_catalog.texteq(sqlstate, 'RT022') then
        -- The arguments themselves (a future p_as_of, a NULL p_dry_run): nothing runs.
        perform retention.unpin_session();
        raise;
      end if;
      -- Dropped since the loop began, or the login may not run it: recorded nowhere, said here.
      -- Warnings reach the server's log: named as _warned_error names them (written out
      -- here: the caller may not use retention_internal), a message that may quote a row
      -- withheld (round atk104).
      get stacked diagnostics v_ctx = pg_exception_context;
      raise warning 'policy %: not run: %', v_name,
        case when pg_catalog.textregexeq(sqlstate, '^(RT|08|28|3D|40|25|53|55|57|58|42501$|42703$|42P01$|42704$|42883$)')
                  and not pg_catalog.textregexeq(coalesce(v_ctx, ''),
                                                 '(^|\n)PL/(?!pgSQL function (retention|retention_internal)[.])[A-Za-z0-9]+ function ')
             then pg_catalog.format('%s (%s)', pg_catalog.split_part(sqlerrm, '; it said: ', 1), sqlstate)
             else pg_catalog.format('SQLSTATE %s: message withheld (it may quote a row''s values; CALL retention.run(%L) alone raises it)',
                                    sqlstate, v_name) end;
      continue;
    end;
    commit;
    loop
      begin
        v_status := retention.run_step(v_run_id);
      exception when query_canceled or others then
        perform retention.release_run_locks(v_run_id);  -- (see run)
        raise;
      end;
      commit;
      exit when pg_catalog.textne(v_status, 'running');
    end loop;
    if pg_catalog.texteq(v_status, 'interrupted') then
      perform retention.release_run_locks(null);  -- run_due's lock
      perform retention.unpin_session();
      commit;  -- the caller's settings back for good before the error
      raise exception 'policy %: run % interrupted', v_name, v_run_id
        using errcode = 'query_canceled',
              hint = 'The batches committed before the cancel are counted in the ledger; the next run carries on.';
    end if;
  end loop;
  perform retention.unpin_session();
end
$$;
comment on procedure retention.run_policies(text[], boolean, timestamptz, boolean) is
  'Runs the named policies in order, each isolated: a refusal or failure of one is recorded in its run and does not stop the others (run_all and run_due call it); p_only_enabled: skip one disabled by the time its turn comes. A NULL list or name (RT022) or, unless p_only_enabled, a name no policy has (RT008) is refused before anything runs.';

-- Runs every enabled policy in name order.
create or replace procedure retention.run_all(
  p_dry_run boolean default false,
  p_as_of   timestamptz default null
)
language plpgsql
as $$
declare
  v_names pg_catalog.text[] := array(select p.name from retention.policies p where p.enabled order by p.name);
begin
  call retention.run_policies(v_names, p_dry_run, p_as_of, true);
end
$$;
comment on procedure retention.run_all(boolean, timestamptz) is
  'Runs every enabled policy; a refusal or failure of one is recorded in its run and does not stop the others.';

-- The enabled policies whose schedule came due and that have not run since: the last
-- occurrence at or before now (in the policy's time zone) is after the policy was
-- created, and no live run of it started at or after that occurrence. One attempt per
-- occurrence: a run that fails or is refused waits for the next one (and is in the
-- ledger, and the outbox, as any run is).
create or replace function retention.due_policies(p_at timestamptz default now())
returns table (policy text, due_at timestamptz, schedule text, time_zone text, last_run_at timestamptz)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select retention_internal._check_moment(p_at, 'p_at');
  select e.name, d.due, e.effective_schedule, e.time_zone,
         (select max(r.started_at) from retention.runs r where r.policy_id = e.policy_id and r.mode = 'live')
    from retention.effective_policies e
    join retention.policies p on p.policy_id = e.policy_id
    cross join lateral (select retention_internal._cron_step(e.effective_schedule, e.time_zone, p_at, false) as due) d
   where e.enabled and not e.target_missing
     and d.due is not null and d.due >= p.created_at
     and not exists (select from retention.runs r
                      where r.policy_id = e.policy_id and r.mode = 'live' and r.started_at >= d.due)
   order by e.name
$$;
comment on function retention.due_policies(timestamptz) is
  'The enabled policies whose schedule came due (its last occurrence at or before p_at, after the policy''s creation) with no live run since: what run_due runs. RT022 for a p_at that is not finite or lies within 1000 years of the ends of the timestamp range.';

-- Runs the policies whose schedule is due (due_policies), each isolated as in run_all: for
-- scheduling from the database (pg_cron) instead of the worker. Call it every minute:
--   SELECT cron.schedule('pg-retention', '* * * * *', 'CALL retention.run_due()');
-- A session advisory lock keeps two calls from overlapping (a second returns at once; one
-- that ends in an error keeps it until its session ends, as pg_cron's do after each job);
-- each policy's run takes its own lock too, as with the worker.
create or replace procedure retention.run_due()
language plpgsql
as $$
declare
  v_names pg_catalog.text[];
begin
  commit;  -- in a transaction block: refused here, before its lock is taken (see run)
  if not pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('retention.run_due')) then
    -- A WARNING, with who holds the lock: any session can take an advisory lock, so a
    -- holder that is not run_due is worth seeing in pg_cron's log.
    raise warning 'run_due: another session (pid %) holds its lock; nothing started',
      (select l.pid from pg_catalog.pg_locks l
        where pg_catalog.texteq(l.locktype, 'advisory') and l.granted
          and pg_catalog.int4eq(l.objid::pg_catalog.int4, pg_catalog.hashtext('retention.run_due')) limit 1);
    return;
  end if;
  v_names := array(select d.policy from retention.due_policies() d);
  commit;
  call retention.run_policies(v_names, false, null, true);
  perform pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('retention.run_due'));
end
$$;
comment on procedure retention.run_due() is
  'Runs the enabled policies whose schedule is due and that have not run since (due_policies), each isolated as in run_all: schedule it with pg_cron every minute instead of running the worker.';
