// make bench (second part): does the worker's memory stay flat while it purges a large
// table? Builds BENCH_ROWS rows (default 1,000,000), all eligible, starts a real
// `pg-retention worker` process, queues one run of the policy through pg-boss and samples
// the worker's resident memory (/proc/<pid>/status: VmRSS, and the kernel's VmHWM peak)
// every 250 ms until the run completes.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { startEmbedded } from '../runner/embedded.ts';
import { migrate } from '../runner/migrate.ts';
import { formatTable } from '../runner/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);

function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

async function main() {
  const url0 = process.env.BENCH_DATABASE_URL;
  const server = url0 ? null : await startEmbedded(path.join(root, '.test-data', `bench-w-${process.pid}`), { persistent: false });
  const adminUrl = url0 ?? server!.url();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('drop database if exists retention_bench_worker with (force)');
  await admin.query('create database retention_bench_worker');
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = '/retention_bench_worker';
  const url = u.toString();
  await migrate(url);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  console.log(`worker memory: building ${rows.toLocaleString('en')} rows`);
  await db.query(`create schema app`);
  await db.query(`create table app.logs (id bigint generated always as identity primary key,
      account_id bigint not null, logged_at timestamptz not null, line text)`);
  await db.query(`insert into app.logs (account_id, logged_at, line)
      select i % 5000, now() - interval '100 days' - make_interval(secs => i), repeat(md5(i::text), 2)
        from generate_series(1, $1) i`, [rows]);
  await db.query('create index on app.logs (logged_at)');
  await db.query('create index on app.logs (account_id)');
  await db.query('vacuum analyze app.logs');
  await db.query(`select retention.set_policy('bench.logs', 'app.logs', 'delete', 'logged_at',
      p_retain => '30 days', p_max_rows_per_run => 1000000000, p_time_budget => '2 hours')`);

  const worker = spawn(process.execPath, ['runner/cli.ts', 'worker'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, PG_RETENTION_HTTP_PORT: '0', PG_RETENTION_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const boss = new PgBoss({ connectionString: url, schema: 'retention_jobs', schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
  while (!(await boss.getQueue('retention-run'))) await sleep(200);
  await sleep(1000);
  const idle = memory(worker.pid!);
  const samples: number[] = [];
  const t0 = Date.now();
  await boss.send('retention-run', { policy: 'bench.logs' }, { singletonKey: 'bench.logs' });
  for (;;) {
    samples.push(memory(worker.pid!).rss);
    const r = await db.query(`select status, affected from retention.runs where policy_name = 'bench.logs' order by run_id desc limit 1`);
    if (r.rows[0] && r.rows[0].status !== 'running') {
      if (r.rows[0].status !== 'completed') throw new Error(`run ended ${r.rows[0].status}`);
      break;
    }
    await sleep(250);
  }
  const seconds = (Date.now() - t0) / 1000;
  const end = memory(worker.pid!);
  const [run] = (await db.query(`select affected::bigint as affected, batches from retention.runs where policy_name = 'bench.logs' order by run_id desc limit 1`)).rows;
  worker.kill('SIGTERM');
  await new Promise((r) => worker.on('exit', r));
  await boss.stop({ graceful: false, close: true });
  const q = (p: number) => [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  console.log(formatTable([{
    rows: Number(run.affected).toLocaleString('en'), batches: run.batches, seconds: seconds.toFixed(1),
    rss_idle_mb: idle.rss.toFixed(1), rss_p50_mb: q(0.5).toFixed(1), rss_max_sampled_mb: Math.max(...samples).toFixed(1),
    rss_end_mb: end.rss.toFixed(1), peak_hwm_mb: end.hwm.toFixed(1), samples: samples.length,
  }]));
  console.log('(VmRSS sampled every 250 ms during the run; peak_hwm_mb is the kernel\'s high-water mark over the worker\'s life)');
  await db.end();
  if (server) await server.stop();
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
