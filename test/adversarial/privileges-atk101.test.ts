// Attack round atk101 (no role but the owner gains the owner's powers; against the lock
// the planner check takes since atk99): an application role that owns its table became
// superuser through code the retention owner's planner ran while it planned on the table:
//  F1  a default argument: f(id) in an index, f(x int, y int default app.evil());
//  F2  a function replaced while the routine waited for another table's lock: f (PL/pgSQL,
//      a column among its arguments) passed the check, then became an inlinable SQL
//      function calling app.evil(); the table lock does not stop CREATE OR REPLACE;
//  F3  a cast to the application's domain in an index, the domain's CHECK calling
//      app.evil().
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { escalatingApp, isSuperuser } from '../support/escalation.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

const superuser = (role: string) => isSuperuser(db, role);

/** The application's login, its schema with a table of 10 old rows and a referencing
 * table, evil(): IMMUTABLE, makes it superuser when a superuser runs it. */
async function app(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
  const c = await login(name);
  const { role, s } = await escalatingApp(db, c, name);
  await c.query(`create function ${s}.evil() returns int language plpgsql immutable as $$ begin return ${s}.esc(); end $$`);
  await c.query(`create table ${s}.t (id int primary key, created_at timestamptz not null default now() - interval '40 days')`);
  await c.query(`create table ${s}.c (id int primary key, t_id int references ${s}.t on delete cascade)`);
  await c.query(`insert into ${s}.t select g from generate_series(1, 10) g`);
  await c.query(`grant usage on schema ${s} to public`);
  await c.query(`grant select, delete on ${s}.t, ${s}.c to public`);
  await q(`select retention.set_policy('${s}.t', '${s}.t', 'delete', 'created_at', p_retain => '30 days')`);
  return { c, role, s };
}

