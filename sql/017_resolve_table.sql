-- A table named by the caller, resolved through the catalog (search_path applies to an
-- unqualified name). A malformed or unknown name is RT001 with the caller's hint.
create or replace function retention_internal._resolve_table(p_name text, p_hint text)
returns regclass
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel regclass;
begin
  begin
    v_rel := to_regclass(p_name);
  exception when others then
    v_rel := null;  -- a malformed name (e.g. unbalanced quotes) is reported as unknown
  end;
  if v_rel is null then
    raise exception 'table % does not exist', coalesce(quote_literal(p_name), 'NULL')
      using errcode = 'RT001', hint = p_hint;
  end if;
  return v_rel;
end
$$;
comment on function retention_internal._resolve_table(text, text) is
  'Internal. Resolves a table name to its regclass, or raises RT001 with the given hint.';
