// Attack round atk27 (privileges, evidence), each finding a test:
//  1. a function in a partition key expression ran as the retention owner when a
//     soft-delete or scrub policy updated rows of a partition (PostgreSQL checks the
//     partition's bounds by evaluating the key): the table owner made itself superuser;
//  2. the ledger counted rows as scrubbed or soft-deleted that a BEFORE UPDATE trigger of
//     the table's owner (SECURITY DEFINER, so allowed to run) had put back.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('code of a table\'s owner never runs as the retention owner (atk27)', () => {
  it('a partition key expression calling the owner\'s function refuses soft-delete and scrub runs (RT025), and never runs', async () => {
    const role = `pkown_${randomBytes(3).toString('hex')}`;
    const app = await loginAs(db, role);
    await q(`create schema ${role} authorization ${role}`);
    await app.query(`create table ${role}.log (who text)`);
    await app.query(`create function ${role}.grab() returns int language plpgsql as $$
                       begin insert into ${role}.log values (current_user);
                             begin execute 'alter role ${role} superuser'; exception when others then null; end;
                             return 1; end $$`);
    await app.query(`create function ${role}.k(i int) returns int language plpgsql immutable as $$ begin perform ${role}.grab(); return i; end $$`);
    await app.query(`create table ${role}.pt (id int, at timestamptz not null, deleted_at timestamptz, email text) partition by range (${role}.k(id))`);
    await app.query(`create table ${role}.pt_1 partition of ${role}.pt for values from (0) to (1000)`);
    await app.query(`insert into ${role}.pt select i, now() - interval '10 days', null, 'x' from generate_series(1, 20) i`);
    await app.query(`delete from ${role}.log`);
    await q(`select retention.set_policy('pk.soft', '${role}.pt_1', 'soft_delete', 'at', p_retain => '1 day', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.set_policy('pk.scrub', '${role}.pt_1', 'scrub', 'at', p_retain => '1 day', p_scrub => '{"email": "null"}')`);
    for (const p of ['pk.soft', 'pk.scrub']) {
      expect(await sqlState(db.call(`call retention.run('${p}')`)), p).toBe('RT025');
    }
    const [{ line }] = await q<{ line: string }>(`select retention_internal._foreign_code('${role}.pt_1'::regclass, true) as line`) as [{ line: string }];
    expect(line).toMatch(/the partition key of .*pt calls .*k\(integer\)/);
    expect(await count(db, `${role}.pt where deleted_at is not null or email is null`)).toBe(0);
    expect(await q(`select * from ${role}.log`)).toEqual([]);
    expect((await q(`select rolsuper from pg_roles where rolname = $1`, [role]))[0]!.rolsuper).toBe(false);
    // A delete evaluates no key: it runs.
    await q(`select retention.set_policy('pk.del', '${role}.pt_1', 'delete', 'at', p_retain => '1 day')`);
    await db.call(`call retention.run('pk.del')`);
    expect(await count(db, `${role}.pt`)).toBe(0);
    expect(await q(`select * from ${role}.log`)).toEqual([]);
    await app.end();
  });
});

