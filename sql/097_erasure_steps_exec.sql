-- The steps of processing an erasure request (process_erasure loops over them, committing
-- after each). Both are SECURITY DEFINER: the request's plan, progress and evidence are
-- written only here, so they say what happened whoever calls them.

-- Records that a legal hold blocks an erasure request (status blocked_by_hold, with the
-- reason), audit-logged without naming the subject.
create or replace function retention_internal._block_erasure(p_request bigint, p_subject_hash text, p_hold_id bigint, p_reason text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  update retention.erasure_requests
     set status = 'blocked_by_hold', status_reason = p_reason, step_run = null
   where request_id = p_request;
  perform retention_internal._append_audit('erasure.blocked', 'erasure_request', p_request::text,
    jsonb_strip_nulls(jsonb_build_object('subject_hash', p_subject_hash, 'hold_id', p_hold_id)));
  perform retention_internal._unlock_run(format('erasure:%s', p_request));
  raise notice 'erasure request % blocked: %', p_request, p_reason;
end
$$;
comment on function retention_internal._block_erasure(bigint, text, bigint, text) is
  'Internal. Records that a legal hold blocks an erasure request (status blocked_by_hold, with the reason) and releases its lock.';

-- Begins a processing of an erasure request: checks it (RT031 unknown or completed,
-- RT006 batch size), takes its lock (55006 while another session processes it), marks
-- step runs a dead session left running interrupted, works out the plan in running order
-- (_erasure_steps, _erasure_order), checks that the session's login may change every
-- table of it (42501), and then:
--  * a legal hold on the subject, or on a table of the plan that holds their rows: status
--    blocked_by_hold with the hold's reason, nothing changed;
--  * a delete a foreign key would refuse (or cascade into rows that stay,
--    _erasure_conflicts): status failed with the conflict, nothing changed;
--  * otherwise status in_progress with the plan fixed in the request (audited); a scrub
--    step whose rows keep the person's text key (_kept_keys) carries the columns
--    (kept_key), which its evidence names.
-- Returns the request's status; the lock is kept only while in_progress.
-- The erasure rules and the policies' subject columns as one digest: a plan is made under
-- them, and its steps go on only while they stand (erasure_step, run_step: RT041).
create or replace function retention_internal._erasure_rules_version()
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select pg_catalog.md5(pg_catalog.concat_ws('|',
    (select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r) - 'updated_at' - 'updated_by' order by r.rule_id)::text
       from retention.erasure_rules r),
    (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(p.policy_id, p.target::oid, p.subject_column) order by p.policy_id)::text
       from retention.policies p where p.subject_column is not null)))
$$;
comment on function retention_internal._erasure_rules_version() is
  'Internal. A digest of the erasure rules and the policies'' subject columns: an erasure plan is made under one, and processing stops when it changes.';

-- Why a request being processed may not go on (its rules changed since its plan was made),
-- or NULL. A plan made by an earlier version carries no digest and is not checked.
create or replace function retention_internal._erasure_rules_moved(p_request bigint)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select 'the erasure rules or a policy''s subject column changed after processing began'
    from retention.erasure_requests q
   where q.request_id = p_request
     and q.plan -> 0 ? 'rules'
     and q.plan -> 0 ->> 'rules' is distinct from retention_internal._erasure_rules_version()
$$;
comment on function retention_internal._erasure_rules_moved(bigint) is
  'Internal. Why processing of an erasure request may not go on (its erasure rules or subject columns changed since its plan was made), or NULL.';

