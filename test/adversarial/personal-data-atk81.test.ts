// Attack round atk81 (personal data left behind by a completed erasure), the findings fixed
// after F1 (which personal-data-atk78.test.ts tests):
//  F1b values nested two levels deep (a jsonb[] element's string, a composite's jsonb field,
//      a range's bound, a point's coordinates) quoted in a run's error stayed;
//  F3  a reference holding such a value, or a jsonb object key, was accepted, kept after
//      completion and handed out in erasure_completed;
//  F4  released holds on such values kept them;
//  F2  a hold on a value of the person's row (their phone number), in force when that
//      table's step began and released later (while the erasure ran, or after it
//      completed), kept the value, its reason and case reference.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed, mentions } = erasureHelpers(db);

/** A users table whose person 7 keeps values two levels deep. */
async function nestedUsers(schema: string): Promise<void> {
  await q(`create schema ${schema}`);
  await q(`create type ${schema}.contact as (kind text, detail jsonb)`);
  await q(`create type ${schema}.addr as (street text, town text)`);
  await q(`create table ${schema}.users (id bigint primary key, email text, docs jsonb[], contact ${schema}.contact,
                                         stay daterange, loc point, prefs jsonb, addrs ${schema}.addr[])`);
  await q(`insert into ${schema}.users values
             (7, 'niamh@example.ie', array['{"passport": "PX9981234"}'::jsonb], row('sms', '{"mobile": "0871234567"}'),
              daterange('1985-03-17', '1985-03-30'), point(53.349805, -6.26031),
              '{"niamh.kelly.private@gmail.com": {"verified": true}}', array[row('7 Harbourview Road', 'Dunmorequay')::${schema}.addr]),
             (8, 'x@example.com', null, null, null, null, '{"email": "x@example.com"}', null)`);
}

const NESTED = ['PX9981234', '0871234567', '1985-03-17', '53.349805', 'niamh.kelly.private@gmail.com', '7 Harbourview Road', 'Dunmorequay'];

