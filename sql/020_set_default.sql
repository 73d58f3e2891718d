-- Sets or clears an inherited retention period: p_scope is 'global' or the name of a
-- schema; p_retain NULL removes the default so the next level of the hierarchy applies.
create or replace function retention.set_default(p_scope text, p_retain interval)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_key text;
  v_old interval;
begin
  perform retention_internal._check_called_directly('set a default period');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  if p_scope is null or btrim(p_scope) = '' then
    raise exception 'scope must be ''global'' or a schema name'
      using errcode = 'RT015', hint = 'E.g. SELECT retention.set_default(''global'', ''1 year'') or retention.set_default(''app'', ''90 days'').';
  end if;
  if p_scope = 'global' then
    v_key := 'global';
  elsif exists (select from pg_catalog.pg_namespace n where n.nspname = p_scope and retention_internal._system_namespace(n.oid)) then
    raise exception 'schema "%" is not an application schema', p_scope
      using errcode = 'RT015', hint = 'Defaults apply to application schemas; the system''s, pg-retention''s and the job queue''s tables are never purged.';
  elsif exists (select from pg_catalog.pg_namespace where nspname = p_scope) then
    v_key := 'schema:' || p_scope;
  elsif p_retain is null and exists (select from retention.defaults d where d.scope = 'schema:' || p_scope) then
    -- The default of a schema dropped since can still be removed (a schema created later
    -- under its name would inherit it; round atk64 F7).
    v_key := 'schema:' || p_scope;
  else
    raise exception 'schema "%" does not exist', p_scope
      using errcode = 'RT015', hint = 'Use ''global'' or the name of an existing schema (\dn lists them).';
  end if;
  if p_retain is not null and not retention_internal._period_positive(p_retain) then
    raise exception 'retention period must be positive, got %', p_retain
      using errcode = 'RT004', hint = 'Give a positive interval such as ''90 days'', or NULL to remove the default.';
  end if;
  if p_retain > interval '1000 years' then
    raise exception 'retention period must be at most 1000 years, got %', p_retain
      using errcode = 'RT004', hint = 'Give the period the law or your policy sets, e.g. ''10 years''.';
  end if;

  select retain into v_old from retention.defaults where scope = v_key;
  if v_old is not distinct from p_retain then
    raise notice 'default retention for % unchanged', v_key;
    return;
  end if;
  if p_retain is null then
    delete from retention.defaults where scope = v_key;
  else
    -- A schema's by its OID too: the default follows the schema through a rename, and a
    -- schema made again under the name adds its OID (the first's tables, moved out, keep
    -- the default: round atk135 F8).
    insert into retention.defaults as d (scope, retain, updated_by, schema_oids)
    values (v_key, p_retain, retention_internal._actor(),
            array(select n.oid from pg_catalog.pg_namespace n where v_key = 'schema:' || n.nspname))
    on conflict (scope) do update
      set retain = excluded.retain, updated_at = now(), updated_by = excluded.updated_by,
          schema_oids = array(select distinct o from unnest(d.schema_oids || excluded.schema_oids) o order by o);
  end if;
  perform retention_internal._append_audit(
    case when p_retain is null then 'default.removed' else 'default.set' end,
    'default', v_key,
    jsonb_build_object('old', v_old::text, 'new', p_retain::text));
  raise notice 'default retention for % is now %', v_key, coalesce(p_retain::text, 'inherited');
end
$$;
comment on function retention.set_default(text, interval) is
  'Sets the inherited retention period for ''global'' or a schema; NULL removes it. Policies without their own period use it. Audit-logged.';
