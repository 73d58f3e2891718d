// Attack round atk150 (personal data after a completed erasure). F1 (critical): the audit
// log's digests of erased messages (erasure.messages_erased sha256_before, and
// erasure.processing prior_status_reason_sha256) were plain sha256: 'cannot remove user
// 4242424' was found among a few million tries, linking the request's token back to the
// person. They are keyed by the owner's secret now (_keyed_digest). F2 (critical): a bytea
// value quoted in another row's failure message as PostgreSQL prints it (hex) stayed. F4
// (major): a number of the person's quoted without its scale's zeros stayed. F3 (major):
// a value quoted as a JSON writer escapes it (Go's \u0026 for &, \u0040, PHP's \/ for
// every slash) stayed: messages are searched, and erased, with those escapes decoded too.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

async function personQuotedByAnotherRow(schema: string, columns: string, person: string, other: string, quote: string): Promise<number> {
  await q(`create schema ${schema}`);
  await q(`create table ${schema}.users (id bigint primary key, ${columns}, household bigint, created_at timestamptz)`);
  await q(`insert into ${schema}.users values (4242424, ${person}, 9, now()), (1, ${other}, 9, now() - interval '3 years')`);
  await q(`create function ${schema}.refuse() returns trigger language plpgsql as $$
             declare r record;
             begin
               select u.* into r from ${schema}.users u where u.household = old.household and u.id <> old.id limit 1;
               if found and old.id = 1 then raise exception 'household still has member %', ${quote}; end if;
               return old;
             end $$`);
  await q(`create trigger refuse before delete on ${schema}.users for each row execute function ${schema}.refuse()`);
  await q(`select retention.set_policy('${schema}', '${schema}.users', 'delete', 'created_at', '1 year')`);
  await db.call(`call retention.run('${schema}')`).catch(() => undefined);
  await q(`select retention.set_erasure_rule('${schema}.users', 'delete')`);
  const [r] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure('${schema}.users', '4242424', 'ticket')`);
  await db.call(`call retention.process_erasure($1)`, [r!.id]);
  expect(await q(`select status from retention.erasure_requests where request_id = $1`, [r!.id])).toEqual([{ status: 'completed' }]);
  return r!.id;
}

const failures = async () => (await q<{ e: string }>(`select coalesce(string_agg(error, ' | '), '') as e from retention.run_row_failures`))[0]!.e;

describe('a completed erasure leaves none of the person in other rows\' messages or in the audit digests (atk150)', () => {
  it('F2: a bytea value printed as hex in another row\'s message is erased', async () => {
    await personQuotedByAnotherRow('z2', 'email_b bytea, name text', `convert_to('zelda.quux@example.org', 'UTF8'), 'Zelda Quuxington'`,
                                   `convert_to('other@example.com', 'UTF8'), 'Other Person'`, 'r');
    const hex = Buffer.from('zelda.quux@example.org').toString('hex');
    const e = await failures();
    expect(e).toContain('household still has member');
    expect(e).not.toContain(hex);
    expect(e).not.toContain('Quuxington');
  });

  it('F4: a number quoted without the zeros of its scale is erased', async () => {
    await personQuotedByAnotherRow('z4', 'name text, acct numeric(14,2)', `'Zelda Quuxington', 98765432.00`, `'Other Person', 11.00`, 'trim_scale(r.acct)');
    const e = await failures();
    expect(e).toContain('household still has member');
    expect(e).not.toContain('98765432');
  });

  it('F3: a value quoted with JSON\'s escapes of ASCII characters (\\u0026, \\u0040, \\/, a surrogate pair) is erased', async () => {
    await personQuotedByAnotherRow('z3', 'name text, email text, site text',
                                   `'Zelda & Bo Quuxington', 'zelda.quux@example.org', 'https://zq.example.org/zelda/profile'`,
                                   `'Other Person', 'other@example.com', 'https://example.com/other'`,
                                   `format('{"to":"%s","mail":"%s","site":"%s","nick":"%s"}', replace(r.name, '&', '\\u0026'),
                                           replace(r.email, '@', '\\u0040'), replace(r.site, '/', '\\/'), '\\ud83d\\ude00 Z-Bo')`);
    const e = await failures();
    expect(e).toContain('household still has member');
    for (const gone of ['Quuxington', 'zelda.quux', 'example.org', 'zq.example']) expect([gone, e.includes(gone)]).toEqual([gone, false]);
    // What the person's values did not spell is kept (decoded, as the message is rewritten).
    expect(e).toContain('\u{1F600} Z-Bo');
    const [entry] = await q<{ n: number }>(`select count(*)::int as n from retention.audit_log where action = 'erasure.messages_erased'`);
    expect(entry!.n).toBeGreaterThan(0);
  });

  it('F1: the audit log\'s digests of erased messages cannot be tried against values: they are keyed', async () => {
    const req = await personQuotedByAnotherRow('z1', 'name text', `'Zelda Quuxington'`, `'Other Person'`, 'r.id');
    const [entry] = await q<{ d: { sha256_before: string }[] }>(`select details -> 'messages' as d from retention.audit_log
                                                                 where action = 'erasure.messages_erased' and object_name = $1`, [String(req)]);
    const digests = (entry?.d ?? []).map((m) => m.sha256_before);
    expect(digests.length).toBeGreaterThan(0);
    const [plain] = await q<{ h: string }>(`select encode(sha256(convert_to('household still has member 4242424', 'UTF8')), 'hex') as h`);
    const [keyed] = await q<{ h: string }>(`select retention_internal._keyed_digest('household still has member 4242424') as h`);
    expect(digests).not.toContain(plain!.h);
    expect(digests).toContain(keyed!.h);
  });
});