describe('code the planner finds outside the expression tree (atk101 F1, F3)', () => {
  it('a default argument of a function in an index, and a cast to a domain whose CHECK calls the function: refused (RT025)', async () => {
    const { c, role, s } = await app('f1');
    await c.query(`create function ${s}.f(x int, y int default ${s}.evil()) returns int language plpgsql immutable as $$ begin return x; end $$`);
    await c.query(`create index t_f on ${s}.t (${s}.f(id))`);
    expect((await q(`select retention_internal._planner_code('${s}.t') as why`))[0]!.why).toMatch(/default argument of .*evil/);
    expect(await sqlState(q(`select * from retention.preview('${s}.t')`))).toBe('RT025');
    expect(await sqlState(db.call(`call retention.run('${s}.t')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    await c.query(`drop index ${s}.t_f`);
    await c.query(`create domain ${s}.dom as int check (${s}.evil() = 1)`);
    await c.query(`create index t_dom on ${s}.t ((id::${s}.dom))`);
    expect((await q(`select retention_internal._planner_code('${s}.t') as why`))[0]!.why).toMatch(/casts to domain .*dom/);
    expect(await sqlState(q(`select * from retention.preview('${s}.t')`))).toBe('RT025');
    expect(await sqlState(db.call(`call retention.run('${s}.t')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    await c.query(`drop index ${s}.t_dom`);
    expect(await count(db, `${s}.t`)).toBe(10);
    // Without them, the run goes.
    await db.call(`call retention.run('${s}.t')`);
    expect(await count(db, `${s}.t`)).toBe(0);
  });
});

describe('a function replaced while the routine waits for another table (atk101 F2)', () => {
  it('CREATE OR REPLACE of the function an index calls waits for the routine; the routine plans with what it checked', async () => {
    const { c, role, s } = await app('f2');
    await c.query(`create function ${s}.f(x int) returns int language plpgsql immutable as $$ begin return x; end $$`);
    await c.query(`create index t_f on ${s}.t (${s}.f(id))`);
    // The application holds its referencing table against the routine's lock.
    await c.query(`begin`);
    await c.query(`lock table ${s}.c in share mode`);
    const runner = await login('f2run', 'retention_runner');
    const preview = runner.query(`select eligible::int from retention.preview('${s}.t')`).then((r) => r.rows, (e: { code?: string }) => e.code);
    await expect.poll(async () => (await q(`select count(*)::int as n from pg_locks where relation = '${s}.c'::regclass and not granted`))[0]!.n,
                      { timeout: 10_000, interval: 25 }).toBe(1);
    // The replacement waits for the routine, which holds the function's row.
    const other = await db.connect();
    await other.query(`set role ${role}`);
    await other.query(`set lock_timeout = '1s'`);
    expect(await sqlState(other.query(`create or replace function ${s}.f(x int) returns int language sql immutable as 'select x + 0 * ${s}.evil()'`)))
      .toBe('55P03');
    await other.end();
    await c.query(`commit`);
    expect(await preview).toEqual([{ eligible: 10 }]);
    expect(await superuser(role)).toBe(false);
    // Replaced once no routine holds it, it is refused from then on.
    await c.query(`create or replace function ${s}.f(x int) returns int language sql immutable as 'select x + 0 * ${s}.evil()'`);
    expect(await sqlState(runner.query(`select * from retention.preview('${s}.t')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
  });
});

describe('domains the application owns, however the planner reaches them (atk103)', () => {
  it('a domain cast in a default argument (F1), a domain whose CHECK casts to another (F3), a domain without a CHECK yet (F2): refused', async () => {
    const { c, role, s } = await app('d3');
    await c.query(`create domain ${s}.dom2 as int check (${s}.evil() = 1)`);
    await c.query(`create domain ${s}.dom as int check ((value::${s}.dom2) is not null)`);
    await c.query(`create domain ${s}.bare as int`);
    await c.query(`create function ${s}.f(x int, y int default (0::${s}.dom2)::int) returns int language plpgsql immutable as $$ begin return x; end $$`);
    for (const [index, why] of [[`(${s}.f(id))`, /default argument of .*casts to domain .*dom2/], [`((id::${s}.dom))`, /casts to domain .*dom/],
                                [`((id::${s}.bare))`, /casts to domain .*bare, owned by/]] as const) {
      await c.query(`create index ix on ${s}.t ${index}`);
      expect((await q(`select retention_internal._planner_code('${s}.t') as why`))[0]!.why, index).toMatch(why);
      expect(await sqlState(q(`select * from retention.preview('${s}.t')`)), index).toBe('RT025');
      expect(await sqlState(db.call(`call retention.run('${s}.t')`)), index).toBe('RT025');
      expect(await superuser(role), index).toBe(false);
      await c.query(`drop index ${s}.ix`);
    }
    expect(await count(db, `${s}.t`)).toBe(10);
  });
});

describe('a scrub writing a column of the application\'s domain whose CHECK casts to another (atk103 F3, write path)', () => {
  it('refused (RT025) before any row is written; the function never runs', async () => {
    const { c, role, s } = await app('d4');
    await c.query(`create domain ${s}.dom2 as text check (${s}.evil() = 1)`);
    await c.query(`create domain ${s}.note as text check (value is null or (value::${s}.dom2) is not null)`);
    await c.query(`alter table ${s}.t add column memo ${s}.note`);
    await c.query(`update ${s}.t set memo = 'secret'`);
    await c.query(`grant update on ${s}.t to public`);
    const made = await q(`select retention.set_policy('${s}.scrub', '${s}.t', 'scrub', 'created_at', interval '30 days',
                                                      p_scrub => '{"memo": {"constant": "redacted"}}')`).then(() => 'ok', (e: { code?: string }) => e.code);
    // Refused when the policy is set, or else by the run.
    const code = made === 'ok' ? await sqlState(db.call(`call retention.run('${s}.scrub')`)) : made;
    expect(code).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `${s}.t where memo = 'secret'`)).toBe(10);
  });
});

describe('a column written, of the application\'s domain (atk103, the write path)', () => {
  it('a scrub or soft delete writing a column of a domain the application owns is refused though it has no CHECK yet: one may come at any time', async () => {
    const { c, role, s } = await app('d5');
    await c.query(`create domain ${s}.note as text`);
    await c.query(`create domain ${s}.stamp as timestamptz`);
    await c.query(`alter table ${s}.t add column memo ${s}.note, add column gone_at ${s}.stamp`);
    await c.query(`update ${s}.t set memo = 'secret'`);
    await c.query(`grant update on ${s}.t to public`);
    for (const rule of ['null', '"sha256"', '{"constant": "redacted"}']) {
      const err = await q(`select retention.set_policy('${s}.scrub', '${s}.t', 'scrub', 'created_at', interval '30 days', p_scrub => '{"memo": ${rule}}')`)
        .then(() => null, (e: { code?: string; message: string }) => e);
      expect(err, rule).toMatchObject({ code: 'RT025', message: expect.stringMatching(/column memo of .* is of domain .*note, owned by/) });
    }
    // Set while the domain was a superuser's, then handed to the application: the run refuses.
    await q(`alter domain ${s}.note owner to current_user`);
    await q(`select retention.set_policy('${s}.scrub', '${s}.t', 'scrub', 'created_at', interval '30 days', p_scrub => '{"memo": null}')`);
    await q(`alter domain ${s}.note owner to ${role}`);
    expect(await sqlState(db.call(`call retention.run('${s}.scrub')`))).toBe('RT025');
    // A soft delete's marker column of such a domain, likewise.
    await q(`select retention.set_policy('${s}.soft', '${s}.t', 'soft_delete', 'created_at', interval '30 days', p_deleted_at_column => 'gone_at')`)
      .then(() => db.call(`call retention.run('${s}.soft')`))
      .then(() => expect.unreachable('a write into the application\'s domain'), (e: { code?: string }) => expect(e.code).toBe('RT025'));
    await c.query(`alter domain ${s}.note add constraint c check (${s}.evil() = 1) not valid`);
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `${s}.t where memo = 'secret' and gone_at is null`)).toBe(10);
  });
});
