-- A type with its domains resolved: the base type of a domain (of a domain over a domain,
-- and so on), else the type itself; NULL for no such type. The walk stops 1,000 domains
-- down and returns the domain it reached there: callers that read values by their type
-- treat a domain as a type they cannot read.
create or replace function retention_internal._domain_base(p_type oid)
returns oid
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_type oid := p_type;
  v_kind "char";
  v_next oid;
begin
  for i in 1 .. 1000 loop
    select t.typtype, t.typbasetype into v_kind, v_next from pg_catalog.pg_type t where t.oid = v_type;
    if v_kind is null then
      return null;
    elsif v_kind <> 'd' then
      return v_type;
    end if;
    v_type := v_next;
  end loop;
  return v_type;
end
$$;
comment on function retention_internal._domain_base(oid) is
  'Internal. A type with its domains resolved (the base type of a domain, through domains over domains, at most 1,000 down: the domain reached there past that); the type itself if not a domain; NULL for no type.';
revoke all on function retention_internal._domain_base(oid) from public;

-- The type a value of a column is cast to in the engine's statements: the column's type
-- with every domain resolved to its base type (an array of a domain to an array of the
-- base type), modifier kept. Casting to a domain runs its CHECK — the table owner's
-- code — in the session of whoever previews, places a hold or runs; comparing with the
-- base type needs no cast to the domain at all. A composite, range or multirange type (or
-- an array of one) may hold domains inside, whose checks its input would run: values of
-- such columns are compared as text (output runs no check), so this returns text.
create or replace function retention_internal._base_type(p_type oid, p_typmod integer)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- PL/pgSQL keeps this query's plan for the session; a SQL function's is made anew at
  -- every call (most of a batch's fixed cost on PostgreSQL 15).
  return (select s.v from (
  with recursive guard as (
    -- Values of the type are turned into text: no cast of another role's may run for it.
    select retention_internal._refuse_foreign_cast(p_type) as ok
  ),
  d(oid, typmod, depth) as (
    select case when t.typcategory = 'A' and t.typelem <> 0 then t.typelem else t.oid end,
           p_typmod, 0
      from pg_catalog.pg_type t where t.oid = p_type
    union all
    select b.typbasetype, b.typtypmod, d.depth + 1
      from d join pg_catalog.pg_type b on b.oid = d.oid
     where b.typtype = 'd' and d.depth < 1000)
  select case when (select b.typtype in ('c', 'r', 'm') from pg_catalog.pg_type b where b.oid = x.oid)
                   or (select t.typtype in ('c', 'r', 'm') from pg_catalog.pg_type t where t.oid = p_type)
              then 'text'
              when (select t.typcategory = 'A' and t.typelem <> 0 from pg_catalog.pg_type t where t.oid = p_type)
              then format_type((select e.typarray from pg_catalog.pg_type e where e.oid = x.oid), x.typmod)
              else format_type(x.oid, x.typmod) end
    from (select d.oid, d.typmod from d order by d.depth desc limit 1) x, guard g
   where g.ok
  ) s(v) limit 1);
end
$$;
comment on function retention_internal._base_type(oid, integer) is
  'Internal. A column type with domains resolved to their base type (arrays of domains too), modifier kept: what the engine casts values to.';


-- Whether values of a column type are text as subject holds compare them (its base type,
-- domains resolved, in the string category: text, varchar, char, and citext or any other
-- string type an extension adds). Round atk71 F4: a text column retyped to citext lost
-- the spellings (blanks around, another case) the holds take in text.
create or replace function retention_internal._text_like(p_type oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select coalesce((select t.typcategory = 'S' from pg_catalog.pg_type t
                    where t.oid = pg_catalog.to_regtype(retention_internal._base_type(p_type, -1))), false)
$$;
comment on function retention_internal._text_like(oid) is
  'Internal. Whether a column type''s base type is in the string category (text, varchar, char, citext, name): subject holds compare its values in every spelling.';
