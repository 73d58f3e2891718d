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

// SQLSTATE classes whose messages name objects and states, never a value: connections,
// authorization, a missing database, transaction rollbacks (serialization, deadlock),
// transaction state, resources, object state (a lock not available), operator intervention
// (a cancel, a shutdown), system errors; and a missing privilege. Every other class may
// quote a row's values: data exceptions ('invalid input syntax for type integer:
// "alice@example.com"'), integrity violations, RAISE, and built-ins that quote their input
// under a syntax class (to_tsquery: 'no operand in tsquery: "alice@…"', a cast to regclass:
// 'relation "alice" does not exist'; round atk78 F2). retention_internal._outbound_error
// keeps the same rule.
const NAMES_NO_VALUES = /^(08|28|3D|40|25|53|55|57|58)|^42501$/;

// A frame of an application's function in an error's context (PostgreSQL's "where",
// innermost first): "PL/pgSQL function app.audit_trg() line 3 at RAISE". Only the owner
// creates functions in pg-retention's schemas; any other prints under its own schema.
const APP_FRAME = /^PL\/(?!pgSQL function (?:retention|retention_internal)\.)[A-Za-z0-9]+ function /m;

/** Whether an error was raised inside an application's code (its context names a function
 * outside pg-retention's schemas): such code raises any SQLSTATE, an RT one too, with any
 * message (round atk70). retention_internal._application_raised() is the same rule. */
export function raisedByApplication(where: string | undefined): boolean {
  return typeof where === 'string' && APP_FRAME.test(where);
}

/** An error's message as a log or a job's output may keep it: those leave the database,
 * where an erasure cannot reach them (rounds atk66 F9, atk70). Nothing of one raised in an
 * application's code (where: its context); of the rest, what precedes QUOTED_MARKER (a run
 * records the application's text after it: retention_internal._recorded_error) of
 * pg-retention's own (RT*, naming objects, never values) and of the classes that name no
 * values (NAMES_NO_VALUES: connections, privileges, locks, cancels); nothing of any other
 * (the run's error in retention.runs keeps it, and the person's erasure redacts it there). */
export function loggableMessage(message: string, code: string | undefined, where?: string): string {
  const shown = /^[0-9A-Z]{5}$/.test(code ?? '') ? code : 'unknown';
  if (raisedByApplication(where)) {
    return `SQLSTATE ${shown}: message withheld (the application's code raised it; it may quote a row's values)`;
  }
  if (typeof code === 'string' && (code.startsWith('RT') || NAMES_NO_VALUES.test(code))) {
    return message.split(QUOTED_MARKER)[0]!;
  }
  return `SQLSTATE ${shown}: message withheld (it may quote a row's values; retention.runs keeps it where a run failed)`;
}

/** An error as log fields: message (as loggableMessage keeps it), SQLSTATE and hint,
 * without the stack. */
export function errFields(err: unknown): Record<string, unknown> {
  const e = err as { message?: string; code?: string; hint?: string; where?: string; severity?: string };
  const message = e.message ?? String(err);
  // Not the database's (a network error, a store's, one of the runner's own): no SQLSTATE
  // rule applies, and its message says what went wrong (ECONNREFUSED …).
  if (typeof e.severity !== 'string') return { error: message, code: e.code, hint: e.hint };
  const kept = loggableMessage(message, e.code, e.where);
  // pg-retention's hints (RT*) are its own words; an application's RAISE's, never.
  const ours = kept === message || (e.code?.startsWith('RT') === true && !raisedByApplication(e.where));
  return { error: kept, code: e.code, hint: ours ? e.hint : undefined };
}
