-- Up Migration
-- retention_predicate_checker: a role with no privileges of its own. _validate_predicate
-- parses a predicate as this role, so whatever user code parsing could reach (a domain's
-- check behind an array or record literal) runs with nothing it could harm, and names in
-- schemas nobody granted it cannot even be looked up. Whoever saves predicates (admins,
-- the owner who migrates) may switch to it. trust_schema grants it USAGE on a schema.
do $$
begin
  if not exists (select from pg_roles where rolname = 'retention_predicate_checker') then
    create role retention_predicate_checker nologin noinherit;
  end if;
end
$$;
grant retention_predicate_checker to retention_admin;
do $$
begin
  execute format('grant retention_predicate_checker to %I', current_user);
exception when others then
  null;  -- a superuser owner needs no membership (and cannot be granted its own role twice)
end
$$;

-- Down Migration
revoke retention_predicate_checker from retention_admin;
