import { createInterface } from 'node:readline/promises';
import type { ParseArgsConfig } from 'node:util';
import { formatTable } from '../table.ts';
import { UsageError } from '../errors.ts';

export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  help: string;
  options?: ParseArgsConfig['options'];
  /** The most positional arguments it takes, by subcommand (its first argument), or '*'
   * for a command without subcommands: a word more is refused (exit 2), never ignored
   * (`holds place table A B` held only A: round atk97 F2). */
  arity?: Record<string, number>;
  run: (values: Values, positionals: string[]) => Promise<number>;
}

/** Prints rows as a table, or as JSON with --json. */
export async function output(values: Values, rows: Record<string, unknown>[], columns?: string[]): Promise<void> {
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log(formatTable(rows, columns));
}

export const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?)? ?(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/** A moment given on the command line (--as-of, --expires-at, --until, --due, --from,
 * --to), as ISO 8601 text PostgreSQL reads the same in any DateStyle and TimeZone:
 * `2027-03-01`, `2027-03-01 12:00`, `2027-03-01T12:00:00.5+01:00`, each with `Z`, `UTC`
 * or an offset, and without one in UTC. The text went to `::timestamptz` as it was, read
 * in the session's DateStyle and TimeZone, which a database's or role's settings choose:
 * `12/01/2027` was 11 January under `ISO, DMY`, and a date's midnight that of the
 * database's zone (round atk153 F2: a hold ended months early). Anything else is a usage
 * error naming the option. */
export function instant(values: Values, name: string): string | undefined {
  const v = str(values[name]);
  if (v === undefined) return undefined;
  const m = INSTANT.exec(v.trim());
  const bad = () => new UsageError(`--${name} ${JSON.stringify(v)} is not a date or time pg-retention reads`,
    `give ISO 8601: --${name} 2027-03-01 (midnight UTC), --${name} '2027-03-01 09:30Z' or --${name} 2027-03-01T09:30:00+01:00; a time without an offset is UTC`);
  if (!m) throw bad();
  const [, y, mo, d, hh = '00', mi = '00', ss = '00', frac = '', zone = 'Z'] = m;
  // setUTCFullYear, not Date.UTC: that reads years 0-99 as 1900-1999 (round atk159 F11).
  const day = new Date(0);
  day.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)
      || Number(hh) > 23 || Number(mi) > 59 || Number(ss) > 59) throw bad();
  let offset = zone.toUpperCase() === 'Z' || zone.toUpperCase() === 'UTC' ? '+00:00' : zone;
  if (/^[+-]\d{2}$/.test(offset)) offset += ':00';
  else if (/^[+-]\d{4}$/.test(offset)) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  if (Number(offset.slice(1, 3)) > 15 || Number(offset.slice(4, 6)) > 59) throw bad();
  return `${y}-${mo}-${d}T${hh}:${mi}:${ss}${frac}${offset}`;
}

/** Asks before something that cannot be undone, when a person is at a terminal: true with
 * --yes, or when stdin or stdout is not a terminal (scripts and CI run unattended, as
 * before), else the answer to the question (y or yes). */
export async function confirm(values: Values, question: string): Promise<boolean> {
  if (values.yes || !process.stdin.isTTY || !process.stdout.isTTY) return true;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
