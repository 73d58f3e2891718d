-- Comments on the tables, views and columns whose migrations gave none (views are created by
-- sql/, so their comments live here; COMMENT is idempotent, the file is re-applied by every migrate).

-- retention.defaults
comment on table retention.defaults is
  'Inherited retention periods (set_default): one global row and at most one per schema; a policy without its own period takes its schema''s, else the global one, else 30 days.';
comment on column retention.defaults.scope is '''global'', or ''schema:<name>'' for the default of one schema''s tables.';
comment on column retention.defaults.retain is 'The retention period policies in this scope inherit (positive).';
comment on column retention.defaults.updated_at is 'When it was last set.';
comment on column retention.defaults.updated_by is 'Who set it (the actor: retention.actor, else the login).';

-- retention.policies
comment on table retention.policies is
  'Retention policies (set_policy, alter_policy): per named rule, the table, the action, the age column, the period and the limits a run works within.';
comment on column retention.policies.policy_id is 'The policy''s id; runs, flags and proposals refer to it (they keep policy_name for when it is dropped).';
comment on column retention.policies.name is 'The policy''s unique name (lower-case letters, digits, _ . -; at most 63 characters).';
comment on column retention.policies.target is 'The table the policy acts on.';
comment on column retention.policies.action is 'delete, soft_delete, purge_soft_deleted, drop_partitions or scrub.';
comment on column retention.policies.age_column is 'The column that ages rows: a row is eligible once its value is older than the period (NULL values never are).';
comment on column retention.policies.retain is 'The policy''s own retention period (NULL: inherited from its schema''s default, else the global default, else 30 days).';
comment on column retention.policies.predicate is 'An extra boolean condition over the table''s columns, in PostgreSQL''s deparsed form (NULL: none).';
comment on column retention.policies.subject_column is 'The column naming the data subject a row belongs to, matched by subject holds and erasures (NULL: none).';
comment on column retention.policies.deleted_at_column is 'The timestamp column a soft_delete sets on the rows it marks (required for soft_delete; NULL otherwise).';
comment on column retention.policies.batch_size is 'Rows per batch, each batch its own transaction (1 to 50,000; default 1,000).';
comment on column retention.policies.max_rows_per_run is 'The ceiling: a live run that would affect more rows is refused (RT012) unless forced or capped (default 10,000).';
comment on column retention.policies.time_budget is 'How long a run may go on: it stops between batches once this is spent (stopped_time_budget; default 10 minutes, at most 24 hours).';
comment on column retention.policies.lock_timeout is 'How long a batch waits for a table lock before the run stops with stopped_lock_timeout (default 2 seconds, at most 1 minute).';
comment on column retention.policies.schedule is 'The policy''s own cron schedule (five fields or a macro such as @daily; NULL: its category''s default, else daily at 02:00).';
comment on column retention.policies.time_zone is 'The IANA time zone the schedule is read in (default UTC).';
comment on column retention.policies.enabled is 'Whether scheduled runs (the worker, run_all, run_due) include it; CALL retention.run still runs it by name.';
comment on column retention.policies.description is 'Free text saying what the policy is for (NULL: none).';
comment on column retention.policies.created_at is 'When the policy was first created.';
comment on column retention.policies.created_by is 'Who created it (the actor: retention.actor, else the login).';
comment on column retention.policies.updated_at is 'When its settings last changed.';
comment on column retention.policies.updated_by is 'Who last changed it (the actor: retention.actor, else the login).';
comment on column retention.policies.category is 'tokens, logs, accounts, audit or metrics: picks the default schedule when schedule is NULL (NULL: no category, daily at 02:00).';
comment on column retention.policies.notify_over_rows is 'A live run affecting at least this many rows queues a large_deletion notification (NULL: 100,000).';
comment on column retention.policies.archive_schema is 'drop_partitions only: the schema expired partitions are moved into, intact, instead of being dropped (NULL: dropped).';
comment on column retention.policies.scrub_columns is 'scrub only: each column to scrub and its strategy (null, {"constant": …}, sha256, empty_json), as a JSON object (NULL for other actions).';
comment on column retention.policies.scrubbed_at_column is 'scrub only: a timestamp column set on each row it scrubs, so scrubbed rows are skipped (NULL: none; scrubbed rows are recognised by their values).';
comment on column retention.policies.revoke_tables is 'scrub only: tables whose rows referencing a scrubbed row (through their foreign key to the policy''s table) are deleted in the same statement (NULL: none).';
comment on column retention.policies.run_cap is 'At most this many rows per run, the rest left for the next run (stopped_max_rows); NULL: no cap beyond the ceiling.';
comment on column retention.policies.notice_period is 'How long eligible rows stay flagged and announced before the run acts on them (delete, soft_delete, scrub; NULL: no notice).';
comment on column retention.policies.tenant_column is 'With a notice period: the column whose value groups flagged rows into one rows_flagged notification each (NULL: one notification per run).';

-- retention.legal_holds
comment on table retention.legal_holds is
  'Legal holds (place_hold, release_hold), released ones included: while open, no run or erasure touches the rows, partitions or backups a hold covers.';
comment on column retention.legal_holds.hold_id is 'The hold''s id (release_hold takes it).';
comment on column retention.legal_holds.scope is 'What the hold is on: table, subject, policy or backups.';
comment on column retention.legal_holds.target is 'A table hold: the table it holds, with its partitions and children (NULL for other scopes).';
comment on column retention.legal_holds.policy_name is 'A policy hold: the name of the policy it stops (NULL for other scopes).';
comment on column retention.legal_holds.subject_id is 'A subject hold: the subject''s id as given, compared in each subject column''s type (NULL for other scopes, and once the subject of a released hold is erased).';
comment on column retention.legal_holds.reason is 'Why the hold was placed (replaced by ''erased with erasure request <n>'' once the subject of a released subject hold is erased).';
comment on column retention.legal_holds.case_reference is 'The legal case or ticket the hold is for (NULL: none given, or cleared by the subject''s erasure).';
comment on column retention.legal_holds.placed_at is 'When the hold was placed.';
comment on column retention.legal_holds.placed_by is 'Who placed it (p_placed_by, else the actor).';
comment on column retention.legal_holds.expires_at is 'When the hold lapses by itself (NULL: it holds until released).';
comment on column retention.legal_holds.released_at is 'When the hold was released (NULL while not released).';
comment on column retention.legal_holds.released_by is 'Who released it (NULL while not released).';
comment on column retention.legal_holds.release_reason is 'Why it was released (NULL while not released).';

-- retention_internal._open_holds (view)
comment on column retention_internal._open_holds.hold_id is 'The hold''s id.';
comment on column retention_internal._open_holds.scope is 'table, subject, policy or backups.';
comment on column retention_internal._open_holds.target is 'A table hold: its table, or once that is gone the table under target_name (NULL for other scopes, or when there is none).';
comment on column retention_internal._open_holds.target_name is 'A table hold: the table''s name when it was placed.';
comment on column retention_internal._open_holds.held_oids is 'A table hold: the oid it was placed on, and the table now under its name when that one is gone; hold checks match on these.';
comment on column retention_internal._open_holds.policy_name is 'A policy hold: the policy''s name (NULL for other scopes).';
comment on column retention_internal._open_holds.subject_id is 'A subject hold: the subject''s id as given (NULL for other scopes).';
comment on column retention_internal._open_holds.reason is 'Why the hold was placed.';
comment on column retention_internal._open_holds.case_reference is 'The legal case or ticket it is for (NULL: none given).';
comment on column retention_internal._open_holds.placed_at is 'When it was placed.';
comment on column retention_internal._open_holds.placed_by is 'Who placed it.';
comment on column retention_internal._open_holds.expires_at is 'When it lapses (NULL: it holds until released).';
comment on column retention_internal._open_holds.released_at is 'Always NULL here (an open hold is not released).';
comment on column retention_internal._open_holds.released_by is 'Always NULL here.';
comment on column retention_internal._open_holds.release_reason is 'Always NULL here.';
comment on column retention_internal._open_holds.subject_token is 'A subject hold: the token the audit log names its subject by.';
comment on column retention_internal._open_holds.placed_xid is 'The transaction that placed the hold (NULL for holds placed before migration 20).';
comment on column retention_internal._open_holds.backup_store is 'A backups hold: the backup store it freezes (NULL for other scopes).';
comment on column retention_internal._open_holds.backup_name is 'A backups hold on one backup: its name (NULL: every backup of the store).';

-- retention.active_holds (view)
comment on column retention.active_holds.hold_id is 'The hold''s id (release_hold takes it).';
comment on column retention.active_holds.scope is 'table, subject, policy or backups.';
comment on column retention.active_holds.covers is 'What it holds: the table, the subject''s id, the policy''s name, or ''store <store>[/<backup>]''.';
comment on column retention.active_holds.reason is 'Why the hold was placed.';
comment on column retention.active_holds.case_reference is 'The legal case or ticket it is for (NULL: none given).';
comment on column retention.active_holds.placed_at is 'When it was placed.';
comment on column retention.active_holds.placed_by is 'Who placed it.';
comment on column retention.active_holds.expires_at is 'When it lapses by itself (NULL: it holds until released).';

-- retention.runs
comment on table retention.runs is
  'The run ledger: one row per run of a policy or erasure step, dry runs, refusals and failures included, with its cutoff, counts, status and who started it; never deleted.';
comment on column retention.runs.run_id is 'The run''s id (request_stop takes it).';
comment on column retention.runs.policy_id is 'The policy run (NULL once the policy was dropped, and for erasure steps).';
comment on column retention.runs.policy_name is 'The policy''s name when it ran (''erasure-<request_id>'' for an erasure step).';
comment on column retention.runs.mode is 'live, or dry_run (counts only, changes nothing).';
comment on column retention.runs.status is 'running, completed, refused, already_running, stopped_time_budget, stopped_max_rows, stopped_lock_timeout, stopped_requested, failed or interrupted.';
comment on column retention.runs.action is 'The policy''s action when it ran, or an erasure step''s rule (delete or scrub).';
comment on column retention.runs.as_of is 'The time the run judged ages at (p_as_of, default now()).';
comment on column retention.runs.cutoff is 'as_of minus the period: rows older than this were eligible (equal to as_of for erasure steps and for runs ended before the cutoff was known).';
comment on column retention.runs.retain is 'The retention period the run used (0 for erasure steps and runs that ended before it was known).';
comment on column retention.runs.retain_source is 'Where the period came from: policy, schema, global or system (erasure for erasure steps, unknown when it was not determined).';
comment on column retention.runs.eligible is 'Rows eligible when the run opened (for drop_partitions, the expired partitions'' rows; for an erasure step, the plan''s count); NULL when it ended before counting.';
comment on column retention.runs.held_back is 'Of the eligible rows, those a legal hold kept (NULL when the run ended before counting).';
comment on column retention.runs.affected is 'Rows deleted, marked or scrubbed so far, updated by every batch (a dry run: the rows it would affect).';
comment on column retention.runs.batches is 'Committed batches so far (for drop_partitions, partition steps too).';
comment on column retention.runs.max_rows is 'The row cap the run was started with (p_max_rows; NULL: none).';
comment on column retention.runs.forced is 'Whether it was started with p_force, allowing more rows than the policy''s ceiling.';
comment on column retention.runs.error_code is 'The SQLSTATE (or RTnnn code) of the error that ended, refused or interrupted the run (NULL: none).';
comment on column retention.runs.error is 'That error''s message (it may quote a row''s values; NULL: none).';
comment on column retention.runs.started_by is 'Who started the run (the actor: retention.actor, else the login).';
comment on column retention.runs.db_user is 'The login that started the run.';
comment on column retention.runs.job_id is 'The worker''s pg-boss job id, as the session that opened the run said it (setting retention.job_id, which any login may set; NULL when none): db_user is who ran it.';
comment on column retention.runs.started_at is 'When the run was opened.';
comment on column retention.runs.finished_at is 'When the run finished (NULL while it runs).';
comment on column retention.runs.stop_requested_at is 'When request_stop asked it to stop after its current batch (NULL: not asked).';
comment on column retention.runs.failed_rows is 'Rows its batches could not act on, each recorded in run_row_failures.';
comment on column retention.runs.flagged is 'Rows this run flagged for notice (flagged_rows; NULL unless a live run of a policy with a notice period).';
comment on column retention.runs.flags_cancelled is 'Open flags this run cancelled because their row changed or went (NULL unless a live run of a policy with a notice period).';
comment on column retention.runs.request_id is 'An erasure step: the erasure request (NULL for policy runs).';
comment on column retention.runs.erasure_step is 'An erasure step: its step number in the request''s plan (NULL for policy runs).';
comment on column retention.runs.erasure_table is 'An erasure step: the table it acted on (NULL for policy runs).';

-- retention.run_batches
comment on table retention.run_batches is
  'One row per committed batch of a run (for drop_partitions, one per partition), written in the batch''s own transaction.';
comment on column retention.run_batches.run_id is 'The run the batch belongs to.';
comment on column retention.run_batches.batch_no is 'The batch''s number within its run, from 1.';
comment on column retention.run_batches.rows is 'Rows the batch deleted, marked or scrubbed (for a partition, its rows once dropped or archived; 0 while only detached).';
comment on column retention.run_batches.started_at is 'When the batch began.';
comment on column retention.run_batches.finished_at is 'When the batch finished (for a partition, when it was last settled).';
comment on column retention.run_batches.duration_ms is 'How long the batch took, in milliseconds: the time it held its row locks (for a partition, detach and drop together).';
comment on column retention.run_batches.oldest_at is 'The oldest age-column value among the rows acted on (for a partition, its lower bound, then its oldest row once counted; NULL without an age column).';
comment on column retention.run_batches.newest_at is 'The newest age-column value among the rows acted on (for a partition, its upper bound; NULL without an age column).';
comment on column retention.run_batches.partition_name is 'drop_partitions: the partition this row is about (NULL for ordinary batches).';
comment on column retention.run_batches.disposition is 'drop_partitions: detached, dropped, archived, reattached (found under a hold), or rows_deleted for row batches in a held partition (NULL for ordinary batches).';

-- retention.run_row_failures
comment on table retention.run_row_failures is
  'Rows a batch could not act on (a trigger refused, a constraint failed): the batch was redone row by row and each failing row left alone and recorded here by its key.';
comment on column retention.run_row_failures.run_id is 'The run.';
comment on column retention.run_row_failures.batch_no is 'The batch the row failed in.';
comment on column retention.run_row_failures.row_key is 'The row''s primary key as JSON (its ctid without one; the subject''s token, or {"erased": true}, after an erasure).';
comment on column retention.run_row_failures.error_code is 'The SQLSTATE of the error.';
comment on column retention.run_row_failures.error is 'The error''s message (it may quote the row''s values; replaced once the row''s subject is erased).';
comment on column retention.run_row_failures.failed_at is 'When the row failed.';

-- retention.run_ledger (view)
comment on column retention.run_ledger.run_id is 'The run''s id.';
comment on column retention.run_ledger.policy is 'The policy''s name when it ran (''erasure-<request_id>'' for an erasure step).';
comment on column retention.run_ledger.mode is 'live or dry_run.';
comment on column retention.run_ledger.status is 'running, completed, refused, already_running, stopped_time_budget, stopped_max_rows, stopped_lock_timeout, stopped_requested, failed or interrupted.';
comment on column retention.run_ledger.action is 'The policy''s action when it ran, or an erasure step''s rule.';
comment on column retention.run_ledger.cutoff is 'Rows older than this were eligible.';
comment on column retention.run_ledger.eligible is 'Rows eligible when the run opened (NULL when it ended before counting).';
comment on column retention.run_ledger.held_back is 'Of those, rows a legal hold kept (NULL when it ended before counting).';
comment on column retention.run_ledger.affected is 'Rows deleted, marked or scrubbed (a dry run: the rows it would affect).';
comment on column retention.run_ledger.batches is 'Committed batches.';
comment on column retention.run_ledger.started_at is 'When the run was opened.';
comment on column retention.run_ledger.finished_at is 'When the run finished (NULL while it runs).';
comment on column retention.run_ledger.duration is 'finished_at minus started_at (NULL while it runs).';
comment on column retention.run_ledger.max_batch_ms is 'The longest batch''s duration in milliseconds (NULL: no batch).';
comment on column retention.run_ledger.started_by is 'Who started the run (the actor).';
comment on column retention.run_ledger.forced is 'Whether it was allowed past the policy''s ceiling (p_force).';
comment on column retention.run_ledger.error_code is 'The SQLSTATE or RTnnn code of the error that ended it (NULL: none).';
comment on column retention.run_ledger.error is 'That error''s message (NULL: none).';
comment on column retention.run_ledger.job_id is 'The worker''s pg-boss job id (NULL when not started by the worker).';
comment on column retention.run_ledger.failed_rows is 'Rows it could not act on (their keys are in run_row_failures).';
comment on column retention.run_ledger.flagged is 'Rows it flagged for notice (NULL unless a live run of a notice policy).';
comment on column retention.run_ledger.flags_cancelled is 'Open flags it cancelled (NULL unless a live run of a notice policy).';
comment on column retention.run_ledger.kind is 'policy, or erasure for one step of an erasure request.';
comment on column retention.run_ledger.request_id is 'An erasure step''s request (NULL for policy runs).';
comment on column retention.run_ledger.erasure_step is 'An erasure step''s number in the plan (NULL for policy runs).';
comment on column retention.run_ledger.throttled is 'How long the run waited between batches for standbys whose replay lagged more than the policy''s max_replication_lag.';
comment on column retention.run_ledger.estimated is 'Whether eligible and affected include estimates from PostgreSQL''s statistics rather than counted rows (partitions dropped by a drop_partitions policy with count estimate; run_batches.estimated says which).';

-- retention.audit_log, audit_chain, audit_checkpoints
comment on table retention.audit_log is
  'The append-only, hash-chained audit log: one row per change or event, each row''s hash covering the previous one''s; written only by _append_audit, checked by verify_audit_log.';
comment on column retention.audit_log.audit_id is 'The entry''s position in the chain, from 1 without gaps.';
comment on column retention.audit_log.occurred_at is 'When the entry was appended.';
comment on column retention.audit_log.actor is 'Who acted (retention.actor if set, else the login).';
comment on column retention.audit_log.db_user is 'The login of the session that acted.';
comment on column retention.audit_log.action is 'What happened, e.g. policy.updated, run.completed, hold.placed, erasure.completed.';
comment on column retention.audit_log.object_type is 'The kind of object acted on, e.g. policy, default, erasure_request.';
comment on column retention.audit_log.object_name is 'The object''s name or id (NULL: none).';
comment on column retention.audit_log.details is 'The event''s particulars as JSON (old and new values, counts, codes; subjects only by token).';
comment on column retention.audit_log.prev_hash is 'The previous entry''s row_hash (32 zero bytes for the first entry).';
comment on column retention.audit_log.row_hash is 'sha256 of prev_hash and this entry''s fields (_audit_hash), which verify_audit_log recomputes.';

comment on table retention.audit_chain is
  'Internal. The audit chain''s head in a single row: appends serialise on it, and deleting the newest audit entries is detectable against it.';
comment on column retention.audit_chain.singleton is 'Always true: the primary key that keeps this table to one row.';
comment on column retention.audit_chain.last_id is 'The newest audit entry''s audit_id (0 before the first).';
comment on column retention.audit_chain.last_hash is 'The newest audit entry''s row_hash (32 zero bytes before the first).';

comment on column retention.audit_checkpoints.checkpoint_id is 'The checkpoint''s id.';
comment on column retention.audit_checkpoints.audit_id is 'The audit entry that was the chain''s head when signed.';
comment on column retention.audit_checkpoints.row_hash is 'That entry''s row_hash, as signed.';
comment on column retention.audit_checkpoints.signed_at is 'When it was signed (part of the signed text; record_checkpoint accepts only a time within the last day).';
comment on column retention.audit_checkpoints.key_id is 'The id of the signing key (the worker''s: 16 hex digits of its public key''s sha256).';
comment on column retention.audit_checkpoints.signature is 'The 64-byte Ed25519 signature over checkpoint_message(audit_id, row_hash, signed_at).';
comment on column retention.audit_checkpoints.recorded_at is 'When record_checkpoint stored it.';
comment on column retention.audit_checkpoints.recorded_by is 'The login that recorded it.';

-- retention.notifications
comment on table retention.notifications is
  'The outbox: notifications the database queues in the transaction of their event and the worker delivers to a webhook, with a lease, retries and a dead letter.';
comment on column retention.notifications.notification_id is 'The notification''s id (requeue_notification takes it).';
comment on column retention.notifications.kind is 'The event: run_failed, run_refused, large_deletion, policy_overdue, rows_failed, erasure_completed, erasure_overdue, rows_flagged, audit_checkpoint, approval_requested, archive_failed, object_deletion_failed, backup_prune_failed or report_ready.';
comment on column retention.notifications.policy_name is 'The policy it is about (NULL when none).';
comment on column retention.notifications.run_id is 'The run it is about (NULL when none).';
comment on column retention.notifications.dedupe_key is 'Unique key of the event, so it is queued once however many sessions notice it (NULL: not deduplicated).';
comment on column retention.notifications.payload is 'The message posted to the webhook, as JSON (names, counts and codes; subjects only by token).';
comment on column retention.notifications.created_at is 'When it was queued.';
comment on column retention.notifications.status is 'pending (to deliver), delivered, or dead (failed every attempt; requeue_notification puts it back).';
comment on column retention.notifications.attempts is 'Delivery attempts so far (each claim counts one).';
comment on column retention.notifications.next_attempt_at is 'Not claimed before this time (backoff after a failed attempt).';
comment on column retention.notifications.claimed_by is 'The worker holding its delivery lease (NULL: unclaimed).';
comment on column retention.notifications.claimed_until is 'When that lease ends and another worker may take it over (NULL: unclaimed).';
comment on column retention.notifications.last_error is 'The last failed attempt''s error (NULL: none).';
comment on column retention.notifications.delivered_at is 'When it was delivered (NULL until then).';

-- Erasure: rules, requests, evidence, overview
comment on table retention.erasure_rules is
  'What an erasure does to a subject''s rows per table (set_erasure_rule): delete, scrub columns, or keep them for a stated legal reason; the row without a table is the default.';
comment on column retention.erasure_rules.rule_id is 'The rule''s id.';
comment on column retention.erasure_rules.target is 'The table the rule is for (NULL: the default rule for tables no rule names).';
comment on column retention.erasure_rules.rule is 'delete, scrub or keep.';
comment on column retention.erasure_rules.scrub_columns is 'scrub only: each column to scrub and its strategy, as for scrub policies (NULL for delete and keep).';
comment on column retention.erasure_rules.reason is 'The stated reason, quoted in the evidence: for keep, the legal reason (required; NULL: none given).';
comment on column retention.erasure_rules.updated_at is 'When the rule was set.';
comment on column retention.erasure_rules.updated_by is 'Who set it (the actor: retention.actor, else the login).';

comment on table retention.erasure_requests is
  'Erasure requests (request_erasure, process_erasure): the data subject''s row, the due date, the status and the plan being processed; once completed only the subject''s token remains.';
comment on column retention.erasure_requests.request_id is 'The request''s id (process_erasure takes it).';
comment on column retention.erasure_requests.subject_table is 'The table whose row is the data subject.';
comment on column retention.erasure_requests.subject_id is 'The subject''s primary key value as the key column reads it (NULL once the request is completed).';
comment on column retention.erasure_requests.subject_hash is 'The subject''s random token (''subj_'' and 32 hex digits; a sha256 for requests filed before tokens, until completed), which names nobody once the erasure is done.';
comment on column retention.erasure_requests.requested_by is 'Who asked, as given (e.g. a support ticket); replaced by ''(erased with erasure request <n>)'' on completion.';
comment on column retention.erasure_requests.requested_at is 'When the request was filed.';
comment on column retention.erasure_requests.due_at is 'The deadline (default 30 days after filing).';
comment on column retention.erasure_requests.status is 'pending, in_progress, completed, blocked_by_hold or failed.';
comment on column retention.erasure_requests.status_reason is 'Why it is blocked, failed or stopped mid-way (NULL otherwise).';
comment on column retention.erasure_requests.completed_at is 'When the erasure completed (NULL until then).';
comment on column retention.erasure_requests.plan_batch_size is 'The batch size of the current processing (process_erasure''s p_batch_size; NULL before it was first processed).';

comment on table retention.erasure_evidence is
  'What processing an erasure request did, one row per table of its plan and without personal data: the rule, the legal reason for kept rows and the rows deleted, scrubbed or kept.';
comment on column retention.erasure_evidence.request_id is 'The erasure request.';
comment on column retention.erasure_evidence.step is 'The plan step (later numbers for tables an earlier processing changed that the plan no longer has).';
comment on column retention.erasure_evidence.depth is 'How many foreign keys away from the subject''s row the table is (0: the subject''s table).';
comment on column retention.erasure_evidence.target is 'The table, by name.';
comment on column retention.erasure_evidence.rule is 'delete, scrub or keep.';
comment on column retention.erasure_evidence.reason is 'The rule''s stated reason (the legal reason for kept rows), or a note for a table no longer in the plan (NULL: none).';
comment on column retention.erasure_evidence.rows is 'Rows deleted or scrubbed over every processing of the request, or for keep the rows counted and left.';
comment on column retention.erasure_evidence.done_at is 'When the step was recorded (last updated).';

comment on column retention.erasure_overview.request_id is 'The request''s id.';
comment on column retention.erasure_overview.subject_table is 'The subject''s table, schema-qualified (NULL if it no longer exists).';
comment on column retention.erasure_overview.subject_hash is 'The subject''s random token (never the key).';
comment on column retention.erasure_overview.requested_by is 'Who asked, as given (replaced once completed).';
comment on column retention.erasure_overview.requested_at is 'When the request was filed.';
comment on column retention.erasure_overview.due_at is 'The deadline.';
comment on column retention.erasure_overview.status is 'pending, in_progress, completed, blocked_by_hold or failed.';
comment on column retention.erasure_overview.status_reason is 'Why it is blocked, failed or stopped (a requester sees only ''blocked by a legal hold'' for a hold).';
comment on column retention.erasure_overview.completed_at is 'When it completed (NULL until then).';
comment on column retention.erasure_overview.overdue is 'Not completed and past due_at, as of now.';
comment on column retention.erasure_overview.days_left is 'Whole days until due_at, counted toward zero and negative once overdue (NULL once completed).';

-- Notice periods: flagged_rows, row_exemptions
comment on table retention.flagged_rows is
  'Rows of notice-period policies flagged for action, one row per flag, kept when closed: who was warned, when, and whether the row was acted on, cancelled, exempted or erased.';
comment on column retention.flagged_rows.flag_id is 'The flag''s id.';
comment on column retention.flagged_rows.policy_id is 'The policy (NULL once it was dropped).';
comment on column retention.flagged_rows.policy_name is 'The policy''s name when flagged.';
comment on column retention.flagged_rows.row_key is 'The row''s single-column primary key as text (the subject''s token after their erasure).';
comment on column retention.flagged_rows.tenant is 'The row''s tenant_column value as text (NULL without a tenant column, or after the subject''s erasure).';
comment on column retention.flagged_rows.last_activity_at is 'The row''s age-column value when flagged: acting needs it unchanged.';
comment on column retention.flagged_rows.flagged_at is 'When the row was flagged.';
comment on column retention.flagged_rows.flag_run_id is 'The run that flagged it.';
comment on column retention.flagged_rows.act_after is 'flagged_at plus the notice period: no run acts on the row before this.';
comment on column retention.flagged_rows.status is 'flagged (open), acted, cancelled, exempted or erased.';
comment on column retention.flagged_rows.closed_at is 'When the flag was closed (NULL while flagged).';
comment on column retention.flagged_rows.close_run_id is 'The run that acted on the row or cancelled the flag (NULL while open, or when closed by an exemption or an erasure).';
comment on column retention.flagged_rows.close_reason is 'Why it closed: the action taken, activity, no longer eligible, the row is gone, the exemption''s reason, or the erasure (NULL while open).';

comment on table retention.row_exemptions is
  'Rows an admin keeps out of a notice-period policy for good or until a date (exempt_row, revoke_exemption), revoked ones included.';
comment on column retention.row_exemptions.exemption_id is 'The exemption''s id.';
comment on column retention.row_exemptions.policy_id is 'The policy the row is exempt from.';
comment on column retention.row_exemptions.row_key is 'The row''s single-column primary key as text (the subject''s token after their erasure).';
comment on column retention.row_exemptions.reason is 'Why the row is exempt (replaced once its subject is erased).';
comment on column retention.row_exemptions.exempted_by is 'Who exempted it (p_exempted_by, else the actor).';
comment on column retention.row_exemptions.exempted_at is 'When it was exempted.';
comment on column retention.row_exemptions.expires_at is 'When the exemption lapses (NULL: for good).';
comment on column retention.row_exemptions.revoked_at is 'When it was revoked (NULL while in force).';
comment on column retention.row_exemptions.revoked_by is 'Who revoked it (NULL while in force).';

-- retention.effective_policies (view)
comment on column retention.effective_policies.name is 'The policy''s name.';
comment on column retention.effective_policies.target is 'Its table.';
comment on column retention.effective_policies.action is 'delete, soft_delete, purge_soft_deleted, drop_partitions or scrub.';
comment on column retention.effective_policies.age_column is 'The column that ages rows.';
comment on column retention.effective_policies.retain is 'The effective retention period: the policy''s own, else its schema''s default, else the global default, else 30 days.';
comment on column retention.effective_policies.retain_source is 'Where retain came from: policy, schema, global or system.';
comment on column retention.effective_policies.predicate is 'The extra condition (NULL: none).';
comment on column retention.effective_policies.subject_column is 'The column subject holds and erasures match (NULL: none).';
comment on column retention.effective_policies.deleted_at_column is 'The column a soft_delete sets (NULL for other actions).';
comment on column retention.effective_policies.batch_size is 'A fixed number of rows per batch (NULL: batches size themselves to batch_target).';
comment on column retention.effective_policies.max_rows_per_run is 'The ceiling: a live run over it is refused unless forced.';
comment on column retention.effective_policies.time_budget is 'How long a run may go on.';
comment on column retention.effective_policies.lock_timeout is 'How long a batch waits for a table lock.';
comment on column retention.effective_policies.schedule is 'The policy''s own cron schedule (NULL: see effective_schedule).';
comment on column retention.effective_policies.time_zone is 'The time zone its schedule is read in.';
comment on column retention.effective_policies.enabled is 'Whether scheduled runs include it.';
comment on column retention.effective_policies.target_missing is 'True when its table no longer exists.';
comment on column retention.effective_policies.description is 'What the policy is for (NULL: none).';
comment on column retention.effective_policies.policy_id is 'The policy''s id.';
comment on column retention.effective_policies.category is 'tokens, logs, accounts, audit or metrics (NULL: none).';
comment on column retention.effective_policies.effective_schedule is 'The cron schedule the worker uses: the policy''s own, else its category''s default, else daily at 02:00.';
comment on column retention.effective_policies.schedule_source is 'Where effective_schedule came from: policy, category:<name> or system.';
comment on column retention.effective_policies.notify_over_rows is 'Rows from which a live run queues a large_deletion notification (100,000 when the policy sets none).';
comment on column retention.effective_policies.batch_target is 'How long each batch should take when the policy has no fixed batch_size (NULL when it has one).';

-- retention.policies_overview (view)
comment on column retention.policies_overview.policy is 'The policy''s name.';
comment on column retention.policies_overview.setting is 'The setting, named as set_policy''s argument without p_ (target shown as table).';
comment on column retention.policies_overview.value is 'Its effective value as text (NULL: unset).';
comment on column retention.policies_overview.source is 'Where the value comes from: policy, default (set_policy''s), schema, global or system (a period), category:<name> or system (a schedule).';

-- Small tables
comment on column retention.plan_marks.xid is 'The marked transaction''s id.';
comment on column retention.plan_marks.marked_at is 'When begin_plan marked it.';

comment on column retention.subject_tokens.created_at is 'When the token was made.';

comment on column retention.trusted_schemas.schema_name is 'The trusted schema.';
comment on column retention.trusted_schemas.reason is 'Why it is trusted (trust_schema''s reason).';
comment on column retention.trusted_schemas.trusted_at is 'When it was trusted (or last trusted again).';
comment on column retention.trusted_schemas.trusted_by is 'Who trusted it (the actor: retention.actor, else the login).';

comment on table retention.schema_migrations is
  'Internal. The migrations pg-retention migrate has applied (node-pg-migrate''s table), one row each.';
comment on column retention.schema_migrations.id is 'The row''s id, in order of applying.';
comment on column retention.schema_migrations.name is 'The migration''s file name without .sql.';
comment on column retention.schema_migrations.run_on is 'When it was applied (timestamp without time zone, in the migrating session''s time zone).';
