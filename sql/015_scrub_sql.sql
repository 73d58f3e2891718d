-- The SQL fragments of a scrub policy over alias t, built from its normalised column map:
--  scrubbed: true when every scrubbed column already holds its scrubbed value, so the row
--            is skipped and repeating a run changes nothing;
--  set_list: the SET list of the UPDATE that scrubs a row. sha256 writes 'sha256:' and the
--            hex digest of the value's UTF-8 text, so equal values stay equal (unique
--            indexes hold) and an investigator holding the original can recompute it; a
--            value already in that form ('sha256:' and 64 hex digits, nothing else) is
--            left as it is (a value that merely starts with 'sha256:' is hashed).
create or replace function retention_internal._scrub_sql(
  p_policy retention.policies,
  out scrubbed text,
  out set_list text
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_gone text;
begin
  -- Every column of the map must still be one of the table's: one renamed (or dropped) since
  -- the policy or rule was saved would drop out of both the SET list and the "already
  -- scrubbed" test, and a batch would scrub the others and report the row scrubbed.
  select e.key into v_gone
    from jsonb_each(p_policy.scrub_columns) e
   where not exists (select from pg_catalog.pg_attribute a
                      where a.attrelid = p_policy.target and a.attname = e.key and a.attnum > 0 and not a.attisdropped)
   order by e.key limit 1;
  if p_policy.scrub_columns is null or p_policy.scrub_columns = '{}'::jsonb then
    raise exception '%: no columns to scrub in %', coalesce('policy ' || p_policy.name, 'erasure step'), p_policy.target
      using errcode = 'RT019', hint = 'A scrub names its columns (p_scrub => ''{"email": "sha256"}'').';
  end if;
  if v_gone is not null then
    raise exception '%: the scrubbed column % is no longer a column of %',
          coalesce('policy ' || p_policy.name, 'erasure step'), quote_ident(v_gone), p_policy.target
      using errcode = 'RT002',
            hint = 'It was renamed or dropped after the scrub columns were saved, and nothing was scrubbed: restore it, or change the scrub columns (retention.alter_policy(..., p_scrub => ...) or retention.set_erasure_rule(..., p_scrub => ...)), then run or process again.';
  end if;
  select string_agg(
           case r.kind
             when 'null' then format('t.%I is null', r.col)
             when 'sha256' then format('(t.%1$I is null or t.%1$I::text ~ ''^sha256:[0-9a-f]{64}$'')', r.col)
             when 'empty_json' then format('(t.%1$I is null or t.%1$I::text = ''{}'')', r.col)
             else format('t.%I is not distinct from %L::%s', r.col, r.constant, r.type) end,
           ' and ' order by r.col),
         string_agg(
           case r.kind
             when 'null' then format('%I = null', r.col)
             when 'sha256' then format(
               '%1$I = case when t.%1$I is null or t.%1$I::text ~ ''^sha256:[0-9a-f]{64}$'' then t.%1$I
                            else (''sha256:'' || encode(sha256(convert_to(t.%1$I::text, ''UTF8'')), ''hex''))::%2$s end',
               r.col, r.type)
             when 'empty_json' then format('%1$I = case when t.%1$I is null then null else ''{}''::%2$s end', r.col, r.type)
             else format('%I = %L::%s', r.col, r.constant, r.type) end,
           ', ' order by r.col)
    from (select e.key as col,
                 case when jsonb_typeof(e.value) = 'object' then 'constant' else e.value #>> '{}' end as kind,
                 e.value ->> 'constant' as constant,
                 format_type(a.atttypid, a.atttypmod) as type
            from jsonb_each(p_policy.scrub_columns) e
            join pg_catalog.pg_attribute a on a.attrelid = p_policy.target and a.attname = e.key
                                              and a.attnum > 0 and not a.attisdropped) r
    into scrubbed, set_list;
end
$$;
comment on function retention_internal._scrub_sql(retention.policies) is
  'Internal. A scrub policy as SQL over alias t: the already-scrubbed condition and the SET list that scrubs a row.';
