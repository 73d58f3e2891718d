-- What a role lacks to act on a policy's table, as the GRANTs that fix it, one per line (NULL when
-- nothing is missing). Runs act as the retention schema's owner, so this is the gate that
-- keeps a run to the tables the DBA let the running role act on (open_run checks the
-- session's login), and what check_setup reports for retention_runner:
--  * delete, purge_soft_deleted: SELECT and DELETE, and UPDATE on the age column (rows are
--    locked FOR UPDATE SKIP LOCKED, which asks for UPDATE on some column);
--  * soft_delete: SELECT and UPDATE on the age and deleted-at columns;
--  * scrub: SELECT and UPDATE on the age, scrubbed-at and scrubbed columns; SELECT and
--    DELETE on its revoke tables;
--  * drop_partitions: membership in the table owner's role (DETACH and DROP require it)
--    and CREATE on the archive schema.
create or replace function retention_internal._privilege_gap(p retention.policies, p_role name)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_tbl   text := retention.qualified_name(p.target);
  v_owner name;
  v_priv  text;
  v_rel   regclass;
  v_gaps  text[] := '{}';
begin
  if v_tbl is null then
    return null;
  end if;
  -- A scrubbed column renamed or dropped since the policy was saved: RT002 names it (the
  -- privilege functions would fail on the unknown name without saying why).
  if p.action = 'scrub' then
    perform retention_internal._scrub_sql(p);
  end if;
  -- USAGE on the schemas: without it the login could not reach the tables at all, and a
  -- run acting as the owner must not reach them for it.
  select v_gaps || array_agg(format('GRANT USAGE ON SCHEMA %I TO %I;', n.nspname, p_role) order by n.nspname)
    into v_gaps
    from pg_catalog.pg_namespace n
   where n.oid in (select c.relnamespace from pg_catalog.pg_class c
                    where c.oid = p.target or c.oid = any (coalesce(p.revoke_tables, '{}')))
     and not has_schema_privilege(p_role, n.oid, 'USAGE');
  v_gaps := coalesce(v_gaps, '{}');
  if p.action = 'drop_partitions' then
    select c.relowner::regrole::name into v_owner from pg_catalog.pg_class c where c.oid = p.target;
    -- Both may be missing: one GRANT per line.
    return nullif(concat_ws(E'\n', nullif(array_to_string(v_gaps, E'\n'), ''),
      case when not pg_has_role(p_role, v_owner, 'MEMBER') then
        case when (select rolsuper from pg_catalog.pg_roles where rolname = v_owner)
             then format('ALTER TABLE %s OWNER TO app_owner; GRANT app_owner TO %I; -- an application role that owns the table; never grant the superuser %I', v_tbl, p_role, v_owner)
             else format('GRANT %I TO %I;', v_owner, p_role) end end,
      case when p.archive_schema is not null and not has_schema_privilege(p_role, p.archive_schema, 'CREATE') then
        format('GRANT CREATE ON SCHEMA %I TO %I;', p.archive_schema, p_role) end), '');
  end if;
  v_priv := case when p.action = 'soft_delete'
                 then format('SELECT, UPDATE (%I, %I)', p.age_column, p.deleted_at_column)
                 when p.action = 'scrub'
                 then format('SELECT, UPDATE (%s)', (select string_agg(quote_ident(c), ', ' order by o)
                               from unnest(array[p.age_column::text]
                                           || array(select k from jsonb_object_keys(p.scrub_columns) k order by k)
                                           || p.scrubbed_at_column::text) with ordinality u(c, o) where c is not null))
                 else format('SELECT, DELETE, UPDATE (%I)', p.age_column) end;
  if not has_table_privilege(p_role, p.target, 'SELECT')
     or not has_column_privilege(p_role, p.target, p.age_column, 'UPDATE')
     or (p.action = 'soft_delete' and not has_column_privilege(p_role, p.target, p.deleted_at_column, 'UPDATE'))
     or (p.action = 'scrub' and exists (
           select from jsonb_object_keys(p.scrub_columns) c
            where not has_column_privilege(p_role, p.target, c, 'UPDATE')))
     or (p.action = 'scrub' and p.scrubbed_at_column is not null
         and not has_column_privilege(p_role, p.target, p.scrubbed_at_column, 'UPDATE'))
     or (p.action not in ('soft_delete', 'scrub') and not has_table_privilege(p_role, p.target, 'DELETE')) then
    v_gaps := v_gaps || format('GRANT %s ON %s TO %I;', v_priv, v_tbl, p_role);
  end if;
  foreach v_rel in array coalesce(p.revoke_tables, '{}') loop
    if not has_table_privilege(p_role, v_rel, 'SELECT') or not has_table_privilege(p_role, v_rel, 'DELETE') then
      v_gaps := v_gaps || format('GRANT SELECT, DELETE ON %s TO %I;', retention.qualified_name(v_rel), p_role);
    end if;
  end loop;
  return nullif(array_to_string(v_gaps, E'\n'), '');
end
$$;
comment on function retention_internal._privilege_gap(retention.policies, name) is
  'Internal. The GRANT a role lacks to act on a policy''s table (NULL when it lacks nothing): the gate open_run applies to the session''s login, and what check_setup reports for retention_runner.';
