// The floor of an archiving batch (issue 15): what copying a batch's rows costs inside the
// deleting transaction, whatever the copy's form, against deleting them without a copy.
// Each variant is one statement over BENCH_BATCH events (default 10,000) and their items
// (bench/dataset.ts, the plain tables), on its own range of ids of a fresh copy of the
// dataset, autocommitted; BENCH_REPEATS copies (default 5) with the variants' order
// rotated on each. No pg-retention code runs: the statements are the shapes its
// one-statement archiving batch (sql/058_c_one_statement.sql) is made of.
//   plain   DELETE of the events; the foreign key's cascade deletes the items (a plain
//           run's batch statement, without its row locks)
//   own     the events' and the items' DELETE in one statement, the items by the events'
//           keys, no copy (the cascade at the end finds nothing left)
//   heap    own, and every deleted row inserted into a table of the same columns: no
//           serialisation at all, the cheapest copy there is
//   arrays  own, and each table's rows as one text[] of text[] (each column's text form)
//   locked  the events' DELETE, the items locked (FOR UPDATE) instead of deleted, copied
//           as heap does; the cascade at the end deletes them
//   json    own, and each table's rows as one JSON array (json_agg of the rows: the form
//           retention.archived_batches keeps)
// Prints the medians and writes bench/results/archive-floor-<rows>.{json,md}.
//   BENCH_ROWS=200000 (events; as many items)
//   BENCH_DATABASE_URL=postgres://... to use a server of your own (else embedded
//   PostgreSQL 18, fsync on)
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { boundary, buildPlain } from './dataset.ts';
import { admin, buildDatabase, f, median, withDb, withServer, writeResults } from './lib.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 10_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

const OWN = `done as (delete from only app.events t where t.id between $1 and $2 returning t.*),
     k1 as (delete from only app.event_items c where c.event_id in (select id from done) returning c.*)`;
const VARIANTS: Record<string, string> = {
  plain: 'delete from only app.events t where t.id between $1 and $2',
  own: `with ${OWN} select (select count(*) from done), (select count(*) from k1)`,
  heap: `with ${OWN},
     a0 as (insert into floor_events select * from done returning 1),
     a1 as (insert into floor_items select * from k1 returning 1)
     select (select count(*) from a0), (select count(*) from a1)`,
  arrays: `with ${OWN},
     a0 as (insert into floor_arrays select array_agg(array[id::text, account_id::text, kind, created_at::text, payload]) from done returning 1),
     a1 as (insert into floor_arrays select array_agg(array[id::text, event_id::text, sku, qty::text]) from k1 returning 1)
     select (select count(*) from a0), (select count(*) from a1)`,
  locked: `with done as (delete from only app.events t where t.id between $1 and $2 returning t.*),
     k1 as (select c.* from app.event_items c where c.event_id in (select id from done) for update of c),
     a0 as (insert into floor_events select * from done returning 1),
     a1 as (insert into floor_items select * from k1 returning 1)
     select (select count(*) from a0), (select count(*) from a1)`,
  json: `with ${OWN},
     a0 as (insert into floor_json select json_agg(d) from done d returning 1),
     a1 as (insert into floor_json select json_agg(d) from k1 d returning 1)
     select (select count(*) from a0), (select count(*) from a1)`,
};
const NAMES = Object.keys(VARIANTS);

async function main(): Promise<void> {
  if (NAMES.length * BATCH > ROWS / 2) throw new Error(`BENCH_ROWS=${ROWS} is too small for ${NAMES.length} ranges of BENCH_BATCH=${BATCH} in its older half`);
  await withServer('archive-floor', async (adminUrl) => {
    const version = await admin(adminUrl, async (c) => (await c.query<{ v: string }>(
      `select version() || ' (fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit') || ')' as v`)).rows[0]!.v);
    console.log(`${version}; ${ROWS.toLocaleString('en')} events + as many items; batches of ${BATCH.toLocaleString('en')} events; ${REPEATS} repeats`);
    await buildDatabase(adminUrl, 'bench_floor', async (c) => {
      await buildPlain(c, ROWS, await boundary(c));
      // The copies' tables as retention.archived_batches stores its rows: lz4 where the
      // server has it, else uncompressed.
      const lz4 = (await c.query(`select 'lz4' = any (enumvals) as y from pg_settings where name = 'default_toast_compression'`)).rows[0]?.y === true;
      const storage = (col: string) => (lz4 ? `alter column ${col} set compression lz4` : `alter column ${col} set storage external`);
      await c.query('create table floor_events (like app.events)');
      await c.query('create table floor_items (like app.event_items)');
      await c.query(`create table floor_arrays (v text[] not null); alter table floor_arrays ${storage('v')}`);
      await c.query(`create table floor_json (v json not null); alter table floor_json ${storage('v')}`);
    });
    const ms: Record<string, number[]> = Object.fromEntries(NAMES.map((n) => [n, []]));
    for (let r = 0; r < REPEATS; r++) {
      await admin(adminUrl, async (c) => {
        await c.query('drop database if exists bench_floor_run with (force)');
        await c.query('create database bench_floor_run template bench_floor');
      });
      await admin(withDb(adminUrl, 'bench_floor_run'), async (c) => {
        await c.query('select count(*) from app.events union all select count(*) from app.event_items'); // warm the cache
        const order = NAMES.map((_, i) => NAMES[(i + r) % NAMES.length]!);
        for (const [i, name] of order.entries()) {
          const lo = 1 + i * BATCH;
          const t0 = performance.now();
          await c.query(VARIANTS[name]!, [lo, lo + BATCH - 1]);
          ms[name]!.push(performance.now() - t0);
        }
        const left = (await c.query<{ n: string }>('select count(*) as n from app.event_items')).rows[0]!.n;
        if (Number(left) !== ROWS - NAMES.length * BATCH) throw new Error(`the variants left ${left} items, expected ${ROWS - NAMES.length * BATCH}`);
      });
      console.log(`repeat ${r + 1}: ${NAMES.map((n) => `${n} ${f(ms[n]!.at(-1)!)} ms`).join(', ')}`);
    }
    await admin(adminUrl, async (c) => {
      await c.query('drop database if exists bench_floor_run with (force)');
      await c.query('drop database if exists bench_floor with (force)');
    });
    const plain = median(ms.plain!);
    const rows = NAMES.map((n) => ({ variant: n, medianMs: median(ms[n]!), ms: ms[n]!, ratio: median(ms[n]!) / plain }));
    const md = [
      '| variant | median ms | × plain | each repeat ms |',
      '|---|---:|---:|---|',
      ...rows.map((x) => `| ${x.variant} | ${f(x.medianMs)} | ${f(x.ratio, 2)} | ${x.ms.map((v) => f(v)).join(', ')} |`),
      '',
      `date: ${new Date().toISOString().slice(0, 10)}; machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ` +
        `${Math.round(os.totalmem() / 2 ** 30)} GiB; postgresql: ${version}; node: ${process.version}; ` +
        `command: BENCH_ROWS=${ROWS} BENCH_BATCH=${BATCH} BENCH_REPEATS=${REPEATS} node bench/archive-floor.ts`,
    ].join('\n');
    writeResults(`archive-floor-${ROWS}`, { rows: ROWS, batch: BATCH, repeats: REPEATS, version, results: rows }, md);
  });
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
