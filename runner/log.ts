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

/** Where a pg-retention message (RT*) goes on to quote the application's own text (a
 * deferred trigger's error): retention_internal._quoted_marker(). */
export const QUOTED_MARKER = '; it said: ';

// SQLSTATE classes whose messages may quote a row's values: data exceptions ('invalid input
// syntax for type integer: "alice@example.com"'), integrity and check-option violations,
// triggered data changes, routine exceptions and PL/pgSQL's RAISE (an application's
// trigger: 'account alice@example.com is in a payment dispute').
const QUOTES_VALUES = /^(22|23|27|2F|38|39|44|P0)/;

/** An error's message as a log or a job's output may keep it: those leave the database,
 * where an erasure cannot reach them (round atk66 F9). pg-retention's own (RT*) name
 * objects, never values, up to what they quote of the application's; messages of the
 * classes that may quote a row's values are withheld (the run's error in retention.runs
 * keeps them, and the person's erasure redacts them there); others (connections,
 * privileges, a missing object) are kept. */
export function loggableMessage(message: string, code: string | undefined): string {
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return message;
  if (code.startsWith('RT')) return message.split(QUOTED_MARKER)[0]!;
  if (QUOTES_VALUES.test(code)) {
    return `SQLSTATE ${code}: message withheld (it may quote a row's values; retention.runs keeps it where a run failed)`;
  }
  return message;
}

/** An error as log fields: message (as loggableMessage keeps it), SQLSTATE and hint,
 * without the stack. */
export function errFields(err: unknown): Record<string, unknown> {
  const e = err as { message?: string; code?: string; hint?: string };
  const message = e.message ?? String(err);
  const kept = loggableMessage(message, e.code);
  return { error: kept, code: e.code, hint: kept === message || e.code?.startsWith('RT') ? e.hint : undefined };
}
