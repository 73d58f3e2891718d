create or replace view retention.active_holds as
select h.hold_id,
       h.scope,
       coalesce(h.target::text, case when h.scope = 'table' then h.target_name || ' (no such table now)' end,
                h.subject_id, h.policy_name, 'store ' || h.backup_store || coalesce('/' || h.backup_name, '')) as covers,
       h.reason,
       h.case_reference,
       h.placed_at,
       h.placed_by,
       h.expires_at
  from retention_internal._open_holds h;
comment on view retention.active_holds is
  'Legal holds in force now: not released and not expired.';
