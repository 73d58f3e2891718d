-- A cast another role defined that comparing a value of type p_a with one of type p_b can
-- go through: PostgreSQL compares two columns of different types (a foreign key from an
-- enum to a bigint, say) through an implicit cast, calling its function as whoever runs
-- the comparison — the retention owner in a detach's or attach's own key checks
-- (RI_PartitionRemove_Check, RI_Initial_Check), in the hold rule's chains of keys and in
-- an erasure's walk down them (round atk113 F3, F7, F8). Any cast of such a role from
-- either type or a type it is made of (_type_chain) that is not built in (another role's
-- type), or from one of them into another of them; NULL when the two are the same type
-- (domains resolved: no cast is needed) or no such cast exists.
create or replace function retention_internal._key_cast(p_a oid, p_b oid)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  -- A domain compares as its base type.
  v_a oid := retention_internal._domain_base(p_a);
  v_b oid := retention_internal._domain_base(p_b);
begin
  if v_a = v_b then
    return null;
  end if;
  return (select format('cast from %s to %s calls %s, owned by %I', c.castsource::regtype, c.casttarget::regtype,
                        f.oid::regprocedure, o.rolname)
            from pg_catalog.pg_cast c
            join pg_catalog.pg_proc f on f.oid = c.castfunc
            join pg_catalog.pg_roles o on o.oid = f.proowner
           where c.castsource in (select x.typ from retention_internal._type_chain(p_a) x
                                  union select x.typ from retention_internal._type_chain(p_b) x)
             and (c.castsource >= 16384
                  or c.casttarget in (select x.typ from retention_internal._type_chain(p_a) x
                                      union select x.typ from retention_internal._type_chain(p_b) x))
             and f.pronamespace <> 'pg_catalog'::regnamespace and not o.rolsuper and o.rolname <> current_user
           order by c.oid
           limit 1);
end
$$;
comment on function retention_internal._key_cast(oid, oid) is
  'Internal. A cast of another role''s that comparing values of the two types could call as the retention owner (from either type or a type it is made of, when that is not built in, or between them); NULL when the types are the same (domains resolved) or there is none.';
revoke all on function retention_internal._key_cast(oid, oid) from public;

-- RT025 when comparing the two sides of a foreign key on, or into, one of p_rels would run
-- another role's code as the retention owner: an implicit cast between the columns' types
-- (_key_cast), or an equality operator of the key's whose function such a role wrote
-- (_untrusted_call). PostgreSQL's checks of a detach and an attach compare every such key;
-- an erasure's walk and the hold rule compare the keys they follow.
create or replace function retention_internal._check_key_casts(p_rels oid[])
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bad text;
begin
  select format('foreign key %I of %s compares %I (%s) with %s.%I (%s) through a %s', c.conname, c.conrelid::regclass,
                a.attname, a.atttypid::regtype, c.confrelid::regclass, b.attname, b.atttypid::regtype, w.line)
    into v_bad
    from pg_catalog.pg_constraint c
    cross join lateral unnest(c.conkey, c.confkey) u(fk, ref)
    join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = u.fk
    join pg_catalog.pg_attribute b on b.attrelid = c.confrelid and b.attnum = u.ref
    cross join lateral (select retention_internal._key_cast(a.atttypid, b.atttypid) as line) w
   where c.contype = 'f' and (c.conrelid = any (p_rels) or c.confrelid = any (p_rels)) and w.line is not null
   order by c.oid
   limit 1;
  if v_bad is null then
    select format('foreign key %I of %s compares with operator %s, whose %s (%s)', c.conname, c.conrelid::regclass,
                  op.oid::regoperator, op.oprcode::regprocedure, u.why)
      into v_bad
      from pg_catalog.pg_constraint c
      cross join lateral unnest(c.conpfeqop || c.conppeqop || c.conffeqop) e(op)
      join pg_catalog.pg_operator op on op.oid = e.op
      join pg_catalog.pg_class k on k.oid = c.conrelid
      cross join lateral (select retention_internal._untrusted_call(op.oprcode, k.relowner) as why) u
     where c.contype = 'f' and (c.conrelid = any (p_rels) or c.confrelid = any (p_rels)) and u.why is not null
     order by c.oid
     limit 1;
  end if;
  if v_bad is not null then
    raise exception 'cannot compare keys as the retention owner: %', v_bad
      using errcode = 'RT025',
            hint = 'pg-retention compares keys as the retention owner: give both columns of the key the same type, or have the owner (or a superuser) own the cast''s or operator''s function.';
  end if;
end
$$;
comment on function retention_internal._check_key_casts(oid[]) is
  'Internal. RT025 when comparing a foreign key on or into one of the tables with what it references would call another role''s cast (_key_cast) or equality operator as the retention owner.';
revoke all on function retention_internal._check_key_casts(oid[]) from public;