describe('code of a table\'s owner hidden in its column types never runs as the retention owner (atk30)', () => {
  it('a domain over a domain, and a range type\'s subtype_diff under a GiST index, refuse soft-delete runs (RT025), and never run', async () => {
    const role = `tyown_${randomBytes(3).toString('hex')}`;
    const app = await loginAs(db, role);
    await q(`create schema ${role} authorization ${role}`);
    await app.query(`create table ${role}.log (who text)`);
    await app.query(`create function ${role}.grab() returns void language plpgsql as $$
                       begin insert into ${role}.log values (current_user);
                             begin execute 'alter role ${role} superuser'; exception when others then null; end; end $$`);
    await app.query(`create function ${role}.ok(timestamptz) returns boolean language plpgsql as $$ begin perform ${role}.grab(); return true; end $$`);
    await app.query(`create domain ${role}.d1 as timestamptz check (${role}.ok(value))`);
    await app.query(`create domain ${role}.d2 as ${role}.d1`);
    await app.query(`create table ${role}.items (id bigint primary key, at timestamptz not null, deleted_at ${role}.d2)`);
    await app.query(`create function ${role}.diff(a int4, b int4) returns float8 language plpgsql immutable as $$ begin perform ${role}.grab(); return (a - b)::float8; end $$`);
    await app.query(`create type ${role}.r as range (subtype = int4, subtype_diff = ${role}.diff)`);
    await app.query(`create table ${role}.slots (id bigint primary key, at timestamptz not null, deleted_at timestamptz, span ${role}.r)`);
    await app.query(`create index on ${role}.slots using gist (span)`);
    await app.query(`create index on ${role}.slots (deleted_at)`);
    await app.query(`insert into ${role}.items select i, now() - interval '10 days', null from generate_series(1, 20) i`);
    await app.query(`insert into ${role}.slots select i, now() - interval '10 days', null, ${role}.r(i, i + 10) from generate_series(1, 200) i`);
    await app.query(`delete from ${role}.log`);
    await q(`select retention.set_policy('ty.items', '${role}.items', 'soft_delete', 'at', p_retain => '1 day', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.set_policy('ty.slots', '${role}.slots', 'soft_delete', 'at', p_retain => '1 day', p_deleted_at_column => 'deleted_at')`);
    for (const p of ['ty.items', 'ty.slots']) {
      expect(await sqlState(db.call(`call retention.run('${p}')`)), p).toBe('RT025');
    }
    expect(await count(db, `${role}.items where deleted_at is not null`)).toBe(0);
    expect(await count(db, `${role}.slots where deleted_at is not null`)).toBe(0);
    expect(await q(`select * from ${role}.log`)).toEqual([]);
    expect((await q(`select rolsuper from pg_roles where rolname = $1`, [role]))[0]!.rolsuper).toBe(false);
    // Deletes write no value: they run.
    await q(`select retention.set_policy('ty.slots.del', '${role}.slots', 'delete', 'at', p_retain => '1 day')`);
    await db.call(`call retention.run('ty.slots.del')`);
    expect(await count(db, `${role}.slots`)).toBe(0);
    await app.end();
  });
});

describe('the ledger counts only rows that were changed (atk27)', () => {
  it('a trigger that puts scrubbed values or the deletion mark back fails the run (RT032), and the ledger counts no such row', async () => {
    const role = `undo_${randomBytes(3).toString('hex')}`;
    const app = await loginAs(db, role);
    await q(`create schema ${role} authorization ${role}`);
    await app.query(`create table ${role}.sc (id int primary key, at timestamptz not null, email text, deleted_at timestamptz)`);
    await app.query(`insert into ${role}.sc select i, now() - interval '10 days', 'p' || i || '@example.com', null from generate_series(1, 12) i`);
    await app.query(`create function ${role}.put_back() returns trigger language plpgsql security definer as $$
                       begin new.email := old.email; new.deleted_at := old.deleted_at; return new; end $$`);
    await app.query(`create trigger put_back before update on ${role}.sc for each row execute function ${role}.put_back()`);
    // Owned by a trusted role (the code check refuses another role's function, SECURITY
    // DEFINER or not): the trigger runs, and what it undoes is what the ledger must see.
    await q(`alter function ${role}.put_back() owner to current_user`);
    await q(`select retention.set_policy('undo.scrub', '${role}.sc', 'scrub', 'at', p_retain => '1 day', p_scrub => '{"email": "null"}')`);
    await q(`select retention.set_policy('undo.soft', '${role}.sc', 'soft_delete', 'at', p_retain => '1 day', p_deleted_at_column => 'deleted_at')`);
    for (const p of ['undo.scrub', 'undo.soft']) {
      const err = await db.call(`call retention.run('${p}')`).then(() => null, (e: { code?: string }) => e.code ?? 'none');
      const [run] = await q<{ status: string; affected: number }>(
        `select status, affected::int from retention.runs where policy_name = $1 order by run_id desc limit 1`, [p]);
      // Every row fails alone too: the run fails, nothing counted.
      expect([p, err, run]).toEqual([p, expect.anything(), { status: 'failed', affected: 0 }]);
      expect(await count(db, `retention.run_batches b join retention.runs r using (run_id) where r.policy_name = $1 and b.rows > 0`, [p])).toBe(0);
    }
    expect(await count(db, `${role}.sc where email is null or deleted_at is not null`)).toBe(0);
    // Without the trigger, the same runs change every row and count them.
    await app.query(`drop trigger put_back on ${role}.sc`);
    await db.call(`call retention.run('undo.scrub')`);
    await db.call(`call retention.run('undo.soft')`);
    expect(await q(`select policy_name, status, affected::int from retention.runs where policy_name like 'undo.%' and status = 'completed' order by run_id`))
      .toEqual([{ policy_name: 'undo.scrub', status: 'completed', affected: 12 }, { policy_name: 'undo.soft', status: 'completed', affected: 12 }]);
    expect(await count(db, `${role}.sc where email is null and deleted_at is not null`)).toBe(12);
    await app.end();
  });
});

