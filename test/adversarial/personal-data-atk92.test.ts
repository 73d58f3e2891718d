// Attack round atk92 (an erasure touches nobody else's records), findings fixed with a test:
//  F2 a failed row of bob's, keyed (email, list), gone before alice's erasure, was re-keyed
//     because its list name ('newsletter-weekly') was also a value of alice's row;
//  F6 a table rebuilt under its name (a new OID) was judged by the run's old OID: bob's
//     failed row, whose row is still there, was re-keyed by alice's erasure;
//  F7 a webhook receiver's answer quoting her e-mail, kept as a notification's
//     last_error, stayed after her erasure completed;
//  F3 a message quoting her value in NFD, without its trailing line end, or from a bytea
//     stayed; and a batch of which every row failed put one row's message (part of her
//     bio) into the run's error, tied to no row;
//  F4 released holds on other spellings of her values (a phone in another format, a
//     reordered name, fullwidth, percent-encoded, Cyrillic) kept them;
//  F1, F1b, F5 references in more spellings (encodings, separators, look-alikes, other
//     digits, a phone's other formats, a reordered or shortened name), holding who asked,
//     naming a value she gave after filing or one of her rows in another table.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed, mentions } = erasureHelpers(db);

/** A policy run on `table` that fails on rows whose email is not carol's. */
async function failingRun(table: string) {
  const s = table.split('.')[0]!;
  await q(`create function ${s}.no_del() returns trigger language plpgsql as $f$
           begin if old.email not like 'carol%' then raise exception 'busy'; end if; return old; end $f$`);
  await q(`create trigger no_del before delete on ${table} for each row execute function ${s}.no_del()`);
  await q(`select retention.set_policy('${table}', '${table}', 'delete', 'created_at', interval '1 day')`);
  await db.call(`call retention.run('${table}')`).catch(() => {});
  await q(`drop trigger no_del on ${table}`);
}

describe('an erasure leaves other people\'s records alone (atk92)', () => {
  it('F2: a key of two columns is the person\'s only by a part named as the column of their row that holds it', async () => {
    await q(`create schema b2`);
    await q(`create table b2.users (id bigint primary key, email text, signup_source text)`);
    await q(`insert into b2.users values (1, 'alice@b2.example', 'newsletter-weekly'), (2, 'dave@b2.example', 'web')`);
    await q(`create table b2.subs (email text, list text, created_at timestamptz not null default now() - interval '10 days', primary key (email, list))`);
    await q(`insert into b2.subs (email, list) values ('bob@b2.example', 'newsletter-weekly'), ('alice@b2.example', 'digest'), ('carol@b2.example', 'x-list')`);
    await failingRun('b2.subs');
    await q(`delete from b2.subs where email <> 'carol@b2.example'`);
    await q(`select retention.set_erasure_rule('b2.users', 'delete')`);
    expect(await processed(await file('b2.users', '1'))).toBe('completed');
    // Bob's record keeps its key; alice's (her e-mail under "email") is re-keyed.
    expect(await q(`select row_key from retention.run_row_failures where row_key ? 'email' order by row_key ->> 'email'`))
      .toEqual([{ row_key: { email: 'bob@b2.example', list: 'newsletter-weekly' } }]);
    expect(await mentions('alice@b2.example')).toEqual([]);
  });

  it('F6: a table rebuilt under its name is found by that name: bob\'s failed row, whose row is there, keeps its key', async () => {
    await q(`create schema b6`);
    await q(`create table b6.users (id bigint primary key, email text, referred_email text)`);
    await q(`insert into b6.users values (1, 'alice@b6.example', 'bob@b6.example'), (2, 'dave@b6.example', null)`);
    await q(`create table b6.subs (email text primary key, created_at timestamptz not null default now() - interval '10 days')`);
    await q(`insert into b6.subs (email) values ('bob@b6.example'), ('carol@b6.example')`);
    await failingRun('b6.subs');
    expect(await q(`select row_key from retention.run_row_failures where row_key ->> 'email' like '%b6.example'`))
      .toEqual([{ row_key: { email: 'bob@b6.example' } }]);
    await q(`create table b6.subs_new (like b6.subs including all)`);
    await q(`insert into b6.subs_new select * from b6.subs`);
    await q(`drop table b6.subs`);
    await q(`alter table b6.subs_new rename to subs`);
    await q(`select retention.set_erasure_rule('b6.users', 'delete')`);
    expect(await processed(await file('b6.users', '1'))).toBe('completed');
    expect(await q(`select row_key from retention.run_row_failures where row_key ->> 'email' like '%b6.example'`))
      .toEqual([{ row_key: { email: 'bob@b6.example' } }]);
  });
});

