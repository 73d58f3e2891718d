-- The demo's retention schedule, declared through the SQL API. Each policy names the
-- table, the column that ages its rows, and how long rows are kept past it.
select retention.set_default('global', '1 year');
select retention.set_default('realty', '90 days');

select retention.set_policy('auth.sessions', 'auth.sessions', 'delete', 'expires_at',
  p_retain => '30 days', p_subject_column => 'user_id', p_max_rows_per_run => 50000,
  p_description => 'Session tokens, 30 days after expiry');
select retention.set_policy('auth.refresh-tokens', 'auth.refresh_tokens', 'delete', 'expires_at',
  p_retain => '30 days', p_subject_column => 'user_id', p_max_rows_per_run => 50000,
  p_description => 'Refresh tokens, 30 days after expiry');
select retention.set_policy('auth.password-resets', 'auth.password_reset_tokens', 'delete', 'created_at',
  p_retain => '24 hours', p_subject_column => 'user_id',
  p_description => 'Password-reset tokens, 24 hours');
select retention.set_policy('auth.login-history', 'auth.login_history', 'delete', 'logged_in_at',
  p_retain => '90 days', p_subject_column => 'user_id', p_max_rows_per_run => 50000,
  p_description => 'Login history, 90 days');
select retention.set_policy('auth.failed-logins', 'auth.failed_logins', 'delete', 'attempted_at',
  p_retain => '30 days', p_description => 'Failed logins, 30 days');

select retention.set_policy('ops.webhooks-processed', 'ops.webhook_events', 'delete', 'created_at',
  p_retain => '90 days', p_predicate => $$status = 'processed'$$);
select retention.set_policy('ops.webhooks-failed', 'ops.webhook_events', 'delete', 'created_at',
  p_retain => '30 days', p_predicate => $$status = 'failed'$$);
select retention.set_policy('ops.webhooks-pending', 'ops.webhook_events', 'delete', 'created_at',
  p_retain => '7 days', p_predicate => $$status = 'pending'$$);
select retention.set_policy('ops.app-logs', 'ops.app_logs', 'delete', 'logged_at',
  p_retain => '14 days', p_subject_column => 'user_id', p_max_rows_per_run => 50000);
select retention.set_policy('ops.error-logs', 'ops.error_logs', 'delete', 'logged_at',
  p_retain => '30 days', p_subject_column => 'user_id');
select retention.set_policy('ops.audit-logs', 'ops.audit_logs', 'delete', 'logged_at',
  p_retain => '90 days', p_subject_column => 'user_id');

select retention.set_policy('meet.anonymous-transcripts', 'meet.transcripts', 'delete', 'created_at',
  p_retain => '7 days', p_predicate => 'user_id is null',
  p_description => 'Transcripts of anonymous users; meetings and recordings cascade');

-- Soft-deleted property records: per-table periods, the rest by the schema default.
select retention.set_policy('realty.properties', 'realty.properties', 'purge_soft_deleted', 'deleted_at',
  p_retain => '5 years');
select retention.set_policy('realty.leases', 'realty.leases', 'purge_soft_deleted', 'deleted_at',
  p_retain => '7 years');
select retention.set_policy('realty.maintenance-requests', 'realty.maintenance_requests', 'purge_soft_deleted', 'deleted_at',
  p_retain => '3 years');
select retention.set_policy('realty.inspections', 'realty.inspections', 'purge_soft_deleted', 'deleted_at');
select retention.set_policy('realty.documents', 'realty.documents', 'purge_soft_deleted', 'deleted_at');
