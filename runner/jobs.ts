// The handler of the run queue: one pg-boss job = one CALL retention.run on a dedicated
// connection (its advisory lock, retention.job_id and retention.actor are session state,
// and a pool would hand them to the next user); a drop_partitions run is stepped from here
// instead, to detach its partitions CONCURRENTLY between steps. The database does the work and keeps the
// ledger; this decides what the job's outcome means for pg-boss:
//  * completed, stopped by budget or cap, already running elsewhere -> job completed;
//  * transient (lost connection, lock timeout, serialization failure, deadlock, server
//    shutting down) -> job failed, pg-boss retries it with backoff;
//  * refused by the ceiling, invalid or failed for another reason -> dead-lettered: a retry
//    would meet the same answer; the ledger and the outbox report it.
import os from 'node:os';
import pg from 'pg';
import type { Job, JobResult, PgBoss } from 'pg-boss';
import { offload, prune } from './archive/archive.ts';
import { drainObjects } from './objects.ts';
import { pruneBackups } from './backups.ts';
import { render, type Report } from './report.ts';
import type { WorkerConfig } from './config.ts';
import { errFields, loggableMessage, type Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { RUN_QUEUE, type RunJobData } from './scheduler.ts';
import { pinned } from './db.ts';

const TRANSIENT = /^(08...|40001|40P01|55P03|57P01|57P02|57P03|53300|53400|57014)$/;
const NODE_NET = /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/;

export function isTransient(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return TRANSIENT.test(code) || NODE_NET.test(code) || /Connection terminated/i.test((err as Error).message ?? '');
}

/** A drop_partitions run, stepped from the client as retention.run() steps it (each step
 * its own transaction), so that this session can detach a partition CONCURRENTLY between
 * two steps: PostgreSQL runs that statement only outside a transaction block and a
 * function, and it does not block the application's queries the way a plain detach
 * inside a step does. With retention.detach_concurrently on, a step that picked a
 * partition records it as detaching and returns 'detach'; detach_statement gives the
 * statement and the policy's lock_timeout; the next step records what happened (a failed
 * statement: the run detaches that partition the plain way). The run's end is raised as
 * retention.run() raises it (refused, failed, interrupted); returns the run's id. */
export async function stepPartitionRun(
  client: pg.Client, policy: string,
  on: { opened?: (runId: string) => void; detachFailed?: (runId: string, err: unknown) => void } = {},
): Promise<string> {
  await client.query(`select retention.pin_session(), set_config('retention.detach_concurrently', 'on', false)`);
  const id = (await client.query<{ id: string }>('select retention.open_run($1) as id', [policy])).rows[0]!.id;
  on.opened?.(id);
  for (;;) {
    const s = (await client.query<{ s: string }>('select retention.run_step($1) as s', [id])).rows[0]!.s;
    if (s === 'detach') {
      const { rows: [d] } = await client.query<{ statement: string; ms: string }>(
        `select statement, (extract(epoch from lock_timeout) * 1000)::bigint::text as ms from retention.detach_statement($1)`, [id]);
      if (d) {
        await client.query(`select set_config('lock_timeout', $1, false)`, [d.ms]);
        await client.query(d.statement).catch((err) => on.detachFailed?.(id, err));
        await client.query(`select set_config('lock_timeout', '0', false)`);
      }
      continue;
    }
    if (s !== 'running') break;
  }
  await client.query('select retention.unpin_session()');
  const { rows: [r] } = await client.query<{ status: string; error_code: string | null; error: string | null; error_hint: string | null }>(
    'select status, error_code, error, error_hint from retention.runs where run_id = $1', [id]);
  if (r!.status === 'interrupted' || r!.status === 'refused' || r!.status === 'failed') {
    // The run's message as a log may keep it (it may quote a row's values: retention.runs has it).
    const code = r!.status === 'interrupted' ? '57014' : (r!.error_code ?? 'XX000');
    const message = r!.error_code == null && r!.status !== 'interrupted'
      ? `${r!.status} (its message is in retention.runs)` : loggableMessage(r!.error ?? '', code);
    throw Object.assign(new Error(r!.status === 'refused' ? message : `policy ${policy}: run ${id} ${r!.status}: ${message}`),
      { code, hint: r!.error_hint ?? undefined });
  }
  return id;
}

interface RunRow {
  run_id: string; status: string; action: string; eligible: string | null; held_back: string | null;
  affected: string; batches: number; error_code: string | null; error: string | null; seconds: number;
  flagged: string | null; flags_cancelled: string | null;
}

interface Active { policy: string; jobId: string; client: pg.Client; pid: number | null; done: Promise<unknown> }

export class RunHandler {
  private readonly active = new Map<string, Active>();
  private stopping = false;
  readonly actor: string;
  private readonly cfg: WorkerConfig;
  private readonly pool: pg.Pool;
  private readonly boss: PgBoss;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(cfg: WorkerConfig, pool: pg.Pool, boss: PgBoss, metrics: Metrics, log: Logger) {
    this.cfg = cfg;
    this.pool = pool;
    this.boss = boss;
    this.metrics = metrics;
    this.log = log;
    this.actor = process.env.PG_RETENTION_ACTOR ?? `worker@${os.hostname()}`;
  }

  get activeCount(): number {
    return this.active.size;
  }

  async handle(job: Job<RunJobData>): Promise<JobResult> {
    const { policy } = job.data;
    const started = Date.now();
    const client = new pg.Client(pinned({ connectionString: this.cfg.databaseUrl, application_name: `pg-retention worker: ${policy}` }));
    client.on('error', (err) => this.log.warn({ policy, job_id: job.id, ...errFields(err) }, 'run connection error'));
    let runId: string | null = null;
    let error: unknown = null;
    try {
      await client.connect();
      // client_connection_check_interval: if this process dies mid-run, the server notices
      // the lost client within a second and aborts the run (the open batch rolls back and
      // the advisory lock is freed) instead of carrying on unwatched. PostgreSQL 14+.
      const { rows: [me] } = await client.query<{ pid: number }>(
        `select pg_backend_pid() as pid, set_config('retention.actor', $1, false), set_config('retention.job_id', $2, false),
                set_config('client_connection_check_interval', '1000', false)`,
        [this.actor, job.id]);
      // An approval-gated policy runs only with an approved proposal: without one, its
      // slot proposes (once; a pending proposal waits for its approver) and runs nothing.
      const { rows: [gate] } = await client.query<{ gated: boolean; approved: boolean; pending: string | null; partitions: boolean }>(
        `select p.approval = 'required' as gated, p.action = 'drop_partitions' as partitions,
                exists (select from retention.proposals x where x.policy_name = p.name and x.status = 'approved' and x.expires_at > now()) as approved,
                (select max(x.proposal_id) from retention.proposals x where x.policy_name = p.name and x.status = 'pending' and x.expires_at > now()) as pending
           from retention.policies p where p.name = $1`, [policy]);
      if (gate?.gated && !gate.approved) {
        const proposal = gate.pending ?? (await client.query<{ id: string }>('select retention.propose($1) as id', [policy])).rows[0]!.id;
        this.log.info({ policy, job_id: job.id, proposal_id: Number(proposal), proposed: !gate.pending },
          gate.pending ? 'waiting for approval of the proposal' : 'proposal made; waiting for approval');
        return { id: job.id, status: 'completed', output: { policy, proposal_id: Number(proposal) } };
      }
      const call = gate?.partitions
        ? this.stepRun(client, policy, (id) => (runId = id))
        : client.query<{ p_run_id: string }>('call retention.run($1)', [policy]).then((r) => r.rows[0]?.p_run_id ?? null);
      this.active.set(job.id, { policy, jobId: job.id, client, pid: me!.pid, done: call.catch(() => {}) });
      if (this.stopping) void this.stopOne(job.id);
      runId = await call;
    } catch (err) {
      error = err;
    } finally {
      this.active.delete(job.id);
      await client.end().catch(() => {});
    }

    const run = await this.readRun(runId, job.id).catch(() => null);
    const fields = {
      policy, job_id: job.id, retry: job.retryCount, run_id: run?.run_id ?? null, status: run?.status ?? 'failed',
      eligible: num(run?.eligible), held_back: num(run?.held_back), affected: num(run?.affected) ?? 0,
      batches: run?.batches ?? 0, duration_ms: Date.now() - started,
      // Notice policies (inactive accounts): rows flagged and flags cancelled by this run.
      ...(run?.flagged != null ? { flagged: num(run.flagged), flags_cancelled: num(run.flags_cancelled) } : {}),
    };
    if (run) {
      this.metrics.runs.inc({ policy, status: run.status });
      this.metrics.rowsAffected.inc({ policy, action: run.action }, Number(run.affected));
      this.metrics.runDuration.observe({ policy }, run.seconds);
    }

    if (error) {
      const transient = isTransient(error);
      this.log[transient ? 'warn' : 'error']({ ...fields, ...errFields(error), will_retry: transient && job.retryCount < this.cfg.retryLimit },
        (error as { code?: string }).code === 'RT012' ? 'run refused' : 'run failed');
      return { id: job.id, status: transient ? 'failed' : 'deadletter', output: { ...fields, ...errFields(error) } };
    }
    if (run?.status === 'stopped_lock_timeout') {
      this.log.warn({ ...fields, error: loggableMessage(run.error ?? '', run.error_code ?? '55P03'), will_retry: job.retryCount < this.cfg.retryLimit }, 'run stopped on a lock timeout');
      return { id: job.id, status: 'failed', output: fields };
    }
    if (run?.status === 'stopped_requested' && this.stopping) {
      // Shutting down mid-run: queue the rest so another replica carries on.
      const next = await this.boss.send(RUN_QUEUE, { policy, continues: job.id } satisfies RunJobData,
        { singletonKey: policy, startAfter: 1 }).catch(() => null);
      this.log.info({ ...fields, continuation_job_id: next }, 'run stopped for shutdown');
      return { id: job.id, status: 'completed', output: { ...fields, continuation_job_id: next } };
    }
    await this.offload(policy);
    this.log.info(fields, 'run finished');
    return { id: job.id, status: 'completed', output: fields };
  }

  private stepRun(client: pg.Client, policy: string, opened: (runId: string) => void): Promise<string> {
    return stepPartitionRun(client, policy, {
      opened,
      detachFailed: (runId, err) =>
        this.log.warn({ policy, run_id: Number(runId), ...errFields(err) }, 'concurrent detach failed; the run detaches the plain way'),
    });
  }

  /** Stores last month's compliance report from an hour after the month ended (the
   * database keeps one per month: every replica may try), and when PG_RETENTION_STORAGE is
   * set makes sure the storage target holds it as reports/YYYY-MM.json and .html: an object
   * missing or not hashing as stored is written again, read back and checked. report_ready
   * goes out through the outbox. */
  async storeReport(now = new Date()): Promise<void> {
    const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    if (now.getTime() < monthStart + 3_600_000) return; // the database would refuse: too soon
    const c = new pg.Client(pinned({ connectionString: this.cfg.databaseUrl, application_name: 'pg-retention worker: report' }));
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query(`select set_config('retention.actor', $1, false)`, [this.actor]);
      const { rows: [s] } = await c.query<{ report_id: string; sha256: string; stored: boolean }>(
        'select * from retention.store_compliance_report()');
      if (s!.stored) this.log.info({ report_id: s!.report_id, sha256: s!.sha256 }, 'compliance report stored');
      if (!this.cfg.reportsToStorage) return;
      const { rows: [r] } = await c.query<{ report: Report; month: string; storage_key: string | null }>(
        `select report, to_char(period_from, 'YYYY-MM') as month, storage_key from retention.compliance_reports where report_id = $1`,
        [s!.report_id]);
      const key = `reports/${r!.month}.json`;
      const target = this.cfg.archive.target;
      const hashes = async (body: Buffer | null) => {
        if (!body) return false;
        const { rows: [v] } = await c.query<{ ok: boolean }>(
          `select encode(sha256(convert_to($1::jsonb::text, 'UTF8')), 'hex') = $2 as ok`, [body.toString('utf8'), s!.sha256]).catch(() => ({ rows: [{ ok: false }] }));
        return v?.ok === true;
      };
      if (r!.storage_key === key && await hashes(await target.get(key).catch(() => null))) return;
      const stored = { ...r!.report, stored: { report_id: Number(s!.report_id), sha256: s!.sha256, storage_key: key } };
      await target.put(key, Buffer.from(render(r!.report, 'json')));
      await target.put(`reports/${r!.month}.html`, Buffer.from(render(stored, 'html')));
      // Read back: what the storage holds must hash as the database says.
      if (!(await hashes(await target.get(key)))) throw new Error(`the report written to ${target.url}/${key} does not hash as stored`);
      await c.query('select retention.compliance_report_written($1)', [s!.report_id]);
      this.log.info({ report_id: s!.report_id, target: target.url, key }, 'compliance report written to storage');
    } catch (err) {
      this.log.error(errFields(err), 'compliance report not stored');
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** Deletes archive objects past their period that no legal hold keeps (archive prune). */
  async pruneArchive(): Promise<void> {
    const { target, ring } = this.cfg.archive;
    if (!ring) return;
    const c = new pg.Client(pinned({ connectionString: this.cfg.databaseUrl, application_name: 'pg-retention worker: archive prune' }));
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query(`select set_config('retention.actor', $1, false)`, [this.actor]);
      const { rows: [m] } = await c.query<{ ok: boolean }>(`select pg_has_role(current_user, 'retention_archiver', 'MEMBER') as ok`);
      if (!m?.ok) return;
      const r = await prune(c, target, ring);
      if (r.deleted.length || r.kept.length) this.log.info({ deleted: r.deleted, kept_by_holds: r.kept, target: target.url }, 'expired archive objects pruned');
    } catch (err) {
      this.log.error({ target: target.url, ...errFields(err) }, 'archive prune failed');
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** Deletes the objects of removed rows that are due (object_deletions), from the
   * configured targets; needs the archiver role (the worker's storage login). */
  async drainObjects(): Promise<void> {
    const setup = this.cfg.objects;
    if (setup.targets.size === 0) return;
    const c = new pg.Client(pinned({ connectionString: this.cfg.databaseUrl, application_name: 'pg-retention worker: objects' }));
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query(`select set_config('retention.actor', $1, false)`, [this.actor]);
      const { rows: [m] } = await c.query<{ ok: boolean }>(`select pg_has_role(current_user, 'retention_archiver', 'MEMBER') as ok`);
      if (!m?.ok) {
        this.log.warn({ targets: [...setup.targets.keys()] }, 'PG_RETENTION_OBJECT_TARGETS is set but this login is not in retention_archiver: objects are not deleted');
        return;
      }
      const r = await drainObjects(c, setup);
      this.metrics.objectsDeleted.inc({ outcome: 'deleted' }, r.deleted);
      this.metrics.objectsDeleted.inc({ outcome: 'kept' }, r.kept);
      this.metrics.objectsDeleted.inc({ outcome: 'failed' }, r.failed);
      this.metrics.objectsDeleted.inc({ outcome: 'dead' }, r.dead);
      if (r.deleted || r.kept || r.failed || r.dead) this.log.info({ ...r }, 'object deletions drained');
      if (r.dead) this.log.error({ dead: r.dead }, 'object deletions failed every attempt (object_deletion_failed notified; pg-retention objects retry)');
    } catch (err) {
      this.log.error(errFields(err), 'object deletion failed; the entries stay queued');
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** Prunes the store of every enabled backup policy whose store this worker knows. */
  async pruneBackupStores(): Promise<void> {
    const stores = this.cfg.backupStores;
    if (stores.size === 0) return;
    const c = new pg.Client(pinned({ connectionString: this.cfg.databaseUrl, application_name: 'pg-retention worker: backups' }));
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query(`select set_config('retention.actor', $1, false)`, [this.actor]);
      const { rows: [m] } = await c.query<{ ok: boolean }>(`select pg_has_role(current_user, 'retention_archiver', 'MEMBER') as ok`);
      if (!m?.ok) {
        this.log.warn({ stores: [...stores.keys()] }, 'PG_RETENTION_BACKUP_STORES is set but this login is not in retention_archiver: backups are not pruned');
        return;
      }
      const { rows } = await c.query<{ name: string; store: string }>(`select name, store from retention.backup_policies where enabled order by name`);
      for (const p of rows) {
        const store = stores.get(p.store);
        if (!store) {
          this.log.warn({ backup_policy: p.name, store: p.store }, 'backup store not in PG_RETENTION_BACKUP_STORES: not pruned');
          continue;
        }
        try {
          const r = await pruneBackups(c, p.name, store, { execute: true, settleMs: this.cfg.backupSettleMs });
          this.metrics.backupsPruned.inc({ policy: p.name, outcome: 'deleted' }, r.deleted.length);
          this.metrics.backupsPruned.inc({ policy: p.name, outcome: 'failed' }, r.failed.length);
          if (r.deleted.length || r.failed.length || r.cancelled.length || r.reconciled) {
            this.log.info({ backup_policy: p.name, deleted: r.deleted, failed: r.failed, kept_by_hold: r.cancelled.map((x) => x.name), settled: r.reconciled }, 'backups pruned');
          }
        } catch (err) {
          this.log.error({ backup_policy: p.name, ...errFields(err) }, 'backup pruning failed');
        }
      }
    } catch (err) {
      this.log.error(errFields(err), 'backup pruning failed');
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** Moves archived rows to cold storage after a run (when keys are configured). A failure
   * is logged and alerted (archive_failed); the rows stay in the database for next time. */
  async offload(policy: string): Promise<void> {
    const { target, ring } = this.cfg.archive;
    // Whether the policy archives, as the database decides it (policy_settings: the
    // archive setting, or its default with approval).
    const { rows: [p] } = await this.pool.query<{ value: string }>(
      `select value from retention.policy_settings($1) where setting = 'archive'`, [policy]).catch(() => ({ rows: [] }));
    if (p?.value !== 'true') return;
    if (!ring) {
      this.log.warn({ policy }, 'archived rows stay in the database: PG_RETENTION_ARCHIVE_KEYS is not set');
      return;
    }
    const c = new pg.Client(pinned({ connectionString: this.cfg.databaseUrl, application_name: 'pg-retention worker: archive' }));
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query(`select set_config('retention.actor', $1, false)`, [this.actor]);
      const { rows: [m] } = await c.query<{ ok: boolean }>(`select pg_has_role(current_user, 'retention_archiver', 'MEMBER') as ok`);
      if (!m?.ok) {
        this.log.warn({ policy }, 'archived rows stay in the database: the worker\'s login is not a member of retention_archiver (GRANT retention_archiver TO <login>)');
        return;
      }
      const r = await offload(c, target, ring, {
        onObject: (key, rows) => this.log.info({ policy, object_key: key, rows, target: target.url }, 'archive object written and verified'),
      });
      if (r.objects) this.metrics.archivedRows.inc(r.rows);
      if (r.undeleted.length) {
        this.log.warn({ policy, target: target.url, keys: r.undeleted }, 'unfinished archive objects could not be deleted from storage; the next offload tries again');
      }
    } catch (err) {
      this.log.error({ policy, target: target.url, ...errFields(err) }, 'archive offload failed; the rows of an unfinished object stay in the database (an object the database may have recorded verified stays in storage)');
    } finally {
      await c.end().catch(() => {});
    }
  }

  private async readRun(runId: string | null, jobId: string): Promise<RunRow | null> {
    const { rows } = await this.pool.query<RunRow>(
      `select run_id, status, action, eligible, held_back, affected, batches, error_code, error,
              flagged, flags_cancelled,
              extract(epoch from coalesce(finished_at, clock_timestamp()) - started_at)::float8 as seconds
         from retention.runs
        where case when $1::bigint is not null then run_id = $1::bigint else job_id = $2 end
        order by run_id desc limit 1`, [runId, jobId]);
    return rows[0] ?? null;
  }

  /** Asks every run in progress to stop after its current batch (again every 250 ms, so
   * a run still setting up when the signal came is caught too). Resolves when all ended. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.active.keys()].map((id) => this.stopOne(id)));
  }

  private async stopOne(jobId: string): Promise<void> {
    const a = this.active.get(jobId);
    if (!a) return;
    let ended = false;
    void a.done.then(() => (ended = true));
    while (!ended) {
      await this.pool.query(
        `select retention.request_stop(run_id) from retention.runs where job_id = $1 and status = 'running'`, [jobId])
        .catch((err) => this.log.warn({ job_id: jobId, ...errFields(err) }, 'cannot request stop'));
      await Promise.race([a.done, new Promise((r) => setTimeout(r, 250))]);
    }
  }

  /** Past the grace period: cancel the statements still running (their open batch rolls back). */
  async cancelAll(): Promise<number> {
    const pids = [...this.active.values()].map((a) => a.pid).filter((p): p is number => p !== null);
    for (const pid of pids) await this.pool.query('select pg_cancel_backend($1)', [pid]).catch(() => {});
    await Promise.all([...this.active.values()].map((a) => a.done));
    return pids.length;
  }
}

const num = (v: string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));
