// Erasure steps go through the one executor: each step is a run in the ledger (kind
// 'erasure', with the request and step), in committed batches with lock_timeout, stop
// requests and row failures like any policy run; the evidence counts what the ledger counts.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count, slowRows, waitFor } from './support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

async function shop(name: string, orders = 300): Promise<string> {
  await q(`create schema if not exists ${name}`);
  await q(`create table ${name}.customers (id int primary key, email text)`);
  await q(`create table ${name}.orders (id int primary key, customer_id int not null references ${name}.customers on delete cascade, note text)`);
  await q(`create index on ${name}.orders (customer_id)`);
  await q(`insert into ${name}.customers values (1, 'one@x.example'), (2, 'two@x.example')`);
  await q(`insert into ${name}.orders select i, 1 + (i % 10 = 0)::int, 'n' || i from generate_series(1, $1) i`, [orders]);
  const [r] = await q(`select request_id from retention.request_erasure($1, '1', 'ticket')`, [`${name}.customers`]);
  return r!.request_id as string;
}

describe('erasure through the executor', () => {
  it('each step is a run in the ledger with its batches, and the evidence counts what the ledger counts', async () => {
    const req = await shop('ee1');
    await db.call(`call retention.process_erasure($1, 50)`, [req]);
    const runs = await q(`select kind, erasure_step, action, status, affected::int, batches from retention.runs where request_id = $1 order by run_id`, [req]);
    expect(runs).toEqual([
      { kind: 'erasure', erasure_step: 2, action: 'delete', status: 'completed', affected: 270, batches: 6 },
      { kind: 'erasure', erasure_step: 1, action: 'delete', status: 'completed', affected: 1, batches: 1 },
    ]);
    expect(await count(db, `retention.run_batches b join retention.runs r using (run_id) where r.request_id = $1`, [req])).toBe(7);
    const evidence = await q(`select target, rows::int from retention.erasure_evidence where request_id = $1 order by step`, [req]);
    expect(evidence).toEqual([{ target: 'ee1.customers', rows: 1 }, { target: 'ee1.orders', rows: 270 }]);
    expect(await count(db, 'ee1.orders')).toBe(30);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).toBe('completed');
  });

  it('a step waits for a table lock no longer than lock_timeout, stops, and processing again carries on', async () => {
    const req = await shop('ee2');
    const blocker = await db.connect();
    await blocker.query('begin');
    await blocker.query('lock table ee2.orders in share mode');
    await db.call(`call retention.process_erasure($1, 50)`, [req]);
    await blocker.query('rollback');
    await blocker.end();
    const [r] = await q(`select status, error_code from retention.runs where request_id = $1`, [req]);
    expect(r).toEqual({ status: 'stopped_lock_timeout', error_code: '55P03' });
    const [er] = await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req]);
    expect(er).toEqual({ status: 'in_progress', status_reason: expect.stringMatching(/^stopped on a lock timeout at ee2\.orders/) });
    expect(await count(db, 'ee2.orders')).toBe(300);
    await db.call(`call retention.process_erasure($1, 50)`, [req]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).toBe('completed');
    expect((await q(`select rows::int from retention.erasure_evidence where request_id = $1 and target = 'ee2.orders'`, [req]))[0]!.rows).toBe(270);
  });

  it('a stop request stops a step between batches; processing again finishes it and the evidence counts both runs', async () => {
    const req = await shop('ee3', 600);
    await slowRows(db, 'ee3.orders', 5);
    const c = await db.connect();
    const done = c.query(`call retention.process_erasure($1, 20)`, [req]);
    await waitFor(async () => (await count(db, `retention.run_batches b join retention.runs r using (run_id) where r.request_id = $1`, [req])) >= 2, 'two batches');
    await q(`select retention.request_stop(run_id) from retention.runs where request_id = $1 and status = 'running'`, [req]);
    await done;
    await c.end();
    const [first] = await q(`select status, affected::int from retention.runs where request_id = $1`, [req]);
    expect(first!.status).toBe('stopped_requested');
    expect(first!.affected).toBe(540 - (await count(db, `ee3.orders where customer_id = 1`)));
    await db.call(`call retention.process_erasure($1, 100)`, [req]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).toBe('completed');
    expect((await q(`select rows::int from retention.erasure_evidence where request_id = $1 and target = 'ee3.orders'`, [req]))[0]!.rows).toBe(540);
    expect(await count(db, `retention.runs where request_id = $1 and erasure_step = 2`, [req])).toBe(2);
  });

  it('one session processes a request at a time (55006 for a second)', async () => {
    const req = await shop('ee4', 300);
    await slowRows(db, 'ee4.orders', 5);
    const c = await db.connect();
    const done = c.query(`call retention.process_erasure($1, 20)`, [req]);
    await waitFor(async () => (await count(db, `retention.runs where request_id = $1`, [req])) >= 1, 'a run');
    expect(await sqlState(db.call(`call retention.process_erasure($1)`, [req]))).toBe('55006');
    await done;
    await c.end();
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).toBe('completed');
  });
});
