// Pure validation of the worker's environment: no database involved, so no clone needed.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../runner/config.ts';

const BASE = { DATABASE_URL: 'postgres://worker@db:5432/app' };
const KEY = Buffer.alloc(32, 7).toString('base64');

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('worker configuration', () => {
  it('applies documented defaults', () => {
    expect(loadConfig(BASE)).toEqual({
      databaseUrl: BASE.DATABASE_URL, httpPort: 9187, concurrency: 2, shutdownGraceMs: 30_000, logLevel: 'info', webhook: null,
      jobSchema: 'retention_jobs', syncIntervalMs: 30_000, heartbeatMs: 30_000, overdueAfterMs: 3_600_000,
      backlogIntervalMs: 300_000, retryLimit: 5, retryDelayMs: 30_000,
      signingKeyFile: null, checkpointIntervalMs: 3_600_000, checkpointDir: null,
      archive: { target: expect.objectContaining({ url: `file://${process.cwd()}/retention-archive` }), ring: null },
      objects: { targets: new Map(), maxAttempts: 8 }, objectIntervalMs: 60_000,
      backupStores: new Map(), backupIntervalMs: 3_600_000, backupSettleMs: 3_600_000, reportsToStorage: false,
    });
  });

  it('reads every variable', () => {
    expect(loadConfig({
      ...BASE, PG_RETENTION_HTTP_PORT: '8080', PG_RETENTION_CONCURRENCY: '4', PG_RETENTION_SHUTDOWN_GRACE: '2m',
      PG_RETENTION_LOG_LEVEL: 'debug', PG_RETENTION_WEBHOOK_URL: 'https://hooks.example.com/r',
      PG_RETENTION_WEBHOOK_SECRET: '0123456789abcdef', PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: '3',
      PG_RETENTION_WEBHOOK_BACKOFF: '5s', PG_RETENTION_WEBHOOK_TIMEOUT: '2s', PG_RETENTION_JOB_SCHEMA: 'jobs',
      PG_RETENTION_SYNC_INTERVAL: '2s', PG_RETENTION_HEARTBEAT: '10s', PG_RETENTION_OVERDUE_AFTER: '30m',
      PG_RETENTION_BACKLOG_INTERVAL: '1m', PG_RETENTION_RETRY_LIMIT: '0', PG_RETENTION_RETRY_DELAY: '1s',
      PG_RETENTION_SIGNING_KEY_FILE: '/keys/audit.key', PG_RETENTION_CHECKPOINT_INTERVAL: '15m',
      PG_RETENTION_CHECKPOINT_DIR: '/evidence', PG_RETENTION_STORAGE: 's3://acme-retention/prod',
      PG_RETENTION_S3_ENDPOINT: 'http://minio:9000', PG_RETENTION_ARCHIVE_KEYS: `k1:${KEY},k2:${KEY}`, PG_RETENTION_ARCHIVE_KEY_ID: 'k1',
      PG_RETENTION_OBJECT_TARGETS: 'recordings=/var/rec,uploads=s3://acme-uploads/app', PG_RETENTION_OBJECT_ATTEMPTS: '4',
      PG_RETENTION_OBJECT_INTERVAL: '30s', PG_RETENTION_BACKUP_STORES: 'main=/var/backups,offsite=s3://acme-backups/pg',
      PG_RETENTION_BACKUP_INTERVAL: '6h', PG_RETENTION_BACKUP_SETTLE: '20m',
    })).toEqual({
      databaseUrl: BASE.DATABASE_URL, httpPort: 8080, concurrency: 4, shutdownGraceMs: 120_000, logLevel: 'debug',
      webhook: { url: 'https://hooks.example.com/r', secret: '0123456789abcdef', maxAttempts: 3, backoffMs: 5000, timeoutMs: 2000 },
      jobSchema: 'jobs', syncIntervalMs: 2000, heartbeatMs: 10_000, overdueAfterMs: 1_800_000,
      backlogIntervalMs: 60_000, retryLimit: 0, retryDelayMs: 1000,
      signingKeyFile: '/keys/audit.key', checkpointIntervalMs: 900_000, checkpointDir: '/evidence',
      archive: { target: expect.objectContaining({ url: 's3://acme-retention/prod' }),
                 ring: { current: 'k1', keys: new Map([['k1', Buffer.from(KEY, 'base64')], ['k2', Buffer.from(KEY, 'base64')]]) } },
      objects: { targets: new Map([['recordings', expect.objectContaining({ url: 'file:///var/rec' })],
                                   ['uploads', expect.objectContaining({ url: 's3://acme-uploads/app' })]]), maxAttempts: 4 },
      objectIntervalMs: 30_000,
      backupStores: new Map([['main', expect.objectContaining({ url: 'file:///var/backups' })],
                             ['offsite', expect.objectContaining({ url: 's3://acme-backups/pg' })]]),
      backupIntervalMs: 21_600_000, backupSettleMs: 1_200_000, reportsToStorage: true,
    });
  });

  it.each([
    [{}, 'DATABASE_URL: is not set'],
    [{ ...BASE, PG_RETENTION_STORAGE: 'ftp://x/y' }, 'PG_RETENTION_STORAGE: unsupported storage "ftp://x/y": use file:///path or s3://bucket/prefix'],
    [{ ...BASE, PG_RETENTION_STORAGE: 's3://' }, 'PG_RETENTION_STORAGE: expected s3://bucket/prefix'],
    [{ ...BASE, PG_RETENTION_ARCHIVE_KEYS: 'k1:c2hvcnQ=' }, 'PG_RETENTION_ARCHIVE_KEYS: key k1 is 5 bytes; AES-256 needs 32'],
    [{ ...BASE, PG_RETENTION_ARCHIVE_KEYS: 'justakey' }, 'PG_RETENTION_ARCHIVE_KEYS: a key is "id:base64"'],
    [{ ...BASE, PG_RETENTION_ARCHIVE_KEYS: `k1:${KEY}`, PG_RETENTION_ARCHIVE_KEY_ID: 'k9' }, 'PG_RETENTION_ARCHIVE_KEYS: the current key id k9 is not among the keys (k1)'],
    [{ ...BASE, PG_RETENTION_ARCHIVE_KEY_ID: 'k1' }, 'PG_RETENTION_ARCHIVE_KEYS: is not set'],
    [{ ...BASE, PG_RETENTION_OBJECT_TARGETS: 'recordings' }, 'PG_RETENTION_OBJECT_TARGETS: expected name=url, got "recordings" (names: lower-case letters, digits, _ and -)'],
    [{ ...BASE, PG_RETENTION_OBJECT_ATTEMPTS: '-1' }, 'PG_RETENTION_OBJECT_ATTEMPTS: expected a whole number from 1 to 100, got "-1"'],
    [{ ...BASE, PG_RETENTION_BACKUP_STORES: '/var/backups' }, 'PG_RETENTION_BACKUP_STORES: expected name=directory or name=s3://bucket/prefix, got "/var/backups" (names: lower-case letters, digits, _ and -)'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL: expected a URL such as postgres://'],
    [{ ...BASE, PG_RETENTION_HTTP_PORT: 'eighty' }, 'PG_RETENTION_HTTP_PORT: expected a port number from 0 to 65535, got "eighty"'],
    [{ ...BASE, PG_RETENTION_HTTP_PORT: '70000' }, 'PG_RETENTION_HTTP_PORT: expected a port number from 0 to 65535'],
    [{ ...BASE, PG_RETENTION_CONCURRENCY: '0' }, 'PG_RETENTION_CONCURRENCY: expected a number of policies run at once from 1 to 32'],
    [{ ...BASE, PG_RETENTION_SHUTDOWN_GRACE: '30 seconds' }, 'PG_RETENTION_SHUTDOWN_GRACE: expected a duration such as 30s'],
    [{ ...BASE, PG_RETENTION_CHECKPOINT_INTERVAL: 'hourly' }, 'PG_RETENTION_CHECKPOINT_INTERVAL: expected a duration such as 1h'],
    [{ ...BASE, PG_RETENTION_LOG_LEVEL: 'loud' }, 'PG_RETENTION_LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, got "loud"'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_URL: 'ftp://x' }, 'PG_RETENTION_WEBHOOK_URL: expected a URL such as https://'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_URL: 'https://user:pass@h.example.com/hook', PG_RETENTION_WEBHOOK_SECRET: '0123456789abcdef' },
      'PG_RETENTION_WEBHOOK_URL: must not carry a user name or password'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_URL: 'https://h.example.com' }, 'PG_RETENTION_WEBHOOK_SECRET: required when PG_RETENTION_WEBHOOK_URL is set'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_URL: 'https://h.example.com', PG_RETENTION_WEBHOOK_SECRET: 'short' }, 'PG_RETENTION_WEBHOOK_SECRET: expected a secret of at least 16 characters'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: '-1' }, 'PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: expected a number of delivery attempts from 1 to 100'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_BACKOFF: 'soon' }, 'PG_RETENTION_WEBHOOK_BACKOFF: expected a duration such as 30s'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_TIMEOUT: '10' }, 'PG_RETENTION_WEBHOOK_TIMEOUT: expected a duration such as 10s'],
    [{ ...BASE, PG_RETENTION_JOB_SCHEMA: 'Jobs; drop' }, 'PG_RETENTION_JOB_SCHEMA: expected a lowercase schema name such as retention_jobs'],
    [{ ...BASE, PG_RETENTION_SYNC_INTERVAL: '10ms' }, 'PG_RETENTION_SYNC_INTERVAL: expected at least 1s'],
    [{ ...BASE, PG_RETENTION_HEARTBEAT: '5s' }, 'PG_RETENTION_HEARTBEAT: expected at least 10s'],
    [{ ...BASE, PG_RETENTION_OVERDUE_AFTER: '1 hour' }, 'PG_RETENTION_OVERDUE_AFTER: expected a duration such as 1h'],
    [{ ...BASE, PG_RETENTION_BACKLOG_INTERVAL: '-5m' }, 'PG_RETENTION_BACKLOG_INTERVAL: expected a duration such as 5m'],
    [{ ...BASE, PG_RETENTION_RETRY_LIMIT: '1000' }, 'PG_RETENTION_RETRY_LIMIT: expected a number of retries from 0 to 100'],
    [{ ...BASE, PG_RETENTION_RETRY_DELAY: 'x' }, 'PG_RETENTION_RETRY_DELAY: expected a duration such as 30s'],
    // A timer Node cannot keep runs after 1 ms (atk64 F3); a periodic task's 0 is a busy loop.
    [{ ...BASE, PG_RETENTION_BACKLOG_INTERVAL: '1000h' }, 'PG_RETENTION_BACKLOG_INTERVAL: expected a duration from 1s to 596h'],
    [{ ...BASE, PG_RETENTION_OBJECT_INTERVAL: '0ms' }, 'PG_RETENTION_OBJECT_INTERVAL: expected a duration from 1s to 596h'],
    [{ ...BASE, PG_RETENTION_SYNC_INTERVAL: '720h' }, 'PG_RETENTION_SYNC_INTERVAL: expected a duration from 0ms to 596h'],
    [{ ...BASE, PG_RETENTION_JOB_SCHEMA: 'retention' }, 'PG_RETENTION_JOB_SCHEMA: expected a schema of the worker\'s jobs alone'],
    [{ ...BASE, PG_RETENTION_JOB_SCHEMA: 'pg_catalog' }, 'PG_RETENTION_JOB_SCHEMA: expected a schema of the worker\'s jobs alone'],
  ])('refuses %j naming the variable', (env, expected) => {
    const p = problems(env as Record<string, string>);
    expect(p.some((line) => line.startsWith(expected)), p.join('\n')).toBe(true);
  });
});

