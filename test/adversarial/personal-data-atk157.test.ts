// Attack round atk157 (messages after an erasure, both ways), on atk154's fixes. F1
// (critical, the opposite harm): the apostrophe rule saw only a raw ' or ’; written
// &#39; &apos; \\' &rsquo; or SQL's doubled '', a made-up brien@example.org still erased
// o'brien@example.org from every message. F4 (major): a zero-width space inside the
// person's address kept it. F5 (major, the opposite harm): \\n decoded to a line break made
// CORP\\nina.ross@example.com show a made-up ina.ross@example.com. F6 (minor): a Greek
// value over 1,000 characters quoted with a final ς stayed.
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

describe('messages after an erasure, on atk154\'s fixes (atk157)', () => {
  it('F1, F5: a made-up person does not erase another\'s address behind an escaped apostrophe, nor out of a login with \\n', async () => {
    const out = await erased('a157a', { email: 'brien@example.org', name: 'Angelo Russo', phone: '+1 555 0199' }, [
      'mail to o&#39;brien@example.org bounced',
      String.raw`mail to o\'brien@example.org and 'o''brien@example.org' bounced`,
      'card for D&rsquo;Angelo Russo and D&apos;Angelo Russo',
      String.raw`login 'CORP\nbrien@example.org' failed`,
    ]);
    const all = out.map((f) => f.e).join('\n');
    for (const kept of ['o&#39;brien@example.org', String.raw`o\'brien@example.org`, "'o''brien@example.org'", 'D&rsquo;Angelo Russo',
                        'D&apos;Angelo Russo', String.raw`CORP\nbrien@example.org`]) {
      expect([kept, all.includes(kept)]).toEqual([kept, true]);
    }
  });

  it('F4: a zero-width space or soft hyphen inside the person\'s address does not keep it', async () => {
    const out = await erased('a157b', { email: 'zelda.quux@example.org', name: 'Zelda Quuxington', phone: '+44 7700 900123' }, [
      'to zelda.quux\u200b@example.org bounced',
      'to zel\u00adda.quux@example.org bounced',
    ]);
    for (const { e } of out) expect([e, e.includes('quux')]).toEqual([e, false]);
  });

  it('F6: a value over 1,000 characters is cut out with any sigma for any sigma', async () => {
    const v = `${'α'.repeat(1000)} τέλοσ`;
    const [r] = await q<{ r: string }>(`select retention_internal._erase_in($1, array[$2], '[erased]', 'bare') as r`,
                                       [`said ${'Α'.repeat(1000)} ΤΈΛΟΣ and ${'α'.repeat(1000)} τέλος.`, v]);
    expect(r!.r).toBe('said [erased] and [erased].');
  });
});
