-- The audit log is append-only for everyone, its owner included: UPDATE, DELETE and
-- TRUNCATE are rejected. Someone who disables the trigger can still edit rows, which
-- is why each row is hash-chained and verify_audit_log() exists.
create or replace function retention_internal._reject_audit_change()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  raise exception 'retention.audit_log is append-only: % is not allowed', tg_op
    using errcode = 'RT014',
          hint = 'Audit entries are never changed or removed. To check integrity, run SELECT * FROM retention.verify_audit_log();';
end
$$;
comment on function retention_internal._reject_audit_change() is
  'Internal. Trigger function that rejects UPDATE, DELETE and TRUNCATE on the audit log.';

create or replace trigger audit_log_append_only
  before update or delete on retention.audit_log
  for each row execute function retention_internal._reject_audit_change();
create or replace trigger audit_log_no_truncate
  before truncate on retention.audit_log
  for each statement execute function retention_internal._reject_audit_change();
create or replace trigger audit_chain_no_truncate
  before truncate on retention.audit_chain
  for each statement execute function retention_internal._reject_audit_change();
