// psql's \d+ and \df+ explain the schema: every table, view and column of the retention
// schema, and every routine, has a comment. And every routine keeps JIT off.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db.ts';

const db = useTestDatabase();

describe('the retention schema documents itself', () => {
  it('every table, view and column has a COMMENT', async () => {
    const rels = await db.q<{ relname: string }>(
      `select relname from pg_class where relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and relkind in ('r', 'v', 'p')
          and obj_description(oid, 'pg_class') is null order by 1`);
    expect(rels.map((r) => r.relname)).toEqual([]);
    const cols = await db.q<{ col: string }>(
      `select c.relname || '.' || a.attname as col from pg_class c
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and c.relkind in ('r', 'v', 'p')
          and col_description(c.oid, a.attnum) is null order by 1`);
    expect(cols.map((r) => r.col)).toEqual([]);
  });

  it('every routine has a COMMENT', async () => {
    const fns = await db.q<{ fn: string }>(
      `select p.oid::regprocedure::text as fn from pg_proc p
        where p.pronamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and obj_description(p.oid, 'pg_proc') is null order by 1`);
    expect(fns.map((r) => r.fn)).toEqual([]);
  });

  it('every function but an inlinable SQL one runs with jit = off (sql/995_jit_off.sql)', async () => {
    const fns = await db.q<{ fn: string }>(
      `select p.oid::regprocedure::text as fn from pg_proc p join pg_language l on l.oid = p.prolang
        where p.pronamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and p.prokind = 'f'
          and (l.lanname <> 'sql' or p.proconfig is not null) and not 'jit=off' = any (coalesce(p.proconfig, '{}')) order by 1`);
    expect(fns.map((r) => r.fn)).toEqual([]);
  });
});
