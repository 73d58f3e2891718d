// Attack round atk31 (a table's owner runs code as the retention owner), each finding a
// test. Every one made the table's owner superuser before its fix:
//  1. a trigger's WHEN clause calling query_to_xml('select app.evil()'): built in, so the
//     code check let it through, and it ran the owner's query as the retention owner;
//  2. a WHEN clause calling pg-retention's own release_hold: the owner's EXECUTE released
//     a legal hold, audited in the runner's name;
//  3. a scrub constant cast to a column's domain while the policy was saved;
//  4. a predicate's to_json of an enum column calling the owner's cast in preview();
//  5. a composite column whose field's domain check ran in a scrub run;
//  6. an erasure step reading a table the step before had replaced by a view;
//  7. an erasure reading a subject table's inheritance child that is a foreign table;
// and round atk34 (these fixes attacked):
//  8. a WHEN clause casting to the owner's domain, or calling to_json of an enum whose
//     cast to json is the owner's: code a type runs, which no function id in the tree shows;
//  9. a column's type changed after the policy to one with the owner's implicit cast;
// 10. a deferred trigger an allowed SECURITY DEFINER trigger set off, firing at COMMIT as
//     the login that called the run.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
beforeAll(async () => { await q(`create schema if not exists app`); });

/** A login owning schema <role> with a log table and <role>.evil(), which logs who runs it and
 * tries to make the login superuser. */
async function owner(prefix: string): Promise<{ role: string; app: pg.Client }> {
  const role = `${prefix}_${randomBytes(3).toString('hex')}`;
  const app = await loginAs(db, role);
  await q(`create schema ${role} authorization ${role}`);
  await app.query(`create table ${role}.log (who text)`);
  await app.query(`create function ${role}.evil() returns int language plpgsql as $$
                     begin insert into ${role}.log values (current_user);
                           begin execute 'alter role ${role} superuser'; exception when others then null; end;
                           return 1; end $$`);
  return { role, app };
}

async function untouched(role: string) {
  expect(await q(`select * from ${role}.log`)).toEqual([]);
  expect((await q(`select rolsuper from pg_roles where rolname = $1`, [role]))[0]!.rolsuper).toBe(false);
}