describe('secrets in configuration errors (atk47)', () => {
  it('a store, target or key that is refused is named without its password or key', async () => {
    const { backupStores } = await import('../runner/backups.ts');
    const { objectSetup } = await import('../runner/objects.ts');
    const { parseKeyRing } = await import('../runner/archive/envelope.ts');
    const secret = 'hunter2secret';
    const messages: string[] = [];
    for (const f of [
      () => backupStores({ PG_RETENTION_BACKUP_STORES: `s3://AKIAEXAMPLE:${secret}@bucket/p` }),
      () => backupStores({ PG_RETENTION_BACKUP_STORES: `a=s3://AKIAEXAMPLE:${secret}@bucket/p,b=s3://AKIAEXAMPLE:${secret}@bucket/p` }),
      () => objectSetup({ PG_RETENTION_OBJECT_TARGETS: `s3://AKIAEXAMPLE:${secret}@bucket/p` }),
    ]) {
      try {
        f();
        messages.push('(accepted)');
      } catch (err) {
        messages.push((err as Error).message);
      }
    }
    const key = Buffer.alloc(32, 7).toString('base64');
    try {
      parseKeyRing(key);
    } catch (err) {
      messages.push((err as Error).message);
    }
    expect(messages).toHaveLength(4);
    for (const m of messages) {
      expect(m).not.toContain(secret);
      expect(m).not.toContain(key);
      expect(m).not.toBe('(accepted)');
    }
  });
});

