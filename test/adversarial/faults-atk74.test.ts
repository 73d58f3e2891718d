// Attack round atk74 (faults), the runs it found left 'running' for good (its F2, a
// re-keyed row after an earlier processing, is in personal-data-atk66.test.ts):
//  F1 a run whose session was killed, its policy then dropped: no next run closes it;
//  F3 a request's step run left by a killed processing, the request then completed by a
//     duplicate request for the same person;
//  atk85 F3 a run whose session was killed, its policy then disabled.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed } = erasureHelpers(db);

describe('no run stays running for good (atk74)', () => {
  it('F1: dropping a policy closes its run whose session was killed (interrupted, audited)', async () => {
    await q(`create schema k1`);
    await q(`create table k1.ev (id int primary key, at timestamptz not null)`);
    await q(`insert into k1.ev select g, now() - interval '2 years' from generate_series(1, 3000) g`);
    await q(`select retention.set_policy('k1.ev', 'k1.ev', 'delete', 'at', interval '1 year', p_batch_size => 100, p_pause_between_batches => '200 ms')`);
    const c = await db.connect();
    const pid = (await c.query<{ p: number }>(`select pg_backend_pid() as p`)).rows[0]!.p;
    const running = c.query(`call retention.run('k1.ev')`).catch(() => {});
    await waitFor(async () => (await count(db, `retention.runs where policy_name = 'k1.ev' and status = 'running' and affected > 0`)) > 0, 'the run under way');
    await q(`select pg_terminate_backend($1)`, [pid]);
    await running;
    await c.end().catch(() => {});
    await waitFor(async () => (await count(db, `pg_stat_activity where pid = $1`, [pid])) === 0, 'the session gone');
    expect(await count(db, `retention.runs where policy_name = 'k1.ev' and status = 'running'`)).toBe(1);
    await q(`select retention.drop_policy('k1.ev')`);
    expect(await count(db, `retention.runs where policy_name = 'k1.ev' and status = 'running'`)).toBe(0);
    expect(await count(db, `retention.runs where policy_name = 'k1.ev' and status = 'interrupted'`)).toBe(1);
    expect(await count(db, `retention.audit_log where action = 'run.interrupted' and object_name = 'k1.ev'`)).toBe(1);
  });

  it('atk85 F3: disabling a policy closes its run whose session was killed; a live run is left running', async () => {
    await q(`create schema k2`);
    await q(`create table k2.ev (id int primary key, at timestamptz not null)`);
    await q(`insert into k2.ev select g, now() - interval '2 years' from generate_series(1, 3000) g`);
    await q(`select retention.set_policy('k2.ev', 'k2.ev', 'delete', 'at', interval '1 year', p_batch_size => 100)`);
    // A run whose session ends after its first batch, before the run finished.
    const c = await db.connect();
    const id = (await c.query(`select retention.open_run('k2.ev') as id`)).rows[0].id;
    await c.query(`select retention.run_step($1)`, [id]);
    await c.end();
    expect(await count(db, `retention.runs where policy_name = 'k2.ev' and status = 'running'`)).toBe(1);
    await q(`select retention.alter_policy('k2.ev', p_enabled => false)`);
    expect(await count(db, `retention.runs where policy_name = 'k2.ev' and status = 'running'`)).toBe(0);
    expect(await count(db, `retention.runs where policy_name = 'k2.ev' and status = 'interrupted' and affected = 100`)).toBe(1);
    expect(await count(db, `retention.audit_log where action = 'run.interrupted' and object_name = 'k2.ev'`)).toBe(1);
    // A run alive in its session when the policy is disabled stays running; it ends on its own.
    await q(`select retention.alter_policy('k2.ev', p_enabled => true)`);
    const live = await db.connect();
    try {
      const id2 = (await live.query(`select retention.open_run('k2.ev') as id`)).rows[0].id;
      await q(`select retention.alter_policy('k2.ev', p_enabled => false)`);
      expect(await count(db, `retention.runs where run_id = ${Number(id2)} and status = 'running'`)).toBe(1);
    } finally {
      await live.end();
    }
  });

  it('F3: a duplicate request completing a dead processing\'s request closes its step run', async () => {
    await q(`create schema k3`);
    await q(`create table k3.users (id int primary key, email text)`);
    await q(`create table k3.sessions (id serial primary key, user_id int references k3.users on delete cascade)`);
    await q(`insert into k3.users values (7, 'alice@k3.example')`);
    await q(`insert into k3.sessions (user_id) select 7 from generate_series(1, 50)`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const first = await file('k3.users', '7');
    const c = await db.connect();
    await c.query(`select retention.pin_session()`);
    await c.query(`select retention.open_erasure($1, 10)`, [first]);
    const { rows: [st] } = await c.query(`select run_id from retention.erasure_step($1)`, [first]);
    await c.query(`select retention.run_step($1)`, [st.run_id]);
    const pid = (await c.query<{ p: number }>(`select pg_backend_pid() as p`)).rows[0]!.p;
    await q(`select pg_terminate_backend($1)`, [pid]);
    await c.end().catch(() => {});
    await waitFor(async () => (await count(db, `pg_stat_activity where pid = $1`, [pid])) === 0, 'the session gone');
    const second = await file('k3.users', '7');
    expect(await processed(second)).toBe('completed');
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [first])).toEqual([{ status: 'completed' }]);
    expect(await count(db, `retention.runs where request_id = $1 and status = 'running'`, [first])).toBe(0);
    expect(await count(db, `retention.audit_log where action = 'run.interrupted' and object_name = $1`, [String(first)])).toBe(1);
  });
});
