// The runner as the container runs it: compiled to JavaScript by tsconfig.build.json (make
// build, the Dockerfile's build stage). It must run without Node's type stripping (which
// would cost the worker about 30 MB), find its SQL and migrations, and start a worker.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { useTestDatabase } from './support/db.ts';
import { startWorker } from './support/worker.ts';

const db = useTestDatabase();
const out = mkdtempSync(path.join(tmpdir(), 'retention-build-'));
const cli = path.join(out, 'runner', 'cli.js');
const NO_TS = ['--no-experimental-strip-types'];

beforeAll(() => {
  execFileSync(path.resolve('node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', out]);
  // What the image puts beside runner/ (node_modules: the checkout's, as the image's).
  for (const f of ['sql', 'migrations', 'package.json', 'node_modules']) symlinkSync(path.resolve(f), path.join(out, f));
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('the compiled runner', () => {
  it('is JavaScript only, importing no .ts file', () => {
    const all = files(path.join(out, 'runner'));
    expect(all.length).toBeGreaterThan(30);
    expect(all.filter((f) => !f.endsWith('.js'))).toEqual([]);
    const tsImports = all.filter((f) => /(?:from\s+|import\()\s*['"]\.{1,2}\/[^'"]+\.ts['"]/.test(readFileSync(f, 'utf8')));
    expect(tsImports).toEqual([]);
  });

  it('runs its commands without type stripping: version, help, migrate, a read command, a refusal', async () => {
    const version = await runCli(['--version'], { url: db.url, cli, nodeArgs: NO_TS });
    expect([version.code, version.stdout.trim()]).toEqual([0, `pg-retention ${JSON.parse(readFileSync('package.json', 'utf8')).version}`]);
    const help = await runCli(['--help'], { url: db.url, cli, nodeArgs: NO_TS });
    expect(help.stdout).toContain('Commands:');
    const migrate = await runCli(['migrate'], { url: db.url, cli, nodeArgs: NO_TS });
    expect(migrate.code, migrate.stderr).toBe(0);
    await db.q(`create schema bt`);
    await db.q(`create table bt.t (id int primary key, created_at timestamptz not null)`);
    await db.q(`select retention.set_policy('bt.t', 'bt.t', 'delete', 'created_at', p_retain => '1 day')`);
    const policies = await runCli(['policies', '--json'], { url: db.url, cli, nodeArgs: NO_TS });
    expect(policies.code, policies.stderr).toBe(0);
    expect(JSON.parse(policies.stdout).map((p: { policy?: string; name?: string }) => p.policy ?? p.name)).toEqual(['bt.t']);
    const unknown = await runCli(['preview', 'no.such'], { url: db.url, cli, nodeArgs: NO_TS });
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('RT008')]);
  });

  it('starts a worker that schedules the policies, answers /healthz and stops on SIGTERM', async () => {
    const login = `build_worker_${process.pid}`;
    await db.q(`create role ${login} login password 'pw' in role retention_runner`);
    const u = new URL(db.url);
    u.username = login;
    u.password = 'pw';
    const w = startWorker({ DATABASE_URL: u.toString(), NODE_OPTIONS: NO_TS[0]! }, cli);
    try {
      await w.waitFor((l) => l.msg === 'worker ready');
      await w.waitFor((l) => l.msg === 'schedule added' && l.policy === 'bt.t');
      expect(await w.get('/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    } finally {
      w.proc.kill('SIGTERM');
    }
    expect(await w.exited).toBe(0);
    expect(w.lines.at(-1)!.msg, JSON.stringify(w.lines.slice(-4))).toBe('worker stopped');
    expect(w.stderr()).toBe('');
  });
});
