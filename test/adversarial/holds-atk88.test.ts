// Attack round atk88 (no held row is deleted or changed), each finding a test:
//  F1 a chain's key, dropped and so recorded in held_keys, was resolved by its columns'
//     names: the application renamed the key column and added a new one under its old
//     name (or did so on the referenced side), and a run deleted the held row;
//  F3 a held partition moved under another partitioned table was judged by its new
//     parents only: a table hold on its former parent (F3), or a subject hold through its
//     former parent's subject column (F3b), no longer held its rows when a cascade reached
//     them, and drop_partitions dropped the partition it was moved below (F3c);
//  F2 drop_policy's coverage check (RT024) counted a live foreign key to a column declared
//     after the hold, which nothing recorded: the key dropped afterwards, the held row went;
//  and the open atk79 F4: a subject column under an accent-insensitive collation, made
//     "C" since, let go of 'Élodie…' and 'straße…' that holds on 'elodie…', 'strasse…' held.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** users 42 and 43, an order each, a note each (a year old): note 1 is 42's through its order. */
async function chain(s: string) {
  await q(`create schema ${s}`);
  await q(`create table ${s}.users (id int primary key, created_at timestamptz default now())`);
  await q(`create table ${s}.orders (id int primary key, user_id int references ${s}.users (id))`);
  await q(`create table ${s}.notes (id int primary key, order_id int constraint notes_order_fk references ${s}.orders (id),
             body text, created_at timestamptz default now() - interval '400 days')`);
  await q(`insert into ${s}.users values (42), (43)`);
  await q(`insert into ${s}.orders values (1, 42), (2, 43)`);
  await q(`insert into ${s}.notes (id, order_id, body) values (1, 1, 'note of 42'), (2, 2, 'note of 43')`);
  await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', interval '10 years', p_subject_column => 'id')`);
  await q(`select retention.set_policy('${s}.notes', '${s}.notes', 'delete', 'created_at', interval '30 days')`);
  await q(`select retention.place_hold('subject', '42', 'litigation')`);
  expect(await q(`select held_back::int from retention.preview('${s}.notes')`)).toEqual([{ held_back: 1 }]);
}

describe('a recorded key whose column name now names another column (atk88 F1)', () => {
  it('the key column renamed and a new column under its old name: the held note stays', async () => {
    await chain('k1');
    await q(`alter table k1.notes drop constraint notes_order_fk`);
    await q(`alter table k1.notes rename column order_id to order_ref`);
    await q(`alter table k1.notes add column order_id int`);
    expect(await q(`select held_back::int from retention.preview('k1.notes')`)).toEqual([{ held_back: 1 }]);
    await db.call(`call retention.run('k1.notes')`);
    expect(await q(`select id from k1.notes`)).toEqual([{ id: 1 }]);
  });

  it('the referenced column renamed and a new column under its old name: the held note stays', async () => {
    await chain('k2');
    await q(`alter table k2.notes drop constraint notes_order_fk`);
    await q(`alter table k2.orders rename column id to order_no`);
    await q(`alter table k2.orders add column id int`);
    expect(await q(`select held_back::int from retention.preview('k2.notes')`)).toEqual([{ held_back: 1 }]);
    await db.call(`call retention.run('k2.notes')`);
    expect(await q(`select id from k2.notes`)).toEqual([{ id: 1 }]);
    expect(await count(db, `retention.legal_holds where released_at is null`)).toBeGreaterThan(0);
  });
});

