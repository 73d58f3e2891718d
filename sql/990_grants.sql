-- Routine privileges, re-applied after every migrate (a new routine is executable by
-- PUBLIC until revoked). No role but the owner writes a retention table: every write is
-- a SECURITY DEFINER routine with a pinned search_path that checks and audits it. Internal
-- routines (retention_internal._*) are executable by no role; the executor steps (open_run, run_step,
-- open_erasure, erasure_step) are, and act only for the session that opened the run.
-- docs/security.md has the whole matrix (test/role-matrix.test.ts checks it).
revoke all on all functions in schema retention from public;
revoke all on all procedures in schema retention from public;
revoke all on all functions in schema retention from retention_admin, retention_runner, retention_auditor,
  retention_requester, retention_approver, retention_archiver;
revoke all on all procedures in schema retention from retention_admin, retention_runner, retention_auditor,
  retention_requester, retention_approver, retention_archiver;
-- The internals (schema retention_internal): no role but the owner uses them, not even
-- the admin; public routines reach them as SECURITY DEFINER.
revoke all on schema retention_internal from public;
revoke all on all functions in schema retention_internal from public;
revoke all on all functions in schema retention_internal from retention_admin, retention_runner, retention_auditor,
  retention_requester, retention_approver, retention_archiver;
revoke all on all tables in schema retention_internal from public;

-- The admin: every public routine.
do $$
declare
  r record;
begin
  for r in select p.oid::regprocedure as sig, p.prokind
             from pg_catalog.pg_proc p
            where p.pronamespace = 'retention'::regnamespace and p.proname !~ '^_'
              and p.prokind in ('f', 'p') loop
    execute format('grant execute on %s %s to retention_admin',
                   case r.prokind when 'p' then 'procedure' else 'function' end, r.sig);
  end loop;
end
$$;

-- The runner (the worker): runs, previews, stops, schedules, delivers notifications.
grant execute on function
  retention.open_run(text, boolean, timestamptz, bigint, interval, boolean), retention.run_step(bigint),
  retention.detach_statement(bigint), retention.pin_session(), retention.unpin_session(),
  retention.release_run_locks(bigint, bigint, text),
  retention.preview(text, timestamptz), retention.explain_batch(text, timestamptz),
  retention.request_stop(bigint), retention.check_setup(), retention.verify_audit_log(),
  retention.note_overdue(text, timestamptz, timestamptz), retention.note_overdue_erasures(timestamptz),
  retention.claim_notifications(text, integer, interval),
  retention.settle_notification(bigint, text, boolean, text, integer, interval),
  retention.partitions(text, timestamptz), retention.flags(text, timestamptz, boolean),
  retention.erasure_requests_as_of(timestamptz),
  retention.audit_head(), retention.checkpoint_message(bigint, bytea, timestamptz),
  retention.record_checkpoint(bigint, bytea, timestamptz, text, bytea), retention.audit_hashes(bigint)
  to retention_runner;
grant execute on procedure
  retention.run(text, boolean, timestamptz, bigint, interval, boolean, bigint),
  retention.run_all(boolean, timestamptz),
  retention.run_policies(text[], boolean, timestamptz, boolean),
  retention.run_due()
  to retention_runner;
grant execute on function retention.due_policies(timestamptz), retention.next_occurrence(text, text, timestamptz),
  retention.policy_status_rows(),
  retention.last_occurrence(text, text, timestamptz) to retention_runner, retention_auditor;

-- The auditor reads: the ledger, the audit log and its verification, flags, requests.
grant execute on function
  retention.verify_audit_log(), retention.flags(text, timestamptz, boolean),
  retention.erasure_requests_as_of(timestamptz),
  retention.audit_head(), retention.checkpoint_message(bigint, bytea, timestamptz), retention.audit_hashes(bigint)
  to retention_auditor;

-- The application files erasure requests and follows their deadlines.
grant execute on function
  retention.request_erasure(text, text, text, timestamptz, text), retention.erasure_requests_as_of(timestamptz)
  to retention_requester;

-- The approver decides proposals and reads them (and the policies they are for).
grant execute on function
  retention.approve_proposal(bigint, text), retention.reject_proposal(bigint, text)
  to retention_approver;
