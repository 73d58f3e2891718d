// Attack round atk88 (no held row is deleted or changed), each finding a test:
//  F1 a chain's key, dropped and so recorded in held_keys, was resolved by its columns'
//     names: the application renamed the key column and added a new one under its old
//     name (or did so on the referenced side), and a run deleted the held row.
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
