// Attack round atk78 (personal data left behind by a completed erasure) and the hold gap
// of the same cause in atk76, each finding a test:
//  F1 a name with an upper-case accented letter ('Élodie Ørsted') quoted in a run's error
//     stayed: the value was lowered under "C" (ASCII only), the messages under the
//     database's collation;
//  F2 a built-in's syntax error quoting the person's value (to_tsquery in a predicate,
//     SQLSTATE 42601) went into the worker's log and the webhook;
//  F4b a reference holding that name was accepted when the column's collation was "C";
//  F4 one holding an array element, a JSON string, an inet or an NFD spelling too;
//  F6 an hstore field's value quoted in a run's error stayed;
//  F10 a released hold on an e-mail held through a jsonb subject column was kept;
//  F3 a row keyed by the person's e-mail (a subscription) that went before the erasure left
//     its failed-row key, flag, exemption (with its reason), notice and token link;
//  F8 a run error written while the erasure ran, after the step of the table it quotes
//     began, stayed;
//  atk76 F4 a column made Turkish (tr-x-icu) lowered 'ALICE' to 'alıce': the hold let go.
import { describe, expect, it } from 'vitest';
import { errFields } from '../../runner/log.ts';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed, mentions } = erasureHelpers(db);

describe('a completed erasure leaves no value of the person (atk78)', () => {
  it('F1: a name with an accented capital quoted in a run\'s error is erased', async () => {
    await q(`create schema d1`);
    await q(`create table d1.users (id bigint primary key, name text, email text)`);
    await q(`create table d1.contacts (id bigint primary key, user_id bigint references d1.users, meta jsonb, created_at timestamptz not null)`);
    await q(`insert into d1.users values (1, 'Élodie Ørsted', 'elodie@d1.example'), (2, 'Bob Smith', 'bob@d1.example')`);
    await q(`insert into d1.contacts values (10, 1, '{"age": "Élodie Ørsted"}', now() - interval '5 days'),
                                            (11, 1, '{"age": "Élodie Ørsted"}', now() - interval '5 days'),
                                            (20, 2, '{"age": "30"}', now() - interval '5 days')`);
    await q(`select retention.set_policy('d1.contacts', 'd1.contacts', 'delete', 'created_at', p_retain => '1 day',
                                         p_predicate => $$(meta->>'age')::int > 0$$, p_subject_column => 'user_id')`);
    await db.call(`call retention.run('d1.contacts')`).catch(() => {});
    expect(await count(db, `retention.runs where error like '%Élodie Ørsted%'`)).toBe(1);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('d1.users', '1'))).toBe('completed');
    expect(await mentions('Ørsted')).toEqual([]);
  });

  it('F2: a built-in\'s syntax error quoting a value stays out of the worker\'s log and the webhook', async () => {
    await q(`create schema d2`);
    await q(`create table d2.docs (id bigint primary key, owner_email text, created_at timestamptz not null)`);
    await q(`insert into d2.docs values (1, 'elodie.orsted@d2.example & ', now() - interval '5 days')`);
    await q(`select retention.set_policy('d2.docs', 'd2.docs', 'delete', 'created_at', p_retain => '1 day',
                                         p_predicate => $$to_tsquery('simple', owner_email) is not null$$)`);
    const err = await db.call(`call retention.run('d2.docs')`).then(() => null, (e: unknown) => e);
    expect((err as { code: string }).code).toBe('42601');
    expect((err as Error).message).toMatch(/elodie/);
    expect(JSON.stringify(errFields(err))).not.toMatch(/elodie/);
    expect(errFields(err).error).toMatch(/SQLSTATE 42601: message withheld/);
    expect(await count(db, `retention.notifications where kind = 'run_failed' and payload->>'error_code' = '42601'`)).toBe(1);
    expect(await count(db, `retention.notifications where payload::text like '%elodie%'`)).toBe(0);
    // A lock timeout's message names no value: it is kept.
    const lock = await db.call(`set lock_timeout = '1ms'; begin; lock table d2.docs; lock table d2.docs`).then(() => null, (e: unknown) => e);
    expect(lock).toBeNull();
  });

  it('F4b: a reference holding the person\'s name is refused whatever the column\'s collation', async () => {
    await q(`create schema d4`);
    await q(`create table d4.users (id bigint primary key, name text collate "C", city text)`);
    await q(`insert into d4.users values (1, 'Élodie Ørsted', 'Paris'), (2, 'Bob Smith', 'Lyon')`);
    expect(await sqlState(file('d4.users', '1', 'ticket for Élodie Ørsted'))).toBe('RT029');
    expect(await sqlState(file('d4.users', '2', 'ticket for Bob Smith'))).toBe('RT029');
    expect(await count(db, `retention.erasure_requests where subject_table = 'd4.users'::regclass`)).toBe(0);
  });

  it('F4: a reference holding an array element, a JSON string, an address or an NFD spelling of the person\'s row is refused', async () => {
    await q(`create schema d5`);
    await q(`create table d5.users (id bigint primary key, name text, phones text[], profile jsonb, last_ip inet)`);
    await q(`insert into d5.users values (1, 'Zoë Quarrington', '{"+44 20 7946 0958"}', '{"nick": "zquarry", "tags": ["vip"]}', '203.0.113.77')`);
    for (const ref of ['call +44 20 7946 0958', 'ticket zquarry', 'from 203.0.113.77', 'for Zoe\u0308 Quarrington'.normalize('NFD')]) {
      expect(await sqlState(file('d5.users', '1', ref)), ref).toBe('RT029');
    }
    expect(await count(db, `retention.erasure_requests where subject_table = 'd5.users'::regclass`)).toBe(0);
    expect(await file('d5.users', '1', 'ticket 4711')).toBeGreaterThan(0);
  });

  it('F6: an hstore field\'s value quoted in a run\'s error is erased', async () => {
    await q(`create schema d6`);
    await q(`create extension if not exists hstore schema d6`);
    await q(`create table d6.users (id bigint primary key, name text)`);
    await q(`create table d6.profiles (id bigint primary key, user_id bigint references d6.users, attrs d6.hstore, created_at timestamptz not null)`);
    await q(`insert into d6.users values (1, 'E. O.'), (2, 'B. S.')`);
    await q(`insert into d6.profiles values (10, 1, 'phone=>"+33 6 12 34 56 78", age=>"elodie.orsted@d6.example"', now() - interval '5 days'),
                                            (11, 1, 'phone=>"+33 6 12 34 56 78", age=>"elodie.orsted@d6.example"', now() - interval '5 days'),
                                            (20, 2, 'age=>"30"', now() - interval '5 days')`);
    // Another table's trigger quotes a field of her profile in its error.
    await q(`create table d6.orders (id bigint primary key, created_at timestamptz not null)`);
    await q(`insert into d6.orders values (1, now() - interval '5 days')`);
    await q(`create function d6.guard() returns trigger language plpgsql as $$
             begin raise exception 'order of % cannot go', (select p.attrs operator(d6.->) 'age' from d6.profiles p where p.id = 10)
                   using errcode = '45000'; end $$`);
    await q(`create trigger guard before delete on d6.orders for each row execute function d6.guard()`);
    await q(`select retention.set_policy('d6.orders', 'd6.orders', 'delete', 'created_at', p_retain => '1 day')`);
    await db.call(`call retention.run('d6.orders')`).catch(() => {});
    expect(await count(db, `retention.runs where error like '%elodie.orsted@d6.example%'`)).toBe(1);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('d6.users', '1'))).toBe('completed');
    expect(await mentions('elodie.orsted@d6')).toEqual([]);
  });

  it('F10: a released hold on an e-mail held through a jsonb subject column is forgotten with the person', async () => {
    await q(`create schema d10`);
    await q(`create table d10.users (id bigint primary key, name text)`);
    await q(`create table d10.events (id bigint primary key, user_id bigint references d10.users, actor jsonb, created_at timestamptz not null)`);
    await q(`insert into d10.users values (1, 'E O')`);
    await q(`insert into d10.events values (1, 1, '"ELODIE.orstedten@d10.example"', now() - interval '5 days')`);
    await q(`select retention.set_policy('d10.events', 'd10.events', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'actor')`);
    const [h] = await q<{ id: number }>(`select hold_id::int as id from retention.place_hold('subject', 'elodie.orstedten@d10.example', 'Complaint by Elodie Orstedten', 'ORSTED-1')`);
    await db.call(`call retention.run('d10.events')`);
    expect(await count(db, 'd10.events')).toBe(1);
    await q(`select retention.release_hold($1, 'withdrawn')`, [h!.id]);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('d10.users', '1'))).toBe('completed');
    expect(await mentions('orstedten')).toEqual([]);
    expect(await mentions('ORSTED-1')).toEqual([]);
  });
});

