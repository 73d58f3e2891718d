// Keeps pg-boss in step with the policies: one schedule per enabled policy on the run
// queue (cron and time zone from retention.effective_policies, keyed by policy name),
// removed when the policy is disabled or dropped. Every replica runs the same sync;
// schedule() is an upsert, so they agree without coordination. Also checks, from the
// same calendar, which policies missed a scheduled occurrence (retention.note_overdue),
// and which erasure requests are past their due date (retention.note_overdue_erasures).
// An approved proposal does not wait for its policy's next slot (a month away for a
// monthly purge, past the proposal's expiry): its run is queued at the next sync.
import { CronExpressionParser } from 'cron-parser';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { WorkerConfig } from './config.ts';
import { errFields, type Logger } from './log.ts';
import { type Metrics, RUN_STATUSES } from './metrics.ts';

export const RUN_QUEUE = 'retention-run';

export interface RunJobData { policy: string; continues?: string }

interface PolicyRow { name: string; schedule: string; time_zone: string; budget_s: number; created_s: number }

/** pg-boss's maximum job expiry. */
const MAX_EXPIRE_S = 24 * 3600;

/** The run queue: at most one active and one waiting job per policy (policy 'stately'
 * with the policy name as singleton key), retries with exponential backoff, and a
 * heartbeat so the job of a worker that died is retried by another. */
export async function ensureQueue(boss: PgBoss, cfg: WorkerConfig): Promise<void> {
  const options = {
    retryLimit: cfg.retryLimit,
    retryDelay: Math.max(1, Math.round(cfg.retryDelayMs / 1000)),
    retryBackoff: true,
    retryDelayMax: 3600,
    heartbeatSeconds: Math.round(cfg.heartbeatMs / 1000),
    deleteAfterSeconds: 30 * 24 * 3600,
  };
  const existing = await boss.getQueue(RUN_QUEUE);
  if (!existing) {
    await boss.createQueue(RUN_QUEUE, { policy: 'stately', ...options });
  } else {
    await boss.updateQueue(RUN_QUEUE, options); // a queue's policy is fixed at creation
  }
}

function jobOptions(p: PolicyRow, cfg: WorkerConfig) {
  return {
    key: p.name,
    tz: p.time_zone,
    singletonKey: p.name,
    // A run ends by its time budget; the job may take that long plus the shutdown grace.
    expireInSeconds: Math.min(MAX_EXPIRE_S, p.budget_s + Math.round(cfg.shutdownGraceMs / 1000) + 300),
    // After downtime, one catch-up run for the most recent missed occurrence.
    missed: 'once' as const,
  };
}

export interface SyncResult { scheduled: string[]; removed: string[]; overdue: string[]; overdueErasures: number[]; approved: string[] }

export async function syncSchedules(boss: PgBoss, pool: pg.Pool, cfg: WorkerConfig, metrics: Metrics, log: Logger): Promise<SyncResult> {
  const { rows } = await pool.query<PolicyRow>(
    `select e.name, e.effective_schedule as schedule, e.time_zone,
            extract(epoch from e.time_budget)::int as budget_s, extract(epoch from p.created_at)::float8 as created_s
       from retention.effective_policies e join retention.policies p on p.policy_id = e.policy_id
      where e.enabled and not e.target_missing
      order by e.name`);
  const current = new Map((await boss.getSchedules(RUN_QUEUE)).map((s) => [s.key, s]));
  const result: SyncResult = { scheduled: [], removed: [], overdue: [], overdueErasures: [], approved: [] };
  for (const p of rows) {
    const want = jobOptions(p, cfg);
    const have = current.get(p.name);
    current.delete(p.name);
    if (have && have.cron === p.schedule && have.timezone === p.time_zone
        && have.options?.expireInSeconds === want.expireInSeconds) continue;
    try {
      await boss.schedule(RUN_QUEUE, p.schedule, { policy: p.name } satisfies RunJobData, want);
      result.scheduled.push(p.name);
      log.info({ policy: p.name, schedule: p.schedule, time_zone: p.time_zone }, have ? 'schedule changed' : 'schedule added');
    } catch (err) {
      log.error({ policy: p.name, schedule: p.schedule, ...errFields(err) }, 'cannot schedule policy');
    }
  }
  for (const p of rows) policySeries(p, metrics);
  for (const key of current.keys()) {
    await boss.unschedule(RUN_QUEUE, key);
    result.removed.push(key);
    metrics.overdue.remove({ policy: key });
    metrics.backlog.remove({ policy: key });
    metrics.scheduleInterval.remove({ policy: key });
    metrics.policyCreated.remove({ policy: key });
    log.info({ policy: key }, 'schedule removed (policy disabled or dropped)');
  }
  result.overdue = await checkOverdue(pool, rows, cfg, metrics, log);
  result.overdueErasures = await checkOverdueErasures(pool, log);
  result.approved = await queueApproved(boss, pool, log);
  return result;
}

/** The longest gap between the schedule's next 12 occurrences, in seconds (a schedule that
 * runs on the 1st and the 15th waits up to 17 days, not 14); null when unreadable. */
