// The PII sweep (issue 13): one person with distinctive values goes through every feature
// that records something about a subject — an inactive-accounts policy that flags them
// (a rows_flagged notification lists their key), an exemption granted and revoked, a subject
// hold placed and released, a policy run that holds their rows back, a scrub that fails on
// their row (its error quotes their e-mail), an erasure request filed by their own e-mail
// address, announced overdue and failing once on a trigger that quotes their address — and
// then their erasure completes. Afterwards no column of
// any retention table, no notification payload and no pg_dump of the schema holds any of
// their values; before it, each value was there (so the sweep can fail).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useTestDatabase, type TestDb } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();

const ID = '4815162342';
const EMAIL = 'zelda.quixote-4815@example.test';
const NAME = 'Zelda Quixote-Marmalade';
const STREET = 'Marmalade Lane 99';
const VALUES = [ID, EMAIL, NAME, 'Quixote', STREET];

/** Every row of every table in the retention schema, as text, by table. */
async function retentionRows(d: TestDb): Promise<Map<string, string>> {
  const tables = await d.q<{ t: string }>(`select format('%I.%I', n.nspname, c.relname) as t
                                             from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                            where n.nspname = 'retention' and c.relkind in ('r', 'p') order by 1`);
  const out = new Map<string, string>();
  for (const { t } of tables) {
    const [row] = await d.q<{ all: string | null }>(`select string_agg(x::text, E'\\n') as all from ${t} x`);
    out.set(t, row!.all ?? '');
  }
  return out;
}

function hits(rows: Map<string, string>, value: string): string[] {
  return [...rows].filter(([, text]) => text.includes(value)).map(([t]) => t);
}

