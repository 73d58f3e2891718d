// Every PL/pgSQL routine of the retention schema passes plpgsql_check (the extension, from
// Debian's postgresql-15-plpgsql-check, which CI's PostgreSQL 15 leg installs): a wrong
// type, an unknown function or column, a record read before it is assigned, in code the
// tests may never reach. Where the extension is not available (the embedded PostgreSQL),
// the test says so and is skipped.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db.ts';

const db = useTestDatabase();
describe('plpgsql_check', () => {
  it('finds no error in any routine of the schema', async (ctx) => {
    const [ext] = await db.q<{ n: number }>(`select count(*)::int as n from pg_available_extensions where name = 'plpgsql_check'`);
    if (ext!.n === 0) {
      expect(process.env.RETENTION_REQUIRE_PLPGSQL_CHECK, 'plpgsql_check is required on this leg').toBeUndefined();
      console.log('[tests] plpgsql_check is not installed on this server: skipped (CI installs it on PostgreSQL 15)');
      ctx.skip();
    }
    await db.q(`create extension if not exists plpgsql_check`);
    // Trigger functions are checked against a table that has the trigger.
    await db.q(`create table public.plcheck_objects (id int primary key, f text)`);
    await db.q(`select retention.set_object_column('public.plcheck_objects', 'f', 'rec')`);
    const routines = await db.q<{ n: number }>(
      `select count(*)::int as n from pg_proc p join pg_language l on l.oid = p.prolang
        where p.pronamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and l.lanname = 'plpgsql'`);
    expect(routines[0]!.n).toBeGreaterThan(50);
    const errors = await db.q(
      `select p.oid::regprocedure::text as routine, c.lineno, c.message
         from pg_proc p
         join pg_language l on l.oid = p.prolang and l.lanname = 'plpgsql'
         cross join lateral plpgsql_check_function_tb(p.oid,
           coalesce((select t.tgrelid from pg_trigger t where t.tgfoid = p.oid limit 1), 0)) c
        where p.pronamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and c.level = 'error'
        order by 1, 2`);
    expect(errors).toEqual([]);
  });
});
