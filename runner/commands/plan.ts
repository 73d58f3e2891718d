// pg-retention plan / apply: policies as code.
import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { connect } from '../db.ts';
import { describe, EXIT, UsageError } from '../errors.ts';
import { formatPlan, isChange, planOrApply, type SavedPlan, StalePlanError } from '../plan.ts';
import { loadPolicyFile, type LoadedFile, parsePolicyFile, PolicyFileError } from '../policy-file.ts';
import { type Command, confirm, str, type Values } from './types.ts';

const FILE_HELP = `The file (YAML) holds defaults and policies; see docs/operator-guide.md and the JSON
Schema in retention.schema.json. It is checked before the database is touched, then
every policy goes through the database's own validation; each error names the file,
line and field. With --prune, policies (and defaults) absent from the file are removed;
without it they are listed as "in the database only" and kept.`;

async function readPlan(path: string): Promise<SavedPlan> {
  let saved: SavedPlan;
  try {
    saved = JSON.parse(await readFile(path, 'utf8')) as SavedPlan;
  } catch (err) {
    throw new UsageError(`cannot read the saved plan ${path}: ${(err as Error).message}`, 'make one with pg-retention plan -f retention.yaml --out plan.json');
  }
  // Every field apply reads, checked: a plan edited by hand (its changes removed) failed
  // with a TypeError (round atk159 F2).
  const checked = SAVED_PLAN.safeParse(saved);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new UsageError(`${path} is not a plan saved by pg-retention plan --out (${issue.path.join('.') || 'the file'}: ${issue.message})`,
                         'make one with pg-retention plan -f retention.yaml --out plan.json');
  }
  return saved;
}

const SAVED_PLAN = z.object({
  version: z.literal(1),
  file: z.string(),
  text: z.string(),
  fingerprint: z.string(),
  prune: z.boolean().optional(),
  planned_at: z.string().optional(),
  changes: z.array(z.object({
    kind: z.enum(['added', 'changed', 'removed', 'inherited', 'database_only']),
    object: z.enum(['policy', 'default']),
    name: z.string(),
    fields: z.array(z.object({ field: z.string(), old: z.unknown(), new: z.unknown() })),
  })),
});

// plan's exit code 2 means "there are changes" (terraform plan -detailed-exitcode), so every
// failure of plan or apply — a usage error, an invalid file, a database error — is 1 (a
// stale saved plan is 3), never the CLI's general 2 for usage errors.
async function planCommand(values: Values, apply: boolean): Promise<number> {
  try {
    return await planOrFail(values, apply);
  } catch (err) {
    console.error(`pg-retention: ${describe(err)}`);
    if (values.verbose) console.error((err as Error).stack);
    return EXIT.failure;
  }
}

