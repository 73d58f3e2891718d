-- Looks a policy up by name or raises RT008: the single place that reports unknown policies.
create or replace function retention_internal._get_policy(p_name text)
returns retention.policies
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v retention.policies;
begin
  select * into v from retention.policies where name = p_name;
  if not found then
    raise exception 'policy % does not exist', coalesce(quote_literal(p_name), 'NULL')
      using errcode = 'RT008', hint = 'SELECT name FROM retention.effective_policies lists the policies.';
  end if;
  return v;
end
$$;
comment on function retention_internal._get_policy(text) is
  'Internal. The policy row of that name, or RT008.';
