// node bench/replicas.ts: what several worker replicas buy. BENCH_POLICIES tables (default
// 8) of BENCH_TABLE_ROWS rows each (default 200,000, half past the period), one delete
// policy each; all their runs are queued at once and the compiled worker (make build) is
// started as 1 or 2 replicas with PG_RETENTION_CONCURRENCY 1 or 2. Reports the wall time
// until every run ended, and checks that each policy ran exactly once and removed exactly
// its expired half.
//   BENCH_DATABASE_URL=postgres://... a server of your own (else embedded PostgreSQL 18)
import { type ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgBoss } from 'pg-boss';
import { loadConfig } from '../runner/config.ts';
import { installJobSchema, migrate } from '../runner/migrate.ts';
import { connect, root, withDb, withServer } from './lib.ts';

const POLICIES = Number(process.env.BENCH_POLICIES ?? 8);
const ROWS = Number(process.env.BENCH_TABLE_ROWS ?? 200_000);
const SETUPS: [replicas: number, concurrency: number][] = [[1, 1], [1, 2], [2, 1], [2, 2]];

async function build(url: string): Promise<void> {
  await migrate(url);
  await installJobSchema(url, loadConfig({ DATABASE_URL: url }));
  const c = await connect(url);
  await c.query('create schema app');
  for (let i = 1; i <= POLICIES; i++) {
    await c.query(`create table app.t${i} (id bigint primary key, created_at timestamptz not null, payload text not null)`);
    await c.query(`insert into app.t${i} select g, now() - make_interval(days => case when g % 2 = 0 then 400 else 100 end)
                     - make_interval(secs => g), md5(g::text) from generate_series(1, $1) g`, [ROWS]);
    await c.query(`create index on app.t${i} (created_at)`);
    await c.query(`select retention.set_policy('bench.t${i}', 'app.t${i}', 'delete', 'created_at', p_retain => '365 days',
                     p_max_rows_per_run => 1000000000, p_time_budget => '24 hours', p_enabled => false)`);
  }
  await c.query('vacuum analyze');
  await c.end();
}

async function measure(url: string, replicas: number, concurrency: number): Promise<string> {
  const workers: ChildProcess[] = [];
  const boss = new PgBoss({ connectionString: url, schema: 'retention_jobs', schedule: false, supervise: false });
  boss.on('error', () => {});
  const db = await connect(url);
  try {
    for (let r = 0; r < replicas; r++) {
      workers.push(spawn(process.execPath, ['dist/runner/cli.js', 'worker'], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: url, PG_RETENTION_HTTP_PORT: '0', PG_RETENTION_LOG_LEVEL: 'warn',
               PG_RETENTION_CONCURRENCY: String(concurrency) },
        stdio: ['ignore', 'inherit', 'inherit'],
      }));
    }
    await boss.start();
    while (!(await boss.getQueue('retention-run'))) await sleep(200);
    await sleep(2000);  // every replica started and polling
    const t0 = performance.now();
    for (let i = 1; i <= POLICIES; i++) await boss.send('retention-run', { policy: `bench.t${i}` }, { singletonKey: `bench.t${i}` });
    let runs: { policy_name: string; status: string; affected: string }[] = [];
    for (;;) {
      runs = (await db.query(`select policy_name, status, affected from retention.runs`)).rows;
      if (runs.length >= POLICIES && runs.every((r) => r.status !== 'running')) break;
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const bad = runs.filter((r) => r.status !== 'completed' || Number(r.affected) !== ROWS / 2);
    if (runs.length !== POLICIES || bad.length) throw new Error(`expected one completed run of ${ROWS / 2} rows per policy: ${JSON.stringify(runs)}`);
    const rows = POLICIES * ROWS / 2;
    return `| ${replicas} | ${concurrency} | ${seconds.toFixed(2)} | ${Math.round(rows / seconds).toLocaleString('en')} |`;
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.on('exit', r)))));
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await db.end();
  }
}

async function main() {
  await withServer('replicas', async (adminUrl) => {
    const admin = await connect(adminUrl);
    await admin.query('drop database if exists bench_replicas_template with (force)');
    await admin.query('create database bench_replicas_template');
    await build(withDb(adminUrl, 'bench_replicas_template'));
    const lines = ['| replicas | concurrency each | seconds | rows/s |', '|---:|---:|---:|---:|'];
    for (const [replicas, concurrency] of SETUPS) {
      await admin.query('drop database if exists bench_replicas with (force)');
      await admin.query('create database bench_replicas template bench_replicas_template');
      lines.push(await measure(withDb(adminUrl, 'bench_replicas'), replicas, concurrency));
      await admin.query('drop database bench_replicas with (force)');
    }
    await admin.query('drop database bench_replicas_template with (force)');
    await admin.end();
    console.log(`${POLICIES} policies, ${ROWS.toLocaleString('en')} rows each (half expired), all queued at once\n`);
    console.log(lines.join('\n'));
  });
}

await main();
