-- A person's data, exported (GDPR Art. 15 access, Art. 20 portability): every row about
-- them that an erasure of them would touch, found through the same graph
-- (_subject_steps: foreign keys from their row, subject columns without one), grouped by
-- table, each table with the rule an erasure would apply (delete, scrub, keep with its
-- legal reason) and its rows as JSON objects, columns in table order (to_json; output
-- settings pinned, so the same rows give the same text). The login must be able to read
-- every table of the plan (42501) and no row-level security may hide rows from it
-- (RT023): the export runs as the owner and must not hand over what the login could not
-- read itself. A column type with another role's cast to json or text is refused (RT025:
-- it would run as the owner). Audit-logged by the subject's token, tables and row counts:
-- never the key or a value; the entry is written in the caller's transaction (a
-- rolled-back export leaves none: the login could read the same rows directly anyway, so
-- the entry is a record, not a barrier).
create or replace function retention.export_subject(p_subject_table text, p_subject_id text)
returns json
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_table  regclass;
  v_pk     text;
  v_type   text;
  v_key    text;
  v_tables json[] := '{}';
  v_rows   json;
  v_n      bigint;
  v_total  bigint := 0;
  v_bad    text;
  s        record;
begin
  perform retention_internal._routine_write();  -- the audit entry and the subject's token
  -- It reads by the login's rights: not for another role's code running in its session.
  perform retention_internal._check_reader('export a person''s data', retention_internal._foreign_frame(null, array['export_subject']));
  -- The reading in a subtransaction rolled back once the rows are read: the locks its
  -- checks take (pg_cast, each table's planner lock) do not last to the end of the
  -- caller's transaction, which stopped runs, CREATE CAST and the application's DDL for as
  -- long as it stayed open (the kind of round atk130 F3).
  begin
  -- Each table's casts are checked before its rows are read as JSON, which looks a cast to
  -- json up as it runs: none is made until this commits (the kind of round atk113 F9).
  perform retention_internal._freeze_casts();
  select x.rel, x.key_column, x.key_type into v_table, v_pk, v_type
    from retention_internal._subject_table(p_subject_table, 'export') x;
  -- The key as the person's row holds it, as an erasure request takes it (_stored_key).
  v_key := retention_internal._stored_key(v_table, p_subject_id);
  if v_key is null then
    raise exception 'no subject % in %', coalesce(quote_literal(p_subject_id), 'NULL'), v_table
      using errcode = 'RT030', hint = format('p_subject_id is the value of %s.%I of the person''s row.', v_table, v_pk);
  end if;
  for s in select * from retention_internal._subject_steps(v_table, v_key) order by step loop
    perform retention_internal._check_can_read(s.target::regclass);
    if retention_internal._rls_hides(s.target::regclass) then
      raise exception 'row-level security on % applies to %: the export would show rows it may not see', s.target, session_user
        using errcode = 'RT023', hint = 'Export as a login that bypasses its row-level security.';
    end if;
    select format('%s.%I: %s', a.attrelid::regclass, a.attname, retention_internal._foreign_cast(a.atttypid)) into v_bad
      from pg_catalog.pg_attribute a
     where a.attrelid = s.target::regclass and a.attnum > 0 and not a.attisdropped and a.atttypid >= 16384
       and retention_internal._foreign_cast(a.atttypid) is not null
     limit 1;
    if v_bad is not null then
      raise exception 'cannot export %: writing a row as JSON would run another role''s cast (%)', s.target, v_bad
        using errcode = 'RT025', hint = 'Exports are made as the retention owner. Have the owner (or a superuser) own that cast''s function, or drop the cast.';
    end if;
    -- A partitioned table's rows are in its partitions (no ONLY there).
    execute format('select coalesce(pg_catalog.json_agg(pg_catalog.to_json(t.*)), ''[]''::json), count(*) from %s t where %s',
                   retention_internal._reach_scan(s.target::regclass), s.cond)
      into v_rows, v_n;
    v_total := v_total + v_n;
    -- A partition's rows under its partitioned table: one table for the person.
    v_tables := v_tables || json_build_object('table', retention.qualified_name(coalesce(pg_catalog.pg_partition_root(s.target::regclass), s.target::regclass)),
                                              'depth', s.depth, 'via', s.via, 'rule', s.rule,
                                              'reason', s.reason, 'row_count', v_n, 'rows', v_rows);
  end loop;
    raise exception using errcode = 'RTREL';
  exception when sqlstate 'RTREL' then
    null;
  end;
  -- The partitions of one partitioned table (same rule) as one entry, rows together.
  with e as (select t.o, t.e ->> 'table' as tbl, t.e ->> 'rule' as rul, t.e ->> 'reason' as rsn, t.e
               from unnest(v_tables) with ordinality t(e, o)),
  g as (select e.tbl, e.rul, e.rsn, min(e.o) as first, min((e.e ->> 'depth')::int) as depth,
               string_agg(distinct e.e ->> 'via', ', ') as via, sum((e.e ->> 'row_count')::bigint) as n
          from e group by e.tbl, e.rul, e.rsn)
  select coalesce(array_agg(json_build_object('table', g.tbl, 'depth', g.depth, 'via', g.via, 'rule', g.rul, 'reason', g.rsn,
                                              'row_count', g.n,
                                              'rows', coalesce((select json_agg(r.row order by x.o, r.i)
                                                                  from e x cross join lateral json_array_elements(x.e -> 'rows') with ordinality r(row, i)
                                                                 where x.tbl = g.tbl and x.rul = g.rul and x.rsn is not distinct from g.rsn), '[]'::json))
                            order by g.first), '{}')
    into v_tables
    from g;
  perform retention_internal._append_audit('subject.exported', 'subject', retention_internal._subject_token('subject:' || v_key),
    jsonb_build_object('subject_table', retention.qualified_name(v_table), 'exported_by', session_user,
                       'tables', cardinality(v_tables), 'rows', v_total));
  return json_build_object('subject_table', retention.qualified_name(v_table), 'exported_at', clock_timestamp(),
                           'tables', array_to_json(v_tables));
end
$$;
comment on function retention.export_subject(text, text) is
  'A person''s data (GDPR Art. 15, 20): every row an erasure of them would touch (foreign keys and subject columns from their row), grouped by table with the erasure''s rule, rows as JSON objects in column order. The login must be able to read every table; audit-logged by the subject''s token, without the key.';
