-- Fires the transaction's pending deferred triggers now, as retention_predicate_checker
-- (a role with no privileges; it owns this function): a batch's deferred triggers would
-- otherwise fire at COMMIT as the login that called the run (or as the owner, where the
-- owner calls it), and an application's trigger function is nobody's to run with those
-- rights. What such a trigger may not do as a role without rights fails the batch.
create or replace function retention_internal._fire_deferred()
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  set constraints all immediate;
exception when others then
  -- Its message is the application's and may quote a row's values: after the marker
  -- (retention_internal._quoted_marker(), written out: this role may not use that schema),
  -- so the audit log keeps only what precedes it (_loggable_error; round atk66 F4).
  raise exception 'a deferred trigger the batch set off failed, run as a role without rights (SQLSTATE %); it said: %', sqlstate, sqlerrm
    using errcode = 'RT025', hint = 'pg-retention fires an application''s deferred triggers as a role without rights (at COMMIT they would run as the login that called the run): have the retention owner (or a superuser) own the trigger function, or make the trigger not deferred.';
end
$$;
comment on function retention_internal._fire_deferred() is
  'Internal. Fires the transaction''s pending deferred triggers as retention_predicate_checker (it owns this function, a role without privileges), so that no application trigger runs at COMMIT with the caller''s rights.';
revoke all on function retention_internal._fire_deferred() from public;
select retention_internal._give_to_checker('retention_internal._fire_deferred()');

-- One batch of a run, in the caller's transaction (run_step commits it): the executor's
-- unit of work for every action that removes or changes rows — a policy's run, or a work
-- condition (p_cond, SQL over alias t: an erasure step, with p_pol carrying its table,
-- action, scrub columns, batch size and lock timeout). It takes the holds lock shared,
-- sets lock_timeout, picks up to p_size rows through the age index from p_floor on
-- (keyset, no rescans), skips locked rows and the rows in p_skip, re-checks holds in the
-- same statement (the one hold rule, _held_sql), and writes its ledger row (run_batches,
-- runs.affected) in the same transaction: nothing is removed that the ledger does not
-- count. A batch that fails on a row (a constraint, a trigger's exception, bad data:
-- SQLSTATE classes 22, 23 and P0) is redone row by row: the other rows go, each failing
-- row is recorded in run_row_failures by its key and added to p_skip for the rest of the
-- run. When every row of a batch (more than one) fails, run_step ends the run failed.
-- A policy that archives (_archives) copies every row it removes, with the rows its
-- cascade removes, to retention.archived_batches in the same transaction (_two_phase_sql,
-- run by _two_phase_exec): no row goes without its copy.
-- p_partition names the partition a drop_partitions run deletes rows from (NULL otherwise).
-- Errors are the caller's to record.
create or replace function retention_internal._batch(
  p_pol       retention.policies,
  p_run_id    bigint,
  p_cutoff    timestamptz,
  p_as_of     timestamptz,
  p_size      bigint,
  p_batch_no  integer,
  p_partition text,
  p_cond      text,
  inout p_floor timestamptz,
  inout p_skip  tid[],
  out o_rows   integer,
  out o_failed integer,
  out o_ms     numeric
)
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_reqs    bigint;   -- the last erasure request when the hold rule was built
  v_snap    pg_snapshot;  -- the transactions committed when the hold rule was built
  -- An archiving policy's batch copies every row it removes (_two_phase_sql); an
  -- erasure step (p_cond) never archives: it removes a person's data.
  v_archive boolean := p_cond is null and retention_internal._archives(p_pol);
  -- An approval-gated delete locks first too (see _two_phase_sql), without copying.
  v_two     boolean := v_archive or (p_cond is null and p_pol.approval = 'required'
                                     and p_pol.action in ('delete', 'purge_soft_deleted'));
  -- Whether a table or subject hold is open: then a delete's cascade must be locked
  -- before the hold check reads it (see below).
  v_holds   boolean;
  v_tree    jsonb;
  v_tp      record;
  v_have_tp boolean := false;
  v_one     text;    -- the one-statement batch (_one_statement_sql), or NULL
  v_one_rels oid[];
  v_done    boolean := false;
  v_stmt    text;
  v_sql     record;
  v_key     text;
  v_tids    tid[];
  v_tid     tid;
  v_related int;
  v_n1      integer;
  v_old1    timestamptz;
  v_new1    timestamptz;
  v_rel1    integer;
  v_oldest  timestamptz;
  v_newest  timestamptz;
  v_start   timestamptz := clock_timestamp();
  v_exec    timestamptz;
  v_state   text;
  v_msg     text;
  v_row_key jsonb;
  v_marked  boolean;
  v_chain   oid[];   -- the tables the hold rule reads, locked (_lock_hold_reads)
  v_grown   oid[];
  -- A delete that counts no copies counts what its cascade deleted in other tables from
  -- the server's own per-table counts of this transaction (_removed_in_xact) over the
  -- tables it reaches: the ledger's related_rows.
  v_reach   oid[];
  -- An erasure step's delete too (round atk84 F7: its cascade was in no evidence).
  -- A scrub's too: the rows its revoke tables lost, with what their cascade took (round
  -- atk84 F10: a cascade from a revoked row was in no ledger row).
  v_count   boolean := p_pol.action in ('delete', 'purge_soft_deleted', 'scrub') and not v_archive;
  v_before  bigint[];
  v_movers  oid[] := '{}';  -- partitions a key action may move rows between (_mover_tables)
