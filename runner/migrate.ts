// Applies migrations/ (append-only DDL, via node-pg-migrate) and then re-applies sql/
// (routines and views, CREATE OR REPLACE) in one transaction, so both commit together or
// not at all (a routine that fails to install leaves the migrations unapplied too), under
// one advisory lock, so that two concurrent migrates are safe and the second one finds
// nothing left to do.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import type { WorkerConfig } from './config.ts';
import { ensureQueue } from './scheduler.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const migrationsDir = path.join(root, 'migrations');
export const sqlDir = path.join(root, 'sql');
const MIGRATE_LOCK = 727_001; // pg_advisory_lock key shared by every pg-retention migrate

export class SchemaTooNewError extends Error {
  constructor(unknown: string[]) {
    super(
      `the database holds a newer retention schema than this pg-retention: ` +
        `migration(s) ${unknown.join(', ')} are applied but not known to this version.\n` +
        `hint: upgrade pg-retention to the version that applied them; never migrate down a live schema.`,
    );
    this.name = 'SchemaTooNewError';
  }
}

export interface MigrateResult {
  applied: string[];
  routines: number;
}

async function migrationNames(): Promise<string[]> {
  const files = await readdir(migrationsDir);
  return files.filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort();
}

export async function appliedMigrations(client: pg.ClientBase): Promise<string[]> {
  const exists = await client.query<{ ok: boolean }>(
    `select to_regclass('retention.schema_migrations') is not null as ok`,
  );
  if (!exists.rows[0]?.ok) return [];
  const res = await client.query<{ name: string }>(
    'select name from retention.schema_migrations order by run_on, id',
  );
  return res.rows.map((r) => r.name);
}

/** The client as node-pg-migrate sees it: its BEGIN, COMMIT and ROLLBACK are left to
 * migrate(), which holds one transaction around the migrations and sql/ together. */
function withinOurTransaction(client: pg.Client): pg.Client {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') {
        return (text: unknown, ...rest: unknown[]) =>
          typeof text === 'string' && /^\s*(begin|commit|rollback);?\s*$/i.test(text)
            ? Promise.resolve({ rows: [], rowCount: 0 })
            : (target.query as (...a: unknown[]) => unknown)(text, ...rest);
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export async function migrate(
  databaseUrl: string,
  log: (line: string) => void = () => {},
  dirs: { migrations?: string; sql?: string } = {},
): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATE_LOCK]);
    const known = new Set(await migrationNames());
    const unknown = (await appliedMigrations(client)).filter((n) => !known.has(n));
    if (unknown.length > 0) throw new SchemaTooNewError(unknown);

    await client.query('begin');
    try {
      // Loaded here: the worker imports this module for schemaProblem only (node-pg-migrate is ~17 MB).
      const { runner } = await import('node-pg-migrate');
      const applied = await runner({
        dbClient: withinOurTransaction(client),
        dir: dirs.migrations ?? migrationsDir,
        direction: 'up',
        migrationsSchema: 'retention',
        createMigrationsSchema: true,
        migrationsTable: 'schema_migrations',
        checkOrder: true,
        singleTransaction: true,
        noLock: true,
        log: () => {},
      });
      // Views and SQL function bodies bind their names when created: with pg_catalog first
      // and nothing of the migrating role's search_path (every retention name is qualified).
      await client.query(`set local search_path = pg_catalog, pg_temp`);
      const sql = dirs.sql ?? sqlDir;
      const files = (await readdir(sql)).filter((f) => f.endsWith('.sql')).sort();
      for (const f of files) {
        const text = await readFile(path.join(sql, f), 'utf8');
        try {
          await client.query(text);
        } catch (err) {
          throw new Error(`sql/${f}: ${(err as Error).message}`, { cause: err });
        }
      }
      await client.query('commit');
      for (const m of applied) log(`applied migration ${m.name}`);
      log(`re-applied ${files.length} routine and view files from sql/`);
      return { applied: applied.map((m) => m.name), routines: files.length };
    } catch (err) {
      await client.query('rollback');
      throw err;
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => {});
    await client.end();
  }
}

/** Whether the database's retention schema is the one this code was built for: every
 * known migration applied and none unknown. The worker is ready only when it is. */
export async function schemaProblem(client: pg.ClientBase): Promise<string | null> {
  const known = await migrationNames();
  const applied = await appliedMigrations(client);
  const unknown = applied.filter((n) => !known.includes(n));
  if (unknown.length > 0) return `the database has migrations this version does not know: ${unknown.join(', ')} (upgrade pg-retention)`;
  const missing = known.filter((n) => !applied.includes(n));
  if (missing.length > 0) return `migrations not applied yet: ${missing.join(', ')} (run pg-retention migrate)`;
  return null;
}

/** Installs (or upgrades) pg-boss's schema for the worker's jobs and creates its run queue,
 * as the role that migrates, and lets retention_runner use them: the worker then needs
 * no CREATE on the database or the schema, only membership in retention_runner. */
export async function installJobSchema(
  databaseUrl: string,
  cfg: WorkerConfig,
  log: (line: string) => void = () => {},
): Promise<void> {
  const boss = new PgBoss({ connectionString: databaseUrl, schema: cfg.jobSchema, supervise: false, schedule: false, max: 2 });
  boss.on('error', () => {});
  await boss.start();
  try {
    await ensureQueue(boss, cfg);
  } finally {
    await boss.stop({ graceful: false });
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const s = pg.escapeIdentifier(cfg.jobSchema);
    await client.query(`grant usage on schema ${s} to retention_runner;
      grant select, insert, update, delete on all tables in schema ${s} to retention_runner;
      grant usage, select, update on all sequences in schema ${s} to retention_runner;
      grant execute on all functions in schema ${s} to retention_runner`);
  } finally {
    await client.end();
  }
  log(`installed the job schema ${cfg.jobSchema} for retention_runner`);
}