create or replace function retention.open_erasure(p_request bigint, p_batch_size integer default 1000)
returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
-- Short statements over the catalog and a batch's rows: JIT compiling them costs more than
-- it saves (milliseconds on every call, per batch).
set jit = off
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_req  retention.erasure_requests;
  v_hold record;
  v_plan jsonb;
  v_err  text;
  v_s    record;
  v_dead record;
  v_pol  retention.policies;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('process an erasure request');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  perform retention_internal._check_fresh_clock();
  select * into v_req from retention.erasure_requests r where r.request_id = p_request;
  if not found then
    raise exception 'erasure request % does not exist', p_request
      using errcode = 'RT031', hint = 'SELECT * FROM retention.erasure_overview lists them.';
  end if;
  if v_req.status = 'completed' then
    raise exception 'erasure request % is already completed', p_request
      using errcode = 'RT031', hint = 'Its evidence is in retention.erasure_evidence.';
  end if;
  if p_batch_size is null or p_batch_size not between 1 and 50000 then
    raise exception 'batch size must be between 1 and 50000, got %', p_batch_size
      using errcode = 'RT006', hint = 'The default of 1000 rows keeps each batch''s locks short.';
  end if;
  -- One processing of a request at a time (the run lock's namespace; a policy name cannot
  -- hold ':'); steps a dead session left running are interrupted.
  if not retention_internal._try_lock_run(format('erasure:%s', p_request)) then
    raise exception 'erasure request % is being processed by another session: %', p_request,
          coalesce(retention_internal._run_lock_holder(format('erasure:%s', p_request)), 'session unknown')
      using errcode = '55006', hint = 'Wait for it to finish, or stop its run (retention.request_stop(run_id), see retention.runs where request_id = ...). A session idle for long holds it after a cancel that came while its procedure committed between two steps: its next run, run_all, run_due or process_erasure lets go, or end it.';
  end if;
  begin
    for v_dead in
      update retention.runs set status = 'interrupted', finished_at = clock_timestamp(),
             error = 'the session running it ended before the run finished'
       where request_id = p_request and status = 'running'
      returning run_id, affected, erasure_table
    loop
      perform retention_internal._append_audit('run.interrupted', 'erasure_request', p_request::text,
        jsonb_build_object('run_id', v_dead.run_id, 'affected', v_dead.affected, 'table', v_dead.erasure_table,
                           'error', 'the session running it ended before the run finished'));
    end loop;
    perform retention_internal._lock_holds_shared();
    if retention.qualified_name(v_req.subject_table) is null then
      raise exception 'erasure request %: its subject table no longer exists', p_request
        using errcode = 'RT031', hint = 'The table was dropped after the request was filed.';
    end if;
    select retention_internal._erasure_order(jsonb_agg(to_jsonb(s))) into v_plan
      from retention_internal._erasure_steps(p_request) s;
    -- Never the system's, pg-retention's or the job queue's tables (a request filed before
    -- request_erasure refused such a subject table, or a key leading there).
    select x.target into v_err
      from jsonb_to_recordset(v_plan) as x(target text)
     where retention_internal._system_namespace((select c.relnamespace from pg_catalog.pg_class c where c.oid = x.target::regclass))
     limit 1;
    if v_err is not null then
      raise exception 'erasure request %: % is not an application table', p_request, v_err
        using errcode = 'RT013', hint = 'An erasure acts on application tables only; what pg-retention keeps of a person is forgotten by the erasure itself.';
    end if;
    for v_s in select x.target, x.rule, x.scrub
                 from jsonb_to_recordset(v_plan) as x(target text, rule text, scrub jsonb) where x.rule <> 'keep' loop
      if not has_schema_privilege(session_user, (select c.relnamespace from pg_catalog.pg_class c where c.oid = v_s.target::regclass), 'USAGE') then
        raise exception 'role % may not use schema of %', session_user, v_s.target
          using errcode = '42501',
                hint = format('A DBA grants it: GRANT USAGE ON SCHEMA %I TO %I;',
                              (select n.nspname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                                where c.oid = v_s.target::regclass), session_user);
      end if;
      -- A scrubbed column renamed or dropped since the rule was saved: RT002 names it.
      if v_s.rule = 'scrub' then
        v_pol := null;
        v_pol.target := v_s.target::regclass;
        v_pol.action := 'scrub';
        v_pol.scrub_columns := v_s.scrub;
        perform retention_internal._scrub_sql(v_pol);
      end if;
      if not has_table_privilege(session_user, v_s.target, 'SELECT')
         or (v_s.rule = 'delete' and not has_table_privilege(session_user, v_s.target, 'DELETE'))
         or (v_s.rule = 'scrub' and exists (select from jsonb_object_keys(coalesce(v_s.scrub, '{}')) c
                                             where not has_column_privilege(session_user, v_s.target, c, 'UPDATE'))) then
        raise exception 'role % may not % rows of %', session_user, v_s.rule, v_s.target
          using errcode = '42501',
                hint = format('A DBA grants it: GRANT SELECT, %s ON %s TO %I;',
                              case v_s.rule when 'delete' then 'DELETE'
                                   else format('UPDATE (%s)', (select string_agg(quote_ident(c), ', ' order by c)
                                                                from jsonb_object_keys(v_s.scrub) c)) end,
                              v_s.target, session_user);
      end if;
    end loop;
    for v_s in select x.target, x.rule from jsonb_to_recordset(v_plan) as x(target text, rule text) where x.rule <> 'keep' loop
      v_pol := null;
      v_pol.target := v_s.target::regclass;
      v_pol.action := v_s.rule;
      perform retention_internal._check_foreign_code(v_pol);
      perform retention_internal._check_rls(v_pol.target, v_pol.action = 'scrub');
    end loop;
    select * into v_hold from retention_internal._erasure_hold(v_plan, v_req.subject_table, v_req.subject_id);
    -- A delete a foreign key would refuse (or cascade into rows that stay) stops it before
    -- anything changes: the rules must say what happens to those rows first.
    select string_agg(format('%s: %s', e->>'target', w.warning), '; ' order by w.step) into v_err
      from retention_internal._erasure_conflicts(v_plan) w
      join jsonb_array_elements(v_plan) e on (e->>'step')::int = w.step;
    -- A scrub that leaves the person's text key in its rows (_kept_keys): the columns go
    -- into the plan, and the step's evidence says the key stayed.
    select jsonb_agg(e.x || coalesce((select jsonb_build_object('kept_key', k.cols)
                                        from retention_internal._kept_keys(v_plan, v_req.subject_table, v_req.subject_id) k
                                       where k.step = (e.x->>'step')::int), '{}') order by e.o)
      into v_plan
      from jsonb_array_elements(v_plan) with ordinality e(x, o);
  exception when query_canceled or others then
    perform retention_internal._unlock_run(format('erasure:%s', p_request));
    raise;
  end;
  -- Recording the outcome can fail too (the audit chain locked past lock_timeout, a
  -- cancel): the request's lock must not outlive it.
  begin
  if v_hold.held is not null then
    perform retention_internal._block_erasure(p_request, v_req.subject_hash, v_hold.hold_id, v_hold.reason);
    return 'blocked_by_hold';
  end if;
  if v_err is not null then
    update retention.erasure_requests set status = 'failed', status_reason = v_err, step_run = null
     where request_id = p_request;
    perform retention_internal._append_audit('erasure.failed', 'erasure_request', p_request::text,
      jsonb_build_object('subject_hash', v_req.subject_hash, 'conflict', v_err));
    perform retention_internal._unlock_run(format('erasure:%s', p_request));
    return 'failed';
  end if;
  -- The rules the plan was made under, for erasure_step and run_step to hold it to.
  v_plan := jsonb_set(v_plan, '{0,rules}', to_jsonb(retention_internal._erasure_rules_version()));
  -- When this processing began: the re-keyed-row check at completion counts its runs only.
  v_plan := jsonb_set(v_plan, '{0,opened_at}', to_jsonb(pg_catalog.clock_timestamp()));
  -- The plan's tables by OID: a table renamed while the erasure ran (and back after) is
  -- still known as one it reached (archive_restoring; round atk140 F4).
  v_plan := jsonb_set(v_plan, '{0,target_oids}',
                      coalesce((select jsonb_agg(distinct pg_catalog.to_regclass(e ->> 'target')::oid)
                                  from jsonb_array_elements(v_plan) e
                                 where pg_catalog.to_regclass(e ->> 'target') is not null), '[]'));
  update retention.erasure_requests
     set status = 'in_progress', status_reason = null, plan = v_plan, plan_step = 0, step_run = null,
         plan_batch_size = p_batch_size, processing_pid = pg_backend_pid(),
         plan_leaves = retention_internal._plan_leaves(v_plan)
   where request_id = p_request;
  -- A reason it had (a failed processing's, which may quote the application) is replaced:
  -- named by its hash, as an erasure names a message it changes (round atk129 F5).
  perform retention_internal._append_audit('erasure.processing', 'erasure_request', p_request::text,
    jsonb_build_object('subject_hash', v_req.subject_hash, 'steps', jsonb_array_length(v_plan))
    || case when v_req.status_reason is not null
            then jsonb_build_object('prior_status', v_req.status,
                                    'prior_status_reason_sha256', retention_internal._keyed_digest(v_req.status_reason))
            else '{}' end);
  return 'in_progress';
  exception when query_canceled or others then
    perform retention_internal._unlock_run(format('erasure:%s', p_request));
    raise;
  end;
end
$$;
comment on function retention.open_erasure(bigint, integer) is
  'Executor step of process_erasure: checks a request, takes its lock, fixes its plan (or records it blocked by a hold, or failed on a foreign-key conflict) and returns its status. Changes nothing in the subject''s tables.';

-- A table of the plan, found by its name, about to be read as the owner outside a step's
-- run (a step's re-count once its run ended, the completion's checks): the steps before
-- ran the application's triggers, and the application may have renamed the table and
-- put a view (whose query would run as the owner) in its place, or given it code a read
-- would run (round atk118 F2). Locked (ACCESS SHARE: nothing can rename, replace or alter
-- it until this commits), then found by its name again, then checked as a preview checks
-- what it reads (_read_hazard: still a table, no code a run refuses, no row security that
-- binds the owner). RT025 otherwise; NULL when no relation has the name.
create or replace function retention_internal._erasure_read_check(p_request bigint, p_target text, p_rule text)
returns regclass
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel regclass := pg_catalog.to_regclass(p_target);
  v_pol retention.policies;
  v_why text;
begin
  if v_rel is null then
    return null;
  end if;
  execute format('lock table only %s in access share mode', v_rel);
  if pg_catalog.to_regclass(p_target) is distinct from v_rel then
    v_why := format('%s was renamed or replaced while this waited for it', p_target);
  else
    v_pol.name := format('erasure-%s', p_request);
    v_pol.target := v_rel;
    v_pol.action := case p_rule when 'scrub' then 'scrub' else 'delete' end;
    v_why := retention_internal._read_hazard(v_pol);
  end if;
  if v_why is not null then
    raise exception '%: cannot read %: %', coalesce('erasure request ' || p_request, 'erasure plan'), p_target, v_why
      using errcode = 'RT025',
            hint = 'pg-retention reads the table as its owner: make it a table again (without code of another role, or row security that binds the owner), then process the request again.';
  end if;
  return v_rel;
end
$$;
comment on function retention_internal._erasure_read_check(bigint, text, text) is
  'Internal. Locks a table of an erasure plan by name (ACCESS SHARE) and returns it; RT025 where it was replaced meanwhile or reading it as the owner could run another role''s code or miss rows (_read_hazard); NULL when nothing has the name.';

-- Whether a table has column statistics (its own, inherited, its expression indexes', or
-- extended statistics objects) that may hold values. pg_statistic is a superuser's to
-- read: an owner that is none is answered by what it may read — the table analyzed or
-- vacuumed (its row count known), rows of pg_stats, statistics objects on it — which may
-- say yes where there are none, never no where there are (an erasure failed on a
-- permission error for such owners: stop 50).
create or replace function retention_internal._has_statistics(p_rel oid)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
begin
  if pg_catalog.has_table_privilege('pg_catalog.pg_statistic', 'SELECT') then
    return exists (select from pg_catalog.pg_statistic s
                    where s.starelid = p_rel
                       or s.starelid in (select i.indexrelid from pg_catalog.pg_index i where i.indrelid = p_rel))
        or exists (select from pg_catalog.pg_statistic_ext x where x.stxrelid = p_rel);
  end if;
  return exists (select from pg_catalog.pg_class c where c.oid = p_rel and c.reltuples >= 0)
      or exists (select from pg_catalog.pg_class c
                   join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                   join pg_catalog.pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname
                  where c.oid = p_rel)
      or exists (select from pg_catalog.pg_statistic_ext x where x.stxrelid = p_rel);
end
$$;
comment on function retention_internal._has_statistics(oid) is
  'Internal. Whether a table has column statistics (its own, its expression indexes'', statistics objects); for an owner that may not read pg_statistic, whether it may have (analyzed or vacuumed, pg_stats rows, statistics objects).';

-- The column statistics of the retention tables an erasure changed, taken again (ANALYZE)
-- as it completes: pg_stats' most common values and histograms kept the person's e-mail,
-- name and case references (any login with SELECT on a column reads them there) until the
-- next ANALYZE, which autovacuum makes only after a tenth of a table changed (round atk134
-- F2). The owner's own tables only: an application table's ANALYZE runs its index
-- expressions in the caller's session, where they acted in the admin's name and slept
-- with the holds gate held (round atk137 F1, F2); those tables are named for the DBA
-- instead. Only tables that have statistics; each in a subtransaction, waiting 2 seconds
-- at most for its lock. Returns those not refreshed and the error's SQLSTATE (never its
-- text: round atk137 F3).
create or replace function retention_internal._refresh_statistics(p_rels oid[])
returns jsonb
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_left jsonb := '[]';
  v_wait text := pg_catalog.current_setting('lock_timeout');
  v_me    record;
  v_empty boolean;
  r       record;
  a       record;
