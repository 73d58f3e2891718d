// Attack round atk86 (a completed erasure leaves none of the person, and touches nobody
// else's records), each finding fixed with a test:
//  F1 values in a tsvector, an XML value or a char(n) column quoted in a message stayed;
//  F6 a released hold on bob's phone, also in bob's users row, was forgotten by alice's
//     erasure because her contacts row held it;
//  F8 a step that failed took its kept values with it unsearched: a message written while
//     it ran stayed after the request completed on a later processing;
//  F9 a token link of a table whose quoted name holds ':' was never deleted;
//  F7 a subscription keyed by the lower-cased e-mail of the person's row kept its
//     exemption's key and reason;
//  F5 a table renamed since read as gone: alice's erasure rewrote bob's notice and token
//     link, whose row is still there;
//  F3 a request completed by a duplicate kept the holds its own steps had found in force
//     on the person's values, released since, with their values and reasons;
//  F4 a failed row of a table keyed by two columns, one the person's e-mail, gone before
//     the erasure, kept the e-mail in its key.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed, mentions } = erasureHelpers(db);

describe('a completed erasure leaves none of the person (atk86)', () => {
  it('F1: values in a tsvector, an XML value and a char(n) column quoted in a run\'s error are erased', async () => {
    await q(`create schema a1`);
    await q(`create table a1.users (id int primary key, tags tsvector, card xml, code char(24))`);
    await q(`insert into a1.users values (1, to_tsvector('simple', 'alicetsv@a1.example'), '<card><mail>alicexml@a1.example</mail></card>', 'alicechar@a1.example'),
                                         (2, null, null, null)`);
    await q(`create table a1.notes (id int primary key, user_id int references a1.users on delete cascade, created_at timestamptz not null)`);
    await q(`insert into a1.notes values (1, 1, now() - interval '400 days'), (2, 1, now() - interval '400 days')`);
    await q(`create function a1.guard() returns trigger language plpgsql as $f$
             declare u a1.users;
             begin
               select * into u from a1.users where id = old.user_id;
               raise exception 'cannot delete note of % / % / %', (select string_agg(w, ',') from unnest(tsvector_to_array(u.tags)) w),
                 (xpath('//mail/text()', u.card))[1]::text, rtrim(u.code) using errcode = '54000';
             end $f$`);
    await q(`create trigger guard before delete on a1.notes for each row execute function a1.guard()`);
    await q(`select retention.set_policy('a1.notes', 'a1.notes', 'delete', 'created_at', interval '1 year')`);
    await db.call(`call retention.run('a1.notes')`).catch(() => {});
    expect(await count(db, `retention.runs where error like '%alicetsv%alicexml%alicechar%'`)).toBe(1);
    await q(`drop trigger guard on a1.notes`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('a1.users', '1'))).toBe('completed');
    for (const v of ['alicetsv@a1.example', 'alicexml@a1.example', 'alicechar@a1.example']) expect(await mentions(v), v).toEqual([]);
  });

  it('F8: a message written while a step ran stays out after the step failed and a later processing completed', async () => {
    await q(`create schema a8`);
    await q(`create table a8.users (id int primary key, name text)`);
    await q(`insert into a8.users values (1, 'Alice Liddell')`);
    await q(`create table a8.phones (id int primary key, user_id int not null references a8.users on delete cascade, phone text,
               created_at timestamptz not null default now() - interval '1 year')`);
    await q(`insert into a8.phones (id, user_id, phone) values (10, 1, '5550001234'), (11, 1, '5550005678')`);
    await q(`create table a8.fail_flag (on_ boolean)`);
    await q(`create function a8.guard() returns trigger language plpgsql as $f$
             begin if exists (select from a8.fail_flag) then raise exception 'phone % is under contract', old.phone; end if; return old; end $f$`);
    await q(`create trigger guard before delete on a8.phones for each row execute function a8.guard()`);
    await q(`select retention.set_policy('a8.p10', 'a8.phones', 'delete', 'created_at', interval '1 day', p_predicate => 'id = 10')`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const request = await file('a8.users', '1');
    const locker = await db.connect();
    const c = await db.connect();
    try {
      await locker.query(`begin`);
      await locker.query(`select from a8.phones where id = 11 for update`);
      await c.query(`select retention.pin_session()`);
      await c.query(`select retention.open_erasure($1, 1000)`, [request]);
      const [s] = (await c.query(`select run_id, status from retention.erasure_step($1)`, [request])).rows;
      expect(s.status).toBe('in_progress');
      // Meanwhile a policy run fails on phone 10 and its error quotes it.
      await q(`insert into a8.fail_flag values (true)`);
      await db.call(`call retention.run('a8.p10')`).catch(() => {});
      await q(`delete from a8.fail_flag`);
      expect(await count(db, `retention.run_row_failures where error like '%5550001234%'`)).toBe(1);
      while ((await c.query(`select retention.run_step($1) as st`, [s.run_id])).rows[0]?.st === 'running') { /* batches */ }
      const [e] = (await c.query(`select status from retention.erasure_step($1)`, [request])).rows;
      expect(e.status).toBe('failed');
      await c.query(`select retention.unpin_session()`);
    } finally {
      await locker.query(`rollback`);
      await locker.end();
      await c.end();
    }
    // Kept while the request is not completed (its own messages still say why it failed).
    expect(await count(db, `retention_internal.erasure_step_values where request_id = ${request}`)).toBeGreaterThan(0);
    expect(await processed(request)).toBe('completed');
    expect(await mentions('5550001234')).toEqual([]);
    expect(await count(db, `retention_internal.erasure_step_values where request_id = ${request}`)).toBe(0);
  });

  it('F9: the token link of a table whose quoted name holds a colon goes with a row keyed by the person\'s value', async () => {
    await q(`create schema a9`);
    await q(`create table a9.users (id int primary key, email text)`);
    await q(`insert into a9.users values (1, 'alice.liddell@a9.example')`);
    await q(`create table a9."sub:s" (email text primary key, created_at timestamptz not null default now() - interval '1 year')`);
    await q(`insert into a9."sub:s" values ('alice.liddell@a9.example')`);
    await q(`select retention.set_policy('a9.subs', 'a9."sub:s"', 'delete', 'created_at', p_retain => '1 day', p_notice_period => '30 days')`);
    await q(`select retention.exempt_row('a9.subs', 'alice.liddell@a9.example', 'VIP')`);
    await q(`delete from a9."sub:s"`);  // unsubscribed before the erasure
    expect(await count(db, `retention.subject_tokens where subject like '%alice.liddell@a9.example'`)).toBeGreaterThan(0);
    await q(`select retention.set_erasure_rule('a9.users', 'delete')`);
    expect(await processed(await file('a9.users', '1'))).toBe('completed');
    expect(await mentions('alice.liddell@a9.example')).toEqual([]);
  });
  it('F7: a row keyed by the lower-cased e-mail the person\'s row holds in capitals, gone before the request, leaves no key or reason', async () => {
    await q(`create schema a7`);
    await q(`create table a7.users (id int primary key, email text)`);
    await q(`insert into a7.users values (1, 'Alice.Liddell@A7.example')`);
    await q(`create table a7.subs (email text primary key, created_at timestamptz not null default now() - interval '1 year')`);
    await q(`insert into a7.subs values ('alice.liddell@a7.example')`);
    await q(`select retention.set_policy('a7.subs', 'a7.subs', 'delete', 'created_at', p_retain => '1 day', p_notice_period => '30 days')`);
    await q(`select retention.exempt_row('a7.subs', 'alice.liddell@a7.example', 'VIP Liddell')`);
    await q(`delete from a7.subs`);
    await q(`select retention.set_erasure_rule('a7.users', 'delete')`);
    expect(await processed(await file('a7.users', '1'))).toBe('completed');
    expect(await mentions('alice.liddell@a7.example')).toEqual([]);
    expect(await mentions('VIP Liddell')).toEqual([]);
  });
});

