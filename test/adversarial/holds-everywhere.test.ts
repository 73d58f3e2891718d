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

// Attack round atk44 (F2): a subject column declared by a policy on one partition names a
// subject in its siblings too; dropping that partition took the declaration with it, and a
// run on the partitioned table deleted a held person's rows in the others.
describe('a subject column declared on a partition outlives the partition (atk44)', () => {
  async function family(schema: string): Promise<void> {
    await q(`create schema ${schema}`);
    await q(`create table ${schema}.events (id bigserial, user_id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table ${schema}.events_2020 partition of ${schema}.events for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`create table ${schema}.events_2021 partition of ${schema}.events for values from ('2021-01-01') to ('2022-01-01')`);
    await q(`create table ${schema}.events_now partition of ${schema}.events for values from ('2022-01-01') to ('2100-01-01')`);
    await q(`insert into ${schema}.events (user_id, created_at)
             select i % 5, d from generate_series(1, 20) i, unnest(array['2020-06-01', '2021-06-01']::timestamptz[]) d`);
  }

  it('the application drops the declaring partition: the siblings\' rows of a held subject stay', async () => {
    await family('h9');
    await q(`select retention.set_policy('h9.old', 'h9.events_2020', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h9.events', 'h9.events_2021', 'delete', 'created_at', p_retain => '1 year')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '3', 'case 9')`);
    expect(await held('h9.events')).toBe(4);
    await q(`drop table h9.events_2020`);
    expect(await held('h9.events')).toBe(4);
    await db.call(`call retention.run('h9.events')`);
    expect(await q(`select user_id, count(*)::int as n from h9.events group by 1`)).toEqual([{ user_id: 3, n: 4 }]);
    const [l] = await q<{ n: number }>(`select sum(b.rows)::int as n from retention.run_batches b join retention.runs r using (run_id)
                                         where r.policy_name = 'h9.events'`);
    expect(l!.n).toBe(16);
    // The dangling policy still declares the column for the family: dropping it is refused
    // while subject holds are open, until the parent declares it.
    expect(await sqlState(q(`select retention.drop_policy('h9.old')`))).toBe('RT024');
    await q(`select retention.set_policy('h9.new', 'h9.events_now', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.drop_policy('h9.old')`);
    expect(await held('h9.events')).toBe(4);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
  });

  it('the column renamed on the partitioned table: every sibling\'s run fails (RT002) until the new name is declared', async () => {
    await family('h12');
    await q(`create table h12.users (id int primary key)`);
    await q(`select retention.set_policy('h12.old', 'h12.events_2020', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h12.rows', 'h12.events_2021', 'delete', 'created_at', p_retain => '1 year')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '3', 'case 12')`);
    await q(`alter table h12.events rename column user_id to uid`);
    expect(await sqlState(db.call(`call retention.run('h12.rows')`))).toBe('RT002');
    await q(`drop table h12.events_2020`);
    const err = await db.call(`call retention.run('h12.rows')`).catch((e: Error & { hint?: string }) => e);
    expect(err).toMatchObject({ code: 'RT002', message: expect.stringMatching(/policy h12\.old: subject column user_id no longer exists in h12\.events_2021/) });
    expect(await count(db, `h12.events_2021`)).toBe(20);
    // The new name declared on the partitioned table, the dangling policy may go.
    await q(`select retention.set_erasure_rule('h12.events', 'delete', p_subject_column => 'uid', p_subject_table => 'h12.users')`);
    await q(`select retention.drop_policy('h12.old')`);
    await db.call(`call retention.run('h12.rows')`);
    expect(await q(`select uid, count(*)::int as n from h12.events group by 1`)).toEqual([{ uid: 3, n: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
  });

  it('drop_partitions drops the declaring partition; a table attached after its policy was declared; an inheritance child', async () => {
    await family('h10');
    await q(`select retention.set_policy('h10.old', 'h10.events_2020', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h10.drop', 'h10.events', 'drop_partitions', 'created_at', p_retain => '5 years')`);
    await q(`select retention.set_policy('h10.rows', 'h10.events_2021', 'delete', 'created_at', p_retain => '1 year')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '2', 'case 10')`);
    // 2020's rows hold person 2: the partition stays, with those rows alone. The hold
    // released, it goes; the 2021 rows of person 4 are then held by the column h10.old
    // declared on it.
    await db.call(`call retention.run('h10.drop')`);
    expect(await q(`select user_id, count(*)::int as n from h10.events_2020 group by 1`)).toEqual([{ user_id: 2, n: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
    const [h2] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '4', 'case 10b')`);
    await db.call(`call retention.run('h10.drop')`);
    expect(await q(`select to_regclass('h10.events_2020') as t`)).toEqual([{ t: null }]);
    await db.call(`call retention.run('h10.rows')`);
    expect(await q(`select user_id, count(*)::int as n from h10.events group by 1`)).toEqual([{ user_id: 4, n: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [h2!.hold_id]);

    // A table whose policy was declared before it became a partition: the attach (through
    // the DDL event trigger, with no hold open too since stop 53; else the next hold placed
    // or run opened) records the parent, and its drop leaves the siblings covered.
    await q(`create table h10.events_late (like h10.events)`);
    await q(`select retention.set_policy('h10.late', 'h10.events_late', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    expect(await q(`select subject_family::regclass[]::text[] as f from retention.policies where name = 'h10.late'`)).toEqual([{ f: [] }]);
    await q(`alter table h10.events attach partition h10.events_late for values from ('2019-01-01') to ('2020-01-01')`);
    expect(await q(`select subject_family::regclass[]::text[] as f from retention.policies where name = 'h10.late'`)).toEqual([{ f: ['h10.events'] }]);
    await q(`insert into h10.events (user_id, created_at) select i % 5, '2021-07-01' from generate_series(1, 20) i`);
    const [h3] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '1', 'case 10c')`);
    expect(await q(`select subject_family::regclass[]::text[] as f from retention.policies where name = 'h10.late'`)).toEqual([{ f: ['h10.events'] }]);
    // Kept by the engine: no direct-write entry in the audit log.
    expect(await q(`select count(*)::int as n from retention.audit_log where action like 'direct.%' and object_name = 'h10.late'`)).toEqual([{ n: 0 }]);
    await q(`drop table h10.events_late`);
    await q(`delete from retention.policies where name = 'h10.old'`);  // the owner, directly (audited)
    await db.call(`call retention.run('h10.rows')`);
    expect(await q(`select user_id, count(*)::int as n from h10.events group by 1`)).toEqual([{ user_id: 1, n: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [h3!.hold_id]);

    // An inheritance child's policy declares the column for its parent's other children.
    await q(`create table h10.logs (id serial, user_id int, created_at timestamptz not null)`);
    await q(`create table h10.logs_a () inherits (h10.logs)`);
    await q(`create table h10.logs_b () inherits (h10.logs)`);
    await q(`insert into h10.logs_b (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    await q(`select retention.set_policy('h10.logs_a', 'h10.logs_a', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h10.logs_b', 'h10.logs_b', 'delete', 'created_at', p_retain => '1 year')`);
    const [h4] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '0', 'case 10d')`);
    await q(`drop table h10.logs_a`);
    await db.call(`call retention.run('h10.logs_b')`);
    expect(await q(`select user_id, count(*)::int as n from h10.logs_b group by 1`)).toEqual([{ user_id: 0, n: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [h4!.hold_id]);

    // So for an erasure rule's subject column on a child that is dropped.
    await q(`create table h10.users (id int primary key)`);
    await q(`create table h10.logs_c () inherits (h10.logs)`);
    await q(`select retention.set_erasure_rule('h10.logs_c', 'delete', p_subject_column => 'user_id', p_subject_table => 'h10.users')`);
    await q(`delete from retention.policies where name = 'h10.logs_a'`);
    await q(`insert into h10.logs_b (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    const [h5] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '3', 'case 10e')`);
    await q(`drop table h10.logs_c`);
    await db.call(`call retention.run('h10.logs_b')`);
    expect(await q(`select user_id, count(*)::int as n from h10.logs_b group by 1`)).toEqual([{ user_id: 3, n: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [h5!.hold_id]);
  });
});

// Attack round atk44: a subject hold covered a message through its foreign key to the held
// person's row; the application dropped the key, and the next run deleted the messages.
describe('a subject hold keeps covering rows through a foreign key the application drops (atk44)', () => {
  it('a key there when the hold is placed, or when a run opens under it; a column renamed after', async () => {
    await q(`create schema h11`);
    await q(`create table h11.users (id int primary key, created_at timestamptz not null default now())`);
    await q(`create table h11.orders (id serial primary key, user_id int references h11.users, created_at timestamptz not null)`);
    await q(`create table h11.visits (id serial primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into h11.users (id) select generate_series(0, 4)`);
    await q(`insert into h11.orders (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    await q(`insert into h11.visits (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    await q(`select retention.set_policy('h11.users', 'h11.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'id')`);
    await q(`select retention.set_policy('h11.orders', 'h11.orders', 'delete', 'created_at', p_retain => '1 year')`);
    await q(`select retention.set_policy('h11.visits', 'h11.visits', 'delete', 'created_at', p_retain => '1 year')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '2', 'case 11')`);
    await q(`alter table h11.orders drop constraint orders_user_id_fkey`);
    await q(`alter table h11.orders rename column user_id to customer_id`);
    await db.call(`call retention.run('h11.orders')`);
    expect(await q(`select customer_id, count(*)::int as n from h11.orders group by 1`)).toEqual([{ customer_id: 2, n: 4 }]);

    // A key added after the hold: the next run opened records it; dropped, it still counts.
    await q(`alter table h11.visits add foreign key (user_id) references h11.users`);
    await q(`select retention.set_policy('h11.visits', 'h11.visits', 'delete', 'created_at', p_retain => '5 years')`);
    await db.call(`call retention.run('h11.visits')`);
    await q(`alter table h11.visits drop constraint visits_user_id_fkey`);
    await q(`select retention.set_policy('h11.visits', 'h11.visits', 'delete', 'created_at', p_retain => '1 year')`);
    await db.call(`call retention.run('h11.visits')`);
    expect(await q(`select user_id, count(*)::int as n from h11.visits group by 1`)).toEqual([{ user_id: 2, n: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
    await db.call(`call retention.run('h11.visits')`);
    expect(await count(db, `h11.visits`)).toBe(0);
  });
});

// Attack round atk44, as for table holds: a policy, an erasure rule and an erasure request
// name their table by OID. A rebuilt table (a copy, the old one dropped, the copy renamed)
// kept none of them, and subject holds stopped covering its rows by the columns they declared.
describe('subject columns declared on a table survive its rebuild under the same name (atk44)', () => {
  async function rebuild(table: string): Promise<void> {
    await q(`create table ${table}_new (like ${table} including all)`);
    await q(`insert into ${table}_new select * from ${table}`);
    await q(`select setval(pg_get_serial_sequence('${table}_new', 'id'), (select max(id) from ${table}_new))`);
    await q(`drop table ${table}`);
    await q(`alter table ${table}_new rename to ${table.split('.')[1]}`);
  }

  it('an erasure subject table, a policy\'s and an erasure rule\'s table, each rebuilt', async () => {
    await q(`create schema h13`);
    await q(`create table h13.users (id int primary key, last_seen timestamptz not null)`);
    await q(`create table h13.msgs (id int generated by default as identity primary key, user_id int, created_at timestamptz not null)`);
    await q(`create table h13.logs (id int generated by default as identity primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into h13.users select i, now() - interval '3 years' from generate_series(0, 4) i`);
    await q(`insert into h13.users values (9, now())`);
    await q(`insert into h13.msgs (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    await q(`insert into h13.logs (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    await q(`select retention.request_erasure('h13.users', '9', 'ticket 13')`);
    await q(`select retention.set_policy('h13.msgs-declared', 'h13.msgs', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_erasure_rule('h13.logs', 'delete', p_subject_column => 'user_id', p_subject_table => 'h13.users')`);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '2', 'case 13')`);
    for (const t of ['h13.users', 'h13.msgs', 'h13.logs']) await rebuild(t);
    await q(`select retention.set_policy('h13.inactive', 'h13.users', 'delete', 'last_seen', p_retain => '1 year')`);
    await q(`select retention.set_policy('h13.msgs', 'h13.msgs', 'delete', 'created_at', p_retain => '1 year')`);
    await q(`select retention.set_policy('h13.logs', 'h13.logs', 'delete', 'created_at', p_retain => '1 year')`);
    for (const p of ['h13.inactive', 'h13.msgs', 'h13.logs']) await db.call(`call retention.run('${p}')`);
    expect(await q(`select id from h13.users order by id`)).toEqual([{ id: 2 }, { id: 9 }]);
    expect(await q(`select user_id, count(*)::int as n from h13.msgs group by 1`)).toEqual([{ user_id: 2, n: 4 }]);
    expect(await q(`select user_id, count(*)::int as n from h13.logs group by 1`)).toEqual([{ user_id: 2, n: 4 }]);
    // Rebuilt again under the same name; and a table renamed, then rebuilt under its new
    // name (a run or hold in between records the new name).
    await q(`insert into h13.msgs (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    await rebuild('h13.msgs');
    await q(`select retention.set_policy('h13.msgs', 'h13.msgs', 'delete', 'created_at', p_retain => '1 year')`);
    await db.call(`call retention.run('h13.msgs')`);
    expect(await q(`select user_id, count(*)::int as n from h13.msgs group by 1`)).toEqual([{ user_id: 2, n: 8 }]);
    await q(`create table h13.notes (id int generated by default as identity primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into h13.notes (user_id, created_at) select i % 5, now() - interval '3 years' from generate_series(1, 20) i`);
    await q(`select retention.set_policy('h13.notes-declared', 'h13.notes', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'user_id')`);
    await q(`alter table h13.notes rename to notes2`);
    await q(`select retention.place_hold('subject', '3', 'case 13b')`);
    await rebuild('h13.notes2');
    await q(`select retention.set_policy('h13.notes2', 'h13.notes2', 'delete', 'created_at', p_retain => '1 year')`);
    await db.call(`call retention.run('h13.notes2')`);
    expect(await q(`select user_id, count(*)::int as n from h13.notes2 group by 1 order by 1`)).toEqual([{ user_id: 2, n: 4 }, { user_id: 3, n: 4 }]);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason like 'case 13%' and released_at is null`);
    void h;
  });
});

// Attack round atk53 (legal holds), each finding a test.
describe('what a subject hold relies on cannot be re-saved, dropped or pruned away (atk53)', () => {
  async function ev(schema: string): Promise<void> {
    await q(`create schema ${schema}`);
    await q(`create table ${schema}.ev (id int, person_id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table ${schema}.ev_p1 partition of ${schema}.ev for values from ('2000-01-01') to ('2010-01-01')`);
    await q(`create table ${schema}.ev_p2 partition of ${schema}.ev for values from ('2010-01-01') to ('2030-01-01')`);
    await q(`insert into ${schema}.ev values (1, 42, '2005-01-01'), (2, 42, '2015-01-01'), (3, 7, '2015-01-01')`);
    await q(`create table ${schema}.people (id int primary key)`);
    await q(`insert into ${schema}.people values (42), (7)`);
  }

  it('1: an erasure rule set again unchanged keeps the tables recorded above its detached partition', async () => {
    await ev('h14');
    await q(`select retention.set_erasure_rule('h14.ev_p1', 'delete', p_subject_column => 'person_id', p_subject_table => 'h14.people')`);
    await q(`select retention.set_policy('h14.ev2', 'h14.ev_p2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('subject', '42', 'case 14')`);
    await q(`alter table h14.ev detach partition h14.ev_p1`);
    expect(await held('h14.ev2')).toBe(1);
    await q(`select retention.set_erasure_rule('h14.ev_p1', 'delete', p_subject_column => 'person_id', p_subject_table => 'h14.people')`);
    expect(await held('h14.ev2')).toBe(1);
    await db.call(`call retention.run('h14.ev2')`);
    expect(await q(`select id from h14.ev_p2`)).toEqual([{ id: 2 }]);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'case 14' and released_at is null`);
  });

  it('2: dropping a policy is judged by every table it covered: its detached partition\'s old family, and both families of a dropped one', async () => {
    await ev('h15');
    await q(`select retention.set_policy('h15.a', 'h15.ev_p1', 'delete', 'created_at', p_retain => '100 years', p_subject_column => 'person_id')`);
    await q(`select retention.set_policy('h15.ev2', 'h15.ev_p2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('subject', '42', 'case 15')`);
    await q(`alter table h15.ev detach partition h15.ev_p1`);
    // Another policy on the detached table covers it alone, not its old siblings.
    await q(`select retention.set_policy('h15.b', 'h15.ev_p1', 'delete', 'created_at', p_retain => '100 years', p_subject_column => 'person_id')`);
    expect(await sqlState(q(`select retention.drop_policy('h15.a')`))).toBe('RT024');
    expect(await q(`select count(*)::int as n from retention.policies where name = 'h15.a'`)).toEqual([{ n: 1 }]);
    expect(await held('h15.ev2')).toBe(1);

    // In two families, then dropped: covered in one by another policy, in the other by none.
    await q(`create table h15.fx (id int, person_id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table h15.fx_q2 partition of h15.fx for values from ('2010-01-01') to ('2030-01-01')`);
    await q(`insert into h15.fx values (5, 42, '2015-01-01')`);
    await q(`select retention.set_policy('h15.c', 'h15.ev_p2', 'delete', 'created_at', p_retain => '100 years', p_subject_column => 'person_id')`);
    await q(`select retention.set_policy('h15.fx', 'h15.fx_q2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`alter table h15.fx attach partition h15.ev_p1 for values from ('2000-01-01') to ('2010-01-01')`);
    await q(`select retention.place_hold('subject', '999', 'case 15b')`);  // records h15.fx above h15.ev_p1
    await q(`select retention.drop_policy('h15.b')`);  // h15.a still declares it for both
    await q(`drop table h15.ev_p1`);
    expect(await sqlState(q(`select retention.drop_policy('h15.a')`))).toBe('RT024');
    expect(await held('h15.fx')).toBe(1);
    await db.call(`call retention.run('h15.fx')`);
    expect(await q(`select id from h15.fx`)).toEqual([{ id: 5 }]);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason like 'case 15%' and released_at is null`);
  });

  it('5: a partition the application detaches keeps the table hold on its old parent and its old siblings\' subject columns', async () => {
    await ev('h17');
    await q(`select retention.set_policy('h17.p1', 'h17.ev_p1', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('table', 'h17.ev', 'case 17')`);
    await q(`alter table h17.ev detach partition h17.ev_p1`);
    await db.call(`call retention.run('h17.p1')`);
    expect(await q(`select id from h17.ev_p1`)).toEqual([{ id: 1 }]);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'case 17' and released_at is null`);

    await ev('h18');
    await q(`select retention.set_policy('h18.a', 'h18.ev_p1', 'delete', 'created_at', p_retain => '100 years', p_subject_column => 'person_id')`);
    await q(`select retention.set_policy('h18.ev2', 'h18.ev_p2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('subject', '42', 'case 18')`);
    await q(`alter table h18.ev detach partition h18.ev_p2`);
    expect(await held('h18.ev2')).toBe(1);
    await db.call(`call retention.run('h18.ev2')`);
    expect(await q(`select id from h18.ev_p2`)).toEqual([{ id: 2 }]);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'case 18' and released_at is null`);
  });

  it('4: archived rows of a table gone before their object was written are judged by every value while a subject hold is open', async () => {
    await q(`select retention.place_hold('subject', '42', 'case 16')`);
    const rowsHeld = async (row: object) =>
      (await q<{ h: boolean }>(`select retention.archive_rows_held(0, $1::jsonb) as h`, [JSON.stringify([{ table: 'h16.gone', row }])]))[0]!.h;
    expect(await rowsHeld({ id: 1, person_id: 42 })).toBe(true);
    expect(await rowsHeld({ id: 1, person_id: '042' })).toBe(true);
    expect(await rowsHeld({ id: 1, person_id: 43 })).toBe(false);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'case 16' and released_at is null`);
    expect(await rowsHeld({ id: 1, person_id: 42 })).toBe(false);
  });
});

// Attack round atk56: the keys a table had through a former parent stopped counting once
// the application detached it.
describe('a detached table keeps the subject keys of its former parent (atk56)', () => {
  it('a subject column renamed and its name given to another column fails runs (RT002), here and in the family', async () => {
    await q(`create schema h20`);
    await q(`create table h20.logs (id int primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into h20.logs values (1, 42, now() - interval '10 days'), (2, 43, now() - interval '10 days')`);
    await q(`select retention.set_policy('h20.logs', 'h20.logs', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'user_id')`);
    await q(`select retention.place_hold('subject', '42', 'case 20')`);
    await q(`alter table h20.logs rename column user_id to account_id`);
    await q(`alter table h20.logs add column user_id int`);
    expect(await sqlState(db.call(`call retention.run('h20.logs')`))).toBe('RT002');
    expect(await count(db, 'h20.logs')).toBe(2);
    // Declared again on the column that holds the subject, runs go on.
    await q(`select retention.set_policy('h20.logs', 'h20.logs', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'account_id')`);
    await db.call(`call retention.run('h20.logs')`);
    expect(await q(`select id from h20.logs`)).toEqual([{ id: 1 }]);

    // Two partitions' columns swapped on the partitioned table: a sibling's run fails too.
    await q(`create table h20.ev (id int, user_id int, other_id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table h20.ev_p1 partition of h20.ev for values from ('2000-01-01') to ('2010-01-01')`);
    await q(`create table h20.ev_p2 partition of h20.ev for values from ('2010-01-01') to ('2030-01-01')`);
    await q(`insert into h20.ev values (1, 42, 7, '2005-01-01'), (2, 42, 7, '2015-01-01')`);
    await q(`select retention.set_policy('h20.a', 'h20.ev_p1', 'delete', 'created_at', p_retain => '100 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h20.ev2', 'h20.ev_p2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`alter table h20.ev rename column user_id to tmp_id`);
    await q(`alter table h20.ev rename column other_id to user_id`);
    await q(`alter table h20.ev rename column tmp_id to other_id`);
    expect(await sqlState(db.call(`call retention.run('h20.ev2')`))).toBe('RT002');
    expect(await count(db, 'h20.ev_p2')).toBe(1);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'case 20' and released_at is null`);
  });

  it('an inheritance child made NO INHERIT keeps its parent\'s key to a held person', async () => {
    await q(`create schema h19`);
    await q(`create table h19.users (id int primary key, created_at timestamptz not null default now())`);
    await q(`create table h19.messages (id int primary key, recipient int references h19.users (id), created_at timestamptz not null)`);
    await q(`create table h19.messages_old () inherits (h19.messages)`);
    await q(`insert into h19.users values (42), (43)`);
    await q(`insert into h19.messages_old values (1, 42, now() - interval '10 days'), (2, 43, now() - interval '10 days')`);
    await q(`select retention.set_policy('h19.users', 'h19.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'id')`);
    await q(`select retention.set_policy('h19.old', 'h19.messages_old', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('subject', '42', 'case 19')`);
    expect(await held('h19.old')).toBe(1);
    await q(`alter table h19.messages_old no inherit h19.messages`);
    expect(await held('h19.old')).toBe(1);
    await db.call(`call retention.run('h19.old')`);
    expect(await q(`select id from h19.messages_old`)).toEqual([{ id: 1 }]);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'case 19' and released_at is null`);
  });
});
