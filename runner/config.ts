// The worker's configuration, from the environment only, validated with zod. A bad value
// stops start-up with a message that names the variable and what is expected.
import { z } from 'zod';
import { redactSecrets } from './redact.ts';
import { type ArchiveSetup, archiveSetup } from './archive/config.ts';
import { type ObjectSetup, objectSetup } from './objects.ts';
import { type BackupStore, backupStores, settleMs } from './backups.ts';

const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

// Timers take at most 2^31 - 1 ms: Node runs a longer one after 1 ms, so a task set to
// '1000h' ran back to back (round atk64 F3).
const MAX_TIMER_MS = 2_147_483_647;

/** min: the shortest the setting may be (a periodic task's interval: 1s, not a busy loop);
 * max: the longest (a timer's; a threshold compared with times may be longer). */
const duration = (example: string, min = 0, max = MAX_TIMER_MS) =>
  z.string().transform((s, ctx) => {
    const m = DURATION.exec(s.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as ${example} (units ms, s, m, h), got ${JSON.stringify(s)}` });
      return z.NEVER;
    }
    const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    if (ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `expected a duration from ${min >= 1000 ? `${min / 1000}s` : `${min}ms`} to ${max === MAX_TIMER_MS ? '596h (the longest timer Node keeps)' : `${max / 3_600_000}h`}, got ${JSON.stringify(s)}` });
      return z.NEVER;
    }
    return ms;
  });

const int = (min: number, max: number, what: string) =>
  z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!/^\d+$/.test(s.trim()) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `expected ${what} from ${min} to ${max}, got ${JSON.stringify(s)}` });
      return z.NEVER;
    }
    return n;
  });

const url = (protocols: string[], example: string) =>
  z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, { error: (i) => `expected a URL such as ${example}, got ${JSON.stringify(i.input)}` });

const envSchema = z
  .object({
    DATABASE_URL: url(['postgres:', 'postgresql:'], 'postgres://retention_worker@db:5432/app'),
    PG_RETENTION_HTTP_PORT: int(0, 65535, 'a port number').default(9187),
    PG_RETENTION_CONCURRENCY: int(1, 32, 'a number of policies run at once').default(2),
    PG_RETENTION_SHUTDOWN_GRACE: duration('30s').default(30_000),
    PG_RETENTION_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], {
      error: (i) => `expected one of trace, debug, info, warn, error, fatal, got ${JSON.stringify(i.input)}`,
    }).default('info'),
    // No user name or password in it: fetch refuses such a URL, and its errors (kept in
    // the outbox's last_error) would quote the password.
    PG_RETENTION_WEBHOOK_URL: url(['http:', 'https:'], 'https://hooks.example.com/retention')
      .refine((s) => { try { const u = new URL(s); return u.username === '' && u.password === ''; } catch { return true; } },
        { error: 'must not carry a user name or password (deliveries are signed with PG_RETENTION_WEBHOOK_SECRET)' })
      .optional(),
    PG_RETENTION_WEBHOOK_SECRET: z.string().min(16, { error: 'expected a secret of at least 16 characters (used for the HMAC-SHA256 signature)' }).optional(),
    PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: int(1, 100, 'a number of delivery attempts').default(8),
    PG_RETENTION_WEBHOOK_BACKOFF: duration('30s').default(30_000),
    PG_RETENTION_WEBHOOK_TIMEOUT: duration('10s', 1).default(10_000),
    PG_RETENTION_JOB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, {
      error: (i) => `expected a lowercase schema name such as retention_jobs, got ${JSON.stringify(i.input)}`,
    }).refine((v) => !['retention', 'retention_internal', 'public', 'information_schema'].includes(v) && !v.startsWith('pg_'), {
      error: (i) => `expected a schema of the worker's jobs alone, not ${JSON.stringify(i.input)} (pg-retention's own, public or a system schema)`,
    }).default('retention_jobs'),
    PG_RETENTION_SYNC_INTERVAL: duration('30s').default(30_000),
    PG_RETENTION_HEARTBEAT: duration('30s').default(30_000),
    PG_RETENTION_OVERDUE_AFTER: duration('1h', 0, 87_600 * 3_600_000).default(3_600_000),  // a threshold: up to 10 years
    PG_RETENTION_BACKLOG_INTERVAL: duration('5m', 1000).default(300_000),
    PG_RETENTION_RETRY_LIMIT: int(0, 100, 'a number of retries').default(5),
    PG_RETENTION_RETRY_DELAY: duration('30s', 1000).default(30_000),
    PG_RETENTION_SIGNING_KEY_FILE: z.string().min(1).optional(),
    PG_RETENTION_CHECKPOINT_INTERVAL: duration('1h', 1000).default(3_600_000),
    PG_RETENTION_CHECKPOINT_DIR: z.string().min(1).optional(),
    PG_RETENTION_OBJECT_INTERVAL: duration('1m', 1000).default(60_000),
    PG_RETENTION_BACKUP_INTERVAL: duration('1h', 1000).default(3_600_000),
  })
  .superRefine((env, ctx) => {
    if (env.PG_RETENTION_HEARTBEAT < 10_000) {
      ctx.addIssue({ code: 'custom', path: ['PG_RETENTION_HEARTBEAT'], message: 'expected at least 10s (pg-boss checks heartbeats no more often)' });
    }
    if (env.PG_RETENTION_SYNC_INTERVAL < 1000) {
      ctx.addIssue({ code: 'custom', path: ['PG_RETENTION_SYNC_INTERVAL'], message: 'expected at least 1s' });
    }
    if (env.PG_RETENTION_WEBHOOK_URL && !env.PG_RETENTION_WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['PG_RETENTION_WEBHOOK_SECRET'], message: 'required when PG_RETENTION_WEBHOOK_URL is set: deliveries are signed with it' });
    }
  });

export interface WorkerConfig {
  databaseUrl: string;
  httpPort: number;
  concurrency: number;
  shutdownGraceMs: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  webhook: { url: string; secret: string; maxAttempts: number; backoffMs: number; timeoutMs: number } | null;
  /** Schema pg-boss keeps its queues, jobs and schedules in. */
  jobSchema: string;
  /** How often schedules are brought in step with the policies and overdue policies checked. */
  syncIntervalMs: number;
  /** A running job's heartbeat: a worker silent this long is presumed dead and its job retried. */
  heartbeatMs: number;
  /** How long after a missed schedule occurrence a policy counts as overdue. */
  overdueAfterMs: number;
  /** How often the eligible backlog is measured (retention.preview) for /metrics. */
  backlogIntervalMs: number;
  retryLimit: number;
  retryDelayMs: number;
  /** Ed25519 private key (PEM) that signs the audit chain's head; none: no checkpoints. */
  signingKeyFile: string | null;
  checkpointIntervalMs: number;
  checkpointDir: string | null;
  /** Where archived rows go and the keys that seal them (no keys: rows wait in the database). */
  archive: ArchiveSetup;
  /** The storage targets of object columns by name, and the attempts before a deletion is dead. */
  objects: ObjectSetup;
  /** How often due object deletions are drained. */
  objectIntervalMs: number;
  /** Backup stores by name (backup policies name them). */
  backupStores: Map<string, BackupStore>;
  /** How often backup policies prune their stores. */
  backupIntervalMs: number;
  /** How long a backup's files must be unchanged before it counts as finished. */
  backupSettleMs: number;
  /** Whether stored compliance reports are also written to the storage target (set when
   * PG_RETENTION_STORAGE is). */
  reportsToStorage: boolean;
}

/** A variable of "name=value" pairs, comma-separated (storage targets, backup stores):
 * the pairs, and a problem line for each malformed or repeated one. */
export function namedPairs(variable: string, raw: string | undefined, expected: string): { pairs: [string, string][]; problems: string[] } {
  const pairs: [string, string][] = [];
  const problems: string[] = [];
  for (const part of (raw ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9_-]{0,62})=(.+)$/.exec(part);
    if (!m) problems.push(`${variable}: expected ${expected}, got ${JSON.stringify(part)} (names: lower-case letters, digits, _ and -)`);
    else if (pairs.some(([n]) => n === m[1])) problems.push(`${variable}: ${m[1]} is named twice`);
    else pairs.push([m[1]!, m[2]!]);
  }
  return { pairs, problems };
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    const shown = problems.map(redactSecrets);
    super(`invalid configuration:\n${shown.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = shown;
  }
}

/** Reads the worker's configuration; empty variables count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '');
      const message = i.code === 'invalid_type' && present[name] === undefined ? 'is not set' : i.message;
      return `${name}: ${message}`;
    }));
  }
  const c = parsed.data;
  const archive = archiveSetup(env);
  const objects = objectSetup(env);
  const stores = backupStores(env);
  const settle = settleMs(env);
  return {
    databaseUrl: c.DATABASE_URL,
    httpPort: c.PG_RETENTION_HTTP_PORT,
    concurrency: c.PG_RETENTION_CONCURRENCY,
    shutdownGraceMs: c.PG_RETENTION_SHUTDOWN_GRACE,
    logLevel: c.PG_RETENTION_LOG_LEVEL,
    webhook: c.PG_RETENTION_WEBHOOK_URL
      ? {
          url: c.PG_RETENTION_WEBHOOK_URL, secret: c.PG_RETENTION_WEBHOOK_SECRET!, maxAttempts: c.PG_RETENTION_WEBHOOK_MAX_ATTEMPTS,
          backoffMs: c.PG_RETENTION_WEBHOOK_BACKOFF, timeoutMs: c.PG_RETENTION_WEBHOOK_TIMEOUT,
        }
      : null,
    jobSchema: c.PG_RETENTION_JOB_SCHEMA,
    syncIntervalMs: c.PG_RETENTION_SYNC_INTERVAL,
    heartbeatMs: c.PG_RETENTION_HEARTBEAT,
    overdueAfterMs: c.PG_RETENTION_OVERDUE_AFTER,
    backlogIntervalMs: c.PG_RETENTION_BACKLOG_INTERVAL,
    retryLimit: c.PG_RETENTION_RETRY_LIMIT,
    retryDelayMs: c.PG_RETENTION_RETRY_DELAY,
    signingKeyFile: c.PG_RETENTION_SIGNING_KEY_FILE ?? null,
    checkpointIntervalMs: c.PG_RETENTION_CHECKPOINT_INTERVAL,
    checkpointDir: c.PG_RETENTION_CHECKPOINT_DIR ?? null,
    archive,
    objects,
    objectIntervalMs: c.PG_RETENTION_OBJECT_INTERVAL,
    backupStores: stores,
    backupIntervalMs: c.PG_RETENTION_BACKUP_INTERVAL,
    backupSettleMs: settle,
    reportsToStorage: Boolean(env.PG_RETENTION_STORAGE),
  };
}