/** pg_dump of the retention schema (data and definitions), when a pg_dump for this server is installed. */
async function dump(d: TestDb): Promise<string | null> {
  const [{ v }] = (await d.q<{ v: string }>(`select current_setting('server_version_num') as v`)) as [{ v: string }];
  const major = Math.floor(Number(v) / 10000);
  for (const bin of [`/usr/lib/postgresql/${major}/bin/pg_dump`, 'pg_dump']) {
    const out = spawnSync(bin, ['--no-owner', '--schema=retention', d.url], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (out.status === 0) return out.stdout;
  }
  return null;
}

describe('no personal data after an erasure (the PII sweep)', () => {
  it('a person run through every feature leaves no value of theirs in the retention schema once erased', async () => {
    await db.q(`create schema px`);
    await db.q(`create table px.users (id bigint primary key, email text not null, full_name text, org_id text not null,
                                       last_login_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`create table px.sessions (id bigint primary key, user_id bigint references px.users on delete cascade,
                                          created_at timestamptz not null)`);
    await db.q(`create table px.orders (id bigint primary key, user_id bigint references px.users on delete set null, ship_to text, created_at timestamptz not null)`);
    await db.q(`insert into px.users values ($1, $2, $3, 'acme', now() - interval '3 years'),
                                            (7, 'other@example.test', 'Other Person', 'acme', now() - interval '3 years')`, [ID, EMAIL, NAME]);
    await db.q(`insert into px.sessions select g, case when g % 2 = 0 then $1::bigint else 7 end, now() - interval '100 days'
                  from generate_series(1, 10) g`, [ID]);
    await db.q(`insert into px.orders values (1, $1, $2, now()), (2, 7, 'Elsewhere 1', now())`, [ID, `${NAME}, ${STREET}`]);

    // Flags: the inactive-accounts policy flags them (and tells the tenant, by key).
    await db.q(`select retention.set_inactive_accounts_policy('px.inactive', 'px.users', p_tenant_column => 'org_id')`);
    await db.call(`call retention.run('px.inactive')`);
    expect(await count(db, `retention.flagged_rows where row_key = $1 and status = 'flagged'`, [ID])).toBe(1);
    // Exemptions: granted and revoked, with reasons that name them; the next run flags them again.
    await db.q(`select retention.exempt_row('px.inactive', $1, $2)`, [ID, `VIP ${NAME} keeps the account`]);
    await db.q(`select retention.revoke_exemption('px.inactive', $1, $2)`, [ID, `${NAME} left; asked by ${EMAIL}`]);
    await db.call(`call retention.run('px.inactive')`);

    // Holds: a subject hold (a reason naming them) keeps their sessions from a run; released.
    await db.q(`select retention.set_policy('px.sessions', 'px.sessions', 'delete', 'created_at', interval '30 days',
                                            p_subject_column => 'user_id')`);
    const [hold] = await db.q(`select hold_id from retention.place_hold('subject', $1, $2, p_case_reference => 'CASE-2026-17')`,
      [ID, `Litigation ${NAME} v. Acme`]);
    await db.call(`call retention.run('px.sessions')`);
    expect(await count(db, `px.sessions where user_id = $1`, [ID])).toBe(5);
    await db.q(`select retention.release_hold($1, $2)`, [hold!.hold_id, `Settled with ${NAME}`]);

    // A failed row: a scrub that a trigger refuses for their row, quoting their e-mail.
    await db.q(`create function px.refuse() returns trigger language plpgsql as $$
                begin if old.id = ${ID} then raise exception 'cannot change % (%)', old.email, old.id; end if; return new; end $$`);
    await db.q(`create trigger refuse before update on px.users for each row execute function px.refuse()`);
    await db.q(`select retention.set_policy('px.scrub', 'px.users', 'scrub', 'last_login_at', interval '1 year',
                                            p_scrub => '{"full_name": "null"}')`);
    await db.call(`call retention.run('px.scrub')`);
    expect(await count(db, `retention.run_row_failures where row_key->>'id' = $1`, [ID])).toBe(1);
    await db.q(`drop trigger refuse on px.users`);
    await db.q(`select retention.drop_policy('px.scrub')`);

    // The erasure: filed by their own address, announced overdue, processed.
    await db.q(`select retention.set_erasure_rule('px.orders', 'scrub', p_scrub => '{"ship_to": "null"}')`);
    const [req] = await db.q(`select request_id, subject_hash from retention.request_erasure('px.users', $1, $2)`, [ID, EMAIL]);
    await db.q(`select * from retention.note_overdue_erasures(now() + interval '31 days')`);

    // Before: each value is somewhere in the schema (the sweep below would see it).
    const before = await retentionRows(db);
    expect(hits(before, ID).length).toBeGreaterThan(3);
    for (const v of [EMAIL, NAME]) expect([v, hits(before, v).length > 0]).toEqual([v, true]);

    // A first processing fails on a trigger whose message quotes their address; the
    // audit log gets the error's code only, the request and its failed row the message.
    await db.q(`create function px.refuse_scrub() returns trigger language plpgsql as $$
                begin raise exception 'order to % refused', old.ship_to; end $$`);
    await db.q(`create trigger refuse_scrub before update on px.orders for each row execute function px.refuse_scrub()`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]).catch(() => undefined);
    expect(await db.q(`select status, status_reason like '%' || $2 || '%' as quoted from retention.erasure_requests where request_id = $1`,
      [req!.request_id, STREET])).toEqual([{ status: 'failed', quoted: true }]);
    expect(await count(db, `retention.audit_log where action = 'erasure.failed' and details->>'error_code' = 'P0001'
                                                   and details::text not like '%Marmalade%'`)).toBe(1);
    await db.q(`drop trigger refuse_scrub on px.orders`);

    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]))
      .toEqual([{ status: 'completed' }]);
    expect(await count(db, `px.users where id = $1`, [ID])).toBe(0);
    expect(await db.q(`select ship_to from px.orders order by id`)).toEqual([{ ship_to: null }, { ship_to: 'Elsewhere 1' }]);

    // After: no table, no payload, no dump holds any of their values, nor the sha256 the
    // first release named them by.
    const after = await retentionRows(db);
    const legacy = createHash('sha256').update(`px.users:${ID}`).digest('hex');
    for (const v of [...VALUES, legacy]) expect([v, hits(after, v)]).toEqual([v, []]);
    const payloads = await db.q<{ p: string }>(`select string_agg(payload::text, E'\\n') as p from retention.notifications`);
    for (const v of VALUES) expect([v, payloads[0]!.p.includes(v)]).toEqual([v, false]);
    const dumped = await dump(db);
    if (dumped !== null) {
      expect(dumped).toContain('subj_');  // the dump has the data
      for (const v of [...VALUES, legacy]) expect([v, dumped.includes(v)]).toEqual([v, false]);
    }

    // The evidence is still there, by token: the audit log tells the story of one subject
    // without naming them, and the token leads nowhere.
    const story = await db.q(`select action from retention.audit_log
                               where details->>'subject_hash' = $1 or details->>'subject_token' = $1 order by audit_id`, [req!.subject_hash]);
    expect(story.map((s) => s.action)).toEqual(['hold.placed', 'hold.released', 'erasure.requested', 'erasure.processing', 'erasure.failed',
                                              'erasure.processing', 'erasure.completed']);
    expect(await count(db, `retention.subject_tokens where token = $1`, [req!.subject_hash])).toBe(0);
    expect(await db.q(`select scope, subject_id, subject_token, reason, release_reason, case_reference from retention.legal_holds where hold_id = $1`, [hold!.hold_id]))
      .toEqual([{ scope: 'subject', subject_id: null, subject_token: req!.subject_hash,
                  reason: `erased with erasure request ${req!.request_id}`, release_reason: `erased with erasure request ${req!.request_id}`,
                  case_reference: 'CASE-2026-17' }]);
    const [done] = await db.q(`select details->'forgotten' as f from retention.audit_log where action = 'erasure.completed' order by audit_id desc limit 1`);
    expect(done!.f).toMatchObject({ holds: 1, exemptions: 1, flags: 2 });
    // The other person's account, flag and order are untouched.
    expect(await count(db, `retention.flagged_rows where row_key = '7' and status = 'flagged'`)).toBe(1);
    expect(await count(db, `px.users where id = 7`)).toBe(1);
    expect((await db.q(`select ok from retention.verify_audit_log()`))[0]!.ok).toBe(true);
  });
});
