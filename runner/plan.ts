// plan / apply: the difference between a policy file and the database, computed by the
// database itself. In one transaction the file is applied through set_default /
// set_policy (so every database-side check runs: tables, columns, types, predicates),
// the policies are read back and compared with what was there before; then the
// transaction is rolled back (plan) or committed (apply).
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { describeSchedule } from './cron.ts';
import { printable } from './table.ts';
import { type Setting, SETTINGS } from './settings.ts';
import { type LoadedFile, PolicyFileError, type PolicySpec } from './policy-file.ts';

export interface FieldChange { field: string; old: unknown; new: unknown }
export interface Change {
  /** added/changed/removed: what apply does; inherited: a changed default gives the policy
   * a new period; database_only: in the database, not in the file (removed only with --prune). */
  kind: 'added' | 'changed' | 'removed' | 'inherited' | 'database_only';
  object: 'policy' | 'default';
  name: string;
  /** Named as in the file (table, scrub, revoke). */
  fields: FieldChange[];
  /** Rows a run would take now, after the change (and before it, for an inherited period). */
  would_affect?: string | null;
  would_affect_before?: string | null;
  /** The schedule the policy runs on after the change, in words. */
  schedule?: string;
  warnings: string[];
}

/** What `plan --out` saves and `apply --plan` applies: the file as planned and the state it was planned against. */
export interface SavedPlan {
  version: 1;
  file: string;
  text: string;
  fingerprint: string;
  /** Planned with --prune: applying it removes what the file lacks. */
  prune: boolean;
  planned_at: string;
  changes: Change[];
}

export class StalePlanError extends Error {
  constructor(file: string, why = 'policies or defaults differ from what it was planned against') {
    super(`the database changed since the plan in ${file} was made: ${why}`);
    this.name = 'StalePlanError';
  }
}

/** Changes that apply would make (database-only policies are reported, not changed). */
export const isChange = (c: Change): boolean => c.kind !== 'database_only';

// File key -> set_policy parameter, and the fields an error code is about (to point at a
// line), from the settings' definitions. Only parameter names reach SQL text; values are bound.
const PARAMS = Object.fromEntries(Object.entries(SETTINGS).map(([k, d]) => [k, [d.param, d.sqlType]])) as Record<keyof PolicySpec, [string, string]>;
const FIELD_OF_CODE: Record<string, (keyof PolicySpec)[]> = {};
for (const [k, d] of Object.entries(SETTINGS) as [keyof PolicySpec, Setting][]) for (const c of d.codes) (FIELD_OF_CODE[c] ??= []).push(k);

// The policies as the file names their fields, with what they inherit.
const STATE = `select p.name, to_jsonb(p) - array['policy_id', 'created_at', 'created_by', 'updated_at', 'updated_by',
                                                'target', 'scrub_columns', 'revoke_tables']
                        || jsonb_build_object('table', retention.qualified_name(p.target), 'scrub', p.scrub_columns,
                                              'revoke', (select jsonb_agg(retention.qualified_name(r)) from unnest(p.revoke_tables) r)) as row,
                      jsonb_build_object('retain', e.retain::text, 'retain_source', e.retain_source,
                                         'schedule', e.effective_schedule, 'schedule_source', e.schedule_source,
                                         'time_zone', e.time_zone) as effective
                 from retention.policies p join retention.effective_policies e using (policy_id)`;

interface State {
  objects: Map<string, Record<string, unknown>>;
  effective: Map<string, { retain: string | null; retain_source: string; schedule: string; schedule_source: string; time_zone: string }>;
}

async function state(db: pg.ClientBase): Promise<State> {
  const rows = (await db.query<{ name: string; row: Record<string, unknown>; effective: State['effective'] extends Map<string, infer V> ? V : never }>(STATE)).rows;
  const defaults = (await db.query<{ scope: string; retain: string }>('select scope, retain::text from retention.defaults')).rows;
  const objects = new Map(rows.map((r) => [`policy:${r.name}`, r.row]));
  for (const d of defaults) objects.set(`default:${d.scope}`, { retain: d.retain });
  return { objects, effective: new Map(rows.map((r) => [r.name, r.effective])) };
}

