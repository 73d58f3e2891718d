-- Direct changes to the tables that say what may be deleted — policies, defaults, settings, legal
-- holds, erasure rules and requests, object columns, stored compliance reports — are audited even when the owner makes them (nobody
-- else may). The routines that write them mark their transaction (_routine_write) and are
-- audited by their own, more telling entries; any other insert, update or delete gets a
-- direct.<op> entry naming the table, the row's key and the columns changed (names only:
-- the values may be personal data, and the audit log is kept for good).
create or replace function retention_internal._routine_write()
returns void
language sql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$ select pg_catalog.set_config('retention.routine_write', pg_catalog.pg_current_xact_id()::text, true) $$;
comment on function retention_internal._routine_write() is
  'Internal. Marks the transaction as writing through a routine, which audits the change itself.';

create or replace function retention_internal._audit_direct_write()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_old  jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new  jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row  jsonb := coalesce(v_new, v_old);
  v_key  text := coalesce(v_row ->> 'name', v_row ->> 'hold_id', v_row ->> 'request_id', v_row ->> 'rule_id', v_row ->> 'scope',
                          v_row ->> 'column_id', v_row ->> 'report_id');
begin
  if coalesce(current_setting('retention.routine_write', true), '') = pg_current_xact_id()::text then
    return null;
  end if;
  -- A hold written directly waits for the batches in flight, as place_hold does: a batch
  -- that found no hold open relies on none opening before it commits (_no_hold_until_commit).
  -- (Routines write holds under that lock themselves, or only close them.)
  if tg_table_name = 'legal_holds' then
    perform retention_internal._lock_holds_exclusive();
  end if;
  perform retention_internal._append_audit('direct.' || lower(tg_op), tg_table_name, v_key,
    jsonb_build_object('table', tg_table_name, 'db_user', current_user,
      'columns', (select coalesce(jsonb_agg(k order by k), '[]')
                    from jsonb_object_keys(coalesce(v_new, v_old)) k
                   where tg_op <> 'UPDATE' or (v_old -> k) is distinct from (v_new -> k))));
  return null;
end
$$;
comment on function retention_internal._audit_direct_write() is
  'Internal. Trigger function: audits an insert, update or delete of policies, defaults, holds, erasure rules, requests, object columns or stored compliance reports not made through a routine.';

do $$
declare
  t text;
begin
  foreach t in array array['policies', 'defaults', 'legal_holds', 'erasure_rules', 'erasure_requests', 'object_columns',
                            'compliance_reports', 'settings'] loop
    execute format('create or replace trigger %I after insert or update or delete on retention.%I
                      for each row execute function retention_internal._audit_direct_write()', t || '_direct_write', t);
  end loop;
end
$$;
