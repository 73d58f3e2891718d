// Attack round atk119 (no role but the owner gains the owner's powers):
//  F1 the erasure plan (_subject_steps) checked a table, waited for its lock, then counted
//     its rows by name: the application, holding its table locked until the plan waited,
//     renamed it and put a view calling its function under the name; the count ran the
//     function as the superuser (process_erasure/open_erasure, and the completion's
//     re-plan through a `keep` table, which then said completed; erasure_plan and
//     export_subject share the code). Each table is now found by its name again after the
//     wait, and checked, before it is read (_erasure_read_check).
//  F2 references carrying the person's e-mail, phone or name in encodings _text_reads did
//     not read: hex dumps split by blanks or colons, base64 in dotted groups, base64 of the
//     reversed address, base64 three times, rot13, base32, decimal character codes, a
//     phone number reversed or in grouped base64.
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { escalatingApp, isSuperuser } from '../support/escalation.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);
const { file } = erasureHelpers(db);
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
});

/** users, and `notes` referencing them (rule `rule`), owned by an escalating application. */
async function shop(name: string, rule: 'delete' | 'keep'): Promise<{ c: pg.Client; role: string; s: string }> {
  const c = await login(name);
  clients.push(c);
  const { role, s } = await escalatingApp(db, c, name);
  await c.query(`create table ${s}.users (id bigint primary key, email text, name text)`);
  await c.query(`create table ${s}.notes (id int primary key, user_id bigint references ${s}.users on delete cascade, body text)`);
  await c.query(`insert into ${s}.users values (1101, 'ivy.rewq@example.com', 'Ivy Rewq'), (1102, 'z@example.com', 'Zed')`);
  await c.query(`insert into ${s}.notes values (1, 1101, 'ivy note'), (9, 1102, 'other person')`);
  if (rule === 'keep') {
    await q(`select retention.set_erasure_rule('${s}.users', 'scrub', p_scrub => '{"name": null, "email": null}')`);
    await q(`select retention.set_erasure_rule('${s}.notes', 'keep', p_reason => 'bookkeeping')`);
  }
  return { c, role, s };
}

/** In `c` (the application's session): locks its notes, and once `waiter` (a statement
 * pattern) waits for them, swaps the table for a view whose column calls esc(). */
