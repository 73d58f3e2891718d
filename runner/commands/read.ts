// Read-only commands (and signing the audit chain's head): preview, runs, audit verify | checkpoint, doctor. Each calls one routine or view.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readKeyFile } from '../key-file.ts';
import { type CheckpointProblem, readCheckpoints, recomputeChain, signCheckpoint, verifyCheckpoints } from '../checkpoint.ts';
import { CronExpressionParser } from 'cron-parser';
import { describeSchedule } from '../cron.ts';
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { type Command, output, str, type Values, instant } from './types.ts';

async function query(values: Values, text: string, params: unknown[] = []) {
  const db = await connect(str(values['database-url']));
  try {
    return (await db.query(text, params)).rows;
  } finally {
    await db.end();
  }
}

export const preview: Command = {
  name: 'preview',
  arity: { '*': 1 },
  summary: 'what each policy would delete now (writes nothing)',
  usage: 'pg-retention preview [policy] [--partitions] [--as-of TIMESTAMP] [--json]',
  help: `Per policy: the cutoff, rows eligible, rows held back by legal holds, rows a run would
affect, and whether the policy's ceiling would refuse the run.
With --partitions and a drop_partitions policy: each partition of its table with its
bounds, rows (an estimate from the statistics where estimated says so), held rows and
what a run would do with it (drop, archive, keep and why).

Example:
  pg-retention preview
  pg-retention preview auth.sessions --as-of '2026-12-01 00:00Z' --json
  pg-retention preview events.partitions --partitions`,
  options: { 'as-of': { type: 'string' }, partitions: { type: 'boolean' } },
  run: async (values, [policy]) => {
    const asOf = instant(values, 'as-of') ?? null;
    if (values.partitions) {
      if (!policy) throw new UsageError('--partitions needs a policy name', 'pg-retention preview <policy> --partitions');
      await output(values, await query(values,
        `select partition, lower_bound, upper_bound, rows::text as rows, held_rows::text as held_rows, action, estimated
           from retention.partitions($1, coalesce($2::timestamptz, now()))`, [policy, asOf]));
      return 0;
    }
    const rows = await query(values,
      `select policy, action, retain::text as retain, retain_source, cutoff, eligible::bigint::text as eligible,
              held_back::text as held_back, would_affect::text as would_affect, exceeds_ceiling
         from retention.preview($1, coalesce($2::timestamptz, now()))`,
      [policy ?? null, asOf]);
    await output(values, rows);
    return 0;
  },
};

export const policies: Command = {
  name: 'policies',
  arity: { '*': 1 },
  summary: 'every policy with its effective settings and where each comes from',
  usage: 'pg-retention policies [policy] [--json]',
  help: `Without a name: one line per policy — table, action, the period and the schedule (in
words) it runs with and where each comes from, enabled. With a name: every setting of
that policy, its effective value and its source: policy (set on it), default
(set_policy's), schema / global / system for an inherited period, category:<name> /
system for a schedule. The same as SELECT * FROM retention.policies_overview.

Example:
  pg-retention policies
  pg-retention policies auth.sessions --json`,
  run: async (values, [policy]) => {
    const rows = await query(values, 'select policy, setting, value, source from retention.policy_settings($1)', [policy ?? null]);
    if (policy) {
      await output(values, rows, ['setting', 'value', 'source']);
      return 0;
    }
    const by = new Map<string, Record<string, { value: string | null; source: string }>>();
    for (const r of rows) (by.get(r.policy) ?? by.set(r.policy, {}).get(r.policy)!)[r.setting] = { value: r.value, source: r.source };
    await output(values, [...by].map(([name, s]) => ({
      policy: name, table: s.table!.value, action: s.action!.value,
      retain: `${s.retain!.value ?? ''} (${s.retain!.source})`,
      schedule: `${describeSchedule(s.schedule!.value ?? '', s.time_zone!.value ?? 'UTC')} (${s.schedule!.source})`,
      enabled: s.enabled!.value,
    })));
    return 0;
  },
};

