-- No JIT compilation in pg-retention's routines. Their catalog queries (the hold rule,
-- the reach of a cascade, the code check) are estimated as costly by the planner (many
-- correlated subqueries) and run over a few rows: where the server has JIT (Debian's and
-- the official images' PostgreSQL do, jit = on by default), compiling one took up to
-- 0.9 s for a query that runs in a millisecond (retention_internal._held_keys_now, 5 rows;
-- PostgreSQL 15), and a batch's statement is too short to gain from it. Each function
-- with a SET clause, or in PL/pgSQL, runs with jit = off; a SQL function without one is
-- left as it is, so that PostgreSQL can still inline it into its callers (which have
-- it). Procedures are left too: a SET clause would forbid their COMMITs; what they run
-- goes through these functions.
do $$
declare
  r record;
begin
  for r in select p.oid::regprocedure as sig
             from pg_catalog.pg_proc p join pg_catalog.pg_language l on l.oid = p.prolang
            where p.pronamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace)
              and p.prokind = 'f'
              and (l.lanname <> 'sql' or p.proconfig is not null)
              and not exists (select from unnest(p.proconfig) c where c like 'jit=%') loop
    execute format('alter function %s set jit = off', r.sig);
  end loop;
end
$$;
