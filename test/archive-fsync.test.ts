// A local archive object reported written survives a power loss: the file is flushed
// before its rename, and after it the directory that holds it and the parents of every
// directory made for it (round atk121 F1: the rename was never flushed, so a crash could
// take back an object the database had marked verified and whose rows it had deleted).
// Observed with strace where the machine has it (the system calls are the outcome).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const strace = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p));

describe('LocalDirTarget.put flushes what it changed', () => {
  it.skipIf(!strace)('the object, its directory and the parents of the directories it made are fsynced', () => {
    const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'fsync-')));
    const out = path.join(dir, 'trace');
    const storage = path.resolve('runner/archive/storage.ts');
    const script = `import { LocalDirTarget } from ${JSON.stringify(storage)};
                    await new LocalDirTarget(${JSON.stringify(path.join(dir, 'store'))}).put('a/b/obj', Buffer.from('x'));`;
    const r = spawnSync(strace!, ['-f', '-e', 'trace=openat,fsync,rename,renameat,renameat2', '-o', out,
                                  process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'store/a/b/obj'), 'utf8')).toBe('x');
    // In call order: which path each descriptor was opened for, and which were flushed.
    const events: Array<{ kind: 'open' | 'fsync' | 'rename'; path?: string; fd: number }> = [];
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const o = /openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)/.exec(line);
      if (o) events.push({ kind: 'open', path: o[1]!, fd: Number(o[2]) });
      const f = /fsync\((\d+)\)\s+= 0/.exec(line);
      if (f) events.push({ kind: 'fsync', fd: Number(f[1]) });
      if (/rename(at2?)?\(.*obj\.tmp-/.test(line)) events.push({ kind: 'rename', fd: -1 });
    }
    const flushed = (p: string, after = -1): boolean => events.some((e, i) =>
      e.kind === 'open' && e.path === p && i > after
      && events.slice(i + 1).find((x) => x.kind === 'open' && x.fd === e.fd ? true : x.kind === 'fsync' && x.fd === e.fd)?.kind === 'fsync');
    const renamed = events.findIndex((e) => e.kind === 'rename');
    expect(renamed).toBeGreaterThan(-1);
    expect(events.slice(0, renamed).some((e) => e.kind === 'fsync')).toBe(true);  // the file, before its rename
    for (const d of ['store/a/b', 'store/a', 'store', '']) {
      expect(flushed(path.join(dir, d).replace(/\/$/, ''), renamed), `fsync of ${d || 'the target\'s parent'} after the rename`).toBe(true);
    }
  });
});
