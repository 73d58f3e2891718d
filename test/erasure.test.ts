import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';

const db = useTestDatabase();

async function shop(): Promise<void> {
  await db.q(`drop schema if exists shop cascade`);
  await db.q(`create schema shop`);
  await db.q(`create table shop.customers (id text primary key, email text unique, name text)`);
  await db.q(`create table shop.orders (id bigint primary key, customer_id text references shop.customers, total numeric, ship_to text)`);
  await db.q(`create table shop.order_lines (id bigint primary key, order_id bigint references shop.orders, sku text)`);
  await db.q(`create table shop.invoices (id bigint primary key, order_id bigint references shop.orders, buyer_name text)`);
  await db.q(`create table shop.profiles (customer_id text primary key references shop.customers, bio text)`);
  await db.q(`create table shop.messages (id bigint primary key, sender text references shop.customers, recipient text references shop.customers, body text)`);
  await db.q(`create table shop.notes (body text)`); // no key
  await db.q(`insert into shop.customers values ('cust-7731', 'ann@example.com', 'Ann Example'), ('cust-8842', 'bob@example.com', 'Bob')`);
  await db.q(`insert into shop.orders values (10, 'cust-7731', 5, 'Ann, Main St 1'), (11, 'cust-7731', 7, 'Ann, Main St 1'), (12, 'cust-8842', 1, 'Bob')`);
  await db.q(`insert into shop.order_lines values (100, 10, 'x'), (101, 10, 'y'), (102, 11, 'z'), (103, 12, 'w')`);
  await db.q(`insert into shop.invoices values (1000, 10, 'Ann Example'), (1001, 12, 'Bob')`);
  await db.q(`insert into shop.profiles values ('cust-7731', 'hi'), ('cust-8842', 'yo')`);
  await db.q(`insert into shop.messages values (1, 'cust-7731', 'cust-8842', 'm'), (2, 'cust-8842', 'cust-7731', 'n'), (3, 'cust-8842', 'cust-8842', 'o')`);
}

