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

/** Processes a request step by step on one session, calling `during(table)` as each
 * step's run opens; returns erasure_step's last status and code. */
async function stepThrough(id: string | number, during: (table: string) => Promise<void>) {
  const c = await db.connect();
  try {
    await c.query(`select retention.pin_session()`);
    expect((await c.query(`select retention.open_erasure($1) as s`, [id])).rows[0].s).toBe('in_progress');
    for (;;) {
      const { rows: [st] } = await c.query(`select run_id, status, code from retention.erasure_step($1)`, [id]);
      if (!st.run_id) return { status: st.status as string, code: st.code as string | null };
      const [r] = await db.q(`select erasure_table from retention.runs where run_id = $1`, [st.run_id]);
      await during(r!.erasure_table);
      while ((await c.query(`select retention.run_step($1) as s`, [st.run_id])).rows[0].s === 'running');
    }
  } finally {
    await c.end();
  }
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
    let last: { run_id: number | null; status: string; message: string | null; code: string | null; hint: string | null } | undefined;
    for (;;) {
      const { rows: [s] } = await c.query<{ run_id: number | null; status: string; message: string | null; code: string | null; hint: string | null }>(
        'select run_id::int, status, message, code, hint from retention.erasure_step($1)', [id]);
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
    expect(last!.hint).toMatch(/process the request again/);
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

  it('irregular plurals name the subject column (companies: company_id, people: person_id), and a policy\'s subject column no name rule ties to a table is a gap (F7)', async () => {
    await db.q(`create schema lp`);
    await db.q(`create table lp.companies (id int primary key)`);
    await db.q(`create table lp.people (id int primary key)`);
    await db.q(`create table lp.boxes (id int primary key)`);
    await db.q(`create table lp.v3 (id int primary key, company_id int, created_at timestamptz default now())`);
    await db.q(`create table lp.v5 (id int primary key, person_id int, created_at timestamptz default now())`);
    await db.q(`create table lp.v6 (id int primary key, box_id int, created_at timestamptz default now())`);
    await db.q(`create table lp.v7 (id int primary key, firm_ref int, created_at timestamptz default now())`);
    await db.q(`insert into lp.companies values (1), (2); insert into lp.people values (1); insert into lp.boxes values (1)`);
    await db.q(`insert into lp.v3 values (1, 1), (2, 2); insert into lp.v5 values (1, 1); insert into lp.v6 values (1, 1); insert into lp.v7 values (1, 1), (2, 2)`);
    await db.q(`select retention.set_policy('lp.v3', 'lp.v3', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'company_id')`);
    await db.q(`select retention.set_policy('lp.v5', 'lp.v5', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'person_id')`);
    await db.q(`select retention.set_policy('lp.v6', 'lp.v6', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'box_id')`);
    await db.q(`select retention.set_policy('lp.v7', 'lp.v7', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'firm_ref')`);
    const [r1] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lp.companies', '1', 't')`);
    const plan = await db.q<{ target: string; via: string; rule: string | null; rows: number; warning: string | null }>(
      `select target, via, rule, rows::int, warning from retention.erasure_plan($1) order by step`, [r1!.request_id]);
    expect(plan).toContainEqual(expect.objectContaining({ target: 'lp.v3', via: 'subject column company_id of policy lp.v3', rule: 'delete', rows: 1 }));
    // firm_ref: no table is named for it; whose it is, nobody said: a gap with a warning.
    expect(plan).toContainEqual(expect.objectContaining({ target: 'lp.v7', via: 'subject column firm_ref of policy lp.v7', rule: null, rows: 1 }));
    expect(plan.find((r) => r.target === 'lp.v7')!.warning).toMatch(/no table is named for it.*set_erasure_rule\('lp\.v7', 'delete', p_subject_column => 'firm_ref'/);
    // person_id and box_id are other tables' people: not this request's, not a gap.
    expect(plan.map((r) => r.target)).not.toEqual(expect.arrayContaining(['lp.v5']));
    expect(plan.map((r) => r.target)).not.toEqual(expect.arrayContaining(['lp.v6']));
    await db.call(`call retention.process_erasure($1)`, [r1!.request_id]);
    expect(await db.q(`select id from lp.v3 order by id`)).toEqual([{ id: 2 }]);

    const [r2] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lp.people', '1', 't')`);
    const [r3] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lp.boxes', '1', 't')`);
    await db.call(`call retention.process_erasure($1)`, [r2!.request_id]);
    await db.call(`call retention.process_erasure($1)`, [r3!.request_id]);
    expect(await count(db, `lp.v5`)).toBe(0);
    expect(await count(db, `lp.v6`)).toBe(0);
    expect(await count(db, `lp.v7`)).toBe(2);
    // Saying whose it is ends the gap (in every other request's plan too).
    await db.q(`select retention.set_erasure_rule('lp.v7', 'delete', p_subject_column => 'firm_ref', p_subject_table => 'lp.companies')`);
    await db.q(`insert into lp.people values (2)`);
    const [r4] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lp.people', '2', 't')`);
    expect(await count(db, `retention.erasure_plan($1) where target = 'lp.v7'`, [r4!.request_id])).toBe(0);
  });

  it('tables that inherit from a table of the plan are steps too, with its rule; a foreign child refuses the plan (F9)', async () => {
    await db.q(`create schema li`);
    await db.q(`create table li.users (id int primary key)`);
    await db.q(`create table li.orders (id int primary key, user_id int references li.users on delete cascade, addr text)`);
    await db.q(`create table li.orders_2024 () inherits (li.orders)`);
    await db.q(`create table li.logs (id int, uid int, note text, created_at timestamptz default now())`);
    await db.q(`create table li.logs_2024 () inherits (li.logs)`);
    await db.q(`create table li.logs_2024_q1 () inherits (li.logs_2024)`);
    await db.q(`insert into li.users values (1), (2)`);
    await db.q(`insert into li.orders values (1, 1, 'a'); insert into li.orders_2024 values (2, 1, 'Alice old address'), (3, 2, 'Bob')`);
    await db.q(`insert into li.logs values (1, 1, 'x'); insert into li.logs_2024 values (2, 1, 'alice'); insert into li.logs_2024_q1 values (3, 1, 'alice q1'), (4, 2, 'bob')`);
    await db.q(`select retention.set_erasure_rule('li.logs', 'scrub', p_scrub => '{"note": null}', p_subject_column => 'uid', p_subject_table => 'li.users')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('li.users', '1', 't')`);
    const plan = await db.q(`select target, rule, rule_source, rows::int, warning from retention.erasure_plan($1) where target like 'li.%' order by target`, [req!.request_id]);
    expect(plan).toEqual([
      { target: 'li.logs', rule: 'scrub', rule_source: 'table', rows: 1, warning: null },
      { target: 'li.logs_2024', rule: 'scrub', rule_source: 'table', rows: 1, warning: null },
      { target: 'li.logs_2024_q1', rule: 'scrub', rule_source: 'table', rows: 1, warning: null },
      { target: 'li.orders', rule: 'delete', rule_source: 'system', rows: 1, warning: null },
      { target: 'li.orders_2024', rule: 'delete', rule_source: 'system', rows: 1, warning: null },
      { target: 'li.users', rule: 'delete', rule_source: 'system', rows: 1, warning: null },
    ]);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select id, user_id from li.orders order by id`)).toEqual([{ id: 3, user_id: 2 }]);
    expect(await db.q(`select id, note from li.logs order by id`)).toEqual([
      { id: 1, note: null }, { id: 2, note: null }, { id: 3, note: null }, { id: 4, note: 'bob' }]);

    // A foreign table among the children: its rows cannot be erased from here.
    if ((await db.q(`select 1 from pg_available_extensions where name = 'postgres_fdw'`)).length) {
      await db.q(`create extension if not exists postgres_fdw`);
      await db.q(`create server li_srv foreign data wrapper postgres_fdw options (dbname 'nowhere')`);
      await db.q(`create foreign table li.orders_remote () inherits (li.orders) server li_srv`);
      const [r2] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('li.users', '2', 't')`);
      const [w] = await db.q<{ warning: string }>(`select warning from retention.erasure_plan($1) where target = 'li.orders'`, [r2!.request_id]);
      expect(w!.warning).toMatch(/li\.orders_remote inherits from li\.orders and is a foreign table/);
      await expect(db.call(`call retention.process_erasure($1)`, [r2!.request_id])).rejects.toThrow();
      expect(await count(db, `only li.orders_2024 where user_id = 2`)).toBe(1);
      await db.q(`drop foreign table li.orders_remote`);
    }
  });

  it('a scrub that leaves the person\'s e-mail address in a key is a gap in the plan and in the evidence; delete rules take it (F6)', async () => {
    await db.q(`create schema lk`);
    await db.q(`create table lk.users (email text primary key, name text, phone text)`);
    await db.q(`create table lk.orders (id int primary key, customer text references lk.users (email) on update cascade, ship_name text)`);
    await db.q(`insert into lk.users values ('alice@example.com', 'Alice', '555'), ('bob@example.com', 'Bob', '556')`);
    await db.q(`insert into lk.orders values (1, 'alice@example.com', 'Alice L.'), (2, 'bob@example.com', 'Bob B.')`);
    await db.q(`select retention.set_erasure_rule('lk.users', 'scrub', p_scrub => '{"name": null, "phone": null}')`);
    await db.q(`select retention.set_erasure_rule('lk.orders', 'scrub', p_scrub => '{"ship_name": null}')`);
    const [bob] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lk.users', 'bob@example.com', 'ticket 8')`);
    const gaps = await db.q<{ target: string; via: string; rows: number; warning: string }>(
      `select target, via, rows::int, warning from retention.erasure_plan($1) where rule is null and target like 'lk.%' order by target`, [bob!.request_id]);
    expect(gaps).toEqual([
      { target: 'lk.orders', via: 'key column(s) customer keep the person\'s key', rows: 1,
        warning: expect.stringMatching(/leaves the person's key in lk\.orders \(customer\).*processing completes with it there.*surrogate id/) },
      { target: 'lk.users', via: 'key column(s) email keep the person\'s key', rows: 1, warning: expect.stringMatching(/delete these rows/) },
    ]);
    // Processed as the rules say, the request completes and its evidence says what stayed.
    await db.call(`call retention.process_erasure($1)`, [bob!.request_id]);
    expect(await db.q(`select target, reason from retention.erasure_evidence where request_id = $1 order by target`, [bob!.request_id])).toEqual([
      { target: 'lk.orders', reason: 'the person\'s key stays in customer (a key cannot be scrubbed)' },
      { target: 'lk.users', reason: 'the person\'s key stays in email (a key cannot be scrubbed)' },
    ]);
    expect(await count(db, `retention.erasure_evidence where reason like '%bob%'`)).toBe(0);

    // Rules that delete those rows leave nothing of the address, and the plan no gap.
    await db.q(`select retention.set_erasure_rule('lk.users', 'delete')`);
    await db.q(`select retention.set_erasure_rule('lk.orders', 'delete')`);
    const [alice] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lk.users', 'alice@example.com', 'ticket 9')`);
    expect(await count(db, `retention.erasure_plan($1) where warning is not null and target like 'lk.%'`, [alice!.request_id])).toBe(0);
    await db.call(`call retention.process_erasure($1)`, [alice!.request_id]);
    expect(await count(db, `lk.users where email = 'alice@example.com'`)).toBe(0);
    expect(await count(db, `lk.orders where customer = 'alice@example.com'`)).toBe(0);

    // A key to a scrubbed table's address, whatever the request's key (an id here).
    await db.q(`create table lk.members (id int primary key, email text unique, name text)`);
    await db.q(`create table lk.mails (id int primary key, member_id int references lk.members on delete cascade, to_email text references lk.members (email), body text)`);
    await db.q(`insert into lk.members values (1, 'carol@example.com', 'Carol'); insert into lk.mails values (1, 1, 'carol@example.com', 'hi Carol')`);
    await db.q(`select retention.set_erasure_rule('lk.members', 'scrub', p_scrub => '{"name": null}')`);
    await db.q(`select retention.set_erasure_rule('lk.mails', 'scrub', p_scrub => '{"body": null}')`);
    const [m] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lk.members', '1', 't')`);
    expect(await db.q(`select target, via from retention.erasure_plan($1) where warning is not null and target like 'lk.%'`, [m!.request_id]))
      .toEqual([{ target: 'lk.mails', via: 'key column(s) to_email keep the person\'s key' }]);
  });

  it('the plan names a composite key once, and a chain of keys past the walk\'s ten levels says so rather than pointing at set_erasure_rule', async () => {
    await db.q(`create schema lc`);
    await db.q(`create table lc.users (id int primary key, tenant_id int not null, unique (tenant_id, id))`);
    await db.q(`create table lc.orders (id int primary key, tenant_id int, user_id int, constraint orders_user foreign key (tenant_id, user_id) references lc.users (tenant_id, id) on delete cascade)`);
    await db.q(`insert into lc.users values (1, 7); insert into lc.orders values (1, 7, 1)`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lc.users', '1', 't')`);
    expect(await db.q(`select via from retention.erasure_plan($1) where target = 'lc.orders'`, [req!.request_id])).toEqual([{ via: 'orders_user' }]);

    await db.q(`create table lc.t0 (id int primary key)`);
    await db.q(`insert into lc.t0 values (1)`);
    for (let i = 1; i <= 11; i++) {
      await db.q(`create table lc.t${i} (id int primary key, p int references lc.t${i - 1} on delete set null, pii text)`);
      await db.q(`insert into lc.t${i} values (1, 1, 'pii ${i}')`);
    }
    const [r2] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('lc.t0', '1', 't')`);
    const [w] = await db.q<{ warning: string }>(`select warning from retention.erasure_plan($1) where target = 'lc.t10'`, [r2!.request_id]);
    expect(w!.warning).toMatch(/lc\.t11 outside the plan .*more than ten keys away from the person's row, where the plan stops/);
  });
});

describe('rows written mid-erasure through a cascade, and tables made to inherit meanwhile (atk35)', () => {
  it('a note cut loose by the cascade of the subject\'s delete (notes SET NULL -> orders CASCADE -> users) fails the request', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.c5_users (id int primary key, name text)`);
    await db.q(`create table app.c5_orders (id int primary key, user_id int references app.c5_users on delete cascade, item text)`);
    await db.q(`create table app.c5_notes (id int primary key, order_id int references app.c5_orders on delete set null, body text)`);
    await db.q(`insert into app.c5_users values (10, 'Dan Ten'), (11, 'Eve')`);
    await db.q(`insert into app.c5_orders values (100, 10, 'lamp'), (110, 11, 'desk')`);
    await db.q(`insert into app.c5_notes values (1, 100, 'dan note'), (2, 110, 'eve note')`);
    const [req] = await db.q(`select request_id from retention.request_erasure('app.c5_users', '10', 'ticket c5')`);
    const out = await stepThrough(String(req!.request_id), async (table) => {
      if (table === 'app.c5_users') {
        await db.q(`insert into app.c5_orders values (101, 10, 'second order')`);
        await db.q(`insert into app.c5_notes values (3, 101, 'dan secret: lives at 2 Oak St')`);
      }
    });
    expect(out).toEqual({ status: 'failed', code: 'RT032' });
    expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).toEqual([{ status: 'failed' }]);
    // Nothing cut loose: the note still names its order, which processing again takes.
    expect(await db.q(`select order_id from app.c5_notes where id = 3`)).toEqual([{ order_id: 101 }]);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).toEqual([{ status: 'completed' }]);
    expect(await db.q(`select id from app.c5_notes order by id`)).toEqual([{ id: 2 }]);
  });

  it('a table made to inherit from a plan table while the request is processed fails it (RT032)', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.c6_users (id int primary key, name text)`);
    await db.q(`create table app.c6_orders (id int primary key, user_id int references app.c6_users on delete cascade, item text)`);
    await db.q(`insert into app.c6_users values (11, 'Gus')`);
    await db.q(`insert into app.c6_orders values (110, 11, 'chair')`);
    const [req] = await db.q(`select request_id from retention.request_erasure('app.c6_users', '11', 'ticket c6')`);
    const out = await stepThrough(String(req!.request_id), async (table) => {
      if (table === 'app.c6_users') {
        await db.q(`create table app.c6_orders_2027 () inherits (app.c6_orders)`);
        await db.q(`insert into app.c6_orders_2027 values (111, 11, 'gus: ship to 3 Pine St')`);
      }
    });
    expect(out).toEqual({ status: 'failed', code: 'RT032' });
    const [r] = await db.q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r!.status).toBe('failed');
    expect(r!.status_reason).toMatch(/c6_orders_2027 inherits from app\.c6_orders since processing began/);
  });
});


describe('columns renamed, tables keyed and keys spelt otherwise mid-erasure (atk46)', () => {
  it('a scrubbed column renamed after processing began fails the request (RT002) with nothing scrubbed; processing again under a fixed rule completes', async () => {
    await db.q(`create schema n1`);
    await db.q(`create table n1.users (id bigint primary key, email text, name text)`);
    await db.q(`insert into n1.users values (7, 'seven@example.com', 'Seven Person'), (8, 'eight@example.com', 'Eight Person')`);
    await db.q(`select retention.set_erasure_rule('n1.users', 'scrub', p_scrub => '{"email": "sha256", "name": null}')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('n1.users', '7', 'ticket n1')`);
    const out = await stepThrough(req!.request_id, async (table) => {
      if (table === 'n1.users') await db.q(`alter table n1.users rename column name to full_name`);
    });
    expect(out).toEqual({ status: 'failed', code: 'RT002' });
    const [r] = await db.q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r!.status).toBe('failed');
    expect(r!.status_reason).toMatch(/scrubbed column name is no longer a column of n1\.users/);
    expect(await db.q(`select email, full_name from n1.users where id = 7`)).toEqual([{ email: 'seven@example.com', full_name: 'Seven Person' }]);
    expect(await count(db, `retention.erasure_evidence where request_id = ${req!.request_id}`)).toBe(0);
    // The rule still names the old column: processing again says so, and changes nothing.
    const err = await db.call(`call retention.process_erasure($1)`, [req!.request_id]).then(() => null, (e: { code?: string; hint?: string }) => e);
    expect(err?.code).toBe('RT002');
    expect(err?.hint).toMatch(/set_erasure_rule/);
    expect(await db.q(`select full_name from n1.users where id = 7`)).toEqual([{ full_name: 'Seven Person' }]);
    await db.q(`select retention.set_erasure_rule('n1.users', 'scrub', p_scrub => '{"email": "sha256", "full_name": null}')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect((await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]))[0]!.status).toBe('completed');
    const [u] = await db.q(`select email, full_name from n1.users where id = 7`);
    expect(u!.full_name).toBeNull();
    expect(u!.email).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('a scrub policy whose scrubbed column is renamed between batches stops (RT002) and reports no row it did not scrub', async () => {
    await db.q(`create schema n2`);
    await db.q(`create table n2.customers (id int primary key, email text, fullname text, closed_at timestamptz)`);
    await db.q(`insert into n2.customers select i, 'c' || i || '@example.com', 'Customer ' || i, now() - interval '60 days' - make_interval(days => i)
                  from generate_series(1, 10) i`);
    await db.q(`select retention.set_policy('n2.scrub', 'n2.customers', 'scrub', 'closed_at', p_retain => '30 days',
                  p_scrub => '{"email": "sha256", "fullname": null}', p_batch_size => 3)`);
    const c = await db.connect();
    try {
      await c.query(`select retention.pin_session()`);
      const { rows: [{ id }] } = await c.query(`select retention.open_run('n2.scrub') as id`);
      expect((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s).toBe('running');
      await db.q(`alter table n2.customers rename column fullname to full_name`);
      while ((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s === 'running');
      const [run] = await db.q(`select status, error_code, affected::int from retention.runs where run_id = $1`, [id]);
      expect([run!.status, run!.error_code, run!.affected]).toEqual(['failed', 'RT002', 3]);
    } finally {
      await c.end();
    }
    // The first batch scrubbed three rows, both columns; the other seven are as they were.
    expect(await count(db, `n2.customers where full_name is null and email like 'sha256:%'`)).toBe(3);
    expect(await count(db, `n2.customers where full_name like 'Customer %' and email like '%@example.com'`)).toBe(7);
    // Running it again is refused at once, naming the column, and changes nothing.
    const err = await db.call(`call retention.run('n2.scrub')`).then(() => null, (e: { code?: string; message?: string }) => e);
    expect(err?.code).toBe('RT002');
    expect(err?.message).toMatch(/scrubbed column fullname is no longer a column of n2\.customers/);
    expect(await count(db, `n2.customers where full_name like 'Customer %'`)).toBe(7);
  });

  it('a table created during processing with a key ON DELETE SET NULL to the subject fails the request instead of keeping the person\'s row without its key', async () => {
    await db.q(`create schema n3`);
    await db.q(`create table n3.members (id bigint primary key, name text)`);
    await db.q(`insert into n3.members values (1, 'Alice Member'), (2, 'Bob')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('n3.members', '1', 'ticket n3')`);
    const out = await stepThrough(req!.request_id, async (table) => {
      if (table === 'n3.members') {
        await db.q(`create table n3.notes (id serial primary key, member_id bigint references n3.members on delete set null, body text)`);
        await db.q(`insert into n3.notes (member_id, body) values (1, 'Alice: diagnosis X'), (2, 'Bob: fine')`);
      }
    });
    expect(out).toEqual({ status: 'failed', code: 'RT032' });
    const [r] = await db.q(`select status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r!.status_reason).toMatch(/1 row\(s\) of n3\.notes, a table this erasure's plan does not name/);
    expect(await db.q(`select member_id, body from n3.notes order by id`)).toEqual([
      { member_id: '1', body: 'Alice: diagnosis X' }, { member_id: '2', body: 'Bob: fine' }]);
    expect(await count(db, `n3.members where id = 1`)).toBe(1);
    // Processing again plans the notes in: Alice's note goes, Bob's stays.
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect((await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]))[0]!.status).toBe('completed');
    expect(await db.q(`select member_id, body from n3.notes order by id`)).toEqual([{ member_id: '2', body: 'Bob: fine' }]);
  });

  it('a key added during processing (ON DELETE SET NULL) from a table the cascade of the subject\'s delete reaches fails the request too', async () => {
    await db.q(`create schema n4`);
    await db.q(`create table n4.users (id int primary key, name text)`);
    await db.q(`create table n4.orders (id int primary key, user_id int references n4.users on delete cascade, item text)`);
    await db.q(`create table n4.memos (id int primary key, order_ref int, body text)`);
    await db.q(`insert into n4.users values (10, 'Dan'), (11, 'Eve')`);
    await db.q(`insert into n4.orders values (100, 10, 'lamp'), (110, 11, 'desk')`);
    await db.q(`insert into n4.memos values (1, 110, 'eve memo')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('n4.users', '10', 'ticket n4')`);
    const out = await stepThrough(req!.request_id, async (table) => {
      if (table === 'n4.users') {
        await db.q(`insert into n4.orders values (101, 10, 'second order')`);
        await db.q(`insert into n4.memos values (2, 101, 'dan secret: lives at 2 Oak St')`);
        await db.q(`alter table n4.memos add foreign key (order_ref) references n4.orders on delete set null`);
      }
    });
    expect(out).toEqual({ status: 'failed', code: 'RT032' });
    expect(await db.q(`select id, order_ref from n4.memos order by id`)).toEqual([{ id: 1, order_ref: 110 }, { id: 2, order_ref: 101 }]);
    expect(await count(db, `n4.users where id = 10`)).toBe(1);
  });

  it('a request or an export spelt otherwise than the key as stored (a case-insensitive collation, a numeric scale) names the row\'s own key, and the erasure takes the rows that hold it', async () => {
    const [c] = await db.q<{ icu: boolean }>(`select exists (select from pg_collation where collprovider = 'i') as icu`);
    await db.q(`create schema n5`);
    if (c!.icu) {
      await db.q(`create collation n5.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`);
      await db.q(`create table n5.people (nick text collate n5.ci primary key, bio text)`);
      await db.q(`create table n5.people_logs (id serial primary key, nick text, msg text)`);
      await db.q(`insert into n5.people values ('Carol', 'Carol bio'), ('Dave', 'Dave bio')`);
      await db.q(`insert into n5.people_logs (nick, msg) values ('Carol', 'Carol visited /clinic'), ('Dave', 'Dave in')`);
      await db.q(`select retention.set_erasure_rule('n5.people_logs', 'delete', p_subject_column => 'nick', p_subject_table => 'n5.people')`);
      const [ex] = await db.q(`select retention.export_subject('n5.people', 'carol') as doc`);
      expect(JSON.stringify(ex!.doc)).toContain('Carol visited /clinic');
      const [req] = await db.q<{ request_id: number; subject_id: string }>(`select request_id::int, subject_id from retention.request_erasure('n5.people', 'carol', 'ticket n5')`);
      expect(req!.subject_id).toBe('Carol');
      await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
      expect(await db.q(`select nick from n5.people order by 1`)).toEqual([{ nick: 'Dave' }]);
      expect(await db.q(`select nick from n5.people_logs order by 1`)).toEqual([{ nick: 'Dave' }]);
    }
    await db.q(`create table n5.acc (id numeric primary key, owner text)`);
    await db.q(`create table n5.acc_events (id serial primary key, acc_ref text, what text)`);
    await db.q(`insert into n5.acc values (7.50, 'Frank'), (8, 'Gina')`);
    await db.q(`insert into n5.acc_events (acc_ref, what) values ('7.50', 'frank paid'), ('8', 'gina paid')`);
    await db.q(`select retention.set_erasure_rule('n5.acc_events', 'delete', p_subject_column => 'acc_ref', p_subject_table => 'n5.acc')`);
    const [req2] = await db.q<{ request_id: number; subject_id: string }>(`select request_id::int, subject_id from retention.request_erasure('n5.acc', '7.5', 'ticket n5b')`);
    expect(req2!.subject_id).toBe('7.50');
    await db.call(`call retention.process_erasure($1)`, [req2!.request_id]);
    expect(await db.q(`select what from n5.acc_events order by 1`)).toEqual([{ what: 'gina paid' }]);
    expect(await db.q(`select owner from n5.acc order by 1`)).toEqual([{ owner: 'Gina' }]);
    expect(await sqlState(db.q(`select retention.request_erasure('n5.acc', '7.25', 'ticket n5c')`))).toBe('RT030');
  });

  it('the plan says when kept rows lose their key to the person through ON DELETE SET NULL (atk46, minor)', async () => {
    await db.q(`create schema n6`);
    await db.q(`create table n6.staff (id bigint primary key, name text)`);
    await db.q(`create table n6.staff_audit (id serial primary key, staff_id bigint references n6.staff on delete set null, action text)`);
    await db.q(`insert into n6.staff values (1, 'Frank'); insert into n6.staff_audit (staff_id, action) values (1, 'frank logged in')`);
    await db.q(`select retention.set_erasure_rule('n6.staff_audit', 'keep', p_reason => 'audit 1y')`);
    const [req] = await db.q<{ request_id: number }>(`select request_id::int from retention.request_erasure('n6.staff', '1', 'ticket n6')`);
    const plan = await db.q(`select target, rule, warning from retention.erasure_plan($1) where target = 'n6.staff_audit'`, [req!.request_id]);
    expect(plan).toEqual([{ target: 'n6.staff_audit', rule: 'keep',
      warning: 'kept, but deleting the rows of n6.staff sets the key of these rows to NULL (staff_audit_staff_id_fkey, ON DELETE SET NULL): they stay, no longer linked to the person' }]);
    // Said, not refused: processing completes and keeps the row.
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select staff_id, action from n6.staff_audit`)).toEqual([{ staff_id: null, action: 'frank logged in' }]);
  });
});

