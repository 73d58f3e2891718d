// The four ways bench/compare.ts removes the same expired rows, each on its own copy of
// the dataset:
//   a  one DELETE ... WHERE created_at < cutoff (cascading to the items);
//   b  application-side batching as ORM-based pruning does it: select 1,000 ids, delete
//      them by id, repeat, each statement its own transaction (from Node with pg);
//   c  retention.run with the default settings (batches sizing themselves to 50 ms), run by a real `pg-retention worker`
//      (its resident memory sampled throughout);
//   c1, c5 the same with a fixed batch_size of 1,000 (the default before batches sized
//      themselves) and 5,000, to show what the batch size buys;
//   ct the same as c with pause_between_batches of 50 ms (what a throttle does to the
//      application's latency, and to the run's time);
//   e  the same as c with archive on: every removed row, items included, copied to
//      retention.archived_batches in its batch's transaction (the cost of "export before
//      permanent deletion"; moving them to cold storage is the worker's separate step);
//   d  drop_partitions over the range-partitioned copy (items first, then events), its
//      rows estimated from the statistics (count estimate, the default);
//   dx the same with count exact (every dropped partition read and counted).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { stepPartitionRun } from '../runner/jobs.ts';
import { RETAIN } from './dataset.ts';

export type StrategyName = 'a' | 'b' | 'c' | 'c1' | 'c5' | 'ct' | 'd' | 'dx' | 'dc' | 'e';

export interface StrategyResult {
  seconds: number;
  /** Events removed (their items go with them in every strategy). */
  rows: number;
  /** Per-batch durations in ms, in order (b: select + delete; c: from the ledger). */
  batchesMs?: number[];
  /** d: the events the ledger says were removed, when that is an estimate from the statistics. */
  estimatedRows?: number;
  /** c: the worker's resident memory in MB. */
  rss?: { idleMb: number; peakMb: number; samples: number };
}

export const LABELS: Record<StrategyName, string> = {
  a: 'a. one DELETE',
  b: 'b. app-side batches of 1,000 ids',
  c: 'c. retention.run (worker)',
  c1: 'c. with batch_size 1000',
  c5: 'c. with batch_size 5000',
  ct: 'c. throttled: pause_between_batches 50 ms',
  d: 'd. drop_partitions',
  dx: 'd. drop_partitions, count exact',
  dc: 'd. drop_partitions as the worker runs it (DETACH CONCURRENTLY)',
  e: 'e. retention.run with archive',
};

/** The table a strategy removes the expired rows of: app.events unless a shape (bench/shapes.ts) says otherwise. */
export interface Target { policy: string; table: string; age: string; key: string; keyType: string }
export const EVENTS: Target = { policy: 'bench.events', table: 'app.events', age: 'created_at', key: 'id', keyType: 'bigint' };

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

export async function singleDelete(url: string, t: Target = EVENTS): Promise<StrategyResult> {
  const db = await connect(url);
  const t0 = performance.now();
  const r = await db.query(`delete from ${t.table} where ${t.age} < now() - interval '${RETAIN}'`);
  const seconds = (performance.now() - t0) / 1000;
  await db.end();
  return { seconds, rows: r.rowCount ?? 0 };
}

export async function appBatches(url: string, t: Target = EVENTS): Promise<StrategyResult> {
  const db = await connect(url);
  const batchesMs: number[] = [];
  let rows = 0;
  const t0 = performance.now();
  for (;;) {
    const b0 = performance.now();
    const ids = (await db.query<{ id: string }>(
      `select ${t.key} as id from ${t.table} where ${t.age} < now() - interval '${RETAIN}' limit 1000`)).rows.map((r) => r.id);
    if (ids.length === 0) break;
    const r = await db.query(`delete from ${t.table} where ${t.key} = any($1::${t.keyType}[])`, [ids]);
    rows += r.rowCount ?? 0;
    batchesMs.push(performance.now() - b0);
  }
  const seconds = (performance.now() - t0) / 1000;
  await db.end();
  return { seconds, rows, batchesMs };
}

function rssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

