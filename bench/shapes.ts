// make bench-shapes (node bench/shapes.ts): one DELETE (a), ORM-style batches (b) and
// retention.run by the compiled worker at default settings (c) on tables of different
// shapes, every figure per shape:
//   events  the events and their items of make bench (a cascade one level deep);
//   cheap   small rows without foreign keys: a bigint key, a timestamp, an int;
//   wide    UUID keys, a wide row with five secondary indexes, and a cascade two levels
//           deep (an order's line, the line's event);
//   date    an age column of type date, ~700 rows per day (many equal values).
// Each shape has BENCH_ROWS root rows (default 500,000) and as many in each table its
// cascade reaches; exactly half of every table is past the policy's 365 days and no row
// lies within a day of the cutoff. Each strategy runs on a fresh copy of the shape's
// template beside the OLTP probe (bench/oltp.ts, reading and updating rows no strategy
// deletes), and must leave exactly the live half of every table.
//   BENCH_SHAPES=cheap,date picks shapes; BENCH_REPEATS (default 1); BENCH_DATABASE_URL
//   a server of your own (else embedded PostgreSQL 18, fsync on).
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { boundary, buildPlain } from './dataset.ts';
import { admin, buildDatabase, f, int, latency, mean, median, quantile, root, startOltp, withDb, withServer, writeResults } from './lib.ts';
import { appBatches, EVENTS, singleDelete, type StrategyResult, type Target, workerRun } from './strategies.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 500_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 1);
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 5);

// Row i of n (1-based): the first half spread over the year before now() - 366 days, the
// second over the 363 days before now() - 1 day.
const AGE = (n: string) => `case when i <= ${n} / 2
  then now() - interval '731 days' + (interval '364 days') * (i::float8 / (${n} / 2))
  else now() - interval '364 days' + (interval '362 days') * ((i - ${n} / 2)::float8 / (${n} / 2)) end`;

interface Shape {
  name: string;
  about: string;
  target: Target;
  /** Every table that loses half its rows. */
  tables: string[];
  build: (c: pg.ClientBase, rows: number) => Promise<void>;
  /** The probe's statements ($1: a moment of the last 300 days), or the events' probe. */
  oltp: [read: string, write: string] | 'events';
}

const SHAPES: Shape[] = [
  {
    name: 'events', about: 'events and their items (make bench\'s table)', target: EVENTS,
    tables: ['app.events', 'app.event_items'],
    build: async (c, rows) => buildPlain(c, rows, await boundary(c)),
    oltp: 'events',
  },
  {
    name: 'cheap', about: 'cheap rows, no foreign keys',
    target: { policy: 'bench.ticks', table: 'app.ticks', age: 'created_at', key: 'id', keyType: 'bigint' },
    tables: ['app.ticks'],
    build: async (c, rows) => {
      await c.query('create schema app');
      await c.query('create table app.ticks (id bigint primary key, created_at timestamptz not null, v int not null)');
      await c.query(`insert into app.ticks select i, ${AGE('$1')}, i % 1000 from generate_series(1, $1::bigint) i`, [rows]);
      await c.query('create index on app.ticks (created_at)');
    },
    oltp: ['select * from app.ticks where created_at >= $1 order by created_at limit 1',
           'update app.ticks set v = v + 1 where id = (select id from app.ticks where created_at >= $1 order by created_at limit 1)'],
  },
  {
    name: 'wide', about: 'UUID keys, five secondary indexes, a cascade two levels deep',
    target: { policy: 'bench.orders', table: 'app.orders', age: 'created_at', key: 'id', keyType: 'uuid' },
    tables: ['app.orders', 'app.order_lines', 'app.line_events'],
    build: async (c, rows) => {
      await c.query('create schema app');
      await c.query(`create table app.orders (id uuid primary key, customer_id bigint not null, status text not null,
                       email text not null, total numeric(12,2) not null, created_at timestamptz not null,
                       shipped_at timestamptz, notes text, payload jsonb not null)`);
      await c.query(`insert into app.orders
                     select gen_random_uuid(), i % 50000, (array['new', 'paid', 'shipped', 'done'])[1 + i % 4],
                            'customer' || (i % 50000) || '@example.com', (i % 10000) / 100.0, ${AGE('$1')},
                            ${AGE('$1')} + interval '2 days', repeat(md5(i::text), 2),
                            jsonb_build_object('i', i, 'tags', jsonb_build_array('a', 'b'), 'note', md5(i::text))
                       from generate_series(1, $1::bigint) i`, [rows]);
      await c.query(`create table app.order_lines (id uuid primary key, order_id uuid not null references app.orders on delete cascade,
                       sku text not null, qty int not null, price numeric(12,2) not null)`);
      await c.query(`insert into app.order_lines select gen_random_uuid(), o.id, 'sku-' || o.customer_id % 997, 1, o.total from app.orders o`);
      await c.query(`create table app.line_events (id uuid primary key, line_id uuid not null references app.order_lines on delete cascade,
                       kind text not null, at timestamptz not null)`);
      await c.query(`insert into app.line_events select gen_random_uuid(), l.id, 'picked', now() from app.order_lines l`);
      for (const ix of ['orders (created_at)', 'orders (customer_id)', 'orders (status)', 'orders (email)',
                        'orders (customer_id, created_at)', 'orders (shipped_at)', 'order_lines (order_id)',
                        'order_lines (sku)', 'line_events (line_id)']) await c.query(`create index on app.${ix}`);
    },
    oltp: ['select o.*, l.sku from app.orders o join app.order_lines l on l.order_id = o.id where o.created_at >= $1 order by o.created_at limit 1',
           `update app.orders set status = 'paid' where id = (select id from app.orders where created_at >= $1 order by created_at limit 1)`],
  },
  {
    name: 'date', about: 'an age column of type date, many equal values',
    target: { policy: 'bench.daily', table: 'app.daily', age: 'day', key: 'id', keyType: 'bigint' },
    tables: ['app.daily'],
    build: async (c, rows) => {
      await c.query('create schema app');
      await c.query('create table app.daily (id bigint primary key, day date not null, metric text not null, value float8 not null)');
      await c.query(`insert into app.daily select i, (${AGE('$1')})::date, 'm' || i % 20, i from generate_series(1, $1::bigint) i`, [rows]);
      await c.query('create index on app.daily (day)');
    },
    oltp: ['select * from app.daily where day = $1::date limit 5',
           'update app.daily set value = value + 1 where id = (select id from app.daily where day = $1::date limit 1)'],
  },
];