async function swapDuringWait(c: pg.Client, s: string, waiter: string): Promise<void> {
  await c.query(`begin`);
  await c.query(`lock table ${s}.notes in access exclusive mode`);
  await expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and query like $1`, [waiter]),
                    { timeout: 20_000, interval: 50 }).toBe(1);
  await c.query(`alter table ${s}.notes rename to notes_real`);
  await c.query(`create view ${s}.notes as select id, user_id + ${s}.esc() - 1 as user_id, body from ${s}.notes_real`);
  await c.query(`commit`);
}

describe('the erasure plan reads a table swapped for a view while it waited for it (atk119 F1)', () => {
  it('process_erasure: RT025, the function never runs as the owner, the request not completed', async () => {
    const { c, role, s } = await shop('e119a', 'delete');
    const req = await file(`${s}.users`, '1101');
    const w = await db.connect();
    clients.push(w);
    const run = w.query(`call retention.process_erasure(${req}, 1)`).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
    await swapDuringWait(c, s, 'call retention.process_erasure(%');
    expect(await run).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).not.toBe('completed');
    expect(await count(db, `${s}.users where id = 1101`)).toBe(1);
  });

  it('the completion\'s re-plan through a kept table: RT025, not completed, the role stays', async () => {
    const { c, role, s } = await shop('e119b', 'keep');
    const req = await file(`${s}.users`, '1101');
    const w = await db.connect();
    clients.push(w);
    const runs = await count(db, `retention.erasure_plan($1) where rule <> 'keep'`, [req]);
    expect((await w.query(`select retention.open_erasure($1) as s`, [req])).rows[0].s).toBe('in_progress');
    // Every step's run ended: the next erasure_step completes, re-planning first.
    for (let n = 0; n < runs; n++) {
      const step = (await w.query(`select * from retention.erasure_step($1)`, [req])).rows[0];
      expect(step.run_id).toBeTruthy();
      while ((await w.query(`select retention.run_step($1) as s`, [step.run_id])).rows[0].s === 'running');
    }
    const done = w.query(`select * from retention.erasure_step($1)`, [req]).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
    await swapDuringWait(c, s, 'select * from retention.erasure_step(%');
    expect(await done).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).not.toBe('completed');
  });

  it('erasure_plan and export_subject: RT025, the role stays', async () => {
    for (const [i, call] of [`select * from retention.erasure_plan(%REQ%)`, `select retention.export_subject('%S%.users', '1101')`].entries()) {
      const { c, role, s } = await shop(`e119c${i}`, 'delete');
      const req = await file(`${s}.users`, '1101');
      const text = call.replace('%REQ%', String(req)).replace('%S%', s);
      const read = db.q(text).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
      await swapDuringWait(c, s, `${text.slice(0, 20)}%`);
      expect(await read).toBe('RT025');
      expect(await isSuperuser(db, role)).toBe(false);
    }
  });

  it('unchanged tables: the same request is processed and completed', async () => {
    const { s } = await shop('e119d', 'delete');
    const req = await file(`${s}.users`, '1101');
    await db.call(`call retention.process_erasure(${req}, 1)`);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req]))[0]!.status).toBe('completed');
    expect(await count(db, `${s}.notes where user_id = 1101`)).toBe(0);
    expect(await count(db, `${s}.notes`)).toBe(1);
  });
});

describe('references naming the person in the encodings stop 46 did not read (atk119 F2)', () => {
  const EMAIL = 'june.asdfg@example.com';
  const PHONE = '+44 7700 900123';
  const b64 = (x: string): string => Buffer.from(x, 'utf8').toString('base64');
  const hex = (x: string): string => Buffer.from(x, 'utf8').toString('hex');
  const groups = (x: string, n: number, sep: string): string => x.match(new RegExp(`.{1,${n}}`, 'g'))!.join(sep);
  const rev = (x: string): string => [...x].reverse().join('');
  const named: [string, string][] = [
    ['hex with blanks', `T-${groups(hex(EMAIL), 2, ' ')}`],
    ['hex with colons', `T-${groups(hex(EMAIL), 2, ':')}`],
    ['hex in dashed groups of six', `T-${groups(hex(EMAIL), 6, '-')}`],
    ['base64 in dotted groups of four', `T-${groups(b64(EMAIL).replace(/=+$/, ''), 4, '.')}`],
    ['base64 of the address reversed', `T-${b64(rev(EMAIL))}`],
    ['the base64 reversed', `T-${rev(b64(EMAIL))}`],
    ['base64 three times', `T-${b64(b64(b64(EMAIL)))}`],
    ['rot13', `T-${EMAIL.replace(/[a-z]/g, (c) => String.fromCharCode((c.charCodeAt(0) - 97 + 13) % 26 + 97))}`],
    ['decimal character codes', `T-${[...EMAIL].map((c) => c.charCodeAt(0)).join('.')}`],
    ['base32', 'T-NJ2W4ZJOMFZWIZTHIBSXQYLNOBWGKLTDN5WQ'],
    ['the phone number reversed', `T-${rev(PHONE)}`],
    ['the phone number in dotted base64 groups', `T-${groups(b64(PHONE.replaceAll(' ', '')).replace(/=+$/, ''), 4, '.')}`],
    ['the name in hex with blanks', `T-${groups(hex('June Asdfg'), 2, ' ')}`],
  ];
  it('each is refused (RT029) and files nothing; ordinary tickets are still accepted', async () => {
    await q(`create schema f2r`);
    await q(`create table f2r.users (id bigint primary key, email text, name text, phone text)`);
    await q(`insert into f2r.users values (3101, '${EMAIL}', 'June Asdfg', '${PHONE}'), (3102, 'other@example.com', 'Other Person', '+44 7700 900999')`);
    const before = await count(db, 'retention.erasure_requests');
    for (const [what, ref] of named) {
      expect(await sqlState(q(`select retention.request_erasure('f2r.users', '3101', 'privacy form', p_reference => $1)`, [ref])), what).toBe('RT029');
    }
    expect(await count(db, 'retention.erasure_requests')).toBe(before);
    for (const ref of ['ZD-4711', 'JIRA-GDPR-20240117', 'T-1013', 'INV-20261205-0042', 'case 9f:86:d0:81:88:4c:7d:65', `T-${groups(hex('other@example.com'), 2, ' ')}`,
                       'DSR 2026/11/30 #4471', 'e3b0c442-98fc-1c14-9afb-f4c8996fb924']) {
      const [r] = await q(`select request_id from retention.request_erasure('f2r.users', '3101', 'privacy form', p_reference => $1)`, [ref]);
      expect(r?.request_id, ref).toBeTruthy();
    }
  });
});