/** A fingerprint of the policies and defaults, to tell whether a saved plan still fits. */
function fingerprint(st: State): string {
  const sorted = [...st.objects.entries()].sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

function fieldFor(err: { code?: string; message: string }, spec: PolicySpec): keyof PolicySpec | undefined {
  const candidates = (FIELD_OF_CODE[err.code ?? ''] ?? []).filter((f) => spec[f] !== undefined);
  // The field the message names ('pause between batches must be …', 'p_tenant_column is
  // only used …'), else the one whose value it quotes, else the first given (round atk97 F4).
  const named = (f: keyof PolicySpec) => [f.replaceAll('_', ' '), SETTINGS[f].param].some((w) => new RegExp(`(^|[^a-z_])${w}([^a-z_]|$)`).test(err.message));
  return candidates.find(named) ?? candidates.find((f) => err.message.includes(String(spec[f]))) ?? candidates[0];
}

async function wouldAffect(db: pg.ClientBase, name: string): Promise<string | null> {
  return (await db.query<{ n: string }>('select would_affect::text as n from retention.preview($1)', [name])).rows[0]?.n ?? null;
}

export interface PlanOptions {
  apply: boolean;
  prune: boolean;
  /** apply --plan: refuse unless the database is in the state the plan was made against. */
  fingerprint?: string;
  planFile?: string;
  /** apply --plan: refuse unless applying gives exactly the saved plan's changes. */
  expect?: Change[];
}

/** What a plan changes, without counts or words: what apply --plan compares. */
function essence(changes: Change[]): string {
  return JSON.stringify(changes.filter(isChange).map((c) => [c.kind, c.object, c.name, c.fields])
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
}

export interface PlanResult { changes: Change[]; fingerprint: string }

export async function planOrApply(db: pg.ClientBase, file: LoadedFile, opts: PlanOptions): Promise<PlanResult> {
  const { spec } = file;
  // Apply plans first, counting in a transaction that cannot commit: a policy whose
  // predicate fails on a row of its table ('note::int > 0' and a note 'abc') refuses the
  // file there, with nothing applied. Counted after the commit, the error came once the
  // file (and --prune's removals) was in, and apply said it had failed (round atk152 F1).
  const counted = opts.apply ? (await planOrApply(db, file, { ...opts, apply: false })).changes : [];
  await db.query('begin');
  // A plan's transaction can never commit and appends nothing to the audit log, so it
  // holds no lock on the chain while it counts (holds and runs go on meanwhile).
  if (!opts.apply) await db.query('select retention.begin_plan()');
  try {
    const before = await state(db);
    const print = fingerprint(before);
    if (opts.fingerprint !== undefined && opts.fingerprint !== print) throw new StalePlanError(opts.planFile ?? 'the saved plan');
    await db.query('savepoint start');
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
    const inFile = new Set(spec.policies.map((p) => p.name));
    if (opts.prune) {
      await db.query(`select retention.drop_policy(name) from retention.policies where not (name = any($1::text[]))`, [[...inFile]]);
      const scopes = [...wanted.keys()].map((s) => (s === 'global' ? 'global' : `schema:${s}`));
      await db.query(`select retention.set_default(case when scope = 'global' then 'global' else substr(scope, 8) end, null)
                        from retention.defaults where not (scope = any($1::text[]))`, [scopes]);
    }
    const after = await state(db);
    const changes: Change[] = [];
    for (const key of new Set([...before.objects.keys(), ...after.objects.keys()])) {
      const [object, name] = [key.slice(0, key.indexOf(':')) as 'policy' | 'default', key.slice(key.indexOf(':') + 1)];
      const o = before.objects.get(key);
      const n = after.objects.get(key);
      const fields = Object.keys({ ...o, ...n })
        .filter((f) => JSON.stringify(o?.[f] ?? null) !== JSON.stringify(n?.[f] ?? null))
        .map((f) => ({ field: f, old: o?.[f] ?? null, new: n?.[f] ?? null }));
      const eb = before.effective.get(name);
      const ea = after.effective.get(name);
      if (fields.length === 0) {
        if (object === 'policy' && eb && ea && eb.retain !== ea.retain) {
          // Unchanged itself, but it inherits a period a default change moves.
          changes.push({ kind: 'inherited', object, name, warnings: [],
            fields: [{ field: 'retain', old: `${eb.retain ?? '(none)'} (${eb.retain_source})`, new: `${ea.retain ?? '(none)'} (${ea.retain_source})` }] });
        } else if (object === 'policy' && !opts.prune && !inFile.has(name)) {
          changes.push({ kind: 'database_only', object, name, fields: [], warnings: [] });
        }
        continue;
      }
      const kind = !o ? 'added' : !n ? 'removed' : 'changed';
      const change: Change = { kind, object, name, fields, warnings: [] };
      if (object === 'policy' && o && n) {
        if (o.subject_column !== null && o.subject_column !== n.subject_column) {
          change.warnings.push(`subject holds no longer protect rows of ${String(n.table)} through its column ${String(o.subject_column)}`);
        }
        if (o.schedule !== null && n.schedule === null && ea) {
          change.warnings.push(`its schedule ${String(o.schedule)} goes: it runs ${describeSchedule(ea.schedule)} (${ea.schedule_source} default)`);
        }
        if (o.enabled === true && n.enabled === false) change.warnings.push('it is disabled: no run deletes anything until it is enabled again');
      }
      changes.push(change);
    }
    for (const c of changes) {
      const ea = after.effective.get(c.name);
      if (c.object !== 'policy' || !ea || c.kind === 'removed' || c.kind === 'database_only') continue;
      c.schedule = describeSchedule(ea.schedule, ea.time_zone);
      if (!opts.apply) {
        try {
          await db.query('savepoint w');
          c.would_affect = await wouldAffect(db, c.name);
        } catch (err) {
          await db.query('rollback to savepoint w');
          const e = err as { code?: string; message: string };
          const i = spec.policies.findIndex((p) => p.name === c.name);
          const where = i < 0 ? `policy ${c.name}` : `${file.path}:${file.lineOf(spec.policies[i]!.predicate !== undefined ? ['policies', i, 'predicate'] : ['policies', i])}: policies[${i}]${spec.policies[i]!.predicate !== undefined ? '.predicate' : ''}`;
          problems.push(`${where}: cannot be evaluated on the rows of its table: ${e.message}${e.code ? ` [${e.code}]` : ''} — a run would fail on that row; change the predicate so that it holds or fails for every row (guard a cast: note ~ '^[0-9]+$' and note::int > 0)`);
          continue;
        }
        const ceiling = Number(after.objects.get(`policy:${c.name}`)?.max_rows_per_run ?? 0);
        if (c.would_affect !== null && ceiling > 0 && Number(c.would_affect) > ceiling) {
          c.warnings.push(`the next run will be refused: it would affect ${c.would_affect} rows, over its ceiling of ${ceiling} (max_rows_per_run)`);
        }
      }
    }
    if (problems.length > 0) throw new PolicyFileError(problems);
    if (opts.expect !== undefined && essence(opts.expect) !== essence(changes)) {
      throw new StalePlanError(opts.planFile ?? 'the saved plan', 'applying it now would make other changes than it shows');
    }
    // An inherited period: the count before the change too (the plan is rolled back anyway).
    const inherited = changes.filter((c) => c.kind === 'inherited');
    if (!opts.apply && inherited.length > 0) {
      await db.query('rollback to savepoint start');
      for (const c of inherited) c.would_affect_before = await wouldAffect(db, c.name).catch(() => null);
    }
    await db.query(opts.apply ? 'commit' : 'rollback');
    // Applied: the counts of the plan made just before (the audit chain is not held while
    // counting; a count that fails refused the file there).
    if (opts.apply) {
      for (const c of changes) {
        if (c.object === 'policy' && isChange(c) && c.kind !== 'removed') {
          c.would_affect = counted.find((x) => x.object === c.object && x.name === c.name)?.would_affect ?? null;
        }
      }
    }
    const order = { default: 0, policy: 1 } as const;
    changes.sort((a, b) => order[a.object] - order[b.object] || a.name.localeCompare(b.name));
    return { changes, fingerprint: print };
  } catch (err) {
    await db.query('rollback').catch(() => {});
    throw err;
  }
}

const SIGN = { added: '+', changed: '~', removed: '-', inherited: '~', database_only: '!' } as const;
const show = (v: unknown): string => printable(v === null ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

function headline(c: Change): string {
  c = { ...c, name: printable(c.name) };
  switch (c.kind) {
    case 'inherited': return `${c.object} ${c.name}: a changed default gives it a new period`;
    case 'database_only': return `${c.object} ${c.name} is in the database but not in the file (kept; --prune removes it)`;
    default: return `${c.object} ${c.name} ${c.kind}`;
  }
}

function counts(c: Change): string {
  if (c.would_affect_before !== undefined && c.would_affect_before !== null) {
    return `would affect ${c.would_affect_before} -> ${c.would_affect ?? '?'} rows now`;
  }
  return c.would_affect != null ? `would affect ${c.would_affect} rows now` : '';
}

function summary(changes: Change[], applied: boolean): string {
  const n = (k: Change['kind']) => changes.filter((c) => c.kind === k).length;
  const dbOnly = n('database_only');
  return `${applied ? 'Applied' : 'Plan'}: ${n('added')} to add, ${n('changed') + n('inherited')} to change, ${n('removed')} to remove.` +
    (dbOnly > 0 ? ` ${dbOnly} in the database only (kept).` : '');
}

export function formatPlan(changes: Change[], applied: boolean, format: 'text' | 'markdown' = 'text'): string {
  if (!changes.some(isChange) && format === 'text') {
    return changes.length === 0 ? 'No changes: the database matches the file.'
      : [...changes.map((c) => `${SIGN[c.kind]} ${headline(c)}`), 'No changes: the database matches the file for every policy it names.'].join('\n');
  }
  if (format === 'markdown') return markdown(changes, applied);
  const out: string[] = [];
  for (const c of changes) {
    const extra = [counts(c), c.schedule ? `runs ${c.schedule}` : ''].filter(Boolean).join('; ');
    out.push(`${SIGN[c.kind]} ${headline(c)}${extra ? `  (${extra})` : ''}`);
    const width = Math.max(0, ...c.fields.map((f) => f.field.length));
    for (const f of c.fields) {
      out.push(c.kind === 'added' ? `    ${f.field.padEnd(width)}  ${show(f.new)}`
        : c.kind === 'removed' ? `    ${f.field.padEnd(width)}  ${show(f.old)}`
          : `    ${f.field}: ${show(f.old)} -> ${show(f.new)}`);
    }
    for (const w of c.warnings) out.push(`    warning: ${printable(w)}`);
  }
  out.push(summary(changes, applied));
  return out.join('\n');
}

// Markdown that no value can break out of: line breaks (\r too) become spaces, HTML and the
// characters that make tables, links, code and emphasis are escaped.
const md = (s: string): string => s.replace(/[\r\n\u2028\u2029]+/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/[\\`*_[\]|#~!]/g, (c) => `\\${c}`);
const cell = (v: unknown): string => md(show(v));
const code = (name: string): string => `\`${printable(name).replace(/[`\r\n|]/g, '')}\``;
const html = (s: string): string => printable(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function markdown(changes: Change[], applied: boolean): string {
  const out = [`### pg-retention ${applied ? 'apply' : 'plan'}`, '', `**${summary(changes, applied)}**`, ''];
  if (changes.length === 0) return [...out, 'No changes: the database matches the file.'].join('\n');
  const warnings = changes.flatMap((c) => c.warnings.map((w) => `- :warning: ${code(c.name)}: ${md(printable(w))}`));
  if (warnings.length > 0) out.push(...warnings, '');
  out.push('| | object | what | rows now | schedule |', '|---|---|---|---|---|');
  for (const c of changes) {
    out.push(`| ${SIGN[c.kind]} | ${c.object} ${code(c.name)} | ${cell(c.kind.replace('_', ' '))} | ${cell(counts(c).replace(/^would affect | rows now$/g, '') || '')} | ${cell(c.schedule ?? '')} |`);
  }
  for (const c of changes.filter((x) => x.fields.length > 0)) {
    out.push('', `<details><summary>${SIGN[c.kind]} ${c.object} <code>${html(c.name)}</code> ${c.kind}</summary>`, '', '| field | old | new |', '|---|---|---|');
    for (const f of c.fields) out.push(`| ${cell(f.field)} | ${cell(f.old)} | ${cell(f.new)} |`);
    out.push('', '</details>');
  }
  return out.join('\n');
}
