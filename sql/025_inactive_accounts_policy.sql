-- The inactive-accounts lifecycle as one call: a soft_delete policy over an accounts
-- table aged by its last-login column, with a notice period. Accounts without a login for
-- p_inactive_after (2 years) are flagged and announced to their tenant (p_tenant_column)
-- through the outbox; those still inactive and not exempted after p_grace (30 days) are
-- soft-deleted. A login (the column moves) or retention.exempt_row cancels. The category
-- 'accounts' runs it Sundays at 03:00 unless p_schedule says otherwise; a subject hold on
-- an account's key keeps it (p_subject_column defaults to the primary key). Everything
-- else is set_policy's, which validates it all.
create or replace function retention.set_inactive_accounts_policy(
  p_name              text,
  p_table             text,
  p_last_login_column text     default 'last_login_at',
  p_deleted_at_column text     default 'deleted_at',
  p_tenant_column     text     default null,
  p_inactive_after    interval default '2 years',
  p_grace             interval default '30 days',
  p_schedule          text     default null,
  p_predicate         text     default null,
  p_max_rows_per_run  bigint   default 10000,
  p_subject_column    text     default null
)
returns retention.policies
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- PL/pgSQL: set_policy takes a call from a routine of the retention schemas as the
  -- client's own (_check_called_directly reads PL/pgSQL frames by their schema).
  return retention.set_policy(
    p_name, p_table, 'soft_delete', p_last_login_column,
    p_retain => p_inactive_after, p_deleted_at_column => p_deleted_at_column,
    p_predicate => p_predicate, p_max_rows_per_run => p_max_rows_per_run,
    -- A subject hold on the account's id keeps it: the subject is the key unless told.
    -- (A table name that is none, '' or unbalanced quotes, is RT001 as set_policy says it.)
    p_subject_column => coalesce(p_subject_column, (retention_internal._single_key(
                          retention_internal._resolve_table(p_table, 'Give an existing table, schema-qualified, e.g. app.accounts (\dt *.* lists them).'))).key_column),
    p_schedule => p_schedule, p_category => 'accounts',
    p_description => format('Inactive accounts: no login for %s, soft-deleted %s after notice unless they log in or are exempted', p_inactive_after, p_grace),
    p_notice_period => coalesce(p_grace, interval '0'), p_tenant_column => p_tenant_column);
end
$$;
comment on function retention.set_inactive_accounts_policy(text, text, text, text, text, interval, interval, text, text, bigint, text) is
  'Creates or replaces the inactive-accounts lifecycle: flag accounts without a login for p_inactive_after (2 years), notify per tenant, soft-delete after p_grace (30 days) unless they log in or are exempted.';
