// plan / apply: the difference between a policy file and the database, computed by the
// database itself. In one transaction the file is applied through set_default /
// set_policy (so every database-side check runs: tables, columns, types, predicates),
// the policies are read back and compared with what was there before; then the
// transaction is rolled back (plan) or committed (apply).
import type pg from 'pg';
import { type LoadedFile, PolicyFileError, type PolicySpec } from './policy-file.ts';

export interface FieldChange { field: string; old: unknown; new: unknown }
export interface Change {
  kind: 'added' | 'changed' | 'removed';
  object: 'policy' | 'default';
  name: string;
  fields: FieldChange[];
  would_affect?: string | null;
}

// File key -> set_policy parameter. The only names that reach SQL text; values are bound.
const PARAMS: Record<keyof PolicySpec, [string, string]> = {
  name: ['p_name', 'text'], table: ['p_target', 'text'], action: ['p_action', 'text'],
  age_column: ['p_age_column', 'text'], retain: ['p_retain', 'interval'], predicate: ['p_predicate', 'text'],
  subject_column: ['p_subject_column', 'text'], deleted_at_column: ['p_deleted_at_column', 'text'],
  batch_size: ['p_batch_size', 'integer'], max_rows_per_run: ['p_max_rows_per_run', 'bigint'],
  time_budget: ['p_time_budget', 'interval'], lock_timeout: ['p_lock_timeout', 'interval'],
  schedule: ['p_schedule', 'text'], time_zone: ['p_time_zone', 'text'], enabled: ['p_enabled', 'boolean'],
  description: ['p_description', 'text'], category: ['p_category', 'text'],
  notify_over_rows: ['p_notify_over_rows', 'bigint'], archive_schema: ['p_archive_schema', 'text'],
  scrub: ['p_scrub', 'jsonb'], scrubbed_at_column: ['p_scrubbed_at_column', 'text'], revoke: ['p_revoke', 'text[]'],
  run_cap: ['p_run_cap', 'bigint'], notice_period: ['p_notice_period', 'interval'], tenant_column: ['p_tenant_column', 'text'],
};

// Which file field an error code is about, to point at its line.
const FIELD_OF_CODE: Record<string, (keyof PolicySpec)[]> = {
  RT001: ['table', 'revoke'], RT013: ['table'], RT002: ['subject_column', 'deleted_at_column', 'scrubbed_at_column', 'scrub', 'tenant_column', 'age_column'],
  RT003: ['deleted_at_column', 'scrubbed_at_column', 'age_column'], RT004: ['retain', 'notice_period'], RT005: ['predicate'],
  RT006: ['batch_size', 'max_rows_per_run', 'run_cap', 'time_budget', 'lock_timeout', 'notify_over_rows'], RT007: ['action', 'deleted_at_column', 'predicate', 'archive_schema', 'scrub', 'scrubbed_at_column', 'notice_period', 'tenant_column'],
  RT009: ['name'], RT016: ['schedule', 'time_zone', 'category'], RT018: ['archive_schema'], RT019: ['scrub', 'scrubbed_at_column', 'revoke'],
  RT021: ['notice_period'],
};

const STATE = `select name, to_jsonb(p) - array['policy_id', 'created_at', 'created_by', 'updated_at', 'updated_by'] as row
                 from retention.policies p`;

async function state(db: pg.ClientBase): Promise<Map<string, Record<string, unknown>>> {
  const rows = (await db.query<{ name: string; row: Record<string, unknown> }>(STATE)).rows;
  const defaults = (await db.query<{ scope: string; retain: string }>('select scope, retain::text from retention.defaults')).rows;
  const m = new Map(rows.map((r) => [`policy:${r.name}`, r.row]));
  for (const d of defaults) m.set(`default:${d.scope}`, { retain: d.retain });
  return m;
}

function fieldFor(err: { code?: string; message: string }, spec: PolicySpec): keyof PolicySpec | undefined {
  const candidates = FIELD_OF_CODE[err.code ?? ''] ?? [];
  return candidates.find((f) => spec[f] !== undefined && err.message.includes(String(spec[f]))) ?? candidates.find((f) => spec[f] !== undefined);
}

async function wouldAffect(db: pg.ClientBase, name: string): Promise<string | null> {
  return (await db.query<{ n: string }>('select would_affect::text as n from retention.preview($1)', [name])).rows[0]?.n ?? null;
}

