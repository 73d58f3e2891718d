// make bench: pg-retention against what users would otherwise pick, on identical copies
// of one dataset (bench/dataset.ts), BENCH_REPEATS times (default 3) with the order of the
// strategies reversed on every other repeat, each strategy beside a light OLTP workload
// (bench/oltp.ts) whose latency is measured for BENCH_IDLE_SECONDS before (idle) and
// during the strategy. Prints a table and writes bench/results/compare-<rows>.{json,md}.
//   BENCH_ROWS=2000000 (events; as many items; half of both expire)
//   BENCH_DATABASE_URL=postgres://... to use a server of your own (else embedded
//   PostgreSQL 18, fsync on, shared_buffers 1GB, max_wal_size 4GB)
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { boundary, buildPartitioned, buildPlain, describeDataset } from './dataset.ts';
import { admin, buildDatabase, f, int, latency, mean, median, quantile, root, startOltp, withDb, withServer, writeResults } from './lib.ts';
import { appBatches, dropPartitions, LABELS, singleDelete, type StrategyName, type StrategyResult, workerRun } from './strategies.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 2_000_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const ALL: StrategyName[] = ['a', 'b', 'c', 'c1', 'c5', 'ct', 'd', 'dx', 'dc', 'e'];
// BENCH_STRATEGIES=c,e measures only those (a quicker look at one target).
const ORDER: StrategyName[] = process.env.BENCH_STRATEGIES
  ? ALL.filter((s) => process.env.BENCH_STRATEGIES!.split(',').map((x) => x.trim()).includes(s))
  : ALL;

interface Measured extends StrategyResult {
  strategy: StrategyName;
  repeat: number;
  oltpIdle: { n: number; p50: number; p99: number };
  oltpDuring: { n: number; p50: number; p99: number; max: number };
}

async function buildTemplates(adminUrl: string): Promise<void> {
  for (const [name, build] of [['bench_plain', buildPlain], ['bench_parts', buildPartitioned]] as const) {
    await buildDatabase(adminUrl, name, async (c) => build(c, ROWS, await boundary(c)));
  }
}

