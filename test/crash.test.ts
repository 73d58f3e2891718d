// A PostgreSQL crash in the middle of a run, on a server of its own (durable: fsync on):
// after restart and recovery the ledger counts exactly the rows that are gone. Batches
// commit without waiting for their WAL flush, so the last ones may be undone by the
// crash, but only together with their ledger rows.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Embedded, freePort, pgCtl, startEmbedded } from '../runner/embedded.ts';
import { migrate } from '../runner/migrate.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, '.test-data', `crash-${process.pid}`);
let server: Embedded | null = null;

afterAll(async () => {
  await server?.stop().catch(() => {});
  const { rm } = await import('node:fs/promises');
  await rm(dataDir, { recursive: true, force: true });
});

async function query(url: string, text: string, values?: unknown[]) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
}

describe('crash', () => {
  it('a server crash mid-run leaves the ledger counting exactly the rows that are gone', async () => {
    const port = await freePort();
    server = await startEmbedded(dataDir, { persistent: true, port, durable: true });
    const url = server.url();
    await migrate(url);
    await query(url, `create schema app`);
    await query(url, `create table app.ev (id bigint generated always as identity primary key, created_at timestamptz not null)`);
    await query(url, `create index on app.ev (created_at)`);
    await query(url, `insert into app.ev (created_at) select now() - interval '100 days' - make_interval(secs => i) from generate_series(1, 5000) i`);
    // Each deleted row costs ~0.2 ms, so the run is still going when the server dies.
    await query(url, `create function app.slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.0002); return old; end $$`);
    await query(url, `create trigger slow before delete on app.ev for each row execute function app.slow()`);
    await query(url, `select retention.set_policy('crash', 'app.ev', 'delete', 'created_at', p_retain => '30 days',
                        p_batch_size => 100, p_max_rows_per_run => 1000000)`);

    const runner = new pg.Client({ connectionString: url });
    runner.on('error', () => {});
    await runner.connect();
    const run = runner.query(`call retention.run('crash')`).then(() => 'finished', (e: Error) => e.message);
    for (let i = 0; i < 300; i++) {
      const [b] = await query(url, `select count(*)::int as n from retention.run_batches`);
      if (b!.n >= 5) break;
      await sleep(50);
    }
    const crash = await pgCtl(dataDir, ['stop', '-m', 'immediate']);
    expect(crash.status, crash.output).toBe(0);
    expect(await run).not.toBe('finished');
    await runner.end().catch(() => {});

    server = await startEmbedded(dataDir, { persistent: true, port, durable: true });
    const [state] = await query(url, `
      select (select count(*) from app.ev)::int as left,
             (select coalesce(sum(rows), 0) from retention.run_batches)::int as ledger,
             (select affected from retention.runs)::int as affected,
             (select status from retention.runs) as status`);
    expect(state!.status).toBe('running');
    expect(state!.ledger).toBeGreaterThan(0);
    expect(5000 - state!.left).toBe(state!.ledger);
    expect(state!.affected).toBe(state!.ledger);

    // The next run marks the dead one interrupted and carries on; the totals still agree.
    await query(url, `call retention.run('crash')`);
    const runs = await query(url, `select status, affected::int from retention.runs order by run_id`);
    expect(runs.map((r) => r.status)).toEqual(['interrupted', 'completed']);
    expect(runs.reduce((s, r) => s + r.affected, 0)).toBe(5000);
    const [after] = await query(url, `select count(*)::int as n from app.ev`);
    expect(after!.n).toBe(0);
  });
});
