// The one place that turns PostgreSQL errors into what the user reads and the exit code.
// Exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 refused by a safety rule.

import { redactSecrets } from './redact.ts';
import { printable } from './table.ts';

export const EXIT = { ok: 0, failure: 1, usage: 2, refused: 3 } as const;

export class UsageError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

interface PgError {
  code?: string;
  message: string;
  hint?: string;
}

// Refused by a safety rule (3): the ceiling, approval (no approved proposal, a stale one,
// one's own), row security that applies to the login, subject columns open holds use,
// another role's code, a cascade the archive cannot follow, object columns without their
// triggers, a committed plan.
const REFUSALS = new Set(['RT012', 'RT023', 'RT024', 'RT025', 'RT027', 'RT033', 'RT034', 'RT035', 'RT036', 'RT038']);
// Failed while doing it (1): the append-only audit log, a change that did not go as
// planned, an archive object that is not what the database says.
const FAILURES = new Set(['RT014', 'RT032', 'RT037']);

/** The exit code: 2 for what was asked wrongly (options, and RT errors about the input:
 * an unknown policy, a bad period...), 3 for a refusal by a safety rule, 1 for anything
 * that failed while being done (and every error that is not pg-retention's). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || (err as Error).name === 'ConfigError') return EXIT.usage;
  const code = (err as PgError).code;
  if (code && REFUSALS.has(code)) return EXIT.refused;
  if (code && FAILURES.has(code)) return EXIT.failure;
  if (code && /^RT\d{3}$/.test(code)) return EXIT.usage;
  if (code && INPUT_VALUES.has(code) && readingParameters(err)) return EXIT.usage;
  if (fileProblem(err)) return EXIT.usage;
  return EXIT.failure;
}

// A value given on the command line that PostgreSQL cannot read as its type (a date, an
// interval, a number, a time zone, a regular expression): asked wrongly, as RT errors about
// the input are. Only when it failed reading the statement's parameters: the same codes
// raised inside a routine (a run whose batch met an application trigger's bad cast fails
// with the trigger's SQLSTATE) are failures.
const INPUT_VALUES = new Set(['22P02', '22007', '22008', '22009', '22015', '22003', '22023', '22021', '2201B', '22001', '22P05']);

/** Whether a database error came from reading the statement's parameters (PostgreSQL says
 * "unnamed portal parameter $3 = '...'"), not from inside a routine. */
function readingParameters(err: unknown): boolean {
  const where = (err as { where?: string }).where;
  return !where || /^(unnamed )?portal( "[^"]*")? parameter \$\d+/.test(where);
}

// Node's errors for a path the command was given (--out, a policy or plan file): its code
// and the path. Shown as what could not be done to which path, with a hint, not as
// "ENOENT: no such file or directory, open '...'".
const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

function fileProblem(err: unknown): { path: string; reason: string } | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.path !== 'string' || typeof e.code !== 'string' || !Object.hasOwn(FILE_PROBLEMS, e.code)) return undefined;
  return { path: e.path, reason: FILE_PROBLEMS[e.code]! };
}

/** Printable line by line: a message's own line breaks stay, anything else that could
 * rewrite the terminal is shown escaped (table.ts, printable). */
const safe = (t: string) => redactSecrets(t).split('\n').map(printable).join('\n');

/** The closest of the candidates to a mistyped word (edit distance at most a third of its
 * length, and at most 3), for "did you mean". */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d <= bestD && (best === undefined || d < bestD)) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1),
        // a swap of two neighbours counts as one edit
        i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? diag : Infinity);
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The message for the terminal: message, hint, and the SQLSTATE for database errors. */
export function describe(err: unknown): string {
  const e = err as PgError;
  const file = fileProblem(err);
  if (file) {
    return [`cannot use ${printable(file.path)}: ${file.reason} [${e.code}]`,
      'hint: check the path given (--out, --file, --plan): its directory must exist and be writable by this user; an export or report never creates directories.'].join('\n');
  }
  const lines = [e.code ? `${safe(e.message)} [${e.code}]` : safe(e.message)];
  const hint = err instanceof UsageError ? err.hint : e.hint;
  if (hint) lines.push(`hint: ${safe(hint)}`);
  else if (e.code && INPUT_VALUES.has(e.code) && readingParameters(err)) lines.push('hint: a value given is not one PostgreSQL can read as its type (dates as 2026-01-31, intervals as \'90 days\', time zones as Europe/Berlin).');
  // A full disk where no path was named (an archive object being written): what to do,
  // and that nothing was lost (atk133 F1).
  if ((e.code === 'ENOSPC' || e.code === 'EDQUOT') && !hint) {
    lines.push('hint: no space left where pg-retention writes (the archive storage directory, or an --out path): free space and run the command again. An archive object counts only once written and read back verified, so rows waiting for offload stay in the database.');
  }
  if (e.code === 'ECONNREFUSED' || /connect ECONNREFUSED/.test(e.message)) {
    lines.push('hint: is PostgreSQL running? Set DATABASE_URL, the PG* variables or --database-url.');
  }
  // Only when the database gave no hint of its own: approvals are retention_approver's, and
  // a routine's own 42501 says whose (a second, generic hint contradicted it; atk97 F10d).
  if (e.code === '42501' && !hint) lines.push('hint: connect as a member of the role the command needs: retention_admin, retention_operator or retention_runner, retention_approver for approvals (see docs/dba-guide.md, Roles).');
  // A statement_timeout (the connection's or the role's) or a cancel: what committed stays
  // counted, the rest was rolled back (atk121 F2).
  if (e.code === '57014' && !hint) {
    lines.push('hint: the statement was cancelled (statement_timeout, or pg_cancel_backend): what committed before it is counted, the rest was rolled back. Run the command again; for long runs raise statement_timeout for this login (ALTER ROLE … SET statement_timeout), or lower the batch size.');
  }
  // The retention schema missing (a fresh database) or older than this version.
  if ((e.code === '3F000' || e.code === '42P01' || e.code === '42883') && /retention[."]/.test(e.message)) {
    lines.push('hint: this database has no retention schema, or an older one: run pg-retention migrate (as the schema\'s owner) first.');
  }
  return lines.join('\n');
}

/** A policy file that does not parse or validate: every problem, one per line. */
export class PolicyFileError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PolicyFileError';
    this.problems = problems;
  }
}
