// Attack round atk151 (a completed erasure leaves none of the person in pg-retention's
// messages). Each message below was raised by an application's trigger in a failed row of
// a policy's run, on the person's own table and on a table outside the erasure's plan, and
// stayed after the erasure completed: F1 the address in JSON inside JSON
// (zelda.quux\\u0040example.org: the decoder left the escaping backslash); F2 the phone as
// an SMS API writes it (+447700900123); F3 the name wrapped across lines, with two blanks
// or a no-break space; F4 the key or address glued into a longer token (/users/4242424.json,
// user_4242424, …@example.org_2026.json); F5 an HTML numeric entity (&#64;). F7: the
// decoder was quadratic, and one message of 40,000 escapes made every erasure take minutes
// (or fail under a statement timeout, the person left in place).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

const MESSAGES = [
  String.raw`{"error":"bad body","body":"{\"to\":\"zelda.quux\\u0040example.org\"}"}`,
  'sms to +447700900123 failed',
  'name Zelda\nQuuxington',
  'name Zelda  Quuxington, twice',
  'name Zelda\u00a0Quuxington',
  'GET /api/users/4242424.json returned 500',
  'lock held on user_4242424',
  'object exports/zelda.quux@example.org_2026.json missing',
  'to zelda.quux&#64;example.org and &#x7a;elda.quux&#x40;example.org',
  `filler ${String.raw`\u0041`.repeat(40000)} end`,
];
// From the messages of runs on the person's own table, every value; from those of another
// table, what identifies on its own (an address, a name of several words, a phone with its
// +): a bare number there is anybody's (docs/dba-guide.md, "Erasure requests").
const GONE_MINE = ['zelda.quux', 'Quuxington', '4242424', '7700900123', '&#64;', '\\u0040'];
const GONE_ANYWHERE = ['zelda.quux', 'Quuxington', '+447700900123', '&#64;', '\\u0040'];

describe('a completed erasure finds the person however a program spelt them in a message (atk151)', () => {
  it('F1-F5, F7: escapes of escapes, a phone\'s digits, blanks, glued tokens and entities are erased, in messages of the person\'s table and of others; a message of many escapes costs no more than its length', async () => {
    await q(`create schema a151`);
    await q(`create table a151.users (id bigint primary key, email text, name text, phone text, created_at timestamptz)`);
    await q(`create table a151.mailq (id bigint primary key, created_at timestamptz)`);
    await q(`create table a151.msgs (id bigint primary key, m text)`);
    await q(`insert into a151.msgs select i, m from unnest($1::text[]) with ordinality x(m, i)`, [MESSAGES]);
    await q(`insert into a151.users values (4242424, 'zelda.quux@example.org', 'Zelda Quuxington', '+44 7700 900123', now())`);
    await q(`insert into a151.users select id, 'other' || id || '@example.com', 'Other Person', '+1 555 0100', now() - interval '3 years' from a151.msgs`);
    await q(`insert into a151.mailq select id, now() - interval '3 years' from a151.msgs`);
    await q(`create function a151.refuse() returns trigger language plpgsql as $$
               declare v text := (select m from a151.msgs where id = old.id);
               begin
                 if v is not null then raise exception '%', v; end if;
                 return old;
               end $$`);
    await q(`create trigger refuse before delete on a151.users for each row execute function a151.refuse()`);
    await q(`create trigger refuse before delete on a151.mailq for each row execute function a151.refuse()`);
    await q(`select retention.set_policy('a151-users', 'a151.users', 'delete', 'created_at', '1 year')`);
    await q(`select retention.set_policy('a151-mailq', 'a151.mailq', 'delete', 'created_at', '1 year')`);
    await db.call(`call retention.run('a151-users')`).catch(() => undefined);
    await db.call(`call retention.run('a151-mailq')`).catch(() => undefined);
    const failures = async () => (await q<{ e: string; mine: boolean }>(
      `select f.error as e, r.policy_name = 'a151-users' as mine from retention.run_row_failures f join retention.runs r using (run_id) order by f.run_id, f.error`));
    const before = await failures();
    expect(before.length).toBe(2 * MESSAGES.length);
    await q(`select retention.set_erasure_rule('a151.users', 'delete')`);
    const [r] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure('a151.users', '4242424', 'ticket')`);
    await db.call(`call retention.process_erasure($1)`, [r!.id]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [r!.id])).toEqual([{ status: 'completed' }]);
    const after = await failures();
    for (const { e: m, mine } of after) {
      for (const g of mine ? GONE_MINE : GONE_ANYWHERE) expect([m.slice(0, 80), g, m.includes(g)]).toEqual([m.slice(0, 80), g, false]);
    }
    // What was not the person's stays.
    const all = after.map((f) => f.e).join('\n');
    for (const kept of ['returned 500', 'lock held on', '_2026.json missing', 'sms to', 'bad body', 'filler']) expect([kept, all.includes(kept)]).toEqual([kept, true]);
  });
});
