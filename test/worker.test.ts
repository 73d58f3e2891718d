// The worker as operators run it: real `pg-retention worker` processes against real
// PostgreSQL, started, signalled and killed, logged in as a member of retention_runner
// and nothing else (no CREATE on the database: `migrate`, as the owner, installed the job
// schema). Outcomes are read from the ledger, the tables and pg-boss's own job records.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../runner/config.ts';
import { installJobSchema } from '../runner/migrate.ts';
import { useTestDatabase } from './support/db.ts';
import { count, makeEvents } from './support/fixtures.ts';
import { parseMetrics, startWorker, type WorkerProcess } from './support/worker.ts';

const db = useTestDatabase();
const QUEUE = 'retention-run';
let boss: PgBoss;
const workers: WorkerProcess[] = [];

const WORKER_LOGIN = `worker_${process.pid}`;
let workerUrl = '';

function worker(env: Record<string, string> = {}): WorkerProcess {
  const w = startWorker({ DATABASE_URL: workerUrl, PG_RETENTION_ACTOR: 'test-worker', ...env });
  workers.push(w);
  return w;
}

async function stop(w: WorkerProcess): Promise<number | null> {
  if (w.proc.exitCode === null) w.proc.kill('SIGTERM');
  return w.exited;
}

/** A table whose deletes take ~msPerRow each (a row trigger sleeps), so runs last long
 * enough to be interrupted. `eligible` rows are 1-100 days old (all past a 0-day cutoff
 * with p_retain => '1 day' since the fixtures date from 2026-01-01). */
async function slowTable(table: string, rows: number, msPerRow: number): Promise<void> {
  await makeEvents(db, table, rows, 100);
  await db.q(`create or replace function app.slow_delete() returns trigger language plpgsql as $$
                begin perform pg_sleep(tg_argv[0]::float8 / 1000); return old; end $$`);
  await db.q(`create trigger slow before delete on ${table} for each row execute function app.slow_delete('${msPerRow}')`);
}

interface RunRow { run_id: string; status: string; affected: string; batches: number; job_id: string | null; started_at: Date; finished_at: Date | null; started_by: string }
const runsOf = (policy: string) =>
  db.q<RunRow>(`select run_id, status, affected, batches, job_id, started_at, finished_at, started_by
                  from retention.runs where policy_name = $1 and mode = 'live' order by run_id`, [policy]);

beforeAll(async () => {
  // As `pg-retention migrate` does: the job schema, installed by the owner.
  await installJobSchema(db.url, loadConfig({ DATABASE_URL: db.url }));
  await db.q(`drop role if exists ${WORKER_LOGIN}`);
  await db.q(`create role ${WORKER_LOGIN} login password 'pw' in role retention_runner`);
  // The DBA's grants on the application's tables (check_setup's GRANTs, for every table).
  await db.q(`create schema if not exists app`);
  await db.q(`grant usage on schema app to retention_runner`);
  await db.q(`alter default privileges in schema app grant select, update, delete on tables to retention_runner`);
  const u = new URL(db.url);
  u.username = WORKER_LOGIN;
  u.password = 'pw';
  workerUrl = u.toString();
  // The test talks to the same queue.
  boss = new PgBoss({ connectionString: db.url, schema: 'retention_jobs', schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
});

// A failed test must not leave its workers taking the next test's jobs.
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => (w.proc.exitCode === null ? (w.proc.kill('SIGKILL'), w.exited) : null)));
});

afterAll(async () => {
  await boss.stop({ graceful: false, close: true }).catch(() => {});
});

