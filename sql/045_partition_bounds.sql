-- The bounds of one range partition, read from the catalog (pg_get_expr of relpartbound:
-- FOR VALUES FROM ('...') TO ('...'), or DEFAULT). MINVALUE and MAXVALUE become
-- -infinity and infinity. A timestamp or date key's bounds are wall-clock times: shown as
-- points in time read in p_zones (the policy's, _timestamp_zones: the latest reading),
-- and upper_local gives the upper bound on the wall clock itself, which is what the
-- cutoff is compared with (_partitions_of). DateStyle is pinned: the catalog prints the
-- bound and this reads it back in one style whatever the caller's (German, MDY would
-- read 01.12.2026 as 12 January).
create or replace function retention_internal._partition_bounds(
  p_part     regclass,
  p_key_type regtype,
  p_zones    text[],
  out lower_bound timestamptz,
  out upper_bound timestamptz,
  out upper_local timestamp,
  out is_default  boolean
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
as $$
declare
  v_bound  text;
  v_m      text[];
  v_values timestamptz[] := array['-infinity', 'infinity']::timestamptz[];
  v_local  timestamp[] := array['-infinity', 'infinity']::timestamp[];
  v_value  timestamptz;
  v_wall   timestamp;
  v_wall_clock boolean := p_key_type in ('timestamp'::regtype, 'date'::regtype);
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
    if v_wall_clock then
      execute format('select %s::%s::timestamp', v_m[i], p_key_type) into v_wall;
      v_local[i] := v_wall;
      -- The latest of its readings (a repeated hour's wall time as its second occurrence).
      execute 'select greatest(' || (select string_agg(format('$1 at time zone %L', z), ', ') from unnest(p_zones) z) || ')'
        into v_value using v_wall;
    else
      execute format('select %s::%s::timestamptz', v_m[i], p_key_type) into v_value;
    end if;
    v_values[i] := v_value;
  end loop;
  lower_bound := v_values[1];
  upper_bound := v_values[2];
  upper_local := case when v_wall_clock then v_local[2] end;
end
$$;
comment on function retention_internal._partition_bounds(regclass, regtype, text[]) is
  'Internal. Lower and upper bound of a range partition as timestamptz (a timestamp or date key read in p_zones; MINVALUE/MAXVALUE as -infinity/infinity), a wall-clock key''s upper bound as it is (upper_local), or is_default.';
