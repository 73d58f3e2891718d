// make bench (first part): does batch cost stay flat as a run progresses?
// Builds BENCH_ROWS rows (default 1,000,000) with two secondary indexes, all but ~5%
// eligible, runs the policy at the default batch size and reports batch durations from
// the ledger: first vs last, p50/p99/max, and overall rows per second.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbedded } from '../runner/embedded.ts';
import { migrate } from '../runner/migrate.ts';
import { formatTable } from '../runner/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);

async function main() {
  const url0 = process.env.BENCH_DATABASE_URL;
  const server = url0 ? null : await startEmbedded(path.join(root, '.test-data', `bench-${process.pid}`), { persistent: false });
  const adminUrl = url0 ?? server!.url();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('drop database if exists retention_bench with (force)');
  await admin.query('create database retention_bench');
  const version = (await admin.query('show server_version')).rows[0].server_version;
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = '/retention_bench';
  await migrate(u.toString());
  const db = new pg.Client({ connectionString: u.toString() });
  await db.connect();
  console.log(`PostgreSQL ${version}; building ${rows.toLocaleString('en')} rows`);
  await db.query(`create schema app`);
  await db.query(`create table app.events (id bigint generated always as identity primary key,
      account_id bigint not null, kind text not null, created_at timestamptz not null, payload text)`);
  await db.query(`insert into app.events (account_id, kind, created_at, payload)
      select i % 5000, (array['view','click','buy'])[1 + i % 3],
             timestamptz '2026-01-01Z' - make_interval(secs => (i::float8 / $1) * 400 * 86400),
             repeat(md5(i::text), 2)
        from generate_series(1, $1) i`, [rows]);
  await db.query('create index on app.events (created_at)');
  await db.query('create index on app.events (account_id)');
  await db.query('create index on app.events (kind, account_id)');
  await db.query('vacuum analyze app.events');
  await db.query(`select retention.set_policy('bench', 'app.events', 'delete', 'created_at',
      p_retain => '20 days', p_max_rows_per_run => 1000000000, p_time_budget => '1 hour')`);
  const t0 = process.hrtime.bigint();
  const res = await db.query(`call retention.run('bench', p_as_of => '2026-01-01Z')`);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const runId = res.rows[0].p_run_id;
  const stats = (await db.query(`
      select count(*)::int as batches, sum(rows)::int as rows,
             percentile_cont(0.5) within group (order by duration_ms)::numeric(10,2) as p50_ms,
             percentile_cont(0.99) within group (order by duration_ms)::numeric(10,2) as p99_ms,
             max(duration_ms)::numeric(10,2) as max_ms,
             (select avg(duration_ms) from (select duration_ms from retention.run_batches where run_id = $1 order by batch_no limit 10) f)::numeric(10,2) as first10_ms,
             (select avg(duration_ms) from (select duration_ms from retention.run_batches where run_id = $1 order by batch_no desc limit 10) l)::numeric(10,2) as last10_ms
        from retention.run_batches where run_id = $1`, [runId])).rows[0];
  const ratio = Number(stats.last10_ms) / Number(stats.first10_ms);
  console.log(formatTable([{ ...stats, last_vs_first: ratio.toFixed(2), rows_per_s: Math.round(stats.rows / seconds), seconds: seconds.toFixed(1) }]));
  console.log('(first10/last10: mean duration of the first and last ten batches; batch = 1,000 rows)');
  await db.end();
  if (server) await server.stop();
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
