-- How a row of a table is named where personal data must not appear (run_row_failures):
-- a jsonb expression over alias t of its primary key columns, or its ctid when the table
-- has no primary key.
create or replace function retention._row_key_sql(p_rel regclass)
returns text
language sql
stable
as $$
  select coalesce(
    (select format('jsonb_build_object(%s)',
                   string_agg(format('%L, t.%I', a.attname, a.attname), ', ' order by k.o))
       from pg_catalog.pg_index i
      cross join lateral unnest(i.indkey::int2[]) with ordinality k(att, o)
       join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.att
      where i.indrelid = p_rel and i.indisprimary),
    'jsonb_build_object(''ctid'', t.ctid::text)')
$$;
comment on function retention._row_key_sql(regclass) is
  'Internal. A jsonb expression over alias t naming a row by its primary key (else its ctid).';
