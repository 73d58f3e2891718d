-- Lets retention_predicate_checker (see _validate_predicate) look up the types of a
-- table's own columns: USAGE on the schemas that hold them, granted by the schema's
-- owner side (SECURITY DEFINER, as the retention schema's owner). A predicate stored in
-- PostgreSQL's deparsed form names those types (state = 'closed'::app.state), and must
-- parse again when re-checked. The role gets nothing but USAGE; a schema whose USAGE the
-- owner may not grant is skipped (a predicate naming its types is then refused, RT005).
create or replace function retention_internal._checker_usage(p_target regclass)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_nsp name;
begin
  for v_nsp in
    select distinct n.nspname
      from pg_catalog.pg_attribute a
      join pg_catalog.pg_type t on t.oid = a.atttypid
      join pg_catalog.pg_namespace n on n.oid = t.typnamespace
     where a.attrelid = p_target and a.attnum > 0 and not a.attisdropped
       and n.nspname not in ('pg_catalog', 'information_schema')
       and not pg_catalog.has_schema_privilege('retention_predicate_checker', n.oid, 'USAGE')
  loop
    begin
      execute format('grant usage on schema %I to retention_predicate_checker', v_nsp);
    exception when insufficient_privilege then
      null;
    end;
  end loop;
end
$$;
comment on function retention_internal._checker_usage(regclass) is
  'Internal. Grants retention_predicate_checker USAGE on the schemas of a table''s column types, so deparsed predicates parse again.';
revoke all on function retention_internal._checker_usage(regclass) from public;