describe('bad input an attacker tried (atk27): refused with a hint, nothing changed', () => {
  it('retention tables as erasure targets, absurd periods, a NULL switch, bad claims, unprintable names and an infinite due date', async () => {
    await q(`create schema bi27`);
    await q(`create table bi27.people (id int primary key, email text, at timestamptz not null default now())`);
    await q(`insert into bi27.people values (1, 'a@example.com')`);
    const counts = async () => (await q(`select (select count(*) from retention.erasure_rules)::int as rules, (select count(*) from retention.policies)::int as policies,
                                               (select count(*) from retention.defaults)::int as defaults, (select count(*) from retention.legal_holds)::int as holds,
                                               (select count(*) from retention.erasure_requests)::int as requests, (select count(*) from retention.audit_log)::int as audit`))[0];
    const before = await counts();
    for (const [sql, code] of [
      [`select retention.set_erasure_rule('retention.legal_holds', 'scrub', '{"reason": {"constant": "forged"}}', p_subject_column => 'hold_id', p_subject_table => 'bi27.people')`, 'RT013'],
      [`select retention.set_erasure_rule('retention.policies', 'delete')`, 'RT013'],
      [`select retention.set_erasure_rule('pg_catalog.pg_class', 'keep', p_reason => 'x')`, 'RT013'],
      [`select retention.set_policy('bi27.p', 'bi27.people', 'delete', 'at', p_retain => '100000 years')`, 'RT004'],
      [`select retention.set_policy('bi27.p', 'bi27.people', 'delete', 'at', p_retain => '1 year', p_enabled => null)`, 'RT006'],
      [`select retention.set_default('global', '5000 years')`, 'RT004'],
      [`select * from retention.claim_notifications(null, 10)`, 'RT006'],
      [`select * from retention.claim_notifications('w', -1)`, 'RT006'],
      [`select * from retention.claim_notifications('w', 10, '-1 minute')`, 'RT006'],
      [`select * from retention.claim_notifications('w', 100000000, '100 years')`, 'RT006'],
      [`select retention.request_erasure('bi27.people', '1', E'mallory\\u202Enimda')`, 'RT029'],
      [`select retention.request_erasure('bi27.people', '1', repeat('x', 100000))`, 'RT029'],
      [`select retention.request_erasure('bi27.people', '1', 'ticket 1', 'infinity')`, 'RT029'],
      [`select retention.place_hold('table', 'bi27.people', 'case 1', p_placed_by => E'bob\\x1f')`, 'RT010'],
    ] as const) {
      const err = await q(sql).then(() => ({ code: 'none', hint: null }), (e: { code?: string; hint?: string }) => ({ code: e.code, hint: e.hint ?? null }));
      expect([sql, err.code], sql).toEqual([sql, code]);
      expect(err.hint, sql).toBeTruthy();
    }
    expect(await counts()).toEqual(before);
    // An actor name is kept without its invisible and direction-changing characters.
    const c = await db.connect();
    await c.query(`set retention.actor = E'mallory\\u202E\\u200Bnimda'`);
    const { rows: [h] } = await c.query<{ hold_id: number; placed_by: string }>(`select hold_id::int, placed_by from retention.place_hold('table', 'bi27.people', 'case 2')`);
    expect(h!.placed_by).toBe('mallorynimda');
    expect((await q(`select actor from retention.audit_log where action = 'hold.placed' order by audit_id desc limit 1`))[0]!.actor).toBe('mallorynimda');
    await c.query(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
    await c.end();
  });
});
