// The light OLTP workload that runs beside each strategy of bench/compare.ts, in its own
// process so the strategies' work does not delay its timers. CONNECTIONS clients each
// loop: pick a random row that is not eligible for deletion, read it with its items or
// update it (half and half), record the statement's latency, pause THINK_MS.
// On SIGTERM it writes every sample as JSON ([wall-clock ms, latency ms] pairs) to stdout.
//   node bench/oltp.ts <database url> <first id> <last id>     app.events and its items
//   node bench/oltp.ts <database url> --sql <read> <write>     another table (bench/shapes.ts):
//     each statement takes $1, a random moment of the last 300 days (rows no strategy deletes)
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const CONNECTIONS = 2;
const THINK_MS = 5;

const [url, lo, hi, write] = process.argv.slice(2);
const custom = lo === '--sql' ? { read: hi!, write: write! } : null;
const first = Number(lo);
const span = Number(hi) - first + 1;
const samples: [number, number][] = [];
let stopping = false;

async function client(): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: 'bench oltp' });
  await c.connect();
  while (!stopping) {
    const id = first + Math.floor(Math.random() * span);
    const t0 = performance.now();
    if (custom) {
      const at = new Date(Date.now() - Math.random() * 300 * 86_400_000);
      await c.query(Math.random() < 0.5 ? custom.read : custom.write, [at]);
    } else if (Math.random() < 0.5) {
      await c.query('select e.*, i.sku, i.qty from app.events e left join app.event_items i on i.event_id = e.id where e.id = $1', [id]);
    } else {
      await c.query('update app.events set payload = md5(random()::text) where id = $1', [id]);
    }
    samples.push([Date.now(), performance.now() - t0]);
    await sleep(THINK_MS);
  }
  await c.end();
}

const running = Promise.all(Array.from({ length: CONNECTIONS }, client));
process.on('SIGTERM', () => {
  stopping = true;
  void running.then(() => {
    // A pipe is written asynchronously: exit only once all of it is out.
    process.stdout.write(JSON.stringify(samples), () => process.exit(0));
  });
});
running.catch((err: unknown) => {
  console.error(`oltp workload failed: ${(err as Error).message} ${(err as { detail?: string }).detail ?? ""}`);
  process.exit(1);
});
