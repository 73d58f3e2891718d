-- Removes a policy. Its runs stay in the ledger (they keep the policy's name) and
-- policy-scoped legal holds stay in force for any later policy of the same name.
create or replace function retention.drop_policy(p_name text)
returns void
language plpgsql
as $$
declare
  v_old retention.policies;
begin
  delete from retention.policies where name = p_name returning * into v_old;
  if not found then
    raise exception 'policy % does not exist', coalesce(quote_literal(p_name), 'NULL')
      using errcode = 'RT008', hint = 'SELECT name FROM retention.effective_policies lists the policies.';
  end if;
  perform retention._append_audit('policy.dropped', 'policy', p_name,
    jsonb_strip_nulls(to_jsonb(v_old) - array['created_at', 'updated_at']));
  raise notice 'policy % dropped', p_name;
end
$$;
comment on function retention.drop_policy(text) is
  'Removes a policy (RT008 if unknown). Its ledger rows remain. Audit-logged.';