describe('a held partition moved under another partitioned table (atk88 F3)', () => {
  it('F3: a table hold on its former parent keeps its rows from the cascade of a users run; the new parent\'s other rows go', async () => {
    await q(`create schema m3`);
    await q(`create table m3.users (id int primary key, created_at timestamptz default now() - interval '400 days')`);
    await q(`insert into m3.users values (1), (2), (3)`);
    await q(`create table m3.p1 (id int, user_id int, region text not null) partition by list (region)`);
    await q(`create table m3.l partition of m3.p1 for values in ('eu')`);
    await q(`create table m3.q (id int, user_id int references m3.users (id) on delete cascade, region text not null) partition by list (region)`);
    await q(`create table m3.q_us partition of m3.q for values in ('us')`);
    await q(`insert into m3.p1 values (1, 1, 'eu'), (2, 2, 'eu')`);
    await q(`insert into m3.q values (3, 3, 'us')`);
    await q(`select retention.set_policy('m3.users', 'm3.users', 'delete', 'created_at', interval '30 days')`);
    await q(`select retention.place_hold('table', 'm3.p1', 'litigation: everything in p1')`);
    await q(`alter table m3.p1 detach partition m3.l`);
    await q(`alter table m3.q attach partition m3.l for values in ('eu')`);
    expect(await q(`select held_back::int from retention.preview('m3.users')`)).toEqual([{ held_back: 2 }]);
    await db.call(`call retention.run('m3.users')`);
    expect(await q(`select id from m3.l order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await q(`select id from m3.users order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await count(db, `m3.q_us`)).toBe(0);
  });

  it('F3b: a subject hold through its former parent\'s subject column keeps the person\'s rows from the cascade', async () => {
    await q(`create schema m3b`);
    await q(`create table m3b.users (id int primary key, created_at timestamptz default now() - interval '400 days')`);
    await q(`insert into m3b.users values (42), (43)`);
    await q(`create table m3b.p1 (id int, user_id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table m3b.l partition of m3b.p1 for values from ('2020-01-01') to ('2030-01-01')`);
    await q(`create table m3b.q (id int, user_id int references m3b.users (id) on delete cascade, created_at timestamptz not null) partition by range (created_at)`);
    await q(`insert into m3b.p1 values (1, 42, '2025-06-01'), (2, 43, '2025-06-01')`);
    await q(`select retention.set_policy('m3b.p1', 'm3b.p1', 'drop_partitions', 'created_at', interval '10 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('m3b.users', 'm3b.users', 'delete', 'created_at', interval '30 days')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await q(`alter table m3b.p1 detach partition m3b.l`);
    await q(`alter table m3b.q attach partition m3b.l for values from ('2020-01-01') to ('2030-01-01')`);
    await db.call(`call retention.run('m3b.users')`);
    expect(await q(`select id, user_id from m3b.l order by id`)).toEqual([{ id: 1, user_id: 42 }]);
    expect(await q(`select id from m3b.users`)).toEqual([{ id: 42 }]);
  });

  it('F3c: drop_partitions keeps a partition a held leaf was moved below, and drops the others', async () => {
    await q(`create schema m3c`);
    await q(`create table m3c.p1 (id int, region text not null, created_at timestamptz not null) partition by list (region)`);
    await q(`create table m3c.ll partition of m3c.p1 for values in ('eu')`);
    await q(`insert into m3c.p1 values (1, 'eu', '2025-03-01'), (2, 'eu', '2025-03-02')`);
    await q(`create table m3c.q (id int, region text not null, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table m3c.m2 partition of m3c.q for values from ('2025-01-01') to ('2025-04-01') partition by list (region)`);
    await q(`create table m3c.m2_us partition of m3c.m2 for values in ('us')`);
    await q(`create table m3c.m1 partition of m3c.q for values from ('2024-01-01') to ('2025-01-01')`);
    await q(`create table m3c.q_now partition of m3c.q for values from ('2025-04-01') to ('2100-01-01')`);
    await q(`insert into m3c.q values (3, 'us', '2025-03-01'), (4, 'us', '2024-06-01')`);
    await q(`select retention.set_policy('m3c.q', 'm3c.q', 'drop_partitions', 'created_at', interval '90 days')`);
    await q(`select retention.place_hold('table', 'm3c.p1', 'litigation: everything in p1')`);
    await q(`alter table m3c.p1 detach partition m3c.ll`);
    await q(`alter table m3c.m2 attach partition m3c.ll for values in ('eu')`);
    expect((await q(`select partition, action from retention.partitions('m3c.q') where partition like 'm3c.m2'`)).map((r) => r.action)).not.toContain('drop');
    await db.call(`call retention.run('m3c.q')`);
    expect(await q(`select id from m3c.ll order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await q(`select to_regclass('m3c.m1') is null as gone`)).toEqual([{ gone: true }]);
  });
});

describe('coverage by a key nothing recorded (atk88 F2)', () => {
  it('a policy dropped while a live key still covers its subject column records the key: dropped later, the held row stays', async () => {
    await q(`create schema c2`);
    await q(`create table c2.users (id int primary key, created_at timestamptz default now())`);
    await q(`create table c2.logs (id int primary key, user_id int constraint logs_user_fk references c2.users (id),
               created_at timestamptz default now() - interval '400 days')`);
    await q(`insert into c2.users values (42), (43)`);
    await q(`insert into c2.logs values (1, 42), (2, 43)`);
    await q(`select retention.set_policy('c2.logs-subject', 'c2.logs', 'delete', 'created_at', interval '10 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('c2.logs-purge', 'c2.logs', 'delete', 'created_at', interval '30 days')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await q(`select retention.set_policy('c2.users', 'c2.users', 'delete', 'created_at', interval '10 years', p_subject_column => 'id')`);
    await q(`select retention.drop_policy('c2.logs-subject')`);
    await q(`alter table c2.logs drop constraint logs_user_fk`);
    expect(await q(`select held_back::int from retention.preview('c2.logs-purge')`)).toEqual([{ held_back: 1 }]);
    await db.call(`call retention.run('c2.logs-purge')`);
    expect(await q(`select id, user_id from c2.logs`)).toEqual([{ id: 1, user_id: 42 }]);
  });
});

describe('a subject column made "C" after an accent-insensitive collation (atk79 F4)', () => {
  it('values the hold matched without their accents stay held; others go', async () => {
    const icu = await q(`select count(*)::int as n from pg_collation where collprovider = 'i'`);
    expect(icu[0]!.n, 'this server has ICU collations').toBeGreaterThan(0);
    await q(`create schema a79`);
    await q(`create collation a79.ci (provider = icu, locale = 'und-u-ks-level1', deterministic = false)`);
    await q(`create table a79.users (id bigint primary key, email text collate a79.ci, seen_at timestamptz not null)`);
    await q(`insert into a79.users values (1, 'Élodie@x.example', '2020-01-01'), (2, 'straße@y.example', '2020-01-01'), (3, 'other@z.example', '2020-01-01'),
                                         (4, 'Zoë@w.example', '2020-01-01')`);
    expect(await q(`select count(*)::int as n from a79.users where email = 'elodie@x.example' or email = 'strasse@y.example'`)).toEqual([{ n: 2 }]);
    await q(`select retention.set_policy('a79.users', 'a79.users', 'delete', 'seen_at', interval '1 year', p_subject_column => 'email')`);
    await q(`select retention.place_hold('subject', 'elodie@x.example', 'litigation')`);
    await q(`select retention.place_hold('subject', 'strasse@y.example', 'litigation')`);
    expect(await q(`select held_back::int from retention.preview('a79.users')`)).toEqual([{ held_back: 2 }]);
    await q(`alter table a79.users alter column email type text collate "C"`);
    expect(await q(`select held_back::int from retention.preview('a79.users')`)).toEqual([{ held_back: 2 }]);
    await db.call(`call retention.run('a79.users')`);
    expect(await q(`select id::int from a79.users order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
  });
});
