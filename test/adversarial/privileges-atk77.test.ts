// Attack round atk77 (privileges), each finding a test: a role made itself superuser
// through code the retention owner ran for it.
//  F1 a predicate's function in a trusted schema that the application owned, replaced
//     after the policy was saved; an admin trusted a schema of its own (preview was enough);
//  F2 a sha256 scrub cast its digest into a column retyped to the application's type, with
//     the application's cast from text;
//  F3 the soft-delete stamp cast clock_timestamp() into a column retyped to the
//     application's enum, with its cast from timestamptz: the run completed;
//  F4 pg-boss's job_table_run (owned by the owner, executable by PUBLIC, runs the SQL it
//     is given) in the WHEN clause of an admin's own table's trigger.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { installJobSchema } from '../../runner/migrate.ts';
import { loadConfig } from '../../runner/config.ts';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

async function roleOf(c: pg.Client): Promise<string> {
  return (await c.query<{ r: string }>(`select current_user as r`)).rows[0]!.r;
}

/** A function body that makes `role` superuser when it runs as a superuser. */
const escalate = (role: string) => `if (select rolsuper from pg_roles where rolname = current_user) then
                                      execute format('alter role %I superuser', '${role}');
                                    end if;`;

async function superuser(role: string): Promise<boolean> {
  return (await q<{ s: boolean }>(`select rolsuper as s from pg_roles where rolname = $1`, [role]))[0]!.s;
}

const runError = async (policy: string) =>
  (await q<{ status: string; error_code: string }>(`select status, error_code from retention.runs where policy_name = $1 order by run_id desc limit 1`, [policy]))[0];

