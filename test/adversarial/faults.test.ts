// Attack round atk28 (faults), each finding a test:
//  1. a cancel (statement_timeout) that escaped a step, or CALL inside a transaction block,
//     left the session holding the policy's run lock: every other session's run was
//     recorded already_running until that session disconnected. Now only a cancel that
//     lands on the procedure's own COMMIT between steps escapes (no PL/pgSQL handler can
//     surround a COMMIT): the holder is named, and its next call lets go;
//  2. open_run's error handler failed on a record it had not filled yet (an error before
//     the period was read, e.g. a read-only transaction), and kept the lock;
//  3. open_erasure's last statements (recording the request in progress) were outside its
//     handler: a lock timeout there kept the request's lock;
//  4. a killed run of an approved purge was not counted against its proposal, so the next
//     run took the rows it had removed for drift and the proposal went stale.
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const { login } = useLogins(db);
const q = db.q;
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
});

async function session(): Promise<pg.Client> {
  const c = await db.connect();
  clients.push(c);
  return c;
}

/** Run locks (policies', erasure requests', run_due's) a backend holds. */
async function runLocks(pid: number): Promise<number> {
  return count(db, `pg_locks where locktype = 'advisory' and pid = $1 and (classid = x'52540002'::int::oid or objsubid = 1)`, [pid]);
}