begin
  select u.oid into v_me from pg_catalog.pg_roles u where u.rolname = current_user;
  for r in select distinct c.oid, c.relowner
             from pg_catalog.pg_class c
            where c.oid = any (p_rels) and c.relkind in ('r', 'p', 'm')
              and retention_internal._has_statistics(c.oid)
            order by c.oid loop
    if r.relowner <> v_me.oid then
      v_left := v_left || pg_catalog.jsonb_build_object('table', retention.qualified_name(r.oid::regclass),
                                                        'reason', 'not the retention owner''s table');
      continue;
    end if;
    begin
      perform pg_catalog.set_config('lock_timeout', '2s', true);
      execute format('analyze %s', r.oid::regclass);
      perform pg_catalog.set_config('lock_timeout', v_wait, true);
      -- ANALYZE writes nothing from an empty sample: a table left empty keeps the
      -- statistics it had, which are cleared (round atk141 F2).
      execute format('select not exists (select from only %s)', r.oid::regclass) into v_empty;
      if v_empty then
        if pg_catalog.to_regprocedure('pg_catalog.pg_clear_attribute_stats(text,text,text,boolean)') is not null then
          for a in select distinct s.schemaname, s.tablename, s.attname, s.inherited
                     from pg_catalog.pg_class c
                     join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                     join pg_catalog.pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname
                    where c.oid = r.oid loop
            -- (Its name formatted in: PostgreSQL 15-17 have no such function to check.)
            execute format('select pg_catalog.%I($1, $2, $3, $4)', 'pg_clear_attribute_stats')
              using a.schemaname::text, a.tablename::text, a.attname::text, a.inherited;
          end loop;
        elsif (select u.rolsuper from pg_catalog.pg_roles u where u.oid = v_me.oid) then
          execute 'delete from pg_catalog.pg_statistic where starelid = $1' using r.oid;
        else
          v_left := v_left || pg_catalog.jsonb_build_object('table', retention.qualified_name(r.oid::regclass),
                                                            'reason', 'left empty: PostgreSQL keeps the statistics of an empty table; clearing them takes PostgreSQL 18 (pg_clear_attribute_stats) or a superuser');
        end if;
      end if;
    exception when others then
      v_left := v_left || pg_catalog.jsonb_build_object('table', retention.qualified_name(r.oid::regclass),
                                                        'reason', 'SQLSTATE ' || sqlstate);
    end;
  end loop;
  return v_left;