const STRATEGIES = { a: 'a. one DELETE', b: 'b. app-side batches of 1,000 keys', c: 'c. retention.run (worker)' } as const;
type S = keyof typeof STRATEGIES;

interface Measured extends StrategyResult {
  shape: string; strategy: S; repeat: number;
  oltpIdle: { n: number; p50: number; p99: number }; oltpDuring: { n: number; p50: number; p99: number };
}

async function counts(url: string, tables: string[]): Promise<number[]> {
  return admin(url, async (c) => {
    // One query at a time: a client runs one.
    const counts: number[] = [];
    for (const t of tables) counts.push(Number((await c.query(`select count(*) as n from ${t}`)).rows[0].n));
    return counts;
  });
}

async function measure(adminUrl: string, shape: Shape, strategy: S, repeat: number): Promise<Measured> {
  const name = `bench_shape_run`;
  await admin(adminUrl, async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name} template bench_shape_${shape.name}`);
  });
  const url = withDb(adminUrl, name);
  const oltp = startOltp(shape.oltp === 'events'
    ? [url, String(ROWS / 2 + 1), String(ROWS)]
    : [url, '--sql', ...shape.oltp]);
  await sleep(1000 + IDLE_S * 1000);
  const start = Date.now();
  const result = await (strategy === 'a' ? singleDelete(url, shape.target)
    : strategy === 'b' ? appBatches(url, shape.target)
      : workerRun(url, root, null, false, null, shape.target));
  const end = Date.now();
  const samples = await oltp.stop();
  const left = await counts(url, shape.tables);
  await admin(adminUrl, (c) => c.query(`drop database ${name} with (force)`));
  if (result.rows !== ROWS / 2 || left.some((n) => n !== ROWS / 2)) {
    throw new Error(`${shape.name} ${STRATEGIES[strategy]}: removed ${result.rows} rows, left ${left.join(', ')} in ${shape.tables.join(', ')}; expected ${ROWS / 2} and ${ROWS / 2} each`);
  }
  console.log(`repeat ${repeat} ${shape.name} ${STRATEGIES[strategy]}: ${int(result.rows)} rows in ${result.seconds.toFixed(2)} s`);
  return {
    ...result, shape: shape.name, strategy, repeat,
    oltpIdle: latency(samples.filter(([t]) => t >= start - IDLE_S * 1000 && t < start).map(([, ms]) => ms)),
    oltpDuring: latency(samples.filter(([t]) => t >= start && t <= end).map(([, ms]) => ms)),
  };
}

function summary(all: Measured[], shape: Shape): string {
  const by = Object.fromEntries((Object.keys(STRATEGIES) as S[]).map((s) => {
    const runs = all.filter((m) => m.shape === shape.name && m.strategy === s);
    const batches = runs.flatMap((m) => m.batchesMs ?? []);
    const fl = runs.filter((m) => (m.batchesMs?.length ?? 0) >= 20).map((m) => [mean(m.batchesMs!.slice(0, 10)), mean(m.batchesMs!.slice(-10))]);
    return [s, {
      seconds: median(runs.map((m) => m.seconds)), rowsPerSecond: median(runs.map((m) => m.rows / m.seconds)),
      p50: quantile(batches, 0.5), p99: quantile(batches, 0.99), max: batches.length ? Math.max(...batches) : NaN,
      first: fl.length ? mean(fl.map((x) => x[0]!)) : NaN, last: fl.length ? mean(fl.map((x) => x[1]!)) : NaN,
      idle: median(runs.map((m) => m.oltpIdle.p99)), during: median(runs.map((m) => m.oltpDuring.p99)),
      rss: runs.find((m) => m.rss)?.rss,
    }];
  })) as Record<S, { seconds: number; rowsPerSecond: number; p50: number; p99: number; max: number; first: number; last: number; idle: number; during: number; rss?: { peakMb: number } }>;
  const { a, b, c } = by;
  const rows = (Object.keys(STRATEGIES) as S[]).map((s) => {
    const x = by[s];
    return `| ${STRATEGIES[s]} | ${f(x.seconds, 2)} | ${int(x.rowsPerSecond)} | ${f(x.p50, 2)} | ${f(x.p99, 2)} | ${f(x.max, 2)} | ${f(x.first, 2)} | ${f(x.last, 2)} | ${f(x.idle, 2)} → ${f(x.during, 2)} |`;
  });
  const targets: [string, string, boolean][] = [
    ['c ≥ 0.9 × a (rows/s)', f(c.rowsPerSecond / a.rowsPerSecond, 2), c.rowsPerSecond >= 0.9 * a.rowsPerSecond],
    ['c ≥ 2 × b (rows/s)', f(c.rowsPerSecond / b.rowsPerSecond, 2), c.rowsPerSecond >= 2 * b.rowsPerSecond],
    ['c batch p99 ≤ 100 ms', `${f(c.p99, 2)} ms`, c.p99 <= 100],
    ['c last 10 batches ≤ 1.2 × first 10', f(c.last / c.first, 2), c.last <= 1.2 * c.first],
    ['worker peak RSS ≤ 100 MB', `${f(c.rss?.peakMb ?? NaN)} MB`, (c.rss?.peakMb ?? Infinity) <= 100],
  ];
  return [
    `### ${shape.name}: ${shape.about}`,
    '',
    '| strategy | seconds | rows/s | batch p50 ms | batch p99 ms | batch max ms | first 10 ms | last 10 ms | OLTP p99 idle → during ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    '| target | measured | met |',
    '|---|---:|---|',
    ...targets.map(([t, v, ok]) => `| ${t} | ${v} | ${v.startsWith('–') ? 'n/a (fewer than 20 batches)' : ok ? 'yes' : '**no**'} |`),
  ].join('\n');
}