describe('built-in and pg-retention functions a table names never run as the retention owner (atk31)', () => {
  it('a WHEN clause calling query_to_xml, or a superuser-only built-in, refuses the run (RT025) and runs nothing', async () => {
    const { role, app } = await owner('xml');
    await app.query(`create table ${role}.ev (id int primary key, at timestamptz not null)`);
    await app.query(`insert into ${role}.ev select i, now() - interval '10 days' from generate_series(1, 5) i`);
    await app.query(`create trigger t before delete on ${role}.ev for each row
                       when (pg_catalog.query_to_xml('select ${role}.evil()', true, true, '') is not null and false)
                       execute function pg_catalog.suppress_redundant_updates_trigger()`);
    await q(`select retention.set_policy('xml.ev', '${role}.ev', 'delete', 'at', p_retain => '1 day')`);
    expect(await sqlState(db.call(`call retention.run('xml.ev')`))).toBe('RT025');
    const [{ line }] = await q<{ line: string }>(`select retention_internal._foreign_code('${role}.ev'::regclass, false) as line`) as [{ line: string }];
    expect(line).toMatch(/trigger t on .* calls query_to_xml\(.*\) \(it runs SQL/);
    // pg_read_file: the table's owner may not execute it itself.
    await app.query(`drop trigger t on ${role}.ev`);
    await app.query(`create trigger t2 before delete on ${role}.ev for each row
                       when (pg_catalog.length(pg_catalog.pg_read_file('/etc/hostname')) < 0)
                       execute function pg_catalog.suppress_redundant_updates_trigger()`);
    expect(await sqlState(db.call(`call retention.run('xml.ev')`))).toBe('RT025');
    const [{ line: l2 }] = await q<{ line: string }>(`select retention_internal._foreign_code('${role}.ev'::regclass, false) as line`) as [{ line: string }];
    expect(l2).toMatch(new RegExp(`pg_read_file\\(text\\) \\(which ${role} may not execute itself\\)`));
    expect(await count(db, `${role}.ev`)).toBe(5);
    await untouched(role);
    // A harmless built-in in a WHEN clause runs as before.
    await app.query(`drop trigger t2 on ${role}.ev`);
    await app.query(`create trigger t3 before delete on ${role}.ev for each row when (pg_catalog.length(old.id::text) > 100)
                       execute function pg_catalog.suppress_redundant_updates_trigger()`);
    await db.call(`call retention.run('xml.ev')`);
    expect(await count(db, `${role}.ev`)).toBe(0);
    await app.end();
  });

  it('a WHEN clause calling retention.release_hold refuses the run (RT025): the hold stays and its rows with it', async () => {
    const { role, app } = await owner('rel');
    await q(`grant retention_requester to ${role}`);
    await q(`create table app.rel_mail (id int primary key, at timestamptz not null)`);
    await q(`insert into app.rel_mail select i, now() - interval '400 days' from generate_series(1, 3) i`);
    await q(`select retention.set_policy('rel.mail', 'app.rel_mail', 'delete', 'at', p_retain => '30 days')`);
    const [{ hold_id }] = await q<{ hold_id: string }>(`select hold_id from retention.place_hold('table', 'app.rel_mail', 'litigation 2026-17')`) as [{ hold_id: string }];
    await app.query(`create table ${role}.t (id int primary key, at timestamptz not null)`);
    await app.query(`insert into ${role}.t select i, now() - interval '400 days' from generate_series(1, 2) i`);
    await app.query(`create trigger t before delete on ${role}.t for each row
                       when (old.id = 1 and retention.release_hold(${hold_id}, 'no longer needed') is null)
                       execute function pg_catalog.suppress_redundant_updates_trigger()`);
    await q(`select retention.set_policy('rel.t', '${role}.t', 'delete', 'at', p_retain => '30 days')`);
    expect(await sqlState(db.call(`call retention.run('rel.t')`))).toBe('RT025');
    expect(await q(`select released_at from retention.legal_holds where hold_id = $1`, [hold_id])).toEqual([{ released_at: null }]);
    await db.call(`call retention.run('rel.mail')`);
    expect(await count(db, `app.rel_mail`)).toBe(3);
    expect(await count(db, `${role}.t`)).toBe(2);
    await q(`select retention.release_hold($1, 'test done')`, [hold_id]);
    await app.end();
  });

  it('a scrub constant is not cast through a domain whose check is the owner\'s function (RT025 at set_policy and set_erasure_rule)', async () => {
    const { role, app } = await owner('dom');
    await app.query(`create function ${role}.chk(text) returns boolean language plpgsql as $$ begin perform ${role}.evil(); return true; end $$`);
    await app.query(`create domain ${role}.dtext as text check (${role}.chk(value))`);
    await app.query(`create table ${role}.t (id int primary key, at timestamptz not null, phone ${role}.dtext)`);
    await app.query(`delete from ${role}.log`);
    const before = await count(db, 'retention.policies');
    expect(await sqlState(q(`select retention.set_policy('dom.t', '${role}.t', 'scrub', 'at', p_retain => '30 days',
                                                         p_scrub => '{"phone": {"constant": "[purged]"}}')`))).toBe('RT025');
    expect(await sqlState(q(`select retention.set_erasure_rule('${role}.t', 'scrub', p_scrub => '{"phone": {"constant": "[purged]"}}')`))).toBe('RT025');
    expect(await count(db, 'retention.policies')).toBe(before);
    expect(await count(db, `retention.erasure_rules where target = '${role}.t'::regclass`)).toBe(0);
    await untouched(role);
    await app.end();
  });

  it('a composite column whose field has such a domain refuses a scrub run (RT025); preview gives no figures and runs nothing', async () => {
    const { role, app } = await owner('cmp');
    // The check and its domain are a superuser's while the policy is saved, the owner's
    // afterwards (a domain the application owns is refused at once: it may add a check).
    await q(`create function ${role}.chk(text) returns boolean language plpgsql as $$ begin return true; end $$`);
    await q(`create domain ${role}.d as text check (${role}.chk(value))`);
    await q(`grant usage on type ${role}.d to ${role}`);
    await app.query(`create type ${role}.c as (v ${role}.d)`);
    await app.query(`create table ${role}.t (id int primary key, at timestamptz not null, info ${role}.c)`);
    await app.query(`insert into ${role}.t select i, now() - interval '400 days', row('secret')::${role}.c from generate_series(1, 2) i`);
    await q(`select retention.set_policy('cmp.t', '${role}.t', 'scrub', 'at', p_retain => '30 days', p_scrub => '{"info": {"constant": "(purged)"}}')`);
    await q(`alter function ${role}.chk(text) owner to ${role}`);
    await q(`alter domain ${role}.d owner to ${role}`);
    await app.query(`create or replace function ${role}.chk(text) returns boolean language plpgsql as $$ begin perform ${role}.evil(); return true; end $$`);
    expect(await sqlState(db.call(`call retention.run('cmp.t')`))).toBe('RT025');
    // preview lists the policy without figures (and a warning naming the code).
    expect(await q(`select policy, eligible from retention.preview('cmp.t')`)).toEqual([{ policy: 'cmp.t', eligible: null }]);
    // Saved now, it is refused at once.
    expect(await sqlState(q(`select retention.set_policy('cmp.t2', '${role}.t', 'scrub', 'at', p_retain => '30 days',
                                                         p_scrub => '{"info": {"constant": "(purged)"}}')`))).toBe('RT025');
    expect(await count(db, `${role}.t where (info).v = 'secret'`)).toBe(2);
    await untouched(role);
    await app.end();
  });

  it('preview of a predicate reading an enum as json refuses (RT025) where the owner defined the enum\'s cast to json', async () => {
    const { role, app } = await owner('cst');
    await app.query(`create type ${role}.kind as enum ('a', 'b')`);
    await app.query(`create table ${role}.t (id int primary key, at timestamptz not null, k ${role}.kind)`);
    await app.query(`insert into ${role}.t select i, now() - interval '400 days', 'a' from generate_series(1, 3) i`);
    await q(`select retention.set_policy('cst.t', '${role}.t', 'delete', 'at', p_retain => '30 days', p_predicate => 'to_json(k) is not null')`);
    await app.query(`create function ${role}.j(${role}.kind) returns json language plpgsql as $$ begin perform ${role}.evil(); return '1'::json; end $$`);
    await app.query(`create cast (${role}.kind as json) with function ${role}.j(${role}.kind)`);
    expect(await q(`select policy, eligible from retention.preview('cst.t')`)).toEqual([{ policy: 'cst.t', eligible: null }]);
    expect(await q(`select policy, eligible from retention.preview() where policy = 'cst.t'`)).toEqual([{ policy: 'cst.t', eligible: null }]);
    expect(await sqlState(db.call(`call retention.run('cst.t')`))).toBe('RT025');
    expect(await count(db, `${role}.t`)).toBe(3);
    await untouched(role);
    await app.end();
  });
});

describe('an erasure reads only the tables of its plan, as they are (atk31)', () => {
  it('a step\'s table turned into a view by the step before is refused before anything reads it', async () => {
    const { role, app } = await owner('swp');
    await app.query(`create table ${role}.users (id int primary key, name text)`);
    await app.query(`create table ${role}.orders (id int primary key, user_id int not null references ${role}.users on delete cascade, note text)`);
    await app.query(`insert into ${role}.users values (1, 'alice'), (2, 'bob')`);
    await app.query(`insert into ${role}.orders values (1, 1, 'o1'), (2, 2, 'o2')`);
    await app.query(`create function ${role}.swap() returns trigger language plpgsql security definer set search_path = ${role}, pg_catalog as $$
                       begin
                         if to_regclass('${role}.users_real') is null then
                           alter table ${role}.users rename to users_real;
                           create view ${role}.users as select id, name from ${role}.users_real where ${role}.evil() = 1;
                         end if;
                         return old;
                       end $$`);
    await app.query(`create trigger swap after delete on ${role}.orders for each row execute function ${role}.swap()`);
    const [req] = await q(`select request_id from retention.request_erasure('${role}.users', '1', 'ticket swap')`);
    const state = await sqlState(db.call(`call retention.process_erasure($1)`, [req!.request_id]));
    expect(['RT013', 'RT025']).toContain(state);
    await untouched(role);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]))
      .not.toEqual([{ status: 'completed' }]);
    await app.end();
  });

  it('an inheritance child that is a foreign table is never read; a foreign partition refuses reading its tree (RT013)', async () => {
    await q(`create extension if not exists postgres_fdw`);
    await q(`create server if not exists oc_nowhere foreign data wrapper postgres_fdw options (host '127.0.0.1', port '1', dbname 'nowhere')`);
    await q(`create user mapping if not exists for public server oc_nowhere`);
    await q(`create table app.oc_users (id int primary key, email text)`);
    await q(`insert into app.oc_users values (1, 'a@x.example'), (2, 'b@x.example')`);
    await q(`create foreign table app.oc_users_remote () inherits (app.oc_users) server oc_nowhere`);
    const [req] = await q(`select request_id from retention.request_erasure('app.oc_users', '1', 'ticket fdw')`);
    // The plan refuses the foreign child (its rows cannot be erased from here) without
    // reading it: reading it would try to connect to port 1.
    await expect(db.call(`call retention.process_erasure($1)`, [req!.request_id])).rejects.toThrow(/oc_users_remote inherits from app\.oc_users and is a foreign table/);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).not.toEqual([{ status: 'completed' }]);
    expect(await count(db, `only app.oc_users`)).toBe(2);
    // A partitioned table with a foreign partition: its tree is not read as the owner.
    await q(`create table app.oc_p (id int, at timestamptz not null) partition by range (at)`);
    await q(`create table app.oc_p_1 partition of app.oc_p for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`create foreign table app.oc_p_2 partition of app.oc_p for values from ('2021-01-01') to ('2022-01-01') server oc_nowhere`);
    expect(await sqlState(q(`select retention_internal._reach_scan('app.oc_p')`))).toBe('RT013');
    expect(await q(`select retention_internal._reach_scan('app.oc_users') as s`)).toEqual([{ s: 'only app.oc_users' }]);
  });
});

describe('code a type runs, and deferred triggers (atk34)', () => {
  it('a WHEN clause or CHECK casting to the owner\'s domain, or to_json of an enum with the owner\'s cast, refuses the run (RT025)', async () => {
    const { role, app } = await owner('typ');
    await app.query(`create function ${role}.ok(text) returns boolean language plpgsql as $$ begin perform ${role}.evil(); return true; end $$`);
    await app.query(`create domain ${role}.dom as text check (${role}.ok(value))`);
    await app.query(`create function ${role}.trg() returns trigger language plpgsql security definer as $$ begin return old; end $$`);
    await app.query(`create table ${role}.a (id int primary key, at timestamptz not null, note text)`);
    await app.query(`create trigger t before delete on ${role}.a for each row when ((old.note::${role}.dom) is not null) execute function ${role}.trg()`);
    await app.query(`create type ${role}.e as enum ('x')`);
    await app.query(`create function ${role}.j(${role}.e) returns json language plpgsql as $$ begin perform ${role}.evil(); return '1'::json; end $$`);
    await app.query(`create cast (${role}.e as json) with function ${role}.j(${role}.e)`);
    await app.query(`create table ${role}.b (id int primary key, at timestamptz not null)`);
    await app.query(`create trigger t before delete on ${role}.b for each row when (to_json(case when old.id > 0 then 'x'::${role}.e end) is not null) execute function ${role}.trg()`);
    await app.query(`create table ${role}.c (id int primary key, at timestamptz not null, email text check ((email::${role}.dom) is not null or email is null))`);
    for (const t of ['a', 'b', 'c']) {
      await app.query(`insert into ${role}.${t} (id, at) select i, now() - interval '400 days' from generate_series(1, 3) i`);
    }
    await app.query(`delete from ${role}.log`);
    await q(`select retention.set_policy('typ.a', '${role}.a', 'delete', 'at', p_retain => '30 days')`);
    await q(`select retention.set_policy('typ.b', '${role}.b', 'delete', 'at', p_retain => '30 days')`);
    await q(`select retention.set_policy('typ.c', '${role}.c', 'scrub', 'at', p_retain => '30 days', p_scrub => '{"email": null}')`).catch(() => undefined);
    for (const p of ['typ.a', 'typ.b']) expect(await sqlState(db.call(`call retention.run('${p}')`)), p).toBe('RT025');
    if (await count(db, `retention.policies where name = 'typ.c'`)) expect(await sqlState(db.call(`call retention.run('typ.c')`))).toBe('RT025');
    expect(await count(db, `${role}.a`) + await count(db, `${role}.b`)).toBe(6);
    await untouched(role);
    await app.end();
  });

  it('a column whose type gained the owner\'s implicit cast after the policy refuses the run before counting (RT025)', async () => {
    const { role, app } = await owner('cst2');
    await app.query(`create table ${role}.t (id int primary key, created_at timestamptz not null)`);
    await app.query(`insert into ${role}.t select i, now() - interval '400 days' from generate_series(1, 5) i`);
    await q(`select retention.set_policy('cst2.t', '${role}.t', 'delete', 'created_at', p_retain => '30 days')`);
    await app.query(`create type ${role}.ts as (ts timestamptz)`);
    await app.query(`create function ${role}.n(${role}.ts) returns name language plpgsql as $$ begin perform ${role}.evil(); return $1.ts::text; end $$`);
    await app.query(`create cast (${role}.ts as name) with function ${role}.n(${role}.ts) as implicit`);
    await app.query(`alter table ${role}.t alter column created_at type ${role}.ts using row(created_at)::${role}.ts`);
    await app.query(`delete from ${role}.log`);
    expect(await sqlState(db.call(`call retention.run('cst2.t')`))).toBe('RT025');
    expect(await count(db, `${role}.t`)).toBe(5);
    await untouched(role);
    await app.end();
  });

  it('an application\'s SECURITY DEFINER trigger that would set off a deferred trigger is refused (RT025): nothing fires', async () => {
    const { role, app } = await owner('dfr');
    await app.query(`create table ${role}.t (id int primary key, created_at timestamptz not null)`);
    await app.query(`insert into ${role}.t select i, now() - interval '400 days' from generate_series(1, 3) i`);
    await app.query(`create table ${role}.side (who text)`);
    await app.query(`grant insert, select on ${role}.log, ${role}.side to public`);
    await app.query(`create function ${role}.late() returns trigger language plpgsql as $$ begin perform ${role}.evil(); return null; end $$`);
    await app.query(`create constraint trigger late after insert on ${role}.side deferrable initially deferred for each row execute function ${role}.late()`);
    await app.query(`create function ${role}.trg() returns trigger language plpgsql security definer set search_path = pg_catalog as $$
                       begin insert into ${role}.side values (session_user); return old; end $$`);
    await app.query(`create trigger t before delete on ${role}.t for each row execute function ${role}.trg()`);
    await q(`select retention.set_policy('dfr.t', '${role}.t', 'delete', 'created_at', p_retain => '30 days')`);
    // The application's SECURITY DEFINER trigger is refused itself (atk43: inside the run's
    // session it could change settings or functions for the rest of the batch), so it
    // never sets the deferred one off.
    expect(await sqlState(db.call(`call retention.run('dfr.t')`))).toBe('RT025');
    expect(await count(db, `${role}.t`)).toBe(3);
    expect(await q(`select * from ${role}.side`)).toEqual([]);
    await untouched(role);
    await app.end();
  });

  it('an application\'s SECURITY DEFINER trigger that changes search_path, or redefines another trigger\'s function, is refused (RT025); so is setval in a WHEN clause (atk43, atk49, atk50)', async () => {
    const { role, app } = await owner('sd');
    await app.query(`create table ${role}.t (id bigint primary key, created_at timestamptz not null)`);
    await app.query(`insert into ${role}.t select i, now() - interval '400 days' from generate_series(1, 3) i`);
    // A plain SET in a SECURITY DEFINER function outlives it: the rest of the batch would
    // resolve its operators on this path, as the retention owner.
    await app.query(`create function ${role}.sp() returns trigger language plpgsql security definer as $$
                       begin perform pg_catalog.set_config('search_path', '${role}, pg_catalog', false); return old; end $$`);
    await app.query(`create function ${role}.eq(bigint, bigint) returns boolean language plpgsql as $$
                       begin perform ${role}.evil(); return $1 operator(pg_catalog.=) $2; end $$`);
    await app.query(`create operator ${role}.= (leftarg = bigint, rightarg = bigint, function = ${role}.eq)`);
    await app.query(`create trigger sp before delete on ${role}.t for each row execute function ${role}.sp()`);
    await q(`select retention.set_policy('sd.t', '${role}.t', 'delete', 'created_at', p_retain => '30 days')`);
    expect(await sqlState(db.call(`call retention.run('sd.t')`))).toBe('RT025');
    expect(await count(db, `${role}.t`)).toBe(3);
    await untouched(role);
    // A SECURITY DEFINER trigger that turns another one SECURITY INVOKER within the statement.
    await app.query(`drop trigger sp on ${role}.t`);
    await app.query(`create function ${role}.b() returns trigger language plpgsql security definer as $$ begin perform ${role}.evil(); return old; end $$`);
    await app.query(`create function ${role}.a() returns trigger language plpgsql security definer as $$
                       begin execute 'alter function ${role}.b() security invoker'; return old; end $$`);
    await app.query(`create trigger a before delete on ${role}.t for each row execute function ${role}.a()`);
    await app.query(`create trigger b after delete on ${role}.t for each row execute function ${role}.b()`);
    expect(await sqlState(db.call(`call retention.run('sd.t')`))).toBe('RT025');
    expect(await count(db, `${role}.t`)).toBe(3);
    await untouched(role);
    // setval on pg-retention's own sequence from a WHEN clause (the owner's rights on it).
    await app.query(`drop trigger a on ${role}.t; drop trigger b on ${role}.t`);
    await q(`grant usage on schema ${role} to public`);
    await app.query(`create trigger w before delete on ${role}.t for each row
                       when (pg_catalog.setval('retention.legal_holds_hold_id_seq'::text::regclass, 1, false) > 0)
                       execute function pg_catalog.suppress_redundant_updates_trigger()`);
    const [seq] = await q(`select last_value::text as v from retention.legal_holds_hold_id_seq`);
    expect(await sqlState(db.call(`call retention.run('sd.t')`))).toBe('RT025');
    expect(await q(`select last_value::text as v from retention.legal_holds_hold_id_seq`)).toEqual([seq]);
    expect(await count(db, `${role}.t`)).toBe(3);
    // A serial column's default (nextval) is not refused: no statement of ours evaluates it.
    await app.query(`drop trigger w on ${role}.t`);
    await app.query(`create table ${role}.s (id serial primary key, created_at timestamptz not null, email text)`);
    await app.query(`insert into ${role}.s (created_at, email) select now() - interval '400 days', 'x@example.com' from generate_series(1, 3)`);
    await q(`select retention.set_policy('sd.s', '${role}.s', 'scrub', 'created_at', p_retain => '30 days', p_scrub => '{"email": "null"}')`);
    await db.call(`call retention.run('sd.s')`);
    expect(await count(db, `${role}.s where email is null`)).toBe(3);
    await untouched(role);
    await app.end();
  });

  it('a cast of the application\'s from text into its enum key never runs as the owner: request_erasure refuses (RT025), a hold is placed all the same, a run compares the enum by its label and keeps the held row (atk50, atk107 F1)', async () => {
    const { role, app } = await owner('cst');
    await app.query(`create type ${role}.k as enum ('a', 'b')`);
    await app.query(`create function ${role}.tok(text) returns ${role}.k language plpgsql as $$
                       begin perform ${role}.evil(); return 'a'::${role}.k; end $$`);
    await app.query(`create cast (text as ${role}.k) with function ${role}.tok(text)`);
    await app.query(`create table ${role}.users (id ${role}.k primary key, name text)`);
    await app.query(`insert into ${role}.users values ('a', 'Alice')`);
    await app.query(`create table ${role}.events (id int primary key, who ${role}.k, at timestamptz not null)`);
    await app.query(`insert into ${role}.events values (1, 'b', now() - interval '400 days')`);
    await q(`grant usage on schema ${role} to public`);
    await app.query(`grant select on ${role}.users, ${role}.events to public`);
    expect(await sqlState(q(`select retention.request_erasure('${role}.users', 'a', 'ticket')`))).toBe('RT025');
    expect(await sqlState(q(`select retention.export_subject('${role}.users', 'a')`))).toBe('RT025');
    await untouched(role);
    await q(`select retention.set_policy('cst.ev', '${role}.events', 'delete', 'at', p_retain => '30 days', p_subject_column => 'who')`);
    const [h] = await q(`select hold_id from retention.place_hold('subject', 'b', 'litigation')`);
    expect(h!.hold_id).toBeTruthy();
    await untouched(role);
    // The hold compares an enum column by its label's text (format's %s: no cast), so the
    // cast never runs; the row it holds stays.
    const err = await db.call(`call retention.run('cst.ev')`).then(() => null, (e: { code?: string }) => e.code);
    const [run] = await q(`select status, error_code from retention.runs where policy_name = 'cst.ev' order by run_id desc limit 1`);
    expect([err, run!.status, run!.error_code]).toEqual([null, 'completed', null]);
    expect(await count(db, `${role}.events`)).toBe(1);
    await untouched(role);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
    await app.end();
  });

  it('archive_rows_held does not read rows as a row type whose domain runs the application\'s code: it keeps them (atk50)', async () => {
    const { role, app } = await owner('arh');
    await app.query(`create function ${role}.chk(int) returns boolean language plpgsql as $$ begin perform ${role}.evil(); return true; end $$`);
    await app.query(`create domain ${role}.d as int check (${role}.chk(value))`);
    await app.query(`create table ${role}.t (id int primary key, who text, x ${role}.d, at timestamptz)`);
    await q(`grant usage on schema ${role} to public`);
    await app.query(`grant select on ${role}.t to public`);
    await q(`select retention.set_policy('arh.t', '${role}.t', 'delete', 'at', p_retain => '30 days', p_subject_column => 'who')`);
    const [h] = await q(`select hold_id from retention.place_hold('subject', 'someone', 'litigation')`);
    // (An object the manifest does not know is judged by the live tables alone.)
    expect((await q(`select retention.archive_rows_held(999999, '[{"table": "${role}.t", "row": {"id": 1, "who": "zz", "x": 5}}]') as held`))[0]!.held).toBe(true);
    const [o] = await q(`insert into retention.archive_objects (object_key, target, created_by, status, rels, tables)
                         values ('arh-test-${role}', 'file:///nowhere', 'test', 'verified', array['${role}.t'::regclass::oid], '{"${role}.t": 1}')
                         returning object_id`);
    const [r] = await q(`select retention.archive_rows_held($1, '[{"table": "${role}.t", "row": {"id": 1, "who": "zz", "x": 5}}]') as held`, [o!.object_id]);
    expect(r!.held).toBe(true);
    await untouched(role);
    await q(`delete from retention.archive_objects where object_id = $1`, [o!.object_id]);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
    await app.end();
  });

  it('an expression tree is read for every kind of call: functions, operators (row comparisons too), IS DISTINCT FROM, NULLIF, ANY, casts and types', async () => {
    await q(`create domain app.tr_small as int check (value < 100)`);
    await q(`create table app.tr (a int, b text, c int[],
               constraint tr_check check (
                 (a, b) < (5, 'x') and a is distinct from 3 and nullif(a, 4) is not null
                 and a = any (c) and length(b) > 0 and (a::app.tr_small) is not null))`);
    const refs = await q<{ kind: string; name: string }>(
      `select r.kind, case when r.kind = 'function' then r.id::regprocedure::text
                           when r.kind = 'operator' then r.id::regoperator::text
                           else r.id::regtype::text end as name
         from pg_constraint c cross join lateral retention_internal._tree_refs(c.conbin::text) r
        where c.conname = 'tr_check'`);
    const of = (kind: string) => refs.filter((r) => r.kind === kind).map((r) => r.name);
    // The row comparison's operators are a list (:opnos), its functions found behind them.
    expect(of('operator')).toEqual(expect.arrayContaining(['<(integer,integer)', '<(text,text)', '=(integer,integer)', '>(integer,integer)']));
    expect(of('function')).toEqual(expect.arrayContaining(['int4lt(integer,integer)', 'text_lt(text,text)', 'int4eq(integer,integer)', 'length(text)']));
    expect(of('type')).toContain('app.tr_small');
    expect(of('vartype')).toEqual(expect.arrayContaining(['integer', 'text', 'integer[]']));
    expect(await q(`select count(*)::int as n from retention_internal._tree_refs(null)`)).toEqual([{ n: 0 }]);
  });
});