async function pidOf(c: pg.Client): Promise<number> {
  return (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
}

describe('a failed or cancelled call leaves no run lock behind (atk28)', () => {
  it('random statement timeouts over many runs: no lock is kept but in the one moment a procedure cannot catch, and that one is named and let go', async () => {
    await q(`create schema f1`);
    await q(`create table f1.t (id int primary key, at timestamptz not null)`);
    await q(`insert into f1.t select i, now() - interval '2 years' from generate_series(1, 3000) i`);
    await q(`select retention.set_policy('f1.t', 'f1.t', 'delete', 'at', p_retain => '1 year', p_batch_size => 20, p_max_rows_per_run => 1000000)`);
    const a = await session();
    const pid = await pidOf(a);
    const leaks: string[] = [];
    for (let i = 0; i < 60 && (await count(db, 'f1.t')) > 0; i++) {
      await a.query(`set statement_timeout = ${1 + ((i * 7) % 40)}`);
      let where = '';
      await a.query(`call retention.run('f1.t')`).catch((e: { where?: string; message?: string }) => { where = `${e.message} | ${e.where}`; });
      await a.query('reset statement_timeout').catch(() => {});
      if ((await runLocks(pid)) > 0) {
        leaks.push(where);
        // Another session's run is recorded already_running, naming the session.
        await db.call(`call retention.run('f1.t')`);
        const [r] = await q<{ status: string; error: string }>(`select status, error from retention.runs where policy_name = 'f1.t' order by run_id desc limit 1`);
        expect(r!.status).toBe('already_running');
        expect(r!.error).toContain(`session ${pid} (idle`);
        // The session's next call lets go of it.
        await a.query(`call retention.run('f1.t', p_dry_run => true)`);
        expect(await runLocks(pid)).toBe(0);
      }
    }
    // Only a cancel that came while the procedure committed between two steps escapes it
    // (PL/pgSQL checks for it at the COMMIT or the next statement, outside any handler).
    // The error's context is then run() alone (its COMMIT, LOOP or EXIT, or the entry of the
    // block that follows the COMMIT, before its handler is set up), no step below it.
    for (const w of leaks) expect(w).toMatch(/\| PL\/pgSQL function retention\.run\([^)]*\) line \d+ at (COMMIT|LOOP|EXIT|statement block)$/);
    // Another session runs it to the end; no run of it is left running.
    await db.call(`call retention.run('f1.t')`);
    expect(await count(db, 'f1.t')).toBe(0);
    expect(await count(db, `retention.runs where policy_name = 'f1.t' and status = 'running'`)).toBe(0);
    // Every row removed is counted in the ledger.
    const [{ n }] = await q<{ n: number }>(`select coalesce(sum(b.rows), 0)::int as n from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'f1.t'`) as [{ n: number }];
    expect(n).toBe(3000);
  });

  it('release_run_locks releases only this session\'s locks: unknown ids, NULLs and another session\'s run change nothing', async () => {
    await q(`create schema f0`);
    await q(`create table f0.t (id int primary key, at timestamptz not null)`);
    await q(`insert into f0.t select i, now() - interval '2 years' from generate_series(1, 10) i`);
    await q(`select retention.set_policy('f0.t', 'f0.t', 'delete', 'at', p_retain => '1 year', p_batch_size => 2)`);
    const a = await session();
    await a.query(`select retention.pin_session()`);
    const { rows: [r] } = await a.query<{ id: number }>(`select retention.open_run('f0.t')::int as id`);
    const b = await session();
    for (const args of [[null, null, null], [-1, -1, 'nope'], [r!.id, null, 'f0.t']]) {
      expect((await b.query(`select retention.release_run_locks($1, $2, $3) as n`, args)).rows[0]!.n, String(args)).toBe(0);
    }
    expect(await runLocks(await pidOf(a))).toBe(1);
    await a.query(`select retention.run_step($1)`, [r!.id]);
    expect(await count(db, 'f0.t')).toBe(8);
  });

  it('a run lock left from a run that is over is let go by the session\'s next run or erasure of anything, not only of that policy (atk39)', async () => {
    await q(`create schema f9`);
    await q(`create table f9.a (id int primary key, at timestamptz not null)`);
    await q(`create table f9.b (id int primary key, at timestamptz not null)`);
    await q(`insert into f9.a select i, now() - interval '2 years' from generate_series(1, 10) i`);
    await q(`insert into f9.b select i, now() - interval '2 years' from generate_series(1, 10) i`);
    await q(`select retention.set_policy('f9.a', 'f9.a', 'delete', 'at', p_retain => '1 year', p_batch_size => 5)`);
    await q(`select retention.set_policy('f9.b', 'f9.b', 'delete', 'at', p_retain => '1 year', p_batch_size => 5)`);
    const a = await session();
    const pid = await pidOf(a);
    // The state a cancel on the procedure's COMMIT leaves: a run of f9.a opened, its lock
    // held, the session idle.
    await a.query(`select retention.pin_session()`);
    const { rows: [r] } = await a.query<{ id: number }>(`select retention.open_run('f9.a')::int as id`);
    await a.query(`select retention.unpin_session()`);
    expect(await runLocks(pid)).toBe(1);
    // The session then runs another policy: the old lock goes.
    await a.query(`call retention.run('f9.b')`);
    expect(await runLocks(pid)).toBe(0);
    expect(await count(db, 'f9.b')).toBe(0);
    // Another session runs f9.a (not already_running) and records the old run interrupted.
    await db.call(`call retention.run('f9.a')`);
    expect(await count(db, 'f9.a')).toBe(0);
    expect(await q(`select status from retention.runs where run_id = $1`, [r!.id])).toEqual([{ status: 'interrupted' }]);
    // The old run's session cannot step it any more.
    const step = await a.query(`select retention.run_step($1) as s`, [r!.id]).then((x) => x.rows[0]!.s, (e: { code: string }) => e.code);
    expect(['interrupted', '55000']).toContain(step);
    expect(await q(`select status from retention.runs where run_id = $1`, [r!.id])).toEqual([{ status: 'interrupted' }]);
  });

  it('CALL inside a transaction block is refused before it takes anything', async () => {
    await q(`create schema f2`);
    await q(`create table f2.t (id int primary key, at timestamptz not null)`);
    await q(`insert into f2.t select i, now() - interval '2 years' from generate_series(1, 10) i`);
    await q(`select retention.set_policy('f2.t', 'f2.t', 'delete', 'at', p_retain => '1 year')`);
    await q(`create table f2.users (id int primary key)`);
    await q(`insert into f2.users values (1)`);
    const [req] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure('f2.users', '1', 'ticket 2')`);
    const a = await session();
    const pid = await pidOf(a);
    for (const call of [`call retention.run('f2.t')`, `call retention.run_all()`, `call retention.run_due()`,
                        `call retention.process_erasure(${req!.id})`]) {
      await a.query('begin');
      expect(await sqlState(a.query(call)), call).toBe('2D000');
      await a.query('rollback');
      expect(await runLocks(pid), call).toBe(0);
    }
    await db.call(`call retention.run('f2.t')`);
    expect(await count(db, 'f2.t')).toBe(0);
    await db.call(`call retention.process_erasure($1)`, [req!.id]);
    expect(await count(db, 'f2.users')).toBe(0);
  });

  it('open_run failing before it read the period (a read-only transaction) records nothing it cannot, and keeps no lock', async () => {
    await q(`create schema f3`);
    await q(`create table f3.t (id int primary key, at timestamptz not null)`);
    await q(`select retention.set_policy('f3.t', 'f3.t', 'delete', 'at', p_retain => '1 year')`);
    const a = await session();
    const pid = await pidOf(a);
    await a.query('begin read only');
    expect(await sqlState(a.query(`select retention.open_run('f3.t')`))).toBe('25006');
    await a.query('rollback');
    expect(await runLocks(pid)).toBe(0);
    await db.call(`call retention.run('f3.t')`);
    expect(await count(db, `retention.runs where policy_name = 'f3.t' and status = 'completed'`)).toBe(1);
  });

  it('a lock timeout while open_erasure records the request in progress releases the request', async () => {
    await q(`create schema f4`);
    await q(`create table f4.users (id int primary key)`);
    await q(`insert into f4.users values (1), (2)`);
    const [req] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure('f4.users', '1', 'ticket 4')`);
    // Another transaction holds the audit chain (an audited change not yet committed).
    const admin = await session();
    await admin.query('begin');
    await admin.query(`select retention.set_default('global', '400 days')`);
    const b = await session();
    const pid = await pidOf(b);
    await b.query(`set lock_timeout = '300ms'`);
    expect(await sqlState(b.query(`call retention.process_erasure(${req!.id})`))).toBe('55P03');
    expect(await runLocks(pid)).toBe(0);
    await admin.query('rollback');
    await db.call(`call retention.process_erasure($1)`, [req!.id]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req!.id]))[0]!.status).toBe('completed');
  });

  it('a killed run of an approved purge counts against its proposal: the next run carries it out', async () => {
    await q(`create schema f5`);
    await q(`create table f5.orders (id int primary key, at timestamptz not null)`);
    await q(`insert into f5.orders select i, now() - interval '3 years' from generate_series(1, 200) i`);
    await q(`select retention.set_policy('f5.orders', 'f5.orders', 'delete', 'at', p_retain => '1 year', p_approval => 'required',
                                         p_batch_size => 50, p_max_rows_per_run => 100000)`);
    const [{ id }] = await q<{ id: number }>(`select retention.propose('f5.orders')::int as id`) as [{ id: number }];
    const approver = await login('f5appr', 'retention_approver');
    await approver.query(`select retention.approve_proposal($1, 'counts checked')`, [id]);
    // A session opens the run and does one batch, then dies.
    const a = await session();
    await a.query(`select retention.pin_session()`);
    const { rows: [r] } = await a.query<{ run_id: number }>(`select retention.open_run('f5.orders')::int as run_id`);
    await a.query(`select retention.run_step($1)`, [r!.run_id]);
    await a.query(`select retention.run_step($1)`, [r!.run_id]);
    const gone = 200 - await count(db, 'f5.orders');
    expect(gone).toBeGreaterThan(0);
    await a.end();
    clients.splice(clients.indexOf(a), 1);
    await db.call(`call retention.run('f5.orders')`);
    expect(await count(db, 'f5.orders')).toBe(0);
    const [p] = await q(`select status, executed_rows::int from retention.proposals where proposal_id = $1`, [id]);
    expect(p).toEqual({ status: 'executed', executed_rows: 200 });
    expect(await count(db, `retention.audit_log where action = 'proposal.stale'`)).toBe(0);
    expect((await q(`select status from retention.runs where run_id = $1`, [r!.run_id]))[0]!.status).toBe('interrupted');
  });
});