async function planOrFail(values: Values, apply: boolean): Promise<number> {
  const path = str(values.file);
  const planPath = str(values.plan);
  const format = str(values.format) ?? 'text';
  if (!['text', 'markdown', 'json'].includes(format)) throw new UsageError(`unknown --format ${format}`, 'use --format text, markdown or json');
  if (apply && planPath && (path || values.prune)) {
    throw new UsageError('--plan applies the saved plan as it is: give no -f or --prune with it', 'pg-retention apply --plan plan.json');
  }
  if (!apply && planPath) throw new UsageError('--plan is for apply; plan saves one with --out', 'pg-retention plan -f retention.yaml --out plan.json');
  if (!path && !planPath) {
    throw new UsageError('name the policy file with -f', `pg-retention ${apply ? 'apply' : 'plan'} -f retention.yaml`);
  }
  let file: LoadedFile;
  let saved: SavedPlan | undefined;
  try {
    if (planPath) {
      saved = await readPlan(planPath);
      file = parsePolicyFile(saved.text, saved.file);
    } else {
      file = await loadPolicyFile(path!);
    }
  } catch (err) {
    if (!(err instanceof PolicyFileError)) throw err;
    // Exit 1, not 2: plan's 2 means "there are changes" (terraform -detailed-exitcode).
    console.error(`pg-retention: the policy file is not valid:\n${err.problems.map((p) => `  ${p}`).join('\n')}`);
    return EXIT.failure;
  }
  const db = await connect(str(values['database-url']));
  try {
    // apply --prune at a terminal: what it removes is shown and confirmed first.
    const prune = saved ? saved.prune === true : Boolean(values.prune);
    if (apply && prune && !values.yes && process.stdin.isTTY && process.stdout.isTTY) {
      const preview = await planOrApply(db, file, { apply: false, prune, fingerprint: saved?.fingerprint, planFile: planPath, expect: saved?.changes });
      const removals = preview.changes.filter((c) => c.kind === 'removed');
      if (removals.length) {
        console.log(formatPlan(removals, false, 'text'));
        if (!(await confirm(values, `Remove ${removals.length} polic${removals.length === 1 ? 'y or default' : 'ies or defaults'} absent from ${file.path}? Their schedules stop.`))) {
          console.error('nothing applied');
          return EXIT.refused;
        }
      }
    }
    const result = await planOrApply(db, file, {
      apply, prune: saved ? saved.prune === true : Boolean(values.prune),
      fingerprint: saved?.fingerprint, planFile: planPath, expect: saved?.changes,
    });
    if (values.json || format === 'json') console.log(JSON.stringify(result.changes, null, 2));
    else console.log(formatPlan(result.changes, apply, format as 'text' | 'markdown'));
    const out = str(values.out);
    if (!apply && out) {
      const plan: SavedPlan = { version: 1, file: file.path, text: file.text, fingerprint: result.fingerprint, prune: Boolean(values.prune),
        planned_at: new Date().toISOString(), changes: result.changes };
      await writeFile(out, `${JSON.stringify(plan, null, 2)}\n`);
      console.error(`plan saved to ${out}: pg-retention apply --plan ${out} applies it while the database is as it was planned against`);
    }
    return !apply && result.changes.some(isChange) ? 2 : EXIT.ok;
  } catch (err) {
    if (err instanceof PolicyFileError) {
      console.error(`pg-retention: the policy file is not valid:\n${err.problems.map((p) => `  ${p}`).join('\n')}`);
      return EXIT.failure;
    }
    if (err instanceof StalePlanError) {
      console.error(`pg-retention: ${err.message}\nhint: plan again (pg-retention plan -f ${file.path} --out ${planPath}) and review the new plan`);
      return EXIT.refused;
    }
    throw err;
  } finally {
    await db.end();
  }
}

const options = {
  file: { type: 'string' as const, short: 'f' },
  prune: { type: 'boolean' as const },
  yes: { type: 'boolean' as const, short: 'y' },
  format: { type: 'string' as const },
  out: { type: 'string' as const },
  plan: { type: 'string' as const },
};

export const plan: Command = {
  name: 'plan',
  arity: { '*': 0 },
  summary: 'show how the database differs from a policy file (changes nothing)',
  usage: 'pg-retention plan -f retention.yaml [--prune] [--format text|markdown|json] [--out plan.json]',
  help: `${FILE_HELP}

Shows, per policy, what apply would add, change or remove (fields named as in the file;
every field of an added policy), the policies a changed default gives a new period with
their old and new period and row counts, policies in the database only, each schedule in
words, and warnings: a next run that its ceiling will refuse, a subject column that goes
(subject holds no longer cover that table through it), a schedule that goes, a policy
disabled. --format markdown is for a pull-request comment; --out saves the plan for
'apply --plan', which applies it only while the database is as it was planned against.

Exit codes: 0 no changes, 2 changes, 1 an invalid file, a usage error or a database
error (like terraform plan -detailed-exitcode).

Example:
  pg-retention plan -f examples/retention.yaml --format markdown --out plan.json`,
  options,
  run: (values) => planCommand(values, false),
};

export const apply: Command = {
  name: 'apply',
  arity: { '*': 0 },
  summary: 'apply a policy file in one transaction (audit-logged)',
  usage: 'pg-retention apply -f retention.yaml [--prune [--yes]] [--json] | apply --plan plan.json',
  help: `${FILE_HELP}

Applies exactly what 'plan' shows, in one transaction; applying again changes nothing.
With --plan, applies a plan saved by 'plan --out' (the file as it was then), and refuses
with exit 3 if the policies or defaults changed since it was made. With --prune at a
terminal, what it would remove is shown and must be confirmed (--yes does not ask;
without a terminal, as in CI, nothing is asked).

Exit codes: 0 applied, 1 an invalid file, a usage error or a database error, 3 a saved
plan that is stale or a removal not confirmed.

Example:
  PG_RETENTION_ACTOR=ci:deploy#42 pg-retention apply -f examples/retention.yaml --prune
  PG_RETENTION_ACTOR=ci:deploy#42 pg-retention apply --plan plan.json`,
  options,
  run: (values) => planCommand(values, true),
};
