// Attack round atk26 (personal data left behind by an erasure), each finding a test:
//  1. rows written for the person after their table's step survived a "completed" request
//     (a scrubbed subject has no cascade to take them; a subject column has no key);
//  2. a policy's subject column was taken for the subject table's people by its name alone,
//     so erasing tenant_a.users' user 7 deleted (and export_subject handed out) the logs
//     of tenant_b.users' user 7;
//  3. a pending proposal kept the erased person's primary key (their e-mail address);
//  4. a runner login could queue every erasure_overdue alert early (a future p_as_of), so
//     none came when the request was really overdue, and the alert carried a hold's reason;
//  5. a text column holding an integer key could not be named by an erasure rule, and the
//     plan did not list it; a trigger copying rows to a history table went unmentioned;
//  6. request_stop left no trace in the audit log; a policy whose table was dropped could
//     not be dropped while a subject hold was open.
import { afterAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const { login } = useLogins(db);
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
});

/** One session driving process_erasure's loop by hand (the executor steps). */
async function driver(): Promise<pg.Client> {
  const c = await db.connect();
  clients.push(c);
  await c.query('select retention.pin_session()');
  return c;
}

async function stepRun(c: pg.Client, runId: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const { rows: [st] } = await c.query<{ status: string }>('select status from retention.runs where run_id = $1', [runId]);
    if (st!.status !== 'running') return;
    await c.query('select retention.run_step($1)', [runId]);
  }
  throw new Error(`run ${runId} did not end`);
}

