// Per-test-file database: a clone of the migrated template, dropped afterwards unless
// RETENTION_TEST_KEEP=1 (then its name is printed so a failure can be inspected).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { withDatabase } from './global-setup.ts';

export interface TestDb {
  url: string;
  name: string;
  pool: pg.Pool;
  /** One-off query on the shared pool. */
  q: <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>;
  /** A dedicated connection (e.g. to hold locks); terminations of it are expected. */
  connect: () => Promise<pg.Client>;
  /** Runs one statement on a session of its own (CALL needs one outside any transaction;
   * one a call that succeeded used, reset, or a new one) and returns its rows and the
   * notices it raised. */
  call: (text: string, values?: unknown[]) => Promise<{ rows: pg.QueryResultRow[]; notices: string[] }>;
}

export function useTestDatabase(): TestDb {
  const adminUrl = inject('adminUrl');
  const template = inject('templateDb');
  const name = `retention_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // Roles are cluster-wide and outlive the database: the ones a test creates through q()
  // or loginAs() are dropped after it, so runs on a long-lived server do not pile them up
  // (and a random suffix cannot collide with a leftover of an earlier run).
  const roles = new Set<string>();
  const noteRoles = (text: string) => {
    for (const m of text.matchAll(/\bcreate\s+(?:role|user)\s+(?:if\s+not\s+exists\s+)?("?)([\w$]+)\1/gi)) roles.add(m[2]!);
  };
  // An idle pooled connection ended by the server (the database dropped WITH (FORCE) at the
  // end of the file, a test terminating backends) must not crash the run; a query that
  // fails still fails its test.
  pool.on('error', () => {});
  const db: TestDb = {
    url,
    name,
    pool,
    q: async (text, values) => {
      noteRoles(text);
      return (await pool.query(text, values)).rows;
    },
    connect: async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => {});
      await c.connect();
      return c;
    },
    call: async (text, values) => {
      const c = await callConnection();
      const notices: string[] = [];
      const onNotice = (n: { message?: string }) => notices.push(n.message ?? '');
      c.on('notice', onNotice);
      let ok = false;
      try {
        const rows = (await c.query(text, values)).rows;
        ok = true;
        return { rows, notices };
      } finally {
        c.off('notice', onNotice);
        // A session whose statement failed ends, as it did when every call had its own: a
        // run or a lock it left is then a dead session's, as the tests that fail one expect.
        if (ok) idleCalls.push(c);
        else await c.end().catch(() => {});
      }
    },
  };
  // The sessions of calls that succeeded, kept for the next call: a new session compiles
  // every PL/pgSQL routine a run uses again (most of a small run's time). Each is reset
  // (DISCARD ALL: settings, role, advisory locks, temporary tables, prepared statements)
  // before it is used again, and one the server ended meanwhile is replaced.
  // A session takes its defaults from ALTER DATABASE / ALTER ROLE ... SET when it starts
  // (a test sets one for the application's trigger), so one started before such a change
  // is not used again after it.
  const idleCalls: pg.Client[] = [];
  const settingsOf = new WeakMap<pg.Client, string>();
  const settingsNow = async (c: pg.Client): Promise<string> =>
    (await c.query<{ s: string }>(`select coalesce(string_agg(setdatabase || '/' || setrole || '/' || array_to_string(setconfig, ','), ';' order by setdatabase, setrole), '') as s
                                     from pg_catalog.pg_db_role_setting`)).rows[0]!.s;
  const callConnection = async (): Promise<pg.Client> => {
    for (let c = idleCalls.pop(); c; c = idleCalls.pop()) {
      try {
        if ((await settingsNow(c)) === settingsOf.get(c)) {
          await c.query('discard all');
          return c;
        }
      } catch {
        // ended by the server meanwhile
      }
      await c.end().catch(() => {});
    }
    const c = await db.connect();
    settingsOf.set(c, await settingsNow(c));
    return c;
  };
  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${name} template ${template}`);
    await admin.end();
  });
  afterAll(async () => {
    await Promise.all(idleCalls.splice(0).map((c) => c.end().catch(() => {})));
    await pool.end();
    if (process.env.RETENTION_TEST_KEEP === '1') {
      console.log(`[tests] kept database ${name}: ${url}`);
      return;
    }
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${name} with (force)`);
    for (const r of roles) await admin.query(`drop role if exists "${r}"`).catch(() => {});
    await admin.end();
  });
  return db;
}

/** The SQLSTATE a promise rejects with (fails the test if it resolves). */
export async function sqlState(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${(err as Error).message}`;
  }
  throw new Error('expected the statement to fail, but it succeeded');
}

/** Creates a login role (password 'pw'), member of `memberOf`, and connects as it. */
export async function loginAs(db: TestDb, role: string, ...memberOf: string[]): Promise<pg.Client> {
  await db.q(`create role ${role} login password 'pw' ${memberOf.length ? 'in role ' + memberOf.join(', ') : ''}`);
  const u = new URL(db.url);
  u.username = role;
  u.password = 'pw';
  const c = new pg.Client({ connectionString: u.toString() });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/**
 * Logins for one test file: login('appr', 'retention_approver') creates appr_<tag> (roles
 * are cluster-wide: the tag keeps files and runs apart) and connects as it; every login
 * made is disconnected and dropped after the file.
 */
export function useLogins(db: TestDb): { tag: string; login: (name: string, ...memberOf: string[]) => Promise<pg.Client> } {
  const tag = randomBytes(3).toString('hex');
  const roles: string[] = [];
  const clients: pg.Client[] = [];
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    for (const r of roles) {
      await db.q(`drop owned by ${r}`).catch(() => {});
      await db.q(`drop role if exists ${r}`).catch(() => {});
    }
  });
  return {
    tag,
    login: async (name, ...memberOf) => {
      const role = `${name}_${tag}`;
      roles.push(role);
      const c = await loginAs(db, role, ...memberOf);
      clients.push(c);
      return c;
    },
  };
}
