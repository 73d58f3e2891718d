// make demo while something else holds its port: it says what holds the port and how to
// free it (another checkout's demo database, any PostgreSQL, or another program).
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db.ts';

const db = useTestDatabase();

function demo(port: number) {
  return spawnSync(process.execPath, ['examples/demo.ts'], { encoding: 'utf8', env: { ...process.env, DEMO_PORT: String(port) }, timeout: 60_000 });
}

describe('make demo on a port that is taken', () => {
  it('names the PostgreSQL that holds it, with its data directory and how to stop it', async () => {
    const port = Number(new URL(db.url).port || 5432);
    const [dir] = await db.q<{ d: string }>(`select current_setting('data_directory') as d`);
    const r = demo(port);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`demo failed: port ${port} is held by the PostgreSQL of ${dir!.d}`);
    expect(r.stderr).toMatch(/Stop it with '.+', or run this demo on another port: DEMO_PORT=\d+ make demo/);
    expect(r.stderr).not.toMatch(/Cannot read properties/);
  });

  it('names another program as such', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        // Asynchronously: this process must keep accepting while the demo probes the port.
        import('node:child_process').then(({ spawn }) => {
          const p = spawn(process.execPath, ['examples/demo.ts'], { env: { ...process.env, DEMO_PORT: String(port) } });
          let stderr = '';
          p.stderr.on('data', (d) => (stderr += d));
          p.on('close', (status) => resolve({ status, stderr }));
        });
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`demo failed: port ${port} is in use by another program`);
      expect(r.stderr).toContain(`DEMO_PORT=${port + 1} make demo`);
    } finally {
      server.close();
    }
  });
});
