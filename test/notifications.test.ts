// Webhook delivery of the outbox by real worker processes to a local HTTP server:
// signatures verified, retries after 500s, dead letters, and no double delivery with two
// workers, also when the receiver is slow.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db.ts';
import { makeEvents } from './support/fixtures.ts';
import { startWorker, type WorkerProcess } from './support/worker.ts';

const db = useTestDatabase();
const SECRET = 'test-webhook-secret-0123456789';

interface Received { id: string; body: Record<string, unknown>; signatureOk: boolean; answered: number }
const received: Received[] = [];
/** Per policy: how many times to answer 500 before 200 (Infinity: always 500). */
const failures = new Map<string, number>();
/** Per policy: how long the receiver takes to answer (ms). */
const delays = new Map<string, number>();
let server: http.Server;
let hookUrl: string;
const workers: WorkerProcess[] = [];

function verify(headers: http.IncomingHttpHeaders, raw: string): boolean {
  const ts = String(headers['x-pg-retention-timestamp']);
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex')}`);
  const got = Buffer.from(String(headers['x-pg-retention-signature']));
  return got.length === expected.length && timingSafeEqual(got, expected) && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      const policy = String(body.policy);
      const left = failures.get(policy) ?? 0;
      const status = left > 0 ? 500 : 200;
      if (left > 0) failures.set(policy, left - 1);
      received.push({ id: String(req.headers['x-pg-retention-id']), body, signatureOk: verify(req.headers, raw), answered: status });
      // A receiver's own reason phrase may quote anything (round atk100 F6): h-dead's does.
      const phrase = status === 500 && policy === 'h-dead' ? 'Gone: mailbox alice.smith%40example.com closed' : undefined;
      setTimeout(() => (phrase ? res.writeHead(status, phrase) : res.writeHead(status)).end(), delays.get(policy) ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  for (const w of workers.splice(0)) {
    if (w.proc.exitCode === null) w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  }
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

function worker(timeout = '2s'): WorkerProcess {
  const w = startWorker({
    DATABASE_URL: db.url, PG_RETENTION_WEBHOOK_URL: hookUrl, PG_RETENTION_WEBHOOK_SECRET: SECRET,
    PG_RETENTION_WEBHOOK_MAX_ATTEMPTS: '3', PG_RETENTION_WEBHOOK_BACKOFF: '100ms', PG_RETENTION_WEBHOOK_TIMEOUT: timeout,
    // The worker's own overdue check stays out of the way: the test files its own.
    PG_RETENTION_OVERDUE_AFTER: '1000h',
  });
  workers.push(w);
  return w;
}

/** A policy that existed a day ago, so note_overdue can report missed occurrences. */
async function policy(name: string): Promise<void> {
  await makeEvents(db, `app.${name.replace('-', '_')}`, 10);
  await db.q(`select retention.set_policy($1, $2, 'delete', 'created_at')`, [name, `app.${name.replace('-', '_')}`]);
  await db.q(`update retention.policies set created_at = now() - interval '1 day' where name = $1`, [name]);
}

const outbox = (policyName: string) =>
  db.q<{ notification_id: string; status: string; attempts: number; last_error: string | null }>(
    `select notification_id, status, attempts, last_error from retention.notifications where policy_name = $1 order by notification_id`, [policyName]);

describe('webhook delivery', () => {
  it('signs each delivery, retries after 500 responses, and dead-letters after the configured attempts', async () => {
    await policy('h-retry');
    await policy('h-dead');
    failures.set('h-retry', 2);
    failures.set('h-dead', Infinity);
    // A refused run and an overdue policy: both put there by the database.
    await db.q(`select retention.set_policy('h-retry', 'app.h_retry', 'delete', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1)`);
    await db.call(`call retention.run('h-retry')`).catch(() => {});
    await db.q(`select retention.note_overdue('h-dead', now() - interval '1 hour')`);
    const w = worker();
    await expect.poll(async () => (await outbox('h-retry'))[0]?.status, { timeout: 30_000 }).toBe('delivered');
    await expect.poll(async () => (await outbox('h-dead'))[0]?.status, { timeout: 30_000 }).toBe('dead');

    const [retry] = await outbox('h-retry');
    expect(retry).toMatchObject({ status: 'delivered', attempts: 3 });
    const got = received.filter((r) => r.body.policy === 'h-retry');
    expect(got.map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(got.every((r) => r.signatureOk && r.id === retry!.notification_id)).toBe(true);
    expect(got[2]!.body).toMatchObject({ kind: 'run_refused', policy: 'h-retry', table: 'app.h_retry', status: 'refused', error_code: 'RT012', attempt: 3 });

    const [dead] = await outbox('h-dead');
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, last_error: 'HTTP 500 Internal Server Error' });
    expect(received.filter((r) => r.body.policy === 'h-dead').map((r) => r.answered)).toEqual([500, 500, 500]);
    expect(received.find((r) => r.body.policy === 'h-dead')!.body).toMatchObject({ kind: 'policy_overdue' });
    const deadLine = await w.waitFor((l) => l.msg === 'notification dead-lettered' && l.policy === 'h-dead');
    // The standard phrase of the status, never the receiver's.
    expect(deadLine.error).toBe('HTTP 500 Internal Server Error');
    expect(JSON.stringify(w.lines)).not.toContain('mailbox');
    // Nothing more is sent for a dead letter.
    await new Promise((r) => setTimeout(r, 1500));
    expect(received.filter((r) => r.body.policy === 'h-dead').length).toBe(3);
    // A tampered body does not verify against its signature.
    expect(verify({ 'x-pg-retention-timestamp': String(Math.floor(Date.now() / 1000)), 'x-pg-retention-signature': 'sha256=00' }, '{}')).toBe(false);
  });

  it('two workers deliver every notification exactly once', async () => {
    await policy('h-many');
    for (let i = 1; i <= 40; i++) {
      await db.q(`select retention.note_overdue('h-many', now() - make_interval(mins => $1))`, [i]);
    }
    const ids = (await outbox('h-many')).map((n) => n.notification_id);
    expect(ids.length).toBe(40);
    worker();
    worker();
    await expect.poll(async () => (await outbox('h-many')).every((n) => n.status === 'delivered'), { timeout: 30_000 }).toBe(true);
    const got = received.filter((r) => r.body.policy === 'h-many');
    expect(got.length).toBe(40);
    expect(new Set(got.map((r) => r.id))).toEqual(new Set(ids));
    // Each delivery is logged once, by the worker that made it (the line follows the
    // settle, so it may arrive a moment after the outbox says delivered).
    const logged = () => workers.reduce((n, w) => n + w.lines.filter((l) => l.msg === 'notification delivered' && l.policy === 'h-many').length, 0);
    await expect.poll(logged, { timeout: 5000 }).toBe(40);
    await new Promise((r) => setTimeout(r, 500));
    expect(logged()).toBe(40);
  });

  it('two workers and a slow receiver: each notification is posted once, none after its lease ended (atk85 F1)', async () => {
    // Answers in 3 s, well within the 5 s timeout; a lease is 15 s. Eight claimed at once,
    // the last ones were posted after their lease and the other worker posted them again.
    await policy('h-slow');
    delays.set('h-slow', 3000);
    for (let i = 1; i <= 8; i++) {
      await db.q(`select retention.note_overdue('h-slow', now() - make_interval(mins => $1))`, [i]);
    }
    const ids = (await outbox('h-slow')).map((n) => n.notification_id);
    worker('5s');
    worker('5s');
    await expect.poll(async () => (await outbox('h-slow')).every((n) => n.status === 'delivered'), { timeout: 40_000 }).toBe(true);
    const got = received.filter((r) => r.body.policy === 'h-slow');
    expect(got.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(got.every((r) => r.body.attempt === 1)).toBe(true);
    expect((await outbox('h-slow')).every((n) => n.attempts === 1)).toBe(true);
  });
});
