-- Places a legal hold. p_scope 'table' (p_value = table name), 'subject' (p_value = the
-- subject's id as text, matched against every policy's subject column) or 'policy'
-- (p_value = policy name). Takes the holds lock exclusively, which waits for batches in
-- flight (they hold it shared) and makes later batches see the hold: once this function's
-- transaction has committed, no run deletes a row the hold covers.
create or replace function retention.place_hold(
  p_scope          text,
  p_value          text,
  p_reason         text,
  p_case_reference text default null,
  p_expires_at     timestamptz default null,
  p_placed_by      text default null
)
returns retention.legal_holds
language plpgsql
as $$
declare
  v_target regclass;
  v_hold   retention.legal_holds;
begin
  if p_scope is null or p_scope not in ('table', 'subject', 'policy') then
    raise exception 'unknown hold scope %', coalesce(quote_literal(p_scope), 'NULL')
      using errcode = 'RT010', hint = 'Scopes: table (value = table name), subject (value = subject id), policy (value = policy name).';
  end if;
  if p_value is null or btrim(p_value) = '' then
    raise exception 'a % hold needs a value', p_scope
      using errcode = 'RT010', hint = 'Give the table name, subject id or policy name the hold covers.';
  end if;
  if p_reason is null or btrim(p_reason) = '' then
    raise exception 'a legal hold needs a reason'
      using errcode = 'RT010', hint = 'Say why, e.g. ''Litigation Smith v. Acme''; add p_case_reference for the case number.';
  end if;
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'hold expiry % is not in the future', p_expires_at
      using errcode = 'RT010', hint = 'Give a future timestamp, or NULL for a hold that lasts until released.';
  end if;
  if p_scope = 'table' then
    v_target := retention._resolve_table(p_value, 'Give an existing table, schema-qualified, e.g. app.users.');
  elsif p_scope = 'policy' then
    perform retention._get_policy(p_value);
  end if;

  perform retention._lock_holds_exclusive();
  insert into retention.legal_holds
    (scope, target, policy_name, subject_id, reason, case_reference, placed_by, expires_at)
  values
    (p_scope, v_target,
     case when p_scope = 'policy' then p_value end,
     case when p_scope = 'subject' then p_value end,
     p_reason, p_case_reference, coalesce(p_placed_by, retention._actor()), p_expires_at)
  returning * into v_hold;
  perform retention._append_audit('hold.placed', 'legal_hold', v_hold.hold_id::text,
    jsonb_strip_nulls(jsonb_build_object(
      'scope', p_scope, 'value', p_value, 'reason', p_reason,
      'case_reference', p_case_reference, 'expires_at', p_expires_at,
      'placed_by', v_hold.placed_by)));
  raise notice 'legal hold % placed on % %', v_hold.hold_id, p_scope, p_value;
  return v_hold;
end
$$;
comment on function retention.place_hold(text, text, text, text, timestamptz, text) is
  'Places a legal hold on a table, a data subject or a policy. Waits for in-flight batches; once committed, no run touches the covered rows. Audit-logged.';