describe('an erasure touches nobody else\'s records (atk86 F6)', () => {
  it('a released hold on bob\'s phone, in bob\'s row and in alice\'s contacts, stays with its reason', async () => {
    await q(`create schema a6`);
    await q(`create table a6.users (id int primary key, name text, phone text)`);
    await q(`insert into a6.users values (1, 'Alice Liddell', '5550001111'), (2, 'Bob Builder', '5559990000')`);
    await q(`create table a6.contacts (id int primary key, user_id int not null references a6.users on delete cascade, phone text)`);
    await q(`insert into a6.contacts values (10, 1, '5559990000')`);
    await q(`select retention.set_erasure_rule('a6.users', 'delete')`);
    await q(`select retention.set_erasure_rule('a6.contacts', 'delete')`);
    const { hold_id } = (await q(`select hold_id from retention.place_hold('subject', '5559990000', 'Bob: Doe v. Builder', p_case_reference => 'CASE-BOB')`))[0]!;
    await q(`select retention.release_hold($1, 'bob case closed')`, [hold_id]);
    expect(await processed(await file('a6.users', '1'))).toBe('completed');
    expect(await q(`select subject_id, reason, case_reference from retention.legal_holds where hold_id = $1`, [hold_id]))
      .toEqual([{ subject_id: '5559990000', reason: 'Bob: Doe v. Builder', case_reference: 'CASE-BOB' }]);
  });

  it('F5: a table renamed since is still there: alice\'s erasure leaves bob\'s notice and token link alone', async () => {
    await q(`create schema a5`);
    await q(`create table a5.users (id int primary key, email text, referred_by text)`);
    await q(`insert into a5.users values (1, 'alice@a5.example', 'bob.builder@a5.example')`);
    await q(`create table a5.subs (email text primary key, created_at timestamptz not null default now() - interval '1 year')`);
    await q(`insert into a5.subs values ('bob.builder@a5.example')`);
    await q(`select retention.set_policy('a5.subs', 'a5.subs', 'delete', 'created_at', p_retain => '1 day', p_notice_period => '30 days')`);
    await db.call(`call retention.run('a5.subs')`);
    await q(`alter table a5.subs rename to subscriptions`);
    const notes = await q(`select payload from retention.notifications where kind = 'rows_flagged' and policy_name = 'a5.subs'`);
    const links = await q(`select subject, token from retention.subject_tokens where subject like '%bob.builder@a5.example' order by 1`);
    expect(notes.length).toBe(1);
    await q(`select retention.set_erasure_rule('a5.users', 'delete')`);
    expect(await processed(await file('a5.users', '1'))).toBe('completed');
    expect(await q(`select payload from retention.notifications where kind = 'rows_flagged' and policy_name = 'a5.subs'`)).toEqual(notes);
    expect(await q(`select subject, token from retention.subject_tokens where subject like '%bob.builder@a5.example' order by 1`)).toEqual(links);
  });
});


