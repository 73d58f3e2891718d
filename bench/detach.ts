// node bench/detach.ts: how long the application waits on a partitioned table while one of
// its partitions is detached, plainly (ACCESS EXCLUSIVE on the parent for the whole
// statement, PostgreSQL's foreign-key check included) and CONCURRENTLY (SHARE UPDATE
// EXCLUSIVE, two transactions). The dataset is make bench's partitioned one
// (bench/dataset.ts: events, and items referencing them); the items of the month go
// first, as drop_partitions policies on both tables would do it. A probe reads an event
// every 5 ms throughout and reports its latency.
//   BENCH_ROWS=2000000 (events; as many items)
//   BENCH_DATABASE_URL=postgres://... a server of your own (else embedded PostgreSQL 18)
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { boundary, buildPartitioned } from './dataset.ts';
import { connect, withDb, withServer } from './lib.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 2_000_000);

async function probe(url: string, mode: 'plain' | 'concurrently'): Promise<string> {
  const ddl = await connect(url);
  const app = await connect(url);
  try {
    // A month of last year, past the 365 days: its items go first.
    const { rows: [m] } = await ddl.query<{ events: string; items: string }>(
      `select 'app.events_' || to_char(now() - interval '14 months', 'YYYY_MM') as events,
              'app.event_items_' || to_char(now() - interval '14 months', 'YYYY_MM') as items`);
    await ddl.query(`alter table app.event_items detach partition ${m!.items}`);
    await ddl.query(`drop table ${m!.items}`);
    const { rows: [ids] } = await app.query<{ lo: string; hi: string }>(
      `select min(id) as lo, max(id) as hi from app.events where created_at > now() - interval '30 days'`);
    const lo = Number(ids!.lo);
    const span = Number(ids!.hi) - lo;
    const lat: number[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const t = performance.now();
        await app.query(`select id, payload from app.events where id = $1 and created_at > now() - interval '30 days'`,
                        [lo + Math.floor(Math.random() * span)]);
        lat.push(performance.now() - t);
        await sleep(5);
      }
    })();
    await sleep(1000);
    const t0 = performance.now();
    await ddl.query(`alter table app.events detach partition ${m!.events}${mode === 'concurrently' ? ' concurrently' : ''}`);
    const took = performance.now() - t0;
    await sleep(500);
    stop = true;
    await loop;
    lat.sort((a, b) => a - b);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!.toFixed(2);
    return `| ${mode} | ${took.toFixed(0)} | ${lat.length} | ${q(0.5)} | ${q(0.99)} | ${lat.at(-1)!.toFixed(1)} |`;
  } finally {
    await app.end();
    await ddl.end();
  }
}

async function main() {
  await withServer('detach', async (adminUrl) => {
    const admin = await connect(adminUrl);
    await admin.query('drop database if exists bench_detach_template with (force)');
    await admin.query('create database bench_detach_template');
    const build = await connect(withDb(adminUrl, 'bench_detach_template'));
    await buildPartitioned(build, ROWS, await boundary(build));
    await build.end();
    const lines = ['| detach | statement ms | probe reads | probe p50 ms | probe p99 ms | probe max ms |', '|---|---:|---:|---:|---:|---:|'];
    for (const mode of ['plain', 'concurrently'] as const) {
      await admin.query('drop database if exists bench_detach with (force)');
      await admin.query('create database bench_detach template bench_detach_template');
      lines.push(await probe(withDb(adminUrl, 'bench_detach'), mode));
      await admin.query('drop database bench_detach with (force)');
    }
    await admin.query('drop database bench_detach_template with (force)');
    await admin.end();
    console.log(`${ROWS.toLocaleString('en')} events + as many items, one month's partition of app.events detached\n`);
    console.log(lines.join('\n'));
  });
}

await main();
