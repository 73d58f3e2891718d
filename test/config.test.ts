// Pure validation of the worker's environment: no database involved, so no clone needed.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../runner/config.ts';

const BASE = { DATABASE_URL: 'postgres://worker@db:5432/app' };

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
    });
  });

  it('reads every variable', () => {
    expect(loadConfig({
      ...BASE, PG_RETENTION_HTTP_PORT: '8080', PG_RETENTION_CONCURRENCY: '4', PG_RETENTION_SHUTDOWN_GRACE: '2m',
      PG_RETENTION_LOG_LEVEL: 'debug', PG_RETENTION_WEBHOOK_URL: 'https://hooks.example.com/r',
      PG_RETENTION_WEBHOOK_SECRET: '0123456789abcdef', PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: '3',
    })).toEqual({
      databaseUrl: BASE.DATABASE_URL, httpPort: 8080, concurrency: 4, shutdownGraceMs: 120_000, logLevel: 'debug',
      webhook: { url: 'https://hooks.example.com/r', secret: '0123456789abcdef', maxAttempts: 3 },
    });
  });

  it.each([
    [{}, 'DATABASE_URL: is not set'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL: expected a URL such as postgres://'],
    [{ ...BASE, PG_RETENTION_HTTP_PORT: 'eighty' }, 'PG_RETENTION_HTTP_PORT: expected a port number from 0 to 65535, got "eighty"'],
    [{ ...BASE, PG_RETENTION_HTTP_PORT: '70000' }, 'PG_RETENTION_HTTP_PORT: expected a port number from 0 to 65535'],
    [{ ...BASE, PG_RETENTION_CONCURRENCY: '0' }, 'PG_RETENTION_CONCURRENCY: expected a number of policies run at once from 1 to 32'],
    [{ ...BASE, PG_RETENTION_SHUTDOWN_GRACE: '30 seconds' }, 'PG_RETENTION_SHUTDOWN_GRACE: expected a duration such as 30s'],
    [{ ...BASE, PG_RETENTION_LOG_LEVEL: 'loud' }, 'PG_RETENTION_LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, got "loud"'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_URL: 'ftp://x' }, 'PG_RETENTION_WEBHOOK_URL: expected a URL such as https://'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_URL: 'https://h.example.com' }, 'PG_RETENTION_WEBHOOK_SECRET: required when PG_RETENTION_WEBHOOK_URL is set'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_URL: 'https://h.example.com', PG_RETENTION_WEBHOOK_SECRET: 'short' }, 'PG_RETENTION_WEBHOOK_SECRET: expected a secret of at least 16 characters'],
    [{ ...BASE, PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: '-1' }, 'PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: expected a number of delivery attempts from 1 to 100'],
  ])('refuses %j naming the variable', (env, expected) => {
    const p = problems(env as Record<string, string>);
    expect(p.some((line) => line.startsWith(expected)), p.join('\n')).toBe(true);
  });
});
