// The worker and an approval-gated, archiving policy: its slot proposes instead of running,
// waits while the proposal is pending, and once a second person approved it queues the
// proposal's run at its next sync (not a month later at the next slot), runs it and moves the archived rows into a sealed, verified object in the storage
// directory. A real `pg-retention worker` logged in as retention_runner and
// retention_archiver only.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../runner/config.ts';
import { installJobSchema } from '../runner/migrate.ts';
import { loginAs, useTestDatabase } from './support/db.ts';
import { count, makeEvents } from './support/fixtures.ts';
import { startWorker, type WorkerProcess } from './support/worker.ts';

const db = useTestDatabase();
const QUEUE = 'retention-run';
const tag = randomBytes(3).toString('hex');
const LOGIN = `wa_worker_${tag}`;
const APPROVER = `wa_appr_${tag}`;
let boss: PgBoss;
let w: WorkerProcess | undefined;

beforeAll(async () => {
  await installJobSchema(db.url, loadConfig({ DATABASE_URL: db.url }));
  await db.q(`create role ${LOGIN} login password 'pw' in role retention_runner, retention_archiver`);
  await makeEvents(db, 'app.wa', 300, 100);
  await db.q(`grant usage on schema app to retention_runner`);
  await db.q(`grant select, update, delete on app.wa to retention_runner`);
  boss = new PgBoss({ connectionString: db.url, schema: 'retention_jobs', schedule: false, supervise: false });
  boss.on('error', () => {});
  await boss.start();
});
afterAll(async () => {
  if (w && w.proc.exitCode === null) {
    w.proc.kill('SIGKILL');
    await w.exited;
  }
  await boss.stop({ graceful: false, close: true }).catch(() => {});
  for (const r of [LOGIN, APPROVER]) {
    await db.q(`drop owned by ${r}`).catch(() => {});
    await db.q(`drop role if exists ${r}`).catch(() => {});
  }
});

describe('the worker and an approval-gated policy', () => {
  it('proposes on its slot, waits for approval, then runs the proposal and archives to a verified object', async () => {
    await db.q(`select retention.set_policy('wa', 'app.wa', 'delete', 'created_at', p_retain => '30 days', p_approval => 'required')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-wa-'));
    const u = new URL(db.url);
    u.username = LOGIN;
    u.password = 'pw';
    w = startWorker({
      DATABASE_URL: u.toString(), PG_RETENTION_ACTOR: 'test-worker', PG_RETENTION_STORAGE: dir,
      PG_RETENTION_ARCHIVE_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    });
    await w.waitFor((l) => l.msg === 'worker ready');
    const before = await count(db, 'app.wa');

    await boss.send(QUEUE, { policy: 'wa' });
    const proposed = await w.waitFor((l) => l.msg === 'proposal made; waiting for approval' && l.policy === 'wa');
    expect(await count(db, `retention.proposals where policy_name = 'wa' and status = 'pending'`)).toBe(1);
    await boss.send(QUEUE, { policy: 'wa' });
    await w.waitFor((l) => l.msg === 'waiting for approval of the proposal' && l.proposal_id === proposed.proposal_id);
    expect(await count(db, 'app.wa')).toBe(before);
    expect(await count(db, `retention.runs where policy_name = 'wa'`)).toBe(0);

    const approver = await loginAs(db, APPROVER, 'retention_approver');
    await approver.query(`select retention.approve_proposal($1, 'checked')`, [proposed.proposal_id]);
    await approver.end();
    const eligible = Number((await db.q(`select rows from retention.proposals where proposal_id = $1`, [proposed.proposal_id]))[0]!.rows);
    expect(eligible).toBeGreaterThan(0);

    // No slot needed: the next sync queues the approved proposal's run.
    await w.waitFor((l) => l.msg === 'approved proposal: run queued' && l.proposal_id === proposed.proposal_id);
    const finished = await w.waitFor((l) => l.msg === 'run finished' && l.policy === 'wa');
    expect(finished).toMatchObject({ status: 'completed', affected: eligible });
    expect(await count(db, 'app.wa')).toBe(before - eligible);
    expect(await count(db, `retention.proposals where proposal_id = $1 and status = 'executed'`, [proposed.proposal_id])).toBe(1);
    // The rows went into a verified object in the directory, none is left in the database.
    expect(await count(db, 'retention.archived_rows')).toBe(0);
    const [obj] = await db.q(`select object_key, rows, status from retention.archive_objects`);
    expect(obj).toMatchObject({ status: 'verified', rows: String(eligible) });
    expect(readdirSync(dir, { recursive: true }).map(String)).toContain(obj!.object_key);
  }, 90_000);
});