describe('the key as stored, whatever the requesting session\'s settings (atk52)', () => {
  it('a float or interval key is recorded in the form the steps read back, and a session in German DateStyle processes a request', async () => {
    await db.q(`create schema n7`);
    await db.q(`create table n7.people (id float8 primary key, name text)`);
    await db.q(`create table n7.notes (id serial primary key, person_id float8 references n7.people on delete cascade, body text)`);
    await db.q(`insert into n7.people values (0.3, 'Alice'), (0.1::float8 + 0.2::float8, 'Bob')`);
    await db.q(`insert into n7.notes (person_id, body) values (0.3, 'alice note'), (0.1::float8 + 0.2::float8, 'bob note')`);
    await db.q(`create table n7.logs (id serial primary key, person float8, msg text)`);
    await db.q(`insert into n7.logs (person, msg) values (0.3, 'alice log'), (0.1::float8 + 0.2::float8, 'bob log')`);
    await db.q(`select retention.set_erasure_rule('n7.logs', 'delete', p_subject_column => 'person', p_subject_table => 'n7.people')`);
    await db.q(`create table n7.slots (id interval primary key, name text)`);
    await db.q(`insert into n7.slots values ('-1 days -02:03:04', 'Carol'), ('-1 days +02:03:04', 'Dave')`);
    const c = await db.connect();
    clients.push(c);
    await c.query(`set extra_float_digits = -14`);
    await c.query(`set intervalstyle = sql_standard`);
    await c.query(`set datestyle = 'German'`);
    const { rows: [bob] } = await c.query(`select request_id::int, subject_id from retention.request_erasure('n7.people', '0.30000000000000004', 'ticket n7')`);
    expect(bob.subject_id).toBe('0.30000000000000004');
    const { rows: [carol] } = await c.query(`select request_id::int, subject_id from retention.request_erasure('n7.slots', '-1 days -02:03:04', 'ticket n7b')`);
    await c.query(`call retention.process_erasure($1)`, [bob.request_id]);
    await c.query(`call retention.process_erasure($1)`, [carol.request_id]);
    expect(await db.q(`select name from n7.people order by 1`)).toEqual([{ name: 'Alice' }]);
    expect(await db.q(`select body from n7.notes order by 1`)).toEqual([{ body: 'alice note' }]);
    expect(await db.q(`select msg from n7.logs order by 1`)).toEqual([{ msg: 'alice log' }]);
    expect(await db.q(`select name from n7.slots order by 1`)).toEqual([{ name: 'Dave' }]);
    expect(await db.q(`select status from retention.erasure_requests where request_id in ($1, $2)`, [bob.request_id, carol.request_id]))
      .toEqual([{ status: 'completed' }, { status: 'completed' }]);
  });
});

