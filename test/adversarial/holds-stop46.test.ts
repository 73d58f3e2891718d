// Stop 46, holds against the application's schema changes (tried after atk114 began on it):
// a person's key column renamed on both sides of its foreign key, the key dropped, then the
// column retyped to text with its digits padded (' 07', '007', '+7') under a hold on 7.
// The rename failed runs (RT002) until the policy named the new column; the retype left
// the padded rows unheld: a hold compared a text column with the hold's id as written and
// loosely, never the column's value read as an integer. Now it does.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a held person\'s key renamed, its foreign key dropped, retyped to text', () => {
  it('the held rows stay through every change; only the other person\'s go', async () => {
    await q(`create schema k46`);
    await q(`create table k46.users (id bigint primary key, email text, created_at timestamptz default now())`);
    await q(`create table k46.messages (id int primary key, user_id bigint references k46.users, body text, created_at timestamptz)`);
    await q(`insert into k46.users values (7, 'a@x.example'), (8, 'b@x.example')`);
    await q(`insert into k46.messages values (1, 7, 'held', now() - interval '400 days'), (2, 8, 'free', now() - interval '400 days')`);
    await q(`select retention.set_policy('k46-users', 'k46.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'id')`);
    await q(`select retention.set_policy('k46-msgs', 'k46.messages', 'delete', 'created_at', p_retain => '1 year')`);
    await q(`select retention.place_hold('subject', '7', 'litigation')`);

    // Renamed on both sides: the policy's subject column is gone, so runs fail (RT002).
    await q(`alter table k46.messages rename column user_id to uid`);
    await q(`alter table k46.users rename column id to uid`);
    expect(await sqlState(db.call(`call retention.run('k46-msgs')`))).toBe('RT002');
    expect(await count(db, 'k46.messages')).toBe(2);
    await q(`select retention.set_policy('k46-users', 'k46.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'uid')`);
    await db.call(`call retention.run('k46-msgs')`);
    expect((await q(`select id from k46.messages order by id`)).map((r) => r.id)).toEqual([1]);

    // The key dropped: its columns stay subject columns.
    await q(`alter table k46.messages drop constraint messages_user_id_fkey`);
    await q(`insert into k46.messages values (3, 7, 'held after the key went', now() - interval '400 days'),
                                             (4, 9, 'nobody held', now() - interval '400 days')`);
    await db.call(`call retention.run('k46-msgs')`);
    expect((await q(`select id from k46.messages order by id`)).map((r) => r.id)).toEqual([1, 3]);

    // Retyped to text, the digits padded; more rows in other spellings of 7, and 70.
    await q(`alter table k46.messages alter column uid type text using ' 0' || uid::text`);
    await q(`insert into k46.messages values (5, '007', 'padded', now() - interval '400 days'), (6, '+7', 'signed', now() - interval '400 days'),
                                             (7, '70', 'another person', now() - interval '400 days'), (8, '7x', 'not a number', now() - interval '400 days')`);
    await db.call(`call retention.run('k46-msgs')`);
    expect((await q(`select id, uid from k46.messages order by id`))).toEqual([
      { id: 1, uid: ' 07' }, { id: 3, uid: ' 07' }, { id: 5, uid: '007' }, { id: 6, uid: '+7' },
    ]);
    const [l] = await q(`select held_back::int as h from retention.run_ledger where policy = 'k46-msgs' order by run_id desc limit 1`);
    expect(l?.h).toBe(4);
  });
});