describe('what other systems answered (atk92 F7)', () => {
  it('a notification\'s last delivery error quoting the person\'s e-mail is erased with her; another\'s stays', async () => {
    await q(`create schema b7`);
    await q(`create table b7.users (id bigint primary key, email text)`);
    await q(`insert into b7.users values (1, 'alice.b7@example.com'), (2, 'bob.b7@example.com')`);
    await q(`insert into retention.notifications (kind, dedupe_key, payload) values ('run_failed', 'b7:1', '{"kind": "run_failed"}'), ('run_failed', 'b7:2', '{"kind": "run_failed"}')`);
    const ids = (await q(`select notification_id::text as id from retention.claim_notifications('w1', 1000) where dedupe_key like 'b7:%' order by 1`)).map((r) => r.id);
    expect(ids).toHaveLength(2);
    await q(`select retention.settle_notification($1, 'w1', false, 'HTTP 422 unknown account alice.b7@example.com')`, [ids[0]]);
    await q(`select retention.settle_notification($1, 'w1', false, 'HTTP 422 unknown account bob.b7@example.com')`, [ids[1]]);
    await q(`select retention.set_erasure_rule('b7.users', 'delete')`);
    expect(await processed(await file('b7.users', '1'))).toBe('completed');
    expect(await q(`select last_error from retention.notifications where dedupe_key like 'b7:%' order by dedupe_key`))
      .toEqual([{ last_error: 'HTTP 422 unknown account [erased]' }, { last_error: 'HTTP 422 unknown account bob.b7@example.com' }]);
  });
});