async function main() {
  const t0 = Date.now();
  const picked = process.env.BENCH_SHAPES?.split(',').map((s) => s.trim());
  const shapes = SHAPES.filter((s) => !picked || picked.includes(s.name));
  await withServer('shapes', async (adminUrl) => {
    const version = await admin(adminUrl, async (c) => (await c.query('select version() as v')).rows[0].v as string);
    console.log(`${version}; shapes ${shapes.map((s) => s.name).join(', ')}; ${int(ROWS)} root rows each, half expired; ${REPEATS} repeats`);
    const all: Measured[] = [];
    for (const shape of shapes) {
      const name = `bench_shape_${shape.name}`;
      await buildDatabase(adminUrl, name, async (c) => {
        await shape.build(c, ROWS);
        await c.query('vacuum (analyze)');
      });
      for (let r = 1; r <= REPEATS; r++) {
        for (const s of (r % 2 ? ['a', 'b', 'c'] : ['c', 'b', 'a']) as S[]) all.push(await measure(adminUrl, shape, s, r));
      }
      await admin(adminUrl, (c) => c.query(`drop database ${name} with (force)`));
    }
    const meta = `date: ${new Date().toISOString().slice(0, 10)}; machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}; ${version.split(' on ')[0]}; command: BENCH_ROWS=${ROWS} BENCH_REPEATS=${REPEATS}${picked ? ` BENCH_SHAPES=${picked.join(',')}` : ''} make bench-shapes; total seconds: ${Math.round((Date.now() - t0) / 1000)}`;
    writeResults(`shapes-${ROWS}${picked ? `-${picked.join('')}` : ''}`,
                 { meta, runs: all.map(({ batchesMs, ...m }) => ({ ...m, batches: batchesMs?.length })) },
                 [...shapes.map((s) => summary(all, s)), meta].join('\n\n'));
  });
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
