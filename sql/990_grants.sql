-- Routine privileges, re-applied after every migrate (a new routine is executable by
-- PUBLIC until revoked). Routines run as the caller (SECURITY INVOKER), so these grants
-- only open the door; table privileges decide the rest. The audit append is the one
-- SECURITY DEFINER routine and only the admin and runner roles may call it.
revoke all on all functions in schema retention from public;
revoke all on all procedures in schema retention from public;

grant execute on all functions in schema retention to retention_admin;
grant execute on all procedures in schema retention to retention_admin;

grant execute on function
  retention._actor(), retention._audit_hash(bytea, bigint, timestamptz, text, text, text, text, text, jsonb),
  retention._qualified_name(regclass), retention._column_type(regclass, text),
  retention._effective_retain(retention.policies), retention._get_policy(text),
  retention._policy_sql(retention.policies, text), retention._lock_holds_shared(),
  retention._try_lock_run(text), retention._unlock_run(text),
  retention._check_run_time(boolean, timestamptz),
  retention._pin_session(), retention._unpin_session(), retention._period_positive(interval),
  retention._rel_and_ancestors(regclass), retention._base_type(oid, integer), retention._subject_value(text, text),
  retention._subject_columns(regclass), retention._column_list(text, name[]),
  retention._held_sql(regclass, text, text, boolean, integer, oid[], oid, name[]),
  retention._held_refs_sql(oid, text, integer, oid[], text), retention._hold_scope_sql(regclass, text, text),
  retention._batch_sql(retention.policies, text), retention._batch_plan_settings(), retention._fail_unscrubbed(bigint),
  retention.explain_batch(text, timestamptz),
  retention._append_audit(text, text, text, jsonb),
  retention.preview(text, timestamptz), retention.request_stop(bigint),
  retention.check_setup(), retention.verify_audit_log(),
  retention._effective_schedule(retention.policies), retention._notify_run(),
  retention.note_overdue(text, timestamptz, timestamptz),
  retention.claim_notifications(text, integer, interval),
  retention.settle_notification(bigint, text, boolean, text, integer, interval),
  retention._partition_bounds(regclass, regtype), retention._lock_for_ddl(regclass, interval),
  retention._scrub_sql(retention.policies), retention._row_key_sql(regclass),
  retention._resolve_table(text, text),
  retention._partitions_of(retention.policies, timestamptz),
  retention._partition_plan(retention.policies, timestamptz, timestamptz),
  retention.partitions(text, timestamptz),
  retention._notice_sql(retention.policies), retention._single_key(regclass),
  retention._flag_rows(retention.policies, bigint, timestamptz, timestamptz),
  retention.flags(text, timestamptz, boolean)
  to retention_runner;
grant execute on procedure
  retention._run_policy(text, boolean, timestamptz, bigint, interval, boolean, boolean, bigint),
  retention._batch_loop(retention.policies, bigint, oid, timestamptz, timestamptz, bigint, interval,
                        timestamptz, text, bigint, integer, text, text, text, text, text),
  retention._drop_partitions(retention.policies, bigint, timestamptz, timestamptz, jsonb, bigint,
                             interval, timestamptz, bigint, integer, text, text, text, text),
  retention.run(text, boolean, timestamptz, bigint, interval, boolean, bigint),
  retention.run_all(boolean, timestamptz)
  to retention_runner;

grant execute on function
  retention._actor(), retention._audit_hash(bytea, bigint, timestamptz, text, text, text, text, text, jsonb),
  retention._qualified_name(regclass), retention._effective_retain(retention.policies),
  retention._effective_schedule(retention.policies), retention.verify_audit_log()
  to retention_auditor;

grant select on all tables in schema retention to retention_admin, retention_auditor;
-- Every hold check reads the open holds; the view reads legal_holds as its owner.
grant select on retention._open_holds to retention_runner;
grant select on retention.effective_policies, retention.active_holds, retention.run_ledger,
  retention.erasure_overview to retention_runner;
grant execute on function retention.erasure_requests_as_of(timestamptz) to retention_runner, retention_auditor;
grant execute on function retention.note_overdue_erasures(timestamptz) to retention_runner;
grant execute on function retention.flags(text, timestamptz, boolean), retention._get_policy(text)
  to retention_auditor;

-- The application files erasure requests and follows their deadlines (retention_requester).
grant execute on function
  retention.request_erasure(text, text, text, timestamptz),
  retention.erasure_requests_as_of(timestamptz),
  retention._single_key(regclass), retention._key_exists(regclass, text),
  retention._base_type(oid, integer),
  retention._resolve_table(text, text), retention._qualified_name(regclass),
  retention._actor(), retention._append_audit(text, text, text, jsonb),
  retention._audit_hash(bytea, bigint, timestamptz, text, text, text, text, text, jsonb)
  to retention_requester;
grant select on retention.erasure_overview to retention_requester;
