// pg-retention worker: the long-running scheduler (see runner/worker.ts), loaded only when
// asked for, so that the other commands do not pay for pg-boss, pino and prom-client.
import { BACKUP_ENV } from '../backups.ts';
import { OBJECT_ENV } from '../objects.ts';
import type { Command } from './types.ts';

export const worker: Command = {
  name: 'worker',
  arity: { '*': 0 },
  summary: 'run every enabled policy on its schedule (pg-boss), with health, metrics and notifications',
  usage: 'pg-retention worker',
  help: `Runs until SIGTERM or SIGINT. Each enabled policy is scheduled in pg-boss from its
cron expression and time zone (retention.effective_policies: the policy's schedule, else
its category's default, else daily 02:00), and schedules follow policy changes within
PG_RETENTION_SYNC_INTERVAL. Any number of replicas may run: a policy never runs twice at
once. On SIGTERM the worker takes no new jobs, lets running batches finish, records the
runs as stopped, queues the remainder for another replica and exits 0 within
PG_RETENTION_SHUTDOWN_GRACE. Logs are JSON lines on stdout.

Configuration comes from the environment only (a bad value stops start-up, naming it):
  DATABASE_URL                        postgres://... (required)
  PG_RETENTION_HTTP_PORT              /healthz /readyz /metrics port (9187)
  PG_RETENTION_CONCURRENCY            policies run at once by this worker (2)
  PG_RETENTION_SHUTDOWN_GRACE         time to finish batches on SIGTERM (30s)
  PG_RETENTION_LOG_LEVEL              trace|debug|info|warn|error|fatal (info)
  PG_RETENTION_WEBHOOK_URL            where notifications are POSTed (none: they wait)
  PG_RETENTION_WEBHOOK_SECRET         HMAC-SHA256 signing key, 16+ characters
  PG_RETENTION_WEBHOOK_MAX_ATTEMPTS   attempts before dead-lettering (8)
  PG_RETENTION_WEBHOOK_BACKOFF        first retry delay, doubled per attempt (30s)
  PG_RETENTION_WEBHOOK_TIMEOUT        per-request timeout (10s)
  PG_RETENTION_JOB_SCHEMA             pg-boss's schema (retention_jobs)
  PG_RETENTION_SYNC_INTERVAL          schedule sync and overdue check (30s)
  PG_RETENTION_HEARTBEAT              a silent worker's job is retried after (30s)
  PG_RETENTION_OVERDUE_AFTER          grace after a missed occurrence (1h)
  PG_RETENTION_BACKLOG_INTERVAL       eligible-rows measurement for /metrics (5m)
  PG_RETENTION_RETRY_LIMIT            retries of transient failures (5)
  PG_RETENTION_RETRY_DELAY            first retry delay, doubled per retry (30s)
  PG_RETENTION_ACTOR                  name recorded in the ledger (worker@<host>)
  PG_RETENTION_OBJECT_INTERVAL        how often objects of removed rows are deleted (1m)

${OBJECT_ENV}

${BACKUP_ENV}

Exit codes: 0 stopped cleanly, 1 failure or runs cancelled at the end of the grace
period, 2 invalid configuration.

Example:
  DATABASE_URL=postgres://retention_worker@db/app \\
  PG_RETENTION_WEBHOOK_URL=https://hooks.example.com/retention \\
  PG_RETENTION_WEBHOOK_SECRET=$(cat /run/secrets/webhook) pg-retention worker`,
  run: async (values) => {
    if (values['database-url']) process.env.DATABASE_URL = String(values['database-url']);
    const { runWorker } = await import('../worker.ts');
    return runWorker(process.env);
  },
};