export async function planOrApply(db: pg.ClientBase, file: LoadedFile, opts: { apply: boolean; prune: boolean }): Promise<Change[]> {
  const { spec } = file;
  await db.query('begin');
  // A plan's transaction can never commit and appends nothing to the audit log, so it
  // holds no lock on the chain while it counts (holds and runs go on meanwhile).
  if (!opts.apply) await db.query('select retention.begin_plan()');
  try {
    const before = await state(db);
    const problems: string[] = [];
    const defaults = spec.defaults ?? {};
    const wanted = new Map<string, string | undefined>();
    if (defaults.global !== undefined) wanted.set('global', defaults.global);
    for (const [schema, retain] of Object.entries(defaults.schemas ?? {})) wanted.set(schema, retain);
    for (const [scope, retain] of wanted) {
      try {
        await db.query('savepoint d');
        await db.query('select retention.set_default($1, $2::interval)', [scope, retain]);
      } catch (err) {
        await db.query('rollback to savepoint d');
        const p = scope === 'global' ? ['defaults', 'global'] : ['defaults', 'schemas', scope];
        problems.push(`${file.path}:${file.lineOf(p)}: ${p.join('.')}: ${(err as Error).message}${(err as { hint?: string }).hint ? ` — ${(err as { hint?: string }).hint}` : ''}`);
      }
    }
    for (const [i, pol] of spec.policies.entries()) {
      const keys = (Object.keys(pol) as (keyof PolicySpec)[]).filter((k) => pol[k] !== undefined);
      const args = keys.map((k, n) => `${PARAMS[k][0]} => $${n + 1}::${PARAMS[k][1]}`).join(', ');
      try {
        await db.query('savepoint p');
        await db.query(`select retention.set_policy(${args})`, keys.map((k) => pol[k]));
      } catch (err) {
        await db.query('rollback to savepoint p');
        const e = err as { code?: string; message: string; hint?: string };
        const field = fieldFor(e, pol);
        const p = field ? ['policies', i, field] : ['policies', i];
        problems.push(`${file.path}:${file.lineOf(p)}: policies[${i}]${field ? `.${field}` : ''}: ${e.message}${e.hint ? ` — ${e.hint}` : ''}`);
      }
    }
    if (problems.length > 0) throw new PolicyFileError(problems);
    if (opts.prune) {
      const keep = spec.policies.map((p) => p.name);
      await db.query(`select retention.drop_policy(name) from retention.policies where not (name = any($1::text[]))`, [keep]);
      const scopes = [...wanted.keys()].map((s) => (s === 'global' ? 'global' : `schema:${s}`));
      await db.query(`select retention.set_default(case when scope = 'global' then 'global' else substr(scope, 8) end, null)
                        from retention.defaults where not (scope = any($1::text[]))`, [scopes]);
    }
    const after = await state(db);
    const changes: Change[] = [];
    for (const key of new Set([...before.keys(), ...after.keys()])) {
      const [object, name] = [key.slice(0, key.indexOf(':')) as 'policy' | 'default', key.slice(key.indexOf(':') + 1)];
      const o = before.get(key);
      const n = after.get(key);
      const fields = Object.keys({ ...o, ...n })
        .filter((f) => JSON.stringify(o?.[f] ?? null) !== JSON.stringify(n?.[f] ?? null))
        .map((f) => ({ field: f, old: o?.[f] ?? null, new: n?.[f] ?? null }));
      if (fields.length === 0) continue;
      const kind = !o ? 'added' : !n ? 'removed' : 'changed';
      const change: Change = { kind, object, name, fields };
      if (object === 'policy' && n && !opts.apply) change.would_affect = await wouldAffect(db, name);
      changes.push(change);
    }
    await db.query(opts.apply ? 'commit' : 'rollback');
    // Applied: counted after the commit, so the audit chain is not held while counting.
    if (opts.apply) {
      for (const c of changes) if (c.object === 'policy' && c.kind !== 'removed') c.would_affect = await wouldAffect(db, c.name);
    }
    return changes.sort((a, b) => a.object.localeCompare(b.object) || a.name.localeCompare(b.name));
  } catch (err) {
    await db.query('rollback').catch(() => {});
    throw err;
  }
}

export function formatPlan(changes: Change[], applied: boolean): string {
  if (changes.length === 0) return 'No changes: the database matches the file.';
  const sign = { added: '+', changed: '~', removed: '-' } as const;
  const show = (v: unknown) => (v === null ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));
  const out: string[] = [];
  for (const c of changes) {
    const affect = c.would_affect != null ? `  (would affect ${c.would_affect} rows now)` : '';
    out.push(`${sign[c.kind]} ${c.object} ${c.name} ${c.kind}${affect}`);
    if (c.kind === 'changed') for (const f of c.fields) out.push(`    ${f.field}: ${show(f.old)} -> ${show(f.new)}`);
  }
  const n = (k: Change['kind']) => changes.filter((c) => c.kind === k).length;
  out.push(`${applied ? 'Applied' : 'Plan'}: ${n('added')} to add, ${n('changed')} to change, ${n('removed')} to remove.`);
  return out.join('\n');
}
