-- A policy run's table as the report keys it: the table's OID the run recorded, else (runs
-- from before migration 34) its name then. A policy is its name on one table (round atk84 F8).
create or replace function retention_internal._run_table_key(p_spec jsonb)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(p_spec ->> 'rel', p_spec #>> '{policy,target}')
$$;
comment on function retention_internal._run_table_key(jsonb) is
  'Internal. The key of a policy run''s table in the compliance report: the table OID the run recorded, else its name then.';

-- The compliance report: one period of the ledger, in numbers an auditor can check
-- against the ledger's own tables. Rows count by the batch that removed or changed them
-- (its finish time in [p_from, p_to)); runs, requests, holds, proposals and flags by the
-- event named (received, completed, placed, released, decided). It holds counts, ids,
-- table names, dates and hashes, never a row's values, a subject's id, a hold's reason or
-- an error's text (any of which may be personal data). SECURITY DEFINER so that the
-- auditor and the worker's runner may build it without reading the ledger's tables
-- (the archived rows above all); it reads, and changes nothing.
create or replace function retention.compliance_report(p_from timestamptz, p_to timestamptz)
returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set intervalstyle = 'postgres'
set datestyle = 'ISO, YMD'
as $$
declare
  v_policies jsonb;
  v_weekly   jsonb;
  v_accounts jsonb;
  v_erasures jsonb;
  v_holds    jsonb;
  v_approvals jsonb;
  v_runs     jsonb;
  v_archive  jsonb;
  v_objects  jsonb;
  v_backups  jsonb;
  v_audit    jsonb;
  v_summary  jsonb;
begin
  if p_from is null or p_to is null or p_to <= p_from or p_from = '-infinity' or p_to = 'infinity' then
    raise exception 'a report needs a period: p_from before p_to, both finite'
      using errcode = 'RT040', hint = 'For a month: retention.compliance_report(''2026-11-01'', ''2026-12-01''), or pg-retention report --month 2026-11.';
  end if;
  if p_to > p_from + interval '1 year' then
    raise exception 'a report covers at most a year, not % to %', p_from, p_to
      using errcode = 'RT040', hint = 'Ask for each month (or quarter) on its own.';
  end if;

  -- Per policy (live policy runs; erasure steps are under erasures): rows by what happened
  -- to them, the settings' versions in force (sha256 of the run's own copy of the policy,
  -- so a dropped or changed policy still has the version its runs used).
  with b as (
    -- A policy is its name on its table (round atk84 F8: a name dropped and set again on
    -- another table summed both tables' rows under the newer one): the table's OID as the
    -- run recorded it.
    select r.policy_name, retention_internal._run_table_key(r.spec) as k,
           r.action, r.run_id, b.rows, coalesce(b.related_rows, 0) as related, b.disposition, b.estimated,
           -- (Without the tables: a table dropped since would not read back as a regclass.)
           coalesce(retention_internal._archives(jsonb_populate_record(null::retention.policies,
             (r.spec -> 'policy') - array['target', 'revoke_tables'])), false) as archived
      from retention.run_batches b
      join retention.runs r on r.run_id = b.run_id
     where r.kind = 'policy' and r.mode = 'live'
       and b.finished_at >= p_from and b.finished_at < p_to
  ), rows_by as (
    select policy_name, k,
           sum(rows) filter (where action in ('delete', 'purge_soft_deleted')
                                or (action = 'drop_partitions' and disposition in ('dropped', 'rows_deleted'))) as deleted,
           sum(related) filter (where action in ('delete', 'purge_soft_deleted', 'drop_partitions')) as cascaded,
           sum(rows) filter (where action = 'soft_delete') as soft_deleted,
           sum(rows) filter (where action = 'scrub') as scrubbed,
           sum(related) filter (where action = 'scrub') as revoked,
           sum(rows + related) filter (where archived and disposition is distinct from 'detached') as archived,
           sum(rows) filter (where disposition = 'archived') as moved_to_archive_schema,
           count(*) filter (where disposition in ('dropped', 'archived')) as partitions_removed,
           bool_or(estimated) as estimated
      from b group by policy_name, k
  ), runs_by as (
    select r.policy_name, retention_internal._run_table_key(r.spec) as k,
           count(*) filter (where r.mode = 'live') as runs,
           count(*) filter (where r.mode = 'dry_run') as dry_runs,
           count(*) filter (where r.status = 'failed') as failed,
           count(*) filter (where r.status = 'refused') as refused,
           count(*) filter (where r.status = 'interrupted') as interrupted,
           count(*) filter (where r.status like 'stopped%') as stopped,
           -- Rows the holds kept back when the policy last ran in the period (a daily policy
           -- meets the same held rows every day: a sum would count them thirty times).
           coalesce((array_agg(r.held_back order by r.run_id desc)
                       filter (where r.mode = 'live' and r.status not in ('refused', 'already_running') and r.held_back is not null))[1], 0) as held_back,
           coalesce(sum(r.failed_rows), 0) as failed_rows,
           max(r.started_at) as last_run_at,
           max(r.finished_at) filter (where r.status = 'completed' and retention_internal._run_succeeded(r)) as last_success_at,
           -- The policy's version each live run recorded (_policy_version, as proposals
           -- record it); runs from before migration 24 recorded none: a hash of their copy
           -- of the settings stands in.
           (array_agg(distinct left(coalesce(r.spec ->> 'version',
                        encode(sha256(convert_to(((r.spec -> 'policy')
                          - array['policy_id', 'description', 'created_at', 'created_by', 'updated_at', 'updated_by'])::text
                          || coalesce(r.retain::text, ''), 'UTF8')), 'hex')), 16))
              filter (where r.spec ? 'policy' and r.mode = 'live')) as versions,
           (array_agg(r.action order by r.run_id desc))[1] as action,
           (array_agg(r.spec #>> '{policy,target}' order by r.run_id desc))[1] as target
      from retention.runs r
     where r.kind = 'policy' and r.started_at >= p_from and r.started_at < p_to
     group by r.policy_name, 2
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'policy', n.policy_name,
           'action', coalesce(u.action, p.action),
           'table', u.target,
           -- Whether the policy is still there, on the same table (a policy dropped and set
           -- again under its name on another table is another policy).
           'exists', p.name is not null and (u.target is null or p.target::text = u.target),
           'versions', coalesce(to_jsonb(u.versions), '[]'),
           'runs', coalesce(u.runs, 0), 'dry_runs', coalesce(u.dry_runs, 0),
           'rows_deleted', coalesce(x.deleted, 0), 'rows_cascaded', coalesce(x.cascaded, 0),
           'rows_soft_deleted', coalesce(x.soft_deleted, 0), 'rows_scrubbed', coalesce(x.scrubbed, 0),
           'rows_revoked', coalesce(x.revoked, 0), 'rows_archived', coalesce(x.archived, 0),
           'rows_moved_to_archive_schema', coalesce(x.moved_to_archive_schema, 0),
           'partitions_removed', coalesce(x.partitions_removed, 0),
           'rows_held_back', coalesce(u.held_back, 0), 'rows_failed', coalesce(u.failed_rows, 0),
           'runs_failed', coalesce(u.failed, 0), 'runs_refused', coalesce(u.refused, 0),
           'runs_interrupted', coalesce(u.interrupted, 0), 'runs_stopped', coalesce(u.stopped, 0),
           'last_run_at', u.last_run_at, 'last_success_at', u.last_success_at)
           -- Partitions' rows taken from the statistics (count estimate) say so.
           || case when x.estimated then '{"rows_estimated": true}'::jsonb else '{}' end
           order by n.policy_name, u.last_run_at), '[]')
    into v_policies
    from (select policy_name, k from rows_by union select policy_name, k from runs_by) n
    left join rows_by x on x.policy_name = n.policy_name and x.k is not distinct from n.k
    left join runs_by u on u.policy_name = n.policy_name and u.k is not distinct from n.k
    left join retention.policies p on p.name = n.policy_name;

  -- Rows removed (deleted, cascaded, dropped with partitions) per policy per ISO week
  -- (Monday, UTC), for the chart.
  -- Per policy and table, as above (round atk87 F8).
  select coalesce(jsonb_agg(jsonb_build_object('policy', w.policy_name, 'table', w.tbl, 'week', w.week, 'rows', w.rows)
                            order by w.policy_name, w.week, w.tbl), '[]')
    into v_weekly
    from (select r.policy_name, date_trunc('week', b.finished_at)::date as week,
                 retention_internal._run_table_key(r.spec) as k,
                 (array_agg(r.spec #>> '{policy,target}' order by r.run_id desc))[1] as tbl,
                 sum(b.rows + coalesce(b.related_rows, 0)) as rows
            from retention.run_batches b join retention.runs r on r.run_id = b.run_id
           where r.kind = 'policy' and r.mode = 'live'
             and r.action in ('delete', 'purge_soft_deleted', 'drop_partitions')
             and b.disposition is distinct from 'detached' and b.disposition is distinct from 'archived'
             and b.finished_at >= p_from and b.finished_at < p_to
           group by 1, 2, 3) w;

  -- Inactive accounts (policies with a notice period): flagged, and how flags closed. Per
  -- policy and table, as above (round atk87 F8): the table the flagging run recorded.
  select coalesce(jsonb_agg(a order by a ->> 'policy', a ->> 'table'), '[]') into v_accounts
    from (select jsonb_build_object(
                   'policy', f.policy_name,
                   'table', (array_agg(f.tbl order by f.flag_id desc) filter (where f.tbl is not null))[1],
                   'flagged', count(*) filter (where f.flagged_at >= p_from and f.flagged_at < p_to),
                   'cancelled', count(*) filter (where f.status = 'cancelled' and f.closed_at >= p_from and f.closed_at < p_to),
                   'exempted', count(*) filter (where f.status = 'exempted' and f.closed_at >= p_from and f.closed_at < p_to),
                   'acted', count(*) filter (where f.status = 'acted' and f.closed_at >= p_from and f.closed_at < p_to),
                   'erased', count(*) filter (where f.status = 'erased' and f.closed_at >= p_from and f.closed_at < p_to),
                   'open_at_end', count(*) filter (where f.flagged_at < p_to and (f.closed_at is null or f.closed_at >= p_to)),
                   'notifications', (select count(*) from retention.notifications n
                                      where n.kind = 'rows_flagged' and n.policy_name = f.policy_name
                                        and n.created_at >= p_from and n.created_at < p_to
                                        and retention_internal._run_table_key(
                                              (select r.spec from retention.runs r
                                                where r.run_id = coalesce(n.run_id, (n.payload ->> 'run_id')::bigint)))
                                              is not distinct from f.k)) as a
            from (select f.*, retention_internal._run_table_key(r.spec) as k, r.spec #>> '{policy,target}' as tbl
                    from retention.flagged_rows f left join retention.runs r on r.run_id = f.flag_run_id) f
           where f.flagged_at < p_to and (f.closed_at is null or f.closed_at >= p_from)
           group by f.policy_name, f.k) s;

  -- Erasure requests: received, completed (on time or late), open past their deadline at
  -- the end of the period (as they stand now), and each request's dates.
  select jsonb_build_object(
           'received', count(*) filter (where e.requested_at >= p_from and e.requested_at < p_to),
           'completed', count(*) filter (where e.completed_at >= p_from and e.completed_at < p_to),
           'completed_on_time', count(*) filter (where e.completed_at >= p_from and e.completed_at < p_to and e.completed_at <= e.due_at),
           'completed_late', count(*) filter (where e.completed_at >= p_from and e.completed_at < p_to and e.completed_at > e.due_at),
           'overdue', count(*) filter (where e.due_at < p_to and (e.completed_at is null or e.completed_at >= p_to)),
           'open_at_end', count(*) filter (where e.requested_at < p_to and (e.completed_at is null or e.completed_at >= p_to)),
           -- Of the requests open at the end, those blocked by a hold or failed (as they stand now).
           'blocked_by_hold', count(*) filter (where e.status = 'blocked_by_hold' and (e.completed_at is null or e.completed_at >= p_to)),
           'failed', count(*) filter (where e.status = 'failed' and (e.completed_at is null or e.completed_at >= p_to)),
           'requests', coalesce(jsonb_agg(jsonb_build_object(
               'request_id', e.request_id, 'subject_table', e.subject_table::text,
               'received_at', e.requested_at, 'due_at', e.due_at,
               'completed_at', case when e.completed_at < p_to then e.completed_at end,
               'status', case when e.completed_at < p_to then 'completed'
                              when e.status = 'completed' then 'in_progress' else e.status end,
               'on_time', case when e.completed_at < p_to then e.completed_at <= e.due_at
                               when e.due_at < p_to then false end)
             order by e.request_id) filter (where e.requested_at >= p_from and e.requested_at < p_to
                                               or e.completed_at >= p_from and e.completed_at < p_to
                                               or (e.requested_at < p_to and (e.completed_at is null or e.completed_at >= p_to))), '[]'))
    into v_erasures
    from retention.erasure_requests e
   where e.requested_at < p_to;

  -- Legal holds: placed and released in the period, active at its end (scope and what they
  -- cover by table, policy or store; a subject hold's subject is not named).
  select jsonb_build_object(
           'placed', count(*) filter (where h.placed_at >= p_from and h.placed_at < p_to),
           'released', count(*) filter (where h.released_at >= p_from and h.released_at < p_to),
           'expired', count(*) filter (where h.released_at is null and h.expires_at >= p_from and h.expires_at < p_to),
           'active_at_end', count(*) filter (where h.placed_at < p_to and (h.released_at is null or h.released_at >= p_to)
                                                 and (h.expires_at is null or h.expires_at >= p_to)),
           'active', coalesce(jsonb_agg(jsonb_build_object(
               'hold_id', h.hold_id, 'scope', h.scope,
               'covers', case h.scope when 'table' then h.target::text when 'policy' then h.policy_name
                                      when 'backups' then h.backup_store || coalesce('/' || h.backup_name, '')
                                      else null end,
               'placed_at', h.placed_at, 'expires_at', h.expires_at)
             order by h.hold_id) filter (where h.placed_at < p_to and (h.released_at is null or h.released_at >= p_to)
                                              and (h.expires_at is null or h.expires_at >= p_to)), '[]'))
    into v_holds
    from retention.legal_holds h
   where h.placed_at < p_to;

  -- Approvals: proposals made and decided, and the executions of approved ones.
  select jsonb_build_object(
           'proposed', count(*) filter (where p.proposed_at >= p_from and p.proposed_at < p_to),
           'approved', count(*) filter (where p.decided_at >= p_from and p.decided_at < p_to and p.status <> 'rejected'),
           'rejected', count(*) filter (where p.decided_at >= p_from and p.decided_at < p_to and p.status = 'rejected'),
           'executed', count(*) filter (where p.status = 'executed' and p.closed_at >= p_from and p.closed_at < p_to),
           'expired', count(*) filter (where p.status = 'expired' and p.expires_at >= p_from and p.expires_at < p_to),
           'proposals', coalesce(jsonb_agg(jsonb_build_object(
               'proposal_id', p.proposal_id, 'policy', p.policy_name, 'version', left(p.policy_version, 16),
               'rows', p.rows, 'proposed_at', p.proposed_at, 'decided_at', p.decided_at, 'status', p.status,
               'four_eyes', p.decided_login is not null and p.decided_login <> p.proposed_login,
               'executed_rows', p.executed_rows, 'skipped_held', p.skipped_held, 'skipped_gone', p.skipped_gone)
             order by p.proposal_id), '[]'))
    into v_approvals
    from retention.proposals p
   where (p.proposed_at >= p_from and p.proposed_at < p_to)
      or (p.decided_at >= p_from and p.decided_at < p_to)
      or (p.closed_at >= p_from and p.closed_at < p_to);

  -- Runs that did not complete: by status, each with its error code (never its text).
  select jsonb_build_object(
           'total', count(*),
           'by_status', coalesce((select jsonb_object_agg(s.status, s.n)
                                    from (select r2.status, count(*) as n from retention.runs r2
                                           where r2.started_at >= p_from and r2.started_at < p_to group by 1) s), '{}'),
           'problems', coalesce(jsonb_agg(jsonb_build_object(
               'run_id', r.run_id, 'policy', r.policy_name, 'kind', r.kind, 'status', r.status,
               'error_code', r.error_code, 'started_at', r.started_at, 'failed_rows', r.failed_rows)
             order by r.run_id) filter (where r.status in ('failed', 'refused', 'interrupted') or r.failed_rows > 0), '[]'),
           'failed_rows', coalesce(sum(r.failed_rows), 0))
    into v_runs
    from retention.runs r
   where r.started_at >= p_from and r.started_at < p_to;

  -- Cold storage: objects written, verified and deleted in the period.
  select jsonb_build_object(
           'objects_written', count(*) filter (where o.verified_at >= p_from and o.verified_at < p_to),
           'rows_written', coalesce(sum(o.rows) filter (where o.verified_at >= p_from and o.verified_at < p_to), 0),
           'objects_deleted', count(*) filter (where o.deleted_at >= p_from and o.deleted_at < p_to),
           'objects_failed', count(*) filter (where o.status = 'failed' and o.created_at >= p_from and o.created_at < p_to),
           'objects_at_end', count(*) filter (where o.verified_at < p_to and (o.deleted_at is null or o.deleted_at >= p_to)))
    into v_archive
    from retention.archive_objects o;
  select jsonb_build_object(
           'deleted', count(*) filter (where d.status = 'deleted' and d.settled_at >= p_from and d.settled_at < p_to),
           'kept', count(*) filter (where d.status = 'kept' and d.settled_at >= p_from and d.settled_at < p_to),
           'failed', count(*) filter (where d.status = 'dead' and d.enqueued_at >= p_from and d.enqueued_at < p_to),
           'pending_at_end', count(*) filter (where d.status = 'pending' and d.enqueued_at < p_to))
    into v_objects
    from retention.object_deletions d;
  select jsonb_build_object(
           'pruned', count(*) filter (where b.status = 'deleted' and b.finished_at >= p_from and b.finished_at < p_to),
           'failed', count(*) filter (where b.status in ('failed', 'interrupted') and b.started_at >= p_from and b.started_at < p_to))
    into v_backups
    from retention.backup_prunings b;

  -- The audit chain: its head when the report was made, the entries of the period, and
  -- the newest signed checkpoint (verify it with pg-retention audit verify).
  select jsonb_build_object(
           'head', (select jsonb_build_object('audit_id', c.last_id, 'row_hash', encode(c.last_hash, 'hex'))
                      from retention.audit_chain c),
           'entries', (select count(*) from retention.audit_log a where a.occurred_at >= p_from and a.occurred_at < p_to),
           'last_entry_in_period', (select max(a.audit_id) from retention.audit_log a where a.occurred_at < p_to),
           'checkpoint', (select jsonb_build_object('checkpoint_id', k.checkpoint_id, 'audit_id', k.audit_id,
                                                    'row_hash', encode(k.row_hash, 'hex'), 'signed_at', k.signed_at,
                                                    'key_id', k.key_id)
                            from retention.audit_checkpoints k order by k.checkpoint_id desc limit 1))
    into v_audit;

  select jsonb_build_object(
           'rows_deleted', coalesce(sum((p ->> 'rows_deleted')::bigint + (p ->> 'rows_cascaded')::bigint), 0),
           'rows_soft_deleted', coalesce(sum((p ->> 'rows_soft_deleted')::bigint), 0),
           'rows_scrubbed', coalesce(sum((p ->> 'rows_scrubbed')::bigint), 0),
           'rows_archived', coalesce(sum((p ->> 'rows_archived')::bigint), 0),
           'rows_held_back', coalesce(sum((p ->> 'rows_held_back')::bigint), 0),
           'rows_failed', coalesce(sum((p ->> 'rows_failed')::bigint), 0))
         || jsonb_build_object(
           'accounts_flagged', coalesce((select sum((a ->> 'flagged')::bigint) from jsonb_array_elements(v_accounts) a), 0),
           'accounts_acted_on', coalesce((select sum((a ->> 'acted')::bigint + (a ->> 'erased')::bigint) from jsonb_array_elements(v_accounts) a), 0),
           'erasures_received', v_erasures -> 'received',
           'erasures_completed', v_erasures -> 'completed',
           'erasures_overdue', v_erasures -> 'overdue',
           'holds_active', v_holds -> 'active_at_end',
           'approvals', v_approvals -> 'approved',
           'runs', v_runs -> 'total',
           'runs_failed', coalesce((v_runs #>> '{by_status,failed}')::bigint, 0),
           'runs_refused', coalesce((v_runs #>> '{by_status,refused}')::bigint, 0),
           'runs_interrupted', coalesce((v_runs #>> '{by_status,interrupted}')::bigint, 0))
    into v_summary
    from jsonb_array_elements(v_policies) p;

  return jsonb_build_object(
    'report', 'pg-retention compliance report',
    'format', 1,
    'period', jsonb_build_object('from', p_from, 'to', p_to),
    'database', current_database(),
    'generated_at', now(),
    'summary', v_summary,
    'policies', v_policies,
    'weekly', v_weekly,
    'accounts', v_accounts,
    'erasures', v_erasures,
    'holds', v_holds,
    'approvals', v_approvals,
    'runs', v_runs,
    'archive', v_archive,
    'objects', v_objects,
    'backups', v_backups,
    'audit', v_audit);
end
$$;
comment on function retention.compliance_report(timestamptz, timestamptz) is
  'The compliance report of a period [p_from, p_to) as jsonb: per policy the rows deleted, soft-deleted, scrubbed, archived and held back with the policy versions in force; inactive accounts; erasure requests; legal holds; approvals; runs that did not complete; cold storage; the audit chain''s head and newest checkpoint. Counts, ids and hashes only, no personal data.';

-- Stores the report of one calendar month (UTC) once: an existing one is returned as it
-- is (a report, once issued, does not change). Audited; notifies report_ready. Only at
-- read committed (each query sees what has committed: a transaction holding an older
-- snapshot would store an incomplete month for good), and only an hour after the month
-- ended: a batch stamps its finish before it commits, so one begun before the end could
-- still commit a row of the month in the minutes after it.
create or replace function retention.store_compliance_report(p_month date default null,
                                                             out report_id bigint, out sha256 text, out stored boolean)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set intervalstyle = 'postgres'
set datestyle = 'ISO, YMD'
as $$
declare
  v_from timestamptz;
  v_to   timestamptz;
  v_rep  jsonb;
  v_late text;
begin
  -- The report's generated_at and the month's end are judged by now(): a transaction held
  -- open would wind them back (round atk95 F7).
  perform retention_internal._check_fresh_clock();
  if p_month is not null and (not isfinite(p_month) or p_month < date '1970-01-01' or p_month > date '9999-11-30') then
    raise exception 'no month to store at %', p_month
      using errcode = 'RT040', hint = 'Give a day of a month from 1970 on (its first, e.g. ''2026-11-01''), or nothing for last month.';
  end if;
  v_from := date_trunc('month', coalesce(p_month, (now() - interval '1 month')::date)::timestamp);
  v_to := v_from + interval '1 month';
  if v_to + interval '1 hour' > now() then
    raise exception 'the month % has not ended an hour ago', to_char(v_from, 'YYYY-MM')
      using errcode = 'RT040', hint = 'A stored report is final: it is stored from an hour after the month ends; compliance_report shows one so far.';
  end if;
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'a report is stored at read committed, not %', current_setting('transaction_isolation')
      using errcode = 'RT040', hint = 'Call it in its own transaction at the default isolation level: a snapshot taken earlier could leave out what committed since.';
  end if;
  perform pg_advisory_xact_lock(hashtext('retention.compliance_reports'), hashtext(to_char(v_from, 'YYYY-MM')));
  select r.report_id, r.sha256, false into report_id, sha256, stored
    from retention.compliance_reports r where r.period_from = v_from and r.period_to = v_to;
  if found then
    return;
  end if;
  -- A transaction that began before the month ended can still commit what it stamped in
  -- the month (a batch's finish, a request's or hold's time): a runner that held its batch
  -- open past the month's end kept its rows out of every stored report (round atk54). The
  -- report is stored once none is left.
  select string_agg(a.pid::text, ', ' order by a.pid) into v_late
    from pg_catalog.pg_stat_activity a
   where a.pid <> pg_catalog.pg_backend_pid() and a.datid = (select d.oid from pg_catalog.pg_database d
                                                              where d.datname = pg_catalog.current_database())
     -- Any backend a role runs, not only clients: a pg_cron job in a background worker
     -- (cron.use_background_workers) can hold a batch open too (round atk82 F5).
     and a.usesysid is not null and a.backend_type is distinct from 'autovacuum worker' and a.xact_start < v_to;
  -- A prepared transaction (PREPARE TRANSACTION) has no backend and no start time left to
  -- judge: any one in this database may hold rows of the month until it is resolved.
  v_late := concat_ws(', ', v_late,
    (select string_agg('prepared ' || pg_catalog.quote_literal(x.gid), ', ' order by x.gid)
       from pg_catalog.pg_prepared_xacts x
      where x.database = pg_catalog.current_database()));
  v_late := nullif(v_late, '');
  -- Another role's session shows its transaction's start only to a superuser or a member
  -- of pg_read_all_stats: an owner that is neither cannot tell, and stores nothing it
  -- cannot vouch for (round atk82 F1, atk84 F2).
  if v_late is null and not retention_internal._sees_all_sessions() then
    select string_agg(a.pid::text, ', ' order by a.pid) into v_late
      from pg_catalog.pg_stat_activity a
     where a.pid <> pg_catalog.pg_backend_pid() and a.datid = (select d.oid from pg_catalog.pg_database d
                                                                where d.datname = pg_catalog.current_database())
       and a.usesysid is not null and a.state is null;  -- another role's: no type, state or start shown
    if v_late is not null then
      raise exception 'cannot tell whether sessions of other roles (backend pids %) hold transactions that began before % ended', v_late, to_char(v_from, 'YYYY-MM')
        using errcode = 'RT040',
              hint = format('The retention owner %s sees other roles'' sessions only as a member of pg_read_all_stats: GRANT pg_read_all_stats TO %s (as a superuser), then store the report.', current_user, current_user);
    end if;
  end if;
  if v_late is not null then
    raise exception 'transactions that began before % ended are still open (backend pids %)', to_char(v_from, 'YYYY-MM'), v_late
      using errcode = 'RT040',
            hint = 'What they wrote may belong to the month: store the report once they end (the worker tries again at its next slot), or end them (pg_terminate_backend; COMMIT PREPARED or ROLLBACK PREPARED for a prepared one).';
  end if;
  v_rep := retention.compliance_report(v_from, v_to);
  sha256 := encode(pg_catalog.sha256(convert_to(v_rep::text, 'UTF8')), 'hex');
  perform retention_internal._routine_write();
  insert into retention.compliance_reports (period_from, period_to, report, sha256, generated_by)
  values (v_from, v_to, v_rep, sha256, retention_internal._actor())
  returning compliance_reports.report_id into report_id;
  stored := true;
  perform retention_internal._append_audit('report.stored', 'compliance_report', report_id::text,
    jsonb_build_object('month', to_char(v_from, 'YYYY-MM'), 'sha256', sha256));
  insert into retention.notifications (kind, dedupe_key, payload)
  values ('report_ready', 'report_ready:' || to_char(v_from, 'YYYY-MM'),
          jsonb_build_object('kind', 'report_ready', 'report_id', report_id, 'month', to_char(v_from, 'YYYY-MM'),
                             'sha256', sha256, 'summary', v_rep -> 'summary'));
end
$$;
comment on function retention.store_compliance_report(date) is
  'Stores the compliance report of a finished calendar month (UTC; default: last month; from an hour after its end, at read committed) once, with the sha256 of its jsonb text; audited, notifies report_ready. A month already stored is returned unchanged (stored false).';

-- Records that the worker wrote a stored report to its storage target, under the one key
-- a month's report has there (reports/<YYYY-MM>.json, beside the .html); the key is
-- returned. Recording it again is harmless (the worker rewrites an object it finds
-- missing or different).
create or replace function retention.compliance_report_written(p_report_id bigint)
returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_key text;
begin
  perform retention_internal._routine_write();
  update retention.compliance_reports r
     set storage_key = 'reports/' || to_char(r.period_from, 'YYYY-MM') || '.json'
   where r.report_id = p_report_id
     and r.period_to = r.period_from + interval '1 month' and date_trunc('month', r.period_from) = r.period_from
  returning r.storage_key into v_key;
  if v_key is null then
    raise exception 'no stored monthly report %', coalesce(p_report_id::text, 'NULL')
      using errcode = 'RT040', hint = 'retention.compliance_reports lists the reports.';
  end if;
  return v_key;
end
$$;
comment on function retention.compliance_report_written(bigint) is
  'Records that the worker wrote a stored monthly compliance report to its storage target, under reports/<YYYY-MM>.json (returned).';
