-- A cast another role defined from a type (or a type it is made of: a domain's base, an
-- array's element, a composite's fields, a range's subtype) to any type: the engine's
-- statements turn keys and subject values into text and keys into json, a comparison
-- can go through an implicit cast (to name, say), and a table's expressions through any
-- — PostgreSQL would call the cast's function as the retention owner. NULL when there is
-- none (built-in casts, SECURITY DEFINER ones, or ones a superuser or the owner owns are
-- fine).
create or replace function retention_internal._foreign_cast(p_type oid)
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
  -- The type and every type it is made of, read once for both questions below.
  return (with recursive parts(oid, depth) as (
    select p_type, 0
    union
    select x.part, p.depth + 1
      from parts p
      join pg_catalog.pg_type t on t.oid = p.oid
      cross join lateral (
        select t.typbasetype as part where t.typtype = 'd'
        union all select t.typelem where t.typelem <> 0
        union all select a.atttypid from pg_catalog.pg_attribute a
                   where t.typtype = 'c' and a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
        union all select r.rngsubtype from pg_catalog.pg_range r where r.rngtypid = t.oid
        union all select r.rngtypid from pg_catalog.pg_range r where r.rngmultitypid = t.oid) x
     where p.depth < 16 and x.part <> 0)
  select s.v from (
    (select format('cast from %s to %s calls %s, owned by %I', c.castsource::regtype, c.casttarget::regtype,
                   f.oid::regprocedure, f.proowner::regrole::text)
       from parts p
       join pg_catalog.pg_cast c on c.castsource = p.oid
       join pg_catalog.pg_proc f on f.oid = c.castfunc
       join pg_catalog.pg_roles o on o.oid = f.proowner
      where f.pronamespace <> 'pg_catalog'::regnamespace and not o.rolsuper
        -- Into what the engine turns values (text, json); a cast an expression names shows in
        -- its tree. So a role's cast from text into its own type does not taint every text
        -- column (round atk50).
        and (c.casttarget in ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype, 'pg_catalog.bpchar'::regtype,
                              'pg_catalog.name'::regtype, 'pg_catalog.json'::regtype, 'pg_catalog.jsonb'::regtype)
             or c.castsource >= 16384)
        and o.rolname <> current_user
      limit 1)
    -- An owner that is not a superuser cannot hold pg_cast still (_freeze_casts): a type of
    -- another role may get a cast from it while a statement waits, which the statement
    -- would call as the owner. Such a type is refused outright (round atk123).
    union all
    (select format('type %s is owned by %I, which may create a cast from it while a statement waits (only a superuser owner holds casts still)',
                   t.oid::regtype, o.rolname)
       from parts p
       join pg_catalog.pg_type t on t.oid = p.oid
       join pg_catalog.pg_roles o on o.oid = t.typowner
      where not pg_catalog.has_table_privilege('pg_catalog.pg_cast', 'UPDATE')
        and not o.rolsuper and o.rolname <> current_user
      limit 1)) s(v)
  limit 1);
end
$$;
comment on function retention_internal._foreign_cast(oid) is
  'Internal. A cast another role defined from the type (or its parts) to any type, which the engine''s statements or a table''s expressions would run as the owner; NULL when none.';

create or replace function retention_internal._refuse_foreign_cast(p_type oid)
returns boolean
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_found text := retention_internal._foreign_cast(p_type);
begin
  if v_found is not null then
    raise exception 'type % has a % : pg-retention would run it with the retention owner''s rights', p_type::regtype, v_found
      using errcode = 'RT025', hint = 'Drop the cast, or have the retention owner (or a superuser) own its function.';
  end if;
  return true;
end
$$;
comment on function retention_internal._refuse_foreign_cast(oid) is
  'Internal. RT025 when another role''s cast from the type to text or json would run as the owner; true otherwise.';

-- A cast another role defined into a type (or into an array's element type) from text,
-- varchar, char or name: the engine turns subject values and keys given as text into a
-- column's type (::type), which calls such a cast's function as the retention owner. NULL
-- when there is none.
create or replace function retention_internal._cast_into_code(p_type oid)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  return (select format('cast from %s to %s calls %s, owned by %I', c.castsource::regtype, c.casttarget::regtype,
                        f.oid::regprocedure, o.rolname)
            from pg_catalog.pg_cast c
            join pg_catalog.pg_proc f on f.oid = c.castfunc
            join pg_catalog.pg_roles o on o.oid = f.proowner
           where c.casttarget in (p_type, (select t.typelem from pg_catalog.pg_type t where t.oid = p_type and t.typelem <> 0))
             and c.castsource in ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype, 'pg_catalog.bpchar'::regtype, 'pg_catalog.name'::regtype)
             and f.pronamespace <> 'pg_catalog'::regnamespace and not o.rolsuper and o.rolname <> current_user
           order by c.oid
           limit 1);
end
$$;
comment on function retention_internal._cast_into_code(oid) is
  'Internal. A cast of another role into the type (or its array element type) from text, varchar, char or name, which turning a text value into the type would call as the retention owner; NULL when there is none.';


-- Casts as a check read them, until the transaction ends: pg_cast locked SHARE, so CREATE
-- CAST and DROP CAST wait for the commit. A check of the casts a statement may call,
-- then a wait inside that statement (a batch's delete waiting for a row the application
-- holds), then the statement calling a cast made meanwhile, ran the application's code as
-- the owner (round atk113 F9). Taken before such checks, with the caller's lock_timeout
-- (5 seconds where it has none).
-- Only a superuser may lock a catalog: another owner has the checks alone (and its own
-- rights only to lose). Not in recovery or a read-only transaction, which change nothing.
create or replace function retention_internal._freeze_casts()
returns void
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_wait text := pg_catalog.current_setting('lock_timeout');
begin
  if pg_catalog.has_table_privilege('pg_catalog.pg_cast', 'UPDATE') and not pg_catalog.pg_is_in_recovery()
     and pg_catalog.current_setting('transaction_read_only') = 'off' then
    -- A caller without a lock_timeout waits 5 seconds at most (55P03), as _check_planner_code.
    if v_wait in ('0', '0ms') then
      perform pg_catalog.set_config('lock_timeout', '5s', true);
    end if;
    lock table pg_catalog.pg_cast in share mode;
    if v_wait in ('0', '0ms') then
      perform pg_catalog.set_config('lock_timeout', v_wait, true);
    end if;
  end if;
end
$$;
comment on function retention_internal._freeze_casts() is
  'Internal. Locks pg_cast SHARE until the transaction ends (CREATE and DROP CAST wait), where the owner may (a superuser) and the transaction can write: the casts a check read stay as it read them.';
revoke all on function retention_internal._freeze_casts() from public;