describe('an erasure leaves none of the person behind (atk26)', () => {
  it('rows written for the person after their table\'s step fail the request, and processing again takes them', async () => {
    await db.q(`create schema lo1`);
    await db.q(`create table lo1.users (id int primary key, email text, name text)`);
    await db.q(`create table lo1.sessions (id serial primary key, user_id int not null references lo1.users on delete cascade, ip text)`);
    await db.q(`create table lo1.app_logs (id serial primary key, user_id int, msg text, created_at timestamptz default now())`);
    await db.q(`insert into lo1.users values (7, 'alice@example.com', 'Alice'), (8, 'bob@example.com', 'Bob')`);
    await db.q(`insert into lo1.sessions (user_id, ip) values (7, '10.0.0.7'), (8, '10.0.0.8')`);
    await db.q(`insert into lo1.app_logs (user_id, msg) values (7, 'alice in'), (8, 'bob in')`);
    await db.q(`select retention.set_policy('lo1.logs', 'lo1.app_logs', 'delete', 'created_at', p_retain => '30 days', p_subject_column => 'user_id')`);
    await db.q(`select retention.set_erasure_rule('lo1.users', 'scrub', p_scrub => '{"email": "sha256", "name": null}')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lo1.users', '7', 'ticket 1')`);
    const id = req!.request_id;

    const c = await driver();
    await c.query('select retention.open_erasure($1, 1000)', [id]);
    const tables: string[] = [];
    for (;;) {
      const { rows: [s] } = await c.query<{ run_id: number | null; status: string; message: string | null; code: string | null }>(
        'select run_id::int, status, message, code from retention.erasure_step($1)', [id]);
      if (s!.run_id === null) {
        // Every step ran; the application wrote for the person after sessions' and
        // app_logs' steps: the request is not completed.
        expect(s!.status).toBe('failed');
        expect(s!.code).toBe('RT032');
        expect(s!.message).toMatch(/still to be deleted, written or changed after its step ran/);
        expect(s!.message).not.toContain('alice');
        break;
      }
      const [{ t }] = (await c.query<{ t: string }>('select erasure_table as t from retention.runs where run_id = $1', [s!.run_id])).rows as [{ t: string }];
      tables.push(t);
      if (t === 'lo1.users') {
        await db.q(`insert into lo1.sessions (user_id, ip) values (7, '10.9.9.7')`);
        await db.q(`insert into lo1.app_logs (user_id, msg) values (7, 'alice again')`);
        await db.q(`update lo1.app_logs set user_id = 7 where msg = 'bob in'`);
      }
      await stepRun(c, s!.run_id);
    }
    expect(tables).toEqual(expect.arrayContaining(['lo1.sessions', 'lo1.app_logs', 'lo1.users']));
    expect((await db.q(`select status from retention.erasure_requests where request_id = $1`, [id]))[0]!.status).toBe('failed');
    expect(await count(db, `lo1.sessions where user_id = 7`)).toBe(1);

    // Processing again plans them in; nothing of the person is left.
    await db.call(`call retention.process_erasure($1)`, [id]);
    expect((await db.q(`select status, subject_id from retention.erasure_requests where request_id = $1`, [id]))[0])
      .toEqual({ status: 'completed', subject_id: null });
    expect(await count(db, `lo1.sessions where user_id = 7`)).toBe(0);
    expect(await count(db, `lo1.app_logs where user_id = 7`)).toBe(0);
    expect(await count(db, `lo1.users where id = 7 and (email like '%alice%' or name is not null)`)).toBe(0);
    expect(await count(db, `lo1.sessions where user_id = 8`)).toBe(1);
  });

  it('a subject column another schema\'s table could own too is a gap, not a step; an unambiguous one is still a step', async () => {
    for (const t of ['ta', 'tb']) {
      await db.q(`create schema ${t}`);
      await db.q(`create table ${t}.users (id int primary key, email text)`);
      await db.q(`create table ${t}.logs (id serial primary key, user_id int, msg text, created_at timestamptz default now())`);
      await db.q(`select retention.set_policy('${t}.logs', '${t}.logs', 'delete', 'created_at', p_retain => '90 days', p_subject_column => 'user_id')`);
    }
    await db.q(`insert into ta.users values (7, 'gina@a.example'), (8, 'ivan@a.example')`);
    await db.q(`insert into tb.users values (7, 'hugo@b.example'), (8, 'judy@b.example')`);
    await db.q(`insert into ta.logs (user_id, msg) values (7, 'gina'), (8, 'ivan')`);
    await db.q(`insert into tb.logs (user_id, msg) values (7, 'hugo'), (8, 'judy')`);

    // Ivan's export holds tenant A's rows only.
    const [exp] = await db.q<{ j: string }>(`select retention.export_subject('ta.users', '8')::text as j`);
    expect(exp!.j).toContain('ivan');
    expect(exp!.j).not.toContain('judy');

    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('ta.users', '7', 'gina via support')`);
    const plan = await db.q(`select target, rule, warning is not null as gap from retention.erasure_plan($1) order by step`, [req!.request_id]);
    expect(plan).toEqual(expect.arrayContaining([
      { target: 'ta.users', rule: 'delete', gap: false },
      { target: 'ta.logs', rule: 'delete', gap: false },
      { target: 'tb.logs', rule: null, gap: true },
    ]));
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await count(db, `ta.logs where user_id = 7`)).toBe(0);
    expect(await count(db, `tb.logs where user_id = 7`)).toBe(1);
    expect(await count(db, `retention.erasure_evidence where request_id = $1 and target = 'tb.logs'`, [req!.request_id])).toBe(0);

    // One users table anywhere: its logs in another schema are its people's.
    await db.q(`create schema lo2auth`);
    await db.q(`create schema lo2app`);
    await db.q(`create table lo2auth.members (id int primary key, email text)`);
    await db.q(`create table lo2app.events (id serial primary key, member_id int, created_at timestamptz default now())`);
    await db.q(`insert into lo2auth.members values (5, 'kai@example.com')`);
    await db.q(`insert into lo2app.events (member_id) values (5), (6)`);
    await db.q(`select retention.set_policy('lo2.events', 'lo2app.events', 'delete', 'created_at', p_retain => '90 days', p_subject_column => 'member_id')`);
    const [r2] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lo2auth.members', '5', 'kai')`);
    await db.call(`call retention.process_erasure($1)`, [r2!.request_id]);
    expect(await count(db, `lo2app.events where member_id = 5`)).toBe(0);
    expect(await count(db, `lo2app.events`)).toBe(1);
  });

  it('a pending proposal forgets the erased person\'s key', async () => {
    await db.q(`create schema lo3`);
    await db.q(`create table lo3.subscribers (email text primary key, signed_up timestamptz not null)`);
    await db.q(`insert into lo3.subscribers values ('kim@example.com', now() - interval '3 years'), ('lee@example.com', now() - interval '3 years')`);
    await db.q(`select retention.set_policy('lo3.subs', 'lo3.subscribers', 'delete', 'signed_up', p_retain => '1 year', p_approval => 'required')`);
    await db.q(`select retention.propose('lo3.subs')`);
    expect(await count(db, `retention.proposal_rows where row_key::text like '%kim@%'`)).toBe(1);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lo3.subscribers', 'kim@example.com', 'web form')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await count(db, `retention.proposal_rows where row_key::text like '%kim@%'`)).toBe(0);
    expect(await count(db, `retention.proposal_rows where row_key::text like '%lee@%'`)).toBe(1);
    expect(await count(db, `retention.proposal_rows where row_key ? 'erased'`)).toBe(1);
  });

  it('a future clock queues no overdue alert, a missed occurrence must be past, and the alert carries no hold reason', async () => {
    const runner = await login('lo4run', 'retention_runner');
    await db.q(`create schema lo4`);
    await db.q(`create table lo4.users (id int primary key, email text, created_at timestamptz not null default now())`);
    await db.q(`insert into lo4.users values (1, 'dave@example.com')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lo4.users', '1', 'dave')`);
    const id = req!.request_id;
    const early = await runner.query(`select request_id::int, newly_noted from retention.note_overdue_erasures(now() + interval '100 years') where request_id = $1`, [id]);
    expect(early.rows).toEqual([{ request_id: id, newly_noted: false }]);
    expect(await count(db, `retention.notifications where kind = 'erasure_overdue' and (payload->>'request_id')::int = $1`, [id])).toBe(0);
    await db.q(`select retention.set_policy('lo4.p', 'lo4.users', 'delete', 'created_at', p_retain => '1 year', p_enabled => false)`);
    expect(await sqlState(runner.query(`select retention.note_overdue('lo4.p', now() + interval '1 day', now() + interval '2 days')`))).toBe('RT017');

    // Blocked by a hold whose reason names the person, then really overdue.
    const [hold] = await db.q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '1', 'Litigation: Dave Doe v. Example, dave@example.com')`);
    await db.call(`call retention.process_erasure($1)`, [id]).catch(() => {});
    expect((await db.q(`select status from retention.erasure_requests where request_id = $1`, [id]))[0]!.status).toBe('blocked_by_hold');
    await db.q(`update retention.erasure_requests set requested_at = now() - interval '32 days', due_at = now() - interval '2 days' where request_id = $1`, [id]);
    const due = await runner.query(`select newly_noted from retention.note_overdue_erasures() where request_id = $1`, [id]);
    expect(due.rows).toEqual([{ newly_noted: true }]);
    const [n] = await db.q<{ payload: Record<string, unknown> }>(`select payload from retention.notifications where kind = 'erasure_overdue' and (payload->>'request_id')::int = $1`, [id]);
    expect(n!.payload).toMatchObject({ status: 'blocked_by_hold', days_overdue: 2 });
    expect(JSON.stringify(n!.payload)).not.toMatch(/Dave|dave@|Litigation/);
    await db.q(`select retention.release_hold($1, 'settled')`, [hold!.hold_id]);
  });

  it('an erasure rule may name a text column holding an integer key; the plan lists such a column and history triggers', async () => {
    await db.q(`create schema lo5`);
    await db.q(`create table lo5.users (id int primary key, email text, name text)`);
    await db.q(`create table lo5.tickets (id serial primary key, user_id text, body text, opened timestamptz default now())`);
    await db.q(`create table lo5.history (at timestamptz default now(), old jsonb)`);
    await db.q(`create function lo5.keep_history() returns trigger language plpgsql as $$
                begin insert into lo5.history (old) values (to_jsonb(old)); return null; end $$`);
    await db.q(`create trigger users_history after update or delete on lo5.users for each row execute function lo5.keep_history()`);
    await db.q(`insert into lo5.users values (7, 'pat@example.com', 'Pat Doe'), (17, 'sam@example.com', 'Sam')`);
    await db.q(`insert into lo5.tickets (user_id, body) values ('7', 'help'), ('17', 'other'), ('007', 'not canonical')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lo5.users', '7', 'pat')`);
    const before = await db.q<{ target: string; via: string; warning: string | null }>(
      `select target, via, warning from retention.erasure_plan($1) order by step`, [req!.request_id]);
    expect(before.find((r) => r.target === 'lo5.tickets')?.warning).toMatch(/looks like|names the person/);
    expect(before.find((r) => r.via === 'trigger users_history')?.warning).toMatch(/copies rows elsewhere/);

    expect(await sqlState(db.q(`select retention.set_erasure_rule('lo5.tickets', 'delete', p_subject_column => 'opened', p_subject_table => 'lo5.users')`))).toBe('RT020');
    await db.q(`select retention.set_erasure_rule('lo5.tickets', 'delete', p_subject_column => 'user_id', p_subject_table => 'lo5.users')`);
    const plan = await db.q(`select target, rule, rows::int from retention.erasure_plan($1) where rule is not null order by step`, [req!.request_id]);
    expect(plan).toContainEqual({ target: 'lo5.tickets', rule: 'delete', rows: 1 });
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select user_id, body from lo5.tickets order by id`)).toEqual([{ user_id: '17', body: 'other' }, { user_id: '007', body: 'not canonical' }]);
  });

  it('a trigger that writes the person\'s row back does not keep a step going for ever: the request fails (atk30)', async () => {
    await db.q(`create schema lo8`);
    await db.q(`create table lo8.people (id int primary key, email text)`);
    await db.q(`insert into lo8.people values (1, 'p1@x'), (2, 'p2@x')`);
    await db.q(`create function lo8.undo() returns trigger language plpgsql security definer as $$
                begin if pg_trigger_depth() = 1 then update lo8.people set email = old.email where id = new.id; end if; return null; end $$`);
    await db.q(`create trigger undo after update on lo8.people for each row execute function lo8.undo()`);
    await db.q(`select retention.set_erasure_rule('lo8.people', 'scrub', p_scrub => '{"email": null}')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lo8.people', '2', 'ticket 8')`);
    expect(await sqlState(db.call(`call retention.process_erasure($1)`, [req!.request_id]))).toBe('RT032');
    const [r] = await db.q<{ status: string; status_reason: string }>(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r!.status).toBe('failed');
    expect(r!.status_reason).toMatch(/writes them back or inserts them again/);
    expect(await count(db, `retention.runs where request_id = $1 and affected > 102`, [req!.request_id])).toBe(0);
  });

  it('a stop request is in the audit log', async () => {
    await db.q(`create schema lo6`);
    await db.q(`create table lo6.t (id int primary key, at timestamptz not null)`);
    await db.q(`insert into lo6.t select i, now() - interval '2 years' from generate_series(1, 10) i`);
    await db.q(`select retention.set_policy('lo6.p', 'lo6.t', 'delete', 'at', p_retain => '1 year', p_batch_size => 2)`);
    const c = await driver();
    const { rows: [r] } = await c.query<{ id: number }>(`select retention.open_run('lo6.p')::int as id`);
    const runner = await login('lo6run', 'retention_runner');
    expect((await runner.query(`select retention.request_stop($1) as s`, [r!.id])).rows[0]!.s).toBe(true);
    expect(await count(db, `retention.audit_log where action = 'run.stop_requested' and object_name = 'lo6.p' and details->>'run_id' = $1::text`, [r!.id])).toBe(1);
    expect((await runner.query(`select retention.request_stop($1) as s`, [r!.id])).rows[0]!.s).toBe(false);
    await stepRun(c, r!.id);
  });

  it('a policy whose table was dropped can be dropped while a subject hold is open', async () => {
    await db.q(`create schema lo7`);
    await db.q(`create table lo7.logs (id int primary key, user_id int, at timestamptz not null)`);
    await db.q(`select retention.set_policy('lo7.logs', 'lo7.logs', 'delete', 'at', p_retain => '1 year', p_subject_column => 'user_id')`);
    const [hold] = await db.q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '4242', 'case 9')`);
    expect(await sqlState(db.q(`select retention.drop_policy('lo7.logs')`))).toBe('RT024');
    await db.q(`drop table lo7.logs`);
    await db.q(`select retention.drop_policy('lo7.logs')`);
    expect(await count(db, `retention.policies where name = 'lo7.logs'`)).toBe(0);
    await db.q(`select retention.release_hold($1, 'done')`, [hold!.hold_id]);
  });
});

// Attack round atk32: a request said completed while the person's data was still there.
//  F8. a row of the person written during processing into a table whose key to the person's
//      row is ON DELETE SET NULL, after that table's step: the subject's delete set its key
//      NULL, and the completion's re-count no longer found it;
//  F7. irregular plurals (companies: company_id) and a policy's subject column no name rule
//      matches: neither a step nor a gap;
//  F9. an inheritance child (INHERITS) of a table of the plan: neither a step nor a gap;
//  F6. a subject table keyed by the e-mail address, scrubbed: the address stayed in the key
//      and in the referencing rows, the plan said nothing;
//  and: a composite key's name repeated in the plan's via; a chain of keys deeper than the
//      walk's ten levels pointed at set_erasure_rule, which cannot reach it.
describe('an erasure completes only when the person\'s rows are gone (atk32)', () => {
  it('a row written during processing into a table keyed ON DELETE SET NULL fails the request instead of being cut loose (F8)', async () => {
    await db.q(`create schema lo9`);
    await db.q(`create table lo9.users (id int primary key, email text)`);
    await db.q(`create table lo9.comments (id int primary key, user_id int references lo9.users on delete set null, body text)`);
    await db.q(`insert into lo9.users values (1, 'alice@example.com'), (2, 'bob@example.com')`);
    await db.q(`insert into lo9.comments values (100, 1, 'I am Alice'), (200, 2, 'bob')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lo9.users', '1', 'ticket 9')`);
    const id = req!.request_id;
    const c = await driver();
    await c.query('select retention.open_erasure($1, 1000)', [id]);
    let last: { run_id: number | null; status: string; message: string | null; code: string | null } | undefined;
    for (;;) {
      const { rows: [s] } = await c.query<{ run_id: number | null; status: string; message: string | null; code: string | null }>(
        'select run_id::int, status, message, code from retention.erasure_step($1)', [id]);
      last = s;
      if (s!.run_id === null) break;
      const [{ t }] = (await c.query<{ t: string }>('select erasure_table as t from retention.runs where run_id = $1', [s!.run_id])).rows as [{ t: string }];
      if (t === 'lo9.users') {
        // The application writes for Alice after comments' step, before the users batch.
        await db.q(`insert into lo9.comments values (101, 1, 'Alice again: alice@example.com')`);
      }
      await stepRun(c, s!.run_id);
    }
    expect(last!.status).toBe('failed');
    expect(last!.code).toBe('RT032');
    const [r] = await db.q<{ status: string; status_reason: string }>(`select status, status_reason from retention.erasure_requests where request_id = $1`, [id]);
    expect(r!.status).toBe('failed');
    expect(r!.status_reason).toMatch(/lo9\.comments that the erasure takes still reference the rows this step deletes through comments_user_id_fkey \(ON DELETE SET NULL\)/);
    expect(r!.status_reason).not.toContain('alice');
    // Nothing cut loose: the user's row and the new comment are as they were.
    expect(await db.q(`select id, user_id from lo9.comments order by id`)).toEqual([{ id: 101, user_id: 1 }, { id: 200, user_id: 2 }]);
    expect(await count(db, `lo9.users where id = 1`)).toBe(1);

    // A comment being written while the users step runs (its insert not yet committed,
    // the user's row locked by its key check): the row is not deleted under it, and the
    // request fails rather than completes.
    const app = await db.connect();
    clients.push(app);
    await c.query('select retention.open_erasure($1, 1000)', [id]);
    for (;;) {
      const { rows: [s] } = await c.query<{ run_id: number | null; status: string; code: string | null }>(
        'select run_id::int, status, code from retention.erasure_step($1)', [id]);
      if (s!.run_id === null) {
        expect([s!.status, s!.code]).toEqual(['failed', 'RT032']);
        break;
      }
      const [{ t }] = (await c.query<{ t: string }>('select erasure_table as t from retention.runs where run_id = $1', [s!.run_id])).rows as [{ t: string }];
      if (t === 'lo9.users') {
        await app.query('begin');
        await app.query(`insert into lo9.comments values (102, 1, 'Alice, in flight')`);
        await c.query('select retention.run_step($1)', [s!.run_id]);
        await app.query('commit');
      }
      await stepRun(c, s!.run_id);
    }
    expect(await db.q(`select id, user_id from lo9.comments order by id`)).toEqual([{ id: 102, user_id: 1 }, { id: 200, user_id: 2 }]);

    await db.call(`call retention.process_erasure($1)`, [id]);
    expect((await db.q(`select status from retention.erasure_requests where request_id = $1`, [id]))[0]!.status).toBe('completed');
    expect(await db.q(`select id, user_id from lo9.comments order by id`)).toEqual([{ id: 200, user_id: 2 }]);
    expect(await count(db, `lo9.users`)).toBe(1);
  });
});
