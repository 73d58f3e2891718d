-- Schemas whose functions, operators and domains policy predicates may use besides
-- pg_catalog. They run inside every batch as the retention owner, so a schema is trusted
-- only while it and everything in it are the owner's (or a superuser's) and no other role
-- may create in it (_schema_untrusted): the owner reviewed that code and took it over.
-- Every batch checks it again (_check_predicate_code): a predicate calling into a schema
-- that no longer qualifies, or was distrusted, stops the run. Both changes are audit-logged.
create or replace function retention.trust_schema(p_schema text, p_reason text)
returns retention.trusted_schemas
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_row retention.trusted_schemas;
  v_why text;
begin
  perform retention_internal._check_called_directly('trust a schema');
  if p_schema is null or pg_catalog.to_regnamespace(pg_catalog.quote_ident(p_schema)) is null then
    raise exception 'schema % does not exist', coalesce(pg_catalog.quote_literal(p_schema), 'NULL')
      using errcode = 'RT005', hint = 'Name an existing schema that holds the functions your predicates call (\dn lists them).';
  end if;
  if p_schema in ('retention', 'retention_internal', 'pg_toast', 'information_schema') or p_schema ~ '^pg_' then
    raise exception 'schema % cannot be trusted for predicates', p_schema
      using errcode = 'RT005', hint = 'Trust a schema of the application''s own functions; pg_catalog is always trusted.';
  end if;
  if p_reason is null or pg_catalog.btrim(p_reason) = '' then
    raise exception 'trusting a schema needs a reason'
      using errcode = 'RT005', hint = 'Say whose functions they are and why predicates need them.';
  end if;
  perform retention_internal._check_note(p_reason, 2000, 'the reason', 'RT005');
  -- Its code runs in every batch as the retention owner: the owner's alone (round atk77 F1).
  v_why := retention_internal._schema_untrusted(pg_catalog.to_regnamespace(pg_catalog.quote_ident(p_schema))::oid);
  if v_why is not null then
    raise exception 'schema % cannot be trusted: %', p_schema, v_why
      using errcode = 'RT005',
            hint = 'Predicates run inside every batch as the retention owner, so a trusted schema and everything in it must be the retention owner''s (or a superuser''s), and no other role may create in it: have the owner review the functions, then ALTER SCHEMA … OWNER TO and ALTER FUNCTION … OWNER TO the owner, and REVOKE CREATE ON SCHEMA from the others.';
  end if;
  -- Predicates are parsed as retention_predicate_checker (see _validate_predicate): it may
  -- now find the schema's functions. The login must itself be able to grant USAGE on the
  -- schema (this routine runs as the owner, who often could).
  if not has_schema_privilege(session_user, p_schema, 'USAGE WITH GRANT OPTION')
     and not pg_has_role(session_user, (select n.nspowner from pg_catalog.pg_namespace n where n.nspname = p_schema), 'MEMBER') then
    raise exception 'cannot trust schema %: % may not grant USAGE on it', p_schema, session_user
      using errcode = '42501', hint = format('Its owner (or a superuser) runs this, or first: GRANT USAGE ON SCHEMA %I TO %I WITH GRANT OPTION.', p_schema, session_user);
  end if;
  begin
    execute format('grant usage on schema %I to retention_predicate_checker', p_schema);
  exception when insufficient_privilege then
    raise exception 'cannot trust schema %: % may not grant USAGE on it', p_schema, current_user
      using errcode = '42501', hint = format('Its owner (or a superuser) runs this, or first: GRANT USAGE ON SCHEMA %I TO %I WITH GRANT OPTION.', p_schema, current_user);
  end;
  insert into retention.trusted_schemas (schema_name, reason, trusted_by)
  values (p_schema, p_reason, retention_internal._actor())
  on conflict (schema_name) do update set reason = excluded.reason, trusted_at = now(), trusted_by = excluded.trusted_by
  returning * into v_row;
  perform retention_internal._append_audit('schema.trusted', 'schema', p_schema, jsonb_build_object('reason', p_reason));
  raise notice 'predicates may now call functions of schema %', p_schema;
  return v_row;
end
$$;
comment on function retention.trust_schema(text, text) is
  'Lets policy predicates call functions, operators and domains of a schema besides pg_catalog (non-volatile functions only); the schema and everything in it must be the retention owner''s (or a superuser''s), and no other role may create in it. Audit-logged.';

create or replace function retention.distrust_schema(p_schema text, p_reason text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  perform retention_internal._check_called_directly('distrust a schema');
  if p_reason is null or pg_catalog.btrim(p_reason) = '' then
    raise exception 'distrusting a schema needs a reason'
      using errcode = 'RT005', hint = 'Say why its functions may no longer be used.';
  end if;
  perform retention_internal._check_note(p_reason, 2000, 'the reason', 'RT005');
  delete from retention.trusted_schemas where schema_name = p_schema;
  if not found then
    raise exception 'schema % is not trusted', coalesce(pg_catalog.quote_literal(p_schema), 'NULL')
      using errcode = 'RT005', hint = 'SELECT * FROM retention.trusted_schemas lists the trusted ones.';
  end if;
  begin
    execute format('revoke usage on schema %I from retention_predicate_checker', p_schema);
  exception when insufficient_privilege or invalid_schema_name then
    null;  -- the schema is gone, or its USAGE was granted by someone else: the row is what counts
  end;
  perform retention_internal._append_audit('schema.distrusted', 'schema', p_schema, jsonb_build_object('reason', p_reason));
end
$$;
comment on function retention.distrust_schema(text, text) is
  'Stops policy predicates from calling functions of a schema (runs of policies saved earlier whose predicate calls into it are refused until set again). Audit-logged.';