describe('messages that quote a value in another form (atk92 F3)', () => {
  /** A run on users that fails as a whole (SQLSTATE 54000, not redone row by row) with a message the trigger builds from alice's row. */
  async function failsQuoting(s: string, column: string, type: string, value: string, quote: string) {
    await q(`create schema ${s}`);
    await q(`create table ${s}.users (id bigint primary key, name text, ${column} ${type}, created_at timestamptz not null default now() - interval '10 days')`);
    await q(`insert into ${s}.users values (1, 'Alice', ${value}), (2, 'Dave', null)`);
    await q(`create function ${s}.guard() returns trigger language plpgsql as $f$
             begin if old.id = 1 then raise exception 'cannot delete: %', ${quote} using errcode = '54000'; end if; return old; end $f$`);
    await q(`create trigger guard before delete on ${s}.users for each row execute function ${s}.guard()`);
    await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', interval '1 day')`);
    await db.call(`call retention.run('${s}.users')`).catch(() => {});
    await q(`drop trigger guard on ${s}.users`);
    await q(`select retention.set_erasure_rule('${s}.users', 'delete')`);
  }

  it('a value quoted in NFD, the row holding it in NFC: erased', async () => {
    await failsQuoting('n3', 'bio', 'text', `'Zoë Müller-Lüdenscheidt'`, `normalize(old.bio, NFD)`);
    expect(await q(`select count(*)::int as n from retention.runs where error like '%' || normalize('Müller', NFD) || '%'`)).toEqual([{ n: 1 }]);
    expect(await processed(await file('n3.users', '1'))).toBe('completed');
    expect(await q(`select count(*)::int as n from retention.runs where error like '%' || normalize('Müller', NFD) || '%' or error like '%Müller%'`)).toEqual([{ n: 0 }]);
  });

  it('a value quoted without its trailing line end: erased', async () => {
    await failsQuoting('t3', 'bio', 'text', `E'alice.t3@mail.example\\n'`, `btrim(old.bio, E' \\n')`);
    expect(await mentions('alice.t3@mail.example')).toHaveLength(1);
    expect(await processed(await file('t3.users', '1'))).toBe('completed');
    expect(await mentions('alice.t3@mail.example')).toEqual([]);
  });

  it('a bytea holding her address as UTF-8, quoted as text: erased', async () => {
    await failsQuoting('y3', 'contact', 'bytea', `convert_to('alice.y3@mail.example', 'UTF8')`, `convert_from(old.contact, 'UTF8')`);
    expect(await mentions('alice.y3@mail.example')).toHaveLength(1);
    expect(await processed(await file('y3.users', '1'))).toBe('completed');
    expect(await mentions('alice.y3@mail.example')).toEqual([]);
    // Bytes that are no text (an image, a hash) give no piece.
    expect(await q(`select retention_internal._bytea_text('\\x00ff10'::bytea) as t, retention_internal._bytea_text(convert_to('ok text', 'UTF8')) as u`))
      .toEqual([{ t: null, u: 'ok text' }]);
  });

  it('her e-mail address and phone number inside a longer value (her bio), quoted alone by a statement\'s error: erased', async () => {
    await failsQuoting('p3', 'bio', 'text', `'Reach me privately at alice.p3@mail.example, or on +44 7700 900-311 any time'`,
      `substring(old.bio from '[^ ]+@[^ ,]+') || ' / ' || substring(old.bio from '[+][0-9 -]+[0-9]')`);
    expect(await mentions('alice.p3@mail.example')).toHaveLength(1);
    expect(await mentions('7700 900-311')).toHaveLength(1);
    expect(await processed(await file('p3.users', '1'))).toBe('completed');
    expect(await mentions('alice.p3@mail.example')).toEqual([]);
    expect(await mentions('7700 900-311')).toEqual([]);
  });

  it('a batch of which every row fails keeps each row\'s error by its key; the run\'s error quotes none, and her erasure leaves no part of her bio', async () => {
    await q(`create schema s3`);
    await q(`create table s3.users (id bigint primary key, name text, bio text, created_at timestamptz not null default now() - interval '10 days')`);
    await q(`insert into s3.users values (1, 'Alice', 'Reach me privately at alice.s3@mail.example any time'), (2, 'Dave', 'hello from dave')`);
    // The application's check casts part of the bio: its message quotes that part only.
    await q(`create function s3.guard() returns trigger language plpgsql as $f$
             begin perform coalesce(substring(old.bio from '[^ ]+@[^ ]+'), old.name)::int; return old; end $f$`);
    await q(`create trigger guard before delete on s3.users for each row execute function s3.guard()`);
    await q(`select retention.set_policy('s3.users', 's3.users', 'delete', 'created_at', interval '1 day')`);
    const err = await db.call(`call retention.run('s3.users')`).then(() => null, (e: unknown) => e as { code: string; message: string });
    expect(err?.code).toBe('22P02');
    expect(err?.message).toMatch(/every row of batch 1 \(2 rows\) failed, SQLSTATE 22P02: their errors are in retention\.run_row_failures/);
    expect(await q(`select status, affected::int, failed_rows::int from retention.runs where policy_name = 's3.users'`))
      .toEqual([{ status: 'failed', affected: 0, failed_rows: 2 }]);
    expect(await q(`select f.row_key, f.error_code from retention.run_row_failures f join retention.runs r using (run_id)
                     where r.policy_name = 's3.users' order by row_key ->> 'id'`))
      .toEqual([{ row_key: { id: 1 }, error_code: '22P02' }, { row_key: { id: 2 }, error_code: '22P02' }]);
    expect(await mentions('alice.s3@mail.example')).toHaveLength(1);
    expect(await count(db, 's3.users')).toBe(2);
    await q(`drop trigger guard on s3.users`);
    await q(`select retention.set_erasure_rule('s3.users', 'delete')`);
    expect(await processed(await file('s3.users', '1'))).toBe('completed');
    expect(await mentions('alice.s3@mail.example')).toEqual([]);
    // Dave's failure stays as it was.
    expect(await mentions('Dave')).toEqual(['run_row_failures ' + (await q(`select run_id::text as id from retention.runs where policy_name = 's3.users'`))[0]!.id]);
  });
});