export const runs: Command = {
  name: 'runs',
  arity: { '*': 0 },
  summary: 'the run ledger, newest first',
  usage: 'pg-retention runs [--policy P] [--last N] [--json]',
  help: `Example:
  pg-retention runs --policy auth.sessions --last 5`,
  options: { policy: { type: 'string' }, last: { type: 'string' } },
  run: async (values) => {
    const lastText = (str(values.last) ?? '20').trim();
    const last = Number(lastText);
    // Digits only: 1e20 and 0x10 are numbers to JavaScript, not to a reader (round atk159 F11).
    if (!/^\d{1,7}$/.test(lastText) || last < 1) {
      throw new UsageError(`--last must be a whole number from 1 to 9999999, got ${JSON.stringify(values.last)}`, 'pg-retention runs --last 50');
    }
    const rows = await query(values,
      `select run_id, policy, mode, status, eligible, held_back, affected, batches,
              started_at, round(extract(epoch from duration)::numeric, 2)::text as seconds, started_by, error
         from retention.run_ledger where $1::text is null or policy = $1
        order by run_id desc limit $2`,
      [str(values.policy) ?? null, last]);
    // No run under that name: a policy that has not run yet, or a name that is none (a typo
    // answered with "(no rows)" and exit 0 looked like an empty ledger).
    if (rows.length === 0 && values.policy !== undefined
        && (await query(values, 'select from retention.effective_policies where name = $1', [str(values.policy)])).length === 0) {
      throw new UsageError(`no policy or run is named ${JSON.stringify(str(values.policy))}`, 'pg-retention policies lists the policies; pg-retention runs lists every run');
    }
    await output(values, rows);
    return 0;
  },
};

export const audit: Command = {
  name: 'audit',
  arity: { verify: 1, checkpoint: 1 },
  summary: 'audit verify | checkpoint: check the audit log (and its signed checkpoints); sign its head',
  usage: 'pg-retention audit verify [--checkpoints FILE --public-key FILE] [--json] | audit checkpoint --signing-key-file FILE [--checkpoint-dir DIR]',
  help: `audit verify recomputes every audit row's hash. Exit 0 when intact, 1 when a row was
changed, removed or the log was cut short (the output names the first bad row). With
--checkpoints (a checkpoints.jsonl the worker wrote) and --public-key (the signing key's
public half, PEM): also checks each checkpoint's signature and that the audit row it names
still has the hash it signed, which catches an owner who rewrote a row and re-chained every
hash after it (the chain alone cannot).

audit checkpoint signs the chain's head now with an Ed25519 private key (PEM) and records
it (the worker does this every PG_RETENTION_CHECKPOINT_INTERVAL when
PG_RETENTION_SIGNING_KEY_FILE is set); with --checkpoint-dir it also appends it to
DIR/checkpoints.jsonl. Keep the key and the file outside the database's reach.

Example:
  pg-retention audit verify
  pg-retention audit verify --checkpoints /evidence/checkpoints.jsonl --public-key /keys/audit.pub
  openssl genpkey -algorithm ed25519 -out audit.key && openssl pkey -in audit.key -pubout -out audit.pub
  pg-retention audit checkpoint --signing-key-file audit.key --checkpoint-dir /evidence`,
  options: {
    checkpoints: { type: 'string' }, 'public-key': { type: 'string' },
    'signing-key-file': { type: 'string' }, 'checkpoint-dir': { type: 'string' },
  },
  run: async (values, [sub]) => {
    const usage = 'pg-retention audit verify [--checkpoints FILE --public-key FILE] | audit checkpoint --signing-key-file FILE';
    if (sub === 'checkpoint') {
      const keyFile = str(values['signing-key-file']);
      if (!keyFile) throw new UsageError('audit checkpoint needs --signing-key-file (an Ed25519 private key, PEM)', usage);
      const key = await keyFrom(keyFile, 'private', usage);
      const db = await connect(str(values['database-url']));
      try {
        const cp = await signCheckpoint(db, key, str(values['checkpoint-dir']) ?? null);
        if (values.json) console.log(JSON.stringify(cp, null, 2));
        else console.log(cp ? `checkpoint ${cp.checkpoint_id}: audit row ${cp.audit_id} signed by key ${cp.key_id}` : 'nothing logged since the last checkpoint: the newest checkpoint already covers the head');
        return 0;
      } finally {
        await db.end();
      }
    }
    if (sub !== 'verify') throw new UsageError(`unknown audit command '${sub ?? ''}'`, usage);
    const cpFile = str(values.checkpoints);
    const pubFile = str(values['public-key']);
    if (Boolean(cpFile) !== Boolean(pubFile)) throw new UsageError('--checkpoints and --public-key go together', usage);
    const db = await connect(str(values['database-url']));
    try {
      const { rows: [row] } = await db.query('select * from retention.verify_audit_log()');
      const problems: CheckpointProblem[] = [];
      let checked = 0;
      if (cpFile && pubFile) {
        const pub = await keyFrom(pubFile, 'public', usage);
        const cps = await readCheckpoints(cpFile);
        checked = cps.length;
        // The chain recomputed here, from the rows: no routine of the schema is trusted.
        const chain = await recomputeChain(db);
        if (chain.problem) problems.push({ audit_id: '', signed_at: '', problem: `recomputed here: ${chain.problem}` });
        problems.push(...await verifyCheckpoints(db, cps, pub));
      }
      const ok = Boolean(row?.ok) && problems.length === 0;
      if (values.json) console.log(JSON.stringify({ ...row, checkpoints_checked: checked, checkpoint_problems: problems, ok }, null, 2));
      else {
        console.log(row?.ok ? `audit log intact: ${row.rows_checked} rows verified`
          : `audit log TAMPERED at audit_id ${row?.first_bad_audit_id}: ${row?.problem}`);
        if (cpFile) {
          if (problems.length === 0) console.log(`${checked} signed checkpoint(s) match the log`);
          for (const p of problems) console.log(p.audit_id ? `checkpoint of audit row ${p.audit_id} signed ${p.signed_at}: ${p.problem}` : p.problem);
        }
      }
      return ok ? 0 : 1;
    } finally {
      await db.end();
    }
  },
};