describe('file URLs (atk83 F6)', () => {
  it('a host or an encoded slash is a configuration error naming the variable; every place decodes the path alike', async () => {
    const { backupStores } = await import('../runner/backups.ts');
    const { objectSetup } = await import('../runner/objects.ts');
    const { archiveSetup } = await import('../runner/archive/config.ts');
    const cases: [string, () => unknown][] = [
      ['PG_RETENTION_STORAGE', () => archiveSetup({ PG_RETENTION_STORAGE: 'file://nas/archive' })],
      ['PG_RETENTION_STORAGE', () => archiveSetup({ PG_RETENTION_STORAGE: 'file:///a%2fb' })],
      ['PG_RETENTION_OBJECT_TARGETS', () => objectSetup({ PG_RETENTION_OBJECT_TARGETS: 'media=file:///a%2fb' })],
      ['PG_RETENTION_OBJECT_TARGETS', () => objectSetup({ PG_RETENTION_OBJECT_TARGETS: 'media=file://nas/media' })],
      ['PG_RETENTION_BACKUP_STORES', () => backupStores({ PG_RETENTION_BACKUP_STORES: 'store1=file://nas/backups' })],
      ['PG_RETENTION_BACKUP_STORES', () => backupStores({ PG_RETENTION_BACKUP_STORES: 'store1=file:///a%2Fb' })],
    ];
    for (const [variable, f] of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err, variable).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(variable);
    }
    // One decoding rule: a space written %20 is a space in every place.
    const store = backupStores({ PG_RETENTION_BACKUP_STORES: 'store1=file:///tmp/bk%20dir' }).get('store1') as unknown as { dir: string };
    expect(store.dir).toBe('/tmp/bk dir');
    const target = archiveSetup({ PG_RETENTION_STORAGE: 'file:///tmp/bk%20dir' }).target as unknown as { dir: string };
    expect(target.dir).toBe('/tmp/bk dir');
    expect((archiveSetup({ PG_RETENTION_STORAGE: 'file://localhost/tmp/x' }).target as unknown as { dir: string }).dir).toBe('/tmp/x');
  });
});
