// Attack round atk118 (an erasure leaves none of the person behind, and says so truthfully;
// no role but the owner gains the owner's powers), each finding fixed with a test:
//  F1 a reference holding the person's e-mail in base64 or hex passed request_erasure's
//     check and every step's: it stays after completion, and the erasure_completed
//     notification carries it out;
//  F2 once the last step's run ended, the completion's checks read the plan's tables by
//     their names as the owner: the application had swapped a finished step's table for a
//     view calling its function, which ran as a superuser (also: a step's own re-count
//     after its run, on the table the step's triggers may have swapped).
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { offload } from '../../runner/archive/archive.ts';
import { parseKeyRing } from '../../runner/archive/envelope.ts';
import { LocalDirTarget } from '../../runner/archive/storage.ts';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { escalatingApp, isSuperuser } from '../support/escalation.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);
const { file, processed } = erasureHelpers(db);
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
});

const EMAIL = 'june.asdfg@example.com';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

describe('a reference naming the person in an encoding (atk118 F1)', () => {
  async function person(s: string): Promise<void> {
    await q(`create schema ${s}`);
    await q(`create table ${s}.users (id bigint primary key, email text, name text, handle text)`);
    await q(`insert into ${s}.users values (1201, '${EMAIL}', 'June Asdfg', '@juneasdfg'), (1202, 'other@example.com', 'Other Person', '@other')`);
  }

  const named: [string, string][] = [
    ['base64 alone', b64(EMAIL)],
    ['base64 after a prefix', `T-${b64(EMAIL)}`],
    ['base64 glued to a prefix (shifted)', `Tx${b64(EMAIL)}`],
    ['URL-safe base64 without padding', `T-${b64(EMAIL).replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_')}`],
    ['hex after a prefix', `T-${hex(EMAIL)}`],
    ['hex glued to an odd prefix', `T1${hex(EMAIL)}`],
    ['base64 of hex', b64(hex(EMAIL))],
    ['the address reversed', `T-${[...EMAIL].reverse().join('')}`],
    ['the name reversed', 'T-gfdsA enuJ'],
    ['a handle without its @', 'T-juneasdfg'],
  ];
  for (const [what, ref] of named) {
    it(`refuses ${what} (RT029), files nothing`, async () => {
      const s = `r${named.findIndex(([w]) => w === what)}`;
      await person(s);
      const before = await count(db, 'retention.erasure_requests');
      expect(await sqlState(q(`select retention.request_erasure($1, '1201', 'privacy form', p_reference => $2)`, [`${s}.users`, ref]))).toBe('RT029');
      expect(await count(db, 'retention.erasure_requests')).toBe(before);
    });
  }

  it('still accepts a ticket number, its digits reversed a key of the person, and encodings of nobody', async () => {
    await person('rok');
    for (const ref of ['T-1021', 'ticket 2101', `T-${b64('other thing entirely')}`, 'INV-20261205-0042', 'case-9f86d081884c7d65']) {
      const [r] = await q(`select request_id from retention.request_erasure('rok.users', '1201', 'privacy form', p_reference => $1)`, [ref]);
      expect(r?.request_id, ref).toBeTruthy();
    }
  });

  it('a reference the person\'s row comes to name in base64 meanwhile is dropped before completion, not sent', async () => {
    await person('rlate');
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const req = await file('rlate.users', '1201', `T-${b64('zq.mail7@example.org')}`);
    await q(`update rlate.users set email = 'zq.mail7@example.org' where id = 1201`);
    expect(await processed(req)).toBe('completed');
    const [r] = await q(`select reference from retention.erasure_requests where request_id = $1`, [req]);
    expect(r?.reference ?? null).toBeNull();
    expect(await count(db, `retention.notifications where kind = 'erasure_completed' and payload::text like '%' || $1 || '%'`,
      [b64('zq.mail7@example.org').slice(0, 16)])).toBe(0);
  });
});

