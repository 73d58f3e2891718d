// Runs the command line (runner/cli.ts, from the checkout) as a child process against a
// test database and collects what it printed and how it exited.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface CliResult { code: number | null; stdout: string; stderr: string }

const cliPath = path.resolve('runner/cli.ts');

export function runCli(args: string[], opts: { url: string; actor?: string; env?: Record<string, string>; cwd?: string;
                                               onSpawn?: (p: ChildProcess) => void; cli?: string; nodeArgs?: string[] }): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.cli ?? cliPath, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, DATABASE_URL: opts.url, PG_RETENTION_ACTOR: opts.actor ?? 'ci-test', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    opts.onSpawn?.(p);
  });
}
