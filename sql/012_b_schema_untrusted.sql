-- Why a schema's functions, operators and types may not run in a predicate, or NULL when
-- they may. A predicate runs inside every batch as the retention owner, so whoever can put
-- code there runs it with the owner's rights: the schema must be the owner's (or a
-- superuser's), no other role may create in it, and everything in it must be owned by the
-- owner or a superuser. An application's schema of helpers was trusted, and the
-- application replaced a helper after the policy was saved with one that ran ALTER ROLE …
-- SUPERUSER in the next batch; an admin trusted a schema of its own (round atk77 F1).
create or replace function retention_internal._schema_untrusted(p_nsp oid)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select x.why from (
  select 1 as rank, case
    when n.oid is null then 'it does not exist'
    when not o.rolsuper and n.nspowner <> (select r.oid from pg_catalog.pg_roles r where r.rolname = current_user)
      then pg_catalog.format('it is owned by %I', o.rolname)
    else (select pg_catalog.format('%s may create in it', case when a.grantee = 0 then 'PUBLIC' else pg_catalog.quote_ident(g.rolname) end)
            from pg_catalog.aclexplode(n.nspacl) a
            left join pg_catalog.pg_roles g on g.oid = a.grantee
           where a.privilege_type = 'CREATE' and (a.grantee = 0 or (not g.rolsuper and g.rolname <> current_user))
           order by 1
           limit 1)
  end as why
    from (select p_nsp as oid) x
    left join pg_catalog.pg_namespace n on n.oid = x.oid
    left join pg_catalog.pg_roles o on o.oid = n.nspowner
  union all
  select 2, pg_catalog.format('%s is owned by %I', w.what, r.rolname)
    from (select pg_catalog.format('function %s', p.oid::pg_catalog.regprocedure) as what, p.proowner as owner
            from pg_catalog.pg_proc p where p.pronamespace = p_nsp
          union all
          select pg_catalog.format('operator %s', op.oid::pg_catalog.regoperator), op.oprowner
            from pg_catalog.pg_operator op where op.oprnamespace = p_nsp
          union all
          select pg_catalog.format('type %s', t.oid::pg_catalog.regtype), t.typowner
            from pg_catalog.pg_type t where t.typnamespace = p_nsp) w
    join pg_catalog.pg_roles r on r.oid = w.owner
   where not r.rolsuper and r.rolname <> current_user) x
   where x.why is not null
   order by x.rank, x.why
   limit 1
$$;
comment on function retention_internal._schema_untrusted(oid) is
  'Internal. Why a schema''s code may not run in a predicate (as the retention owner): it is not the owner''s or a superuser''s, another role may create in it, or something in it is another role''s; NULL when it may.';
revoke all on function retention_internal._schema_untrusted(oid) from public;