describe('a request carried out by a duplicate (atk86 F3)', () => {
  it('forgets the holds its own steps found in force on the person\'s values, released since', async () => {
    await q(`create schema a3`);
    await q(`create table a3.flags (on_ boolean)`);
    await q(`insert into a3.flags values (true)`);
    await q(`create table a3.users (id int primary key, name text)`);
    await q(`create table a3.contacts (id int primary key, user_id int not null references a3.users on delete cascade, phone text)`);
    await q(`insert into a3.users values (1, 'Ciara Byrne'), (2, 'Bob Builder')`);
    await q(`insert into a3.contacts values (10, 1, '+353 87 555 0199'), (11, 2, '+1 555 0111')`);
    await q(`create function a3.guard() returns trigger language plpgsql as $f$
             begin if (select on_ from a3.flags) then raise exception 'user % is frozen', old.id; end if; return old; end $f$`);
    await q(`create trigger guard before delete on a3.users for each row execute function a3.guard()`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    // A hold on her phone number: no subject column holds it, so it blocks nothing.
    const [h] = await q(`select hold_id::int from retention.place_hold('subject', '+353 87 555 0199', 'Garda request about Ciara''s number', 'GARDA-3301')`);
    const first = await file('a3.users', '1');
    // Her contacts go (the step records the hold in force on the phone); the users step fails.
    expect(await processed(first).catch(() => 'raised')).toBe('raised');
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [first])).toEqual([{ status: 'failed' }]);
    expect(await count(db, `a3.contacts where user_id = 1`)).toBe(0);
    expect(await count(db, `retention_internal.erasure_held_values where request_id = ${first} and hold_id = ${h!.hold_id}`)).toBe(1);
    await q(`select retention.release_hold($1, 'case closed')`, [h!.hold_id]);
    await q(`update a3.flags set on_ = false`);
    // Filed again: the second request completes and carries out the first.
    const second = await file('a3.users', '1');
    expect(await processed(second)).toBe('completed');
    expect(await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [first]))
      .toEqual([{ status: 'completed', status_reason: `carried out by erasure request ${second}` }]);
    expect((await q(`select subject_id from retention.legal_holds where hold_id = $1`, [h!.hold_id]))[0]!.subject_id).toBeNull();
    for (const v of ['555 0199', 'Ciara', 'GARDA-3301']) expect(await mentions(v), v).toEqual([]);
    expect(await count(db, `retention_internal.erasure_held_values where request_id = ${first}`)).toBe(0);
    expect(await count(db, `retention_internal.erasure_step_values where request_id = ${first}`)).toBe(0);
    // Bob's row and number are untouched.
    expect(await q(`select phone from a3.contacts`)).toEqual([{ phone: '+1 555 0111' }]);
  });
});

