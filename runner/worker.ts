// pg-retention worker: runs every enabled policy on its schedule through pg-boss.
//   start: HTTP up first (/healthz answers, /readyz says why not yet), wait for the
//   database and a compatible schema, start pg-boss in its own schema, create the run
//   queue, sync schedules, work the queue, deliver notifications;
//   SIGTERM/SIGINT: take no new jobs, ask running runs to stop after their batch, wait
//   for them within the grace period (then cancel what is left), stop, exit.
// Exit codes: 0 clean stop, 1 a failure or runs cancelled at the end of the grace period,
// 2 bad configuration.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readKeyFile } from './key-file.ts';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { signCheckpoint } from './checkpoint.ts';
import { ConfigError, loadConfig, type WorkerConfig } from './config.ts';
import { serve } from './http.ts';
import { RunHandler } from './jobs.ts';
import { pinned } from './db.ts';
import { createLogger, errFields, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { schemaProblem } from './migrate.ts';
import { Notifier } from './notifier.ts';
import { ensureQueue, measureBacklog, RUN_QUEUE, type RunJobData, syncSchedules } from './scheduler.ts';

export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg: WorkerConfig;
  try {
    cfg = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`pg-retention worker: ${err.message}\nhint: see docs/operator-guide.md, "Worker configuration".`);
      return 2;
    }
    throw err;
  }
  let key: KeyObject | null = null;
  if (cfg.signingKeyFile) {
    try {
      key = createPrivateKey(await readKeyFile(cfg.signingKeyFile));
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not Ed25519`);
    } catch (err) {
      console.error(`pg-retention worker: PG_RETENTION_SIGNING_KEY_FILE: cannot use ${cfg.signingKeyFile}: ${(err as Error).message}\n` +
        'hint: an Ed25519 private key in PEM: openssl genpkey -algorithm ed25519 -out audit.key');
      return 2;
    }
  }
  const log = createLogger(cfg.logLevel);
  return new Worker(cfg, log, key).run();
}

class Worker {
  private readonly pool: pg.Pool;
  private readonly metrics: Metrics;
  private readonly workerId = `${os.hostname()}:${process.pid}`;
  private boss: PgBoss | null = null;
  private handler: RunHandler | null = null;
  private notifier: Notifier | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Periodic tasks under way: shutdown waits for them before it closes the pool. */
  private readonly periodic = new Set<Promise<void>>();
  private ready = false;
  private stopping = false;
  private stopped: Promise<number> | null = null;
  private resolveExit!: (code: number) => void;

  private readonly cfg: WorkerConfig;
  private readonly log: Logger;

  private readonly signingKey: KeyObject | null;

  constructor(cfg: WorkerConfig, log: Logger, signingKey: KeyObject | null = null) {
    this.cfg = cfg;
    this.signingKey = signingKey;
    this.log = log;
    this.pool = new pg.Pool(pinned({ connectionString: cfg.databaseUrl, max: 4, application_name: 'pg-retention worker' }));
    this.pool.on('error', (err) => log.warn(errFields(err), 'idle database connection lost'));
    this.metrics = new Metrics(this.pool);
  }

  async run(): Promise<number> {
    const exit = new Promise<number>((resolve) => (this.resolveExit = resolve));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => void this.shutdown(signal));
    }
    const server = await serve(this.cfg.httpPort, this.metrics, { ready: () => this.readiness() });
    const address = server.address();
    this.log.info({ port: typeof address === 'object' && address ? address.port : this.cfg.httpPort, worker: this.workerId,
      concurrency: this.cfg.concurrency, job_schema: this.cfg.jobSchema }, 'worker starting');
    try {
      await this.waitForDatabase();
      if (!this.stopping) await this.startJobs();
    } catch (err) {
      this.log.fatal(errFields(err), 'worker cannot start');
      await this.shutdown('startup failure', 1);
    }
    const code = await exit;
    await new Promise((r) => server.close(r));
    return code;
  }

  private async readiness(): Promise<string | null> {
    if (this.stopping) return 'shutting down';
    const client = await this.pool.connect();
    try {
      const problem = await schemaProblem(client);
      if (problem) return problem;
    } finally {
      client.release();
    }
    return this.ready ? null : 'job system not started yet';
  }

  /** Until the database answers with a compatible schema (retrying, so that a worker
   * started before its database or before `migrate` comes up by itself). */
  private async waitForDatabase(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        const client = await this.pool.connect();
        try {
          const problem = await schemaProblem(client);
          if (!problem) return;
          this.log.warn({ attempt, reason: problem }, 'retention schema not ready; waiting');
        } finally {
          client.release();
        }
      } catch (err) {
        this.log.warn({ attempt, ...errFields(err) }, 'database not reachable; waiting');
      }
      await sleep(Math.min(30_000, 1000 * attempt));
    }
  }

  private async startJobs(): Promise<void> {
    const cfg = this.cfg;
    const tick = Math.max(1, Math.min(30, Math.round(cfg.syncIntervalMs / 1000)));
    const boss = new PgBoss(pinned({
      connectionString: cfg.databaseUrl,
      schema: cfg.jobSchema,
      // The job schema is installed and upgraded by `pg-retention migrate`, as its owner; the
      // worker's login may not change it, and pg-boss's background migrations are not run here.
      migrate: false,
      application_name: 'pg-retention worker (pg-boss)',
      max: 4,
      cronMonitorIntervalSeconds: tick,
      cronWorkerIntervalSeconds: tick,
      // Jobs of a dead worker are failed (and retried) by the monitor pass once their
      // heartbeat is stale: run it at half the heartbeat so that takes at most 1.5x it.
      superviseIntervalSeconds: Math.max(1, Math.round(cfg.heartbeatMs / 2000)),
      monitorIntervalSeconds: Math.max(1, Math.round(cfg.heartbeatMs / 2000)),
    }));
    boss.on('error', (err) => this.log.error(errFields(err), 'job system error'));
    await boss.start();
    this.boss = boss;
    await ensureQueue(boss, cfg);
    this.handler = new RunHandler(cfg, this.pool, boss, this.metrics, this.log);
    await this.sync();
    await boss.work<RunJobData>(
      RUN_QUEUE,
      { perJobResults: true, localConcurrency: cfg.concurrency, batchSize: 1, pollingIntervalSeconds: 1 },
      async (jobs) => Promise.all(jobs.map((job) => this.handler!.handle(job))),
    );
    this.every(cfg.syncIntervalMs, () => this.sync());
    this.every(cfg.backlogIntervalMs, () => measureBacklog(this.pool, this.metrics), true);
    // Archives past their own period go, unless a hold keeps them (hourly; every replica
    // may: the database records each deletion once and refuses the rest).
    if (cfg.archive.ring) this.every(3_600_000, () => this.handler!.pruneArchive(), true);
    // Objects of removed rows (object columns), from the targets this worker can reach.
    if (cfg.objects.targets.size) this.every(cfg.objectIntervalMs, () => this.handler!.drainObjects(), true);
    // Backup stores, pruned by their backup policies.
    if (cfg.backupStores.size) this.every(cfg.backupIntervalMs, () => this.handler!.pruneBackupStores(), true);
    // Last month's compliance report, once the month has ended (hourly; idempotent).
    this.every(3_600_000, () => this.handler!.storeReport(), true);
    const key = this.signingKey;
    if (key) {
      this.every(cfg.checkpointIntervalMs, async () => {
        const cp = await signCheckpoint(this.pool, key, cfg.checkpointDir);
        if (cp) this.log.info({ checkpoint_id: cp.checkpoint_id, audit_id: cp.audit_id, key_id: cp.key_id }, 'audit checkpoint signed');
      }, true);
    }
    if (cfg.webhook) {
      this.notifier = new Notifier(cfg.webhook, this.pool, this.workerId, this.metrics, this.log);
      this.notifier.start();
    } else {
      this.log.info('no PG_RETENTION_WEBHOOK_URL: notifications stay in retention.notifications');
    }
    this.ready = true;
    this.metrics.ready.set(1);
    this.log.info({ queue: RUN_QUEUE }, 'worker ready');
  }

  private async sync(): Promise<void> {
    if (!this.boss || this.stopping) return;
    const r = await syncSchedules(this.boss, this.pool, this.cfg, this.metrics, this.log);
    if (r.scheduled.length || r.removed.length) this.log.debug(r, 'schedules in step');
  }

  /** Runs fn every ms, one at a time; errors are logged, never fatal. */
  private every(ms: number, fn: () => Promise<void>, now = false): void {
    const schedule = (delay: number) => {
      const t = setTimeout(async () => {
        this.timers.delete(t);
        const task = fn().catch((err: unknown) => this.log.warn(errFields(err), 'periodic task failed'));
        this.periodic.add(task);
        await task;
        this.periodic.delete(task);
        if (!this.stopping) schedule(ms);
      }, delay);
      this.timers.add(t);
    };
    schedule(now ? 0 : ms);
  }

  private shutdown(reason: string, code = 0): Promise<number> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.metrics.ready.set(0);
    this.stopped = (async () => {
      const deadline = Date.now() + this.cfg.shutdownGraceMs;
      this.log.info({ reason, active_runs: this.handler?.activeCount ?? 0, grace_ms: this.cfg.shutdownGraceMs }, 'stopping: no new jobs; running runs stop after their current batch');
      for (const t of this.timers) clearTimeout(t);
      let exitCode = code;
      const boss = this.boss;
      if (boss && this.handler) {
        const drained = Promise.all([boss.offWork(RUN_QUEUE, { wait: true }), this.handler.stopAll()]);
        const inTime = await Promise.race([drained.then(() => true), sleep(Math.max(0, deadline - Date.now())).then(() => false)]);
        if (!inTime) {
          const n = await this.handler.cancelAll();
          this.log.error({ cancelled: n }, 'grace period over: cancelled the batches still running (rolled back, the jobs will be retried)');
          await Promise.race([drained, sleep(5000)]);
          exitCode = 1;
        }
      }
      // A periodic task under way (a schedule sync, a report, a checkpoint) ends before
      // the pool closes, or its last log line would come after 'worker stopped'.
      await Promise.race([Promise.all(this.periodic), sleep(Math.max(1000, deadline - Date.now()))]);
      await this.notifier?.stop();
      await boss?.stop({ graceful: true, close: true, timeout: 5000 }).catch((err) => this.log.warn(errFields(err), 'job system stop failed'));
      await this.pool.end().catch(() => {});
      this.log.info({ exit_code: exitCode }, 'worker stopped');
      this.resolveExit(exitCode);
      return exitCode;
    })();
    return this.stopped;
  }
}
