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
    // A table of their rows under its own keys, with its own notice policy.
    await db.q(`create table px.devices (id bigint primary key, user_id bigint not null references px.users on delete cascade,
                                         label text, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`insert into px.devices values (9001, $1, $2, now() - interval '3 years'), (9002, 7, 'other phone', now() - interval '3 years')`,
      [ID, `${NAME}'s phone`]);

    // Flags: the inactive-accounts policy flags them (and tells the tenant, by key).
    await db.q(`select retention.set_inactive_accounts_policy('px.inactive', 'px.users', p_tenant_column => 'org_id')`);
    await db.call(`call retention.run('px.inactive')`);
    expect(await count(db, `retention.flagged_rows where row_key = $1 and status = 'flagged'`, [ID])).toBe(1);
    // Exemptions: granted and revoked, with reasons that name them; the next run flags them again.
    await db.q(`select retention.exempt_row('px.inactive', $1, $2)`, [ID, `VIP ${NAME} keeps the account`]);
    await db.q(`select retention.revoke_exemption('px.inactive', $1, $2)`, [ID, `${NAME} left; asked by ${EMAIL}`]);
    await db.call(`call retention.run('px.inactive')`);
    // Their device: flagged, exempted with a reason naming them, and a scrub fails on it
    // with a message quoting its label.
    await db.q(`select retention.set_inactive_accounts_policy('px.devices', 'px.devices')`);
    await db.call(`call retention.run('px.devices')`);
    await db.q(`select retention.exempt_row('px.devices', '9001', $1)`, [`${NAME} uses it`]);
    await db.q(`create function px.refuse_device() returns trigger language plpgsql as $$
                begin if old.id = 9001 then raise exception 'device % is locked', old.label; end if; return new; end $$`);
    await db.q(`create trigger refuse_device before update on px.devices for each row execute function px.refuse_device()`);
    await db.q(`select retention.set_policy('px.devices-scrub', 'px.devices', 'scrub', 'last_login_at', interval '1 year',
                                            p_scrub => '{"label": "null"}')`);
    await db.call(`call retention.run('px.devices-scrub')`);
    expect(await count(db, `retention.run_row_failures where row_key->>'id' = '9001' and error like '%' || $1 || '%'`, [NAME])).toBe(1);
    await db.q(`drop trigger refuse_device on px.devices`);

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
    // Filed twice (the person wrote again): the second is carried out by the first.
    const [twice] = await db.q(`select request_id from retention.request_erasure('px.users', $1, $2)`, [` 0${ID}`, `again: ${EMAIL}`]);
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
    expect(story.map((s) => s.action)).toEqual(['hold.placed', 'hold.released', 'erasure.requested', 'erasure.requested', 'erasure.processing',
                                              'erasure.failed', 'erasure.processing', 'erasure.completed', 'erasure.completed']);
    expect(await count(db, `retention.subject_tokens where token = $1`, [req!.subject_hash])).toBe(0);
    expect(await db.q(`select scope, subject_id, subject_token, reason, release_reason, case_reference from retention.legal_holds where hold_id = $1`, [hold!.hold_id]))
      .toEqual([{ scope: 'subject', subject_id: null, subject_token: req!.subject_hash,
                  reason: `erased with erasure request ${req!.request_id}`, release_reason: `erased with erasure request ${req!.request_id}`,
                  case_reference: null }]);
    const [done] = await db.q(`select details->'forgotten' as f from retention.audit_log where action = 'erasure.completed' order by audit_id desc limit 1`);
    expect(done!.f).toMatchObject({ holds: 1, exemptions: 2, flags: 3, failed_rows: 2, other_requests: 1 });
    expect(await db.q(`select status, status_reason, subject_hash from retention.erasure_requests where request_id = $1`, [twice!.request_id]))
      .toEqual([{ status: 'completed', status_reason: `carried out by erasure request ${req!.request_id}`, subject_hash: req!.subject_hash }]);
    expect(await count(db, `retention.notifications where kind = 'erasure_completed'`)).toBe(2);
    // Their device's flag, exemption and failed row name it by the token now.
    expect(await count(db, `retention.flagged_rows where row_key = '9001'`)).toBe(0);
    expect(await count(db, `retention.row_exemptions where row_key = $1`, [req!.subject_hash])).toBe(2);
    expect(await count(db, `retention.run_row_failures where row_key->>'id' = '9001'`)).toBe(0);
    // The other person's account, flag and order are untouched.
    expect(await count(db, `retention.flagged_rows where row_key = '7' and status = 'flagged'`)).toBe(1);
    expect(await count(db, `retention.flagged_rows where row_key = '9002' and status = 'flagged'`)).toBe(1);
    expect(await count(db, `px.users where id = 7`)).toBe(1);
    expect((await db.q(`select ok from retention.verify_audit_log()`))[0]!.ok).toBe(true);
  });
});

