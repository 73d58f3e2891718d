-- The bounds of one range partition as timestamps, read from the catalog
-- (pg_get_expr of relpartbound: FOR VALUES FROM ('...') TO ('...'), or DEFAULT).
-- MINVALUE and MAXVALUE become -infinity and infinity. Bounds of a date or timestamp key
-- are converted in the session's time zone, as the age comparisons of every policy are.
create or replace function retention_internal._partition_bounds(
  p_part     regclass,
  p_key_type regtype,
  out lower_bound timestamptz,
  out upper_bound timestamptz,
  out is_default  boolean
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bound  text;
  v_m      text[];
  v_values timestamptz[] := array['-infinity', 'infinity']::timestamptz[];
  v_value  timestamptz;
begin
  select pg_catalog.pg_get_expr(c.relpartbound, c.oid) into v_bound
    from pg_catalog.pg_class c where c.oid = p_part;
  is_default := v_bound = 'DEFAULT';
  if is_default then
    return;
  end if;
  v_m := regexp_match(v_bound, '^FOR VALUES FROM \((.*)\) TO \((.*)\)$');
  if v_m is null then
    raise exception 'partition % has bound %, not a range', p_part, v_bound
      using errcode = 'RT013', hint = 'drop_partitions handles range partitions only.';
  end if;
  for i in 1..2 loop
    continue when v_m[i] in ('MINVALUE', 'MAXVALUE');
    -- One quoted literal (the catalog quotes it); anything else is not a one-column key.
    if v_m[i] !~ '^''([^'']|'''')*''$' then
      raise exception 'partition % has bound %, not one value', p_part, v_bound
        using errcode = 'RT013', hint = 'drop_partitions handles partitions ranged on one timestamp or date column.';
    end if;
    execute format('select %s::%s::timestamptz', v_m[i], p_key_type) into v_value;
    v_values[i] := v_value;
  end loop;
  lower_bound := v_values[1];
  upper_bound := v_values[2];
end
$$;
comment on function retention_internal._partition_bounds(regclass, regtype) is
  'Internal. Lower and upper bound of a range partition as timestamptz (MINVALUE/MAXVALUE as -infinity/infinity), or is_default.';
