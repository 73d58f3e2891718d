import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { AS_OF, count, makeEvents, slowRows } from './support/fixtures.ts';

const db = useTestDatabase();

async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Starts a slow run (each row costs ~1 ms) on its own connection; returns its backend pid. */
async function startSlowRun(policy: string) {
  const c = await db.connect();
  const [{ pid }] = (await c.query('select pg_backend_pid() as pid')).rows;
  const done = c.query(`call retention.run($1, p_as_of => $2)`, [policy, AS_OF]).then(
    (r) => ({ ok: true as const, rows: r.rows }),
    (e: unknown) => ({ ok: false as const, error: e }),
  );
  return { pid: pid as number, done, close: () => c.end().catch(() => {}) };
}

async function batchesOf(policy: string): Promise<number> {
  const [r] = await db.q(
    `select count(*)::int as n from retention.run_batches b join retention.runs r using (run_id)
      where r.policy_name = $1 and r.status = 'running'`, [policy]);
  return r!.n;
}

describe('legal holds', () => {
  it('a subject hold protects that subject\'s rows and preview counts them as held back', async () => {
    await makeEvents(db, 'app.h1', 1000, 100);
    await db.q(`select retention.set_policy('h1', 'app.h1', 'delete', 'created_at', p_retain => '10 days', p_subject_column => 'user_id')`);
    const [hold] = await db.q(`select * from retention.place_hold('subject', '3', 'Litigation Smith v. Acme', p_case_reference => 'CASE-17')`);
    const held = await count(db, `app.h1 where user_id = 3 and created_at < $1::timestamptz - interval '10 days'`, [AS_OF]);
    const [pv] = await db.q(`select * from retention.preview('h1', $1)`, [AS_OF]);
    expect(Number(pv!.held_back)).toBe(held);
    await db.call(`call retention.run('h1', p_as_of => $1)`, [AS_OF]);
    expect(await count(db, `app.h1 where user_id = 3 and created_at < $1::timestamptz - interval '10 days'`, [AS_OF])).toBe(held);
    expect(await count(db, `app.h1 where user_id <> 3 and created_at < $1::timestamptz - interval '10 days'`, [AS_OF])).toBe(0);
    const [run] = await db.q(`select * from retention.runs where policy_name = 'h1'`);
    expect(Number(run!.held_back)).toBe(held);
    expect(Number(run!.affected)).toBe(Number(pv!.would_affect));

    await db.q(`select retention.release_hold($1, 'Case closed')`, [hold!.hold_id]);
    expect(await sqlState(db.q(`select retention.release_hold($1, 'again')`, [hold!.hold_id]))).toBe('RT011');
    const audit = await db.q(`select action from retention.audit_log where object_type = 'legal_hold' order by audit_id`);
    expect(audit.map((a) => a.action)).toEqual(['hold.placed', 'hold.released']);
  });

  it('table and policy holds stop every deletion; an expired hold no longer applies', async () => {
    await makeEvents(db, 'app.h2', 200, 100);
    await db.q(`select retention.set_policy('h2', 'app.h2', 'delete', 'created_at', p_retain => '10 days')`);
    const [t] = await db.q(`select * from retention.place_hold('table', 'app.h2', 'Regulator inquiry')`);
    await db.call(`call retention.run('h2', p_as_of => $1)`, [AS_OF]);
    expect(await count(db, 'app.h2')).toBe(200);
    await db.q(`select retention.release_hold($1, 'done')`, [t!.hold_id]);
    await db.q(`select retention.place_hold('policy', 'h2', 'Audit in progress', p_expires_at => clock_timestamp() + interval '1 second')`);
    await db.call(`call retention.run('h2', p_as_of => now())`);
    expect(await count(db, 'app.h2')).toBe(200);
    // Holds are judged on the real clock: once the policy hold has expired, it no longer applies.
    await sleep(1100);
    await db.call(`call retention.run('h2', p_as_of => now())`);
    expect(await count(db, 'app.h2')).toBeLessThan(200);
  });

  it('a hold placed from another session mid-run protects the rows the run has not reached yet', async () => {
    await makeEvents(db, 'app.h3', 3000, 100);
    await slowRows(db, 'app.h3', 0.5);
    await db.q(`select retention.set_policy('h3', 'app.h3', 'delete', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_batch_size => 100, p_max_rows_per_run => 100000)`);
    const run = await startSlowRun('h3');
    await waitFor(async () => (await batchesOf('h3')) >= 2, 'two batches');
    await db.q(`select retention.place_hold('subject', '7', 'Subject access dispute')`);
    // From here on, no row of user 7 may disappear.
    const protectedRows = await count(db, `app.h3 where user_id = 7`);
    expect(protectedRows).toBeGreaterThan(0);
    const result = await run.done;
    await run.close();
    expect(result.ok).toBe(true);
    expect(await count(db, 'app.h3 where user_id = 7')).toBe(protectedRows);
    expect(await count(db, `app.h3 where user_id <> 7 and created_at < $1::timestamptz - interval '1 day'`, [AS_OF])).toBe(0);
  });
  it('a hold the owner writes straight into legal_holds mid-run waits for the batch in flight and protects every later batch', async () => {
    // A batch that finds no hold open builds its statement without a hold condition; that
    // holds only while no hold can open before it commits, so a direct write waits too.
    await makeEvents(db, 'app.h4', 3000, 100);
    await slowRows(db, 'app.h4', 0.5);
    await db.q(`select retention.set_policy('h4', 'app.h4', 'delete', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_batch_size => 200, p_max_rows_per_run => 100000)`);
    const run = await startSlowRun('h4');
    await waitFor(async () => (await batchesOf('h4')) >= 2, 'two batches');
    const c = await db.connect();
    try {
      await c.query('begin');
      await c.query(`insert into retention.legal_holds (scope, subject_id, subject_token, reason, placed_by)
                     values ('subject', '7', retention_internal._subject_token('subject:7'), 'Written by hand', 'dba')`);
      // The insert waited for the batch in flight (the holds lock): none commits from here
      // until this transaction does, so the rows counted now are the ones to keep.
      const [{ n }] = (await c.query(`select count(*)::int as n from app.h4 where user_id = 7`)).rows;
      await c.query('commit');
      expect(n).toBeGreaterThan(0);
      const result = await run.done;
      expect(result.ok).toBe(true);
      expect(await count(db, 'app.h4 where user_id = 7')).toBe(n);
      expect(await count(db, `app.h4 where user_id <> 7 and created_at < $1::timestamptz - interval '1 day'`, [AS_OF])).toBe(0);
      const [a] = await db.q(`select count(*)::int as n from retention.audit_log where action = 'direct.insert' and object_type = 'legal_holds'`);
      expect(a!.n).toBe(1);
    } finally {
      await c.end();
      await run.close();
    }
  });
});

