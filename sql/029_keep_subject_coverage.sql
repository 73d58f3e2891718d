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
  -- Its name given to another column of its table since (RT002 fails runs there): the
  -- declaration covers nothing that re-declaring the right column would take away.
  if p_attnum is not null and exists (select from pg_catalog.pg_attribute a
                                       where a.attrelid = p_target and a.attname = p_column and a.attnum > 0
                                         and not a.attisdropped and a.attnum <> p_attnum) then
    return '{}';
  end if;
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

-- After a change: each table the old declaration covered must still have the column as a
-- subject column, or the change is refused (RT024) and undone with the statement.
create or replace function retention_internal._check_subject_coverage(p_tables oid[], p_column name, p_what text)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel oid;
begin
  for v_rel in select x from unnest(p_tables) x order by x loop
    -- A column renamed since fails every run of the table (RT002) until it is declared
    -- again: nothing to judge here.
    continue when not exists (select from pg_catalog.pg_attribute a
                               where a.attrelid = v_rel and a.attname = p_column and a.attnum > 0 and not a.attisdropped);
    if not coalesce(p_column = any (retention_internal._subject_columns_or_null(v_rel::regclass)), true) then
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
