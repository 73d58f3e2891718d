import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, SchemaTooNewError } from '../runner/migrate.ts';
import { useTestDatabase } from './support/db.ts';

const db = useTestDatabase();
const MIGRATIONS = readdirSync('migrations').filter((f) => f.endsWith('.sql')).length;

describe('migrate', () => {
  it('is idempotent: a second migrate applies nothing and leaves the routines working', async () => {
    const res = await migrate(db.url);
    expect(res.applied).toEqual([]);
    expect(res.routines).toBeGreaterThan(10);
    const [row] = await db.q<{ ok: boolean }>('select ok from retention.verify_audit_log()');
    expect(row?.ok).toBe(true);
  });

  it('two migrates at once both succeed and the schema is installed once', async () => {
    const results = await Promise.all([migrate(db.url), migrate(db.url)]);
    expect(results.map((r) => r.applied)).toEqual([[], []]);
    const rows = await db.q<{ n: string }>('select count(*) as n from retention.schema_migrations');
    expect(Number(rows[0]?.n)).toBe(MIGRATIONS);
  });

  it('refuses when the database holds a migration this code does not know', async () => {
    await db.q(`insert into retention.schema_migrations (name, run_on) values ('9999999999999_from-the-future', now())`);
    try {
      await expect(migrate(db.url)).rejects.toBeInstanceOf(SchemaTooNewError);
      await expect(migrate(db.url)).rejects.toThrow(/newer retention schema/);
    } finally {
      await db.q(`delete from retention.schema_migrations where name = '9999999999999_from-the-future'`);
    }
  });

  it('installs on an empty database from the command line', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('create database retention_cli_probe_' + process.pid);
    await c.end();
    const u = new URL(db.url);
    u.pathname = '/retention_cli_probe_' + process.pid;
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.execPath, ['runner/cli.ts', 'migrate', '--database-url', u.toString()], {
      encoding: 'utf8',
    });
    expect(out).toContain(`applied ${MIGRATIONS} migration(s)`);
    const c2 = new pg.Client({ connectionString: u.toString() });
    await c2.connect();
    const r = await c2.query(`select count(*)::int as n from pg_proc where pronamespace = 'retention'::regnamespace`);
    expect(r.rows[0].n).toBeGreaterThan(15);
    await c2.end();
    const c3 = new pg.Client({ connectionString: db.url });
    await c3.connect();
    await c3.query('drop database retention_cli_probe_' + process.pid + ' with (force)');
    await c3.end();
  });

  it('a migration file run by hand (psql -f) on an installed database changes nothing', async () => {
    const psql = spawnSync('psql', ['--version']);
    expect(psql.status, 'psql is installed (Debian postgresql-client)').toBe(0);
    await db.q(`select retention.set_default('global', '3 years')`);
    const state = async () => ({
      audit: (await db.q(`select count(*)::int as n from retention.audit_log`))[0]!.n,
      tables: (await db.q(`select count(*)::int as n from pg_class where relnamespace = 'retention'::regnamespace`))[0]!.n,
      routines: (await db.q(`select count(*)::int as n from pg_proc where pronamespace = 'retention'::regnamespace`))[0]!.n,
      writes: (await db.q(`select count(*)::int as n from pg_class c, unnest(array['retention_admin', 'retention_runner']) r
                            where c.relnamespace = 'retention'::regnamespace and c.relkind = 'r'
                              and has_table_privilege(r, c.oid, 'INSERT, UPDATE, DELETE')`))[0]!.n,
      ok: (await db.q(`select ok from retention.verify_audit_log()`))[0]!.ok,
    });
    const before = await state();
    expect(before.writes).toBe(0);
    for (const f of readdirSync('migrations').filter((x) => x.endsWith('.sql')).sort()) {
      const out = spawnSync('psql', ['-X', '-q', '-d', db.url, '-f', path.join('migrations', f)], { encoding: 'utf8' });
      expect(out.stderr, f).toContain('is already applied');
    }
    expect(await state()).toEqual(before);
  });

  it('a database that is not UTF8 is refused before anything changes, with a hint (atk154 F8)', async () => {
    const name = `retention_latin1_${process.pid}`;
    await db.q(`create database ${name} encoding 'LATIN1' template template0 lc_collate 'C' lc_ctype 'C'`);
    const u = new URL(db.url);
    u.pathname = '/' + name;
    try {
      const err = await migrate(u.toString()).then(() => null, (e: unknown) => e as { code?: string; message: string; hint?: string });
      expect([err?.code, err?.message, err?.hint]).toEqual(['22023', "the database's encoding is LATIN1: pg-retention needs a UTF8 database",
        expect.stringContaining("ENCODING 'UTF8'")]);
      const c = new pg.Client({ connectionString: u.toString() });
      await c.connect();
      const r = await c.query(`select to_regnamespace('retention') as nsp`);
      await c.end();
      expect(r.rows[0].nsp).toBeNull();
    } finally {
      await db.q(`drop database ${name} with (force)`);
    }
  });

  it('migrations and the sql/ routines commit together or not at all', async () => {
    const name = `retention_atomic_${process.pid}`;
    await db.q(`create database ${name}`);
    const u = new URL(db.url);
    u.pathname = '/' + name;
    try {
      const broken = mkdtempSync(path.join(tmpdir(), 'retention-sql-'));
      cpSync('sql', broken, { recursive: true });
      writeFileSync(path.join(broken, '500_broken.sql'), 'select 1 / 0;');
      await expect(migrate(u.toString(), () => {}, { sql: broken })).rejects.toThrow(/500_broken.sql: division by zero/);
      const c = new pg.Client({ connectionString: u.toString() });
      await c.connect();
      const r = await c.query(`select to_regnamespace('retention') as nsp`);
      await c.end();
      expect(r.rows[0].nsp).toBeNull();  // not even the migrations' schema stayed
      expect((await migrate(u.toString())).applied).toHaveLength(MIGRATIONS);
    } finally {
      await db.q(`drop database ${name} with (force)`);
    }
  });
});
