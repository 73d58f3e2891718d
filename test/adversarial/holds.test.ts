// Attacks on legal holds: every row a statement removes or changes is checked against the
// one hold rule — rows reached by cascade, partitions both ways, revoke tables, subjects
// compared in the column's type, other people's rows in an erasure.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

async function lastRun(policy: string) {
  const [r] = await q(`select status, eligible::int, held_back::int, affected::int from retention.runs where policy_name = $1 order by run_id desc limit 1`, [policy]);
  return r!;
}

describe('holds through foreign keys', () => {
  it('a table hold on a child table keeps every parent whose cascade would reach it, and counts them held back', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.c_orders (id int primary key, created_at timestamptz not null)`);
    await q(`create table app.c_lines (id int primary key, order_id int references app.c_orders on delete cascade)`);
    await q(`insert into app.c_orders select i, now() - interval '100 days' from generate_series(1, 10) i`);
    await q(`insert into app.c_lines select i, i from generate_series(1, 4) i`);
    await q(`select retention.set_policy('c-orders', 'app.c_orders', 'delete', 'created_at', p_retain => '30 days')`);
    await q(`select retention.place_hold('table', 'app.c_lines', 'Invoice dispute')`);
    const [pv] = await q(`select eligible::int, held_back::int from retention.preview('c-orders')`);
    expect(pv).toEqual({ eligible: 10, held_back: 4 });
    await db.call(`call retention.run('c-orders')`);
    expect(await lastRun('c-orders')).toMatchObject({ status: 'completed', eligible: 10, held_back: 4, affected: 6 });
    expect((await q(`select id from app.c_orders order by id`)).map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(await count(db, 'app.c_lines')).toBe(4);
  });

  it('a hold two cascades down (a grandchild) and a SET NULL child keep their ancestors', async () => {
    await q(`create table app.g_a (id int primary key, created_at timestamptz not null)`);
    await q(`create table app.g_b (id int primary key, a_id int references app.g_a on delete cascade)`);
    await q(`create table app.g_c (id int primary key, b_id int references app.g_b on delete cascade)`);
    await q(`create table app.g_n (id int primary key, a_id int references app.g_a on delete set null)`);
    await q(`insert into app.g_a select i, now() - interval '100 days' from generate_series(1, 6) i`);
    await q(`insert into app.g_b values (1, 1), (2, 2), (3, 3)`);
    await q(`insert into app.g_c values (1, 1)`);
    await q(`insert into app.g_n values (1, 4)`);
    await q(`select retention.set_policy('g-a', 'app.g_a', 'delete', 'created_at', p_retain => '30 days')`);
    await q(`select retention.place_hold('table', 'app.g_c', 'Grandchild hold')`);
    await q(`select retention.place_hold('table', 'app.g_n', 'Set-null child hold')`);
    await db.call(`call retention.run('g-a')`);
    expect((await q(`select id from app.g_a order by id`)).map((r) => r.id)).toEqual([1, 4]);
    expect(await lastRun('g-a')).toMatchObject({ held_back: 2, affected: 4 });
    expect(await count(db, 'app.g_c')).toBe(1);
    expect((await q(`select a_id from app.g_n`))[0]!.a_id).toBe(4);
  });

  it('a subject hold on a child row (the child table\'s policy names its subject column) keeps the parent', async () => {
    await q(`create table app.s_users (id int primary key, created_at timestamptz not null)`);
    await q(`create table app.s_msgs (id int primary key, author_id int references app.s_users on delete cascade, recipient_id int, sent_at timestamptz not null default now())`);
    await q(`insert into app.s_users select i, now() - interval '100 days' from generate_series(1, 5) i`);
    await q(`insert into app.s_msgs values (1, 1, 42), (2, 2, 43)`);
    await q(`select retention.set_policy('s-msgs', 'app.s_msgs', 'delete', 'sent_at', p_retain => '1 year', p_subject_column => 'recipient_id')`);
    await q(`select retention.set_policy('s-users', 'app.s_users', 'delete', 'created_at', p_retain => '30 days')`);
    await q(`select retention.place_hold('subject', '42', 'Recipient in litigation')`);
    await db.call(`call retention.run('s-users')`);
    expect((await q(`select id from app.s_users order by id`)).map((r) => r.id)).toEqual([1]);
    expect(await count(db, 'app.s_msgs')).toBe(1);
  });

  it('a self-referencing cascade: a manager stays while a report down the line is held', async () => {
    await q(`create table app.emp (id int primary key, manager_id int references app.emp on delete cascade, left_at timestamptz)`);
    // 1 manages 2, 2 manages 3 (held, still employed); 4 and 5 left long ago with nobody under them.
    await q(`insert into app.emp values (1, null, now() - interval '5 years'), (2, 1, now() - interval '5 years'), (3, 2, null),
                                        (4, null, now() - interval '5 years'), (5, 4, now() - interval '5 years')`);
    await q(`select retention.set_policy('emp', 'app.emp', 'delete', 'left_at', p_retain => '1 year', p_subject_column => 'id')`);
    await q(`select retention.place_hold('subject', '3', 'Tribunal claim')`);
    await db.call(`call retention.run('emp')`);
    expect((await q(`select id from app.emp order by id`)).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(await lastRun('emp')).toMatchObject({ eligible: 4, held_back: 2, affected: 2 });
  });
});

describe('holds across a partition tree', () => {
  it('a table hold on a partitioned parent protects a row policy on one of its partitions', async () => {
    await q(`create table app.pt (id int, at timestamptz not null) partition by range (at)`);
    await q(`create table app.pt_old partition of app.pt for values from ('2000-01-01') to ('2026-01-01')`);
    await q(`create table app.pt_new partition of app.pt for values from ('2026-01-01') to ('2100-01-01')`);
    await q(`insert into app.pt select i, '2025-01-01'::timestamptz + make_interval(days => i) from generate_series(1, 50) i`);
    await q(`select retention.set_policy('pt-old', 'app.pt_old', 'delete', 'at', p_retain => '30 days')`);
    await q(`select retention.place_hold('table', 'app.pt', 'Whole log under hold')`);
    await db.call(`call retention.run('pt-old')`);
    expect(await count(db, 'app.pt_old')).toBe(50);
    expect(await lastRun('pt-old')).toMatchObject({ eligible: 50, held_back: 50, affected: 0 });
  });

  it('drop_partitions keeps a sub-partitioned partition whose leaf is under a table hold', async () => {
    await q(`create table app.m (id int, at timestamptz not null) partition by range (at)`);
    await q(`create table app.m_2025 partition of app.m for values from ('2025-01-01') to ('2026-01-01') partition by range (at)`);
    await q(`create table app.m_2025h1 partition of app.m_2025 for values from ('2025-01-01') to ('2025-07-01')`);
    await q(`create table app.m_2025h2 partition of app.m_2025 for values from ('2025-07-01') to ('2026-01-01')`);
    await q(`create table app.m_2026 partition of app.m for values from ('2026-01-01') to ('2027-01-01')`);
    await q(`insert into app.m select i, '2025-01-01'::timestamptz + make_interval(days => i) from generate_series(0, 400) i`);
    await q(`select retention.set_policy('m', 'app.m', 'drop_partitions', 'at', p_retain => '30 days', p_max_rows_per_run => 100000)`);
    await q(`select retention.place_hold('table', 'app.m_2025h1', 'First half under hold')`);
    const h1 = await count(db, 'app.m_2025h1');
    await db.call(`call retention.run('m')`);
    expect(await count(db, 'app.m_2025h1')).toBe(h1);
    expect(await count(db, `pg_class where oid = 'app.m_2025'::regclass`)).toBe(1);
    // The unheld half of the kept partition goes row by row.
    expect(await count(db, 'app.m_2025h2')).toBe(0);
  });
});

describe('holds on revoke tables', () => {
  it('a scrub policy leaves a row unscrubbed while rows of its revoke tables are held', async () => {
    await q(`create table app.r_acc (id int primary key, email text, closed_at timestamptz)`);
    await q(`create table app.r_tok (id int primary key, acc_id int references app.r_acc on delete cascade)`);
    await q(`insert into app.r_acc select i, 'u' || i || '@x.example', now() - interval '1 year' from generate_series(1, 4) i`);
    await q(`insert into app.r_tok values (1, 1), (2, 2)`);
    await q(`select retention.set_policy('r-acc', 'app.r_acc', 'scrub', 'closed_at', p_retain => '30 days',
               p_scrub => '{"email": "null"}', p_revoke => array['app.r_tok'])`);
    await q(`select retention.place_hold('table', 'app.r_tok', 'Token forensics')`);
    await db.call(`call retention.run('r-acc')`);
    expect((await q(`select id from app.r_acc where email is null order by id`)).map((r) => r.id)).toEqual([3, 4]);
    expect(await count(db, 'app.r_tok')).toBe(2);
    expect(await lastRun('r-acc')).toMatchObject({ held_back: 2, affected: 2 });
  });
});

describe('subjects are compared in the column\'s type', () => {
  it('\'042\' and \' 42 \' hold subject 42; an upper-case UUID holds its row; \'abc\' on a bigint column holds nothing and breaks nothing', async () => {
    await q(`create table app.k (id int primary key, user_id bigint, ref uuid, at timestamptz not null)`);
    await q(`insert into app.k select i, i, ('00000000-0000-0000-0000-' || lpad(i::text, 12, 'a'))::uuid, now() - interval '1 year' from generate_series(40, 45) i`);
    await q(`select retention.set_policy('k-user', 'app.k', 'delete', 'at', p_retain => '30 days', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('k-ref', 'app.k', 'delete', 'at', p_retain => '30 days', p_subject_column => 'ref')`);
    await q(`select retention.place_hold('subject', '042', 'Zero-padded id')`);
    await q(`select retention.place_hold('subject', ' 43 ', 'Padded id')`);
    await q(`select retention.place_hold('subject', '00000000-0000-0000-0000-AAAAAAAAAA44', 'Upper-case UUID')`);
    await q(`select retention.place_hold('subject', 'abc', 'Not a number')`);
    await db.call(`call retention.run('k-user')`);
    expect((await q(`select id from app.k order by id`)).map((r) => r.id)).toEqual([42, 43, 44]);
    const [h] = await q(`select subject_id from retention.legal_holds where reason = 'Padded id'`);
    // Stored as given; compared in each column's type (a text column keeps its spaces).
    expect(h!.subject_id).toBe(' 43 ');
  });

  it('place_hold warns when no row of any subject column holds the id', async () => {
    const { notices } = await db.call(`select retention.place_hold('subject', '99999', 'Typo?')`);
    expect(notices.join('\n')).toMatch(/no row of any subject column/);
    // Not the value: a warning reaches the server's log, where no erasure does (atk104 F7).
    expect(notices.join('\n')).toMatch(/holds the held value/);
    const { notices: ok } = await db.call(`select retention.place_hold('subject', '42', 'Known')`);
    expect(ok.join('\n')).not.toMatch(/no row of any subject column/);
  });
});

describe('erasure and other people', () => {
  it('a manager\'s erasure would cascade to the reports: the plan warns, processing refuses and changes nothing', async () => {
    await q(`create table app.staff (id int primary key, name text, manager_id int references app.staff on delete cascade)`);
    // (Ids no hold of this file names.)
    await q(`insert into app.staff values (201, 'boss', null), (202, 'ann', 201), (203, 'bob', 201), (204, 'cy', 203), (205, 'dee', null)`);
    const [req] = await q(`select request_id from retention.request_erasure('app.staff', '201', 'ticket 1')`);
    // (Steps only: this file's policies' subject columns no table owns are gaps, listed after them.)
    const plan = await q(`select target, warning from retention.erasure_plan($1) where warning is not null and rule is not null`, [req!.request_id]);
    expect(plan).toEqual([{ target: 'app.staff', warning: expect.stringMatching(/cascade through staff_manager_id_fkey to 2 other row\(s\) of app\.staff outside the plan/) }]);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]).catch(() => {});
    expect(await count(db, 'app.staff')).toBe(5);
    const [r] = await q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r!.status).toBe('failed');
  });

  it('another person\'s held row in the plan blocks the erasure before anything changes', async () => {
    await q(`create table app.e_users (id int primary key, email text)`);
    await q(`create table app.e_msgs (id int primary key, author_id int references app.e_users on delete cascade, recipient_id int, sent_at timestamptz not null default now())`);
    await q(`insert into app.e_users values (7, 'seven@x.example'), (8, 'eight@x.example')`);
    await q(`insert into app.e_msgs values (1, 7, 8), (2, 7, 9), (3, 8, 7)`);
    await q(`select retention.set_policy('e-msgs', 'app.e_msgs', 'delete', 'sent_at', p_retain => '1 year', p_subject_column => 'recipient_id')`);
    await q(`select retention.place_hold('subject', '9', 'Recipient 9 in litigation')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.e_users', '7', 'ticket 2')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    const [r] = await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r).toEqual({ status: 'blocked_by_hold', status_reason: expect.stringMatching(/legal holds cover 1 row\(s\) of app\.e_msgs/) });
    expect(await count(db, 'app.e_msgs')).toBe(3);
    expect(await count(db, 'app.e_users')).toBe(2);
  });

  it('a subject hold written \'007\' blocks the erasure of subject 7', async () => {
    await q(`create table app.z_users (id int primary key, email text)`);
    await q(`insert into app.z_users values (7, 'z@x.example')`);
    const [hold] = await q(`select hold_id from retention.place_hold('subject', '007', 'Padded')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.z_users', '7', 'ticket 3')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    const [r] = await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r).toEqual({ status: 'blocked_by_hold', status_reason: `legal hold ${hold!.hold_id} (subject): Padded` });
    expect(await count(db, 'app.z_users')).toBe(1);
  });
});

// A third attacker review (against deae168): shapes the one hold rule did not follow.
describe('holds: subject columns of partitions, rules, integral ids, views', () => {
  it('a subject column declared by a policy on a partition holds rows reached through the parent', async () => {
    await db.q(`drop schema if exists hp cascade`);
    await db.q(`create schema hp`);
    await db.q(`create table hp.ev (id int, created_at timestamptz not null, region text not null, user_id int not null) partition by range (created_at)`);
    await db.q(`create table hp.ev_2024 partition of hp.ev for values from ('2024-01-01') to ('2025-01-01') partition by list (region)`);
    await db.q(`create table hp.ev_2024_eu partition of hp.ev_2024 for values in ('eu')`);
    await db.q(`create table hp.ev_2024_us partition of hp.ev_2024 for values in ('us')`);
    await db.q(`create table hp.ev_2026 partition of hp.ev for values from ('2026-01-01') to ('2027-01-01')`);
    await db.q(`insert into hp.ev values (1, '2024-03-01', 'eu', 7), (2, '2024-03-01', 'us', 8), (4, '2026-06-01', 'eu', 7)`);
    await db.q(`select retention.set_policy('hp.rows', 'hp.ev_2024_eu', 'delete', 'created_at', interval '100 years', p_subject_column => 'user_id')`);
    await db.q(`select retention.set_policy('hp.drop', 'hp.ev', 'drop_partitions', 'created_at', interval '30 days')`);
    const hold = (await db.q(`select hold_id from retention.place_hold('subject', '7', 'litigation')`))[0]!.hold_id;
    await db.call(`call retention.run('hp.drop')`);
    expect((await db.q(`select id from hp.ev order by id`)).map((r) => r.id)).toEqual([1, 4]);
    // And through a cascade into a partitioned table whose partition's policy names the column.
    await db.q(`create table hp.users (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table hp.acts (id int, created_at timestamptz not null, user_id int not null references hp.users on delete cascade, actor text) partition by range (created_at)`);
    await db.q(`create table hp.acts_2024 partition of hp.acts for values from ('2024-01-01') to ('2025-01-01')`);
    await db.q(`insert into hp.users values (1, now() - interval '5 years')`);
    await db.q(`insert into hp.acts values (1, '2024-03-01', 1, 'bob')`);
    await db.q(`select retention.set_policy('hp.acts', 'hp.acts_2024', 'delete', 'created_at', interval '100 years', p_subject_column => 'actor')`);
    await db.q(`select retention.set_policy('hp.users', 'hp.users', 'delete', 'created_at', interval '1 year')`);
    const bob = (await db.q(`select hold_id from retention.place_hold('subject', 'bob', 'litigation')`))[0]!.hold_id;
    await db.call(`call retention.run('hp.users')`);
    expect(await count(db, 'hp.acts')).toBe(1);
    expect(await count(db, 'hp.users')).toBe(1);
    for (const h of [hold, bob]) await db.q(`select retention.release_hold($1, 'done')`, [h]);
  });

  it('a rule that rewrites a delete on a table the run reaches refuses the run', async () => {
    await db.q(`drop schema if exists hr cascade`);
    await db.q(`create schema hr`);
    await db.q(`create table hr.users (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table hr.orders (id int primary key, user_id int references hr.users on delete cascade)`);
    await db.q(`create table hr.invoices (id int primary key, order_id int)`);
    await db.q(`create rule orders_del as on delete to hr.orders do also delete from hr.invoices where order_id = old.id`);
    await db.q(`insert into hr.users values (1, now() - interval '5 years')`);
    await db.q(`insert into hr.orders values (10, 1)`);
    await db.q(`insert into hr.invoices values (100, 10)`);
    await db.q(`select retention.set_policy('hr.users', 'hr.users', 'delete', 'created_at', interval '1 year')`);
    const hold = (await db.q(`select hold_id from retention.place_hold('table', 'hr.invoices', 'tax audit')`))[0]!.hold_id;
    expect(await sqlState(db.call(`call retention.run('hr.users')`))).toBe('RT033');
    expect(await count(db, 'hr.invoices')).toBe(1);
    expect(await count(db, 'hr.users')).toBe(1);
    await db.q(`select retention.release_hold($1, 'done')`, [hold]);
  });

  it('a subject id written 7.0 holds 7 in an integer column too; a hold on a view is refused', async () => {
    await db.q(`drop schema if exists hn cascade`);
    await db.q(`create schema hn`);
    await db.q(`create table hn.users (id numeric primary key, created_at timestamptz not null)`);
    await db.q(`create table hn.orders (id int primary key, user_id int not null references hn.users (id), created_at timestamptz not null)`);
    await db.q(`insert into hn.users values (7, now() - interval '5 years')`);
    await db.q(`insert into hn.orders values (1, 7, now() - interval '5 years')`);
    await db.q(`select retention.set_policy('hn.users', 'hn.users', 'delete', 'created_at', interval '1 year', p_subject_column => 'id')`);
    await db.q(`select retention.set_policy('hn.orders', 'hn.orders', 'delete', 'created_at', interval '1 year')`);
    const hold = (await db.q(`select hold_id from retention.place_hold('subject', '7.0', 'litigation')`))[0]!.hold_id;
    await db.call(`call retention.run('hn.orders')`);
    expect(await count(db, 'hn.orders')).toBe(1);
    await db.q(`select retention.release_hold($1, 'done')`, [hold]);
    await db.q(`create view hn.v_users as select * from hn.users`);
    expect(await sqlState(db.q(`select retention.place_hold('table', 'hn.v_users', 'inquiry')`))).toBe('RT010');
  });
});
