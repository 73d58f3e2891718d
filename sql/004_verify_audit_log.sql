-- Walks the audit log in order and recomputes every hash. Reports the first row whose
-- stored hash or back-link does not match, a gap in the ids (a deleted row), or a head
-- that does not match the chain's recorded head (deleted newest rows).
create or replace function retention.verify_audit_log(
  out ok boolean,
  out rows_checked bigint,
  out first_bad_audit_id bigint,
  out problem text
)
language plpgsql
security definer
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  r           record;
  v_prev_hash bytea := decode(repeat('00', 32), 'hex');
  v_expect_id bigint := 1;
  v_head      record;
begin
  ok := true;
  rows_checked := 0;
  for r in select * from retention.audit_log order by audit_id loop
    rows_checked := rows_checked + 1;
    if r.audit_id <> v_expect_id then
      ok := false; first_bad_audit_id := r.audit_id;
      problem := format('audit rows %s to %s are missing', v_expect_id, r.audit_id - 1);
      return;
    end if;
    if r.prev_hash <> v_prev_hash then
      ok := false; first_bad_audit_id := r.audit_id;
      problem := 'prev_hash does not match the hash of the row before it';
      return;
    end if;
    if concat(r.actor, r.db_user, r.action, r.object_type, r.object_name) ~ '[\x1e\x1f]' then
      -- Never written by _append_audit: fields shifted across a separator hash alike.
      ok := false; first_bad_audit_id := r.audit_id;
      problem := 'a field holds a separator character the audit append never writes: the row was changed after it was written';
      return;
    end if;
    if r.row_hash <> retention_internal._audit_hash(r.prev_hash, r.audit_id, r.occurred_at, r.actor,
                                           r.db_user, r.action, r.object_type,
                                           r.object_name, r.details) then
      ok := false; first_bad_audit_id := r.audit_id;
      problem := 'row contents do not match row_hash: the row was changed after it was written';
      return;
    end if;
    v_prev_hash := r.row_hash;
    v_expect_id := v_expect_id + 1;
  end loop;
  select last_id, last_hash into v_head from retention.audit_chain;
  if v_head.last_id <> v_expect_id - 1 or v_head.last_hash <> v_prev_hash then
    ok := false; first_bad_audit_id := v_expect_id;
    problem := format('the chain head records audit row %s but the log ends at %s: newest rows were removed',
                      v_head.last_id, v_expect_id - 1);
  end if;
end
$$;
comment on function retention.verify_audit_log() is
  'Recomputes the audit log''s hash chain. ok = true when intact; otherwise first_bad_audit_id names the first tampered or missing row and problem says what is wrong.';
