// Read-only commands: preview, runs, audit verify, doctor. Each calls one routine or view.
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { type Command, output, str, type Values } from './types.ts';

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
  summary: 'what each policy would delete now (writes nothing)',
  usage: 'pg-retention preview [policy] [--partitions] [--as-of TIMESTAMP] [--json]',
  help: `Per policy: the cutoff, rows eligible, rows held back by legal holds, rows a run would
affect, and whether the policy's ceiling would refuse the run.
With --partitions and a drop_partitions policy: each partition of its table with its
bounds, rows, held rows and what a run would do with it (drop, archive, keep and why).

Example:
  pg-retention preview
  pg-retention preview auth.sessions --as-of '2026-12-01 00:00Z' --json
  pg-retention preview events.partitions --partitions`,
  options: { 'as-of': { type: 'string' }, partitions: { type: 'boolean' } },
  run: async (values, [policy]) => {
    const asOf = str(values['as-of']) ?? null;
    if (values.partitions) {
      if (!policy) throw new UsageError('--partitions needs a policy name', 'pg-retention preview <policy> --partitions');
      await output(values, await query(values,
        `select partition, lower_bound, upper_bound, rows::text as rows, held_rows::text as held_rows, action
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

export const runs: Command = {
  name: 'runs',
  summary: 'the run ledger, newest first',
  usage: 'pg-retention runs [--policy P] [--last N] [--json]',
  help: `Example:
  pg-retention runs --policy auth.sessions --last 5`,
  options: { policy: { type: 'string' }, last: { type: 'string' } },
  run: async (values) => {
    const last = Number(str(values.last) ?? 20);
    if (!Number.isInteger(last) || last < 1) throw new UsageError(`--last must be a positive whole number, got ${values.last}`);
    const rows = await query(values,
      `select run_id, policy, mode, status, eligible, held_back, affected, batches,
              started_at, round(extract(epoch from duration)::numeric, 2)::text as seconds, started_by, error
         from retention.run_ledger where $1::text is null or policy = $1
        order by run_id desc limit $2`,
      [str(values.policy) ?? null, last]);
    await output(values, rows);
    return 0;
  },
};

export const audit: Command = {
  name: 'audit',
  summary: 'audit verify: check the audit log\'s hash chain',
  usage: 'pg-retention audit verify [--json]',
  help: `Recomputes every audit row's hash. Exit 0 when intact, 1 when a row was changed,
removed or the log was cut short (the output names the first bad row).

Example:
  pg-retention audit verify`,
  run: async (values, [sub]) => {
    if (sub !== 'verify') throw new UsageError(`unknown audit command '${sub ?? ''}'`, 'pg-retention audit verify');
    const [row] = await query(values, 'select * from retention.verify_audit_log()');
    if (values.json) console.log(JSON.stringify(row, null, 2));
    else if (row?.ok) console.log(`audit log intact: ${row.rows_checked} rows verified`);
    else console.log(`audit log TAMPERED at audit_id ${row?.first_bad_audit_id}: ${row?.problem}`);
    return row?.ok ? 0 : 1;
  },
};

export const doctor: Command = {
  name: 'doctor',
  summary: 'setup checks: missing indexes and grants, dropped tables, disabled or never-run policies',
  usage: 'pg-retention doctor [--json]',
  help: `Lists each problem with the statement that fixes it. Exit 0 when there is none, 1 otherwise.

Example:
  pg-retention doctor`,
  run: async (values) => {
    const rows = await query(values, 'select policy, problem, fix from retention.check_setup()');
    if (rows.length === 0 && !values.json) console.log('no problems found');
    else await output(values, rows);
    return rows.length === 0 ? 0 : 1;
  },
};