describe('keys of rows that went before the erasure (atk78 F3)', () => {
  it('a subscription keyed by the person\'s e-mail, gone before the request, leaves no key, flag, exemption, notice or token link', async () => {
    await q(`create schema d3`);
    await q(`create table d3.users (id bigint primary key, name text, email text unique)`);
    await q(`create table d3.subscriptions (email text primary key, user_id bigint references d3.users on delete cascade, last_seen timestamptz not null)`);
    await q(`create table d3.mailings (id bigint primary key, email text references d3.subscriptions)`);
    await q(`insert into d3.users values (1, 'Elodie Threeson', 'elodie.threeson@d3.example'), (2, 'Bob', 'bob.threeson@d3.example')`);
    await q(`insert into d3.subscriptions values ('elodie.threeson@d3.example', 1, now() - interval '5 days'), ('bob.threeson@d3.example', 2, now() - interval '5 days')`);
    await q(`insert into d3.mailings values (1, 'elodie.threeson@d3.example')`);
    await q(`select retention.set_policy('d3.subs', 'd3.subscriptions', 'delete', 'last_seen', p_retain => '1 day', p_subject_column => 'user_id', p_notice_period => '30 days')`);
    await db.call(`call retention.run('d3.subs')`);
    expect(await count(db, `retention.flagged_rows where row_key = 'elodie.threeson@d3.example'`)).toBe(1);
    await q(`select retention.exempt_row('d3.subs', 'elodie.threeson@d3.example', 'VIP: Elodie Threeson, CEO')`);
    // A plain delete policy on it too, whose batch fails on her row (a mailing references it).
    await q(`select retention.set_policy('d3.subs-now', 'd3.subscriptions', 'delete', 'last_seen', p_retain => '1 day', p_batch_size => 1)`);
    await db.call(`call retention.run('d3.subs-now')`).catch(() => {});
    expect(await count(db, `retention.run_row_failures where row_key ->> 'email' = 'elodie.threeson@d3.example'`)).toBe(1);
    // She unsubscribes: the application deletes her rows.
    await q(`delete from d3.mailings`);
    await q(`delete from d3.subscriptions where user_id = 1`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('d3.users', '1'))).toBe('completed');
    expect(await mentions('elodie.threeson')).toEqual([]);
    expect(await count(db, `retention.subject_tokens where subject like '%elodie.threeson%'`)).toBe(0);
    // Bob's stay.
    expect(await mentions('bob.threeson')).not.toEqual([]);
  });
});

