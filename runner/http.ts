// The worker's HTTP endpoints: /healthz (the process answers), /readyz (the database is
// reachable and its retention schema is the version this worker expects, and the job
// system is started), /metrics (Prometheus text format).
import http from 'node:http';
import type { Metrics } from './metrics.ts';

export interface Probes {
  /** null when ready, else why not. */
  ready: () => Promise<string | null>;
}

export function serve(port: number, metrics: Metrics, probes: Probes): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, JSON.stringify({ error: 'method not allowed' }));
    if (path === '/healthz') return reply(200, JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      probes.ready().then(
        (problem) => reply(problem ? 503 : 200, JSON.stringify(problem ? { status: 'not ready', reason: problem } : { status: 'ready' })),
        (err: Error) => reply(503, JSON.stringify({ status: 'not ready', reason: err.message })),
      );
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => reply(200, text, metrics.registry.contentType),
        (err: Error) => reply(500, `# metrics failed: ${err.message}\n`, 'text/plain'),
      );
      return;
    }
    reply(404, JSON.stringify({ error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics'] }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