describe('released holds on other spellings of her values (atk92 F4)', () => {
  it('a phone in another format, a reordered or re-spaced name, fullwidth, percent-encoded and Cyrillic spellings: forgotten', async () => {
    await q(`create schema h4`);
    await q(`create table h4.users (id bigint primary key, email text, phone text, name text)`);
    await q(`insert into h4.users values (1, 'alice@h4.example', '+44 7700 900123', 'Alice Smith'), (2, 'bob@h4.example', '+44 7700 900999', 'Bob Jones')`);
    const spellings = ['+447700900123', '07700 900123', 'alice@h4 .example', 'Smith, Alice', 'Alice  Smith',
      'ａｌｉｃｅ＠ｈ４．ｅｘａｍｐｌｅ', 'alice%40h4.example', 'аlice@h4.example', 'alice(at)h4.example', '+44 7700 900999', 'Jones, Bob'];
    for (const v of spellings) await q(`select retention.place_hold('subject', $1, 'litigation about the caller', 'CASE-77')`, [v]);
    await q(`select retention.release_hold(hold_id, 'settled') from retention.legal_holds`);
    await q(`select retention.set_erasure_rule('h4.users', 'delete')`);
    expect(await processed(await file('h4.users', '1'))).toBe('completed');
    // Bob's stay as they were.
    expect(await q(`select subject_id from retention.legal_holds where subject_id is not null order by subject_id`))
      .toEqual([{ subject_id: '+44 7700 900999' }, { subject_id: 'Jones, Bob' }]);
    expect(await mentions('900123')).toEqual([]);
    expect(await mentions('Smith')).toEqual([]);
  });
});

