// JSON-line logs for the worker (pino): one object per line on stdout, ISO timestamps,
// level names rather than numbers, so any log shipper can parse them.
import os from 'node:os';
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: pino.Level): Logger {
  return pino({
    level,
    base: { service: 'pg-retention-worker', host: os.hostname(), pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** An error as log fields: message, SQLSTATE and hint, without the stack unless asked. */
export function errFields(err: unknown): Record<string, unknown> {
  const e = err as { message?: string; code?: string; hint?: string };
  return { error: e.message ?? String(err), code: e.code, hint: e.hint };
}