describe('the completion\'s checks read tables swapped for views (atk118 F2)', () => {
  /** An application schema: users (scrubbed) and sessions (deleted) referencing them. */
  async function shop(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
    const c = await login(name);
    clients.push(c);
    const { role, s } = await escalatingApp(db, c, name);
    await c.query(`create table ${s}.users (id bigint primary key, email text, name text)`);
    await c.query(`create table ${s}.sessions (id int primary key, user_id bigint references ${s}.users, ua text)`);
    await c.query(`insert into ${s}.users values (1101, 'ivy.rewq@example.com', 'Ivy Rewq'), (1102, 'z@example.com', 'Zed')`);
    await c.query(`insert into ${s}.sessions values (1, 1101, 'ivy phone'), (9, 1102, 'other person')`);
    await q(`select retention.set_erasure_rule('${s}.users', 'scrub', p_scrub => '{"name": null, "email": null}')`);
    return { c, role, s };
  }

  /** A session of the test's superuser processing the request step by step, stopped once
   * the run of its `runs`-th delete or scrub step has ended (its outcome, or the
   * completion after the last, comes with the next erasure_step). */
  async function processRuns(req: number, runs: number): Promise<pg.Client> {
    const w = await db.connect();
    clients.push(w);
    expect((await w.query(`select retention.open_erasure($1) as s`, [req])).rows[0].s).toBe('in_progress');
    for (let n = 1; ; n++) {
      const step = (await w.query(`select * from retention.erasure_step($1)`, [req])).rows[0];
      expect(step.run_id).toBeTruthy();
      while ((await w.query(`select retention.run_step($1) as s`, [step.run_id])).rows[0].s === 'running');
      if (n === runs) return w;
    }
  }

  it('after the last step, a finished step\'s table renamed and a view calling the application\'s function put in its place: RT025, not completed, the role stays', async () => {
    const { c, role, s } = await shop('c2a');
    const req = await file(`${s}.users`, '1101');
    const plan = await q(`select target from retention.erasure_plan($1) where rule <> 'keep' order by target`, [req]);
    expect(plan.map((p) => p.target)).toEqual([`${s}.sessions`, `${s}.users`]);
    const w = await processRuns(req, 2);  // both steps' runs ended, completion next
    await c.query(`alter table ${s}.sessions rename to sessions_real`);
    await c.query(`create view ${s}.sessions as select id, user_id + ${s}.esc() - 1 as user_id, ua from ${s}.sessions_real`);
    expect(await sqlState(w.query(`select * from retention.erasure_step($1)`, [req]))).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]?.status).not.toBe('completed');
    expect(await count(db, `retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(req)])).toBe(0);
  });

  it('a view filtered by the application\'s function in place of the table: RT025 as well', async () => {
    const { c, role, s } = await shop('c2b');
    const req = await file(`${s}.users`, '1101');
    const w = await processRuns(req, 2);
    await c.query(`alter table ${s}.sessions rename to sessions_real`);
    await c.query(`insert into ${s}.sessions_real values (2, 1101, 'a new session of ivy')`);
    await c.query(`create view ${s}.sessions as select * from ${s}.sessions_real where ${s}.esc() = 0`);
    expect(await sqlState(w.query(`select * from retention.erasure_step($1)`, [req]))).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
  });

  it('a step\'s own table swapped once its run ended, before its re-count: RT025, the role stays', async () => {
    const { c, role, s } = await shop('c2c');
    const req = await file(`${s}.users`, '1101');
    const w = await processRuns(req, 1);  // step 1 (sessions) ran; its outcome next
    await c.query(`alter table ${s}.sessions rename to sessions_real`);
    await c.query(`create view ${s}.sessions as select id, user_id + ${s}.esc() - 1 as user_id, ua from ${s}.sessions_real`);
    expect(await sqlState(w.query(`select * from retention.erasure_step($1)`, [req]))).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
  });

  it('the same request, the table put back, processed again: completed, the person gone', async () => {
    const { c, s } = await shop('c2d');
    const req = await file(`${s}.users`, '1101');
    const w = await processRuns(req, 2);
    await c.query(`alter table ${s}.sessions rename to sessions_real`);
    await c.query(`create view ${s}.sessions as select * from ${s}.sessions_real`);
    expect(await sqlState(w.query(`select * from retention.erasure_step($1)`, [req]))).toBe('RT025');
    await w.end();
    clients.splice(clients.indexOf(w), 1);
    await c.query(`drop view ${s}.sessions`);
    await c.query(`alter table ${s}.sessions_real rename to sessions`);
    expect(await processed(req)).toBe('completed');
    expect(await count(db, `${s}.sessions where user_id = 1101`)).toBe(0);
    expect(await count(db, `${s}.users where id = 1101 and email is not null`)).toBe(0);
  });
});

describe('archived copies an erasure does not reach (atk118 F4)', () => {
  it('completed says which tables\' archived copies stay: in the audit entry and the erasure_completed notification', async () => {
    await q(`create schema f4`);
    await q(`create table f4.users (id bigint primary key, email text, name text)`);
    await q(`create table f4.events (id int primary key, user_id bigint references f4.users on delete cascade, at timestamptz, body text)`);
    await q(`insert into f4.users values (801, 'fay.mnbvc@example.com', 'Fay Mnbvc'), (802, 'gus@example.com', 'Gus Oiuyt')`);
    await q(`insert into f4.events values (1, 801, now() - interval '400 days', 'Fay called'), (2, 801, now(), 'recent'), (3, 802, now(), 'gus')`);
    await q(`select retention.set_policy('f4-events', 'f4.events', 'delete', 'at', p_retain => '365 days', p_archive => true)`);
    await db.call(`call retention.run('f4-events')`);
    expect(await count(db, `retention.archived_rows where rel_name = 'f4.events'`)).toBe(1);
    const req = await file('f4.users', '801');
    expect(await processed(req)).toBe('completed');
    const left = [{ table: 'f4.events', rows_in_database: 1, objects: 0 }];
    const [a] = await q(`select details -> 'archives_not_reached' as x from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(req)]);
    expect(a?.x).toEqual(left);
    const [n] = await q(`select payload -> 'archives_not_reached' as x from retention.notifications where kind = 'erasure_completed' and (payload ->> 'request_id')::bigint = $1`, [req]);
    expect(n?.x).toEqual(left);
    // Moved out to an object: the object is named instead of the rows.
    await q(`create table f4.users2 (id bigint primary key)`);
    await q(`alter table f4.events add column user2 bigint references f4.users2 on delete cascade`);
    await q(`insert into f4.users2 values (901)`);
    await q(`insert into f4.events values (4, 802, now() - interval '400 days', 'old', 901), (5, 802, now(), 'new', 901)`);
    await db.call(`call retention.run('f4-events')`);
    const c = await db.connect();
    clients.push(c);
    const ring = parseKeyRing(`k1:${randomBytes(32).toString('base64')}`);
    const r = await offload(c, new LocalDirTarget(mkdtempSync(path.join(os.tmpdir(), 'retention-atk118-'))), ring);
    expect(r.rows).toBe(2);  // Fay's row too: her erasure did not reach it
    expect(await count(db, 'retention.archived_rows')).toBe(0);
    const req3 = await file('f4.users2', '901');
    expect(await processed(req3)).toBe('completed');
    const [a3] = await q(`select details -> 'archives_not_reached' as x from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(req3)]);
    expect(a3?.x).toEqual([{ table: 'f4.events', rows_in_database: 0, objects: 1 }]);
    // An erasure that reaches no archived table: nothing said.
    await q(`create table f4.other (id bigint primary key)`);
    await q(`insert into f4.other values (5)`);
    const req2 = await file('f4.other', '5');
    expect(await processed(req2)).toBe('completed');
    const [a2] = await q(`select details ? 'archives_not_reached' as x from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(req2)]);
    expect(a2?.x).toBe(false);
  });
});