describe('the reference (atk92 F1, F1b, F5)', () => {
  it('spellings of her values that pass no more when filed', async () => {
    await q(`create schema r1`);
    await q(`create table r1.users (id bigint primary key, email text, phone text, name text)`);
    await q(`insert into r1.users values (1234, 'alice.smith@r1.example', '+1 555 010 2233', 'Alice Smith')`);
    for (const ref of ['alice.smith@r1 .example', 'alice.smith(at)r1.example', 'alice.smith&#64;r1.example', 'alice.smith%2540r1.example',
      'alice.smith=40r1.example', 'alice.smith\\u0040r1.example', 'alıce.smith@r1.example', 'аⅼіϲе.ѕmіtһ@r1.example',
      '+15550102233', '555-010-2233', '(555) 010 2233', 'Smith, Alice', 'A. Smith', 'user ١٢٣٤']) {
      expect(await sqlState(q(`select retention.request_erasure('r1.users', '1234', 'privacy form', p_reference => $1)`, [ref])), ref).toBe('RT029');
    }
    // Who asked, inside the reference (F1b).
    expect(await sqlState(q(`select retention.request_erasure('r1.users', '1234', 'alice.home@mail.example', p_reference => 'mail from alice.home@mail.example')`))).toBe('RT029');
    expect(await count(db, `retention.erasure_requests where subject_table = 'r1.users'::regclass`)).toBe(0);
    // An honest reference is taken.
    expect(await q(`select reference from retention.request_erasure('r1.users', '1234', 'privacy form', p_reference => 'ZD-4711')`)).toEqual([{ reference: 'ZD-4711' }]);
  });

  it('a value she gave after the request was filed, or one of her rows in another table: the reference goes when it is processed', async () => {
    await q(`create schema r5`);
    await q(`create table r5.users (id bigint primary key, email text, phone text)`);
    await q(`create table r5.profiles (id bigint primary key, user_id bigint references r5.users on delete cascade, home_email text)`);
    await q(`insert into r5.users values (1, 'alice@r5.example', null), (2, 'bob@r5.example', null), (3, 'carol@r5.example', null)`);
    await q(`insert into r5.profiles values (10, 1, 'alice.home@r5.example'), (11, 2, 'bob.home@r5.example')`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const a = await file('r5.users', '1', 'case +44 7700 900123');
    const b = await file('r5.users', '2', 'mail from bob.home@r5.example');
    const c = await file('r5.users', '3', 'ZD-4711');
    await q(`update r5.users set phone = '+44 7700 900123' where id = 1`);
    for (const id of [a, b, c]) expect(await processed(id)).toBe('completed');
    expect(await q(`select request_id::int as id, reference from retention.erasure_requests where subject_table = 'r5.users'::regclass order by 1`))
      .toEqual([{ id: a, reference: null }, { id: b, reference: null }, { id: c, reference: 'ZD-4711' }]);
    expect(await q(`select payload ->> 'reference' as reference from retention.notifications
                     where kind = 'erasure_completed' and payload ->> 'subject_table' = 'r5.users' order by (payload ->> 'request_id')::int`))
      .toEqual([{ reference: null }, { reference: null }, { reference: 'ZD-4711' }]);
    expect(await mentions('900123')).toEqual([]);
    expect(await mentions('bob.home')).toEqual([]);
  });
});

describe('a hold placed while her erasure runs (atk92 F8)', () => {
  it('on her phone, after the step of her row began: released after the erasure completed, it keeps nothing of her', async () => {
    await q(`create schema h8`);
    await q(`create table h8.users (id bigint primary key, email text, phone text)`);
    await q(`create table h8.profiles (id bigint primary key, user_id bigint references h8.users on delete cascade, bio text)`);
    await q(`insert into h8.users values (1, 'alice@h8.example', '+44 7700 900123'), (2, 'bob@h8.example', '+44 7700 900999')`);
    await q(`insert into h8.profiles values (10, 1, 'hi')`);
    await q(`select retention.set_erasure_rule('h8.users', 'delete')`);
    const id = await file('h8.users', '1');
    const c = await db.connect();
    try {
      await c.query(`select retention.pin_session()`);
      expect((await c.query(`select retention.open_erasure($1) as s`, [id])).rows[0].s).toBe('in_progress');
      let placed = false;
      for (;;) {
        const { rows: [st] } = await c.query(`select run_id, status from retention.erasure_step($1)`, [id]);
        if (!st.run_id) break;
        const [r] = await q<{ erasure_table: string }>(`select erasure_table::text from retention.runs where run_id = $1`, [st.run_id]);
        for (let s = 'running'; s === 'running';) {
          s = (await c.query(`select retention.run_step($1) as s`, [st.run_id])).rows[0].s;
          // The users step has read her row's values: a hold on her phone, in another format.
          if (r!.erasure_table === 'h8.users' && !placed) {
            await q(`select retention.place_hold('subject', '07700 900123', 'fraud case about the caller', 'CASE-991')`);
            placed = true;
          }
        }
      }
      expect(placed).toBe(true);
    } finally {
      await c.end();
    }
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
    await q(`select retention.release_hold(hold_id, 'case closed') from retention.legal_holds where subject_id = '07700 900123'`);
    expect(await mentions('900123')).toEqual([]);
    expect(await mentions('CASE-991')).toEqual([]);
    expect(await mentions('fraud case')).toEqual([]);
  });
});
