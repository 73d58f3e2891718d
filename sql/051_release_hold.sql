-- Releases a legal hold: it stays on record with who released it, when and why.
create or replace function retention.release_hold(
  p_hold_id     bigint,
  p_reason      text,
  p_released_by text default null
)
returns retention.legal_holds
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_hold retention.legal_holds;
  v_req  record;
begin
  perform retention_internal._check_called_directly('release a legal hold');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  if p_reason is null or btrim(p_reason) = '' then
    raise exception 'releasing a legal hold needs a reason'
      using errcode = 'RT010', hint = 'Say why, e.g. ''Case closed, counsel approval 2026-11-02''.';
  end if;
  perform retention_internal._check_note(p_reason, 2000, 'a release''s reason', 'RT010');
  if p_released_by is not null and not retention_internal._printable(p_released_by, 200) then
    raise exception 'released by must be 1 to 200 printable characters'
      using errcode = 'RT010', hint = 'Give a role or a person''s account name, without control, invisible or direction-changing characters; or leave it NULL for retention.actor or the login.';
  end if;
  select * into v_hold from retention.legal_holds where hold_id = p_hold_id for update;
  if not found then
    raise exception 'legal hold % does not exist', p_hold_id
      using errcode = 'RT011', hint = 'SELECT * FROM retention.active_holds lists the holds in force.';
  end if;
  if v_hold.released_at is not null then
    raise exception 'legal hold % was already released at % by %', p_hold_id, v_hold.released_at, v_hold.released_by
      using errcode = 'RT011', hint = 'SELECT * FROM retention.active_holds lists the holds in force.';
  end if;
  update retention.legal_holds
     set released_at = clock_timestamp(), released_by = coalesce(p_released_by, retention_internal._actor()),
         release_reason = p_reason
   where hold_id = p_hold_id
  returning * into v_hold;
  -- A hold on a value of a person whose erasure has completed (it was in force when the
  -- erasure's step read their rows): released, it no longer names them (round atk81 F2).
  if v_hold.scope = 'subject' then
    for v_req in
      select w.request_id, q.subject_hash
        from retention_internal.erasure_held_values w join retention.erasure_requests q on q.request_id = w.request_id
       where w.hold_id = p_hold_id and q.status = 'completed'
    loop
      perform retention_internal._forget_held_values(v_req.request_id, v_req.subject_hash);
    end loop;
    select * into v_hold from retention.legal_holds where hold_id = p_hold_id;
  end if;
  perform retention_internal._append_audit('hold.released', 'legal_hold', p_hold_id::text,
    jsonb_strip_nulls(jsonb_build_object(
      'reason', case when v_hold.scope = 'subject' then null else p_reason end,  -- kept in legal_holds
      'subject_token', v_hold.subject_token, 'released_by', v_hold.released_by)));
  raise notice 'legal hold % released', p_hold_id;
  return v_hold;
end
$$;
comment on function retention.release_hold(bigint, text, text) is
  'Releases a legal hold with a reason (RT011 if unknown or already released). The hold stays on record (a subject hold on a value of a person whose erasure has completed loses the value and its reasons). Audit-logged.';
