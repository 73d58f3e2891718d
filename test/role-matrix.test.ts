// The role matrix: what each retention role may execute and read, checked three ways.
//  1. The catalog's privileges equal the tables in docs/security.md (the documentation is
//     the specification: a grant that drifts from it fails here).
//  2. No role may write any retention table or execute any internal routine (_*), by the
//     catalog and by trying: every role x every table x INSERT, UPDATE, DELETE, TRUNCATE
//     as a real login, and calls of internal routines that forge evidence.
//  3. Reading: every role x every table and view, tried, matches the matrix.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAs, sqlState, useTestDatabase } from './support/db.ts';

const db = useTestDatabase();
const ROLES = ['retention_admin', 'retention_runner', 'retention_auditor', 'retention_requester', 'retention_approver', 'retention_archiver'] as const;
type Role = (typeof ROLES)[number];
const SHORT: Record<Role, string> = {
  retention_admin: 'admin', retention_runner: 'runner', retention_auditor: 'auditor', retention_requester: 'requester', retention_approver: 'approver', retention_archiver: 'archiver',
};
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The rows of the markdown table under `heading` in docs/security.md: name -> role -> cell. */
async function docTable(heading: string): Promise<Map<string, Record<string, string>>> {
  const text = await readFile(path.join(root, 'docs/security.md'), 'utf8');
  const start = text.indexOf(heading);
  expect(start, `docs/security.md has a section "${heading}"`).toBeGreaterThan(-1);
  const lines = text.slice(start).split('\n').slice(1);
  const rows = new Map<string, Record<string, string>>();
  let header: string[] | null = null;
  for (const line of lines) {
    if (!line.startsWith('|')) {
      if (header) break;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (!header) { header = cells; continue; }
    if (cells.every((c) => /^-+$/.test(c))) continue;
    const name = cells[0]!.replace(/`/g, '').replace(/\(.*$/, '');
    rows.set(name, Object.fromEntries(header.slice(1).map((h, i) => [h, cells[i + 1] ?? ''])));
  }
  return rows;
}

const logins = new Map<Role, pg.Client>();
let nobody: pg.Client;
beforeAll(async () => {
  // Logins are cluster-wide: a suffix of their own per run (a shared server keeps them).
  const suffix = randomBytes(3).toString('hex');
  for (const role of ROLES) logins.set(role, await loginAs(db, `m_${SHORT[role]}_${suffix}`, role));
  nobody = await loginAs(db, `m_nobody_${suffix}`);  // a login in none of the roles
});
afterAll(async () => {
  for (const c of logins.values()) await c.end();
  await nobody.end();
});

describe('the role matrix', () => {
  it('routine privileges in the catalog are the ones docs/security.md lists', async () => {
    const doc = await docTable('### Routines');
    const rows = await db.q<{ name: string; role: string; ok: boolean }>(
      `select p.proname as name, r.role, has_function_privilege(r.role, p.oid, 'EXECUTE') as ok
         from pg_proc p cross join unnest($1::text[]) r(role)
        where p.pronamespace = 'retention'::regnamespace and p.proname !~ '^_' and p.prokind in ('f', 'p')`,
      [ROLES]);
    const actual = new Map<string, Record<string, string>>();
    for (const r of rows) {
      const e = actual.get(r.name) ?? {};
      e[SHORT[r.role as Role]] = r.ok ? 'yes' : '–';
      actual.set(r.name, e);
    }
    expect(Object.fromEntries([...actual].sort())).toEqual(Object.fromEntries([...doc].sort()));
  });

  it('table and view privileges in the catalog are the ones docs/security.md lists, and none writes', async () => {
    const doc = await docTable('### Tables and views');
    const rows = await db.q<{ name: string; role: string; r: boolean; w: boolean }>(
      `select c.relname as name, x.role,
              has_table_privilege(x.role, c.oid, 'SELECT') as r,
              has_table_privilege(x.role, c.oid, 'INSERT') or has_table_privilege(x.role, c.oid, 'UPDATE')
                or has_table_privilege(x.role, c.oid, 'DELETE') or has_table_privilege(x.role, c.oid, 'TRUNCATE')
                or has_any_column_privilege(x.role, c.oid, 'INSERT') or has_any_column_privilege(x.role, c.oid, 'UPDATE') as w
         from pg_class c cross join unnest($1::text[]) x(role)
        where c.relnamespace = 'retention'::regnamespace and c.relkind in ('r', 'v', 'p')`,
      [ROLES]);
    const actual = new Map<string, Record<string, string>>();
    for (const r of rows) {
      const e = actual.get(r.name) ?? {};
      e[SHORT[r.role as Role]] = r.w ? 'WRITE' : r.r ? 'read' : '–';
      actual.set(r.name, e);
    }
    expect(Object.fromEntries([...actual].sort())).toEqual(Object.fromEntries([...doc].sort()));
    expect(rows.filter((r) => r.w)).toEqual([]);
  });

  it('the internals live in schema retention_internal, which no role may use: retention holds only the public API', async () => {
    const rows = await db.q<{ sig: string; role: string }>(
      `select p.oid::regprocedure::text as sig, r.role
         from pg_proc p cross join unnest($1::text[]) r(role)
        where p.pronamespace = 'retention_internal'::regnamespace
          and has_function_privilege(r.role, p.oid, 'EXECUTE')`,
      [[...ROLES, 'public']]);
    expect(rows).toEqual([]);
    const [internal] = await db.q<{ n: string }>(
      `select count(*) as n from pg_proc where pronamespace = 'retention_internal'::regnamespace and proname ~ '^_'`);
    expect(Number(internal!.n)).toBeGreaterThan(100);
    // \df retention.* and \dv retention.*: nothing internal.
    expect(await db.q(`select proname from pg_proc where pronamespace = 'retention'::regnamespace and proname ~ '^_'
                       union all select relname from pg_class where relnamespace = 'retention'::regnamespace and relname ~ '^_'`)).toEqual([]);
    // No role has USAGE on the schema, nor any right on what it holds.
    expect(await db.q(`select r.role from unnest($1::text[]) r(role)
                        where has_schema_privilege(r.role, 'retention_internal', 'USAGE')
                           or has_schema_privilege(r.role, 'retention_internal', 'CREATE')`, [[...ROLES, 'public']])).toEqual([]);
    expect(await db.q(`select c.relname, r.role from pg_class c cross join unnest($1::text[]) r(role)
                        where c.relnamespace = 'retention_internal'::regnamespace
                          and has_table_privilege(r.role, c.oid, 'SELECT')`, [[...ROLES, 'public']])).toEqual([]);
  });

  it('every role, as a real login, is refused INSERT, UPDATE, DELETE and TRUNCATE on every retention table', async () => {
    const tables = (await db.q<{ t: string; col: string }>(
      `select c.oid::regclass::text as t,
              (select quote_ident(a.attname) from pg_attribute a where a.attrelid = c.oid and a.attnum > 0
                  and not a.attisdropped and a.attidentity = '' and a.attgenerated = '' order by a.attnum limit 1) as col
         from pg_class c where c.relnamespace = 'retention'::regnamespace and c.relkind in ('r', 'p')
        order by 1`));
    expect(tables.length).toBeGreaterThan(15);
    let cases = 0;
    const allowed: string[] = [];
    for (const role of [...ROLES, 'nobody'] as const) {
      const c = role === 'nobody' ? nobody : logins.get(role)!;
      for (const { t, col } of tables) {
        for (const stmt of [`insert into ${t} default values`, `update ${t} set ${col} = ${col} where false`,
                            `delete from ${t} where false`, `truncate ${t}`]) {
          cases++;
          const state = await sqlState(c.query(stmt)).catch(() => 'ok');
          if (state !== '42501') allowed.push(`${role}: ${stmt} -> ${state}`);
        }
      }
    }
    expect(allowed).toEqual([]);
    expect(cases).toBeGreaterThanOrEqual(300);
  });

  it('reading: every role reads exactly the tables and views the matrix says, as a real login', async () => {
    const doc = await docTable('### Tables and views');
    const wrong: string[] = [];
    for (const role of ROLES) {
      const c = logins.get(role)!;
      for (const [name, cells] of doc) {
        const state = await sqlState(c.query(`select * from retention.${name} limit 0`)).catch(() => 'ok');
        const expected = cells[SHORT[role]] === 'read' ? 'ok' : '42501';
        if (state !== expected) wrong.push(`${role} select ${name}: ${state}, expected ${expected}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the calls that forged evidence before are refused to every role', async () => {
    const forgeries = [
      `select retention_internal._append_audit('run.completed', 'policy', 'x', '{}')`,
      `select retention_internal._close_run((select r from retention.runs r limit 1), 'completed')`,
      `select retention_internal._erasure_evidence(1, 1, 0, 'app.t', 'delete', 'forged', 100)`,
      `select retention_internal._block_erasure(1, 'h', null, 'forged')`,
      `select retention_internal._try_lock_run('x')`,
      `select retention_internal._parse_as_checker('t', 'true')`,
    ];
    for (const role of ROLES) {
      for (const f of forgeries) expect(await sqlState(logins.get(role)!.query(f)), `${role}: ${f}`).toBe('42501');
    }
  });
});
