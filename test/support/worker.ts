// A real `pg-retention worker` process for tests: spawned with an environment, its JSON
// log lines collected, its HTTP port read from the start-up line.
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export type LogLine = Record<string, unknown> & { msg: string; level: string };

export interface WorkerProcess {
  proc: ChildProcess;
  lines: LogLine[];
  stderr: () => string;
  port: () => Promise<number>;
  /** The first log line matching, waiting up to timeoutMs. */
  waitFor: (pred: (l: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  get: (path: string) => Promise<{ status: number; body: string }>;
}

/** Settings that make a worker react in seconds instead of minutes. */
export const FAST = {
  PG_RETENTION_SYNC_INTERVAL: '1s',
  PG_RETENTION_HEARTBEAT: '10s',
  PG_RETENTION_RETRY_DELAY: '1s',
  PG_RETENTION_BACKLOG_INTERVAL: '1s',
  PG_RETENTION_HTTP_PORT: '0',
};

/** cli: the entry point, the TypeScript sources' by default (the compiled one: test/build.test.ts). */
export function startWorker(env: Record<string, string>, cli = 'runner/cli.ts'): WorkerProcess {
  const proc = spawn(process.execPath, [cli, 'worker'], {
    env: { ...process.env, ...FAST, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let buf = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        lines.push({ msg: line, level: 'raw' });
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // 'close', not 'exit': by then every line the process wrote has been read.
  let closed = false;
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => {
    closed = true;
    resolve(code);
  }));
  const waitFor = async (pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (closed || Date.now() > until) {
        throw new Error(`no matching worker log line within ${timeoutMs} ms (exit ${proc.exitCode}).\nstderr: ${err}\nlog:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
      }
      await sleep(50);
    }
  };
  const port = async () => Number((await waitFor((l) => l.msg === 'worker starting')).port);
  return {
    proc, lines, exited, waitFor, port,
    stderr: () => err,
    get: async (path) => {
      const res = await fetch(`http://127.0.0.1:${await port()}${path}`);
      return { status: res.status, body: await res.text() };
    },
  };
}

/** Parses Prometheus text into { 'name{labels}': value }. */
export function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}