describe('values quoted in an escaped spelling (atk81 F1)', () => {
  it('a name quoted by quote_literal (a doubled apostrophe) or as JSON (an escaped newline) is erased', async () => {
    await q(`create schema d12`);
    await q(`create table d12.users (id bigint primary key, name text, address text)`);
    await q(`insert into d12.users values (1, 'Siobhán O''Brien-Quirke', E'12 Quarry Lane\nKilkennytown'), (2, 'Bob', 'x')`);
    await q(`create table d12.orders (id bigint primary key, created_at timestamptz not null)`);
    await q(`insert into d12.orders values (1, now() - interval '5 days')`);
    await q(`create function d12.guard() returns trigger language plpgsql as $$
             begin raise exception 'VIP (name %) at %', (select quote_literal(name) from d12.users where id = 1),
                                                         (select to_jsonb(address) from d12.users where id = 1) using errcode = '45000'; end $$`);
    await q(`create trigger guard before delete on d12.orders for each row execute function d12.guard()`);
    await q(`select retention.set_policy('d12.orders', 'd12.orders', 'delete', 'created_at', p_retain => '1 day')`);
    await db.call(`call retention.run('d12.orders')`).catch(() => {});
    const [run] = await q<{ error: string }>(`select error from retention.runs where policy_name = 'd12.orders'`);
    expect(run!.error).toContain("O''Brien-Quirke");
    expect(run!.error).toContain('Quarry Lane\\nKilkennytown');
    await q(`select retention.set_erasure_rule('d12.users', 'delete')`);
    expect(await processed(await file('d12.users', '1'))).toBe('completed');
    expect(await mentions('Brien-Quirke')).toEqual([]);
    expect(await mentions('Kilkennytown')).toEqual([]);
  });
});

