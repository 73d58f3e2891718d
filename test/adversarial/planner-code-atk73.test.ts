// Attack round atk73 (privileges), each finding a test: an application role that owns its
// tables made itself superuser through code the retention owner ran for it.
//  F1 a cast from the table's row type to text, which propose() and approved runs called
//     when they hashed a row as (t.*)::text;
//  F2 an IMMUTABLE function in a partition's CHECK constraint, which the planner evaluates
//     (constant arguments) for constraint exclusion when a drop or a delete planned on it;
//  F3 the same in a partial index's predicate, which the planner evaluates when it first
//     plans any statement on the table: a run, or request_erasure by the application itself.
// PostgreSQL does not check that a function declared IMMUTABLE is.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

/** A login owning schema `name` with app.boom(int), IMMUTABLE in name only: it makes its
 * owner superuser when it runs as a superuser. */
async function app(name: string, ...memberOf: string[]): Promise<{ role: string; c: pg.Client }> {
  const c = await login(name, ...memberOf);
  const role = (await c.query<{ r: string }>(`select current_user as r`)).rows[0]!.r;
  await q(`create schema ${name} authorization ${role}`);
  await c.query(`create function ${name}.escalate() returns void language plpgsql volatile as $f$
                 begin
                   if (select rolsuper from pg_roles where rolname = current_user) then
                     execute format('alter role %I superuser', '${role}');
                   end if;
                 end $f$`);
  await c.query(`create function ${name}.boom(int) returns boolean language plpgsql immutable as $f$
                 begin perform ${name}.escalate(); return true; end $f$`);
  return { role, c };
}

async function superuser(role: string): Promise<boolean> {
  return (await q<{ s: boolean }>(`select rolsuper as s from pg_roles where rolname = $1`, [role]))[0]!.s;
}

describe('code of an application role the owner would run (atk73)', () => {
  it('F1: a cast from the table\'s row type to text is never called: propose and the approved run hash rows without it', async () => {
    const { role, c } = await app('p1');
    await c.query(`create table p1.orders (id int primary key, created_at timestamptz not null)`);
    await c.query(`insert into p1.orders select g, now() - interval '2 years' from generate_series(1, 5) g`);
    await c.query(`grant usage on schema p1 to retention_runner`);
    await c.query(`grant select, delete, update (created_at) on p1.orders to retention_runner`);
    await q(`select retention.set_policy('p1.orders', 'p1.orders', 'delete', 'created_at', interval '1 year', p_approval => 'required', p_archive => false)`);
    await c.query(`create function p1.evil(o p1.orders) returns text language plpgsql as $f$
                   begin perform p1.escalate(); return o.id::text; end $f$`);
    await c.query(`create cast (p1.orders as text) with function p1.evil(p1.orders)`);
    const [p] = await q<{ id: number }>(`select retention.propose('p1.orders')::int as id`);
    expect(await superuser(role)).toBe(false);
    const approver = await login('ap1', 'retention_approver');
    await approver.query(`select retention.approve_proposal($1, 'checked')`, [p!.id]);
    await db.call(`call retention.run('p1.orders')`);
    expect(await superuser(role)).toBe(false);
    // The hashes are of the rows' own text: the approved rows went.
    expect(await count(db, `p1.orders`)).toBe(0);
  });

  it('F2: an immutable call in a partition\'s CHECK constraint refuses a drop_partitions run and a delete that cascades there (RT025)', async () => {
    const { role, c } = await app('p2');
    await c.query(`create table p2.events (id int, created_at timestamptz not null) partition by range (created_at)`);
    await c.query(`create table p2.events_2020 partition of p2.events for values from ('2020-01-01') to ('2021-01-01')`);
    await c.query(`create table p2.events_now partition of p2.events for values from ('2021-01-01') to ('2100-01-01')`);
    await c.query(`insert into p2.events values (1, '2020-06-01'), (2, now())`);
    await q(`select retention.set_policy('p2.events', 'p2.events', 'drop_partitions', 'created_at', interval '1 year')`);
    await c.query(`alter table p2.events_2020 add constraint c check (p2.boom(1))`);
    expect(await sqlState(db.call(`call retention.run('p2.events')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `p2.events`)).toBe(2);
    // A delete whose cascade reaches such a partition.
    await c.query(`create table p2.users (id int primary key, created_at timestamptz not null)`);
    await c.query(`create table p2.logs (user_id int not null references p2.users on delete cascade, region text not null) partition by list (region)`);
    await c.query(`create table p2.logs_eu partition of p2.logs for values in ('eu')`);
    await c.query(`alter table p2.logs_eu add constraint c check (p2.boom(1))`);
    await c.query(`insert into p2.users values (1, now() - interval '2 years')`);
    await c.query(`insert into p2.logs values (1, 'eu')`);
    await q(`select retention.set_policy('p2.users', 'p2.users', 'delete', 'created_at', interval '1 year')`);
    const refused = await db.call(`call retention.run('p2.users')`).then(() => null, (e: { code?: string; message: string }) => e);
    expect(refused?.code).toBe('RT025');
    expect(refused?.message).toMatch(/constraint c on p2\.logs_eu calls p2\.boom\(integer\)/);
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `p2.users`)).toBe(1);
  });

  it('F3: an immutable call in a partial index or index expression refuses runs, previews and request_erasure (RT025)', async () => {
    const { role, c } = await app('p3', 'retention_requester');
    await c.query(`create table p3.users (id int primary key, email text, created_at timestamptz not null)`);
    await c.query(`insert into p3.users values (1, 'a@p3.example', now() - interval '2 years')`);
    await c.query(`create index users_partial on p3.users (id) where p3.boom(1)`);
    // The application alone, as a requester.
    expect(await sqlState(c.query(`select retention.request_erasure('p3.users', '1', 'ticket 1')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `retention.erasure_requests where subject_table = 'p3.users'::regclass`)).toBe(0);
    await q(`select retention.set_policy('p3.users', 'p3.users', 'delete', 'created_at', interval '1 year')`);
    expect(await sqlState(db.call(`call retention.run('p3.users')`))).toBe('RT025');
    expect(await sqlState(q(`select * from retention.preview('p3.users')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    // An index expression and extended statistics over an expression, likewise.
    await c.query(`drop index p3.users_partial`);
    await c.query(`create index users_expr on p3.users ((p3.boom(1)))`);
    expect(await sqlState(db.call(`call retention.run('p3.users')`))).toBe('RT025');
    await c.query(`drop index p3.users_expr`);
    await c.query(`create statistics p3.users_stats on (p3.boom(1)), id from p3.users`);
    expect(await sqlState(db.call(`call retention.run('p3.users')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `p3.users`)).toBe(1);
    // Without them the run goes, and a CHECK calling an immutable function with a column (never
    // evaluated when planning) does not stop it.
    await c.query(`drop statistics p3.users_stats`);
    await c.query(`create function p3.valid(text) returns boolean language sql immutable as $f$ select $1 like '%@%' $f$`);
    await c.query(`alter table p3.users add constraint ok check (p3.valid(email))`);
    await db.call(`call retention.run('p3.users')`);
    expect(await count(db, `p3.users`)).toBe(0);
  });
});