export function scheduleInterval(schedule: string, timeZone: string, from = new Date()): number | null {
  try {
    const it = CronExpressionParser.parse(schedule, { tz: timeZone, currentDate: from });
    let prev = it.next().toDate().getTime();
    let max = 0;
    for (let i = 0; i < 12; i++) {
      const t = it.next().toDate().getTime();
      max = Math.max(max, t - prev);
      prev = t;
    }
    return max / 1000;
  } catch {
    return null;
  }
}

/** Per enabled policy: its schedule's interval, its creation time, and its run counters
 * from 0 (prom-client creates a labelled series at its first increment). */
function policySeries(p: PolicyRow, metrics: Metrics): void {
  const interval = scheduleInterval(p.schedule, p.time_zone);
  if (interval !== null) metrics.scheduleInterval.set({ policy: p.name }, interval);
  metrics.policyCreated.set({ policy: p.name }, p.created_s);
  for (const status of RUN_STATUSES) metrics.runs.inc({ policy: p.name, status }, 0);
}

/** Approved, unexpired proposals of enabled policies not run since their approval: one run
 * job each (the queue's singleton key keeps it to one per policy across replicas). One
 * attempt per approval: a run that fails leaves the next one to the schedule. */
async function queueApproved(boss: PgBoss, pool: pg.Pool, log: Logger): Promise<string[]> {
  const { rows } = await pool.query<{ policy: string; proposal_id: string }>(
    `select p.policy_name as policy, p.proposal_id
       from retention.proposals p
       join retention.policies pol on pol.policy_id = p.policy_id and pol.enabled
      where p.status = 'approved' and p.expires_at > now()
        and not exists (select from retention.runs r where r.policy_name = p.policy_name and r.started_at >= p.decided_at)`);
  const queued: string[] = [];
  for (const r of rows) {
    const id = await boss.send(RUN_QUEUE, { policy: r.policy } satisfies RunJobData, { singletonKey: r.policy });
    if (id) {
      queued.push(r.policy);
      log.info({ policy: r.policy, proposal_id: Number(r.proposal_id), job_id: id }, 'approved proposal: run queued');
    }
  }
  return queued;
}

/** Erasure requests past their due date: each is announced once (erasure_overdue in the
 * outbox, queued by the database); every sync logs the ones newly found. */
async function checkOverdueErasures(pool: pg.Pool, log: Logger): Promise<number[]> {
  const { rows } = await pool.query<{ request_id: string; due_at: Date; status: string; newly_noted: boolean }>(
    'select request_id, due_at, status, newly_noted from retention.note_overdue_erasures()');
  for (const r of rows.filter((x) => x.newly_noted)) {
    log.warn({ request_id: Number(r.request_id), due_at: r.due_at.toISOString(), status: r.status },
      'erasure request is overdue');
  }
  return rows.map((r) => Number(r.request_id));
}

/** For each scheduled policy: the latest occurrence at least PG_RETENTION_OVERDUE_AFTER
 * ago (by the database clock) must have been followed by a successful run. */
async function checkOverdue(pool: pg.Pool, rows: PolicyRow[], cfg: WorkerConfig, metrics: Metrics, log: Logger): Promise<string[]> {
  const { rows: [clock] } = await pool.query<{ now: Date }>('select now()');
  const horizon = new Date(clock!.now.getTime() - cfg.overdueAfterMs);
  const overdue: string[] = [];
  for (const p of rows) {
    let due: Date;
    try {
      due = CronExpressionParser.parse(p.schedule, { tz: p.time_zone, currentDate: horizon }).prev().toDate();
    } catch (err) {
      // set_policy refuses such a schedule; one stored before it did (or written by hand)
      // never runs, so it counts as overdue rather than going unnoticed.
      log.error({ policy: p.name, schedule: p.schedule, time_zone: p.time_zone, ...errFields(err) },
        'policy has a schedule the worker cannot read: it never runs');
      metrics.overdue.set({ policy: p.name }, 1);
      overdue.push(p.name);
      continue;
    }
    const { rows: [r] } = await pool.query<{ overdue: boolean }>(
      'select retention.note_overdue($1, $2, $3) as overdue', [p.name, due, clock!.now]);
    metrics.overdue.set({ policy: p.name }, r!.overdue ? 1 : 0);
    if (r!.overdue) {
      overdue.push(p.name);
      log.warn({ policy: p.name, due_at: due.toISOString() }, 'policy is overdue: no successful run since a scheduled occurrence');
    }
  }
  return overdue;
}

/** The eligible backlog per enabled policy, from retention.preview (one count per policy). */
export async function measureBacklog(pool: pg.Pool, metrics: Metrics): Promise<void> {
  const { rows } = await pool.query<{ policy: string; would_affect: string }>(
    `select policy, would_affect from retention.preview() where enabled`);
  metrics.backlog.reset();
  for (const r of rows) metrics.backlog.set({ policy: r.policy }, Number(r.would_affect));
}