export async function workerRun(url: string, root: string, batchSize: number | null = null, archive = false,
                                pause: string | null = null, t: Target = EVENTS): Promise<StrategyResult> {
  const db = await connect(url);
  // Disabled: the worker must not schedule it; the job below is the only run.
  await db.query(`select retention.set_policy($4, $5, 'delete', $6, p_retain => '${RETAIN}',
                    p_max_rows_per_run => 1000000000, p_time_budget => '24 hours', p_enabled => false,
                    p_batch_size => $1, p_archive => $2, p_pause_between_batches => $3)`,
                 [batchSize, archive, pause, t.policy, t.table, t.age]);
  // The compiled runner (make build), as the container runs it.
  const worker = spawn(process.execPath, ['dist/runner/cli.js', 'worker'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, PG_RETENTION_HTTP_PORT: '0', PG_RETENTION_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((r) => worker.on('exit', r));
  const boss = new PgBoss({ connectionString: url, schema: 'retention_jobs', schedule: false, supervise: false });
  boss.on('error', () => {});
  try {
    await boss.start();
    while (!(await boss.getQueue('retention-run'))) await sleep(200);
    await sleep(1000);
    const idle = rssMb(worker.pid!);
    const samples: number[] = [];
    await boss.send('retention-run', { policy: t.policy }, { singletonKey: t.policy });
    let run: { run_id: string; status: string; affected: string; seconds: number } | undefined;
    for (;;) {
      samples.push(rssMb(worker.pid!).rss);
      [run] = (await db.query(`select run_id, status, affected, extract(epoch from finished_at - started_at)::float8 as seconds
                                 from retention.runs where policy_name = $1 order by run_id desc limit 1`, [t.policy])).rows;
      if (run && run.status !== 'running') break;
      await sleep(100);
    }
    if (run!.status !== 'completed') throw new Error(`the worker's run ended ${run!.status}`);
    const peak = Math.max(rssMb(worker.pid!).hwm, ...samples);
    const batchesMs = (await db.query<{ ms: number }>(
      'select duration_ms::float8 as ms from retention.run_batches where run_id = $1 order by batch_no', [run!.run_id])).rows.map((r) => r.ms);
    return { seconds: run!.seconds, rows: Number(run!.affected), batchesMs, rss: { idleMb: idle.rss, peakMb: peak, samples: samples.length } };
  } finally {
    worker.kill('SIGTERM');
    await exited;
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await db.end();
  }
}

/** d: both tables' expired partitions dropped, items first. `concurrently`: stepped as the
 * worker steps it (runner/jobs.ts stepPartitionRun: each partition detached CONCURRENTLY
 * between steps), else CALL retention.run (plain detach in a step). */
export async function dropPartitions(url: string, count: 'estimate' | 'exact' = 'estimate', concurrently = false): Promise<StrategyResult> {
  const db = await connect(url);
  for (const [name, table, column] of [['bench.items', 'app.event_items', 'event_created_at'], ['bench.events', 'app.events', 'created_at']]) {
    await db.query(`select retention.set_policy($1, $2, 'drop_partitions', $3, p_retain => '${RETAIN}',
                      p_max_rows_per_run => 1000000000, p_enabled => false, p_count => $4)`, [name, table, column, count]);
  }
  const t0 = performance.now();
  for (const policy of ['bench.items', 'bench.events']) {
    if (concurrently) await stepPartitionRun(db, policy);
    else await db.query(`call retention.run($1)`, [policy]);
  }
  const seconds = (performance.now() - t0) / 1000;
  const runs = (await db.query(`select policy_name, status, affected, estimated from retention.runs order by run_id`)).rows;
  await db.end();
  for (const r of runs) if (r.status !== 'completed') throw new Error(`drop_partitions run of ${r.policy_name} ended ${r.status}`);
  const events = runs.find((r) => r.policy_name === 'bench.events')!;
  if (events.estimated !== (count === 'estimate')) throw new Error(`drop_partitions with count ${count}: the ledger says estimated ${events.estimated}`);
  return { seconds, rows: Number(events.affected), ...(events.estimated ? { estimatedRows: Number(events.affected) } : {}) };
}
