// The one place that turns PostgreSQL errors into what the user reads and the exit code.
// Exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 refused by a safety rule.

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

// Refused by a safety rule: the ceiling, approval (no approved proposal, a stale one).
const REFUSALS = new Set(['RT012', 'RT034', 'RT035', 'RT036']);

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || (err as Error).name === 'ConfigError') return EXIT.usage;
  const code = (err as PgError).code;
  if (code && REFUSALS.has(code)) return EXIT.refused;
  if (code && /^RT\d{3}$/.test(code)) return EXIT.usage;
  return EXIT.failure;
}

/** The message for the terminal: message, hint, and the SQLSTATE for database errors. */
export function describe(err: unknown): string {
  const e = err as PgError;
  const lines = [e.code ? `${e.message} [${e.code}]` : e.message];
  const hint = err instanceof UsageError ? err.hint : e.hint;
  if (hint) lines.push(`hint: ${hint}`);
  if (e.code === 'ECONNREFUSED' || /connect ECONNREFUSED/.test(e.message)) {
    lines.push('hint: is PostgreSQL running? Set DATABASE_URL, the PG* variables or --database-url.');
  }
  if (e.code === '42501') lines.push('hint: connect as a member of retention_admin or retention_runner (see docs/dba-guide.md, Roles).');
  return lines.join('\n');
}