end
$$;
comment on function retention_internal._refresh_statistics(oid[]) is
  'Internal. ANALYZE of the given tables of the retention owner''s that have statistics (an erasure''s, as it completes: pg_stats kept the person''s values), the statistics of one left empty cleared; returns [{table, reason}] of those not refreshed.';

-- The next step of an erasure request this session is processing (open_erasure): first
-- the outcome of the step whose run just ended (its rows re-checked for holds placed
-- meanwhile, and for rows the run could not act on; its evidence from the ledger), then
-- kept tables' evidence, and then either the run of the next delete or scrub step (its
-- id returned: run_step does its batches) or, when the plan is done, completion: the
-- evidence of tables an earlier processing changed that the plan no longer has, keys
-- and messages of failed rows removed, the subject's key dropped (only subject_hash
-- stays), the audit entry and the erasure_completed notification, none naming the person.
-- Returns the run to step (NULL when there is none) and the request's status with the
-- message, code and hint of a failure or stop.
create or replace function retention.erasure_step(
  p_request bigint,
  out run_id  bigint,
  out status  text,
  out message text,
  out code    text,
  out hint    text
)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
-- Short statements over the catalog and a batch's rows: JIT compiling them costs more than
-- it saves (milliseconds on every call, per batch).
set jit = off
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_req   retention.erasure_requests;
  v_r     retention.runs;
  v_pol   retention.policies;
  v_step  record;
  v_hold  record;
  v_n     bigint;
  v_total bigint;
  v_related bigint;
  v_detached text;
  v_steps jsonb;
  v_forgot jsonb;
  v_archives jsonb;
  v_stats  jsonb;
  v_analyze text[];
  v_left  record;
  v_again boolean := false;
  v_rekeyed boolean := false;
  v_lock  text := format('erasure:%s', p_request);
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('process an erasure request');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  perform retention_internal._check_fresh_clock();
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'erasure_step runs at read committed, not %', current_setting('transaction_isolation')
      using errcode = '25001', hint = 'CALL retention.process_erasure(request_id) processes it.';
  end if;
  select * into v_req from retention.erasure_requests r where r.request_id = p_request;
  if not found or v_req.status <> 'in_progress' or not retention_internal._holds_run_lock(v_lock)
     or v_req.processing_pid is distinct from pg_backend_pid() then
    raise exception 'erasure request % is not being processed by this session', p_request
      using errcode = '55000', hint = 'CALL retention.process_erasure(request_id) processes it.';
  end if;
  loop
    v_step := null;
    if v_req.plan_step < jsonb_array_length(v_req.plan) then
      select * into v_step from jsonb_to_record(v_req.plan -> v_req.plan_step)
        as x(step int, depth int, target text, rule text, reason text, scrub jsonb, rows bigint, cond text);
    end if;
    if v_req.step_run is not null then
      -- The run of the current step has ended: its outcome.
      select * into v_r from retention.runs r where r.run_id = v_req.step_run;
      if v_r.status = 'running' then
        raise exception 'erasure request %: run % of step % has not ended', p_request, v_r.run_id, v_step.step
          using errcode = '55000', hint = 'Step it with retention.run_step(run_id) until it ends.';
      end if;
      run_id := null; code := v_r.error_code;
      if v_r.status = 'interrupted' then
        update retention.erasure_requests set step_run = null where request_id = p_request;
        perform retention_internal._unlock_run(v_lock);
        status := 'interrupted';
        message := format('erasure request %s: run %s of step %s interrupted: %s', p_request, v_r.run_id, v_step.step, v_r.error);
        hint := 'Its committed batches are counted in the ledger; process the request again to carry on.';
        return;
      end if;
      if v_r.status in ('stopped_requested', 'stopped_lock_timeout') then
        update retention.erasure_requests
           set step_run = null,
               status_reason = format('%s at %s (run %s); process it again to carry on',
                                      case v_r.status when 'stopped_requested' then 'stopped on request' else 'stopped on a lock timeout' end,
                                      v_step.target, v_r.run_id)
         where request_id = p_request;
        perform retention_internal._unlock_run(v_lock);
        status := v_r.status;
        message := format('erasure request %s: %s at %s, run %s', p_request, v_r.status, v_step.target, v_r.run_id);
        return;
      end if;
      message := v_r.error;
      v_pol := jsonb_populate_record(null::retention.policies, v_r.spec -> 'policy');
      if v_r.status = 'completed' then
        -- The step's table, read below by its name as the owner: still the table the run
        -- acted on, with nothing a read would run of another role (round atk118 F2).
        perform retention_internal._freeze_casts();
        perform retention_internal._erasure_read_check(p_request, v_step.target, v_step.rule);
        -- Rows left because a hold placed while the erasure ran covers them: blocked, and
        -- processing it again once the hold is released carries on.
        perform retention_internal._lock_holds_shared();
        select * into v_hold from retention_internal._erasure_hold(
          jsonb_build_array(jsonb_build_object('step', v_step.step, 'target', v_step.target, 'rule', v_step.rule,
                                               'cond', v_step.cond, 'scrub', v_step.scrub)),
          v_req.subject_table, v_req.subject_id);
        if v_hold.held is not null then
          perform retention_internal._block_erasure(p_request, v_req.subject_hash, v_hold.hold_id, v_hold.reason);
          status := 'blocked_by_hold';
          message := v_hold.reason;
          return;
        end if;
        -- Rows the executor could not act on (run_row_failures): the step is not done.
        execute format('select count(*) from only %s t where %s', v_step.target,
                       (retention_internal._policy_sql(v_pol, v_step.cond)).eligible)
          into v_n;
        if v_n > 0 then
          select f.error_code, f.error into code, hint
            from retention.run_row_failures f where f.run_id = v_r.run_id order by f.batch_no limit 1;
          code := coalesce(code, 'RT032');
          if v_r.affected >= (v_r.spec ->> 'limit')::bigint then
            message := format('%s row(s) of the person are still there after the step acted on %s rows, %s planned: something writes them back or inserts them again (a trigger?)',
                              v_n, v_r.affected, coalesce(v_step.rows, 0));
            code := 'RT032';
            hint := null;
          else
            message := format('%s row(s) could not be %s: %s (see retention.run_row_failures for run %s)', v_n,
                              case v_step.rule when 'delete' then 'deleted' else 'scrubbed' end,
                              coalesce(hint, 'locked or changed meanwhile'), v_r.run_id);
          end if;
          v_r.status := 'failed';
        end if;
      end if;
      if v_r.status <> 'completed' then
        update retention.erasure_requests
           set status = 'failed', status_reason = format('%s: %s (%s)', v_step.target, message, code), step_run = null
         where request_id = p_request;
        perform retention_internal._append_audit('erasure.failed', 'erasure_request', p_request::text,
          jsonb_build_object('subject_hash', v_req.subject_hash, 'table', v_step.target, 'error_code', code,
                             'run_id', v_r.run_id));
        perform retention_internal._unlock_run(v_lock);
        status := 'failed';
        message := format('erasure request %s: %s failed: %s', p_request, v_step.target, message);
        -- The step's own advice where its error gave one (rows written for the person
        -- meanwhile, values a trigger put back), else the usual cause.
        hint := coalesce(case when v_r.status = 'failed' then v_r.error_hint end,
                         'Rows elsewhere may still need these (a foreign key to rows that stay): change the rules, then process the request again.');
        return;
      end if;
      -- Messages written while the step ran that quote its rows' values (a policy run
      -- that failed on them meanwhile: round atk78 F8). The values stay until the request
      -- completes (_erase_step_values).
      perform retention_internal._erase_step_values(p_request);
      -- The evidence counts what the ledger counts for this table, over every run of it
      -- (step numbers change when the plan does between two processings).
      select coalesce(sum(r.affected), 0),
             coalesce((select sum(b.related_rows) from retention.run_batches b
                        where b.run_id in (select r2.run_id from retention.runs r2
                                            where r2.request_id = p_request and r2.erasure_table = v_step.target and r2.kind = 'erasure')), 0)
        into v_total, v_related
        from retention.runs r where r.request_id = p_request and r.erasure_table = v_step.target and r.kind = 'erasure';
      perform retention_internal._erasure_evidence(p_request, v_step.step, v_step.depth, v_step.target, v_step.rule,
        nullif(concat_ws('; ', v_step.reason,
                         'the person''s key stays in ' || nullif(v_req.plan -> v_req.plan_step ->> 'kept_key', '')
                           || ' (a key cannot be scrubbed)'), ''),
        v_total, v_related);
      v_req.plan_step := v_req.plan_step + 1;
      v_req.step_run := null;
      update retention.erasure_requests set plan_step = v_req.plan_step, step_run = null where request_id = p_request;
      continue;
    end if;
    -- The plan holds only under the rules it was made with: a rule changed since (a keep
    -- rule for a court order, another scrub) fails the request; processing again plans anew.
    message := retention_internal._erasure_rules_moved(p_request);
    if message is not null then
      update retention.erasure_requests
         set status = 'failed', status_reason = message || ' (RT041); process it again', step_run = null
       where request_id = p_request;
      perform retention_internal._append_audit('erasure.failed', 'erasure_request', p_request::text,
        jsonb_build_object('subject_hash', v_req.subject_hash, 'error_code', 'RT041'));
      perform retention_internal._unlock_run(v_lock);
      status := 'failed';
      code := 'RT041';
      message := format('erasure request %s: %s', p_request, message);
      hint := 'Process the request again: its plan is then made under the rules as they are now.';
      return;
    end if;
    if v_step is null then
      -- Every table of the plan the checks below read, locked and checked before any of
      -- them is read (_erasure_read_check), with the casts their comparisons use frozen.
      perform retention_internal._freeze_casts();
      perform retention_internal._erasure_read_check(p_request, e.target, e.rule)
         from jsonb_to_recordset(v_req.plan) as e(target text, rule text)
        where e.rule in ('delete', 'scrub');
      -- A table the plan would reach now but did not when processing began (a partition
      -- attached since, a table a key added since leads to) holds rows of the person that
      -- would stay. Not completed then: failed, and processing again plans them in.
      -- A partition attached since, whatever it holds (its rows may hang off rows the
      -- plan has deleted by now, which no plan made now would find): failed.
      select format('partition %s was attached to %s after processing began', l.relid::regclass, pg_catalog.pg_partition_root(l.relid))
        into message
        from unnest(retention_internal._plan_leaves(v_req.plan)) l(relid)
       where not l.relid = any (coalesce(v_req.plan_leaves, '{}'))
       limit 1;
      -- A table made to inherit from a table of the plan since (old-style partitioning: a
      -- new month's child): the person's rows may be in it, and it has no key of its own
      -- to lead the completion's re-count there. Failed, and processing again plans it in.
      if message is null then
        select format('%s inherits from %s since processing began (its rows are read with it)', i.inhrelid::regclass, i.inhparent::regclass)
          into message
          from jsonb_to_recordset(v_req.plan) as e(target text)
          join pg_catalog.pg_inherits i on i.inhparent = to_regclass(e.target)
          join pg_catalog.pg_class c on c.oid = i.inhrelid
         where not c.relispartition
           and not exists (select from jsonb_to_recordset(v_req.plan) as f(target text) where to_regclass(f.target) = i.inhrelid)
         limit 1;
      end if;
      if message is null then
        select format('%s holds %s row(s) of the request but was not in the plan when processing began (a partition attached or a key added since)',
                      x.target, x.rows)
          into message
          from retention_internal._erasure_steps(p_request) x
         where x.rule <> 'keep' and x.rows > 0
           and not x.target in (select e.target from jsonb_to_recordset(v_req.plan) as e(target text))
         limit 1;
      end if;
      -- The person's own row, there when processing began (its step's rows), gone from
      -- under their key without any step of this request deleting or scrubbing it: another
      -- session changed its key (the row and whatever cascaded with it stay, under the new
      -- key) or deleted it. Which, only the application knows: failed, naming the table
      -- (round atk66 F10). Processing again plans under the key as filed.
      if message is null then
        for v_left in
          select e.target, e.cond
            from jsonb_to_recordset(v_req.plan) as e(target text, rule text, depth int, rows bigint, cond text)
           where e.depth = 0 and e.rule in ('delete', 'scrub') and e.rows > 0 and to_regclass(e.target) is not null
             -- This processing's runs only: an earlier one's scrub of the row (killed or
             -- failed after it) must not stand for this one (round atk74 F2).
             and not exists (select from retention.runs r
                              where r.request_id = p_request and r.erasure_table = e.target and r.kind = 'erasure'
                                and r.affected > 0
                                and r.started_at >= coalesce((v_req.plan -> 0 ->> 'opened_at')::timestamptz, '-infinity'))
        loop
          execute format('select count(*) from only %s t where %s', v_left.target, v_left.cond) into v_n;
          if v_n = 0 then
            message := format('the person''s row in %s was there when processing began and is no longer under their key, but no step of this request deleted or scrubbed it: another session changed its key or deleted it meanwhile (or a foreign key cascaded into it from a step, uncounted)',
                              v_left.target);
            v_rekeyed := true;
            exit;
          end if;
        end loop;
      end if;
      -- Rows of the person written to a table after its step ran (a new session of the
      -- person, a log line, a row changed to their key): a scrubbed subject's row has no
      -- cascade to take them, a subject column no key. Each delete or scrub step's work
      -- is counted again; rows left: failed, and processing again plans them in.
      if message is null then
        for v_left in
          select e.target, e.rule, e.scrub, e.cond
            from jsonb_to_recordset(v_req.plan) as e(target text, rule text, scrub jsonb, cond text)
           where e.rule in ('delete', 'scrub') and to_regclass(e.target) is not null
        loop
          v_pol := null;
          v_pol.name := format('erasure-%s', p_request);
          v_pol.target := v_left.target::regclass;
          v_pol.action := v_left.rule;
          v_pol.scrub_columns := v_left.scrub;
          execute format('select count(*) from only %s t where %s', v_left.target,
                         (retention_internal._policy_sql(v_pol, v_left.cond)).eligible)
            into v_n;
          if v_n > 0 then
            message := format('%s has %s row(s) of the person still to be %s, written or changed after its step ran (the application still writes for them)',
                              v_left.target, v_n, case v_left.rule when 'delete' then 'deleted' else 'scrubbed' end);
            v_again := true;
            exit;
          end if;
        end loop;
      end if;
      -- A partition a drop_partitions run detached from a table of the plan and did not
      -- finish (its session was killed) is no partition now, and no step read it: rows of
      -- the person there would come back if it is attached again (round atk85 F6).
      if message is null then
        for v_left in
          select t.r::regclass::text as target, e.cond, d.partition_oid, d.run_id, d.policy_name
            from jsonb_to_recordset(v_req.plan) as e(target text, rule text, cond text)
            cross join lateral (select distinct x.r from unnest(array[to_regclass(e.target)::oid,
                                  pg_catalog.pg_partition_root(to_regclass(e.target))::oid]) x(r) where x.r is not null) t
            cross join lateral retention_internal._detached_left(t.r) d
           where e.rule in ('delete', 'scrub') and e.cond is not null
             and exists (select from pg_catalog.pg_class c where c.oid = d.partition_oid and c.relkind in ('r', 'p'))
        loop
          perform retention_internal._erasure_read_check(p_request, v_left.partition_oid::regclass::text, 'delete');
          execute format('select count(*) from %s t where %s', retention_internal._reach_scan(v_left.partition_oid::regclass), v_left.cond)
            into v_n;
          if v_n > 0 then
            message := format('%s, a partition run %s of policy %s detached from %s and did not finish, holds %s row(s) of the person',
                              v_left.partition_oid::regclass, v_left.run_id, v_left.policy_name, v_left.target, v_n);
            v_detached := format('Run policy %s (its next run finishes the partition), or attach it back, then process the request again.', v_left.policy_name);
            exit;
          end if;
        end loop;
      end if;
      if message is not null then
        update retention.erasure_requests
           set status = 'failed', status_reason = message, step_run = null
         where request_id = p_request;
        perform retention_internal._append_audit('erasure.failed', 'erasure_request', p_request::text,
          jsonb_build_object('subject_hash', v_req.subject_hash, 'error_code', 'RT032'));
        perform retention_internal._unlock_run(v_lock);
        status := 'failed';
        code := 'RT032';
        hint := case when v_detached is not null then v_detached
                     when v_rekeyed then 'Find the person''s row: if the application changed its key, file a request under the new key (this one, processed again, finds nothing under the old); if it was deleted, process this request again.'
                     when v_again then 'Stop the application writing for the person, then process the request again: its plan then takes these rows.'
                     else 'Process the request again: the plan then includes the new partition.' end;
        return;
      end if;
    end if;
    exit when v_step is null;
    -- The step's table as it is now, before anything reads it as the owner: the steps before
    -- ran the application's triggers, which may have renamed it and put a view (whose query
    -- would run as the owner) in its place. Locked (nothing can turn it into something else
    -- until this commits), then still a table (RT013) without code a run refuses (RT025;
    -- for a table whose rows stay, the casts its columns' values go through).
    execute format('lock table %s in access share mode', v_step.target::regclass);
    perform retention_internal._freeze_casts();  -- as the checks below find them (round atk113 F9)
    -- The step's condition compares the keys down from the person's row, each table of the
    -- plan's with the one above it: not through a cast the application made since the
    -- plan (RT025; round atk113 F8).
    perform retention_internal._check_key_casts(array(
      select a::oid from jsonb_array_elements(v_req.plan) e
       cross join lateral unnest(retention_internal._rel_and_ancestors(pg_catalog.to_regclass(e ->> 'target'))) a
       where pg_catalog.to_regclass(e ->> 'target') is not null));
    v_pol := null;
    v_pol.target := v_step.target::regclass;
    v_pol.action := case v_step.rule when 'keep' then 'delete' else v_step.rule end;
    if v_step.rule = 'keep' then
      message := coalesce(retention_internal._not_a_table(v_pol, array[v_pol.target::oid]),
                          retention_internal._planner_code(v_pol.target),
                          (select format('%s.%I: %s', a.attrelid::regclass, a.attname, retention_internal._foreign_cast(a.atttypid))
                             from pg_catalog.pg_attribute a
                            where a.attrelid = v_pol.target and a.attnum > 0 and not a.attisdropped and a.atttypid >= 16384
                              and retention_internal._foreign_cast(a.atttypid) is not null
                            limit 1));
      if message is not null then
        raise exception 'erasure request %: cannot read %: %', p_request, v_step.target, message
          using errcode = 'RT025', hint = 'pg-retention reads the table as its owner: make it a table again, or have a trusted role own the cast''s function.';
      end if;
      message := null;
    else
      perform retention_internal._check_foreign_code(v_pol);
    end if;
    -- What the retention schema says of the person's rows of this table goes first, while
    -- the rows can still be found.
    perform retention_internal._forget_rows(p_request, v_step.target::regclass, v_step.cond,
      case when v_req.subject_hash like 'subj\_%' then v_req.subject_hash
           else retention_internal._subject_token('subject:' || v_req.subject_id) end, v_step.rule);
    if v_step.rule = 'keep' then
      perform retention_internal._erasure_evidence(p_request, v_step.step, v_step.depth, v_step.target, v_step.rule, v_step.reason, v_step.rows);
      v_req.plan_step := v_req.plan_step + 1;
      update retention.erasure_requests set plan_step = v_req.plan_step where request_id = p_request;
      continue;
    end if;
    -- A run of the one executor for this step (kind 'erasure' in the ledger): batches that
    -- commit one by one, the holds lock and the hold rule in every statement, lock_timeout,
    -- stop requests, bad rows recorded in run_row_failures.
    v_pol := null;
    v_pol.name := format('erasure-%s', p_request);
    v_pol.target := v_step.target::regclass;
    v_pol.action := v_step.rule;
    v_pol.scrub_columns := v_step.scrub;
    v_pol.batch_size := v_req.plan_batch_size;
    v_pol.lock_timeout := interval '2 seconds';
    insert into retention.runs (kind, request_id, erasure_step, erasure_table, policy_name, mode, status, action, as_of,
                                cutoff, retain, retain_source, eligible, held_back, started_by, job_id, spec, state, backend_pid)
    values ('erasure', p_request, v_step.step, v_step.target, v_pol.name, 'live', 'running', v_step.rule, now(), now(),
            interval '0', 'erasure', v_step.rows, 0, retention_internal._actor(),
            nullif(current_setting('retention.job_id', true), ''),
            -- At most twice the rows planned (and a hundred more, for rows the application
            -- writes meanwhile): a trigger that writes the person's rows back, or inserts
            -- them again, must not keep a step going for ever.
            jsonb_build_object('policy', to_jsonb(v_pol), 'rel', v_pol.target::oid, 'cond', v_step.cond, 'limit', greatest(coalesce(v_step.rows, 0), 0) * 2 + 100,
                               'session', retention_internal._session_id(),
                               'budget', interval '24 hours'),
            jsonb_build_object('phase', 'rows', 'floor', '-infinity', 'skip', '{}'), pg_backend_pid())
    returning runs.run_id into run_id;
    update retention.erasure_requests set step_run = run_id where request_id = p_request;
    perform retention_internal._append_audit('run.started', 'erasure_request', p_request::text,
      jsonb_build_object('run_id', run_id, 'table', v_step.target, 'step', v_step.step, 'rule', v_step.rule,
                         'eligible', v_step.rows));
    status := 'in_progress';
    return;
  end loop;

  -- The plan is done. Tables an earlier processing changed that the plan no longer has
  -- (dropped since): their rows were changed all the same, and the evidence says so.
  for v_step in
    select r.erasure_table as target, r.action as rule, sum(r.affected)::bigint as rows
      from retention.runs r
     where r.request_id = p_request and r.kind = 'erasure' and r.affected > 0
       and r.erasure_table not in (select x->>'target' from jsonb_array_elements(v_req.plan) x)
     group by r.erasure_table, r.action
  loop
    select greatest(coalesce(max(e.step), 0), jsonb_array_length(v_req.plan)) + 1 into v_n
      from retention.erasure_evidence e where e.request_id = p_request;
    perform retention_internal._erasure_evidence(p_request, v_n::int, 0, v_step.target, v_step.rule,
      'changed by an earlier processing; no longer in the plan', v_step.rows);
  end loop;
  select coalesce(jsonb_agg(jsonb_build_object('table', e.target, 'rule', e.rule, 'rows', e.rows)
                            || case when e.related_rows > 0 then jsonb_build_object('related_rows', e.related_rows) else '{}' end
                            order by e.step), '[]')
    into v_steps
    from retention.erasure_evidence e
   where e.request_id = p_request
     and (e.step <= jsonb_array_length(v_req.plan) or e.reason = 'changed by an earlier processing; no longer in the plan');
  -- Rows that failed in this request's runs were named by their key, and their error may
  -- quote them: neither stays once the person is erased.
  update retention.run_row_failures f
     set row_key = jsonb_build_object('erased', true), error = 'removed when the erasure completed'
   where f.run_id in (select r.run_id from retention.runs r where r.request_id = p_request);
  -- What the retention schema itself knew of the person goes, and their tokens name nobody.
  v_forgot := retention_internal._forget_subject(p_request);
  -- The plan's tables that have statistics, and their partitioned and inheritance parents
  -- that have (inherited ones hold the person's values too: round atk141 F1): theirs are
  -- the DBA's to take again (ANALYZE runs the application's index expressions; not here).
  v_analyze := array(select distinct retention.qualified_name(c.oid::regclass)
                       from jsonb_to_recordset(v_req.plan) as e(target text)
                      cross join lateral unnest(retention_internal._rel_and_ancestors(pg_catalog.to_regclass(e.target))) a(rel)
                       join pg_catalog.pg_class c on c.oid = a.rel
                      where pg_catalog.to_regclass(e.target) is not null
                        and retention_internal._has_statistics(c.oid)
                      order by 1);
  -- Copies an archiving policy made of rows of the plan's tables before this erasure stay
  -- in the archive until their archive_retain (an erasure does not reach them): the
  -- completion says so, per table, rather than let "completed" stand for them too (round
  -- atk118 F4). Counted by table, not by person: the rows are not read.
  -- The plan's tables, and those of step runs of an earlier processing of the request
  -- (its plan was another: round atk143 F2).
  with reached as (
    select pg_catalog.to_regclass(e.target) as rel, e.target as name from jsonb_to_recordset(v_req.plan) as e(target text)
    union
    select c.oid::regclass, u.erasure_table
      from retention.runs u left join pg_catalog.pg_class c on c.oid = (u.spec ->> 'rel')::oid
     where u.request_id = p_request and u.kind = 'erasure'),
  plan_rels as (
    select a as rel from reached e
     cross join lateral unnest(retention_internal._rel_and_ancestors(e.rel)) a
     where e.rel is not null
    union
    select t.relid::oid from reached e
     cross join lateral pg_catalog.pg_partition_tree(pg_catalog.pg_partition_root(e.rel)) t),
  -- By the table as it is now: copies of a table the application rebuilt under its name
  -- (a new OID) are found by the name they were archived under (round atk134 F3).
  plan_names as (
    select e.name from reached e where e.name is not null),
  in_db as (
    select x.rel, min(x.rel_name) as rel_name, sum(x.row_count) as n
      from (select case when b.rel in (select rel from plan_rels) then b.rel
                        else pg_catalog.to_regclass(b.rel_name)::oid end as rel, b.rel_name, b.row_count
              from retention.archived_batches b
             where b.object_id is null
               and (b.rel in (select rel from plan_rels) or b.rel_name in (select name from plan_names))) x
     group by x.rel),
  -- Objects written or verified, and failed ones whose storage is not cleared yet (the
  -- file may still be there).
  live_objects as (
    select o.object_id, o.rels, o.tables
      from retention.archive_objects o
     where o.status in ('writing', 'verified') or (o.status = 'failed' and o.storage_cleared_at is null)),
  in_objects as (
    select x.rel, count(distinct x.object_id) as n
      from (select o.object_id, r.rel
              from live_objects o cross join unnest(o.rels) r(rel)
             where r.rel in (select rel from plan_rels)
            union
            select o.object_id, pg_catalog.to_regclass(k.k)::oid
              from live_objects o cross join jsonb_object_keys(coalesce(o.tables, '{}')) k(k)
             where k.k in (select name from plan_names)) x
     where x.rel is not null
     group by x.rel)
  select coalesce(jsonb_agg(jsonb_build_object('table', coalesce(d.rel_name, retention.qualified_name(coalesce(d.rel, o.rel)::regclass)),
                                               'rows_in_database', coalesce(d.n, 0), 'objects', coalesce(o.n, 0))
                            order by coalesce(d.rel_name, retention.qualified_name(coalesce(d.rel, o.rel)::regclass))), '[]')
    into v_archives
    from in_db d full join in_objects o on o.rel = d.rel;
  if jsonb_array_length(v_archives) > 0 then
    raise notice 'erasure request %: archived copies of rows of % made before it stay in the archive until their archive period ends (an erasure does not reach archives)',
      p_request, (select string_agg(a ->> 'table', ', ') from jsonb_array_elements(v_archives) a);
  end if;
  if v_analyze <> '{}' then
    raise notice 'erasure request %: the column statistics of % may still hold values of the person until they are taken again: ANALYZE them (as their owner)',
      p_request, pg_catalog.array_to_string(v_analyze, ', ');
  end if;
  -- The plan's and the runs' work conditions name the subject's key: they go too (the plan
  -- is kept without them).
  update retention.erasure_requests
     set status = 'completed', status_reason = null, completed_at = clock_timestamp(), subject_id = null, step_run = null,
         plan = (select jsonb_agg(e - 'cond' - 'rules' order by o) from jsonb_array_elements(plan) with ordinality x(e, o))
   where request_id = p_request;
  update retention.runs set spec = spec - 'cond' where request_id = p_request and kind = 'erasure';
  -- The statistics of the retention schema's tables that held the person's values (round
  -- atk134 F2), taken once every value of theirs is gone (the plan's conditions just now:
  -- round atk141 F2); a table left empty has its statistics cleared.
  v_stats := retention_internal._refresh_statistics(
    array['retention.erasure_requests'::regclass, 'retention.legal_holds'::regclass, 'retention.runs'::regclass,
          'retention.run_row_failures'::regclass, 'retention.notifications'::regclass, 'retention.archive_objects'::regclass,
          'retention.object_deletions'::regclass, 'retention.proposals'::regclass, 'retention.flagged_rows'::regclass,
          'retention.proposal_rows'::regclass, 'retention.row_exemptions'::regclass, 'retention.subject_tokens'::regclass,
          'retention_internal.erasure_step_values'::regclass]::oid[]);
  perform retention_internal._append_audit('erasure.completed', 'erasure_request', p_request::text,
    jsonb_build_object('subject_hash', v_req.subject_hash, 'steps', v_steps, 'forgotten', v_forgot)
    || case when jsonb_array_length(v_archives) > 0 then jsonb_build_object('archives_not_reached', v_archives) else '{}' end
    || case when jsonb_array_length(v_stats) > 0 then jsonb_build_object('statistics_not_refreshed', v_stats) else '{}' end
    || case when v_analyze <> '{}' then jsonb_build_object('analyze_tables', to_jsonb(v_analyze)) else '{}' end);
  insert into retention.notifications (kind, dedupe_key, payload)
  values ('erasure_completed', 'erasure_completed:' || p_request,
          jsonb_build_object('kind', 'erasure_completed', 'request_id', p_request,
                             'reference', (select r.reference from retention.erasure_requests r where r.request_id = p_request),
                             'subject_table', retention.qualified_name(v_req.subject_table),
                             'subject_hash', v_req.subject_hash,
                             'requested_at', v_req.requested_at, 'due_at', v_req.due_at,
                             'completed_at', clock_timestamp(), 'steps', v_steps)
          || case when jsonb_array_length(v_archives) > 0 then jsonb_build_object('archives_not_reached', v_archives) else '{}' end)
  on conflict (dedupe_key) do nothing;
  perform retention_internal._unlock_run(v_lock);
  run_id := null;
  status := 'completed';
