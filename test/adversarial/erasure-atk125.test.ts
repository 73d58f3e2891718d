// Attack round atk125 (erasure messages, on stop 48's first fix):
//  F1 a key of seven digits or a date counted as "identifying on its own": erasing user
//     1234567 rewrote another table's invoice errors ('parent ([erased])', 'due [erased]').
//     A number as a numeric column writes it, and a date or time, no longer identify alone.
//  F2 notifications with no run and no policy (another request's erasure_completed, with a
//     receiver's answer) were taken as concerning every person: a single word of hers went.
//     Only those of requests on the erasure's tables are.
//  F3 a value a message quotes inside a row literal ("Robert ""Bobby"" Tablesworth") stayed.
//  F4 the reason of a released hold on a value of hers was erased from every request's
//     status reason: another subject's request lost why it was blocked.
//  F8 an older request carried out by this one had its status reason replaced unaudited.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed } = erasureHelpers(db);

async function erasedIds(req: number, table: string): Promise<unknown[]> {
  const rows = await q(`select details from retention.audit_log where action = 'erasure.messages_erased' and object_name = $1`, [String(req)]);
  return rows.flatMap((r) => r.details.messages).filter((m: { table: string }) => m.table === table).map((m: { id: unknown }) => m.id);
}

describe('an erasure and evidence about others (atk125)', () => {
  it('F1: a seven-digit key and a date of hers stay in another table\'s errors', async () => {
    await q(`create schema a1`);
    await q(`create table a1.users (id int primary key, born date, name text)`);
    await q(`create table a1.invoices (id int primary key, due date, created_at timestamptz not null default now() - interval '3 years')`);
    await q(`create function a1.refuse() returns trigger language plpgsql as $$
             begin raise exception 'invoice % due % is under tax audit; parent (%) has open orders', old.id, old.due, old.id; end $$`);
    await q(`create trigger refuse before delete on a1.invoices for each row execute function a1.refuse()`);
    await q(`select retention.set_policy('a1.invoices', 'a1.invoices', 'delete', 'created_at', '1 year')`);
    await q(`insert into a1.invoices (id, due) values (1234567, '2026-10-01')`);
    await db.call(`call retention.run('a1.invoices')`).catch(() => {});
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'a1.invoices'`;
    const before = await q(failures);
    expect(before).toEqual([{ error: 'invoice 1234567 due 2026-10-01 is under tax audit; parent (1234567) has open orders' }]);
    await q(`insert into a1.users values (1234567, '2026-10-01', 'Someone Q')`);
    await q(`select retention.set_erasure_rule('a1.users', 'delete')`);
    const req = await file('a1.users', '1234567');
    expect(await processed(req)).toBe('completed');
    expect(await q(failures)).toEqual(before);
    expect(await erasedIds(req, 'run_row_failures')).toEqual([]);
  });

  it('F2: another subject table\'s request notification keeps a single word of hers', async () => {
    await q(`create schema a2`);
    await q(`create table a2.customers (id int primary key, name text)`);
    await q(`create table a2.users (id int primary key, name text, city text)`);
    await q(`insert into a2.customers values (5, 'Zed Zedson')`);
    await q(`insert into a2.users values (7, 'Pat Q', 'Wolfsburg'), (8, 'Kim Q', 'Hannover')`);
    await q(`select retention.set_erasure_rule('a2.customers', 'delete')`);
    await q(`select retention.set_erasure_rule('a2.users', 'delete')`);
    const r1 = await file('a2.customers', '5');
    expect(await processed(r1)).toBe('completed');
    const [n] = await q(`select notification_id::int as id from retention.notifications where kind = 'erasure_completed' and payload ->> 'request_id' = $1`, [String(r1)]);
    await q(`select count(*) from retention.claim_notifications('w1', 10000)`);
    await q(`select retention.settle_notification($1, 'w1', false, 'receiver answered 503: gateway Wolfsburg unavailable', 8, '0')`, [n!.id]);
    const r2 = await file('a2.users', '7');
    expect(await processed(r2)).toBe('completed');
    expect(await q(`select last_error from retention.notifications where notification_id = $1`, [n!.id]))
      .toEqual([{ last_error: 'receiver answered 503: gateway Wolfsburg unavailable' }]);
    expect(await erasedIds(r2, 'notifications')).not.toContain(n!.id);
  });

  it('F3: her name inside a row literal in a message about her table goes', async () => {
    await q(`create schema a3`);
    await q(`create table a3.users (id int primary key, name text, referrer int, seen_at timestamptz)`);
    await q(`insert into a3.users values (7, 'Robert "Bobby" Tablesworth', null, now()), (8, 'Other Person', 7, now() - interval '400 days')`);
    await q(`create function a3.refuse() returns trigger language plpgsql as $$
             begin raise exception 'user % cannot go: referred by %', old.id, (select u from a3.users u where u.id = old.referrer); end $$`);
    await q(`create trigger refuse before delete on a3.users for each row execute function a3.refuse()`);
    await q(`select retention.set_policy('a3.users', 'a3.users', 'delete', 'seen_at', '1 year')`);
    await db.call(`call retention.run('a3.users')`).catch(() => {});
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'a3.users'`;
    expect((await q(failures))[0]!.error).toContain('"Robert ""Bobby"" Tablesworth"');
    await q(`drop trigger refuse on a3.users`);
    await q(`select retention.set_erasure_rule('a3.users', 'delete')`);
    const req = await file('a3.users', '7');
    expect(await processed(req)).toBe('completed');
    const after = (await q(failures))[0]!.error as string;
    expect(after).not.toMatch(/Tablesworth|Bobby/);
  });

  it('F4: a released hold\'s reason stays in another subject\'s request; F8: a request carried out is audited', async () => {
    await q(`create schema a4`);
    await q(`create table a4.customers (id int primary key, name text, email text)`);
    await q(`create table a4.vendors (id int primary key, name text)`);
    await q(`insert into a4.vendors values (20, 'Bob B')`);
    await q(`insert into a4.customers values (1, 'Alice A', 'alice.a4@example.org'), (2, 'Carl C', 'carl.c4@example.org')`);
    await q(`select retention.set_erasure_rule('a4.vendors', 'delete')`);
    await q(`select retention.set_erasure_rule('a4.customers', 'delete')`);
    await q(`select retention.place_hold('subject', '20', 'litigation hold: Acme v. Widget')`);
    const rb = await file('a4.vendors', '20');
    expect(await processed(rb)).toBe('blocked_by_hold');
    const reason = (await q(`select status_reason from retention.erasure_requests where request_id = $1`, [rb]))[0]!.status_reason;
    expect(reason).toContain('Acme v. Widget');
    const [ha] = await q(`select hold_id::int as id from retention.place_hold('subject', 'alice.a4@example.org', 'litigation hold: Acme v. Widget')`);
    await q(`select retention.release_hold($1, 'case settled for her')`, [ha!.id]);
    // F8: an older request for her, failed, is carried out by the next.
    const old = await file('a4.customers', '1');
    await q(`update retention.erasure_requests set status = 'failed', status_reason = 'the store was down' where request_id = $1`, [old]);
    const ra = await file('a4.customers', '1');
    expect(await processed(ra)).toBe('completed');
    expect(await q(`select status_reason from retention.erasure_requests where request_id = $1`, [rb])).toEqual([{ status_reason: reason }]);
    expect(await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [old]))
      .toEqual([{ status: 'completed', status_reason: `carried out by erasure request ${ra}` }]);
    expect(await erasedIds(ra, 'erasure_requests')).toContain(old);
  });
});
