// Attack round atk156 (the command line and the worker against the holds, the evidence and
// the clock). F1 (major): a URL of libpq's socket form, `postgres://user@/db?host=…&options=…`,
// is no URL to WHATWG's parser; pinned() then left it as it was, and pg let its `options`
// replace the pins: the application's `ALTER DATABASE … SET datestyle` reached the command
// line, which read a hold's expiry (and every non-ISO time) as NULL, a hold that looked
// permanent. The URL's query is read as pg reads it now. F2 (minor): `migrate` with that URL
// committed the schema, then refused the URL for the job schema and exited 2; the worker's
// configuration is checked first now, and the URL is migrate's own (atk159 F3).
import { describe, expect, it } from 'vitest';
import { pinned } from '../../runner/db.ts';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

/** The test database's URL in libpq's socket form: no host in the authority. */
function socketForm(extra: string): string {
  const u = new URL(db.url);
  return `postgres://${u.username}:${u.password}@/${u.pathname.slice(1)}?host=${u.hostname}&port=${u.port}${extra}`;
}

describe('the command line keeps its pins whatever the URL\'s form (atk156)', () => {
  it('F1: options in a URL without a host in its authority go before the pins, not instead of them', async () => {
    const c: { connectionString?: string; options?: string } = pinned({ connectionString: 'postgres://app@/appdb?host=/var/run/postgresql&options=-c%20statement_timeout%3D0&sslmode=disable' });
    expect(c.connectionString).toBe('postgres://app@/appdb?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable');
    expect(c.options).toMatch(/^-c statement_timeout=0 -c search_path=pg_catalog,pg_temp .*-c datestyle=ISO,MDY -c intervalstyle=postgres$/);
    await q(`create schema c156`);
    await q(`create table c156.t (id int primary key)`);
    await q(`alter database ${db.name} set datestyle = 'SQL, DMY'`);
    await q(`alter database ${db.name} set intervalstyle = 'sql_standard'`);
    try {
      const url = socketForm('&options=-c%20statement_timeout%3D0');
      const placed = await runCli(['holds', 'place', 'table', 'c156.t', '--reason', 'inquiry', '--expires-at', '2027-03-01'], { url });
      expect([placed.code, placed.stderr]).toEqual([0, '']);
      const listed = await runCli(['holds', 'list', '--json'], { url });
      expect(listed.code).toBe(0);
      const holds = JSON.parse(listed.stdout) as { covers?: string; expires_at: string | null; placed_at: string | null }[];
      expect(holds.length).toBeGreaterThan(0);
      for (const h of holds) {
        expect(h.placed_at).not.toBeNull();
        expect(new Date(h.expires_at!).toISOString()).toBe('2027-03-01T00:00:00.000Z');
      }
    } finally {
      await q(`alter database ${db.name} reset datestyle`);
      await q(`alter database ${db.name} reset intervalstyle`);
    }
  });

  it('F2: migrate refuses a worker setting its job schema step would refuse before it changes anything, and takes the socket form of URL (atk159 F3)', async () => {
    const name = `retention_m156_${process.pid}`;
    await q(`create database ${name}`);
    try {
      const u = new URL(db.url);
      const url = `postgres://${u.username}:${u.password}@/${name}?host=${u.hostname}&port=${u.port}`;
      const bad = await runCli(['migrate'], { url, env: { PG_RETENTION_JOB_SCHEMA: 'Bad Schema;' } });
      expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/PG_RETENTION_JOB_SCHEMA/)]);
      const probe = async () => {
        const c = new (await import('pg')).default.Client({ connectionString: `${db.url.replace(/\/[^/?]*(\?|$)/, `/${name}$1`)}` });
        await c.connect();
        try {
          return (await c.query(`select to_regnamespace('retention') is not null as r, to_regnamespace('retention_jobs') is not null as j`)).rows[0];
        } finally {
          await c.end();
        }
      };
      expect(await probe()).toEqual({ r: false, j: false });
      const ok = await runCli(['migrate'], { url });
      expect([ok.code, ok.stderr]).toEqual([0, '']);
      expect(await probe()).toEqual({ r: true, j: true });
    } finally {
      await q(`drop database ${name} with (force)`);
    }
  });
});