end
$$;
comment on function retention.erasure_step(bigint) is
  'Executor step of process_erasure: records the outcome and evidence of the step whose run ended, then opens the run of the next delete or scrub step (returned; run_step does its batches) or completes the request. Only the session processing the request may call it.';

drop function if exists retention_internal._erasure_evidence(bigint, integer, integer, text, text, text, bigint);
create or replace function retention_internal._erasure_evidence(p_request bigint, p_step integer, p_depth integer, p_target text,
                                                       p_rule text, p_reason text, p_rows bigint, p_related bigint default null)
returns void
language sql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  insert into retention.erasure_evidence (request_id, step, depth, target, rule, reason, rows, related_rows)
  values (p_request, p_step, p_depth, p_target, p_rule, p_reason, p_rows, p_related)
  on conflict (request_id, step) do update
    set depth = excluded.depth, target = excluded.target, rule = excluded.rule, reason = excluded.reason,
        rows = excluded.rows, related_rows = excluded.related_rows, done_at = now();
$$;
comment on function retention_internal._erasure_evidence(bigint, integer, integer, text, text, text, bigint, bigint) is
  'Internal. Records (or updates) the evidence of one step of an erasure request (p_related: rows its cascade took in other tables).';


-- Every leaf partition (of any kind) of the partitioned tables a plan's steps are in.
create or replace function retention_internal._plan_leaves(p_plan jsonb)
returns oid[]
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce(array_agg(distinct t.relid::oid order by t.relid::oid), '{}')
    from jsonb_to_recordset(p_plan) as e(target text)
   cross join lateral pg_catalog.pg_partition_tree(pg_catalog.pg_partition_root(to_regclass(e.target))) t
   where pg_catalog.pg_partition_root(to_regclass(e.target)) is not null and t.isleaf
$$;
comment on function retention_internal._plan_leaves(jsonb) is
  'Internal. Every leaf partition of the partitioned tables an erasure plan''s steps belong to (processing records them when it begins).';