describe('faults', () => {
  it('terminating the backend mid-run keeps committed batches counted and leaves the rest untouched', async () => {
    await makeEvents(db, 'app.f1', 3000, 100);
    await slowRows(db, 'app.f1', 0.5);
    await db.q(`select retention.set_policy('f1', 'app.f1', 'delete', 'created_at', p_retain => '1 day',
                  p_batch_size => 100, p_max_rows_per_run => 100000)`);
    const run = await startSlowRun('f1');
    await waitFor(async () => (await batchesOf('f1')) >= 3, 'three batches');
    await db.q('select pg_terminate_backend($1)', [run.pid]);
    const result = await run.done;
    await run.close();
    expect(result.ok).toBe(false);

    const [r] = await db.q(`select * from retention.runs where policy_name = 'f1'`);
    const [b] = await db.q(`select coalesce(sum(rows), 0)::int as rows from retention.run_batches where run_id = $1`, [r!.run_id]);
    const deleted = 3000 - (await count(db, 'app.f1'));
    expect(deleted).toBeGreaterThanOrEqual(300);
    expect(Number(r!.affected)).toBe(deleted);
    expect(b!.rows).toBe(deleted);
    expect(r!.status).toBe('running');
    // The oldest rows went first; everything younger than the last committed batch is still there.
    const newest = (await db.q(`select max(newest_at) as newest from retention.run_batches where run_id = $1`, [r!.run_id]))[0]!.newest;
    expect(await count(db, 'app.f1 where created_at <= $1', [newest])).toBe(0);

    await db.call(`call retention.run('f1', p_as_of => $1)`, [AS_OF]);
    const [old] = await db.q(`select status from retention.runs where run_id = $1`, [r!.run_id]);
    expect(old!.status).toBe('interrupted');
    const [next] = await db.q(`select * from retention.runs where policy_name = 'f1' order by run_id desc limit 1`);
    expect(next!.status).toBe('completed');
    expect(Number(next!.affected) + deleted).toBe(3000 - (await count(db, 'app.f1')));
  });

  it('a second run of the same policy while one is in progress is recorded as already_running', async () => {
    await makeEvents(db, 'app.f2', 2000, 100);
    await slowRows(db, 'app.f2', 0.5);
    await db.q(`select retention.set_policy('f2', 'app.f2', 'delete', 'created_at', p_retain => '1 day',
                  p_batch_size => 100, p_max_rows_per_run => 100000)`);
    const run = await startSlowRun('f2');
    await waitFor(async () => (await batchesOf('f2')) >= 1, 'a batch');
    await db.call(`call retention.run('f2', p_as_of => $1)`, [AS_OF]);
    const statuses = (await db.q(`select status from retention.runs where policy_name = 'f2' order by run_id`)).map((r) => r.status);
    expect(statuses).toEqual(['running', 'already_running']);
    expect((await run.done).ok).toBe(true);
    await run.close();
  });

  it('a batch that cannot get its table lock within lock_timeout stops the run cleanly', async () => {
    await makeEvents(db, 'app.f3', 200, 100);
    await db.q(`select retention.set_policy('f3', 'app.f3', 'delete', 'created_at', p_retain => '1 day', p_lock_timeout => '100 milliseconds')`);
    const blocker = await db.connect();
    await blocker.query('begin');
    await blocker.query('lock table app.f3 in share mode');
    await db.call(`call retention.run('f3', p_as_of => $1)`, [AS_OF]).catch(() => {});
    await blocker.query('rollback');
    await blocker.end();
    const [r] = await db.q(`select * from retention.runs where policy_name = 'f3'`);
    expect(r!.status).toBe('stopped_lock_timeout');
    expect(r!.error_code).toBe('55P03');
    expect(await count(db, 'app.f3')).toBe(200);
  });
});
