// Helpers the benchmarks share: statistics over samples, connections to a database of
// the server, and the OLTP probe that runs beside a strategy.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbedded } from '../runner/embedded.ts';
import { loadConfig } from '../runner/config.ts';
import { installJobSchema, migrate } from '../runner/migrate.ts';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}
export const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
export function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
export const latency = (v: number[]) => ({ n: v.length, p50: quantile(v, 0.5), p99: quantile(v, 0.99), max: v.length ? v.reduce((m, x) => Math.max(m, x), -Infinity) : NaN });
export const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
export const int = (x: number) => Math.round(x).toLocaleString('en');

export function withDb(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The OLTP probe (bench/oltp.ts) in its own process; stop() returns its [wall ms, latency ms] samples. */
export function startOltp(args: string[]): { stop: () => Promise<[number, number][]> } {
  const p = spawn(process.execPath, ['bench/oltp.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise((r) => p.on('exit', r));
  return {
    stop: async () => {
      p.kill('SIGTERM');
      await done;
      return JSON.parse(out) as [number, number][];
    },
  };
}

/** Runs fn against BENCH_DATABASE_URL's server, else a throwaway embedded PostgreSQL 18 (fsync on). */
export async function withServer<T>(tag: string, fn: (adminUrl: string) => Promise<T>): Promise<T> {
  const own = process.env.BENCH_DATABASE_URL;
  const server = own ? null : await startEmbedded(path.join(root, '.test-data', `${tag}-${process.pid}`), {
    persistent: false, durable: true, settings: ['shared_buffers=1GB', 'max_wal_size=4GB'],
  });
  try {
    return await fn(own ?? server!.url());
  } finally {
    if (server) await server.stop();
  }
}

/** Writes bench/results/<name>.json and .md and prints the Markdown. */
export function writeResults(name: string, json: unknown, md: string): void {
  mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  const base = path.join(root, 'bench', 'results', name);
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${md}\n`);
  console.log(`\n${md}\n\nwritten: ${path.relative(root, base)}.json and .md`);
}

/** A connected client of the database at url. */
export async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

/** Creates database name afresh on the server of adminUrl, installs the retention schema and fills it; returns its URL. */
export async function buildDatabase(adminUrl: string, name: string, fill: (c: pg.Client) => Promise<unknown>): Promise<string> {
  const t0 = Date.now();
  await admin(adminUrl, async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name}`);
  });
  const url = withDb(adminUrl, name);
  await migrate(url);
  await installJobSchema(url, loadConfig({ DATABASE_URL: url }));
  await admin(url, fill);
  console.log(`built ${name} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return url;
}
