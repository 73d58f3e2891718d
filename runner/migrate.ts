// Applies migrations/ (append-only DDL, via node-pg-migrate) and then re-applies sql/
// (routines and views, CREATE OR REPLACE) in one transaction, so both commit together or
// not at all (a routine that fails to install leaves the migrations unapplied too), under
// one advisory lock, so that two concurrent migrates are safe and the second one finds
// nothing left to do.
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { getConstructionPlans, getMigrationPlans, PgBoss } from 'pg-boss';
import type { WorkerConfig } from './config.ts';
import { PINNED_SEARCH_PATH, pinned } from './db.ts';
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

/** A database that is not UTF8: pg-retention's routines hold characters other encodings
 * lack (Greek sigmas in the erasure's case folding, dashes in hints), and a migration
 * failed half-way with a conversion error (round atk154 F8). Refused before anything. */
export class DatabaseEncodingError extends Error {
  readonly code = '22023';
  readonly hint = 'create the database with ENCODING \'UTF8\' (CREATE DATABASE app ENCODING \'UTF8\' TEMPLATE template0), move the data there, and migrate that';
  constructor(encoding: string) {
    super(`the database's encoding is ${encoding}: pg-retention needs a UTF8 database`);
    this.name = 'DatabaseEncodingError';
  }
}

/** pg-retention's roles: the cluster's, made by the first install in any of its databases. */
const ROLES = ['retention_admin', 'retention_runner', 'retention_auditor', 'retention_approver', 'retention_archiver',
               'retention_requester', 'retention_predicate_checker'];

/** An owner that is not a superuser and may not grant pg-retention's roles, found before
 * anything is applied: the migrations grant them to one another, and the owner joins
 * retention_predicate_checker. */
export class RolesNotGrantableError extends Error {
  readonly code = '42501';
  readonly hint: string;
  constructor(owner: string, roles: string[]) {
    super(`the retention owner ${owner} cannot grant pg-retention's roles ${roles.join(', ')}, which another role made (an install in another database of this cluster)`);
    this.name = 'RolesNotGrantableError';
    const who = `"${owner.replaceAll('"', '""')}"`;
    this.hint = `have a superuser run ${roles.map((r) => `GRANT ${r} TO ${who} WITH ADMIN OPTION;`).join(' ')} then migrate again (PostgreSQL 16 and later: a role with CREATEROLE grants only the roles it administers).`;
  }
}

/** The roles of pg-retention that exist and that the connected role may not grant:
 * ADMIN OPTION (PostgreSQL 16 and later), or CREATEROLE (15), or superuser. */
