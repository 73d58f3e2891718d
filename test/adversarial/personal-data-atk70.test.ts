// Attack round atk70 (personal data left behind), each finding a test:
//  F1 an application's trigger raising with a code of ours (RT001) or a harmless-looking one
//     (45000, 42501, 55P03) kept the person's e-mail in the audit log, the webhook payload
//     and the worker's log: the code proved nothing about who wrote the message;
//  F2 object_deletions.key_sha256 was sha256 of the key: an erased person's avatar key
//     ('avatars/alice@...png') came back by hashing the likely keys;
//  F3 a JSON number or a composite column's field of the person's row, quoted in a run's
//     error, stayed after the erasure;
//  F4 a released hold on a value of the person's row that no key ties to a subject column
//     (their phone number) kept it.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { errFields, loggableMessage } from '../../runner/log.ts';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed, mentions } = erasureHelpers(db);

describe('what leaves the database keeps nothing of the application\'s messages (atk70 F1)', () => {
  for (const [i, code] of ['RT001', '45000', '42501', '55P03', 'RT025'].entries()) {
    it(`an application's RAISE with SQLSTATE ${code}: the audit log, the webhook and the worker's log keep no value; the erasure removes it from the run`, async () => {
      const s = `b${i}`;
      const email = `alice${i}@atk70.example`;
      await q(`create schema ${s}`);
      await q(`create table ${s}.users (id int primary key, email text, created_at timestamptz not null)`);
      await q(`insert into ${s}.users values (7, '${email}', now() - interval '3 years'), (8, 'bob@${s}.example', now() - interval '3 years')`);
      await q(`create function ${s}.guard() returns trigger language plpgsql as $$
               begin raise exception 'account % is in a payment dispute', old.email
                     using errcode = '${code}', hint = 'ask ' || old.email; end $$`);
      await q(`create trigger users_guard before delete on ${s}.users for each row execute function ${s}.guard()`);
      await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', interval '1 year')`);
      const err = await db.call(`call retention.run('${s}.users')`).then(() => null, (e: unknown) => e);
      const [run] = await q<{ run_id: number; status: string; error_code: string; error: string; error_hint: string | null }>(
        `select run_id::int, status, error_code, error, error_hint from retention.runs where policy_name = $1`, [`${s}.users`]);
      expect(run!.status).toBe(code === '55P03' ? 'stopped_lock_timeout' : 'failed');
      expect(run!.error_code).toBe(code);
      // The run keeps it all, after words of ours; the hint went with the message.
      expect(run!.error).toMatch(new RegExp(`^the application's code raised an error \\(SQLSTATE ${code}\\); it said: account ${email} .*\\(hint: ask ${email}\\)$`));
      expect(run!.error_hint).toBeNull();
      // What leaves the database: the audit log (kept for good: its code, and the words of
      // ours of an RT one), the webhook's payload, the worker's log line of the run's error,
      // and of the error the CALL raised.
      expect(await count(db, `retention.audit_log where details::text like '%' || $1 || '%'`, [email])).toBe(0);
      expect(await count(db, `retention.audit_log where details ->> 'run_id' = $1::text and details ->> 'error' like 'the application''s code raised an error%'`,
        [run!.run_id])).toBe(code.startsWith('RT') ? 1 : 0);
      expect(await count(db, `retention.notifications where payload::text like '%' || $1 || '%'`, [email])).toBe(0);
      expect(loggableMessage(run!.error, run!.error_code)).not.toMatch(/alice/);
      if (err) expect(JSON.stringify(errFields(err))).not.toMatch(/alice/);
      // The erasure takes it out of the run.
      await q(`drop trigger users_guard on ${s}.users`);
      await q(`select retention.set_erasure_rule('${s}.users', 'delete')`);
      expect(await processed(await file(`${s}.users`, '7'))).toBe('completed');
      expect(await mentions(email)).toEqual([]);
    });
  }

  it('an error thrown straight from an application\'s function is withheld whatever its code; one of pg-retention\'s keeps its words and hint', async () => {
    await q(`create schema b9`);
    await q(`create function b9.raiser(code text) returns void language plpgsql as $$
             begin raise exception 'carol@b9.example' using errcode = code, hint = 'carol@b9.example'; end $$`);
    for (const code of ['RT001', '45000', '42P01', '08006']) {
      const err = await q(`select b9.raiser($1)`, [code]).then(() => null, (e: unknown) => e);
      expect((err as { message: string }).message).toBe('carol@b9.example');
      const fields = errFields(err);
      expect(fields).toMatchObject({ code, error: expect.stringMatching(/message withheld \(the application's code raised it/) });
      expect(JSON.stringify(fields)).not.toMatch(/carol/);
    }
    // A frame that only looks like ours, in a statement's text, hides nothing.
    const fake = await q(`do $$ begin execute E'select b9.raiser(''RT001'') --\\nPL/pgSQL function retention.run_step(bigint) line 1 at RAISE'; end $$`)
      .then(() => null, (e: unknown) => e);
    expect(JSON.stringify(errFields(fake))).not.toMatch(/carol/);
    // An error that is not the database's (a connection refused) keeps its message.
    const refused = new pg.Client({ host: '127.0.0.1', port: 9, connectionTimeoutMillis: 2000 });
    const net = await refused.connect().then(() => null, (e: unknown) => e);
    expect(errFields(net)).toMatchObject({ code: 'ECONNREFUSED', error: expect.stringMatching(/ECONNREFUSED/) });
    const own = await q(`select retention.set_policy('b9.x', 'b9.nope', 'delete', 'created_at', interval '1 year')`).then(() => null, (e: unknown) => e);
    const fields = errFields(own);
    expect(fields).toMatchObject({ code: expect.stringMatching(/^RT/), error: expect.stringMatching(/b9\.nope/) });
    expect(fields.hint).toBeTruthy();
  });
});

describe('a completed erasure leaves no value of the person (atk70 F2-F4)', () => {
  it('F2: a queued object\'s key is kept hashed under the owner\'s secret, not as its plain sha256', async () => {
    await q(`create schema c2`);
    await q(`create table c2.users (id int primary key, avatar text)`);
    await q(`insert into c2.users values (7, 'avatars/alice@c2.example.png'), (8, 'avatars/bob@c2.example.png')`);
    await q(`select retention.set_object_column('c2.users', 'avatar', 'img')`);
    await q(`select retention.set_erasure_rule('c2.users', 'delete')`);
    expect(await processed(await file('c2.users', '7'))).toBe('completed');
    const plain = createHash('sha256').update('avatars/alice@c2.example.png').digest('hex');
    const [d] = await q<{ key_sha256: string }>(`select key_sha256 from retention.object_deletions where rel_name = 'c2.users'`);
    expect(d!.key_sha256).toMatch(/^k[0-9a-f]{64}$/);
    expect(d!.key_sha256).not.toContain(plain);
    const [{ k }] = await q<{ k: string }>(`select k from retention_internal.row_hash_key`) as [{ k: string }];
    expect(d!.key_sha256).toBe(`k${createHash('sha256').update(k + 'avatars/alice@c2.example.png').digest('hex')}`);
    expect(await count(db, `retention.object_deletions where key_sha256 like '%' || $1 || '%'`, [plain])).toBe(0);
  });

  it('F3: JSON numbers and a composite column\'s fields quoted in a run\'s error are erased', async () => {
    await q(`create schema c3`);
    await q(`create type c3.address as (street text, city text)`);
    await q(`create table c3.users (id int primary key, email text, home c3.address, doc jsonb, created_at timestamptz not null)`);
    await q(`insert into c3.users values
               (7, 'alice@c3.example', row('12 Quarry Lane', 'Springfield')::c3.address, '{"phone": 5550142398, "tags": ["x"]}', now()),
               (8, 'bob@c3.example', row('1 Main St', 'Shelbyville')::c3.address, '{"phone": 5550100000}', now())`);
    // Another table's trigger quotes her address and phone number in its error.
    await q(`create table c3.orders (id int primary key, user_id int references c3.users, created_at timestamptz not null)`);
    await q(`insert into c3.orders values (1, 8, now() - interval '3 years')`);
    await q(`create function c3.guard() returns trigger language plpgsql as $$
             begin raise exception 'cannot remove: % lives at %, phone %',
                     (select email from c3.users where id = 7), (select (home).street from c3.users where id = 7),
                     (select doc -> 'phone' from c3.users where id = 7) using errcode = '45000'; end $$`);
    await q(`create trigger orders_guard before delete on c3.orders for each row execute function c3.guard()`);
    await q(`select retention.set_policy('c3.orders', 'c3.orders', 'delete', 'created_at', interval '1 year')`);
    await db.call(`call retention.run('c3.orders')`).catch(() => {});
    expect(await count(db, `retention.runs where error like '%12 Quarry Lane%5550142398%'`)).toBe(1);
    await q(`select retention.set_erasure_rule('c3.users', 'delete')`);
    expect(await processed(await file('c3.users', '7'))).toBe('completed');
    expect(await mentions('12 Quarry Lane')).toEqual([]);
    expect(await mentions('5550142398')).toEqual([]);
    expect(await mentions('alice@c3.example')).toEqual([]);
  });

  it('F4: a released hold on a value of the person\'s row that no key ties to a subject column is forgotten; a short one and another person\'s are not', async () => {
    await q(`create schema c4`);
    await q(`create table c4.users (id int primary key, email text, phone text, country text)`);
    await q(`insert into c4.users values (7, 'alice@c4.example', '+1 555 0142 777', 'NZ'), (8, 'bob@c4.example', '+1 555 0100 000', 'NZ')`);
    const [h1] = await q<{ id: number }>(`select hold_id::int as id from retention.place_hold('subject', ' +1 555 0142 777 ', 'call records, Alice Phonebook', 'CASE-C4')`);
    const [h2] = await q<{ id: number }>(`select hold_id::int as id from retention.place_hold('subject', 'NZ', 'country wide', 'CASE-NZ')`);
    const [h3] = await q<{ id: number }>(`select hold_id::int as id from retention.place_hold('subject', '+1 555 0100 000', 'Bob''s calls', 'CASE-B')`);
    for (const h of [h1, h2, h3]) await q(`select retention.release_hold($1, 'closed')`, [h!.id]);
    await q(`select retention.set_erasure_rule('c4.users', 'delete')`);
    expect(await processed(await file('c4.users', '7'))).toBe('completed');
    expect(await mentions('0142 777')).toEqual([]);
    expect(await mentions('Alice Phonebook')).toEqual([]);
    expect(await mentions('CASE-C4')).toEqual([]);
    const kept = await q(`select hold_id::int as id, subject_id from retention.legal_holds where hold_id = any ($1) order by hold_id`, [[h2!.id, h3!.id]]);
    expect(kept).toEqual([{ id: h2!.id, subject_id: 'NZ' }, { id: h3!.id, subject_id: '+1 555 0100 000' }]);
  });
});