describe('the worker\'s login', () => {
  it('is a member of retention_runner only, with no CREATE on the database or any schema', async () => {
    const [r] = await db.q(`select r.rolsuper, r.rolcreaterole, r.rolcreatedb, has_database_privilege($1, current_database(), 'CREATE') as db_create,
                                   (select array_agg(b.rolname::text order by b.rolname) from pg_auth_members m join pg_roles b on b.oid = m.roleid where m.member = r.oid) as member_of,
                                   (select count(*)::int from pg_namespace n where has_schema_privilege($1, n.oid, 'CREATE')) as schemas_create
                              from pg_roles r where r.rolname = $1`, [WORKER_LOGIN]);
    expect(r).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, db_create: false, member_of: ['retention_runner'], schemas_create: 0 });
  });
});

describe('pg-retention worker', () => {
  it('a schedule fires and the ledger shows the run with its pg-boss job id; disabling the policy removes the schedule', async () => {
    await makeEvents(db, 'app.w1', 400, 100);
    await db.q(`select retention.set_policy('w1', 'app.w1', 'delete', 'created_at', p_retain => '1 day',
                  p_predicate => 'status = ''failed''', p_schedule => '* * * * *')`);
    const w = worker();
    await w.waitFor((l) => l.msg === 'schedule added' && l.policy === 'w1');
    // Fires at the next minute boundary.
    const line = await w.waitFor((l) => l.msg === 'run finished' && l.policy === 'w1', 80_000);
    const [run] = await runsOf('w1');
    expect(run).toMatchObject({ status: 'completed', affected: '100', job_id: line.job_id, started_by: 'test-worker' });
    expect(line).toMatchObject({ status: 'completed', affected: 100, run_id: run!.run_id });
    expect(await count(db, 'app.w1')).toBe(300);
    const job = await boss.getJobById(QUEUE, String(run!.job_id));
    expect(job).toMatchObject({ state: 'completed', singletonKey: 'w1', data: { policy: 'w1' } });

    await db.q(`select retention.set_policy('w1', 'app.w1', 'delete', 'created_at', p_retain => '1 day',
                  p_predicate => 'status = ''failed''', p_schedule => '* * * * *', p_enabled => false)`);
    await w.waitFor((l) => l.msg.startsWith('schedule removed') && l.policy === 'w1');
    expect((await boss.getSchedules(QUEUE)).map((s) => s.key)).not.toContain('w1');
    expect(await stop(w)).toBe(0);
  }, 120_000);

  it('two workers never run one policy at once, over many jobs (pg-boss singleton and the database lock)', async () => {
    // Each run stops at its 300 ms time budget, so the table takes many runs to empty.
    await slowTable('app.w2', 3000, 1);
    await db.q(`select retention.set_policy('w2', 'app.w2', 'delete', 'created_at', p_retain => '1 day', p_batch_size => 50, p_time_budget => '300 milliseconds')`);
    const a = worker({ PG_RETENTION_CONCURRENCY: '3' });
    const b = worker({ PG_RETENTION_CONCURRENCY: '3' });
    await Promise.all([a.waitFor((l) => l.msg === 'worker ready'), b.waitFor((l) => l.msg === 'worker ready')]);
    // The worker's own path (one singleton key per policy) and, to test the database's
    // guard too, jobs under other keys that pg-boss would happily run side by side.
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await boss.send(QUEUE, { policy: 'w2' }, { singletonKey: i % 2 ? 'w2' : `w2-extra-${i}` });
      if (id) sent.push(id);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(sent.length).toBeGreaterThanOrEqual(20);
    // Every job settles.
    for (const id of sent) {
      await expect.poll(async () => (await boss.getJobById(QUEUE, id))?.state, { timeout: 60_000, interval: 200 }).toBe('completed');
    }
    const runs = await runsOf('w2');
    const real = runs.filter((r) => r.status !== 'already_running');
    expect(runs.length).toBe(sent.length);
    expect(real.length).toBeGreaterThanOrEqual(5);
    expect(runs.some((r) => r.status === 'already_running')).toBe(true);
    const ordered = [...real].sort((x, y) => x.started_at.getTime() - y.started_at.getTime());
    for (let i = 1; i < ordered.length; i++) {
      expect(ordered[i]!.started_at.getTime(), `run ${ordered[i]!.run_id} started before run ${ordered[i - 1]!.run_id} finished`)
        .toBeGreaterThanOrEqual(ordered[i - 1]!.finished_at!.getTime());
    }
    // Both workers took jobs.
    const byWorker = () => [a, b].map((w) => w.lines.filter((l) => l.msg === 'run finished' && l.policy === 'w2').length);
    await expect.poll(() => byWorker().every((n) => n > 0), { timeout: 5000 }).toBe(true);
    // Nothing deleted that the ledger does not count.
    const affected = runs.reduce((s, r) => s + Number(r.affected), 0);
    expect(await count(db, 'app.w2')).toBe(3000 - affected);
    expect(await stop(a)).toBe(0);
    expect(await stop(b)).toBe(0);
  }, 120_000);

  it('SIGKILL mid-run: a new worker takes the job over and completes the policy, every deleted row counted', async () => {
    await slowTable('app.w3', 2000, 2);
    await db.q(`select retention.set_policy('w3', 'app.w3', 'delete', 'created_at', p_retain => '1 day', p_batch_size => 100)`);
    const a = worker();
    await a.waitFor((l) => l.msg === 'worker ready');
    const jobId = await boss.send(QUEUE, { policy: 'w3' }, { singletonKey: 'w3' });
    await expect.poll(async () => Number((await runsOf('w3'))[0]?.batches ?? 0), { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    a.proc.kill('SIGKILL');
    await a.exited;
    const [killed] = await runsOf('w3');
    expect(killed!.status).toBe('running');

    const b = worker();
    // pg-boss notices the silent heartbeat, retries the job; b runs it to the end.
    await expect.poll(async () => (await boss.getJobById(QUEUE, jobId!))?.state, { timeout: 60_000, interval: 250 }).toBe('completed');
    const runs = await runsOf('w3');
    expect(runs.map((r) => r.status)).toEqual(['interrupted', 'completed']);
    expect(runs.every((r) => r.job_id === jobId)).toBe(true);
    const [job] = [await boss.getJobById(QUEUE, jobId!)];
    expect(job!.retryCount).toBeGreaterThanOrEqual(1);
    // Rows deleted by committed batches of the killed run are in its ledger row; the
    // batch in flight was rolled back. Together they account for every row.
    const affected = runs.reduce((s, r) => s + Number(r.affected), 0);
    expect(affected).toBe(2000);
    expect(await count(db, 'app.w3')).toBe(0);
    const batchRows = await db.q<{ n: string }>(`select sum(rows) as n from retention.run_batches where run_id = any($1::bigint[])`, [runs.map((r) => r.run_id)]);
    expect(Number(batchRows[0]!.n)).toBe(2000);
    expect(await stop(b)).toBe(0);
  }, 120_000);

  it('SIGTERM mid-run: the batch finishes, the run is recorded as stopped, the rest is queued, exit 0', async () => {
    await slowTable('app.w4', 2000, 2);
    await db.q(`select retention.set_policy('w4', 'app.w4', 'delete', 'created_at', p_retain => '1 day', p_batch_size => 100)`);
    const a = worker({ PG_RETENTION_SHUTDOWN_GRACE: '20s' });
    await a.waitFor((l) => l.msg === 'worker ready');
    const jobId = await boss.send(QUEUE, { policy: 'w4' }, { singletonKey: 'w4' });
    await expect.poll(async () => Number((await runsOf('w4'))[0]?.batches ?? 0), { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    const [run] = await runsOf('w4');
    expect(run!.status).toBe('stopped_requested');
    expect(Number(run!.affected)).toBeGreaterThan(0);
    expect(Number(run!.affected)).toBeLessThan(2000);
    expect(Number(run!.affected) % 100).toBe(0); // whole batches only
    expect(await count(db, 'app.w4')).toBe(2000 - Number(run!.affected));
    expect((await boss.getJobById(QUEUE, jobId!))?.state).toBe('completed');
    const stopped = await a.waitFor((l) => l.msg === 'run stopped for shutdown');
    expect(stopped.continuation_job_id).toEqual(expect.any(String));
    // Another worker carries on from the continuation job.
    const b = worker();
    await expect.poll(async () => (await boss.getJobById(QUEUE, String(stopped.continuation_job_id)))?.state, { timeout: 60_000, interval: 250 }).toBe('completed');
    expect(await count(db, 'app.w4')).toBe(0);
    expect((await runsOf('w4')).map((r) => r.status)).toEqual(['stopped_requested', 'completed']);
    expect(await stop(b)).toBe(0);
  }, 120_000);

  it('a lock timeout is transient: the job is retried with backoff and completes once the lock is gone', async () => {
    await makeEvents(db, 'app.w7', 300, 100);
    await db.q(`select retention.set_policy('w7', 'app.w7', 'delete', 'created_at', p_retain => '1 day', p_lock_timeout => '200 milliseconds')`);
    const blocker = await db.connect();
    await blocker.query('begin');
    await blocker.query('lock table app.w7 in share mode'); // blocks DELETE, not the count
    const w = worker();
    await w.waitFor((l) => l.msg === 'worker ready');
    const jobId = await boss.send(QUEUE, { policy: 'w7' }, { singletonKey: 'w7' });
    const first = await w.waitFor((l) => l.msg === 'run stopped on a lock timeout' && l.policy === 'w7');
    expect(first).toMatchObject({ job_id: jobId, status: 'stopped_lock_timeout', affected: 0, will_retry: true });
    await blocker.query('rollback');
    await blocker.end();
    await expect.poll(async () => (await boss.getJobById(QUEUE, jobId!))?.state, { timeout: 30_000, interval: 250 }).toBe('completed');
    const runs = await runsOf('w7');
    expect(runs.at(-1)).toMatchObject({ status: 'completed', affected: '300', job_id: jobId });
    expect(runs.slice(0, -1).every((r) => r.status === 'stopped_lock_timeout' && r.job_id === jobId)).toBe(true);
    expect((await boss.getJobById(QUEUE, jobId!))!.retryCount).toBe(runs.length - 1);
    expect(await count(db, 'app.w7')).toBe(0);
    expect(await stop(w)).toBe(0);
  });

  it('an application\'s error under a code of ours or a lock timeout\'s keeps no value in the worker\'s log or the job\'s output (atk70)', async () => {
    for (const [t, code] of [['w70a', '55P03'], ['w70b', 'RT001']] as const) {
      await db.q(`create table app.${t} (id int primary key, email text, created_at timestamptz not null)`);
      await db.q(`insert into app.${t} values (1, 'dora@${t}.example', now() - interval '3 years'), (2, 'eve@${t}.example', now() - interval '2 years')`);
      await db.q(`create function app.${t}_guard() returns trigger language plpgsql as $$
                    begin raise exception 'account % is disputed', old.email using errcode = '${code}', hint = old.email; end $$`);
      await db.q(`create trigger guard before delete on app.${t} for each row execute function app.${t}_guard()`);
      await db.q(`select retention.set_policy('${t}', 'app.${t}', 'delete', 'created_at', p_retain => '1 day')`);
    }
    const w = worker();
    await w.waitFor((l) => l.msg === 'worker ready');
    await boss.send(QUEUE, { policy: 'w70a' }, { singletonKey: 'w70a', retryLimit: 0 });
    const failed = await boss.send(QUEUE, { policy: 'w70b' }, { singletonKey: 'w70b', retryLimit: 0 });
    const stopped = await w.waitFor((l) => l.msg === 'run stopped on a lock timeout' && l.policy === 'w70a');
    expect(stopped.error).toMatch(/^the application's code raised an error \(SQLSTATE 55P03\)$/);
    const line = await w.waitFor((l) => l.msg === 'run failed' && l.policy === 'w70b');
    expect(line).toMatchObject({ code: 'RT001', error: expect.stringMatching(/the application's code raised an error \(SQLSTATE RT001\)$/) });
    await expect.poll(async () => (await boss.getJobById(QUEUE, failed!))?.state, { timeout: 30_000, interval: 250 }).toMatch(/failed|deadletter/);
    const job = await boss.getJobById(QUEUE, failed!);
    expect(JSON.stringify(job!.output)).toMatch(/SQLSTATE RT001/);
    for (const text of [JSON.stringify(w.lines), JSON.stringify(job!.output), w.stderr()]) {
      expect(text).not.toMatch(/dora|eve@/);
    }
    // The runs keep the messages (an erasure removes them there).
    expect(await count(db, `retention.runs where policy_name in ('w70a', 'w70b') and error like '%it said: account dora@%'`)).toBe(2);
    expect(await stop(w)).toBe(0);
  });

  it('detaches partitions CONCURRENTLY: the application writes while the detach waits for its open transaction', async () => {
    const owner = `wp_owner_${process.pid}`;
    await db.q(`drop role if exists ${owner}`);
    await db.q(`create role ${owner} nologin`);
    await db.q(`create table app.wp (id bigint, created_at timestamptz not null) partition by range (created_at)`);
    for (const m of [1, 2, 3]) {
      await db.q(`create table app.wp_${m} partition of app.wp for values from ('2025-0${m}-01Z') to ('2025-0${m + 1}-01Z')`);
      await db.q(`alter table app.wp_${m} owner to ${owner}`);
    }
    await db.q(`create table app.wp_now partition of app.wp for values from ('2025-04-01Z') to ('2100-01-01Z')`);
    await db.q(`alter table app.wp_now owner to ${owner}`);
    await db.q(`alter table app.wp owner to ${owner}`);
    await db.q(`insert into app.wp select i, '2025-01-01Z'::timestamptz + i * interval '1 hour' from generate_series(0, 2000) i`);
    await db.q(`grant ${owner} to ${WORKER_LOGIN}`);   // DETACH and DROP want the table's owner (check_setup asks for it)
    await db.q(`select retention.set_policy('wp', 'app.wp', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_max_rows_per_run => 1000000, p_lock_timeout => '30 seconds')`);
    const expired = await count(db, `app.wp where created_at < '2025-04-01Z'`);
    const open = await db.connect();
    await open.query(`begin`);
    await open.query(`insert into app.wp values (-1, now())`);
    const w = worker();
    await w.waitFor((l) => l.msg === 'worker ready');
    const jobId = await boss.send(QUEUE, { policy: 'wp' }, { singletonKey: 'wp' });
    // The worker's detach waits for the open transaction...
    await expect.poll(async () => (await db.q(`select count(*)::int as n from pg_stat_activity
                                                 where application_name = 'pg-retention worker: wp' and wait_event_type = 'Lock'
                                                   and query like 'ALTER TABLE app.wp DETACH PARTITION % CONCURRENTLY'`))[0]!.n,
                      { timeout: 30_000, interval: 100 }).toBe(1);
    // ...while the application writes and reads the table, not queued behind it.
    const app = await db.connect();
    await app.query(`set lock_timeout = '2s'`);
    for (let i = 0; i < 5; i++) await app.query(`insert into app.wp values ($1, now())`, [-10 - i]);
    await app.end();
    await open.query(`commit`);
    await open.end();
    await expect.poll(async () => (await boss.getJobById(QUEUE, jobId!))?.state, { timeout: 30_000, interval: 250 }).toBe('completed');
    const [run] = await db.q(`select status, affected::int, spec ->> 'detach' as detach from retention.runs where policy_name = 'wp'`);
    expect(run).toEqual({ status: 'completed', affected: expired, detach: 'concurrently' });
    expect((await db.q(`select partition_name, disposition from retention.run_batches b join retention.runs r using (run_id)
                          where r.policy_name = 'wp' order by batch_no`)).map((b) => `${b.partition_name} ${b.disposition}`))
      .toEqual(['app.wp_1 dropped', 'app.wp_2 dropped', 'app.wp_3 dropped']);
    expect(await count(db, `app.wp where id < 0`)).toBe(6);
    expect(await count(db, `app.wp`)).toBe(2001 - expired + 6);
    expect(await stop(w)).toBe(0);
  });

  it('/metrics counters agree with the ledger; /healthz and /readyz answer', async () => {
    await makeEvents(db, 'app.w5', 600, 100);
    await db.q(`select retention.set_policy('w5', 'app.w5', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'user_id', p_max_rows_per_run => 250, p_batch_size => 100)`);
    await db.q(`select retention.place_hold('subject', '3', 'litigation', p_placed_by => 'legal@example.com')`);
    const w = worker();
    await w.waitFor((l) => l.msg === 'worker ready');
    expect(await w.get('/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect(await w.get('/readyz')).toEqual({ status: 200, body: '{"status":"ready"}' });
    // One run refused by its ceiling (540 > 250), one completed after the ceiling is raised.
    const refused = await boss.send(QUEUE, { policy: 'w5' }, { singletonKey: 'w5' });
    await expect.poll(async () => (await boss.getJobById(QUEUE, refused!))?.state, { timeout: 30_000 }).toBe('failed');
    await db.q(`select retention.set_policy('w5', 'app.w5', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'user_id', p_max_rows_per_run => 1000, p_batch_size => 100)`);
    const ok = await boss.send(QUEUE, { policy: 'w5' }, { singletonKey: 'w5' });
    await expect.poll(async () => (await boss.getJobById(QUEUE, ok!))?.state, { timeout: 30_000 }).toBe('completed');
    await w.waitFor((l) => l.msg === 'run finished' && l.policy === 'w5');

    const m = parseMetrics((await w.get('/metrics')).body);
    const ledger = await db.q<{ status: string; n: number; affected: string; secs: number }>(
      `select status, count(*)::int as n, sum(affected) as affected from retention.runs
        where policy_name = 'w5' and job_id is not null group by status order by status`);
    expect(ledger.map((r) => r.status)).toEqual(['completed', 'refused']);
    for (const r of ledger) expect(m.get(`pg_retention_runs_total{policy="w5",status="${r.status}"}`)).toBe(r.n);
    expect(m.get('pg_retention_rows_affected_total{policy="w5",action="delete"}')).toBe(540); // 600 minus user 3's 60 held
    expect(Number(ledger.find((r) => r.status === 'completed')!.affected)).toBe(540);
    expect(m.get('pg_retention_run_duration_seconds_count{policy="w5"}')).toBe(2);
    expect(m.get('pg_retention_legal_holds_active{scope="subject"}')).toBe(1);
    const [last] = await db.q<{ t: number }>(`select extract(epoch from max(finished_at))::float8 as t from retention.runs where policy_name = 'w5' and status = 'completed'`);
    expect(m.get('pg_retention_last_success_timestamp_seconds{policy="w5"}')).toBeCloseTo(last!.t, 3);
    // The backlog is measured every second: 60 held rows remain, none would be affected.
    await expect.poll(async () => parseMetrics((await w.get('/metrics')).body).get('pg_retention_eligible_rows{policy="w5"}'), { timeout: 10_000 }).toBe(0);
    expect(m.get('pg_retention_notifications{status="pending"}')).toBeGreaterThanOrEqual(1); // the refusal
    expect(m.has('pg_retention_worker_process_resident_memory_bytes')).toBe(true);
    expect((await w.get('/nope')).status).toBe(404);
    expect(await stop(w)).toBe(0);
  }, 120_000);

  it('a policy that missed its schedule is reported overdue: metric, warning and one notification', async () => {
    await makeEvents(db, 'app.w6', 10);
    await db.q(`select retention.set_policy('w6', 'app.w6', 'delete', 'created_at', p_schedule => '0 0 1 1 *', p_time_zone => 'Europe/Berlin')`);
    await db.q(`update retention.policies set created_at = now() - interval '2 years' where name = 'w6'`);
    const w = worker({ PG_RETENTION_OVERDUE_AFTER: '1s' });
    const warn = await w.waitFor((l) => l.msg.startsWith('policy is overdue') && l.policy === 'w6');
    const lastNewYear = `${new Date().getUTCFullYear() - 1}-12-31T23:00:00.000Z`; // midnight in Berlin
    expect(warn.due_at).toBe(lastNewYear);
    await expect.poll(async () => parseMetrics((await w.get('/metrics')).body).get('pg_retention_policy_overdue{policy="w6"}')).toBe(1);
    await w.waitFor((l) => l.msg === 'worker ready');
    await new Promise((r) => setTimeout(r, 1500)); // more sync passes: still one notification
    const notes = await db.q<{ kind: string; payload: { due_at: string } }>(`select kind, payload from retention.notifications where policy_name = 'w6'`);
    expect(notes.map((n) => n.kind)).toEqual(['policy_overdue']);
    expect(new Date(notes[0]!.payload.due_at).toISOString()).toBe(lastNewYear);
    expect(await stop(w)).toBe(0);
  });

  it('a stored schedule the worker cannot read (written before set_policy refused it) is an error and counts as overdue', async () => {
    await makeEvents(db, 'app.w9', 10);
    await db.q(`select retention.set_policy('w9', 'app.w9', 'delete', 'created_at', p_schedule => '0 3 * * *')`);
    await db.q(`update retention.policies set schedule = '@daily ' where name = 'w9'`);  // audited as a direct write
    const w = worker({});
    const line = await w.waitFor((l) => l.msg.startsWith('policy has a schedule the worker cannot read') && l.policy === 'w9');
    expect(line).toMatchObject({ level: 'error', schedule: '@daily ' });
    await expect.poll(async () => parseMetrics((await w.get('/metrics')).body).get('pg_retention_policy_overdue{policy="w9"}')).toBe(1);
    await db.q(`select retention.drop_policy('w9')`);
    expect(await stop(w)).toBe(0);
  });

  it('a run of an inactive-accounts policy from the queue logs the accounts it flagged', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.w8_users (id bigint primary key, org_id text, last_login_at timestamptz not null, deleted_at timestamptz)`);
    // Ids no other test of this file holds (subject holds match every policy's subject column).
    await db.q(`insert into app.w8_users select i, 'org-' || i % 2, now() - interval '3 years', null from generate_series(8001, 8005) i`);
    await db.q(`select retention.set_inactive_accounts_policy('w8', 'app.w8_users', p_tenant_column => 'org_id')`);
    const w = worker({});
    await w.waitFor((l) => l.msg === 'worker ready');
    await boss.send(QUEUE, { policy: 'w8' }, { singletonKey: 'w8' });
    const line = await w.waitFor((l) => l.msg === 'run finished' && l.policy === 'w8');
    expect(line).toMatchObject({ status: 'completed', affected: 0, flagged: 5, flags_cancelled: 0 });
    expect(await count(db, `retention.notifications where kind = 'rows_flagged' and policy_name = 'w8'`)).toBe(2);
    expect(await count(db, `app.w8_users where deleted_at is null`)).toBe(5);
    expect(await stop(w)).toBe(0);
  });

  it('an erasure request past its due date is reported overdue: warning, metric and one notification', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.w7_people (id text primary key)`);
    await db.q(`insert into app.w7_people values ('p-1')`);
    const [req] = await db.q(`select request_id from retention.request_erasure('app.w7_people', 'p-1', 'ticket 12')`);
    await db.q(`update retention.erasure_requests set requested_at = now() - interval '40 days', due_at = now() - interval '10 days' where request_id = $1`, [req!.request_id]);
    const w = worker({});
    const warn = await w.waitFor((l) => l.msg === 'erasure request is overdue');
    expect(warn.request_id).toBe(Number(req!.request_id));
    await expect.poll(async () => parseMetrics((await w.get('/metrics')).body).get('pg_retention_erasure_requests_overdue')).toBe(1);
    await new Promise((r) => setTimeout(r, 1500)); // more sync passes: still one notification
    const notes = await db.q(`select payload->>'request_id' as id from retention.notifications where kind = 'erasure_overdue'`);
    expect(notes).toEqual([{ id: String(req!.request_id) }]);
    expect(await stop(w)).toBe(0);
  });

  it('refuses to start on a bad environment variable, naming it (exit 2)', async () => {
    const w = worker({ PG_RETENTION_CONCURRENCY: 'many', PG_RETENTION_SHUTDOWN_GRACE: '30' });
    expect(await w.exited).toBe(2);
    expect(w.stderr()).toMatch(/PG_RETENTION_CONCURRENCY: expected a number of policies run at once from 1 to 32, got "many"/);
    expect(w.stderr()).toMatch(/PG_RETENTION_SHUTDOWN_GRACE: expected a duration such as 30s/);
    expect(w.stderr()).toMatch(/hint: see docs\/operator-guide.md/);
    expect(w.lines).toEqual([]);
    const w2 = worker({ PG_RETENTION_WEBHOOK_URL: 'https://hooks.example.com/x' });
    expect(await w2.exited).toBe(2);
    expect(w2.stderr()).toMatch(/PG_RETENTION_WEBHOOK_SECRET: required when PG_RETENTION_WEBHOOK_URL is set/);
  });

  it("stores last month's compliance report once, writes it to the storage target, and notifies report_ready", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'reports-'));
    try {
      const w = worker({ PG_RETENTION_STORAGE: dir });
      const stored = await w.waitFor((l) => l.msg === 'compliance report written to storage', 20_000);
      const [r] = await db.q<{ report_id: string; sha256: string; storage_key: string; month: string }>(
        `select report_id, sha256, storage_key, to_char(period_from, 'YYYY-MM') as month from retention.compliance_reports`);
      expect(String(stored.report_id)).toBe(r!.report_id);
      expect(r!.storage_key).toBe(`reports/${r!.month}.json`);
      const json = await readFile(path.join(dir, 'reports', `${r!.month}.json`), 'utf8');
      const [h] = await db.q<{ sha: string }>(`select encode(sha256(convert_to($1::jsonb::text, 'UTF8')), 'hex') as sha`, [json]);
      expect(h!.sha).toBe(r!.sha256);
      expect(await readFile(path.join(dir, 'reports', `${r!.month}.html`), 'utf8')).toContain(r!.sha256);
      expect(await count(db, `retention.notifications where kind = 'report_ready' and payload ->> 'sha256' = $1`, [r!.sha256])).toBe(1);
      // A second worker stores nothing again.
      await stop(w);
      const w2 = worker({ PG_RETENTION_STORAGE: dir });
      await w2.waitFor((l) => l.msg === 'worker ready', 20_000);
      await new Promise((res) => setTimeout(res, 500));
      expect(await count(db, 'retention.compliance_reports')).toBe(1);
      expect(w2.lines.some((l) => l.msg === 'compliance report stored')).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is not ready on a database without the retention schema, and says why', async () => {
    const url = new URL(db.url);
    const empty = `${db.name}_empty`;
    await db.q(`create database ${empty}`);
    try {
      url.pathname = `/${empty}`;
      const w = worker({ DATABASE_URL: url.toString() });
      await w.waitFor((l) => l.msg === 'retention schema not ready; waiting');
      expect(await w.get('/healthz')).toMatchObject({ status: 200 });
      const ready = await w.get('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).reason).toMatch(/migrations not applied yet: .*run pg-retention migrate/);
      expect(await stop(w)).toBe(0);
    } finally {
      await db.q(`drop database ${empty} with (force)`);
    }
  });
});
