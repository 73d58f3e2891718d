// Attack round atk62 (legal holds against the application's schema changes), each finding
// a test: every one was a held row deleted by a plain CALL retention.run after a change
// the application is free to make.
//  F1 a table hold on a partitioned table, the partition detached and the table dropped;
//  F2 a foreign-key column rebuilt under its name (int -> bigint: add, copy, drop, rename);
//  F3 an erasure subject table given another primary key, the old key kept unique;
//  F4 the declaring policy dropped once its subject column was renamed (RT024 bypassed);
//  F5 a partition detached and then its subject column renamed;
//  F6 a subject column's type or collation changed (uuid -> text; case-insensitive -> "C").
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

async function run(policy: string): Promise<{ held_back: number; affected: number } | string> {
  try {
    await db.call(`call retention.run($1)`, [policy]);
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  const [r] = await q<{ held_back: number; affected: number }>(
    `select held_back::int, affected::int from retention.run_ledger where policy = $1 order by run_id desc limit 1`, [policy]);
  return r!;
}

async function hold(scope: string, target: string): Promise<number> {
  const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold($1, $2, 'case atk62')`, [scope, target]);
  return h!.hold_id;
}

describe('holds survive the application\'s schema changes (atk62)', () => {
  it('F1: a table hold on a partitioned table keeps a detached partition after the table is dropped', async () => {
    await q(`create schema f1`);
    await q(`create table f1.events (id int, created_at timestamptz not null, body text) partition by range (created_at)`);
    await q(`create table f1.events_2020 partition of f1.events for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`insert into f1.events select g, '2020-06-01', 'evidence' from generate_series(1, 5) g`);
    await q(`select retention.set_policy('f1.ev2020', 'f1.events_2020', 'delete', 'created_at', interval '1 year')`);
    const h = await hold('table', 'f1.events');
    expect(await run('f1.ev2020')).toMatchObject({ held_back: 5, affected: 0 });
    await q(`alter table f1.events detach partition f1.events_2020`);
    await q(`drop table f1.events`);
    expect(await run('f1.ev2020')).toMatchObject({ affected: 0 });
    expect(await count(db, `f1.events_2020`)).toBe(5);
    // The hold still shows, under the name it was placed on.
    expect((await q(`select covers from retention.active_holds where hold_id = $1`, [h]))[0]?.covers).toMatch(/f1\.events/);
    await q(`select retention.release_hold($1, 'case closed')`, [h]);
    expect(await run('f1.ev2020')).toMatchObject({ affected: 5 });
  });

  it('F2: a foreign-key column rebuilt under its name still names the subject', async () => {
    await q(`create schema f2`);
    await q(`create table f2.users (id int primary key, name text, created_at timestamptz not null default now())`);
    await q(`create table f2.orders (id int primary key, user_id int references f2.users (id), created_at timestamptz not null)`);
    await q(`insert into f2.users values (1, 'alice'), (2, 'bob')`);
    await q(`insert into f2.orders select g, 1 + g % 2, '2020-01-01' from generate_series(1, 10) g`);
    await q(`select retention.set_policy('f2.users', 'f2.users', 'delete', 'created_at', interval '10 years', p_subject_column => 'id')`);
    await q(`select retention.set_policy('f2.orders', 'f2.orders', 'delete', 'created_at', interval '1 year')`);
    const h = await hold('subject', '1');
    expect(await run('f2.orders')).toMatchObject({ held_back: 5, affected: 5 });
    await q(`alter table f2.orders add column user_id_new bigint`);
    await q(`update f2.orders set user_id_new = user_id`);
    await q(`alter table f2.orders drop column user_id`);
    await q(`alter table f2.orders rename column user_id_new to user_id`);
    await q(`insert into f2.orders (id, user_id, created_at) select g, 2, '2020-01-01' from generate_series(11, 13) g`);
    expect(await run('f2.orders')).toMatchObject({ held_back: 5, affected: 3 });
    expect(await count(db, `f2.orders where user_id = 1`)).toBe(5);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });

  it('F3: the key requests were filed on keeps naming people after the table gets another primary key', async () => {
    await q(`create schema f3`);
    await q(`create table f3.users (id int primary key, name text, created_at timestamptz not null)`);
    await q(`insert into f3.users values (1, 'alice', '2020-01-01'), (2, 'bob', '2020-01-01'), (3, 'carol', '2020-01-01')`);
    await q(`select retention.request_erasure('f3.users', '3', 'ticket 9')`);
    await q(`select retention.set_policy('f3.old-users', 'f3.users', 'delete', 'created_at', interval '1 year')`);
    // The key changes before any hold is placed: the request recorded it.
    await q(`alter table f3.users add column uid uuid not null default gen_random_uuid()`);
    await q(`alter table f3.users drop constraint users_pkey`);
    await q(`alter table f3.users add primary key (uid)`);
    await q(`alter table f3.users add unique (id)`);
    const h = await hold('subject', '1');
    const r = await run('f3.old-users');
    expect(r).toMatchObject({ held_back: 1 });
    expect(await q(`select id from f3.users order by id`)).toEqual([{ id: 1 }]);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });

  it('F4: the declaring policy cannot be dropped once its subject column is renamed while holds rely on it', async () => {
    await q(`create schema f4`);
    await q(`create table f4.orders (id int primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into f4.orders select g, 1 + g % 2, '2020-01-01' from generate_series(1, 10) g`);
    await q(`select retention.set_policy('f4.orders-subj', 'f4.orders', 'delete', 'created_at', interval '10 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('f4.orders', 'f4.orders', 'delete', 'created_at', interval '1 year')`);
    const h = await hold('subject', '1');
    expect(await run('f4.orders')).toMatchObject({ held_back: 5, affected: 5 });
    expect(await sqlState(q(`select retention.drop_policy('f4.orders-subj')`))).toBe('RT024');
    await q(`alter table f4.orders rename column user_id to customer_id`);
    await q(`insert into f4.orders select g, 2, '2020-01-01' from generate_series(11, 12) g`);
    const err = await db.call(`call retention.run('f4.orders')`).catch((e: Error & { code?: string; hint?: string }) => e);
    expect((err as { code?: string }).code).toBe('RT002');
    expect((err as { hint?: string }).hint).not.toMatch(/or drop the policy/);
    expect(await sqlState(q(`select retention.drop_policy('f4.orders-subj')`))).toBe('RT024');
    // Re-declared under the new name, the runs go on and the rows stay held.
    await q(`select retention.set_policy('f4.orders-subj', 'f4.orders', 'delete', 'created_at', interval '10 years', p_subject_column => 'customer_id')`);
    expect(await run('f4.orders')).toMatchObject({ held_back: 5, affected: 2 });
    expect(await count(db, `f4.orders where customer_id = 1`)).toBe(5);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });

  it('F5: a partition detached and then its subject column renamed fails runs with RT002', async () => {
    await q(`create schema f5`);
    await q(`create table f5.ev (id int, user_id int, created_at timestamptz not null) partition by list (id)`);
    await q(`create table f5.ev1 partition of f5.ev for values in (1)`);
    await q(`create table f5.ev2 partition of f5.ev for values in (2)`);
    await q(`insert into f5.ev select 1 + g % 2, 1 + (g / 2) % 2, '2020-01-01' from generate_series(1, 20) g`);
    await q(`select retention.set_policy('f5.ev1-subj', 'f5.ev1', 'delete', 'created_at', interval '10 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('f5.ev2', 'f5.ev2', 'delete', 'created_at', interval '1 year')`);
    const h = await hold('subject', '1');
    const before = await count(db, `f5.ev2 where user_id = 1`);
    expect(before).toBeGreaterThan(0);
    expect(await run('f5.ev2')).toMatchObject({ held_back: before });
    await q(`alter table f5.ev detach partition f5.ev2`);
    await q(`alter table f5.ev2 rename column user_id to customer_id`);
    expect(await run('f5.ev2')).toBe('RT002');
    expect(await count(db, `f5.ev2 where customer_id = 1`)).toBe(before);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });

  it('F6: a subject column changed from uuid to text, or to a case-sensitive collation, keeps matching the hold', async () => {
    await q(`create schema f6`);
    await q(`create table f6.users (id uuid primary key, created_at timestamptz not null default now())`);
    await q(`insert into f6.users values ('a1b2c3d4-0000-4000-8000-00000000000a'), ('a1b2c3d4-0000-4000-8000-00000000000b')`);
    await q(`create table f6.logs (id int primary key, user_ref uuid, created_at timestamptz not null)`);
    await q(`insert into f6.logs select g, case when g % 2 = 0 then 'a1b2c3d4-0000-4000-8000-00000000000a'::uuid
                                           else 'a1b2c3d4-0000-4000-8000-00000000000b' end, '2020-01-01' from generate_series(1, 10) g`);
    await q(`select retention.set_erasure_rule('f6.logs', 'delete', p_subject_column => 'user_ref', p_subject_table => 'f6.users')`);
    await q(`select retention.set_policy('f6.logs', 'f6.logs', 'delete', 'created_at', interval '1 year')`);
    const h = await hold('subject', 'A1B2C3D4-0000-4000-8000-00000000000A');
    expect(await run('f6.logs')).toMatchObject({ held_back: 5, affected: 5 });
    await q(`alter table f6.logs alter column user_ref type text`);
    await q(`insert into f6.logs values (20, 'A1B2C3D4-0000-4000-8000-00000000000A', '2020-01-01'), (21, 'someone-else', '2020-01-01')`);
    expect(await run('f6.logs')).toMatchObject({ held_back: 6, affected: 1 });
    expect(await count(db, `f6.logs`)).toBe(6);
    await q(`select retention.release_hold($1, 'done')`, [h]);

    const icu = (await q<{ n: number }>(`select count(*)::int as n from pg_collation where collprovider = 'i'`))[0]!.n > 0;
    if (!icu) return; // a server built without ICU has no case-insensitive collation to change from
    await q(`create collation f6.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`);
    await q(`create table f6.mails (id int primary key, email text collate f6.ci, created_at timestamptz not null)`);
    await q(`insert into f6.mails select g, case when g % 2 = 0 then 'alice@x.com' else 'bob@x.com' end, '2020-01-01' from generate_series(1, 10) g`);
    await q(`select retention.set_policy('f6.mails-subj', 'f6.mails', 'delete', 'created_at', interval '10 years', p_subject_column => 'email')`);
    await q(`select retention.set_policy('f6.mails', 'f6.mails', 'delete', 'created_at', interval '1 year')`);
    const h2 = await hold('subject', 'ALICE@X.COM');
    expect(await run('f6.mails')).toMatchObject({ held_back: 5, affected: 5 });
    await q(`alter table f6.mails alter column email type text collate "C"`);
    await q(`insert into f6.mails values (20, 'Alice@X.com', '2020-01-01')`);
    expect(await run('f6.mails')).toMatchObject({ held_back: 6, affected: 0 });
    expect(await count(db, `f6.mails where lower(email) = 'alice@x.com'`)).toBe(6);
    await q(`select retention.release_hold($1, 'done')`, [h2]);
  });
});