async function rolesNotGrantable(client: pg.ClientBase): Promise<string[]> {
  const res = await client.query<{ rolname: string }>(
    `select r.rolname
       from pg_catalog.pg_roles r, pg_catalog.pg_roles me
      where me.rolname = current_user and r.rolname = any ($1::text[])
        and not me.rolsuper
        and not pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')
        and not (me.rolcreaterole and pg_catalog.current_setting('server_version_num')::int < 160000)
      order by 1`, [ROLES]);
  return res.rows.map((r) => r.rolname);
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
  const client = new pg.Client(pinned({ connectionString: databaseUrl }));
  await client.connect();
  try {
    // node-pg-migrate's catalog queries too: nothing of the role's own search_path (atk57 F2).
    await client.query(`select pg_catalog.set_config('search_path', $1, false)`, [PINNED_SEARCH_PATH]);
    const encoding = (await client.query<{ e: string }>('select pg_catalog.getdatabaseencoding() as e')).rows[0]!.e;
    if (encoding !== 'UTF8') throw new DatabaseEncodingError(encoding);
    await client.query('select pg_catalog.pg_advisory_lock($1)', [MIGRATE_LOCK]);
    const known = new Set(await migrationNames());
    const unknown = (await appliedMigrations(client)).filter((n) => !known.has(n));
    if (unknown.length > 0) throw new SchemaTooNewError(unknown);
    const ungrantable = await rolesNotGrantable(client);
    if (ungrantable.length > 0) {
      throw new RolesNotGrantableError((await client.query<{ u: string }>('select current_user as u')).rows[0]!.u, ungrantable);
    }

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
    await client.query('select pg_catalog.pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => {});
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

/** The job schema's version this pg-boss builds (its package.json `pgboss.schema`). */
async function jobSchemaVersion(): Promise<number> {
  const pkg = createRequire(import.meta.url).resolve('pg-boss/package.json');
  const v = (JSON.parse(await readFile(pkg, 'utf8')) as { pgboss?: { schema?: unknown } }).pgboss?.schema;
  if (typeof v !== 'number') throw new Error('pg-boss package.json has no pgboss.schema version');
  return v;
}

/** pg-boss's exported upgrade plan, run in one transaction by us: its index builds are
 * written CONCURRENTLY for psql, which a transaction refuses. The job tables are small and
 * the worker waits on the lock for the moment the build takes. */
export function jobSchemaUpgradePlan(schema: string, from: number): string {
  return getMigrationPlans(schema, from).replace(/\b(INDEX|REINDEX\s+INDEX|REINDEX\s+TABLE)\s+CONCURRENTLY\b/gi, '$1');
}

/** Installs (or upgrades) pg-boss's schema for the worker's jobs and creates its run queue,
 * as the role that migrates, and lets retention_runner use them: the worker then needs
 * no CREATE on the database or the schema, only membership in retention_runner.
 *
 * Nothing here executes SQL another role can write (atk57 F1): the schema is built from
 * pg-boss's exported plans, not by a started pg-boss, whose background-migration poller
 * runs the `command` text of rows in the job schema's `bam` table as whoever started it.
 * The runner gets per table only what the worker needs: no write on `bam`, on `version`'s
 * `version` and `bam_on`, or on a queue's name, policy, partition and table name (pg-boss
 * formats the table name into DDL with %s). A job schema created by another role is
 * refused: its owner could replace the functions the upgrade plans call. */
export async function installJobSchema(
  databaseUrl: string,
  cfg: WorkerConfig,
  log: (line: string) => void = () => {},
): Promise<void> {
  const schema = cfg.jobSchema;
  const s = pg.escapeIdentifier(schema);
  const target = await jobSchemaVersion();
  const client = new pg.Client(pinned({ connectionString: databaseUrl }));
  await client.connect();
  try {
    await client.query(`select pg_catalog.set_config('search_path', $1, false)`, [PINNED_SEARCH_PATH]);
    const encoding = (await client.query<{ e: string }>('select pg_catalog.getdatabaseencoding() as e')).rows[0]!.e;
    if (encoding !== 'UTF8') throw new DatabaseEncodingError(encoding);
    await client.query('select pg_catalog.pg_advisory_lock($1)', [MIGRATE_LOCK]);
    const { rows: [ns] } = await client.query<{ owner: string; mine: boolean }>(
      `select n.nspowner::regrole::text as owner,
              o.rolsuper or n.nspowner = me.oid
              or n.nspowner = (select r.nspowner from pg_catalog.pg_namespace r where r.nspname = 'retention')
              or (not me.rolsuper and pg_catalog.pg_has_role(me.oid, n.nspowner, 'MEMBER')) as mine
         from pg_catalog.pg_namespace n
         join pg_catalog.pg_roles o on o.oid = n.nspowner
         join pg_catalog.pg_roles me on me.rolname = current_user
        where n.nspname = $1`, [schema]);
    if (ns && !ns.mine) {
      throw new Error(`the job schema ${s} belongs to ${ns.owner}, not to the role that migrates\n` +
        `hint: drop it (or set PG_RETENTION_JOB_SCHEMA to another name) and run pg-retention migrate again as the retention schema's owner; ` +
        `its owner could replace the functions an upgrade calls.`);
    }
    const { rows: [t] } = await client.query<{ ok: boolean }>(`select pg_catalog.to_regclass($1) is not null as ok`, [`${s}.version`]);
    const installed = ns && t?.ok
      ? (await client.query<{ version: number }>(`select version from ${s}.version`)).rows[0]?.version ?? null
      : null;
    if (installed === null) {
      await client.query(getConstructionPlans(schema));
      log(`created the job schema ${schema} (pg-boss schema version ${target})`);
    } else if (installed < target) {
      // Queue rows written before the guard below existed: their table names go into the
      // upgrade's DDL, so one that is not pg-boss's own is refused, not run.
      const { rows: odd } = await client.query<{ name: string }>(
        `select q.name from ${s}.queue q
          where q.table_name is distinct from (case when q.partition then 'j' || pg_catalog.encode(pg_catalog.sha224(q.name::bytea), 'hex')
                                                    else 'job_common' end)`);
      if (odd.length > 0) {
        throw new Error(`the job schema ${s} has queues whose table is not the one pg-boss names: ${odd.map((r) => r.name).join(', ')}\n` +
          `hint: nothing was upgraded; delete those rows of ${s}.queue (written by hand or by another role), then run pg-retention migrate again.`);
      }
      await client.query(jobSchemaUpgradePlan(schema, installed));
      log(`upgraded the job schema ${schema} from pg-boss schema version ${installed} to ${target}`);
    } else if (installed > target) {
      throw new Error(`the job schema ${s} is at pg-boss schema version ${installed}, newer than this pg-retention's ${target}\n` +
        `hint: upgrade pg-retention to the version that migrated it.`);
    }
    // pg-boss's functions run SQL they are given (job_table_run) or create tables: no one
    // but the owner and the runner may execute them (PostgreSQL grants PUBLIC by default;
    // round atk77 F4 put one in an application's trigger WHEN clause, run as the owner).
    await client.query(`revoke all on all tables in schema ${s} from retention_runner;
      revoke all on all sequences in schema ${s} from retention_runner;
      revoke all on all functions in schema ${s} from retention_runner, public;
      grant usage on schema ${s} to retention_runner`);
    // A queue's table name is formatted into DDL (%s) by pg-boss's upgrade functions, which
    // the owner runs: whoever adds a queue row (the worker's pg-boss adds its cron queue at
    // every start), its table is the one pg-boss itself would name.
    await client.query(`create or replace function retention_internal._job_queue_guard() returns trigger
      language plpgsql set search_path = pg_catalog, pg_temp set jit = off as $g$
      begin
        if new.table_name is distinct from
           (case when new.partition then 'j' || pg_catalog.encode(pg_catalog.sha224(new.name::bytea), 'hex')
                 else 'job_common' end) then
          raise exception 'a job queue''s table must be the one pg-boss names for it, not %', pg_catalog.quote_ident(new.table_name)
            using errcode = '42501', hint = 'Queues are created by pg-retention migrate and the worker''s pg-boss, never by hand.';
        end if;
        return new;
      end $g$;
      revoke all on function retention_internal._job_queue_guard() from public;
      comment on function retention_internal._job_queue_guard() is
        'Internal. Trigger on the job schema''s queue table: a queue''s table_name is the one pg-boss derives from its name, so its upgrade functions (which format it into DDL as the owner) cannot be given SQL.';
      drop trigger if exists retention_queue_guard on ${s}.queue;
      create trigger retention_queue_guard before insert or update of table_name, partition, name on ${s}.queue
        for each row execute function retention_internal._job_queue_guard()`);
    // Per table, what the worker's pg-boss does: jobs, schedules and stats fully; the rest
    // read, and written only in the columns its maintenance passes stamp (a queue row may be
    // added: the cron queue, guarded above).
    const { rows } = await client.query<{ sql: string }>(
      `select pg_catalog.format(case
                when c.relname in ('bam') then 'grant select on %1$s to retention_runner'
                when c.relname in ('version', 'queue') then
                  pg_catalog.format('grant select%s, update (%s) on %%1$s to retention_runner',
                    case c.relname when 'queue' then ', insert' else '' end,
                    (select pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' order by a.attnum)
                       from pg_catalog.pg_attribute a
                      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                        and a.attname <> all (case c.relname when 'version' then array['version', 'bam_on']
                                                             else array['name', 'policy', 'partition', 'table_name', 'created_on'] end)))
                else 'grant select, insert, update, delete on %1$s to retention_runner' end,
              c.oid::regclass) as sql
         from pg_catalog.pg_class c
        where c.relnamespace = $1::regnamespace and c.relkind in ('r', 'p')`, [schema]);
    for (const r of rows) await client.query(r.sql);
    // Its functions are SECURITY INVOKER: they can do no more than these grants allow.
    await client.query(`grant usage, select, update on all sequences in schema ${s} to retention_runner;
      grant execute on all functions in schema ${s} to retention_runner`);
  } finally {
    await client.query('select pg_catalog.pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => {});
    await client.end();
  }
  // The run queue, through pg-boss's own calls, started without its migrations or their
  // background poller (migrate: false), and with the search path pinned.
  const boss = new PgBoss(pinned({ connectionString: databaseUrl, schema, migrate: false, supervise: false, schedule: false, max: 2 }));
  boss.on('error', () => {});
  await boss.start();
  try {
    await ensureQueue(boss, cfg);
  } finally {
    await boss.stop({ graceful: false });
  }
  log(`installed the job schema ${schema} for retention_runner`);
}