begin
  o_failed := 0;
  perform set_config('lock_timeout', (extract(epoch from p_pol.lock_timeout) * 1000)::bigint::text, true);
  -- Checked again in every batch: a trigger may have been added since the last one. The
  -- tables the statement reaches are locked first (ROW EXCLUSIVE, which DML takes anyway
  -- and which CREATE TRIGGER, RULE or POLICY must wait for), so none can be added between
  -- the check and the statement.
  -- The holds are fixed from here to the commit (place_hold and release_hold wait).
  perform retention_internal._lock_holds_shared();
  v_holds := exists (select from retention_internal._open_holds h where h.scope in ('table', 'subject'));
  -- The last erasure request the hold rule is built knowing (see the end of the batch).
  if v_holds then
    v_reqs := coalesce((select max(r.request_id) from retention.erasure_requests r), 0);
    v_snap := pg_catalog.pg_current_snapshot();
  end if;
  -- Casts stay as the checks below find them until the batch commits (_freeze_casts): the
  -- hold rule's keys are compared as their casts were checked (_subject_held_sql, round
  -- atk113 F7), and what turns values into JSON as the statement runs (an archive's copy,
  -- a failed row's key) looks a cast to json up after any wait for a row (atk113 F9).
  perform retention_internal._freeze_casts();
  v_reach := retention_internal._lock_reach(p_pol);
  if v_count and pg_catalog.cardinality(v_reach) > 1 then
    v_movers := retention_internal._mover_tables(v_reach);
  end if;
  perform retention_internal._check_foreign_code(p_pol, v_reach);
  perform retention_internal._check_rls_of(v_reach);
  perform retention_internal._check_not_detached(p_pol.target);
  -- An erasure step's delete that would cut rows of the person in other plan tables loose
  -- (ON DELETE SET NULL / SET DEFAULT): its rows locked first and those tables checked
  -- (_erasure_orphan_guard); the batch then takes exactly the rows it locked.
  if p_cond is not null and p_pol.action = 'delete' then
    p_cond := retention_internal._erasure_orphan_guard(p_pol, p_run_id, p_cond, p_size, p_skip);
  end if;
  -- Objects of the rows it removes are queued by their columns' triggers, which must be in
  -- place on every table it reaches (RT038 otherwise) and queue only for this batch: the
  -- transaction is marked as its (batch_marks), until just before the commit.
  v_marked := retention_internal._mark_batch(p_pol, p_run_id);
  -- An archiving or approval-gated batch follows foreign keys only: a loop or a DELETE
  -- trigger added since the policy was set would remove rows without a copy or approval.
  -- The tree is walked once, after the locks, and serves the checks and the statements.
  -- So does a policy's delete whose reach has a key action that may move rows between
  -- partitions (_mover_tables): moved out of a partition, a row is deleted from it, and
  -- keys that name that partition cascade where the reach does not go (unlocked, unchecked,
  -- uncounted: round atk170 F1). _check_cascade_keys below refuses it (RT033), as it does
  -- for archiving and gated policies and under holds.
  if v_archive or (p_cond is null and p_pol.approval = 'required')
     or (v_holds and p_pol.action in ('delete', 'purge_soft_deleted'))
     or (p_cond is null and p_pol.action in ('delete', 'purge_soft_deleted') and v_movers <> '{}') then
    v_tree := retention_internal._cascade_tree_json(p_pol.target);
  end if;
  -- With a table or subject hold open, what the statement's hold check reads of other
  -- tables must not change before its key actions reach them: the tables are locked
  -- against writers for the batch where no lock pass covers them (_strong_reach).
  if v_holds and retention_internal._strong_reach(p_pol, v_tree) then
    perform retention_internal._lock_reach(p_pol, true);
  end if;
  -- A delete whose cascade reaches other tables, while a table or subject hold is open:
  -- one statement would check the holds on the cascaded rows under a snapshot taken
  -- before its rows were locked, so a held row that came to reference one of them (or
  -- a cascaded row changed to a held subject) in between would go with it. Such a batch
  -- locks its rows, then every level of the cascade, and checks the holds after (the
  -- two-phase statements, without copies; an erasure step's too). Without such holds,
  -- none can come before the commit: one statement is enough.
  if not v_two and v_holds and p_pol.action in ('delete', 'purge_soft_deleted')
     and exists (select from retention_internal._tree_nodes(v_tree) t where not t.cycle) then
    v_two := true;
  end if;
  if v_archive then
    perform retention_internal._check_archivable(p_pol.target, false, v_tree);
  end if;
  if v_archive or (p_cond is null and p_pol.approval = 'required') then
    perform retention_internal._check_delete_triggers(p_pol.target, v_tree);
  end if;
  if v_tree is not null and p_pol.action in ('delete', 'purge_soft_deleted') then
    perform retention_internal._check_cascade_keys(p_pol.target, v_tree);
  end if;
  -- A key that references a scrubbed column, added since the policy was set.
  if p_pol.action = 'scrub' then
    perform retention_internal._check_scrub_referenced(
      p_pol.target, array(select k::name from jsonb_object_keys(p_pol.scrub_columns) k));
  end if;
  -- A soft delete or a scrub with a table or subject hold open: no change of theirs may
  -- remove a row the hold check does not see (a move between partitions: round atk91 F1).
  if v_holds and p_pol.action in ('soft_delete', 'scrub') then
    perform retention_internal._check_update_keys(p_pol);
  end if;
  -- A scrub (its update, its revoke) whose reach has a key action that may move rows
  -- between partitions: keys that name the partition a row leaves cascade where the reach
  -- does not go (round atk170 F1). Refused, as a delete's is (_check_cascade_keys, above),
  -- after the checks that name the key more precisely (RT019, and RT033 under holds).
  if p_cond is null and p_pol.action = 'scrub' and v_movers <> '{}' then
    raise exception 'cannot follow the scrub of % safely: a key action of what it reaches may move rows between the partitions of %',
      p_pol.name, (select string_agg(distinct retention.qualified_name(coalesce(pg_catalog.pg_partition_root(m), m)), ', ')
                     from unnest(v_movers) m)
      using errcode = 'RT033',
            hint = 'Give those keys an action that does not change a partition key column (CASCADE or RESTRICT), or partition the table by other columns.';
  end if;
  -- An archiving batch with no table or subject hold open tries one statement, checked
  -- after it (_one_statement_sql); where that does not apply, or its check fails, it takes
  -- the locked path.
  if v_archive and not v_holds and exists (select from retention_internal._tree_nodes(v_tree)) then
    select o.final, o.rels into v_one, v_one_rels from retention_internal._one_statement_sql(p_pol, v_tree) o;
  end if;
  -- With a subject hold open, the tables its rule reads up the keys from the tables the
  -- statement reaches are locked first, in statements of their own (_lock_hold_reads):
  -- the builders below read the catalog with their statement's snapshot, taken before any
  -- lock they wait for (round atk117 F1). Locked again after the build: a table that came
  -- into the rule's reach meanwhile means it is built again.
  if v_holds then
    v_chain := retention_internal._lock_hold_reads(v_reach);
  end if;
  loop
    if v_two and v_one is null then
      select * into v_tp from retention_internal._two_phase_sql(p_pol, v_archive, v_tree, v_holds, p_cond);
      v_have_tp := true;
    elsif not v_two then
      v_stmt := retention_internal._batch_sql(p_pol, p_cond);
    end if;
    exit when not v_holds;
    v_grown := retention_internal._lock_hold_reads(v_reach, v_chain);
    exit when v_grown <@ v_chain;
    v_chain := v_grown;
  end loop;
  perform retention_internal._batch_plan_settings();
  perform set_config('retention.run_id', p_run_id::text, true);
  -- From here the batch holds its rows: o_ms, by which the next batch is sized, is this
  -- part (the checks and the statement's building before it hold no row; the ledger's
  -- duration_ms counts the whole batch).
  v_exec := clock_timestamp();
  begin
    if v_count then
      v_before := retention_internal._removed_in_xact(v_reach, v_movers);
    end if;
    if v_one is not null then
      select * into v_done, o_rows, v_oldest, v_newest, v_related
        from retention_internal._one_statement_exec(v_one, v_one_rels, p_pol, p_run_id, p_batch_no,
                                           p_cutoff, p_as_of, p_floor, p_size, p_skip, null);
    end if;
    if v_two and not v_done then
      if not v_have_tp then
        select * into v_tp from retention_internal._two_phase_sql(p_pol, v_archive, v_tree, v_holds, p_cond);
        v_have_tp := true;
      end if;
      select * into o_rows, v_oldest, v_newest, v_related
        from retention_internal._two_phase_exec(v_tp.pick, v_tp.passes, v_tp.final, p_pol, p_run_id, p_batch_no,
                                       p_cutoff, p_as_of, p_floor, p_size, p_skip, null, v_reach, v_chain);
    elsif not v_two then
      execute v_stmt into o_rows, v_oldest, v_newest, v_related
        using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_floor, p_size, p_skip, null::tid;
    end if;
    if v_count then
      v_related := greatest(v_related, retention_internal._cascaded(v_reach, v_before,
                                                                   case when p_pol.action = 'scrub' then 0 else o_rows end, v_movers));
    end if;
  exception when data_exception or integrity_constraint_violation or plpgsql_error then
    -- Row by row: the rows this batch would have taken, each in its own subtransaction.
    v_sql := retention_internal._policy_sql(p_pol, p_cond);
    v_key := retention_internal._row_key_sql(p_pol.target);
    execute format('select array(select t.ctid from only %s t where %s%s and not (%s)
                                   and t.ctid <> all ($7)%s limit $6)',
                   v_sql.tbl, v_sql.eligible,
                   case when v_sql.age_expr is not null then format(' and %s >= $5', v_sql.age_expr) else '' end,
                   v_sql.held,
                   case when v_sql.age_expr is not null then ' order by ' || v_sql.age_expr else '' end)
      into v_tids
      using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_floor, p_size, p_skip;
    o_rows := 0; v_related := 0; v_oldest := null; v_newest := null;
    if v_two and not v_have_tp then
      select * into v_tp from retention_internal._two_phase_sql(p_pol, v_archive, v_tree, v_holds, p_cond);
      v_have_tp := true;
    end if;
    foreach v_tid in array v_tids loop
      begin
        -- Counted per row: a failed attempt's deletions count in the server's figures too.
        if v_count then
          v_before := retention_internal._removed_in_xact(v_reach, v_movers);
        end if;
        if v_two then
          -- The row and what it cascades into locked again (the failed statement's locks
          -- went with it), then deleted with its copies.
          select * into v_n1, v_old1, v_new1, v_rel1
            from retention_internal._two_phase_exec(v_tp.pick, v_tp.passes, v_tp.final, p_pol, p_run_id, p_batch_no,
                                           p_cutoff, p_as_of, p_floor, 1, p_skip, v_tid, v_reach, v_chain);
        else
          execute v_stmt into v_n1, v_old1, v_new1, v_rel1
            using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_floor, 1::bigint, p_skip, v_tid;
        end if;
        if v_count then
          v_rel1 := greatest(v_rel1, retention_internal._cascaded(v_reach, v_before,
                                                                 case when p_pol.action = 'scrub' then 0 else v_n1 end, v_movers));
        end if;
        o_rows := o_rows + v_n1;
        v_related := v_related + v_rel1;
        v_oldest := least(v_oldest, v_old1);
        v_newest := greatest(v_newest, v_new1);
      exception when data_exception or integrity_constraint_violation or plpgsql_error then
        get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
        p_skip := p_skip || v_tid;
        o_failed := o_failed + 1;
        execute format('select %s from only %s t where t.ctid = $1', v_key, v_sql.tbl)
          into v_row_key using v_tid;
        insert into retention.run_row_failures (run_id, batch_no, row_key, error_code, error)
        values (p_run_id, p_batch_no, coalesce(v_row_key, jsonb_build_object('ctid', v_tid::text)),
                v_state, v_msg);
      end;
    end loop;
    -- Every row failed (more than one): not a bad row but a refusal of them all (a
    -- trigger, a missing privilege on a referencing table). The rows' failures are kept,
    -- each by its row's key, and the run ends failed (run_step): its own error names the
    -- batch, not a row's message, which may quote the row's values and could be tied to
    -- no person when their erasure comes (round atk92 F3).
  end;
  -- A request filed since the rule was built makes its table's key, and the keys to it,
  -- subject columns the rule may not compare; requests do not wait for batches (a
  -- requester could hold the holds gate: round atk130 F2). One committed while the batch
  -- ran (it waited for a row the application held) stops it, nothing of it kept; the next
  -- builds the rule anew (round atk126 F3).
  -- By commit, not by id: ids are taken at insert, and one taken before the rule was
  -- built may commit after (round atk136 F1).
  if v_holds and exists (select from retention.erasure_requests r
                          where r.request_id > v_reqs
                             or (r.filed_xid is not null and not pg_catalog.pg_visible_in_snapshot(r.filed_xid, v_snap))) then
    raise exception 'policy %: an erasure request was filed while the batch ran, which may widen what a legal hold covers; nothing of the batch was done', p_pol.name
      using errcode = '55P03', hint = 'Run the policy again: its next batch reads the holds as they are now.';
  end if;
  o_ms := round((extract(epoch from clock_timestamp() - coalesce(v_exec, v_start)) * 1000)::numeric, 1);
  if o_rows > 0 or o_failed > 0 then
    insert into retention.run_batches (run_id, batch_no, rows, started_at, finished_at,
                                       duration_ms, oldest_at, newest_at, partition_name,
                                       disposition, related_rows)
    values (p_run_id, p_batch_no, o_rows, v_start, clock_timestamp(),
            extract(epoch from clock_timestamp() - v_start) * 1000, v_oldest, v_newest,
            p_partition, case when p_partition is not null then 'rows_deleted' end, v_related);
    update retention.runs
       set affected = affected + o_rows, batches = batches + 1, failed_rows = failed_rows + o_failed
     where run_id = p_run_id;
  end if;
  if v_marked then
    delete from retention.batch_marks m where m.xid = pg_catalog.pg_current_xact_id();
  end if;
  -- Deferred triggers the batch set off (an application's SECURITY DEFINER trigger may
  -- write to a table whose constraint trigger is deferred) would fire at COMMIT as the
  -- login that called the run: they fire here, as a role without rights (_fire_deferred).
  perform retention_internal._fire_deferred();
  p_floor := coalesce(v_newest, p_floor);
end
$$;
comment on function retention_internal._batch(retention.policies, bigint, timestamptz, timestamptz, bigint, integer, text, text, timestamptz, tid[]) is
  'Internal. One batch of a run in the caller''s transaction: rows picked through the age index from the floor on, holds re-checked in the statement, failing rows redone one by one and recorded, the ledger row written with it.';

-- Runs the statements _two_phase_sql built for one batch (or one row: p_tid): pick, the
-- lock passes, final; or final alone when pick is NULL.
drop function if exists retention_internal._two_phase_exec(text, text[], text, retention.policies, bigint, integer, timestamptz, timestamptz, timestamptz, bigint, tid[], tid);
create or replace function retention_internal._two_phase_exec(
  p_pick text, p_passes text[], p_final text, p_pol retention.policies, p_run_id bigint, p_batch_no integer,
  p_cutoff timestamptz, p_as_of timestamptz, p_floor timestamptz, p_size bigint, p_skip tid[], p_tid tid,
  p_reach oid[], p_chain oid[],
  out o_rows integer, out o_oldest timestamptz, out o_newest timestamptz, out o_related integer)
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_tids   tid[];
  v_pass   text;
  v_locked bigint;
  v_rels   oid[];
  v_rel    oid;
begin
  if p_pick is null then
    execute p_final into o_rows, o_oldest, o_newest, o_related
      using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_floor, p_size, p_skip, p_tid, p_run_id, p_batch_no;
    return;
  end if;
  execute p_pick into v_tids
    using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_floor, p_size, p_skip, p_tid;
  -- A lock pass may wait for a row the application holds, and the statements after it are
  -- planned after the wait. Meanwhile the application may add what the planner runs
  -- (CREATE STATISTICS on an expression takes SHARE UPDATE EXCLUSIVE, which the batch's
  -- ROW EXCLUSIVE does not stop): its function ran as the retention owner (round atk94
  -- F2). So each statement after a pass checks the tables again first.
  v_rels := array(select p_pol.target::oid union select t.rel::oid from retention_internal._cascade_tree(p_pol.target) t);
  foreach v_pass in array p_passes loop
    execute v_pass into v_locked using v_tids;
    foreach v_rel in array v_rels loop
      perform retention_internal._check_planner_code(v_rel::regclass);
    end loop;
    -- And the final statement's hold rule was built before the wait: a key added or a
    -- partition attached meanwhile can bring a table into what it must read, and rows
    -- held through it would be taken (round atk122 F2). The tables it reads are found
    -- again (and locked); more than it was built from, and the batch stops here, nothing
    -- of it done: the run ends stopped_lock_timeout, and the next builds the rule anew.
    if p_chain is not null and not retention_internal._lock_hold_reads(p_reach, p_chain) <@ p_chain then
      raise exception 'policy %: a table came into a legal hold''s reach while the batch waited for the application''s row locks (a foreign key added, a partition attached); nothing of the batch was done', p_pol.name
        using errcode = '55P03',
              hint = 'Run the policy again: its next batch reads the holds as they are now.';
    end if;
  end loop;
  execute p_final into o_rows, o_oldest, o_newest, o_related
    using p_cutoff, p_as_of, p_pol.name, p_pol.target::oid, p_run_id, p_batch_no, v_tids;
end
$$;
comment on function retention_internal._two_phase_exec(text, text[], text, retention.policies, bigint, integer, timestamptz, timestamptz, timestamptz, bigint, tid[], tid, oid[], oid[]) is
  'Internal. Runs an archiving or approval-gated batch''s statements (_two_phase_sql) for up to p_size rows, or the one row p_tid; 55P03 when the tables its hold rule reads (p_chain, from p_reach) grew during a lock pass.';
