// Attack round atk29 (legal holds on every path), each finding a test:
//  1. an inheritance child (INHERITS) did not take its parent's subject columns, so a
//     policy on the child deleted rows of a held subject (a policy's column, an erasure
//     subject table's key);
//  2. replacing an erasure rule, or renaming its subject column, quietly ended the
//     protection that column gave under open subject holds;
//  3. a hold spelt '042' did not hold '42' in a text column an erasure rule names, though
//     the erasure takes those rows as person 42's.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

async function held(policy: string): Promise<number> {
  const [p] = await q<{ held_back: number }>(`select held_back::int from retention.preview($1)`, [policy]);
  return p!.held_back;
}

describe('a subject hold covers every path to the person\'s rows (atk29)', () => {
  it('an inheritance child takes its parent\'s subject columns: a policy\'s, and an erasure subject table\'s key', async () => {
    await q(`create schema h1`);
    await q(`create table h1.events (id bigserial primary key, user_id int, created_at timestamptz not null)`);
    await q(`create table h1.events_old (extra text) inherits (h1.events)`);
    await q(`insert into h1.events_old (user_id, created_at) select i % 5, now() - interval '60 days' from generate_series(1, 50) i`);
    await q(`select retention.set_policy('h1.parent', 'h1.events', 'delete', 'created_at', p_retain => '30 days', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h1.child', 'h1.events_old', 'delete', 'created_at', p_retain => '30 days')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '3', 'case 1')`);
    expect(await held('h1.child')).toBe(10);
    await db.call(`call retention.run('h1.child')`);
    expect(await count(db, `h1.events_old where user_id = 3`)).toBe(10);
    expect(await count(db, `h1.events_old`)).toBe(10);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);

    // The key of an erasure subject table, in a child without a primary key of its own.
    await q(`create table h1.people (id int primary key, name text, created_at timestamptz not null)`);
    await q(`create table h1.people_legacy () inherits (h1.people)`);
    await q(`insert into h1.people values (1, 'one', now())`);
    await q(`insert into h1.people_legacy select i, 'p' || i, now() - interval '3 years' from generate_series(10, 19) i`);
    await q(`select retention.request_erasure('h1.people', '1', 'ticket 9')`);
    await q(`select retention.set_policy('h1.legacy', 'h1.people_legacy', 'delete', 'created_at', p_retain => '1 year')`);
    const [h2] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '015', 'case 2')`);
    expect(await held('h1.legacy')).toBe(1);
    await db.call(`call retention.run('h1.legacy')`);
    expect(await q(`select id from h1.people_legacy`)).toEqual([{ id: 15 }]);
    await q(`select retention.release_hold($1, 'done')`, [h2!.hold_id]);
  });

  it('an erasure rule\'s subject column cannot be replaced or renamed away from open subject holds', async () => {
    await q(`create schema h2`);
    await q(`create table h2.users (id int primary key)`);
    await q(`create table h2.logs (id serial primary key, user_id int, msg text, created_at timestamptz not null)`);
    await q(`insert into h2.users select generate_series(1, 5)`);
    await q(`insert into h2.logs (user_id, msg, created_at) select i % 5, 'm', now() - interval '60 days' from generate_series(1, 50) i`);
    await q(`select retention.set_policy('h2.logs', 'h2.logs', 'delete', 'created_at', p_retain => '30 days')`);
    await q(`select retention.set_erasure_rule('h2.logs', 'delete', p_subject_column => 'user_id', p_subject_table => 'h2.users')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '4', 'case 3')`);
    expect(await held('h2.logs')).toBe(10);
    const rules = await q(`select rule, subject_column from retention.erasure_rules where target = 'h2.logs'::regclass`);
    for (const sql of [`select retention.set_erasure_rule('h2.logs', 'scrub', p_scrub => '{"msg": null}')`,
                       `select retention.set_erasure_rule('h2.logs', 'keep', p_reason => 'kept 10 years')`]) {
      expect(await sqlState(q(sql)), sql).toBe('RT024');
    }
    expect(await q(`select rule, subject_column from retention.erasure_rules where target = 'h2.logs'::regclass`)).toEqual(rules);
    // Renamed: every run and count of the table fails (RT002) rather than the hold lapsing;
    // a preview of every policy lists it without figures.
    await q(`alter table h2.logs rename column user_id to account_id`);
    expect(await sqlState(db.call(`call retention.run('h2.logs')`))).toBe('RT002');
    expect(await count(db, `h2.logs`)).toBe(50);
    const all = await q<{ policy: string; eligible: number | null }>(`select policy, eligible from retention.preview() where policy = 'h2.logs'`);
    expect(all).toEqual([{ policy: 'h2.logs', eligible: null }]);
    const [setup] = await q<{ problem: string; fix: string }>(`select problem, fix from retention.check_setup() where policy = 'h2.logs' and problem like '%subject column%'`);
    expect(setup!.problem).toMatch(/erasure rule on h2\.logs: subject column user_id no longer exists/);
    expect(setup!.fix).toMatch(/set_erasure_rule/);
    await q(`alter table h2.logs rename column account_id to user_id`);
    await db.call(`call retention.run('h2.logs')`);
    expect(await count(db, `h2.logs`)).toBe(10);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
    // Without open subject holds the rule may change.
    await q(`select retention.set_erasure_rule('h2.logs', 'keep', p_reason => 'kept 10 years')`);
  });

  it('a hold spelt 042 holds \'42\' in a text column an erasure rule names, as the erasure takes it', async () => {
    await q(`create schema h3`);
    await q(`create table h3.users (id int primary key)`);
    await q(`create table h3.tickets (id serial primary key, user_id text, created_at timestamptz not null)`);
    await q(`insert into h3.users values (42), (43)`);
    await q(`insert into h3.tickets (user_id, created_at) select case when i <= 10 then '42' else '43' end, now() - interval '60 days' from generate_series(1, 20) i`);
    await q(`select retention.set_erasure_rule('h3.tickets', 'delete', p_subject_column => 'user_id', p_subject_table => 'h3.users')`);
    await q(`select retention.set_policy('h3.tickets', 'h3.tickets', 'delete', 'created_at', p_retain => '30 days')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '042', 'litigation user 42')`);
    expect(await held('h3.tickets')).toBe(10);
    await db.call(`call retention.run('h3.tickets')`);
    expect(await count(db, `h3.tickets where user_id = '42'`)).toBe(10);
    expect(await count(db, `h3.tickets where user_id = '43'`)).toBe(0);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
  });
});
