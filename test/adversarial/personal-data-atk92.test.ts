// Attack round atk92 (an erasure touches nobody else's records), findings fixed with a test:
//  F2 a failed row of bob's, keyed (email, list), gone before alice's erasure, was re-keyed
//     because its list name ('newsletter-weekly') was also a value of alice's row;
//  F6 a table rebuilt under its name (a new OID) was judged by the run's old OID: bob's
//     failed row, whose row is still there, was re-keyed by alice's erasure;
//  F7 a webhook receiver's answer quoting her e-mail, kept as a notification's
//     last_error, stayed after her erasure completed.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';

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