describe('a table keyed by two columns (atk86 F4)', () => {
  it('a failed row keyed by the person\'s e-mail and a list, gone before the erasure, is re-keyed; bob\'s, still there, is not', async () => {
    await q(`create schema a4`);
    // Alice's row also holds bob's e-mail (he referred her).
    await q(`create table a4.users (id int primary key, email text unique, referred_by text)`);
    await q(`insert into a4.users values (1, 'alice.liddell@a4.example', 'bob.builder@a4.example'), (2, 'bob.builder@a4.example', null)`);
    await q(`create table a4.subs (email text, list text, created_at timestamptz not null default now() - interval '1 year', primary key (email, list))`);
    await q(`insert into a4.subs (email, list) values ('alice.liddell@a4.example', 'news'), ('bob.builder@a4.example', 'news'), ('carol@a4.example', 'news')`);
    await q(`create function a4.no_del() returns trigger language plpgsql as $f$
             begin if old.email not like 'carol%' then raise exception 'busy'; end if; return old; end $f$`);
    await q(`create trigger no_del before delete on a4.subs for each row execute function a4.no_del()`);
    await q(`select retention.set_policy('a4.subs', 'a4.subs', 'delete', 'created_at', interval '1 day')`);
    await db.call(`call retention.run('a4.subs')`).catch(() => {});
    expect(await count(db, `retention.run_row_failures where row_key ->> 'email' like '%@a4.example'`)).toBe(2);
    // The application unsubscribes alice before her erasure; bob keeps his row.
    await q(`drop trigger no_del on a4.subs`);
    await q(`delete from a4.subs where email like 'alice%'`);
    await q(`select retention.set_erasure_rule('a4.users', 'delete')`);
    expect(await processed(await file('a4.users', '1'))).toBe('completed');
    expect(await mentions('alice.liddell')).toEqual([]);
    expect(await q(`select row_key from retention.run_row_failures where row_key ? 'email'`))
      .toEqual([{ row_key: { email: 'bob.builder@a4.example', list: 'news' } }]);
  });
});