describe('code the owner would run for another role (atk77)', () => {
  it('F1: a schema another role owns, may create in, or has a function in cannot be trusted', async () => {
    const app = await login('t1app');
    const appRole = await roleOf(app);
    const adm = await login('t1adm', 'retention_admin');
    const admRole = await roleOf(adm);
    await q(`create schema t1_fns authorization ${appRole}`);
    await app.query(`create function t1_fns.is_old(ts timestamptz) returns boolean language sql stable as $$ select ts < now() - interval '1 day' $$`);
    await app.query(`grant usage on schema t1_fns to ${admRole} with grant option`);
    expect(await sqlState(adm.query(`select retention.trust_schema('t1_fns', 'helpers of the app team')`))).toBe('RT005');
    const err = await adm.query(`select retention.trust_schema('t1_fns', 'helpers')`).catch((e: Error) => e);
    expect((err as Error).message).toMatch(new RegExp(`schema t1_fns cannot be trusted: it is owned by ${appRole}`));
    // The owner's schema, but another role may create in it, or owns a function there.
    await q(`create schema t1_own`);
    await q(`grant create on schema t1_own to ${appRole}`);
    await expect(q(`select retention.trust_schema('t1_own', 'helpers')`)).rejects.toThrow(new RegExp(`${appRole} may create in it`));
    await q(`revoke create on schema t1_own from ${appRole}`);
    await q(`create function t1_own.f(int) returns int language sql immutable as $$ select $1 $$`);
    await q(`alter function t1_own.f(int) owner to ${appRole}`);
    await expect(q(`select retention.trust_schema('t1_own', 'helpers')`)).rejects.toThrow(/function t1_own\.f\(integer\) is owned by/);
    await q(`alter function t1_own.f(int) owner to current_user`);
    await q(`grant create on schema t1_own to public`);
    await expect(q(`select retention.trust_schema('t1_own', 'helpers')`)).rejects.toThrow(/PUBLIC may create in it/);
    await q(`revoke create on schema t1_own from public`);
    expect(await q(`select schema_name from retention.trust_schema('t1_own', 'helpers the owner reviewed')`)).toEqual([{ schema_name: 't1_own' }]);
    expect(await count(db, `retention.trusted_schemas where schema_name in ('t1_fns')`)).toBe(0);
  });

  it('F1: a predicate\'s function handed to another role after the policy was saved stops every statement built from it; so does a distrusted schema', async () => {
    const app = await login('t2app');
    const appRole = await roleOf(app);
    await q(`create schema t2`);
    await q(`create table t2.events (id int primary key, created_at timestamptz not null)`);
    await q(`insert into t2.events select g, now() - interval '100 days' from generate_series(1, 6) g`);
    await q(`create schema t2_fns`);
    await q(`create function t2_fns.is_even(i int) returns boolean language sql immutable as $$ select i % 2 = 0 $$`);
    await q(`select retention.trust_schema('t2_fns', 'reviewed by the DBA')`);
    await q(`select retention.set_policy('t2', 't2.events', 'delete', 'created_at', interval '30 days', p_predicate => 't2_fns.is_even(id)')`);
    await db.call(`call retention.run('t2', p_max_rows => 2)`);
    expect(await count(db, 't2.events')).toBe(4);
    // The owner hands the function to the application (or an older release trusted it as
    // it was), which replaces it.
    await q(`alter function t2_fns.is_even(int) owner to ${appRole}`);
    await q(`grant usage on schema t2_fns to ${appRole}`);
    await q(`grant create on schema t2_fns to ${appRole}`);
    await app.query(`create or replace function t2_fns.is_even(i int) returns boolean language plpgsql immutable as $f$
                     begin ${escalate(appRole)} return true; end $f$`);
    expect(await sqlState(db.call(`call retention.run('t2')`))).toBe('RT025');
    expect(await runError('t2')).toMatchObject({ status: 'failed', error_code: 'RT025' });
    expect(await sqlState(q(`select * from retention.preview('t2')`))).toBe('RT025');
    expect(await superuser(appRole)).toBe(false);
    expect(await count(db, 't2.events')).toBe(4);
    // Taken back, it runs again; distrusted, it does not.
    await q(`revoke create on schema t2_fns from ${appRole}`);
    await q(`create or replace function t2_fns.is_even(i int) returns boolean language sql immutable as $$ select i % 2 = 0 $$`);
    await q(`alter function t2_fns.is_even(int) owner to current_user`);
    await db.call(`call retention.run('t2')`);
    expect(await count(db, 't2.events')).toBe(3);
    await q(`insert into t2.events values (8, now() - interval '100 days')`);
    await q(`select retention.distrust_schema('t2_fns', 'no longer needed')`);
    await expect(db.call(`call retention.run('t2')`)).rejects.toThrow(/schema t2_fns is not trusted/);
    expect(await count(db, 't2.events where id = 8')).toBe(1);
  });

  it('F1: an enum of the application\'s own schema in a predicate runs; replaced by a domain with a check of its own, it is refused', async () => {
    const app = await login('t3app');
    const appRole = await roleOf(app);
    await q(`create schema t3 authorization ${appRole}`);
    await app.query(`create type t3.state as enum ('open', 'closed')`);
    await app.query(`create table t3.tickets (id int primary key, state t3.state not null, created_at timestamptz not null)`);
    await app.query(`insert into t3.tickets select g, case when g % 2 = 0 then 'closed' else 'open' end::t3.state, now() - interval '100 days' from generate_series(1, 4) g`);
    await app.query(`grant usage on schema t3 to retention_runner`);
    await app.query(`grant select, delete on t3.tickets to retention_runner`);
    const [p] = await q<{ predicate: string }>(`select predicate from retention.set_policy('t3', 't3.tickets', 'delete', 'created_at', interval '30 days', p_predicate => $$state = 'closed'$$)`);
    expect(p!.predicate).toMatch(/::t3\.state/);
    await db.call(`call retention.run('t3')`);
    expect(await count(db, 't3.tickets')).toBe(2);
    // The enum renamed, a domain of the same name whose check is the application's code.
    await app.query(`insert into t3.tickets values (8, 'closed', now() - interval '100 days')`);
    await app.query(`alter type t3.state rename to state_v1`);
    await app.query(`create function t3.ok(text) returns boolean language plpgsql immutable as $f$ begin ${escalate(appRole)} return true; end $f$`);
    await app.query(`create domain t3.state as text check (t3.ok(value))`);
    expect(await sqlState(db.call(`call retention.run('t3')`))).toBe('RT025');
    expect(await superuser(appRole)).toBe(false);
    expect(await count(db, 't3.tickets')).toBe(3);
  });

  it('F1: an admin cannot trust a schema of its own; preview runs nothing of it', async () => {
    const adm = await login('t4adm', 'retention_admin');
    const admRole = await roleOf(adm);
    await q(`grant create on database ${db.name} to ${admRole}`);
    await adm.query(`create schema t4_adm`);
    await adm.query(`create function t4_adm.v() returns boolean language plpgsql volatile as $f$ begin ${escalate(admRole)} return true; end $f$`);
    await adm.query(`create function t4_adm.s(i int) returns boolean language sql stable as $$ select t4_adm.v() $$`);
    expect(await sqlState(adm.query(`select retention.trust_schema('t4_adm', 'mine')`))).toBe('RT005');
    expect(await superuser(admRole)).toBe(false);
    await q(`revoke create on database ${db.name} from ${admRole}`);
  });

  it('F2: a sha256 scrub of a column retyped to the application\'s type, with its cast from text, refuses the run; the cast never runs', async () => {
    const app = await login('t5app');
    const appRole = await roleOf(app);
    await q(`create schema t5 authorization ${appRole}`);
    await app.query(`create table t5.users (id int primary key, email text, deleted_at timestamptz)`);
    await app.query(`insert into t5.users select g, 'u' || g || '@t5.example', now() - interval '100 days' from generate_series(1, 3) g`);
    await app.query(`grant usage on schema t5 to retention_runner`);
    await app.query(`grant select, update on t5.users to retention_runner`);
    await q(`select retention.set_policy('t5', 't5.users', 'scrub', 'deleted_at', interval '30 days', p_scrub => '{"email": "sha256"}')`);
    await app.query(`create type t5.ct as (v text)`);
    await app.query(`create function t5.evil(text) returns t5.ct language plpgsql as $f$ begin ${escalate(appRole)} return row($1)::t5.ct; end $f$`);
    await app.query(`create cast (text as t5.ct) with function t5.evil(text)`);
    await app.query(`alter table t5.users alter column email type t5.ct using row(email)::t5.ct`);
    expect(await sqlState(db.call(`call retention.run('t5')`))).toBe('RT019');
    expect(await superuser(appRole)).toBe(false);
    expect(await count(db, `t5.users where (email).v like 'u%@t5.example'`)).toBe(3);
  });

  it('F3: a soft-delete marker retyped to the application\'s enum, with its cast from timestamptz, refuses the run (RT001); a domain over timestamptz with another role\'s check refuses it (RT025)', async () => {
    const app = await login('t6app');
    const appRole = await roleOf(app);
    await q(`create schema t6 authorization ${appRole}`);
    await app.query(`create table t6.accounts (id int primary key, last_login_at timestamptz, deleted_at timestamptz)`);
    await app.query(`insert into t6.accounts select g, now() - interval '400 days', null from generate_series(1, 3) g`);
    await app.query(`grant usage on schema t6 to retention_runner`);
    await app.query(`grant select, update on t6.accounts to retention_runner`);
    await q(`select retention.set_policy('t6', 't6.accounts', 'soft_delete', 'last_login_at', interval '365 days', p_deleted_at_column => 'deleted_at')`);
    await app.query(`create type t6.state as enum ('active', 'deleted')`);
    await app.query(`create function t6.evil(timestamptz) returns t6.state language plpgsql as $f$ begin ${escalate(appRole)} return 'deleted'; end $f$`);
    await app.query(`create cast (timestamptz as t6.state) with function t6.evil(timestamptz)`);
    await app.query(`alter table t6.accounts alter column deleted_at type t6.state using null`);
    expect(await sqlState(db.call(`call retention.run('t6')`))).toBe('RT001');
    expect(await superuser(appRole)).toBe(false);
    expect(await count(db, `t6.accounts where deleted_at is null`)).toBe(3);
    // A domain over timestamptz whose check is the application's function.
    await app.query(`create function t6.ok(timestamptz) returns boolean language plpgsql immutable as $f$ begin ${escalate(appRole)} return true; end $f$`);
    await app.query(`create domain t6.stamp as timestamptz check (t6.ok(value))`);
    await app.query(`alter table t6.accounts alter column deleted_at type t6.stamp using null`);
    expect(await sqlState(db.call(`call retention.run('t6')`))).toBe('RT025');
    expect(await superuser(appRole)).toBe(false);
    expect(await count(db, `t6.accounts where deleted_at is null`)).toBe(3);
  });

  it('F4: pg-boss\'s functions in a trigger\'s WHEN clause refuse the run; PUBLIC may not execute them', async () => {
    await installJobSchema(db.url, loadConfig({ DATABASE_URL: db.url }));
    expect(await q(`select has_function_privilege('public', 'retention_jobs.job_table_run(text, text, text)', 'EXECUTE') as p`)).toEqual([{ p: false }]);
    const adm = await login('t7adm', 'retention_admin');
    const admRole = await roleOf(adm);
    await q(`grant create on database ${db.name} to ${admRole}`);
    await adm.query(`create schema t7`);
    await adm.query(`create table t7.t (id bigserial primary key, created_at timestamptz not null)`);
    await adm.query(`insert into t7.t (created_at) select now() - interval '100 days' from generate_series(1, 3)`);
    await adm.query(`create trigger x after delete on t7.t for each row
                       when (retention_jobs.job_table_run('alter role ${admRole} superuser', null, null)::text is null)
                       execute function retention.object_column_trigger('0')`);
    await adm.query(`select retention.set_policy('t7', 't7.t', 'delete', 'created_at', interval '30 days')`);
    const err = await adm.query(`call retention.run('t7')`).catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).toBe('RT025');
    expect((err as Error).message).toMatch(/job schema/);
    expect(await superuser(admRole)).toBe(false);
    expect(await count(db, 't7.t')).toBe(3);
    await q(`revoke create on database ${db.name} from ${admRole}`);
  });

  // Round atk80 F1: an enum of the admin's session's pg_temp was written without its
  // schema, and a later session's pg_temp domain of the same name ran its check as the owner.
  it('atk80 F1: a predicate naming a type of a temporary schema is refused', async () => {
    await q(`create schema t8`);
    await q(`create table t8.jobs (id int primary key, status text, created_at timestamptz not null)`);
    const adm = await login('t8adm', 'retention_admin');
    await q(`grant usage on schema t8 to retention_admin`);
    await q(`grant select on t8.jobs to retention_admin`);
    await adm.query(`create type pg_temp.e as enum ('done')`);
    const err = await adm.query(`select retention.set_policy('t8', 't8.jobs', 'delete', 'created_at', interval '30 days', p_predicate => $$status = ('done'::pg_temp.e)::text$$)`)
      .catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).toBe('RT005');
    expect((err as Error).message).toMatch(/temporary schema/);
    expect(await count(db, `retention.policies where name = 't8'`)).toBe(0);
  });

  // Round atk80 F2: json_populate_record(col, …) writes a value of the column's type; the
  // column retyped to the application's composite with a domain field ran its check.
  it('atk80 F2: a predicate over a column retyped to a type with another role\'s domain check refuses the run', async () => {
    const app = await login('t9app');
    const appRole = await roleOf(app);
    await q(`create schema t9 authorization ${appRole}`);
    await app.query(`create table t9.ev (id bigint primary key, created_at timestamptz not null, meta pg_catalog.pg_namespace)`);
    await app.query(`insert into t9.ev select g, now() - interval '400 days', null from generate_series(1, 5) g`);
    await app.query(`grant usage on schema t9 to retention_runner`);
    await app.query(`grant select, delete on t9.ev to retention_runner`);
    await q(`select retention.set_policy('t9', 't9.ev', 'delete', 'created_at', interval '30 days', p_predicate => $$json_populate_record(meta, '{"nspname": "zz"}'::json) is not null$$)`);
    await app.query(`create function t9.chk(text) returns boolean language plpgsql as $f$ begin ${escalate(appRole)} return true; end $f$`);
    await app.query(`create domain t9.dom as text check (t9.chk(value))`);
    await app.query(`create type t9.comp as (nspname t9.dom)`);
    await app.query(`alter table t9.ev alter column meta type t9.comp using null::t9.comp`);
    expect(await sqlState(db.call(`call retention.run('t9')`))).toBe('RT025');
    expect(await superuser(appRole)).toBe(false);
    expect(await count(db, 't9.ev')).toBe(5);
  });
});