// Attack round atk55 (what a completed erasure leaves behind), each finding a test.
describe('a completed erasure leaves none of the person in pg-retention\'s own records (atk55)', () => {
  const q = db.q;
  it('F1, F2: a failed request filed again, and one a dead session left in progress, are carried out with their runs\' conditions and messages', async () => {
    await q(`create schema e55`);
    await q(`create table e55.flags (on_ boolean)`);
    await q(`insert into e55.flags values (true)`);
    await q(`create table e55.accounts (handle text primary key, bio text)`);
    await q(`create table e55.posts (id int primary key, handle text references e55.accounts on delete cascade, body text)`);
    await q(`insert into e55.accounts values ('qzx_handle_77', 'my bio'), ('wvu_handle_88', 'bio 88')`);
    await q(`insert into e55.posts values (1, 'qzx_handle_77', 'hello'), (2, 'wvu_handle_88', 'post 88')`);
    await q(`create function e55.acc_guard() returns trigger language plpgsql as $$
             begin if (select on_ from e55.flags) then raise exception 'account % is frozen', old.handle; end if; return old; end $$`);
    await q(`create trigger acc_guard before delete on e55.accounts for each row execute function e55.acc_guard()`);
    const [a] = await q<{ request_id: string }>(`select request_id from retention.request_erasure('e55.accounts', 'qzx_handle_77', 'ticket A')`);
    expect(await sqlState(db.call(`call retention.process_erasure(${a!.request_id})`))).toBe('P0001');
    await q(`update e55.flags set on_ = false`);
    const [b] = await q<{ request_id: string }>(`select request_id from retention.request_erasure('e55.accounts', 'qzx_handle_77', 'ticket B')`);
    await db.call(`call retention.process_erasure(${b!.request_id})`);
    expect(await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [a!.request_id]))
      .toEqual([{ status: 'completed', status_reason: `carried out by erasure request ${b!.request_id}` }]);

    // Filed twice; a runner opens the first, takes one step and dies; the second completes.
    const [c1] = await q<{ request_id: string }>(`select request_id from retention.request_erasure('e55.accounts', 'wvu_handle_88', 'wvu88@mail.example')`);
    const [c2] = await q<{ request_id: string }>(`select request_id from retention.request_erasure('e55.accounts', 'wvu_handle_88', 'wvu88@mail.example')`);
    const s = await db.connect();
    await s.query(`select retention.pin_session()`);
    expect((await s.query(`select retention.open_erasure($1) as s`, [c1!.request_id])).rows[0].s).toBe('in_progress');
    await s.query(`select status from retention.erasure_step($1)`, [c1!.request_id]);
    await s.end();
    await db.call(`call retention.process_erasure(${c2!.request_id})`);
    expect(await q(`select status, subject_id, requested_by like '%wvu88%' as mail from retention.erasure_requests where request_id = $1`, [c1!.request_id]))
      .toEqual([{ status: 'completed', subject_id: null, mail: false }]);
    for (const key of ['qzx_handle_77', 'wvu_handle_88', 'wvu88@mail.example']) {
      for (const [table, col] of [['retention.runs', 'r'], ['retention.erasure_requests', 'r'], ['retention.notifications', 'r'],
                                  ['retention.run_row_failures', 'r'], ['retention.erasure_evidence', 'r']]) {
        expect(await q(`select count(*)::int as n from ${table} ${col} where ${col}::text like $1`, [`%${key}%`]), `${key} in ${table}`)
          .toEqual([{ n: 0 }]);
      }
    }
  });

  it('F3, F4: values of any column type (a domain over a domain, uuid, a date, an array) and of every row of the person leave other runs\' messages', async () => {
    await q(`create schema e56`);
    await q(`create domain e56.d0 as text`);
    await q(`create domain e56.d1 as e56.d0`);
    await q(`create table e56.people (id int primary key, work_email e56.d1, badge uuid, born date, nicks text[], phone text,
                                      locked boolean, last_seen timestamptz)`);
    await q(`insert into e56.people values
               (1, 'erin.work@example.com', 'a0000000-0000-4000-8000-000000000001', '1980-01-01', '{erin-nick}', '555-0101', true, now() - interval '3 years'),
               (2, 'dave.work@example.com', 'a0000000-0000-4000-8000-000000000002', '1981-02-03', '{davey-nick}', '555-0202', true, now() - interval '3 years')`);
    await q(`create function e56.no_scrub_locked() returns trigger language plpgsql as $$
             begin if old.locked and old.id = 2 then raise exception 'account % / % / % / % / % is locked', old.work_email, old.badge, old.born, old.nicks[1], old.phone
                                        using errcode = '54000'; end if;
             return new; end $$`);
    await q(`create trigger people_locked before update on e56.people for each row execute function e56.no_scrub_locked()`);
    await q(`select retention.set_policy('e56.scrub', 'e56.people', 'scrub', 'last_seen', p_retain => '2 years', p_scrub => '{"phone": null}')`);
    await db.call(`call retention.run('e56.scrub')`).catch(() => {});
    expect((await q<{ error: string }>(`select error from retention.runs where policy_name = 'e56.scrub'`))[0]!.error).toMatch(/dave\.work@example\.com/);

    // A person with more than 10,000 rows in a table; a message quotes a late one.
    await q(`create table e56.logs (id bigserial primary key, user_id int, msg text, at timestamptz)`);
    await q(`insert into e56.logs (user_id, msg, at) select 2, 'ok ' || i, now() from generate_series(1, 10050) i`);
    await q(`insert into e56.logs (user_id, msg, at) values (2, 'LOCKED dave-diary-entry-two', now() - interval '3 years')`);
    await q(`create function e56.logs_guard() returns trigger language plpgsql as $$
             begin if old.msg like 'LOCKED%' and old.user_id = 2 and current_setting('e56.unlock', true) is distinct from 'on' then
               raise exception 'cannot delete log line: %', old.msg; end if; return old; end $$`);
    await q(`create trigger logs_guard before delete on e56.logs for each row execute function e56.logs_guard()`);
    await q(`select retention.set_policy('e56.logs', 'e56.logs', 'delete', 'at', p_retain => '2 years')`);
    await db.call(`call retention.run('e56.logs')`).catch(() => {});
    expect((await q<{ t: string }>(`select string_agg(concat_ws(' ', r.error, f.error), ' ') as t
                                      from retention.runs r left join retention.run_row_failures f using (run_id)
                                     where r.policy_name = 'e56.logs'`))[0]!.t).toMatch(/dave-diary-entry-two/);
    await q(`alter table e56.logs add foreign key (user_id) references e56.people on delete cascade`);
    const [r] = await q<{ request_id: string }>(`select request_id from retention.request_erasure('e56.people', '2', 'ticket C')`);
    const c = await db.connect();
    try {
      await c.query(`set e56.unlock = 'on'`);
      await c.query(`call retention.process_erasure(${r!.request_id})`);
    } finally {
      await c.end();
    }
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [r!.request_id])).toEqual([{ status: 'completed' }]);
    const texts = (await q<{ t: string }>(`select coalesce(error, '') as t from retention.runs where policy_name like 'e56.%'
                                           union all select coalesce(error, '') from retention.run_row_failures
                                           union all select coalesce(payload::text, '') from retention.notifications`)).map((x) => x.t).join('\n');
    for (const v of ['dave.work@example.com', 'a0000000-0000-4000-8000-000000000002', '1981-02-03', 'davey-nick', '555-0202', 'dave-diary-entry-two']) {
      expect(texts, v).not.toContain(v);
    }
    expect(texts).toMatch(/account .* is locked/);  // the message itself stays
  });

  it('F5: an executed purge keeps no key of the rows it removed in its proposal, only their hashes', async () => {
    await q(`create schema e57`);
    await q(`create table e57.newsletter (email text primary key, subscribed_at timestamptz not null)`);
    await q(`insert into e57.newsletter values ('frank.news@example.com', now() - interval '3 years'), ('kept@example.com', now())`);
    await q(`select retention.set_policy('e57.news', 'e57.newsletter', 'delete', 'subscribed_at', p_retain => '2 years', p_approval => 'required')`);
    const [p] = await q<{ id: number }>(`select retention.propose('e57.news') as id`);
    expect(await q(`select row_key from retention.proposal_rows where proposal_id = $1`, [p!.id])).toEqual([{ row_key: { email: 'frank.news@example.com' } }]);
    const approver = await login('e57appr', 'retention_approver');
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [p!.id]);
    await db.call(`call retention.run('e57.news')`);
    expect(await q(`select status from retention.proposals where proposal_id = $1`, [p!.id])).toEqual([{ status: 'executed' }]);
    const rows = await q<{ row_key: Record<string, unknown>; row_hash: string }>(`select row_key, row_hash from retention.proposal_rows where proposal_id = $1`, [p!.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.row_key).toMatchObject({ deleted: true, row_hash: rows[0]!.row_hash });
    expect(JSON.stringify(rows)).not.toContain('frank');
  });
});