describe('erasure requests', () => {
  it('the plan follows the foreign-key graph three levels deep with each table\'s rule and where it came from', async () => {
    await shop();
    await db.q(`select retention.set_erasure_rule('shop.invoices', 'keep', p_reason => 'Invoices: 10 years, HGB § 257')`);
    await db.q(`select retention.set_erasure_rule('shop.orders', 'scrub', p_scrub => '{"ship_to": "null"}')`);
    const [req] = await db.q(`select * from retention.request_erasure('shop.customers', 'cust-7731', 'support ticket 4711')`);
    expect(req!.status).toBe('pending');
    // The subject is named by a random token, not a hash one could reverse by trying keys.
    expect(req!.subject_hash).toMatch(/^subj_[0-9a-f]{32}$/);
    expect(req!.subject_hash).not.toBe(createHash('sha256').update('shop.customers:cust-7731').digest('hex'));
    expect(req!.due_at.getTime() - req!.requested_at.getTime()).toBe(30 * 86400_000);

    const plan = await db.q(`select step, depth, target, via, rule, rule_source, reason, scrub, rows::int from retention.erasure_plan($1)`, [req!.request_id]);
    expect(plan).toEqual([
      { step: 1, depth: 0, target: 'shop.customers', via: null, rule: 'delete', rule_source: 'system', reason: null, scrub: null, rows: 1 },
      { step: 2, depth: 1, target: 'shop.messages', via: 'messages_recipient_fkey, messages_sender_fkey', rule: 'delete', rule_source: 'system', reason: null, scrub: null, rows: 2 },
      { step: 3, depth: 1, target: 'shop.orders', via: 'orders_customer_id_fkey', rule: 'scrub', rule_source: 'table', reason: null, scrub: { ship_to: 'null' }, rows: 2 },
      { step: 4, depth: 1, target: 'shop.profiles', via: 'profiles_customer_id_fkey', rule: 'delete', rule_source: 'system', reason: null, scrub: null, rows: 1 },
      { step: 5, depth: 2, target: 'shop.invoices', via: 'invoices_order_id_fkey', rule: 'keep', rule_source: 'table', reason: 'Invoices: 10 years, HGB § 257', scrub: null, rows: 1 },
      { step: 6, depth: 2, target: 'shop.order_lines', via: 'order_lines_order_id_fkey', rule: 'delete', rule_source: 'system', reason: null, scrub: null, rows: 3 },
    ]);

    // A default rule applies to tables no rule names; a table's own rule still wins.
    await db.q(`select retention.set_erasure_rule(null, 'keep', p_reason => 'Review by the DPO first')`);
    const withDefault = await db.q(`select target, rule, rule_source from retention.erasure_plan($1)`, [req!.request_id]);
    expect(withDefault.map((p) => `${p.target} ${p.rule} ${p.rule_source}`)).toEqual(['shop.customers keep default']);
    await db.q(`select retention.set_erasure_rule('shop.customers', 'delete')`);
    expect((await db.q(`select target, rule_source from retention.erasure_plan($1)`, [req!.request_id])).map((p) => `${p.target} ${p.rule_source}`))
      .toEqual(['shop.customers table', 'shop.messages default', 'shop.orders table', 'shop.profiles default', 'shop.invoices table', 'shop.order_lines default']);
    // The plan changes nothing.
    expect(await count(db, `shop.order_lines`)).toBe(4);
  });

  it('the audit log records requests by the subject\'s token, never its key or who asked', async () => {
    await shop();
    const [req] = await db.q(`select subject_hash from retention.request_erasure('shop.customers', 'cust-8842', 'privacy@example.org', now() + interval '7 days')`);
    const audit = await db.q(`select details->>'filed_by' as filed_by from retention.audit_log where action = 'erasure.requested' and details->>'subject_hash' = $1`, [req!.subject_hash]);
    expect(audit).toEqual([{ filed_by: 'postgres' }]);
    expect(await count(db, `retention.audit_log where details::text like '%cust-%' or details::text like '%privacy@%'`)).toBe(0);
    // The same subject has the same token while it is known (a second request, a hold).
    const [again] = await db.q(`select subject_hash from retention.request_erasure('shop.customers', 'cust-8842', 'privacy@example.org')`);
    expect(again!.subject_hash).toBe(req!.subject_hash);
  });

  it('bad requests and rules get a clear error and change nothing', async () => {
    await shop();
    const [open] = await db.q(`select request_id from retention.request_erasure('shop.customers', 'cust-8842', 'x')`);
    const before = await db.q(`select (select count(*) from retention.erasure_requests)::int as r, (select count(*) from retention.erasure_rules)::int as x,
                                      (select count(*) from retention.audit_log)::int as a`);
    const cases: [string, unknown[], string][] = [
      [`select retention.request_erasure($1, $2, $3)`, ['shop.nope', '1', 'x'], 'RT001'],
      [`select retention.request_erasure($1, $2, $3)`, ['shop.notes', '1', 'x'], 'RT029'],
      [`select retention.request_erasure($1, $2, $3)`, ['shop.customers', 'cust-0000', 'x'], 'RT030'],
      [`select retention.request_erasure($1, $2, $3)`, ['shop.customers', `cust-7731' or '1'='1`, 'x'], 'RT030'],
      [`select retention.request_erasure($1, $2, $3)`, ['shop.orders', 'ten', 'x'], 'RT030'],
      [`select retention.request_erasure($1, $2, $3)`, ['shop.customers', 'cust-7731', ' '], 'RT029'],
      [`select retention.request_erasure($1, $2, $3, now() - interval '1 day')`, ['shop.customers', 'cust-7731', 'x'], 'RT029'],
      [`select * from retention.erasure_plan($1)`, [999], 'RT031'],
      [`call retention.process_erasure($1)`, [999], 'RT031'],
      [`call retention.process_erasure($1, p_batch_size => 0)`, [open!.request_id], 'RT006'],
      [`select retention.set_erasure_rule($1, $2)`, ['shop.nope', 'delete'], 'RT001'],
      [`select retention.set_erasure_rule($1, $2)`, ['shop.orders', 'shred'], 'RT020'],
      [`select retention.set_erasure_rule($1, $2)`, ['shop.invoices', 'keep'], 'RT020'],
      [`select retention.set_erasure_rule($1, $2, $3)`, [null, 'scrub', '{"name": "null"}'], 'RT020'],
      [`select retention.set_erasure_rule($1, $2, $3)`, ['shop.orders', 'scrub', '{"nope": "null"}'], 'RT002'],
      [`select retention.set_erasure_rule($1, $2, $3)`, ['shop.orders', 'scrub', '{"id": "null"}'], 'RT019'],
      [`select retention.set_erasure_rule($1, $2, $3)`, ['shop.orders', 'delete', '{"ship_to": "null"}'], 'RT020'],
    ];
    for (const [sql, values, code] of cases) expect([sql, values, await sqlState(db.q(sql, values))]).toEqual([sql, values, code]);
    expect(await db.q(`select (select count(*) from retention.erasure_requests)::int as r, (select count(*) from retention.erasure_rules)::int as x,
                              (select count(*) from retention.audit_log)::int as a`)).toEqual(before);
    expect(await count(db, `shop.customers`)).toBe(2);
    expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [open!.request_id])).toEqual([{ status: 'pending' }]);
  });

  it('processing erases across the graph by the rules, keeps evidence without personal data, and confirms through the outbox', async () => {
    await shop();
    await db.q(`delete from retention.erasure_rules`);
    await db.q(`select retention.set_erasure_rule('shop.customers', 'scrub', p_scrub => '{"email": "sha256", "name": null}')`);
    await db.q(`select retention.set_erasure_rule('shop.orders', 'scrub', p_scrub => '{"ship_to": null}')`);
    await db.q(`select retention.set_erasure_rule('shop.invoices', 'keep', p_reason => 'Invoices: 10 years, HGB § 257')`);
    const [req] = await db.q(`select * from retention.request_erasure('shop.customers', 'cust-7731', 'support ticket 4711')`);
    const { notices } = await db.call(`call retention.process_erasure($1, p_batch_size => 1)`, [req!.request_id]);
    expect(notices.at(-1)).toBe(`erasure request ${req!.request_id} completed`);

    expect(await db.q(`select id, email, name from shop.customers order by id`)).toEqual([
      { id: 'cust-7731', email: `sha256:${createHash('sha256').update('ann@example.com').digest('hex')}`, name: null },
      { id: 'cust-8842', email: 'bob@example.com', name: 'Bob' },
    ]);
    expect(await db.q(`select id::int from shop.messages order by id`)).toEqual([{ id: 3 }]);
    expect(await db.q(`select customer_id from shop.profiles`)).toEqual([{ customer_id: 'cust-8842' }]);
    expect(await db.q(`select id::int, ship_to from shop.orders order by id`)).toEqual([
      { id: 10, ship_to: null }, { id: 11, ship_to: null }, { id: 12, ship_to: 'Bob' }]);
    expect(await db.q(`select id::int from shop.order_lines order by id`)).toEqual([{ id: 103 }]);
    expect(await count(db, `shop.invoices`)).toBe(2);

    const evidence = await db.q(`select target, rule, reason, rows::int from retention.erasure_evidence where request_id = $1 order by step`, [req!.request_id]);
    expect(evidence).toEqual([
      // A scrubbed row keeps its key, here text: the evidence says so (a code such as
      // cust-7731 names nobody once the rest is gone; an e-mail address would).
      { target: 'shop.customers', rule: 'scrub', reason: 'the person\'s key stays in id (a key cannot be scrubbed)', rows: 1 },
      { target: 'shop.messages', rule: 'delete', reason: null, rows: 2 },
      { target: 'shop.orders', rule: 'scrub', reason: 'the person\'s key stays in customer_id (a key cannot be scrubbed)', rows: 2 },
      { target: 'shop.profiles', rule: 'delete', reason: null, rows: 1 },
      { target: 'shop.invoices', rule: 'keep', reason: 'Invoices: 10 years, HGB § 257', rows: 1 },
      { target: 'shop.order_lines', rule: 'delete', reason: null, rows: 3 },
    ]);
    const [done] = await db.q(`select status, subject_id, subject_hash, completed_at is not null as completed from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(done).toEqual({ status: 'completed', subject_id: null, subject_hash: req!.subject_hash, completed: true });
    const [note] = await db.q(`select kind, payload from retention.notifications where kind = 'erasure_completed'`);
    expect(note!.payload).toMatchObject({ request_id: Number(req!.request_id), subject_hash: req!.subject_hash });
    expect(note!.payload).not.toHaveProperty('requested_by');
    // Who asked goes with the request; the token no longer leads back to the person.
    expect(await db.q(`select requested_by from retention.erasure_requests where request_id = $1`, [req!.request_id]))
      .toEqual([{ requested_by: `(erased with erasure request ${req!.request_id})` }]);
    expect(await count(db, `retention.subject_tokens where token = '${req!.subject_hash}' or subject = 'subject:cust-7731'`)).toBe(0);
    // Nothing the erasure left behind names the person.
    // (An earlier test's request for the same person is still open, so requests are read for this one.)
    const traces = await db.q(`select (select string_agg(t::text, '') from retention.erasure_evidence t) ||
                                      (select string_agg(t::text, '') from retention.erasure_requests t where request_id = $1) ||
                                      (select string_agg(t::text, '') from retention.audit_log t) ||
                                      (select string_agg(t::text, '') from retention.notifications t) as all`, [req!.request_id]);
    for (const pii of ['cust-7731', 'ann@example.com', 'Ann Example', 'Main St']) expect([pii, traces[0]!.all.includes(pii)]).toEqual([pii, false]);
    expect(await sqlState(db.call(`call retention.process_erasure($1)`, [req!.request_id]))).toBe('RT031');
    expect(await sqlState(db.q(`select * from retention.erasure_plan($1)`, [req!.request_id]))).toBe('RT031');
  });

  it('a legal hold on the subject blocks processing with the hold\'s reason; released, it goes through', async () => {
    await shop();
    const [req] = await db.q(`select * from retention.request_erasure('shop.customers', 'cust-8842', 'privacy@example.org')`);
    const [hold] = await db.q(`select * from retention.place_hold('subject', 'cust-8842', 'Fraud case 2026-31')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    const [blocked] = await db.q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(blocked).toEqual({ status: 'blocked_by_hold', status_reason: `legal hold ${hold!.hold_id} (subject): Fraud case 2026-31` });
    expect(await count(db, `shop.messages`)).toBe(3);
    await db.q(`select retention.release_hold($1, 'closed')`, [hold!.hold_id]);
    // The customer's row is still referenced by orders that stay (scrubbed): the plan warns,
    // and processing stops before changing anything, saying why.
    await db.q(`delete from retention.erasure_rules`);
    await db.q(`select retention.set_erasure_rule('shop.orders', 'scrub', p_scrub => '{"ship_to": null}')`);
    expect(await db.q(`select target, warning from retention.erasure_plan($1) where warning is not null`, [req!.request_id])).toEqual([{
      target: 'shop.customers',
      warning: '1 row(s) of shop.orders that are scrubbed still reference these rows through orders_customer_id_fkey: the delete would fail',
    }]);
    const snapshot = () => db.q(`select (select count(*) from shop.order_lines)::int as lines, (select count(*) from shop.messages)::int as messages,
                                        (select count(*) from shop.invoices)::int as invoices, (select count(*) from shop.profiles)::int as profiles,
                                        (select count(*) from shop.orders where ship_to is null)::int as scrubbed`);
    const before = await snapshot();
    expect(await sqlState(db.call(`call retention.process_erasure($1)`, [req!.request_id]))).toBe('RT032');
    const [failed] = await db.q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(failed!.status).toBe('failed');
    expect(failed!.status_reason).toMatch(/^shop\.customers: 1 row\(s\) of shop\.orders that are scrubbed/);
    expect(await snapshot()).toEqual(before);
    // A step that fails anyway (a trigger refuses) leaves it failed with the cause; what was
    // done stays done, and processing again after the fix carries on.
    await db.q(`select retention.set_erasure_rule('shop.customers', 'scrub', p_scrub => '{"name": null}')`);
    await db.q(`create function shop.no_delete() returns trigger language plpgsql as $$ begin raise exception 'profiles are archived first'; end $$`);
    await db.q(`create trigger no_delete before delete on shop.profiles for each row execute function shop.no_delete()`);
    expect(await sqlState(db.call(`call retention.process_erasure($1)`, [req!.request_id]))).toBe('P0001');
    const [stuck] = await db.q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    // The step ran through the executor: the refused row is in run_row_failures of its run.
    expect(stuck).toEqual({ status: 'failed', status_reason: expect.stringMatching(/^shop\.profiles: 1 row\(s\) could not be deleted: profiles are archived first \(see retention\.run_row_failures for run \d+\) \(P0001\)$/) });
    await db.q(`drop trigger no_delete on shop.profiles`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect((await db.q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]))[0]!.status).toBe('completed');
    expect(await db.q(`select name from shop.customers where id = 'cust-8842'`)).toEqual([{ name: null }]);
  });

  it('a request past its due date is overdue as of the injected clock and announced once, without the subject\'s key', async () => {
    await shop();
    const [req] = await db.q(`select * from retention.request_erasure('shop.customers', 'cust-7731', 'dsar@example.org', now() + interval '10 days')`);
    const [done] = await db.q(`select * from retention.request_erasure('shop.customers', 'cust-8842', 'dsar@example.org', now() + interval '5 days')`);
    await db.q(`select retention.set_erasure_rule('shop.customers', 'scrub', p_scrub => '{"email": "sha256", "name": null}')`);
    await db.call(`call retention.process_erasure($1)`, [done!.request_id]);

    const at = (days: number) => db.q(`select request_id::int, overdue, days_left from retention.erasure_requests_as_of(now() + $1 * interval '1 day')
                                                 where request_id in ($2, $3) order by request_id`, [days, req!.request_id, done!.request_id]);
    expect(await at(8)).toEqual([{ request_id: Number(req!.request_id), overdue: false, days_left: 1 }, { request_id: Number(done!.request_id), overdue: false, days_left: null }]);
    expect(await at(11)).toEqual([{ request_id: Number(req!.request_id), overdue: true, days_left: -1 }, { request_id: Number(done!.request_id), overdue: false, days_left: null }]);

    // Before the due date nothing is noted; a clock ahead of the database's lists what
    // would be overdue then and queues nothing; once really past its due date, one
    // notification however often asked. (Requests of earlier tests are due sooner; only
    // these two are looked at.)
    const overdue = (days: number) => db.q(`select request_id::int, status, newly_noted from retention.note_overdue_erasures(now() + $1 * interval '1 day')
                                             where request_id in ($2, $3)`, [days, req!.request_id, done!.request_id]);
    expect(await overdue(9)).toEqual([]);
    expect(await overdue(12)).toEqual([{ request_id: Number(req!.request_id), status: 'pending', newly_noted: false }]);
    expect(await count(db, `retention.notifications where kind = 'erasure_overdue' and (payload->>'request_id')::bigint = $1`, [req!.request_id])).toBe(0);
    await db.q(`update retention.erasure_requests set requested_at = requested_at - interval '12 days', due_at = due_at - interval '12 days' where request_id = $1`, [req!.request_id]);
    expect(await overdue(0)).toEqual([{ request_id: Number(req!.request_id), status: 'pending', newly_noted: true }]);
    expect(await overdue(1)).toEqual([{ request_id: Number(req!.request_id), status: 'pending', newly_noted: false }]);
    const notes = await db.q<{ payload: Record<string, unknown> }>(`select payload from retention.notifications
                                                                     where kind = 'erasure_overdue' and payload->>'subject_table' = 'shop.customers' and (payload->>'request_id')::bigint in ($1, $2)`, [req!.request_id, done!.request_id]);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.payload).toMatchObject({ kind: 'erasure_overdue', request_id: Number(req!.request_id), subject_table: 'shop.customers',
      subject_hash: req!.subject_hash, status: 'pending', days_overdue: 2 });
    expect(JSON.stringify(notes[0]!.payload)).not.toContain('cust-7731');
    expect(JSON.stringify(notes[0]!.payload)).not.toContain('dsar@');
    expect(await sqlState(db.q(`select * from retention.note_overdue_erasures(null)`))).toBe('RT029');
  });

  it('the plan follows every path to a table still to come, and warns where a delete would cascade into kept rows or leave rows a later path reaches', async () => {
    await db.q(`drop schema if exists cx cascade`);
    await db.q(`create schema cx`);
    await db.q(`create table cx.people (id text primary key, name text)`);
    await db.q(`create table cx.ledger (id bigint primary key, person_id text references cx.people on delete cascade, amount numeric)`);
    await db.q(`create table cx.accounts (id bigint primary key, person_id text references cx.people)`);
    // A diamond: cards are reached from people and from accounts before their turn.
    await db.q(`create table cx.cards (id bigint primary key, person_id text references cx.people, account_id bigint references cx.accounts)`);
    await db.q(`create table cx.statements (id bigint primary key, account_id bigint references cx.accounts)`);
    // Notes are reached from people (depth 1) before statements (depth 2) point at them.
    await db.q(`create table cx.notes (id bigint primary key, person_id text references cx.people, statement_id bigint references cx.statements)`);
    await db.q(`create table cx.tags (id bigint primary key, person_id text references cx.people on delete set null)`);
    await db.q(`insert into cx.people values ('p1', 'Pat'), ('p2', 'Sam')`);
    await db.q(`insert into cx.ledger values (1, 'p1', 10)`);
    await db.q(`insert into cx.accounts values (1, 'p1'), (2, 'p2')`);
    // Card 11 is on Pat's account but carries no person id: only the path through accounts finds it.
    await db.q(`insert into cx.cards values (10, 'p1', 1), (11, null, 1), (12, 'p2', 2)`);
    await db.q(`insert into cx.statements values (100, 1), (101, 2)`);
    await db.q(`insert into cx.notes values (1000, 'p1', null), (1001, null, 100)`);
    await db.q(`insert into cx.tags values (1, 'p1')`);
    await db.q(`select retention.set_erasure_rule('cx.ledger', 'keep', p_reason => 'Bookkeeping, 10 years')`);
    const [req] = await db.q(`select request_id from retention.request_erasure('cx.people', 'p1', 'ticket 5')`);
    const plan = await db.q(`select target, via, rule, rows::int, warning from retention.erasure_plan($1) order by step`, [req!.request_id]);
    expect(plan).toEqual([
      { target: 'cx.people', via: null, rule: 'delete', rows: 1, warning: 'deleting these rows would cascade to 1 row(s) of cx.ledger, which the plan keeps (ledger_person_id_fkey)' },
      { target: 'cx.accounts', via: 'accounts_person_id_fkey', rule: 'delete', rows: 1, warning: null },
      { target: 'cx.cards', via: 'cards_person_id_fkey, cards_account_id_fkey', rule: 'delete', rows: 2, warning: null },
      { target: 'cx.ledger', via: 'ledger_person_id_fkey', rule: 'keep', rows: 1, warning: null },
      { target: 'cx.notes', via: 'notes_person_id_fkey', rule: 'delete', rows: 1, warning: null },
      { target: 'cx.tags', via: 'tags_person_id_fkey', rule: 'delete', rows: 1, warning: null },
      { target: 'cx.statements', via: 'statements_account_id_fkey', rule: 'delete', rows: 1,
        warning: '1 row(s) of cx.notes outside the plan\'s condition for that table still reference these rows through notes_statement_id_fkey: the delete would fail' },
    ]);
    expect(await sqlState(db.call(`call retention.process_erasure($1)`, [req!.request_id]))).toBe('RT032');
    expect(await count(db, 'cx.ledger')).toBe(1);
    expect(await count(db, 'cx.cards')).toBe(3);
    // Rules that say what happens to those rows clear the warnings.
    await db.q(`select retention.set_erasure_rule('cx.people', 'scrub', p_scrub => '{"name": null}')`);
    await db.q(`select retention.set_erasure_rule('cx.accounts', 'keep', p_reason => 'Account history, 6 years')`);
    expect(await count(db, `retention.erasure_plan($1) where warning is not null and rule is not null`, [req!.request_id])).toBe(0);
    // What stays is listed: the scrubbed row's text key.
    expect(await db.q(`select target, via from retention.erasure_plan($1) where warning is not null`, [req!.request_id]))
      .toEqual([{ target: 'cx.people', via: 'key column(s) id keep the person\'s key' }]);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select id, name from cx.people order by id`)).toEqual([{ id: 'p1', name: null }, { id: 'p2', name: 'Sam' }]);
    expect(await db.q(`select id from cx.cards order by id`)).toEqual([{ id: '11' }, { id: '12' }]);
    expect(await count(db, 'cx.ledger')).toBe(1);
  });

  it('scrubbing a table reached through two foreign keys scrubs the rows of both and ends', async () => {
    await shop();
    await db.q(`select retention.set_erasure_rule('shop.customers', 'scrub', p_scrub => '{"name": null, "email": "sha256"}')`);
    await db.q(`select retention.set_erasure_rule('shop.messages', 'scrub', p_scrub => '{"body": null}')`);
    const [req] = await db.q(`select request_id from retention.request_erasure('shop.customers', 'cust-7731', 'ticket 6')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await db.q(`select id::int, body from shop.messages order by id`)).toEqual([{ id: 1, body: null }, { id: 2, body: null }, { id: 3, body: 'o' }]);
    expect(await db.q(`select rows::int from retention.erasure_evidence where request_id = $1 and target = 'shop.messages'`, [req!.request_id])).toEqual([{ rows: 2 }]);
  });

  it('a scrub that does not take (a trigger puts the values back) fails the request instead of looping', async () => {
    await shop();
    await db.q(`select retention.set_erasure_rule('shop.customers', 'scrub', p_scrub => '{"name": null, "email": "sha256"}')`);
    await db.q(`create function shop.keep_name() returns trigger language plpgsql as $$ begin new.name := old.name; return new; end $$`);
    await db.q(`create trigger keep_name before update on shop.customers for each row execute function shop.keep_name()`);
    const [req] = await db.q(`select request_id from retention.request_erasure('shop.customers', 'cust-8842', 'ticket 7')`);
    expect(await sqlState(db.call(`call retention.process_erasure($1)`, [req!.request_id]))).toBe('RT032');
    const [r] = await db.q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r).toEqual({ status: 'failed', status_reason: 'shop.customers: 1 row(s) do not read as changed after the update (still holding the values scrubbed, or not marked deleted): a trigger or rule on the table? (RT032)' });
    expect(await db.q(`select name, email from shop.customers where id = 'cust-8842'`)).toEqual([{ name: 'Bob', email: 'bob@example.com' }]);
  });
});
