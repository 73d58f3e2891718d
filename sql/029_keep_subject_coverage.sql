-- A subject hold covers the rows of a table through its subject columns (_subject_columns),
-- which come from policies and erasure rules. Changing or dropping one could quietly take
-- a column away and with it a hold's protection ("only meant to shorten the period" with
-- set_policy's declarative arguments). So while any subject hold is open, a change that
-- would leave a table the old declaration covered without that column is refused (RT024).
-- The tables it covered are read before the change (_subject_coverage), and each is
-- judged after it, by the same rule the holds use (_check_subject_coverage): whatever else
-- declares the column for a table (another policy or rule anywhere in its family, a
-- recorded foreign key's column, an erasure subject table's key) keeps it covered, and
-- nothing else does (rounds atk29, atk44, atk53).
drop function if exists retention_internal._keep_subject_coverage(retention.policies, regclass, name);
drop function if exists retention_internal._subject_coverage(name, regclass, oid[], text);

-- The name a declared subject column has now: the column of its number in its table
-- (a rename keeps the number), or the declared name when its table or column is gone.
-- Coverage is judged on it, so a rename cannot take a declaration out of the RT024 check
-- (round atk62 F4).
create or replace function retention_internal._subject_column_now(p_target regclass, p_column name, p_attnum smallint)
returns name
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce((select a.attname from pg_catalog.pg_attribute a
                    where a.attrelid = p_target and a.attnum = p_attnum and p_attnum > 0 and not a.attisdropped),
                  p_column)
$$;
comment on function retention_internal._subject_column_now(regclass, name, smallint) is
  'Internal. A declared subject column''s name now: that of the column of its number (renamed since or not), else the declared name.';

-- The tables a declaration of p_column covers while subject holds are open: the families
-- of its table, of the tables recorded above it (p_family) and, its table gone, of the
-- table under its name; those that have the column. Empty with no subject hold open.
create or replace function retention_internal._subject_coverage(p_column name, p_target regclass, p_family oid[],
                                                               p_target_name text, p_attnum smallint)
returns oid[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_column is null or not exists (select from retention_internal._open_holds h where h.scope = 'subject') then
    return '{}';
  end if;
  -- The column it was declared on, by number, under the name it has now: renamed since
  -- (RT002 fails runs), it still holds the subjects, and dropping or re-declaring the
  -- declaration must keep it covered (round atk62 F4).
  p_column := retention_internal._subject_column_now(p_target, p_column, p_attnum);
  return array(
    select distinct f
      from (select c.oid from pg_catalog.pg_class c
             where c.oid = any (coalesce(p_target::oid, 0) || coalesce(p_family, '{}'))
            union
            select pg_catalog.to_regclass(p_target_name)::oid
             where p_target is null or not exists (select from pg_catalog.pg_class c where c.oid = p_target)) r(rel)
     cross join unnest(retention_internal._hold_family(r.rel::regclass)) f
     where r.rel is not null
       and exists (select from pg_catalog.pg_attribute a
                    where a.attrelid = f and a.attname = p_column and a.attnum > 0 and not a.attisdropped)
     order by 1);
end
$$;
comment on function retention_internal._subject_coverage(name, regclass, oid[], text, smallint) is
  'Internal. The tables (having the column) a subject column declared on a table covers while subject holds are open: to judge after a change whether they still have it as a subject column.';

-- Before the coverage of a subject column is read (_subject_coverage): batches and
-- place_hold wait on the holds gate, so a subject hold whose transaction is open now is
-- committed, and seen, before the coverage is judged (round atk71 F2: a hold committed
-- while drop_policy ran was not seen, and its rows went on the next run). At read
-- committed only: a snapshot taken earlier would not see it.
create or replace function retention_internal._lock_for_coverage()
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'a subject column''s change is judged against the open subject holds at read committed, not %',
          pg_catalog.current_setting('transaction_isolation')
      using errcode = '25001', hint = 'Run it in a read committed transaction (the default): a hold placed meanwhile must be seen.';
  end if;
  -- Exclusively, as place_hold: two changes that each remove one of two declarations of a
  -- held column judged each other's still there and both committed (round atk126 F1); and a
  -- declaration that widens what holds cover waits for the batches in flight, whose hold
  -- rule was built without it (atk126 F3), so every later batch builds it with it.
  -- (A column declared is recorded with the keys to it by its caller once saved: round
  -- atk126 F2.)
  perform retention_internal._lock_holds_exclusive();
end
$$;
comment on function retention_internal._lock_for_coverage() is
  'Internal. Takes the holds gate exclusively before a subject column''s declaration changes (another change, a hold and the batches in flight are waited for; a hold placed meanwhile is seen); 25001 outside read committed.';

-- After a change: each table the old declaration covered must still have the column as a
-- subject column, or the change is refused (RT024) and undone with the statement. What
-- makes it one now is recorded (subject_links) before it is judged.
create or replace function retention_internal._check_subject_coverage(p_tables oid[], p_column name, p_what text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel  oid;
  v_cols name[];
begin
  -- A foreign key that makes the column a subject column now (to a column declared since
  -- the hold) is recorded first: the coverage it gives then outlives the key (round atk88
  -- F2: the key dropped after the change, the held rows were no longer covered).
  if coalesce(cardinality(p_tables), 0) = 0 then
    return;  -- no subject hold was open
  end if;
  perform retention_internal._note_subject_links();
  for v_rel in select x from unnest(p_tables) x order by x loop
    -- A column renamed since fails every run of the table (RT002) until it is declared
    -- again: nothing to judge here.
    continue when not exists (select from pg_catalog.pg_attribute a
                               where a.attrelid = v_rel and a.attname = p_column and a.attnum > 0 and not a.attisdropped);
    -- Another declaration of the table broken (a subject column renamed or dropped since:
    -- RT002): its subject columns cannot be told, so the change is refused, not let
    -- through (round atk71 F1: undoing the rename afterwards left the held rows uncovered).
    v_cols := retention_internal._subject_columns_or_null(v_rel::regclass);
    if v_cols is null then
      raise exception '%: open subject holds rely on the subject columns of %, and one of them was renamed or dropped since', p_what,
            retention.qualified_name(v_rel::regclass)
        using errcode = 'RT024',
              hint = 'Declare that column again under its name now (retention.check_setup() names it), then make this change; or release the subject holds first.';
    end if;
    if not p_column = any (v_cols) then
      raise exception '%: open subject holds rely on its subject column % of %', p_what, p_column,
            retention.qualified_name(v_rel::regclass)
        using errcode = 'RT024',
              hint = format('Keep the subject column %L (set_policy declares the whole policy; re-declare it on the partitioned or parent table first if this one goes), or release the subject holds first (SELECT * FROM retention.active_holds WHERE scope = ''subject'').', p_column);
    end if;
  end loop;
end
$$;
comment on function retention_internal._check_subject_coverage(oid[], name, text) is
  'Internal. Refuses (RT024) a policy or erasure rule change after which a table the old declaration covered no longer has that subject column while subject holds are open.';
