// The settings of a policy, defined once: file key, column of retention.policies,
// set_policy parameter and its type, the actions it applies to, the file's validation
// (zod), the error codes the database raises about it (so plan points at its line), and a
// line of documentation. The policy file's schema, the JSON Schema and plan's argument
// list are built from this; the SQL side (set_policy, alter_policy, retention.policies)
// and the guides are checked against it by test/settings.test.ts, which names each layer
// that disagrees. Adding a setting: a migration for the column, set_policy's parameter and
// validation, and an entry here.
import { z } from 'zod';
import { cronError, timeZoneError } from './cron.ts';

export const ACTIONS = ['delete', 'soft_delete', 'purge_soft_deleted', 'drop_partitions', 'scrub'] as const;
export type Action = (typeof ACTIONS)[number];
export const CATEGORIES = ['tokens', 'logs', 'accounts', 'audit', 'metrics'] as const;

export interface Setting {
  /** The retention.policies column. */
  column: string;
  /** set_policy's parameter and its type as PostgreSQL prints it. */
  param: string;
  sqlType: 'text' | 'interval' | 'integer' | 'bigint' | 'boolean' | 'jsonb' | 'text[]';
  /** The file must give it (set_policy has no default for it). */
  required?: true;
  /** The actions it applies to ('all' for every one). */
  actions: readonly Action[] | 'all';
  schema: z.ZodType;
  /** Error codes the database raises about this setting. */
  codes: readonly string[];
  doc: string;
}

const UNITS = 'microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?|months?|years?';
const DURATION = new RegExp(`^\\s*(\\d+\\s*(${UNITS})\\s*)+$`, 'i');
// Each unit once: PostgreSQL refuses "30 days 1 days" (round atk152 F4).
const unitsOnce = (s: string): boolean => {
  const units = [...s.toLowerCase().matchAll(new RegExp(`(${UNITS})`, 'g'))].map((m) => m[1]!.replace(/s$/, ''));
  return new Set(units).size === units.length;
};
export const duration = z.string().refine((s) => DURATION.test(s) && !/^\s*0+\s*\D/.test(s) && unitsOnce(s), {
  error: (i) => `${JSON.stringify(i.input)} is not a positive duration — use e.g. "30 days", "6 months" or "1 year"`,
});
const cron = z.string().check((ctx) => {
  const problem = cronError(ctx.value);
  if (problem !== null) {
    ctx.issues.push({ code: 'custom', input: ctx.value,
      message: `${JSON.stringify(ctx.value)} is not a cron expression (${problem}) — use five fields, e.g. "0 2 * * *" for 02:00 daily, or @daily, @weekly, @monthly` });
  }
});
const timeZone = z.string().check((ctx) => {
  const problem = timeZoneError(ctx.value);
  if (problem !== null) ctx.issues.push({ code: 'custom', input: ctx.value, message: `${problem}, e.g. UTC or Europe/Berlin` });
});
export const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, { error: 'must be a column name, e.g. created_at' });
// A description enters the audit log for good: the database refuses (RT006) one over 2,000
// characters or with control (but line breaks and tabs), invisible or direction-changing
// characters (retention_internal._hidden_chars); the file says so before anything is planned.
const HIDDEN: [number, number][] = [
  [0x00, 0x1f], [0x7f, 0x9f], [0xad, 0xad], [0x34f, 0x34f], [0x61c, 0x61c], [0x115f, 0x1160], [0x17b4, 0x17b5],
  [0x180b, 0x180f], [0x200b, 0x200f], [0x2028, 0x202e], [0x2060, 0x206f], [0x3164, 0x3164], [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff], [0xffa0, 0xffa0], [0xfff9, 0xfffb], [0x1d173, 0x1d17a], [0xe0000, 0xe007f], [0xe0100, 0xe01ef],
];
const hidden = (s: string): boolean => [...s].some((ch) => {
  const c = ch.codePointAt(0)!;
  return c !== 0x09 && c !== 0x0a && c !== 0x0d && HIDDEN.some(([lo, hi]) => c >= lo && c <= hi);
});
const note = z.string()
  .refine((s) => [...s].length <= 2000, { error: 'must be at most 2,000 characters' })
  .refine((s) => !hidden(s), {
    error: 'must be plain text: no control (but line breaks and tabs), invisible or direction-changing characters — it stays in the audit log for good',
  });
const positive = (what: string) => z.number().int().min(1, { error: `must be at least 1 (${what})` });