/** An Ed25519 key from a PEM file; any other file (a public key given as the private one,
 * a text file, a file that is not there) is a usage error naming the file, not OpenSSL's
 * text (round atk83 F8). */
async function keyFrom(file: string, kind: 'private' | 'public', usage: string): Promise<KeyObject> {
  const bytes = await readKeyFile(file).catch((err: Error) => {
    throw new UsageError(`cannot read ${file}: ${err.message}`, usage);
  });
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(bytes) : createPublicKey(bytes);
  } catch {
    throw new UsageError(`${file} is not an Ed25519 ${kind} key in PEM form`, usage);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${file} is not an Ed25519 ${kind} key (it is ${key.asymmetricKeyType ?? 'another kind'})`, usage);
  return key;
}

export const doctor: Command = {
  name: 'doctor',
  arity: { '*': 0 },
  summary: 'setup checks: missing indexes and grants, dropped tables, disabled or never-run policies',
  usage: 'pg-retention doctor [--json]',
  help: `Lists each problem with the statement that fixes it. Exit 0 when there is none, 1 otherwise.
A policy that has never run is a problem only once its schedule's first occurrence after
its creation is more than an hour past (a fresh install is not a failure); before that it
is listed as a note.

Example:
  pg-retention doctor`,
  run: async (values) => {
    const rows = await query(values,
      `select c.policy, c.problem, c.fix, e.effective_schedule as schedule, e.time_zone, p.created_at
         from retention.check_setup() c
         left join retention.effective_policies e on e.name = c.policy
         left join retention.policies p on p.name = c.policy`);
    const now = Date.now();
    /** When a never-run policy's schedule first came due after its creation, if that is
     * less than an hour ago (or still ahead): then it is a note, not a problem. */
    const firstDue = (r: Record<string, unknown>): Date | null => {
      if (r.problem !== 'policy has never run' || !r.schedule || !r.created_at) return null;
      try {
        const first = CronExpressionParser.parse(String(r.schedule), { tz: String(r.time_zone), currentDate: r.created_at as Date }).next().toDate();
        return first.getTime() + 3_600_000 > now ? first : null;
      } catch {
        return null;
      }
    };
    const all = rows.map((r) => {
      const due = firstDue(r);
      return due
        ? { policy: r.policy, problem: `has not run yet: its schedule (${describeSchedule(String(r.schedule), String(r.time_zone))}) first comes due ${due.toISOString()}`, fix: r.fix, blocking: false }
        : { policy: r.policy, problem: r.problem, fix: r.fix, blocking: true };
    });
    const problems = all.filter((r) => r.blocking);
    if (values.json) {
      console.log(JSON.stringify(all, null, 2));
    } else {
      if (problems.length === 0) console.log('no problems found');
      else await output(values, problems.map(({ blocking: _, ...r }) => r));
      const notes = all.filter((r) => !r.blocking);
      if (notes.length) {
        console.log('\nnotes (not problems yet):');
        await output(values, notes.map(({ blocking: _, problem, ...r }) => ({ ...r, note: problem })), ['policy', 'note', 'fix']);
      }
    }
    return problems.length === 0 ? 0 : 1;
  },
};
