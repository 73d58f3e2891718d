// pg-retention run: a dry run unless --execute. Streams the procedure's progress, and on
// Ctrl-C asks the run to stop after its current batch (retention.request_stop).
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { Progress } from '../progress.ts';
import { type Command, output, str, instant } from './types.ts';

export const run: Command = {
  name: 'run',
  arity: { '*': 1 },
  summary: 'run one policy or all (a dry run unless --execute)',
  usage: 'pg-retention run <policy | --all> [--execute] [--force] [--max-rows N] [--time-budget INTERVAL] [--as-of T] [--json]',
  help: `Without --execute nothing is deleted: the run is recorded as a dry run with what it
would affect. With --execute, rows go in batches that each commit. A run that would
exceed the policy's ceiling is refused (exit 3) unless --force or --max-rows caps it.
Ctrl-C stops after the current batch and prints what was done (exit 130).
--as-of looks at another time in a dry run; with --execute it may only lie in the
past (the run acts on the database's clock; a future time is refused, exit 2).

Examples:
  pg-retention run auth.sessions --as-of 2027-01-01   # what would go on New Year's Day
  pg-retention run auth.sessions                 # dry run
  pg-retention run auth.sessions --execute
  pg-retention run ops.app-logs --execute --max-rows 50000 --time-budget '5 minutes'
  pg-retention run --all --execute`,
  options: {
    all: { type: 'boolean' },
    execute: { type: 'boolean' },
    force: { type: 'boolean' },
    'max-rows': { type: 'string' },
    'time-budget': { type: 'string' },
    'as-of': { type: 'string' },
  },
  run: async (values, [policy, ...extra]) => {
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`, 'name one policy, or --all');
    if (!policy && !values.all) throw new UsageError('name a policy or pass --all', 'pg-retention run auth.sessions --execute');
    if (policy && values.all) throw new UsageError('give a policy or --all, not both');
    const maxRows = str(values['max-rows']);
    if (maxRows !== undefined && !/^[1-9]\d*$/.test(maxRows)) throw new UsageError(`--max-rows must be a positive whole number, got '${maxRows}'`);
    if (values.all && (maxRows || values.force || values['time-budget'])) {
      throw new UsageError('--force, --max-rows and --time-budget apply to one policy', 'run policies one by one to override their limits');
    }
    const dryRun = !values.execute;
    const db = await connect(str(values['database-url']));
    const progress = new Progress();
    let runId: number | undefined;
    let stopping = false;
    db.on('notice', (n) => {
      const id = progress.notice(n.message ?? '', n.detail);
      if (id !== undefined) runId = id;
    });
    const onSigint = async () => {
      if (stopping || runId === undefined) return;
      stopping = true;
      process.stderr.write(`\nstopping run ${runId} after its current batch...\n`);
      const other = await connect(str(values['database-url']));
      await other.query('select retention.request_stop($1)', [runId]).finally(() => other.end());
    };
    process.on('SIGINT', onSigint);
    const since = (await db.query<{ id: string }>('select coalesce(max(run_id), 0) as id from retention.runs')).rows[0]!.id;
    let failure: unknown;
    try {
      if (values.all) {
        await db.query('call retention.run_all($1, $2::timestamptz)', [dryRun, instant(values, 'as-of') ?? null]);
      } else {
        await db.query('call retention.run($1, $2, $3::timestamptz, $4::bigint, $5::interval, $6)', [
          policy, dryRun, instant(values, 'as-of') ?? null, maxRows ?? null, str(values['time-budget']) ?? null, Boolean(values.force),
        ]);
      }
    } catch (err) {
      failure = err;
    } finally {
      progress.end();
      process.off('SIGINT', onSigint);
    }
    const rows = await db
      .query(`select run_id, policy, mode, status, eligible, held_back, affected, batches, error
                from retention.run_ledger where run_id > $1 order by run_id`, [since])
      .then((r) => r.rows, () => []);
    await db.end().catch(() => {});
    if (failure) throw failure;
    await output(values, rows);
    if (dryRun && !values.json) console.log('dry run: nothing was deleted; add --execute to act');
    if (rows.some((r) => r.status === 'stopped_requested')) return 130;
    if (rows.some((r) => r.status === 'failed')) return 1;
    if (rows.some((r) => r.status === 'refused')) return 3;
    return 0;
  },
};
