// Prometheus metrics (prom-client). Two kinds:
//  * what this worker did (counters and a histogram, summed across replicas by Prometheus):
//    runs by status, rows affected, run durations, notification delivery failures;
//  * the state of the retention schema, read from the database when scraped or measured
//    periodically (the same on every replica; aggregate with max, not sum): last
//    successful run per policy, eligible backlog, overdue policies, active legal holds,
//    notifications by status.
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly runs: Counter<'policy' | 'status'>;
  readonly rowsAffected: Counter<'policy' | 'action'>;
  readonly runDuration: Histogram<'policy'>;
  readonly deliveryFailures: Counter<'kind'>;
  readonly archivedRows: Counter;
  readonly objectsDeleted: Counter<'outcome'>;
  readonly backupsPruned: Counter<'policy' | 'outcome'>;
  readonly backlog: Gauge<'policy'>;
  readonly overdue: Gauge<'policy'>;
  readonly scheduleInterval: Gauge<'policy'>;
  readonly policyCreated: Gauge<'policy'>;
  readonly ready: Gauge;

  constructor(pool: pg.Pool) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'pg_retention_worker_' });
    this.runs = new Counter({
      name: 'pg_retention_runs_total', help: 'Runs this worker started, by policy and final status (ledger status).',
      labelNames: ['policy', 'status'], registers,
    });
    this.rowsAffected = new Counter({
      name: 'pg_retention_rows_affected_total', help: 'Rows deleted, soft-deleted or purged by this worker\'s runs.',
      labelNames: ['policy', 'action'], registers,
    });
    this.runDuration = new Histogram({
      name: 'pg_retention_run_duration_seconds', help: 'Duration of this worker\'s runs, from the ledger.',
      labelNames: ['policy'], buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400], registers,
    });
    this.deliveryFailures = new Counter({
      name: 'pg_retention_notification_delivery_failures_total', help: 'Failed webhook delivery attempts by this worker.',
      labelNames: ['kind'], registers,
    });
    this.archivedRows = new Counter({
      name: 'pg_retention_archived_rows_offloaded_total', help: 'Archived rows this worker moved into verified objects in cold storage.',
      registers,
    });
    this.objectsDeleted = new Counter({
      name: 'pg_retention_object_deletions_total', help: 'Object deletions this worker settled, by outcome (deleted, kept: still referenced, failed: retried later, dead).',
      labelNames: ['outcome'], registers,
    });
    for (const outcome of ['deleted', 'kept', 'failed', 'dead']) this.objectsDeleted.inc({ outcome }, 0);
    this.backupsPruned = new Counter({
      name: 'pg_retention_backups_pruned_total', help: 'Base backups this worker pruned (deleted) or failed to, by backup policy.',
      labelNames: ['policy', 'outcome'], registers,
    });
    this.backlog = new Gauge({
      name: 'pg_retention_eligible_rows', help: 'Rows a run would affect now (retention.preview), per enabled policy; measured periodically.',
      labelNames: ['policy'], registers,
    });
    this.overdue = new Gauge({
      name: 'pg_retention_policy_overdue', help: '1 when the policy has missed its schedule (no successful live run since a due occurrence).',
      labelNames: ['policy'], registers,
    });
    // For "no successful run for too long" judged per policy: a monthly policy may go a
    // month without one, a daily one not; a policy that never succeeded counts from its
    // creation (alert rules: deploy/prometheus/alerts.yml).
    this.scheduleInterval = new Gauge({
      name: 'pg_retention_policy_schedule_interval_seconds', help: 'The longest gap between two of the policy\'s next scheduled occurrences, per enabled policy.',
      labelNames: ['policy'], registers,
    });
    this.policyCreated = new Gauge({
      name: 'pg_retention_policy_created_timestamp_seconds', help: 'When the policy was created, Unix time, per enabled policy.',
      labelNames: ['policy'], registers,
    });
    this.ready = new Gauge({
      name: 'pg_retention_worker_ready', help: '1 while this worker is ready (its job system started, the schema compatible); 0 while it starts or stops.',
      registers,
    });
    this.ready.set(0);
    // Read when scraped: cheap aggregate queries over small tables.
    new Gauge({
      name: 'pg_retention_last_success_timestamp_seconds', help: 'When the policy\'s last successful live run finished (any runner), Unix time.',
      labelNames: ['policy'], registers,
      async collect() {
        const rows = await scrapeQuery<{ policy: string; t: number }>(pool,
          `select p.name as policy, extract(epoch from max(r.finished_at))::float8 as t
             from retention.policies p join retention.runs r on r.policy_id = p.policy_id
            where r.mode = 'live' and r.status in ('completed', 'stopped_time_budget', 'stopped_max_rows')
            group by p.name`);
        this.reset();
        for (const r of rows) this.set({ policy: r.policy }, r.t);
      },
    });
    new Gauge({
      name: 'pg_retention_erasure_requests_overdue', help: 'Erasure requests past their due date and not completed.',
      registers,
      async collect() {
        const rows = await scrapeQuery<{ n: number }>(pool,
          'select count(*)::int as n from retention.erasure_overview where overdue');
        if (rows[0]) this.set(rows[0].n);
      },
    });
    countsBy(pool, registers, 'pg_retention_legal_holds_active', 'Legal holds in force, by scope.',
      'scope', ['table', 'subject', 'policy'], 'retention.active_holds');
    countsBy(pool, registers, 'pg_retention_notifications', 'Notifications in the outbox, by status (dead = dead-lettered).',
      'status', ['pending', 'delivered', 'dead'], 'retention.notifications');
    countsBy(pool, registers, 'pg_retention_object_deletions', 'Object deletions waiting (pending) or given up (dead).',
      'status', ['pending', 'dead'], 'retention.object_deletions');
  }
}

/** Run statuses, each counted from 0 for every enabled policy, so that increase() sees a
 * policy's first failure (a series that starts at 1 has no increase to show). */
export const RUN_STATUSES = ['completed', 'refused', 'already_running', 'stopped_time_budget', 'stopped_max_rows',
  'stopped_lock_timeout', 'stopped_requested', 'failed', 'interrupted'];

/** A gauge of row counts per value of one column, every value present (0 when none).
 * Column and relation are fixed names from this file; values are bound. */
function countsBy(pool: pg.Pool, registers: Registry[], name: string, help: string,
  label: 'scope' | 'status', values: string[], relation: 'retention.active_holds' | 'retention.notifications' | 'retention.object_deletions'): void {
  new Gauge({
    name, help, labelNames: [label], registers,
    async collect() {
      const rows = await scrapeQuery<{ v: string; n: number }>(pool,
        `select v.v, count(r.${label})::int as n from unnest($1::text[]) v(v)
           left join ${relation} r on r.${label} = v.v group by v.v`, [values]);
      for (const r of rows) this.set({ [label]: r.v }, r.n);
    },
  });
}

/** A scrape must not fail because the database is briefly away: such gauges are left out. */
async function scrapeQuery<R extends pg.QueryResultRow>(pool: pg.Pool, sql: string, values?: unknown[]): Promise<R[]> {
  try {
    return (await pool.query<R>(sql, values)).rows;
  } catch {
    return [];
  }
}
