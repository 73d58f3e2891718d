// Attack round atk154 (a completed erasure leaves none of the person in messages, and
// erases nobody else's evidence), on stop 52's message reading. F1 (critical): a no-break
// space between a name's words stayed in a C.UTF-8 database, whose [:graph:] takes U+00A0
// for a visible character, so the message was never read decoded. F2 (critical): a value of
// the person's with a no-break space stayed where a message wrote a plain space. F3
// (critical): a percent-encoded value right after another escape (q=%22zelda.quux%40...)
// stayed. F4 (major): &#64 without its ';' stayed. F5 (critical): a 48 KB value quoted in a
// message made every erasure of the person fail (a regular expression too complex). F7
// (major, the opposite harm): a made-up person brien@example.org / Angelo Russo erased
// o'brien@example.org and D'Angelo Russo from every message.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

interface Person { email: string; name: string; phone: string; bio?: string }

/** The person (id 4242424) and one failed row per message, of a run on their own table
 * (mine) and of a run on another table; the person erased. */
async function erased(schema: string, person: Person, messages: string[]): Promise<{ e: string; mine: boolean }[]> {
  await q(`create schema ${schema}`);
  await q(`create table ${schema}.users (id bigint primary key, email text, name text, phone text, bio text, created_at timestamptz)`);
  await q(`create table ${schema}.mailq (id bigint primary key, created_at timestamptz)`);
  await q(`create table ${schema}.msgs (id bigint primary key, m text)`);
  await q(`insert into ${schema}.msgs select i, m from unnest($1::text[]) with ordinality x(m, i)`, [messages]);
  await q(`insert into ${schema}.users values (4242424, $1, $2, $3, $4, now())`, [person.email, person.name, person.phone, person.bio ?? null]);
  await q(`insert into ${schema}.users select id, 'other' || id || '@example.com', 'Other Person', '+1 555 0100', null, now() - interval '3 years' from ${schema}.msgs`);
  await q(`insert into ${schema}.mailq select id, now() - interval '3 years' from ${schema}.msgs`);
  await q(`create function ${schema}.refuse() returns trigger language plpgsql as $$
             declare v text := (select m from ${schema}.msgs where id = old.id);
             begin
               if v is not null then raise exception '%', v; end if;
               return old;
             end $$`);
  for (const t of ['users', 'mailq']) {
    await q(`create trigger refuse before delete on ${schema}.${t} for each row execute function ${schema}.refuse()`);
    await q(`select retention.set_policy('${schema}-${t}', '${schema}.${t}', 'delete', 'created_at', '1 year')`);
    await db.call(`call retention.run('${schema}-${t}')`).catch(() => undefined);
  }
  await q(`select retention.set_erasure_rule('${schema}.users', 'delete')`);
  const [r] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure('${schema}.users', '4242424', 'ticket')`);
  await db.call(`call retention.process_erasure($1)`, [r!.id]);
  expect(await q(`select status from retention.erasure_requests where request_id = $1`, [r!.id])).toEqual([{ status: 'completed' }]);
  return q<{ e: string; mine: boolean }>(
    `select f.error as e, r.policy_name = '${schema}-users' as mine
       from retention.run_row_failures f join retention.runs r using (run_id)
      where r.policy_name like '${schema}-%' order by f.run_id, f.error`);
}

const ZELDA: Person = { email: 'zelda.quux@example.org', name: 'Zelda Quuxington', phone: '+44 7700 900123' };

describe('messages read as programs write them, and only the person erased (atk154)', () => {
  it('F1, F3, F4: no-break spaces, percent-encoding after another escape, entities without their ";"', async () => {
    const out = await erased('a154a', ZELDA, [
      'name Zelda\u00a0Quuxington here',
      'sms +44\u00a07700\u00a0900123 failed',
      'POST /hook?q=%22zelda.quux%40example.org%22 failed',
      'name=%22Zelda%20Quuxington%22&x=1',
      'to zelda.quux&#64example.org bounced',
    ]);
    expect(out.length).toBe(10);
    for (const { e } of out) {
      for (const g of ['Quuxington', 'zelda.quux', '7700']) expect([e, g, e.includes(g)]).toEqual([e, g, false]);
    }
  });

  it('F2: a value of the person\'s with a no-break space is erased where a message writes a plain space or a line break', async () => {
    const out = await erased('a154b', { ...ZELDA, name: 'Zelda\u00a0Quuxington' }, ['name Zelda Quuxington here', 'name Zelda\nQuuxington there']);
    expect(out.length).toBe(4);
    for (const { e } of out) expect([e, e.includes('Quuxington')]).toEqual([e, false]);
  });

  it('F5: a value too long for one regular expression is erased, and the erasure completes', async () => {
    const bio = `Zelda says: ${'Lorem ipsum '.repeat(5000)}`;
    const out = await erased('a154c', { ...ZELDA, bio }, [`household member still has bio: ${bio}`]);
    for (const { e, mine } of out) {
      if (mine) expect([e.length, e.includes('Lorem ipsum')]).toEqual([e.length, false]);
    }
  });

  it('F7: a made-up person does not erase another\'s address or name that ends with theirs after an apostrophe', async () => {
    const out = await erased('a154d', { email: 'brien@example.org', name: 'Angelo Russo', phone: '+1 555 0199' }, [
      "mail to o'brien@example.org bounced",
      'card for D\u2019Angelo Russo and D\'Angelo Russo',
      "quoted 'brien@example.org' and 'Angelo Russo' are theirs",
    ]);
    const all = out.map((f) => f.e).join('\n');
    expect(all).toContain("o'brien@example.org");
    expect(all).toContain('D\u2019Angelo Russo');
    expect(all).toContain("D'Angelo Russo");
    expect(all).not.toContain("'brien@example.org'");
    expect(all).not.toContain("'Angelo Russo'");
  });
});