async function measure(adminUrl: string, strategy: StrategyName, repeat: number, fileCopy: boolean): Promise<Measured> {
  const name = `bench_run_${strategy}`;
  const template = strategy === 'd' || strategy === 'dx' || strategy === 'dc' ? 'bench_parts' : 'bench_plain';
  await admin(adminUrl, async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name} template ${template}${fileCopy ? ' strategy file_copy' : ''}`);
  });
  const url = withDb(adminUrl, name);
  const data = describeDataset(ROWS);
  const oltp = startOltp([url, String(data.liveIds[0]), String(data.liveIds[1])]);
  await sleep(1000 + IDLE_S * 1000); // one second to connect and warm up, then idle samples
  const start = Date.now();
  const result = await (strategy === 'a' ? singleDelete(url)
    : strategy === 'b' ? appBatches(url)
      : strategy === 'c' ? workerRun(url, root)
        : strategy === 'c1' ? workerRun(url, root, 1000)
        : strategy === 'c5' ? workerRun(url, root, 5000)
        : strategy === 'ct' ? workerRun(url, root, null, false, '50 milliseconds')
          : strategy === 'e' ? workerRun(url, root, null, true)
            : strategy === 'dx' ? dropPartitions(url, 'exact')
              : strategy === 'dc' ? dropPartitions(url, 'estimate', true)
                : dropPartitions(url));
  const end = Date.now();
  const samples = await oltp.stop();
  const left = await admin(url, async (c) => (await c.query<{ events: string; items: string }>(
    'select (select count(*) from app.events) as events, (select count(*) from app.event_items) as items')).rows[0]!);
  await admin(adminUrl, (c) => c.query(`drop database ${name} with (force)`));
  // Every strategy must leave exactly the live half, items included: otherwise its figures mean
  // nothing. A ledger that estimated (d) is held to the rows left, and its error reported.
  const live = ROWS - data.eligible;
  if (result.estimatedRows !== undefined) {
    console.log(`${LABELS[strategy]}: the ledger estimated ${result.estimatedRows.toLocaleString('en')} events, ${data.eligible.toLocaleString('en')} went (${f(100 * (result.estimatedRows - data.eligible) / data.eligible, 2)} %)`);
    result.rows = data.eligible;
  }
  if (result.rows !== data.eligible || Number(left.events) !== live || Number(left.items) !== live) {
    throw new Error(`${LABELS[strategy]} removed ${result.rows} events and left ${left.events} events, ${left.items} items; expected ${data.eligible} removed, ${live} left`);
  }
  const measured: Measured = {
    ...result, strategy, repeat,
    oltpIdle: latency(samples.filter(([t]) => t >= start - IDLE_S * 1000 && t < start).map(([, ms]) => ms)),
    oltpDuring: latency(samples.filter(([t]) => t >= start && t <= end).map(([, ms]) => ms)),
  };
  console.log(`repeat ${repeat} ${LABELS[strategy]}: ${result.rows.toLocaleString('en')} rows in ${result.seconds.toFixed(2)} s`);
  return measured;
}


function summarise(all: Measured[]) {
  return ORDER.map((s) => {
    const runs = all.filter((m) => m.strategy === s);
    const batches = runs.flatMap((m) => m.batchesMs ?? []);
    const firstLast = runs.filter((m) => m.batchesMs && m.batchesMs.length >= 20)
      .map((m) => [mean(m.batchesMs!.slice(0, 10)), mean(m.batchesMs!.slice(-10))] as const);
    return {
      strategy: s,
      label: LABELS[s],
      rows: runs[0]!.rows,
      seconds: median(runs.map((m) => m.seconds)),
      rowsPerSecond: median(runs.map((m) => m.rows / m.seconds)),
      batch: batches.length ? { p50: quantile(batches, 0.5), p99: quantile(batches, 0.99), max: Math.max(...batches) } : null,
      firstMs: firstLast.length ? mean(firstLast.map((x) => x[0])) : NaN,
      lastMs: firstLast.length ? mean(firstLast.map((x) => x[1])) : NaN,
      oltpIdle: { p50: median(runs.map((m) => m.oltpIdle.p50)), p99: median(runs.map((m) => m.oltpIdle.p99)) },
      oltpDuring: { n: Math.min(...runs.map((m) => m.oltpDuring.n)), p50: median(runs.map((m) => m.oltpDuring.p50)), p99: median(runs.map((m) => m.oltpDuring.p99)), max: Math.max(...runs.map((m) => m.oltpDuring.max)) },
      rss: runs.find((m) => m.rss) ? { idleMb: Math.max(...runs.map((m) => m.rss?.idleMb ?? 0)), peakMb: Math.max(...runs.map((m) => m.rss?.peakMb ?? 0)) } : null,
    };
  });
}

function markdown(sum: ReturnType<typeof summarise>, meta: Record<string, string | number>): string {
  const by = Object.fromEntries(sum.map((s) => [s.strategy, s]));
  const { a, b, c, c5, ct, d, dx, dc, e } = by;
  const lines = [
    '| strategy | events removed | seconds | rows/s | batch p50 ms | batch p99 ms | batch max ms | first 10 ms | last 10 ms | OLTP p50 idle → during ms | OLTP p99 idle → during ms | OLTP samples during |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...sum.map((s) => `| ${s.label} | ${int(s.rows)} | ${f(s.seconds, 2)} | ${int(s.rowsPerSecond)} | ${f(s.batch?.p50 ?? NaN, 2)} | ${f(s.batch?.p99 ?? NaN, 2)} | ${f(s.batch?.max ?? NaN, 2)} | ${f(s.firstMs, 2)} | ${f(s.lastMs, 2)} | ${f(s.oltpIdle.p50, 2)} → ${f(s.oltpDuring.p50, 2)} | ${f(s.oltpIdle.p99, 2)} → ${f(s.oltpDuring.p99, 2)} | ${s.oltpDuring.n} |`),
  ];
  // A target is shown when every strategy it compares was measured.
  const targets = ([
    [[a, c], 'c ≥ 0.9 × a (rows/s)', () => [f(c!.rowsPerSecond / a!.rowsPerSecond, 2), c!.rowsPerSecond >= 0.9 * a!.rowsPerSecond]],
    [[a, c5], '(reference) c at batch_size 5000 ≥ 0.9 × a', () => [f(c5!.rowsPerSecond / a!.rowsPerSecond, 2), c5!.rowsPerSecond >= 0.9 * a!.rowsPerSecond]],
    [[b, c], 'c ≥ 1.5 × b (rows/s)', () => [f(c!.rowsPerSecond / b!.rowsPerSecond, 2), c!.rowsPerSecond >= 1.5 * b!.rowsPerSecond]],
    [[c, d], 'd ≥ 100 × c (rows/s)', () => [f(d!.rowsPerSecond / c!.rowsPerSecond, 0), d!.rowsPerSecond >= 100 * c!.rowsPerSecond]],
    [[c, dx], '(reference) d with count exact ≥ 100 × c', () => [f(dx!.rowsPerSecond / c!.rowsPerSecond, 0), dx!.rowsPerSecond >= 100 * c!.rowsPerSecond]],
    [[d, dc], '(reference) OLTP max wait during d: plain detach → CONCURRENTLY', () => [`${f(d!.oltpDuring.max, 1)} → ${f(dc!.oltpDuring.max, 1)} ms`, dc!.oltpDuring.max <= d!.oltpDuring.max]],
    [[c], 'c batch p99 ≤ 100 ms', () => [`${f(c!.batch!.p99, 2)} ms`, c!.batch!.p99 <= 100]],
    [[c], 'c last 10 batches ≤ 1.5 × first 10', () => [f(c!.lastMs / c!.firstMs, 2), c!.lastMs <= 1.5 * c!.firstMs]],
    [[c], 'OLTP p99 during c ≤ 2 × idle', () => [f(c!.oltpDuring.p99 / c!.oltpIdle.p99, 2), c!.oltpDuring.p99 <= 2 * c!.oltpIdle.p99]],
    [[ct], 'OLTP p99 during a throttled run ≤ 1.5 × idle', () => [`${f(ct!.oltpDuring.p99, 2)} vs ${f(ct!.oltpIdle.p99, 2)} ms idle (${f(ct!.oltpDuring.p99 / ct!.oltpIdle.p99, 2)} ×)`, ct!.oltpDuring.p99 <= 1.5 * ct!.oltpIdle.p99]],
    [[a, c], 'OLTP p99 during c < during a', () => [`${f(c!.oltpDuring.p99, 2)} vs ${f(a!.oltpDuring.p99, 2)} ms`, c!.oltpDuring.p99 < a!.oltpDuring.p99]],
    [[c, e], 'e (archive) ≤ 1.5 × c\'s time', () => [f(e!.seconds / c!.seconds, 2), e!.seconds <= 1.5 * c!.seconds]],
    [[c], 'worker peak RSS ≤ 100 MB', () => [`${f(c!.rss!.peakMb)} MB (idle ${f(c!.rss!.idleMb)} MB)`, c!.rss!.peakMb <= 100]],
  ] as [unknown[], string, () => [string, boolean]][])
    .filter(([needs]) => needs.every(Boolean))
    .map(([, t, m]) => [t, ...m()] as const);
  return [
    ...lines,
    '',
    '| target | measured | met |',
    '|---|---:|---|',
    ...targets.map(([t, v, ok]) => `| ${t} | ${v} | ${ok ? 'yes' : '**no**'} |`),
    '',
    Object.entries(meta).map(([k, v]) => `${k}: ${v}`).join('; '),
  ].join('\n');
}

async function main() {
  const t0 = Date.now();
  await withServer('bench', async (adminUrl) => {
    const [info] = await admin(adminUrl, async (c) => (await c.query<{ version: string; num: number; settings: string }>(
      `select current_setting('server_version') as version, current_setting('server_version_num')::int as num,
              (select string_agg(name || '=' || current_setting(name), ', ' order by name) from pg_settings
                where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size')) as settings`)).rows);
    console.log(`PostgreSQL ${info!.version} (${info!.settings}); ${ROWS.toLocaleString('en')} events + as many items, half expired; ${REPEATS} repeats`);
    await buildTemplates(adminUrl);
    const all: Measured[] = [];
    for (let r = 1; r <= REPEATS; r++) {
      for (const s of r % 2 === 1 ? ORDER : [...ORDER].reverse()) all.push(await measure(adminUrl, s, r, info!.num >= 150000));
    }
    await admin(adminUrl, async (c) => {
      await c.query('drop database bench_plain with (force)');
      await c.query('drop database bench_parts with (force)');
    });
    const sum = summarise(all);
    const meta = {
      date: new Date().toISOString().slice(0, 10),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
      postgresql: `${info!.version} (${info!.settings})`,
      node: process.version,
      command: `BENCH_ROWS=${ROWS} BENCH_REPEATS=${REPEATS}${process.env.BENCH_STRATEGIES ? ` BENCH_STRATEGIES=${ORDER.join(',')}` : ''} make bench`,
      'total seconds': Math.round((Date.now() - t0) / 1000),
    };
    writeResults(`compare-${ROWS}${ORDER.length < ALL.length ? `-${ORDER.join('')}` : ''}`,
                 { meta, summary: sum, runs: all.map(({ batchesMs, ...m }) => ({ ...m, batches: batchesMs?.length })) }, markdown(sum, meta));
  });
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
