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

  it('a table locked against DDL stops the processing within 5 seconds (55P03), nothing done; processing again carries on', async () => {
    const req = await shop('ee2');
    const blocker = await db.connect();
    await blocker.query('begin');
    await blocker.query('lock table ee2.orders in share mode');
    // Planning the steps locks each table against DDL first (SHARE UPDATE EXCLUSIVE, round
    // atk99 F2), which SHARE blocks: 55P03 after 5 seconds, nothing done.
    expect(await sqlState(db.call(`call retention.process_erasure($1, 50)`, [req]))).toBe('55P03');
    expect(await count(db, 'ee2.orders')).toBe(300);
    expect(await count(db, 'retention.runs where request_id = $1', [req])).toBe(0);
    await blocker.query('rollback');
    await blocker.end();
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

// Found by an attacker against the first version.
describe('erasure: what a tester found', () => {
  it('tables at one depth run in dependency order: a referencing table before the one it references', async () => {
    await q(`create schema o1`);
    await q(`create table o1.users (id int primary key)`);
    await q(`create table o1.b_notes (id int primary key, user_id int references o1.users)`);
    await q(`create table o1.a_orders (id int primary key, user_id int references o1.users, note_id int references o1.b_notes)`);
    await q(`insert into o1.users values (1), (2)`);
    await q(`insert into o1.b_notes values (10, 1), (20, 2)`);
    await q(`insert into o1.a_orders values (100, 1, 10), (101, 1, 10), (200, 2, 20)`);
    const [r] = await q(`select request_id from retention.request_erasure('o1.users', '1', 'ticket')`);
    await db.call(`call retention.process_erasure($1)`, [r!.request_id]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [r!.request_id]))[0]!.status).toBe('completed');
    expect(await q(`select target, rows::int from retention.erasure_evidence where request_id = $1 order by target`, [r!.request_id]))
      .toEqual([{ target: 'o1.a_orders', rows: 2 }, { target: 'o1.b_notes', rows: 1 }, { target: 'o1.users', rows: 1 }]);
    expect(await count(db, 'o1.a_orders')).toBe(1);
  });

  it('a partitioned table is planned as its partitions; SET NULL on other people\'s rows: warned and refused before anything changes', async () => {
    await q(`create schema p1`);
    await q(`create table p1.users (id int primary key, email text unique, manager_id int references p1.users on delete set null)`);
    await q(`create table p1.events (id int, user_id int references p1.users on delete cascade, at date not null) partition by range (at)`);
    await q(`create table p1.events_2024 partition of p1.events for values from ('2024-01-01') to ('2025-01-01')`);
    await q(`insert into p1.users values (1, 'a@x.example', null), (2, 'b@x.example', 1)`);
    await q(`insert into p1.events values (1, 1, '2024-03-01')`);
    const [r] = await q(`select request_id from retention.request_erasure('p1.users', '1', 'ticket')`);
    const warnings = (await q(`select target, warning from retention.erasure_plan($1) where warning is not null order by target`, [r!.request_id]));
    expect(warnings.map((w) => w.target)).toEqual(['p1.users']);
    expect(warnings[0]!.warning).toMatch(/would set manager_id in 1 other row\(s\) of p1\.users outside the plan/);
    expect(await q(`select target, rows::int from retention.erasure_plan($1) where target like 'p1.events%'`, [r!.request_id]))
      .toEqual([{ target: 'p1.events_2024', rows: 1 }]);
    await db.call(`call retention.process_erasure($1)`, [r!.request_id]).catch(() => {});
    expect(await count(db, 'p1.events')).toBe(1);
    expect(await count(db, 'p1.users where manager_id = 1')).toBe(1);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [r!.request_id]))[0]!.status).toBe('failed');
  });

  it('a cancel while planning lets go of the request, so another session can process it', async () => {
    const req = await shop('ee5', 10);
    const blocker = await db.connect();
    await blocker.query('begin');
    await blocker.query('lock table ee5.orders in access exclusive mode');
    const c = await db.connect();
    await c.query(`set statement_timeout = '300ms'`);
    expect(await sqlState(c.query(`call retention.process_erasure($1)`, [req]))).toBe('57014');
    await blocker.query('rollback');
    await blocker.end();
    await db.call(`call retention.process_erasure($1)`, [req]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).toBe('completed');
    await c.end();
  });

  it('on completion no failed row names the person: keys and messages of its runs\' failures are cleared; evidence follows the ledger when the plan changed', async () => {
    await q(`create schema f1`);
    await q(`create table f1.users (id text primary key, name text)`);
    await q(`create table f1.b_items (id int primary key, user_id text references f1.users)`);
    await q(`insert into f1.users values ('alice@x.example', 'Alice')`);
    await q(`insert into f1.b_items values (1, 'alice@x.example'), (2, 'alice@x.example')`);
    await q(`create function f1.refuse() returns trigger language plpgsql as $$ begin raise exception 'deletion of % (%) refused', old.id, old.name; end $$`);
    await q(`create trigger refuse before delete on f1.users for each row execute function f1.refuse()`);
    const [r] = await q(`select request_id from retention.request_erasure('f1.users', 'alice@x.example', 'ticket')`);
    await db.call(`call retention.process_erasure($1)`, [r!.request_id]).catch(() => {});
    expect(await count(db, `retention.run_row_failures f join retention.runs r using (run_id) where r.request_id = $1 and f.error like '%alice%'`, [r!.request_id])).toBe(1);
    // The plan grows before the second processing (a new table, numbered first).
    await q(`create table f1.a_items (id int primary key, user_id text references f1.users)`);
    await q(`insert into f1.a_items select i, 'alice@x.example' from generate_series(1, 5) i`);
    await q(`drop trigger refuse on f1.users`);
    await db.call(`call retention.process_erasure($1)`, [r!.request_id]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [r!.request_id]))[0]!.status).toBe('completed');
    const dump = JSON.stringify(await q(`select f.* from retention.run_row_failures f join retention.runs r using (run_id) where r.request_id = $1`, [r!.request_id]));
    expect(dump).not.toMatch(/alice|Alice/);
    expect(await q(`select target, rows::int from retention.erasure_evidence where request_id = $1 order by target`, [r!.request_id]))
      .toEqual([{ target: 'f1.a_items', rows: 5 }, { target: 'f1.b_items', rows: 2 }, { target: 'f1.users', rows: 1 }]);
  });
});