grant select on retention.proposals, retention.proposal_rows, retention.policies to retention_approver;
-- The worker proposes the purges of approval-gated policies on their schedule.
grant execute on function retention.propose(text, interval, numeric, text) to retention_runner;
grant select on retention.proposals to retention_runner;
-- The archiver (the worker's login where policies archive) moves archived rows, personal
-- data, to cold storage and prunes expired objects; the runner only reads the manifest.
grant execute on function
  retention.archive_claim(text, integer), retention.archive_object_rows(bigint),
  retention.archive_complete(bigint, text, bigint, bigint, text, text), retention.archive_abandon(bigint, text),
  retention.archive_cleared(text, text[]),
  retention.archive_prunable(), retention.archive_rows_held(bigint, jsonb), retention.archive_object_deleted(bigint, text, timestamptz, pg_snapshot),
  retention.archive_object_checked(bigint, boolean, text)
  to retention_archiver;
-- A restore is recorded (and a live one after erasures refused) by the login restoring.
grant execute on function retention.archive_restoring(bigint, boolean, text, boolean) to retention_archiver, retention_admin;
grant execute on function retention.archive_exporting(bigint, text) to retention_archiver, retention_admin;
grant select on retention.archive_objects to retention_runner, retention_archiver;
-- The archiver (the worker's storage login) deletes the objects of removed rows.
grant execute on function
  retention.claim_object_deletions(text[], integer, interval), retention.object_deletion_done(bigint, text, integer)
  to retention_archiver;
grant select on retention.object_deletions, retention.object_columns to retention_runner, retention_archiver;
-- The archiver prunes backup stores; the runner and auditor may see the plan.
grant execute on function
  retention.backup_prune_intent(text, jsonb, text, timestamptz, bigint, integer), retention.backup_prune_check(bigint, jsonb),
  retention.backup_prune_done(bigint, text, text), retention.backup_prune_cancel(bigint, text),
  retention.backup_prune_reconcile(text, jsonb, text[]), retention.backup_plan(text, jsonb, timestamptz)
  to retention_archiver;
grant execute on function retention.backup_plan(text, jsonb, timestamptz) to retention_runner, retention_auditor;
-- A pure function an application's index may use (object columns with a url prefix).
grant execute on function retention.object_key_of(text, text) to public;
-- The trigger of object columns: a partition created or attached by the table's owner gets
-- a copy of it, which needs EXECUTE; it runs only as a trigger, and queues nothing but what
-- the transaction's batch removes from its registered table.
grant execute on function retention.object_column_trigger() to public;
grant select on retention.backup_policies, retention.backup_prunings to retention_runner, retention_archiver;

-- The compliance report: the auditor reads it, the worker (runner) stores each month's.
grant execute on function retention.compliance_report(timestamptz, timestamptz) to retention_runner, retention_auditor;
grant execute on function retention.store_compliance_report(date), retention.compliance_report_written(bigint)
  to retention_runner;
grant select on retention.compliance_reports to retention_runner;

-- What the views call (with the reader's rights): read-only helpers.
grant execute on function retention.qualified_name(regclass), retention.effective_retain(retention.policies),
  retention.effective_schedule(retention.policies)
  to retention_runner, retention_auditor, retention_requester;
-- policies_overview calls policy_settings (with the reader's rights, as views do).
grant execute on function retention.policy_settings(text) to retention_runner, retention_auditor;
grant select on retention.policies_overview to retention_runner;

grant select on all tables in schema retention to retention_admin, retention_auditor;
revoke all on all tables in schema retention_internal from retention_admin, retention_runner, retention_auditor,
  retention_requester, retention_approver, retention_archiver;
-- Archived rows are whole rows of application tables: personal data, for the owner and
-- the admin (restore, export) only.
revoke all on retention.archived_rows, retention.archived_batches from retention_auditor;
grant select on retention.effective_policies, retention.active_holds, retention.run_ledger,
  retention.erasure_overview, retention.policy_status to retention_runner;
-- The worker checks that the schema is the one it was built for (its readiness).
grant select on retention.schema_migrations to retention_runner;
grant select on retention.erasure_overview to retention_requester;
