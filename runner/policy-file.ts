// The policy file (retention.yaml): parsed with positions kept, validated with zod before
// anything touches the database, every error naming file, line, field path and the fix.
import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { cronError, timeZoneError } from './cron.ts';

const UNITS = 'microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?|months?|years?';
const DURATION = new RegExp(`^\\s*(\\d+\\s*(${UNITS})\\s*)+$`, 'i');
const duration = z.string().refine((s) => DURATION.test(s) && !/^\s*0+\s*\D/.test(s), {
  error: (i) => `${JSON.stringify(i.input)} is not a positive duration — use e.g. "30 days", "6 months" or "1 year"`,
});
const cron = z.string().check((ctx) => {
  const problem = cronError(ctx.value);
  if (problem !== null) {
    ctx.issues.push({ code: 'custom', input: ctx.value,
      message: `${JSON.stringify(ctx.value)} is not a cron expression (${problem}) — use five fields, e.g. "0 2 * * *" for 02:00 daily, or @daily, @weekly, @monthly` });
  }
});
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, { error: 'must be a column name, e.g. created_at' });

export const policySchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, {
    error: 'must be 1-63 lowercase letters, digits, ".", "_" or "-", e.g. sessions.expired',
  }),
  table: z.string().min(1, { error: 'name the table, e.g. app.sessions' }),
  action: z.enum(['delete', 'soft_delete', 'purge_soft_deleted', 'drop_partitions', 'scrub'], {
    error: (i) => `${JSON.stringify(i.input)} is not an action — use delete, soft_delete, purge_soft_deleted, drop_partitions or scrub`,
  }),
  age_column: identifier,
  retain: duration.optional(),
  predicate: z.string().min(1).optional(),
  subject_column: identifier.optional(),
  deleted_at_column: identifier.optional(),
  batch_size: z.number().int().min(1).max(50_000).optional(),
  max_rows_per_run: z.number().int().min(1, { error: 'must be at least 1 (the ceiling of rows one run may affect)' }).max(1_000_000_000).optional(),
  time_budget: duration.optional(),
  lock_timeout: duration.optional(),
  schedule: cron.optional(),
  time_zone: z.string().check((ctx) => {
    const problem = timeZoneError(ctx.value);
    if (problem !== null) ctx.issues.push({ code: 'custom', input: ctx.value, message: `${problem}, e.g. UTC or Europe/Berlin` });
  }).optional(),
  enabled: z.boolean().optional(),
  description: z.string().optional(),
  category: z.enum(['tokens', 'logs', 'accounts', 'audit', 'metrics'], {
    error: (i) => `${JSON.stringify(i.input)} is not a category — use tokens, logs, accounts, audit or metrics (it picks the default schedule)`,
  }).optional(),
  notify_over_rows: z.number().int().min(1, { error: 'must be at least 1 (a run affecting this many rows is announced)' }).optional(),
  archive_schema: z.string().min(1, { error: 'name the schema detached partitions move to, e.g. archive' }).optional(),
  // YAML's null (name: null) means the "null" strategy.
  scrub: z.record(identifier, z.union([
    z.null().transform(() => 'null' as const),
    z.enum(['null', 'sha256', 'empty_json']),
    z.strictObject({ constant: z.string() }),
  ], { error: 'must be null, sha256, empty_json or {constant: "..."}' })).optional(),
  scrubbed_at_column: identifier.optional(),
  run_cap: z.number().int().min(1, { error: 'must be at least 1 (the most rows one run affects; the rest waits for the next run)' }).optional(),
  revoke: z.array(z.string().min(1), { error: 'list the tables whose rows referencing a scrubbed row go with it, e.g. [auth.sessions]' }).optional(),
  // Rows are flagged and announced this long before the action touches them (inactive accounts).
  notice_period: duration.optional(),
  tenant_column: identifier.optional(),
});

export const fileSchema = z.strictObject({
  defaults: z.strictObject({
    global: duration.optional(),
    schemas: z.record(z.string(), duration).optional(),
  }).optional(),
  policies: z.array(policySchema).default([]),
});

export type PolicyFile = z.infer<typeof fileSchema>;
export type PolicySpec = z.infer<typeof policySchema>;

export class PolicyFileError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PolicyFileError';
    this.problems = problems;
  }
}

export interface LoadedFile {
  path: string;
  /** The file as read (a saved plan keeps it, so apply --plan applies what was planned). */
  text: string;
  spec: PolicyFile;
  /** The line of a field path (e.g. ['policies', 3, 'retain']), for errors found later. */
  lineOf: (path: (string | number)[]) => number;
}

function pathText(path: PropertyKey[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), '');
}

export async function loadPolicyFile(path: string): Promise<LoadedFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PolicyFileError([`${path}: cannot read the file: ${(err as Error).message}`]);
  }
  return parsePolicyFile(text, path);
}

/** A policy file's text, checked as loadPolicyFile checks it (path names it in errors). */
export function parsePolicyFile(text: string, path: string): LoadedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new PolicyFileError(doc.errors.map((e) => `${path}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`));
  }
  const lineOf = (p: (string | number)[]): number => {
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return lines.linePos(node.range[0]).line;
    }
    return 1;
  };
  const keyLineOf = (p: (string | number)[], key: string): number => {
    const parent = doc.getIn(p, true);
    if (isMap(parent)) {
      const pair = parent.items.find((i) => (i.key as { value?: unknown })?.value === key);
      const k = pair?.key as Node | undefined;
      if (k?.range) return lines.linePos(k.range[0]).line;
    }
    return lineOf(p);
  };
  const parsed = fileSchema.safeParse(doc.toJS() ?? {});
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const p = issue.path.filter((x): x is string | number => typeof x !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          problems.push(`${path}:${keyLineOf(p, key)}: ${pathText([...p, key])}: unknown key — remove it or check its spelling (see docs/operator-guide.md)`);
        }
        continue;
      }
      problems.push(`${path}:${lineOf(p)}: ${pathText(p) || '(file)'}: ${issue.message}`);
    }
    throw new PolicyFileError(problems);
  }
  const seen = new Map<string, number>();
  parsed.data.policies.forEach((pol, i) => {
    const first = seen.get(pol.name);
    if (first !== undefined) {
      problems.push(`${path}:${lineOf(['policies', i, 'name'])}: policies[${i}].name: "${pol.name}" is already the name of policies[${first}] — names must be unique`);
    } else seen.set(pol.name, i);
  });
  if (problems.length > 0) throw new PolicyFileError(problems);
  return { path, text, spec: parsed.data, lineOf };
}
