-- Exemptions from a notice policy (e.g. an admin keeps an inactive account: a service
-- account, a tenant's owner). An exempted row is not flagged, and its open flag is closed
-- 'exempted' with the reason. Takes the holds lock exclusively like place_hold, so a batch
-- in flight commits first and every later batch sees the exemption. Until p_expires_at
-- when given; revoke_exemption ends it (the next run may flag the row again).
create or replace function retention.exempt_row(
  p_policy      text,
  p_key         text,
  p_reason      text,
  p_expires_at  timestamptz default null,
  p_exempted_by text default null
)
returns retention.row_exemptions
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_pol  retention.policies := retention_internal._get_policy(p_policy);
  v_ex   retention.row_exemptions;
  v_flag bigint;
begin
  perform retention_internal._check_called_directly('exempt a row');
  if v_pol.notice_period is null then
    raise exception 'policy % has no notice period: there is nothing to exempt a row from', p_policy
      using errcode = 'RT021', hint = 'Exemptions apply to policies with p_notice_period (e.g. inactive accounts); for others use a legal hold (retention.place_hold).';
  end if;
  if p_reason is null or btrim(p_reason) = '' then
    raise exception 'an exemption needs a reason'
      using errcode = 'RT021', hint = 'Say why the row stays, e.g. ''service account of the billing integration''.';
  end if;
  perform retention_internal._check_note(p_reason, 2000, 'an exemption''s reason', 'RT021');
  if p_exempted_by is not null and not retention_internal._printable(p_exempted_by, 200) then
    raise exception 'exempted by must be 1 to 200 printable characters'
      using errcode = 'RT021', hint = 'Give a role or a person''s account name, without control, invisible or direction-changing characters; or leave it NULL for retention.actor or the login.';
  end if;
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'exemption expiry % is not in the future', p_expires_at
      using errcode = 'RT021', hint = 'Give a future timestamp, or NULL for an exemption until revoked.';
  end if;
  -- The holds lock before the table's (_key_exists locks it): batches take them in that
  -- order, and the other would deadlock with one.
  perform retention_internal._lock_holds_exclusive();
  if not retention_internal._key_exists(v_pol.target, p_key) then
    raise exception '% has no row with % = %', retention.qualified_name(v_pol.target),
          (retention_internal._single_key(v_pol.target)).key_column,
          coalesce(quote_literal(p_key), 'NULL')
      using errcode = 'RT021', hint = 'Give the row''s primary key as text; SELECT * FROM retention.flags(' || quote_literal(p_policy) || ') lists the flagged ones.';
  end if;
  -- The key as the row's own key reads ('042' is 42), as flags and batches compare it.
  -- Stored as the row holds its key (its text), which is what runs compare: '7.5' for a
  -- numeric key 7.50 matched nothing, and the exempted row was flagged and deleted (atk64 F2).
  p_key := coalesce(retention_internal._stored_key(v_pol.target, p_key),
                    retention_internal._subject_value(p_key, (retention_internal._single_key(v_pol.target)).key_type));
  if exists (select from retention.row_exemptions
              where policy_id = v_pol.policy_id and row_key = p_key and revoked_at is null) then
    raise exception 'row % of policy % is already exempted', quote_literal(p_key), p_policy
      using errcode = 'RT021', hint = 'Revoke the exemption first (retention.revoke_exemption) to change it.';
  end if;

  insert into retention.row_exemptions (policy_id, row_key, reason, exempted_by, expires_at, exempted_at)
  values (v_pol.policy_id, p_key, p_reason, coalesce(p_exempted_by, retention_internal._actor()), p_expires_at, clock_timestamp())
  returning * into v_ex;
  update retention.flagged_rows
     set status = 'exempted', closed_at = clock_timestamp(), close_reason = p_reason
   where policy_id = v_pol.policy_id and row_key = p_key and status = 'flagged'
  returning flag_id into v_flag;
  perform retention_internal._append_audit('row.exempted', 'policy', v_pol.name,
    jsonb_strip_nulls(jsonb_build_object('exemption_id', v_ex.exemption_id, 'key_token', retention_internal._subject_token(retention.qualified_name(v_pol.target) || ':' || p_key),
      'expires_at', p_expires_at, 'exempted_by', v_ex.exempted_by,
      'closed_flag', v_flag)));
  raise notice 'row % of policy % exempted%', p_key, p_policy,
    case when v_flag is not null then ' (its flag is closed)' else '' end;
  return v_ex;
end
$$;
comment on function retention.exempt_row(text, text, text, timestamptz, text) is
  'Exempts a row (by primary key) from a notice policy, e.g. an inactive account an admin keeps: it is not flagged and its open flag closes. Waits for in-flight batches. Audit-logged.';

create or replace function retention.revoke_exemption(
  p_policy     text,
  p_key        text,
  p_reason     text,
  p_revoked_by text default null
)
returns retention.row_exemptions
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_pol retention.policies := retention_internal._get_policy(p_policy);
  v_ex  retention.row_exemptions;
begin
  perform retention_internal._check_called_directly('revoke an exemption');
  if p_reason is null or btrim(p_reason) = '' then
    raise exception 'revoking an exemption needs a reason'
      using errcode = 'RT021', hint = 'Say why, e.g. ''account owner left''.';
  end if;
  perform retention_internal._check_note(p_reason, 2000, 'a revocation''s reason', 'RT021');
  if p_revoked_by is not null and not retention_internal._printable(p_revoked_by, 200) then
    raise exception 'revoked by must be 1 to 200 printable characters'
      using errcode = 'RT021', hint = 'Give a role or a person''s account name, without control, invisible or direction-changing characters; or leave it NULL for retention.actor or the login.';
  end if;
  update retention.row_exemptions
     set revoked_at = clock_timestamp(), revoked_by = coalesce(p_revoked_by, retention_internal._actor()), revoke_reason = p_reason
   where policy_id = v_pol.policy_id and revoked_at is null
     and row_key in (retention_internal._stored_key(v_pol.target, p_key),
                     retention_internal._subject_value(p_key, (retention_internal._single_key(v_pol.target)).key_type), p_key)
  returning * into v_ex;
  p_key := coalesce(v_ex.row_key, p_key);
  if not found then
    raise exception 'row % of policy % is not exempted', coalesce(quote_literal(p_key), 'NULL'), p_policy
      using errcode = 'RT021', hint = 'SELECT * FROM retention.row_exemptions WHERE revoked_at IS NULL lists the exemptions in force.';
  end if;
  perform retention_internal._append_audit('row.exemption_revoked', 'policy', v_pol.name,
    jsonb_build_object('exemption_id', v_ex.exemption_id, 'key_token', retention_internal._subject_token(retention.qualified_name(v_pol.target) || ':' || p_key),
                       'revoked_by', v_ex.revoked_by));
  raise notice 'exemption of row % from policy % revoked; the next run may flag it again', p_key, p_policy;
  return v_ex;
end
$$;
comment on function retention.revoke_exemption(text, text, text, text) is
  'Ends an exemption from a notice policy; the next run may flag the row again. Audit-logged.';
