-- Every write of a policy's predicate goes through _validate_predicate, whoever writes it
-- (set_policy, or a role with UPDATE on retention.policies): the stored text is always
-- PostgreSQL's deparsed form of an accepted predicate, so the engine can paste it.
create or replace function retention_internal._policy_predicate_check()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  new.predicate := retention_internal._validate_predicate(new.target, new.predicate);
  return new;
end
$$;
comment on function retention_internal._policy_predicate_check() is
  'Internal. Trigger function: parses and normalises policies.predicate on every insert or update of it (RT005 when refused).';

create or replace trigger policies_predicate_check
  before insert or update of predicate, target on retention.policies
  for each row execute function retention_internal._policy_predicate_check();

-- Predicates stored by an earlier version were checked by hand. Each is parsed again on
-- every migrate; one that PostgreSQL now refuses is replaced by false (the policy acts on
-- nothing) and the policy disabled, with an audit entry keeping the old text and why.
do $$
declare
  v_pol  record;
  v_norm text;
  v_err  text;
begin
  perform retention_internal._routine_write();  -- a refused predicate is audited below
  for v_pol in select policy_id, name, target, predicate from retention.policies where predicate is not null loop
    begin
      v_norm := retention_internal._validate_predicate(v_pol.target, v_pol.predicate);
      if v_norm is distinct from v_pol.predicate then
        update retention.policies set predicate = v_norm where policy_id = v_pol.policy_id;
      end if;
    exception when sqlstate 'RT005' then
      get stacked diagnostics v_err = message_text;
      update retention.policies set predicate = 'false', enabled = false where policy_id = v_pol.policy_id;
      perform retention_internal._append_audit('policy.predicate_refused', 'policy', v_pol.name,
        jsonb_build_object('predicate', v_pol.predicate, 'error', v_err, 'now', 'predicate false, policy disabled'));
      raise warning 'policy %: its predicate is refused (%); it now acts on nothing and is disabled', v_pol.name, v_err
        using hint = 'Fix it with retention.set_policy (a predicate over the table''s columns with built-in functions), then enable it.';
    end;
  end loop;
end
$$;
