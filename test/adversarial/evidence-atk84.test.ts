// Attack round atk84 (evidence), each finding a test:
//  F1 a run whose eligible rows another session held locked (batches skip locked rows)
//     ended 'completed' with nothing done, a clean ledger and no overdue alert;
//  F3 a run whose first audit entry could not be written (another login held the chain's
//     lock) left no audit entry at all;
//  F2 (with atk82 F1) a monthly report stored by an owner that cannot see other sessions'
//     transactions (not a superuser, not in pg_read_all_stats);
//  F4 (with atk82 F2) holds and requests stamped with the start of a transaction held open.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a run says what it did (atk84)', () => {
  it('F1: rows another session holds locked leave the run stopped, not completed; run again, it completes', async () => {
    await q(`create schema e1`);
    await q(`create table e1.events (id int primary key, at timestamptz not null)`);
    await q(`insert into e1.events select g, now() - interval '2 years' from generate_series(1, 100) g`);
    await q(`select retention.set_policy('e1.events', 'e1.events', 'delete', 'at', interval '1 year')`);
    const locker = await db.connect();
    try {
      await locker.query(`begin`);
      await locker.query(`select from e1.events where id between 40 and 60 for update`);
      await db.call(`call retention.run('e1.events')`).catch(() => {});
      const [r] = await q(`select status, affected::int, error_code, error from retention.runs where policy_name = 'e1.events'`);
      expect(r).toMatchObject({ status: 'stopped_lock_timeout', affected: 79, error_code: '55P03' });
      expect(r!.error).toMatch(/^21 eligible row\(s\) were left: another session held them locked/);
      expect(await count(db, `retention.audit_log where action = 'run.stopped_lock_timeout' and object_name = 'e1.events'`)).toBe(1);
      expect(await count(db, `e1.events`)).toBe(21);
    } finally {
      await locker.query(`rollback`);
      await locker.end();
    }
    await db.call(`call retention.run('e1.events')`);
    const [r2] = await q(`select status, affected::int from retention.runs where policy_name = 'e1.events' order by run_id desc limit 1`);
    expect(r2).toEqual({ status: 'completed', affected: 21 });
    expect(await count(db, `e1.events`)).toBe(0);
  });

  it('F1: held rows and rows that failed do not keep a run from completing', async () => {
    await q(`create schema e2`);
    await q(`create table e2.events (id int primary key, user_id int, at timestamptz not null)`);
    await q(`insert into e2.events select g, g % 10, now() - interval '2 years' from generate_series(1, 100) g`);
    await q(`create function e2.refuse() returns trigger language plpgsql as $$ begin if old.id = 55 then raise exception 'no' using errcode = '23514'; end if; return old; end $$`);
    await q(`create trigger refuse before delete on e2.events for each row execute function e2.refuse()`);
    await q(`select retention.set_policy('e2.events', 'e2.events', 'delete', 'at', interval '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.place_hold('subject', '3', 'case 3')`);
    await db.call(`call retention.run('e2.events')`);
    const [r] = await q(`select status, affected::int, failed_rows::int from retention.runs where policy_name = 'e2.events'`);
    expect(r).toEqual({ status: 'completed', affected: 89, failed_rows: 1 });
  });

  it('F3: a run that could not write its first audit entry gets it with the next entry appended', async () => {
    await q(`create schema e3`);
    await q(`create table e3.events (id int primary key, at timestamptz not null)`);
    await q(`insert into e3.events select g, now() - interval '2 years' from generate_series(1, 10) g`);
    await q(`select retention.set_policy('e3.events', 'e3.events', 'delete', 'at', interval '1 year', p_lock_timeout => '200 milliseconds')`);
    const chain = await db.connect();
    try {
      await chain.query(`begin`);
      await chain.query(`select from retention.audit_chain for update`);
      await db.call(`call retention.run('e3.events')`).catch(() => {});
    } finally {
      await chain.query(`rollback`);
      await chain.end();
    }
    const [r] = await q(`select run_id::int, status, audit_pending from retention.runs where policy_name = 'e3.events'`);
    expect(r).toMatchObject({ status: 'stopped_lock_timeout', audit_pending: true });
    expect(await count(db, `e3.events`)).toBe(10);
    expect(await count(db, `retention.audit_log where details->>'run_id' = '${r!.run_id}'`)).toBe(0);
    await q(`select retention.place_hold('table', 'e3.events', 'an entry after it')`);
    expect(await count(db, `retention.audit_log where action = 'run.stopped_lock_timeout' and details->>'run_id' = '${r!.run_id}'`)).toBe(1);
    expect(await count(db, `retention.runs where audit_pending`)).toBe(0);
    const [v] = await q(`select ok from retention.verify_audit_log()`);
    expect(v!.ok).toBe(true);
  });

  it('F4 (atk82 F2): a hold, its release and a request carry the time they were made, not their transaction\'s start', async () => {
    await q(`create schema e4`);
    await q(`create table e4.users (id int primary key, email text)`);
    await q(`insert into e4.users values (1, 'a@e4.example')`);
    const c = await db.connect();
    try {
      await c.query(`begin`);
      await c.query(`select pg_sleep(1.5)`);
      const [h] = (await c.query(`select hold_id, placed_at - now() as late from retention.place_hold('table', 'e4.users', 'late hold')`)).rows;
      const [rel] = (await c.query(`select released_at - now() as late from retention.release_hold($1, 'done')`, [h.hold_id])).rows;
      const [req] = (await c.query(`select requested_at - now() as late, due_at - requested_at as due from retention.request_erasure('e4.users', '1', 'ticket')`)).rows;
      await c.query(`commit`);
      for (const late of [h.late, rel.late, req.late]) expect(late.seconds ?? 0).toBeGreaterThanOrEqual(1);
      expect(req.due).toMatchObject({ days: 30 });
    } finally {
      await c.end();
    }
  });

  it('F7: rows an erasure step\'s delete took by cascade are counted in its ledger, evidence and receipt', async () => {
    await q(`create schema e7`);
    await q(`create table e7.users (id int primary key, email text)`);
    await q(`create table e7.orders (id serial primary key, user_id int references e7.users on delete cascade)`);
    await q(`insert into e7.users values (37, 'c@e7.example'), (4, 'd@e7.example')`);
    await q(`insert into e7.orders (user_id) select 37 from generate_series(1, 5)`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const { id: request } = (await q(`select request_id::int as id from retention.request_erasure('e7.users', '37', 'ticket')`))[0]!;
    const c = await db.connect();
    try {
      await c.query(`select retention.pin_session()`);
      await c.query(`select retention.open_erasure($1)`, [request]);
      for (let i = 0; i < 10; i++) {
        const [s] = (await c.query(`select run_id, status from retention.erasure_step($1)`, [request])).rows;
        if (s?.status !== 'in_progress') break;
        const [r] = (await c.query(`select erasure_table::text as tbl from retention.runs where run_id = $1`, [s.run_id])).rows;
        // The application adds an order for the person once the orders step is done.
        if (r?.tbl === 'e7.users') await q(`insert into e7.orders (user_id) values (37)`);
        while ((await c.query(`select retention.run_step($1) as st`, [s.run_id])).rows[0]?.st === 'running') { /* batches */ }
      }
      await c.query(`select retention.unpin_session()`);
    } finally {
      await c.end();
    }
    expect(await count(db, `e7.orders where user_id = 37`)).toBe(0);
    expect(await q(`select target, rows::int, related_rows::int from retention.erasure_evidence where request_id = $1 order by target`, [request]))
      .toEqual([{ target: 'e7.orders', rows: 5, related_rows: 0 }, { target: 'e7.users', rows: 1, related_rows: 1 }]);
    const [n] = await q(`select payload->'steps' as steps from retention.notifications where kind = 'erasure_completed' and payload->>'request_id' = $1`, [String(request)]);
    expect(n!.steps).toEqual(expect.arrayContaining([{ table: 'e7.orders', rule: 'delete', rows: 5 }, { table: 'e7.users', rule: 'delete', rows: 1, related_rows: 1 }]));
    expect(n!.steps).toHaveLength(2);
    expect(await count(db, `retention.run_batches b join retention.runs r using (run_id) where r.request_id = ${request} and b.related_rows = 1`)).toBe(1);
  });

  it('F8: a policy name dropped and set again on another table is reported as two policies, each with its own rows', async () => {
    await q(`create schema e8`);
    await q(`create table e8.events (id int primary key, at timestamptz not null)`);
    await q(`create table e8.trail (id int primary key, at timestamptz not null)`);
    await q(`insert into e8.events select g, now() - interval '2 years' from generate_series(1, 100) g`);
    await q(`insert into e8.trail select g, now() - interval '2 years' from generate_series(1, 3) g`);
    await q(`select retention.set_policy('e8.p', 'e8.events', 'delete', 'at', interval '1 year')`);
    await db.call(`call retention.run('e8.p')`);
    await q(`select retention.drop_policy('e8.p')`);
    await q(`select retention.set_policy('e8.p', 'e8.trail', 'delete', 'at', interval '1 year')`);
    await db.call(`call retention.run('e8.p')`);
    const { r } = (await q(`select retention.compliance_report(date_trunc('month', now()), date_trunc('month', now()) + interval '1 month') as r`))[0]!;
    const mine = (r.policies as { policy: string; table: string; rows_deleted: number; runs: number; exists: boolean }[])
      .filter((x) => x.policy === 'e8.p').map(({ table, rows_deleted, runs, exists }) => ({ table, rows_deleted, runs, exists }));
    expect(mine).toEqual([{ table: 'e8.events', rows_deleted: 100, runs: 1, exists: false },
                          { table: 'e8.trail', rows_deleted: 3, runs: 1, exists: true }]);
    // The weekly figures too (atk87 F8).
    const weekly = (r.weekly as { policy: string; table: string; rows: number }[]).filter((w) => w.policy === 'e8.p');
    expect(weekly.map(({ table, rows }) => ({ table, rows })).sort((a, b) => a.table.localeCompare(b.table)))
      .toEqual([{ table: 'e8.events', rows: 100 }, { table: 'e8.trail', rows: 3 }]);
  });

  it('F8 (accounts): a notice-period policy name dropped and set again on another table is reported as two, each with its own flags', async () => {
    await q(`create schema e8a`);
    await q(`create table e8a.accounts (id int primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await q(`create table e8a.members (id int primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await q(`insert into e8a.accounts select g, now() - interval '3 years' from generate_series(1, 4) g`);
    await q(`insert into e8a.members select g, now() - interval '3 years' from generate_series(1, 2) g`);
    // (Subject holds earlier tests left open would rely on the policy's subject column.)
    await q(`select retention.release_hold(hold_id, 'not this test''s') from retention.legal_holds where released_at is null and scope = 'subject'`);
    await q(`select retention.set_inactive_accounts_policy('e8a.inactive', 'e8a.accounts')`);
    await db.call(`call retention.run('e8a.inactive')`);
    await q(`select retention.drop_policy('e8a.inactive')`);
    await q(`select retention.set_inactive_accounts_policy('e8a.inactive', 'e8a.members')`);
    await db.call(`call retention.run('e8a.inactive')`);
    const { r } = (await q(`select retention.compliance_report(date_trunc('month', now()), date_trunc('month', now()) + interval '1 month') as r`))[0]!;
    const mine = (r.accounts as { policy: string; table: string; flagged: number; notifications: number }[])
      .filter((x) => x.policy === 'e8a.inactive').map(({ table, flagged, notifications }) => ({ table, flagged, notifications }));
    expect(mine).toEqual([{ table: 'e8a.accounts', flagged: 4, notifications: 1 }, { table: 'e8a.members', flagged: 2, notifications: 1 }]);
  });

  it('F12: an erasure leaves another person\'s exemption and flag alone when the person\'s row holds their key', async () => {
    await q(`create schema e12`);
    await q(`create table e12.users (id int primary key, email text, referred_by text)`);
    await q(`create table e12.accounts (email text primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await q(`create index on e12.accounts (last_login_at)`);
    // The application wrote bob's e-mail into alice's row.
    await q(`insert into e12.users values (1, 'alice@e12.example', 'bob@e12.example')`);
    await q(`insert into e12.accounts values ('bob@e12.example', now() - interval '3 years'), ('carol@e12.example', now() - interval '3 years')`);
    await q(`select retention.set_erasure_rule('e12.accounts', 'keep', p_reason => 'not in this test')`);
    await q(`select retention.set_erasure_rule('e12.users', 'delete')`);
    await q(`select retention.set_inactive_accounts_policy('e12.inactive', 'e12.accounts', p_subject_column => 'email')`);
    await db.call(`call retention.run('e12.inactive')`);
    await q(`select retention.exempt_row('e12.inactive', 'bob@e12.example', 'Bob owns the tenant: keep his account')`);
    const before = await q(`select row_key, reason, revoked_at from retention.row_exemptions order by exemption_id`);
    const flagsBefore = await q(`select row_key, status from retention.flagged_rows where row_key like '%e12%' order by flag_id`);
    const { id } = (await q(`select request_id::int as id from retention.request_erasure('e12.users', '1', 'ticket 9')`))[0]!;
    await db.call(`call retention.process_erasure($1)`, [id]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
    expect(await q(`select row_key, reason, revoked_at from retention.row_exemptions order by exemption_id`)).toEqual(before);
    expect(before).toEqual([{ row_key: 'bob@e12.example', reason: 'Bob owns the tenant: keep his account', revoked_at: null }]);
    expect(await q(`select row_key, status from retention.flagged_rows where row_key like '%e12%' order by flag_id`)).toEqual(flagsBefore);
  });

  it('F12b: an erasure leaves a released hold on another person alone when the person\'s row holds their id', async () => {
    await q(`create schema e13`);
    await q(`create table e13.users (id int primary key, email text, referred_by text)`);
    await q(`create table e13.orders (id serial primary key, customer_email text, created_at timestamptz not null default now())`);
    await q(`insert into e13.users values (1, 'alice@e13.example', 'bob@e13.example'), (2, 'bob@e13.example', null)`);
    await q(`insert into e13.orders (customer_email) values ('bob@e13.example')`);
    await q(`select retention.set_erasure_rule('e13.users', 'delete')`);
    await q(`select retention.set_erasure_rule('e13.orders', 'delete')`);
    await q(`select retention.set_policy('e13.orders', 'e13.orders', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'customer_email')`);
    const { hold_id } = (await q(`select hold_id from retention.place_hold('subject', 'bob@e13.example', 'Litigation Smith v. Corp', p_case_reference => 'CASE-2026-117')`))[0]!;
    await q(`select retention.release_hold($1, 'Settled 2026-11-30')`, [hold_id]);
    const { id } = (await q(`select request_id::int as id from retention.request_erasure('e13.users', '1', 'ticket 10')`))[0]!;
    await db.call(`call retention.process_erasure($1)`, [id]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
    expect(await q(`select subject_id, reason, case_reference, release_reason from retention.legal_holds where hold_id = $1`, [hold_id]))
      .toEqual([{ subject_id: 'bob@e13.example', reason: 'Litigation Smith v. Corp', case_reference: 'CASE-2026-117', release_reason: 'Settled 2026-11-30' }]);
  });

  it('F5: a run looking back in time, or capped or cut short by its caller, makes no policy look enforced', async () => {
    await q(`create schema e5`);
    await q(`create table e5.events (id int primary key, at timestamptz not null)`);
    await q(`insert into e5.events select g, now() - interval '2 years' from generate_series(1, 100) g`);
    await q(`select retention.set_policy('e5.events', 'e5.events', 'delete', 'at', interval '1 year')`);
    await q(`update retention.policies set created_at = now() - interval '2 days' where name = 'e5.events'`);
    await db.call(`call retention.run('e5.events', p_as_of => now() - interval '50 years')`);
    await db.call(`call retention.run('e5.events', p_max_rows => 1)`);
    expect(await q(`select status from retention.runs where policy_name = 'e5.events' order by run_id`)).toEqual([{ status: 'completed' }, { status: 'stopped_max_rows' }]);
    expect(await q(`select last_success_at from retention.policy_status where policy = 'e5.events'`)).toEqual([{ last_success_at: null }]);
    const { overdue } = (await q(`select retention.note_overdue('e5.events', now() - interval '1 hour') as overdue`))[0]!;
    expect(overdue).toBe(true);
    const { r } = (await q(`select retention.compliance_report(date_trunc('month', now()), date_trunc('month', now()) + interval '1 month') as r`))[0]!;
    expect((r.policies as { policy: string; last_success_at: string | null }[]).find((x) => x.policy === 'e5.events')!.last_success_at).toBeNull();
    // The policy's own run counts.
    await db.call(`call retention.run('e5.events')`);
    expect(await count(db, `retention.policy_status where policy = 'e5.events' and last_success_at is not null`)).toBe(1);
  });

  it('F10: rows a scrub\'s revoke took by cascade are counted in its ledger', async () => {
    await q(`create schema e10`);
    await q(`create table e10.users (id int primary key, email text, deleted_at timestamptz)`);
    await q(`create index on e10.users (deleted_at)`);
    await q(`create table e10.sessions (id serial primary key, user_id int references e10.users on delete cascade)`);
    await q(`create table e10.session_tokens (id serial primary key, session_id int references e10.sessions on delete cascade)`);
    await q(`insert into e10.users select g, 'u' || g || '@e10.example', now() - interval '400 days' from generate_series(1, 5) g`);
    await q(`insert into e10.sessions (user_id) select g % 5 + 1 from generate_series(1, 10) g`);
    await q(`insert into e10.session_tokens (session_id) select g % 10 + 1 from generate_series(1, 30) g`);
    await q(`select retention.set_policy('e10.scrub', 'e10.users', 'scrub', 'deleted_at', p_retain => '30 days', p_scrub => '{"email": null}', p_revoke => '{e10.sessions}')`);
    await db.call(`call retention.run('e10.scrub')`);
    expect(await count(db, `e10.session_tokens`)).toBe(0);
    expect(await q(`select sum(rows)::int as rows, sum(related_rows)::int as related from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'e10.scrub'`))
      .toEqual([{ rows: 5, related: 40 }]);
  });
});

