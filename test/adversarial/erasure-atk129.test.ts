// Attack round atk129 (erasure messages, on atk125's fixes):
//  F1 money, a time, a decimal fraction, a number with an exponent and an interval of the
//     person's still "identified on their own" and went from another table's errors.
//  F2 a value with both ' and \ quoted by quote_literal (E'C:\\Users\\o''brien') was not
//     found in a message about the person's table.
//  F3 the short-word pass took the person's key 7 out of another person's failed row
//     ('has 7 unpaid invoices'): short words need a letter.
//  F4 a value many rows share ('premium') keyed a gone row of another table: its failed row
//     was wiped and given the person's token. Shared values are no key of theirs.
//  F5 a failed request processed again lost its status reason (the application's message)
//     with no record: erasure.processing names it by hash. F6 forgotten.notifications did
//     not count the request's own run notifications it rewrote.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed } = erasureHelpers(db);

const failuresOf = (policy: string) =>
  `select f.row_key, f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = '${policy}' order by f.failed_at`;

describe('an erasure and evidence about others (atk129)', () => {
  it('F1: her money, time, fraction, exponent and interval stay in another table\'s error', async () => {
    await q(`create schema b1`);
    await q(`create table b1.users (id bigint primary key, name text, balance money, wake time, wake_tz timetz, ratio numeric, big float8, tenure interval)`);
    await q(`create table b1.invoices (id bigint primary key, amount money, at time, rate numeric, created_at timestamptz not null)`);
    await q(`create function b1.refuse() returns trigger language plpgsql as $$
             begin raise exception 'invoice % of % booked at % (rate %) is under tax audit; fx 1.234567e+20; cutoff 12:00:00+02; term 1 year 2 mons 03:04:05',
                   old.id, old.amount, old.at, old.rate; end $$`);
    await q(`create trigger refuse before delete on b1.invoices for each row execute function b1.refuse()`);
    await q(`select retention.set_policy('b1.invoices', 'b1.invoices', 'delete', 'created_at', '1 day')`);
    await q(`insert into b1.invoices values (500, 1234567.00, '12:34:56.789', 0.1234567, now() - interval '3 days')`);
    await db.call(`call retention.run('b1.invoices')`).catch(() => {});
    const before = await q(failuresOf('b1.invoices'));
    expect(before[0]!.error).toContain('$1,234,567.00');
    await q(`insert into b1.users values (77, 'Someone Else', 1234567.00, '12:34:56.789', '12:00:00+02', 0.1234567, 1.234567e20, '1 year 2 mons 03:04:05')`);
    await q(`select retention.set_erasure_rule('b1.users', 'delete')`);
    const req = await file('b1.users', '77');
    expect(await processed(req)).toBe('completed');
    expect(await q(failuresOf('b1.invoices'))).toEqual(before);
  });

  it('F2: her path with a quote and backslashes, as quote_literal writes it, goes from a message about her table', async () => {
    await q(`create schema a1`);
    await q(`create table a1.users (id bigint primary key, name text, home text, created_at timestamptz not null)`);
    await q(`insert into a1.users values (7, 'Siobhan O''Brien', E'C:\\\\Users\\\\siobhan.o''brien', now()),
                                         (8, 'Other Guy', E'C:\\\\Users\\\\other', now() - interval '3 days')`);
    await q(`create function a1.refuse() returns trigger language plpgsql as $$
             begin if old.id = 8 then raise exception 'mount of % conflicts with %', quote_literal(old.home), quote_literal((select home from a1.users where id = 7)); end if;
                   return old; end $$`);
    await q(`create trigger refuse before delete on a1.users for each row execute function a1.refuse()`);
    await q(`select retention.set_policy('a1.users', 'a1.users', 'delete', 'created_at', '1 day')`);
    await db.call(`call retention.run('a1.users')`).catch(() => {});
    expect((await q(failuresOf('a1.users')))[0]!.error).toBe(`mount of E'C:\\\\Users\\\\other' conflicts with E'C:\\\\Users\\\\siobhan.o''brien'`);
    await q(`drop trigger refuse on a1.users`);
    await q(`select retention.set_erasure_rule('a1.users', 'delete')`);
    const req = await file('a1.users', '7');
    expect(await processed(req)).toBe('completed');
    const after = (await q(failuresOf('a1.users')))[0]!.error as string;
    expect(after).not.toMatch(/siobhan/i);
    expect(after).toContain(`E'C:\\\\Users\\\\other'`);
  });

  it('F3: her key as a bare number stays in another person\'s failed row', async () => {
    await q(`create schema b2`);
    await q(`create table b2.users (id bigint primary key, name text, created_at timestamptz not null)`);
    await q(`create function b2.refuse() returns trigger language plpgsql as $$
             begin if old.id = 8 then raise exception 'user 8 still has 7 unpaid invoices (dunning level 7)'; end if; return old; end $$`);
    await q(`create trigger refuse before delete on b2.users for each row execute function b2.refuse()`);
    await q(`select retention.set_policy('b2.users', 'b2.users', 'delete', 'created_at', '1 day')`);
    await q(`insert into b2.users values (8, 'Other Guy', now() - interval '3 days'), (7, 'Target Person', now())`);
    await db.call(`call retention.run('b2.users')`).catch(() => {});
    await q(`select retention.set_erasure_rule('b2.users', 'delete')`);
    const req = await file('b2.users', '7');
    expect(await processed(req)).toBe('completed');
    expect((await q(failuresOf('b2.users'))).map((r) => r.error)).toEqual(['user 8 still has 7 unpaid invoices (dunning level 7)']);
  });

  it('F4: a value many users share keys no gone row of hers', async () => {
    await q(`create schema b3`);
    await q(`create table b3.users (id bigint primary key, name text, plan text)`);
    await q(`create table b3.tags (name text primary key, created_at timestamptz not null)`);
    await q(`create function b3.refuse() returns trigger language plpgsql as $$
             begin raise exception 'tag % is still attached to 3 campaigns', old.name; end $$`);
    await q(`create trigger refuse before delete on b3.tags for each row execute function b3.refuse()`);
    await q(`select retention.set_policy('b3.tags', 'b3.tags', 'delete', 'created_at', '1 day')`);
    await q(`insert into b3.tags values ('premium', now() - interval '3 days')`);
    await db.call(`call retention.run('b3.tags')`).catch(() => {});
    await q(`drop trigger refuse on b3.tags`);
    await q(`delete from b3.tags`);
    const before = await q(failuresOf('b3.tags'));
    expect(before).toEqual([{ row_key: { name: 'premium' }, error: 'tag premium is still attached to 3 campaigns' }]);
    await q(`insert into b3.users values (7, 'Target Person', 'premium'), (8, 'Other Guy', 'premium'), (9, 'Third', 'premium')`);
    await q(`select retention.set_erasure_rule('b3.users', 'delete')`);
    const req = await file('b3.users', '7');
    expect(await processed(req)).toBe('completed');
    expect(await q(failuresOf('b3.tags'))).toEqual(before);
  });

  it('F5, F6: a failed request processed again names its prior reason by hash; its rewritten notification is counted', async () => {
    await q(`create schema c1`);
    await q(`create table c1.users (id bigint primary key, name text)`);
    await q(`create table c1.block (on_ boolean)`);
    await q(`insert into c1.block values (true)`);
    await q(`create function c1.refuse() returns trigger language plpgsql as $$
             begin if (select on_ from c1.block) then raise exception using errcode = '55000', message = 'user is locked by billing run'; end if; return old; end $$`);
    await q(`create trigger refuse before delete on c1.users for each row execute function c1.refuse()`);
    await q(`insert into c1.users values (7, 'Target Person')`);
    await q(`select retention.set_erasure_rule('c1.users', 'delete')`);
    const req = await file('c1.users', '7');
    await db.call(`call retention.process_erasure($1)`, [req]).catch(() => {});
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [req])).toEqual([{ status: 'failed' }]);
    const reason = (await q(`select status_reason from retention.erasure_requests where request_id = $1`, [req]))[0]!.status_reason as string;
    expect(reason).toBeTruthy();
    await q(`update c1.block set on_ = false`);
    expect(await processed(req)).toBe('completed');
    const [proc] = await q(`select details from retention.audit_log where action = 'erasure.processing' and object_name = $1 order by audit_id desc limit 1`, [String(req)]);
    expect(proc!.details).toMatchObject({ prior_status: 'failed',
      prior_status_reason_sha256: (await q(`select retention_internal._keyed_digest($1) as h`, [reason]))[0]!.h });
    const changed = (await q(`select details from retention.audit_log where action = 'erasure.messages_erased' and object_name = $1`, [String(req)]))
      .flatMap((r) => r.details.messages).filter((m: { table: string }) => m.table === 'notifications').length;
    const [done] = await q(`select details -> 'forgotten' as f from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(req)]);
    expect(changed).toBeGreaterThan(0);
    expect(done!.f.notifications).toBeGreaterThanOrEqual(changed);
  });
});
