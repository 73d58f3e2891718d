// make demo: the whole product on the built-in PostgreSQL in well under a minute.
// Starts embedded PostgreSQL (data in .demo-data/, reused across runs; the demo database
// is recreated each time), migrates, creates the example application with ~100k rows,
// declares the retention schedule from examples/retention.yaml, places a legal hold on one user, previews, runs every
// policy and prints what happened; then the inactive-accounts lifecycle a month on, and one
// erasure request; the monthly realty purge approved by a second person, archived, sealed
// into .demo-data/archive and one object restored; the compliance report of the month in
// .demo-data/report.html. The scenario is examples/scenario.ts. The database is left
// running for the psql tour.
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pgCtl, startEmbedded } from '../runner/embedded.ts';
import { demoScenario } from './scenario.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, '.demo-data', 'pg');
const PORT = Number(process.env.DEMO_PORT ?? 54329);
const DB = 'retention_demo';
const t0 = Date.now();
const step = (s: string) => console.log(`\n== ${s}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

/** Whether something accepts connections on the port. */
function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** What holds the demo's port, and how to free it: another checkout's demo database
 * (its data directory, from the server itself) or another program. */
async function portHolder(port: number): Promise<string> {
  const c = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  try {
    await c.connect();
    const dir = (await c.query<{ d: string }>(`select current_setting('data_directory') as d`)).rows[0]!.d;
    const checkout = dir.endsWith('/.demo-data/pg') ? dir.slice(0, -'/.demo-data/pg'.length) : null;
    return `port ${port} is held by the PostgreSQL of ${dir}${checkout ? ` (the demo of the checkout ${checkout})` : ''}.
Stop it with ${checkout ? `'make -C ${checkout} demo-stop'` : `'pg_ctl -D ${dir} stop'`}, or run this demo on another port: DEMO_PORT=${port + 1} make demo`;
  } catch {
    return `port ${port} is in use by another program (not a PostgreSQL this demo can log in to).
Free it, or run the demo on another port: DEMO_PORT=${port + 1} make demo`;
  } finally {
    await c.end().catch(() => {});
  }
}

async function main() {
  step('Starting the embedded PostgreSQL in .demo-data/');
  await pgCtl(dataDir, ['stop', '-m', 'fast']); // a database left running by an earlier demo
  if (await portInUse(PORT)) throw new Error(await portHolder(PORT));
  const server = await startEmbedded(dataDir, { persistent: true, port: PORT });
  const admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.query(`create database ${DB}`);
  console.log((await admin.query('select version()')).rows[0].version);
  await admin.end();
  const url = server.url(DB);

  await demoScenario(url, {
    recordings: path.join(root, '.demo-data', 'recordings'),
    archive: path.join(root, '.demo-data', 'archive'),
    report: path.join(root, '.demo-data', 'report.html'),
  }, step);

  await server.stop();
  const started2 = await pgCtl(dataDir, ['start', '-w', '-l', path.join(dataDir, 'demo-server.log'), '-o', `-p ${PORT} -k /tmp`]);
  if (started2.status !== 0) throw new Error(`could not leave the demo database running: ${started2.output}`);
  step('Done');
  console.log(`The demo database is still running for the README's psql tour:
  psql postgres://postgres:postgres@127.0.0.1:${PORT}/${DB}
Stop it with: make demo-stop`);
}

main().catch((err: unknown) => {
  // Some failures of the embedded server come as a bare value, not an Error.
  const message = err instanceof Error ? err.message : String(err);
  console.error(`demo failed: ${message}`);
  process.exit(1);
});