// What an attacker found the first version left behind; each case ends with the same sweep.
describe('no personal data after an erasure: what an attacker found', () => {
  const erase = async (table: string, id: string): Promise<{ request_id: string; subject_hash: string }> => {
    const [req] = await db.q(`select request_id, subject_hash from retention.request_erasure($1, $2, 'ticket')`, [table, id]);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).toEqual([{ status: 'completed' }]);
    return req as { request_id: string; subject_hash: string };
  };
  const left = async (...values: string[]): Promise<[string, string[]][]> => {
    const rows = await retentionRows(db);
    return values.map((v) => [v, hits(rows, v)]);
  };

  it('a subject hold\'s case reference, and a hold on a subject column\'s value (an e-mail address) that blocked the erasure', async () => {
    await db.q(`create schema b1`);
    await db.q(`create table b1.users (id int primary key, email text, created_at timestamptz not null default now())`);
    await db.q(`insert into b1.users values (11, 'ann.b1@example.com'), (12, 'other.b1@example.com')`);
    await db.q(`select retention.set_policy('b1-users', 'b1.users', 'delete', 'created_at', interval '5 years', p_subject_column => 'email')`);
    const [h1] = await db.q(`select hold_id from retention.place_hold('subject', '11', 'Litigation', p_case_reference => 'CASE ann.b1@example.com')`);
    const [h2] = await db.q(`select hold_id from retention.place_hold('subject', 'ann.b1@example.com', 'Subpoena re Ann Bee-One')`);
    await db.q(`select retention.release_hold($1, 'closed')`, [h1!.hold_id]);
    const [req] = await db.q(`select request_id from retention.request_erasure('b1.users', '11', 'ticket')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).toEqual([{ status: 'blocked_by_hold' }]);
    await db.q(`select retention.release_hold($1, 'withdrawn')`, [h2!.hold_id]);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await left('ann.b1@example.com', 'Bee-One')).toEqual([['ann.b1@example.com', []], ['Bee-One', []]]);
    expect(await count(db, `retention.legal_holds where hold_id in ($1, $2) and subject_id is null and reason = $3`,
      [h1!.hold_id, h2!.hold_id, `erased with erasure request ${req!.request_id}`])).toBe(2);
  });

  it('a trigger\'s message quoting the person (any error code) is in no audit entry, run or notification once they are erased', async () => {
    await db.q(`create schema b2`);
    await db.q(`create table b2.users (id int primary key, email text, created_at timestamptz not null)`);
    await db.q(`insert into b2.users values (21, 'bea.b2@example.com', now() - interval '10 days')`);
    await db.q(`create function b2.guard() returns trigger language plpgsql as $$
                begin raise exception 'account % is under review', old.email using errcode = '55000'; end $$`);
    await db.q(`create trigger g before delete on b2.users for each row execute function b2.guard()`);
    await db.q(`select retention.set_policy('b2-users', 'b2.users', 'delete', 'created_at', interval '1 day')`);
    await db.call(`call retention.run('b2-users')`).catch(() => undefined);
    expect(await count(db, `retention.runs where error like '%bea.b2@%'`)).toBe(1);
    expect(await count(db, `retention.audit_log where details::text like '%bea.b2@%'`)).toBe(0);
    const [req] = await db.q(`select request_id from retention.request_erasure('b2.users', '21', 'ticket')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]).catch(() => undefined);
    await db.q(`drop trigger g on b2.users`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await left('bea.b2@example.com')).toEqual([['bea.b2@example.com', []]]);
    expect(await count(db, `retention.runs where error like '%[erased]%'`)).toBeGreaterThan(0);
  });

  it('flags of a notice policy dropped before the erasure, and exemptions on a table the erasure scrubs', async () => {
    await db.q(`create schema b4`);
    await db.q(`create table b4.users (id int primary key, email text, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`create table b4.accounts (acct_id int primary key, user_id int references b4.users on delete set null, display_name text,
                                          last_login_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`insert into b4.users values (61, 'fay.b4@example.com', now() - interval '3 years')`);
    await db.q(`insert into b4.accounts values (61111, 61, 'Kai Kaiser-Four', now() - interval '3 years')`);
    await db.q(`select retention.set_inactive_accounts_policy('b4-inactive', 'b4.users')`);
    await db.call(`call retention.run('b4-inactive')`);
    await db.q(`select retention.exempt_row('b4-inactive', '61', 'Fay Four service account')`);
    await db.q(`select retention.drop_policy('b4-inactive')`);
    await db.q(`select retention.set_inactive_accounts_policy('b4-accounts', 'b4.accounts', p_subject_column => 'user_id')`);
    await db.call(`call retention.run('b4-accounts')`);
    await db.q(`select retention.exempt_row('b4-accounts', '61111', 'Kai Kaiser-Four owns the tenant')`);
    await db.q(`select retention.set_erasure_rule('b4.accounts', 'scrub', p_scrub => '{"display_name": "null"}')`);
    expect((await left('Fay Four', 'Kaiser-Four')).every(([, t]) => t.length > 0)).toBe(true);
    const req = await erase('b4.users', '61');
    expect(await left('Fay Four', 'Kaiser-Four', 'fay.b4@')).toEqual([['Fay Four', []], ['Kaiser-Four', []], ['fay.b4@', []]]);
    // The dropped policy's flag and its rows_flagged notification name the row by token.
    expect(await count(db, `retention.flagged_rows where policy_name = 'b4-inactive' and row_key = $1`, [req.subject_hash])).toBe(1);
    expect(await count(db, `retention.notifications where kind = 'rows_flagged' and payload->>'policy' = 'b4-inactive'
                                                     and payload->'rows'->0->>'key' = $1`, [req.subject_hash])).toBe(1);
    // The scrubbed account is still there, and so is its exemption (reason gone).
    expect(await db.q(`select row_key, reason, revoked_at is null as in_force from retention.row_exemptions where row_key = '61111'`))
      .toEqual([{ row_key: '61111', reason: `erased with erasure request ${req.request_id}`, in_force: true }]);
  });

  it('a failed run\'s message quoting a number column and a short key, the erasure\'s own run_failed notice, and a tenant notice of one person', async () => {
    await db.q(`create schema b7`);
    await db.q(`create table b7.users (id bigint primary key, email text, phone bigint, org text, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`create table b7.orders (id bigint primary key, user_id bigint references b7.users, created_at timestamptz not null)`);
    await db.q(`insert into b7.users values (42, 'alice.b7@example.com', 4915112345678, 'Solo Seven Consulting', now() - interval '5 years'),
                                           (43, 'bob.b7@example.com', 4915199999999, 'acme', now())`);
    await db.q(`insert into b7.orders values (9001, 42, now() - interval '5 years'), (9003, 42, now() - interval '4 years'), (9002, 43, now())`);
    await db.q(`create function b7.block() returns trigger language plpgsql as $$
                begin
                  if coalesce(current_setting('b7.block', true), '') = 'on' then
                    raise exception 'order % of customer % (phone %) is under dispute', old.id, old.user_id,
                      (select phone from b7.users where id = old.user_id);
                  end if;
                  return old;
                end $$`);
    await db.q(`create trigger block before delete on b7.orders for each row execute function b7.block()`);
    await db.q(`alter database ${db.name} set b7.block = 'on'`);
    await db.q(`select retention.set_policy('b7-orders', 'b7.orders', 'delete', 'created_at', interval '1 year')`);
    await db.q(`select retention.set_inactive_accounts_policy('b7-inactive', 'b7.users', p_tenant_column => 'org')`);
    await db.call(`call retention.run('b7-inactive')`);
    await db.call(`call retention.run('b7-orders')`).catch(() => undefined);
    const [req] = await db.q(`select request_id, subject_hash from retention.request_erasure('b7.users', '42', 'ticket')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]).catch(() => undefined);
    // Their run_failed notices carry only the trigger's code, not its message (atk70).
    expect(await count(db, `retention.notifications where kind = 'run_failed' and payload->>'error_code' = 'P0001'`)).toBe(2);
    expect(await count(db, `retention.notifications where payload::text like '%4915112345678%'`)).toBe(0);
    await db.q(`alter database ${db.name} reset b7.block`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).toEqual([{ status: 'completed' }]);
    expect(await left('4915112345678', 'Solo Seven', 'alice.b7')).toEqual([['4915112345678', []], ['Solo Seven', []], ['alice.b7', []]]);
    // The short key is gone from the messages about orders as a word; the other person's is not touched.
    const msgs = await db.q<{ m: string }>(`select coalesce(r.error, '') || ' ' || coalesce(n.payload->>'error', '') as m
                                              from retention.runs r left join retention.notifications n using (run_id)
                                             where r.policy_name = 'b7-orders'`);
    expect(msgs.map((x) => /\b42\b/.test(x.m))).toEqual(msgs.map(() => false));
    // The notice that listed only them went to their tenant alone: it names neither now.
    expect(await db.q(`select payload->'tenant' as tenant, payload->'rows'->0->>'key' as key from retention.notifications
                        where kind = 'rows_flagged' and payload->>'policy' = 'b7-inactive'`))
      .toEqual([{ tenant: null, key: req!.subject_hash }]);
  });

  it('a row of another table with the same key has its own token: the audit log cannot link the erased person back through it', async () => {
    await db.q(`create schema b6`);
    await db.q(`create table b6.users (id int primary key, email text)`);
    await db.q(`create table b6.devices (id int primary key, last_seen_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`insert into b6.users values (81, 'hal.b6@example.com')`);
    await db.q(`insert into b6.devices values (81, now() - interval '3 years')`);
    await db.q(`select retention.set_inactive_accounts_policy('b6-devices', 'b6.devices', 'last_seen_at')`);
    await db.q(`select retention.exempt_row('b6-devices', '81', 'lab device')`);
    const req = await erase('b6.users', '81');
    expect(await count(db, `retention.audit_log where details->>'key_token' = $1`, [req.subject_hash])).toBe(0);
    expect(await count(db, `retention.subject_tokens where subject = 'subject:81'`)).toBe(0);
    expect(await count(db, `retention.subject_tokens where subject = 'b6.devices:81'`)).toBe(1);
  });
});
