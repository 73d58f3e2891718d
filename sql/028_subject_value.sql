-- A subject hold's id as a value of a subject column's type, in that type's canonical text
-- ('042' is 42 for an integer column, an upper-case UUID its lower-case form), or NULL
-- when it is no value of that type ('abc' for a bigint column cannot match any row).
-- Holds are compared with rows in the column's type, never as text. p_type is the
-- column's full type as format_type gives it, modifier included (char(4), not char(1)).
create or replace function retention._subject_value(p_value text, p_type text)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  v text;
begin
  execute format('select %L::%s::text', p_value, p_type) into v;
  return v;
exception when data_exception or invalid_text_representation then
  return null;
end
$$;
comment on function retention._subject_value(text, text) is
  'Internal. A subject id as canonical text of a column type (NULL when it is no value of that type).';

-- The columns of a table that name a data subject, so a subject hold covers its rows:
-- the subject column of every policy on the table or on a partitioned table it belongs
-- to, and the key of a table people are erased from (erasure requests' subject tables).
create or replace function retention._subject_columns(p_rel regclass)
returns name[]
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  v_gone record;
begin
  -- A policy's subject column renamed or dropped since: subject holds would quietly stop
  -- covering the table, so every check of it fails until the policy is fixed.
  select p.name, p.subject_column into v_gone
    from retention.policies p
   where p.subject_column is not null
     and p.target = any (retention._rel_and_ancestors(p_rel))
     and not exists (select from pg_catalog.pg_attribute a
                      where a.attrelid = p_rel and a.attname = p.subject_column and a.attnum > 0 and not a.attisdropped)
   limit 1;
  if found then
    raise exception 'policy %: subject column % no longer exists in %', v_gone.name, v_gone.subject_column,
          retention.qualified_name(p_rel)
      using errcode = 'RT002',
            hint = 'Subject holds are matched on it: set the policy''s p_subject_column to the column''s new name (or drop the policy) before runs go on.';
  end if;
  return (select coalesce(array_agg(distinct x.col order by x.col), '{}')
    from (select p.subject_column as col
            from retention.policies p
           where p.subject_column is not null
             and p.target = any (retention._rel_and_ancestors(p_rel))
          union
          select k.key_column
            from retention._single_key(p_rel) k
           where exists (select from retention.erasure_requests r where r.subject_table = p_rel)) x
   where exists (select from pg_catalog.pg_attribute a
                  where a.attrelid = p_rel and a.attname = x.col and not a.attisdropped));
end
$$;
comment on function retention._subject_columns(regclass) is
  'Internal. Columns of a table that subject holds match: policies'' subject columns (the table''s and its parents'') and the key of erasure subject tables.';