describe('values nested two levels deep (atk81 F1b, F3, F4)', () => {
  it('F1b: a run error quoting them loses each when the erasure completes', async () => {
    await nestedUsers('n1');
    await q(`create table n1.notes (id bigint primary key, user_id bigint references n1.users on delete cascade, created_at timestamptz not null)`);
    await q(`insert into n1.notes values (1, 7, now() - interval '400 days'), (2, 7, now() - interval '400 days')`);
    await q(`create function n1.keep_vip() returns trigger language plpgsql as $f$
             declare u n1.users;
             begin
               select * into u from n1.users where id = old.user_id;
               raise exception 'VIP: passport %, mobile %, born %, at %, key %, lives %, %', u.docs[1] ->> 'passport',
                 (u.contact).detail ->> 'mobile', lower(u.stay), u.loc[0], (select k from jsonb_object_keys(u.prefs) k),
                 (u.addrs[1]).street, (u.addrs[1]).town using errcode = '54000';
             end $f$`);
    await q(`create trigger keep_vip before delete on n1.notes for each row execute function n1.keep_vip()`);
    await q(`select retention.set_policy('n1.notes', 'n1.notes', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    await db.call(`call retention.run('n1.notes')`).catch(() => {});
    expect(await count(db, `retention.runs where error like '%PX9981234%Dunmorequay%'`)).toBe(1);
    await q(`drop trigger keep_vip on n1.notes`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('n1.users', '7'))).toBe('completed');
    for (const v of NESTED) expect(await mentions(v), v).toEqual([]);
    // A field name is no value: the other person's messages keep the word.
    expect(await count(db, `n1.users where id = 8`)).toBe(1);
  });

  it('F3: a reference holding one is refused (RT029) and nothing is filed; a field name is no value', async () => {
    await nestedUsers('n3');
    for (const v of NESTED) {
      expect(await sqlState(file('n3.users', '7', `about ${v}`)), v).toBe('RT029');
    }
    expect(await count(db, `retention.erasure_requests where subject_table = 'n3.users'::regclass`)).toBe(0);
    // 'email' and 'passport' are the JSON's field names, not the person's values.
    expect(await file('n3.users', '8', 'email change, passport desk')).toBeGreaterThan(0);
  });

  it('F4: released holds on them are forgotten with the person', async () => {
    await nestedUsers('n4');
    for (const v of ['PX9981234', '0871234567', 'niamh.kelly.private@gmail.com', 'Dunmorequay']) {
      const [h] = await q(`select hold_id from retention.place_hold('subject', $1, 'case about ' || $1, 'CASE-' || md5($1))`, [v]);
      await q(`select retention.release_hold($1, 'closed')`, [h!.hold_id]);
    }
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('n4.users', '7'))).toBe('completed');
    for (const v of NESTED) expect(await mentions(v), v).toEqual([]);
    expect(await count(db, `retention.legal_holds where reason = 'erased with erasure request ' || (select max(request_id) from retention.erasure_requests)`)).toBe(4);
  });
});

describe('a hold on a value of the person released after its step began (atk81 F2)', () => {
  /** users 7 with a phone number a hold names (no subject column holds it: it blocks nothing). */
  async function phoneCase(schema: string): Promise<{ hold: number; request: number }> {
    await q(`create schema ${schema}`);
    await q(`create table ${schema}.users (id bigint primary key, email text, phone text)`);
    await q(`create table ${schema}.logins (id bigint primary key, user_id bigint references ${schema}.users on delete cascade, at timestamptz)`);
    await q(`insert into ${schema}.users values (7, 'ciara@example.ie', '+353 87 555 0142'), (8, 'x@example.com', '+1 555 0100')`);
    await q(`insert into ${schema}.logins values (1, 7, now()), (2, 7, now())`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const [h] = await q(`select hold_id::int from retention.place_hold('subject', '+353 87 555 0142', 'Garda request about Ciara Byrne''s number', 'GARDA-2291')`);
    return { hold: h!.hold_id, request: await file(`${schema}.users`, '7') };
  }
  const forgotten = async (hold: number) => (await q(`select subject_id, reason, case_reference, release_reason from retention.legal_holds where hold_id = $1`, [hold]))[0];

  it('released between the steps: completion forgets it', async () => {
    const { hold, request } = await phoneCase('h1');
    const c = await db.connect();
    try {
      // The steps as process_erasure drives them; the release lands after users' step began.
      await c.query(`select retention.pin_session()`);
      await c.query(`select retention.open_erasure($1)`, [request]);
      for (let i = 0; i < 20; i++) {
        const [s] = (await c.query(`select run_id, status from retention.erasure_step($1)`, [request])).rows;
        if (s?.status !== 'in_progress') break;
        const [r] = (await c.query(`select erasure_table::text as tbl from retention.runs where run_id = $1`, [s.run_id])).rows;
        if (r?.tbl === 'h1.users') await q(`select retention.release_hold($1, 'case closed')`, [hold]);
        while ((await c.query(`select retention.run_step($1) as st`, [s.run_id])).rows[0]?.st === 'running') { /* batches */ }
      }
      await c.query(`select retention.unpin_session()`);
    } finally {
      await c.end();
    }
    const [st] = await q(`select status from retention.erasure_requests where request_id = $1`, [request]);
    expect(st!.status).toBe('completed');
    expect(await q(`select released_at is not null as r from retention.legal_holds where hold_id = $1`, [hold])).toEqual([{ r: true }]);
    expect(await forgotten(hold)).toEqual({ subject_id: null, reason: `erased with erasure request ${request}`, case_reference: null,
                                            release_reason: `erased with erasure request ${request}` });
    for (const v of ['555 0142', 'Ciara Byrne', 'GARDA-2291']) expect(await mentions(v), v).toEqual([]);
  });

  it('released after the erasure completed: release_hold forgets it; a hold on another person\'s value keeps its own', async () => {
    const { hold, request } = await phoneCase('h2');
    const [other] = await q(`select hold_id::int from retention.place_hold('subject', '+1 555 0100', 'about the other number')`);
    expect(await processed(request)).toBe('completed');
    // In force, it still names what it holds.
    expect((await forgotten(hold))!.subject_id).toBe('+353 87 555 0142');
    const [released] = await q(`select subject_id, reason, released_at is not null as released from retention.release_hold($1, 'case closed for Ciara Byrne')`, [hold]);
    expect(released).toEqual({ subject_id: null, reason: `erased with erasure request ${request}`, released: true });
    for (const v of ['555 0142', 'Ciara Byrne', 'GARDA-2291']) expect(await mentions(v), v).toEqual([]);
    expect(await count(db, `retention_internal.erasure_held_values where hold_id = ${hold}`)).toBe(0);
    // The audit entry of the release names the hold by its token only.
    expect(await count(db, `retention.audit_log where action = 'hold.released' and object_name = '${hold}' and details ? 'subject_token'`)).toBe(1);
    await q(`select retention.release_hold($1, 'done')`, [other!.hold_id]);
    expect((await forgotten(other!.hold_id))!.subject_id).toBe('+1 555 0100');
  });

  it('expired after the erasure completed: the scheduler\'s periodic check (note_overdue_erasures) forgets it', async () => {
    await q(`create schema h3`);
    await q(`create table h3.users (id bigint primary key, email text, phone text)`);
    await q(`insert into h3.users values (7, 'ciara@example.ie', '+353 87 555 0177'), (8, 'x@example.com', '+1 555 0188')`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    // Expiring once the erasure has completed: 5 seconds leave room for a loaded machine.
    const [h] = await q(`select hold_id::int from retention.place_hold('subject', '+353 87 555 0177', 'Garda request about Ciara Byrne''s number', 'GARDA-2292',
                                                                     p_expires_at => clock_timestamp() + interval '5 seconds')`);
    const [other] = await q(`select hold_id::int from retention.place_hold('subject', '+1 555 0188', 'about the other number',
                                                                         p_expires_at => clock_timestamp() + interval '5 seconds')`);
    const request = await file('h3.users', '7');
    expect(await processed(request)).toBe('completed');
    expect((await forgotten(h!.hold_id))!.subject_id).toBe('+353 87 555 0177');
    await waitFor(async () => (await count(db, `retention.legal_holds where hold_id = ${h!.hold_id} and expires_at < clock_timestamp()`)) === 1,
      'the hold to expire', 10_000);
    await q(`select * from retention.note_overdue_erasures()`);
    expect(await forgotten(h!.hold_id)).toEqual({ subject_id: null, reason: `erased with erasure request ${request}`, case_reference: null,
                                                  release_reason: null });
    for (const v of ['555 0177', 'Ciara Byrne', 'GARDA-2292']) expect(await mentions(v), v).toEqual([]);
    expect(await count(db, `retention_internal.erasure_held_values where hold_id = ${h!.hold_id}`)).toBe(0);
    // Another person's expired hold keeps what it names.
    expect((await forgotten(other!.hold_id))!.subject_id).toBe('+1 555 0188');
  });
});
