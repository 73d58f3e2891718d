-- A column of p_rel that must hold a point in time (the age, deleted-at and scrubbed-at
-- columns of policies): RT002 when it does not exist, RT003 when it is not timestamptz,
-- timestamp or date, each with a hint naming its role.
create or replace function retention_internal._check_timestamp_column(
  p_rel     regclass,
  p_column  text,
  p_role    text,
  p_missing text
)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_type regtype := retention_internal._column_type(p_rel, p_column);
begin
  if v_type is null then
    raise exception 'column % does not exist in %', coalesce(quote_literal(p_column), 'NULL'), p_rel
      using errcode = 'RT002', hint = p_missing;
  end if;
  if v_type not in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) then
    raise exception 'column %.% is of type %, not a timestamp', p_rel, p_column, v_type
      using errcode = 'RT003', hint = format('The %s column must be timestamptz, timestamp or date.', p_role);
  end if;
end
$$;
comment on function retention_internal._check_timestamp_column(regclass, text, text, text) is
  'Internal. Raises RT002 (missing) or RT003 (not timestamptz, timestamp or date) for a policy''s time column.';