export const SETTINGS = {
  name: {
    column: 'name', param: 'p_name', sqlType: 'text', required: true, actions: 'all', codes: ['RT009'],
    schema: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, { error: 'must be 1-63 lowercase letters, digits, ".", "_" or "-", e.g. sessions.expired' }),
    doc: 'the policy\'s name, unique',
  },
  table: {
    column: 'target', param: 'p_target', sqlType: 'text', required: true, actions: 'all', codes: ['RT001', 'RT013'],
    schema: z.string().min(1, { error: 'name the table, e.g. app.sessions' }),
    doc: 'the table, schema-qualified',
  },
  action: {
    column: 'action', param: 'p_action', sqlType: 'text', required: true, actions: 'all', codes: ['RT007'],
    schema: z.enum(ACTIONS, { error: (i) => `${JSON.stringify(i.input)} is not an action — use ${ACTIONS.join(', ')}` }),
    doc: 'what happens to rows past their period',
  },
  age_column: {
    column: 'age_column', param: 'p_age_column', sqlType: 'text', required: true, actions: 'all', codes: ['RT002', 'RT003'],
    schema: identifier, doc: 'the timestamp the period counts from',
  },
  retain: {
    column: 'retain', param: 'p_retain', sqlType: 'interval', actions: 'all', codes: ['RT004'],
    schema: duration, doc: 'the period; left out, the schema\'s or the global default',
  },
  predicate: {
    column: 'predicate', param: 'p_predicate', sqlType: 'text', actions: 'all', codes: ['RT005', 'RT007'],
    schema: z.string().min(1), doc: 'a boolean expression over the table\'s columns: only such rows',
  },
  subject_column: {
    column: 'subject_column', param: 'p_subject_column', sqlType: 'text', actions: 'all', codes: ['RT002'],
    schema: identifier, doc: 'the column naming the data subject: subject holds match it',
  },
  deleted_at_column: {
    column: 'deleted_at_column', param: 'p_deleted_at_column', sqlType: 'text', actions: ['soft_delete'],
    codes: ['RT002', 'RT003', 'RT007'], schema: identifier, doc: 'the column a soft delete sets',
  },
  batch_size: {
    column: 'batch_size', param: 'p_batch_size', sqlType: 'integer', actions: 'all', codes: ['RT006'],
    schema: z.number().int().min(1).max(50_000), doc: 'a fixed number of rows per batch, 1-50,000; left out, batches size themselves (batch_target)',
  },
  max_rows_per_run: {
    column: 'max_rows_per_run', param: 'p_max_rows_per_run', sqlType: 'bigint', actions: 'all', codes: ['RT006'],
    schema: positive('the ceiling of rows one run may affect').max(1_000_000_000), doc: 'the ceiling: a run that would affect more is refused',
  },
  time_budget: {
    column: 'time_budget', param: 'p_time_budget', sqlType: 'interval', actions: 'all', codes: ['RT006'],
    schema: duration, doc: 'a run stops between batches when it is spent',
  },
  lock_timeout: {
    column: 'lock_timeout', param: 'p_lock_timeout', sqlType: 'interval', actions: 'all', codes: ['RT006'],
    schema: duration, doc: 'how long a batch waits for its locks',
  },
  schedule: {
    column: 'schedule', param: 'p_schedule', sqlType: 'text', actions: 'all', codes: ['RT016'],
    schema: cron, doc: 'five cron fields or @daily-style macros; left out, by category',
  },
  time_zone: {
    column: 'time_zone', param: 'p_time_zone', sqlType: 'text', actions: 'all', codes: ['RT016'],
    schema: timeZone, doc: 'the schedule\'s time zone',
  },
  enabled: {
    column: 'enabled', param: 'p_enabled', sqlType: 'boolean', actions: 'all', codes: [],
    schema: z.boolean(), doc: 'false: no run acts',
  },
  description: {
    column: 'description', param: 'p_description', sqlType: 'text', actions: 'all', codes: [],
    schema: note, doc: 'for people',
  },
  category: {
    column: 'category', param: 'p_category', sqlType: 'text', actions: 'all', codes: ['RT016'],
    schema: z.enum(CATEGORIES, { error: (i) => `${JSON.stringify(i.input)} is not a category — use ${CATEGORIES.join(', ')} (it picks the default schedule)` }),
    doc: 'picks the default schedule',
  },
  notify_over_rows: {
    column: 'notify_over_rows', param: 'p_notify_over_rows', sqlType: 'bigint', actions: 'all', codes: ['RT006'],
    schema: positive('a run affecting this many rows is announced'), doc: 'a run this large is announced',
  },
  archive_schema: {
    column: 'archive_schema', param: 'p_archive_schema', sqlType: 'text', actions: ['drop_partitions'], codes: ['RT018', 'RT007'],
    schema: z.string().min(1, { error: 'name the schema detached partitions move to, e.g. archive' }), doc: 'detached partitions move here instead of being dropped',
  },
  scrub: {
    column: 'scrub_columns', param: 'p_scrub', sqlType: 'jsonb', actions: ['scrub'], codes: ['RT019', 'RT002', 'RT007'],
    // YAML's null (name: null) means the "null" strategy.
    schema: z.record(identifier, z.union([
      z.null().transform(() => 'null' as const),
      z.enum(['null', 'sha256', 'empty_json']),
      z.strictObject({ constant: z.string() }),
    ], { error: 'must be null, sha256, empty_json or {constant: "..."}' })),
    doc: 'column -> strategy (null, sha256, empty_json, {constant})',
  },
  scrubbed_at_column: {
    column: 'scrubbed_at_column', param: 'p_scrubbed_at_column', sqlType: 'text', actions: ['scrub'], codes: ['RT002', 'RT003', 'RT019', 'RT007'],
    schema: identifier, doc: 'the column a scrub sets',
  },
  revoke: {
    column: 'revoke_tables', param: 'p_revoke', sqlType: 'text[]', actions: ['scrub'], codes: ['RT001', 'RT019'],
    schema: z.array(z.string().min(1), { error: 'list the tables whose rows referencing a scrubbed row go with it, e.g. [auth.sessions]' }),
    doc: 'tables whose rows referencing a scrubbed row go with it',
  },
  run_cap: {
    column: 'run_cap', param: 'p_run_cap', sqlType: 'bigint', actions: 'all', codes: ['RT006'],
    schema: positive('the most rows one run affects; the rest waits for the next run'), doc: 'the most rows one run affects; the rest next run',
  },
  notice_period: {
    column: 'notice_period', param: 'p_notice_period', sqlType: 'interval', actions: ['delete', 'soft_delete', 'scrub'], codes: ['RT004', 'RT021', 'RT007'],
    // Rows are flagged and announced this long before the action touches them (inactive accounts).
    schema: duration, doc: 'rows are flagged and announced this long before the action',
  },
  tenant_column: {
    column: 'tenant_column', param: 'p_tenant_column', sqlType: 'text', actions: ['delete', 'soft_delete', 'scrub'], codes: ['RT002', 'RT007'],
    schema: identifier, doc: 'one notification per value of this column',
  },
  approval: {
    column: 'approval', param: 'p_approval', sqlType: 'text', actions: ['delete', 'purge_soft_deleted', 'soft_delete', 'scrub'],
    codes: ['RT007', 'RT034', 'RT035'],
    schema: z.enum(['none', 'required'], { error: (i) => `${JSON.stringify(i.input)} is not an approval mode — use required (a second person approves each purge) or none` }),
    doc: 'required: runs remove only the rows of a proposal a second person approved',
  },
  archive: {
    column: 'archive', param: 'p_archive', sqlType: 'boolean', actions: ['delete', 'purge_soft_deleted', 'drop_partitions'],
    codes: ['RT007', 'RT033', 'RT025'],
    schema: z.boolean(), doc: 'copy every removed row (and its cascade) to the archive first; default: on with approval',
  },
  archive_retain: {
    column: 'archive_retain', param: 'p_archive_retain', sqlType: 'interval', actions: ['delete', 'purge_soft_deleted', 'drop_partitions'],
    codes: ['RT004', 'RT007'],
    schema: duration, doc: 'how long archive objects are kept; left out, until removed by hand',
  },
  pause_between_batches: {
    column: 'pause_between_batches', param: 'p_pause_between_batches', sqlType: 'interval', actions: 'all', codes: ['RT006'],
    schema: duration, doc: 'a pause after each batch (at most 1 minute)',
  },
  max_replication_lag: {
    column: 'max_replication_lag', param: 'p_max_replication_lag', sqlType: 'interval', actions: 'all', codes: ['RT006'],
    schema: duration, doc: 'between batches, wait while a standby\'s replay lags more than this',
  },
  batch_target: {
    column: 'batch_target', param: 'p_batch_target', sqlType: 'interval', actions: 'all', codes: ['RT006'],
    schema: duration, doc: 'how long a batch should take when batch_size is left out (default 50 milliseconds)',
  },
  count: {
    column: 'count', param: 'p_count', sqlType: 'text', actions: ['drop_partitions'], codes: ['RT007'],
    schema: z.enum(['exact', 'estimate'], { error: (i) => `${JSON.stringify(i.input)} is not a count — use estimate (rows of a dropped partition from the statistics) or exact (every row counted)` }),
    doc: 'how a run counts the rows of the partitions it drops: estimate (default, from the statistics) or exact',
  },
  timestamp_zone: {
    column: 'timestamp_zone', param: 'p_timestamp_zone', sqlType: 'text', actions: 'all', codes: ['RT016'],
    schema: timeZone, doc: 'the zone a timestamp or date age column is written in; left out, the installation\'s default, UTC and the database\'s TimeZone',
  },
} as const satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;
type Def = typeof SETTINGS;
type Shape = { [K in SettingKey]: Def[K] extends { required: true } ? Def[K]['schema'] : z.ZodOptional<Def[K]['schema']> };

/** The policy file's schema of one policy, from the settings. */
export function policyShape(settings: Record<string, Setting> = SETTINGS): Shape {
  return Object.fromEntries(Object.entries(settings).map(([k, s]) => [k, s.required ? s.schema : s.schema.optional()])) as Shape;
}

/** Issues for settings given to an action they do not apply to (set_policy refuses them with RT007 too). */
export function actionIssues(policy: Record<string, unknown>): { key: string; message: string }[] {
  const action = policy.action as Action;
  return Object.entries(SETTINGS as Record<string, Setting>)
    .filter(([k, s]) => policy[k] !== undefined && s.actions !== 'all' && !s.actions.includes(action))
    .map(([k, s]) => ({ key: k, message: `${k} applies to ${(s.actions as readonly Action[]).join(', ')} only, not ${action}` }));
}
