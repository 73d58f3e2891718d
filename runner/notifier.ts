// Delivers the outbox (retention.notifications) to the configured webhook. Each
// notification is claimed with a lease (retention.claim_notifications: two workers never
// hold the same one), POSTed as JSON, and settled (retention.settle_notification), which
// retries with backoff and dead-letters after the configured attempts.
//
// Signature: X-PG-Retention-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
// with the shared secret, where <timestamp> is X-PG-Retention-Timestamp (Unix seconds).
// Receivers recompute it, compare in constant time and reject stale timestamps.
// X-PG-Retention-Id is the notification id: the same on every attempt, for de-duplication.
import { createHmac } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type pg from 'pg';
import type { WorkerConfig } from './config.ts';
import { errFields, type Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

interface Claimed {
  notification_id: string; kind: string; policy_name: string | null; run_id: string | null;
  payload: Record<string, unknown>; created_at: Date; attempts: number;
}

export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class Notifier {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  private readonly webhook: NonNullable<WorkerConfig['webhook']>;
  private readonly pool: pg.Pool;
  private readonly claimer: string;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly intervalMs: number;

  constructor(webhook: NonNullable<WorkerConfig['webhook']>, pool: pg.Pool, claimer: string, metrics: Metrics, log: Logger, intervalMs = 1000) {
    this.webhook = webhook;
    this.pool = pool;
    this.claimer = claimer;
    this.metrics = metrics;
    this.log = log;
    this.intervalMs = intervalMs;
  }

  start(): void {
    const tick = () => {
      this.running = this.deliverDue()
        .then(() => {}, (err: unknown) => this.log.warn(errFields(err), 'notification delivery pass failed'))
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass: up to 10 due notifications, each claimed, delivered and settled in turn.
   * One at a time: the lease (twice the timeout and 5 s) covers one POST. Claimed ten at
   * once, the last ones' leases ended while a slow receiver answered the first ones, and
   * another worker delivered them again (round atk85 F1). */
  async deliverDue(): Promise<number> {
    const lease = `${Math.ceil(this.webhook.timeoutMs / 1000) * 2 + 5} seconds`;
    let delivered = 0;
    for (; delivered < 10; delivered++) {
      const { rows: [n] } = await this.pool.query<Claimed>(
        'select * from retention.claim_notifications($1, 1, $2::interval)', [this.claimer, lease]);
      if (!n) break;
      const outcome = await this.post(n);
      const { rows: [s] } = await this.pool.query<{ status: string | null }>(
        `select retention.settle_notification($1, $2, $3, $4, $5, $6::interval) as status`,
        [n.notification_id, this.claimer, outcome.ok, outcome.error, this.webhook.maxAttempts, `${this.webhook.backoffMs} milliseconds`]);
      const fields = { notification_id: n.notification_id, kind: n.kind, policy: n.policy_name, attempt: n.attempts, status: s?.status ?? 'lease_lost' };
      if (outcome.ok) {
        this.log.info(fields, 'notification delivered');
      } else {
        this.metrics.deliveryFailures.inc({ kind: n.kind });
        this.log[s?.status === 'dead' ? 'error' : 'warn']({ ...fields, error: outcome.error },
          s?.status === 'dead' ? 'notification dead-lettered' : 'notification delivery failed; will retry');
      }
    }
    return delivered;
  }

  private async post(n: Claimed): Promise<{ ok: boolean; error: string | null }> {
    const body = JSON.stringify({
      id: n.notification_id, kind: n.kind, created_at: n.created_at, attempt: n.attempts, ...n.payload,
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    try {
      const res = await fetch(this.webhook.url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'pg-retention-worker',
          'x-pg-retention-id': n.notification_id,
          'x-pg-retention-timestamp': timestamp,
          'x-pg-retention-signature': sign(this.webhook.secret, timestamp, body),
        },
        signal: AbortSignal.timeout(this.webhook.timeoutMs),
      });
      await res.arrayBuffer().catch(() => {});
      // The status's standard phrase, never the receiver's own: a receiver may put anything
      // in it ("410 Gone: mailbox alice%40… closed"), and it would stay in the worker's log
      // and in notifications.last_error (round atk100 F6).
      return res.ok ? { ok: true, error: null } : { ok: false, error: `HTTP ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trim() };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      return { ok: false, error: e.name === 'TimeoutError' ? `no answer within ${this.webhook.timeoutMs} ms` : (e.cause?.message ?? e.message) };
    }
  }
}