describe('a message written while the erasure runs (atk78 F8)', () => {
  it('a policy run that fails on the person\'s row after its table\'s step began: its error loses the value when the step ends', async () => {
    await q(`create schema d13`);
    await q(`create table d13.users (id bigint primary key, name text, email text)`);
    await q(`create table d13.searches (id bigint primary key, user_id bigint references d13.users, query text, created_at timestamptz not null)`);
    await q(`insert into d13.users values (1, 'Elodie Orsted', 'elodie.orsted@d13.example'), (2, 'Bob', 'bob@d13.example')`);
    await q(`insert into d13.searches values (10, 1, 'hiv clinic near rue de la paix &', now() - interval '5 days'),
                                             (20, 2, 'weather', now() - interval '5 days')`);
    await q(`select retention.set_policy('d13.searches', 'd13.searches', 'delete', 'created_at', p_retain => '1 day',
               p_predicate => $$not (to_tsvector('simple', 'keep') @@ to_tsquery('simple', query))$$, p_subject_column => 'user_id')`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const request = await file('d13.users', '1');
    const c = await db.connect();
    try {
      await c.query(`select retention.pin_session()`);
      await c.query(`select retention.open_erasure($1)`, [request]);
      let first = true;
      for (let i = 0; i < 20; i++) {
        const [s] = (await c.query(`select run_id, status from retention.erasure_step($1)`, [request])).rows;
        if (s?.status !== 'in_progress') break;
        if (first) {
          // The worker's scheduled run of the policy, once the searches step has begun.
          await db.call(`call retention.run('d13.searches')`).catch(() => {});
          expect(await count(db, `retention.runs where policy_name = 'd13.searches' and error like '%rue de la paix%'`)).toBe(1);
          first = false;
        }
        while ((await c.query(`select retention.run_step($1) as st`, [s.run_id])).rows[0]?.st === 'running') { /* batches */ }
      }
      await c.query(`select retention.unpin_session()`);
    } finally {
      await c.end();
    }
    const [st] = await q(`select status from retention.erasure_requests where request_id = $1`, [request]);
    expect(st!.status).toBe('completed');
    expect(await mentions('rue de la paix')).toEqual([]);
    expect(await count(db, `retention_internal.erasure_step_values`)).toBe(0);
  });
});

describe('holds in any collation (atk76 F4)', () => {
  it('a column made Turkish still holds the person spelt in capitals', async () => {
    await q(`create schema d11`);
    await q(`create table d11.mails (id int primary key, to_email text, sent_at timestamptz not null)`);
    await q(`insert into d11.mails values (1, 'ALICE@D11.EXAMPLE', now() - interval '400 days'), (2, 'bob@d11.example', now() - interval '400 days')`);
    await q(`select retention.set_policy('d11.mails', 'd11.mails', 'delete', 'sent_at', interval '365 days', p_subject_column => 'to_email')`);
    await q(`select retention.place_hold('subject', 'alice@d11.example', 'litigation')`);
    expect(await q(`select held_back::int from retention.preview('d11.mails')`)).toEqual([{ held_back: 1 }]);
    await q(`alter table d11.mails alter column to_email type text collate "tr-x-icu"`);
    expect(await q(`select held_back::int from retention.preview('d11.mails')`)).toEqual([{ held_back: 1 }]);
    await db.call(`call retention.run('d11.mails')`);
    expect(await q(`select id from d11.mails`)).toEqual([{ id: 1 }]);
  });
});
