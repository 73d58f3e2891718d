// Attack round atk105 (no role but the owner gains the owner's powers): an application role
// that owns its tables became superuser through code the retention owner's planner ran:
//  F1  an inheritance child, created after an erasure's plan was fixed, of a table with an
//      ON DELETE SET NULL key: the orphan guard counted the table without ONLY, and the
//      planner folded the child's partial index predicate app.evil() = 1;
//  F2  a range type whose subtype_diff is the application's: rangesel calls it on the
//      column's histogram while it estimates a condition on the column (an index predicate
//      implied by the run's age condition, or the policy's own predicate);
//  F3  the application's operator in a partial index predicate, with the built-in
//      estimator eqsel: it calls the operator's function on the column's common values,
//      though a column is among its arguments (nothing is folded).
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { escalatingApp, isSuperuser } from '../support/escalation.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

const superuser = (role: string) => isSuperuser(db, role);

/** The application's login and schema: a table of 2,000 old rows with a column k of
 * repeated values (analyzed: most common values and a histogram), vol() (esc()), a
 * delete policy on it. */
async function app(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
  const c = await login(name);
  const { role, s } = await escalatingApp(db, c, name);
  await c.query(`create table ${s}.t (id int primary key, created_at timestamptz not null, k int)`);
  await c.query(`insert into ${s}.t select g, now() - interval '1 year', g % 5 from generate_series(1, 2000) g`);
  await c.query(`grant usage on schema ${s} to public`);
  await c.query(`grant select, delete on ${s}.t to public`);
  await q(`select retention.set_policy('${s}.t', '${s}.t', 'delete', 'created_at', p_retain => '30 days')`);
  return { c, role, s };
}

/** Refused everywhere the owner plans on the table, and the application is no superuser. */
async function refused(s: string, role: string, why: RegExp): Promise<void> {
  expect((await q(`select retention_internal._planner_code('${s}.t') as why`))[0]!.why).toMatch(why);
  expect(await sqlState(q(`select * from retention.preview('${s}.t')`))).toBe('RT025');
  expect(await sqlState(db.call(`call retention.run('${s}.t')`))).toBe('RT025');
  expect(await superuser(role)).toBe(false);
  expect(await count(db, `${s}.t`)).toBe(2000);
}

describe('what the estimators run for an index predicate (atk105 F3)', () => {
  it('the application\'s operator (eqsel on the common values) and a STABLE function with constant arguments: refused (RT025)', async () => {
    const { c, role, s } = await app('e1');
    await c.query(`create function ${s}.opf(a int, b int) returns boolean language plpgsql immutable strict as $$ begin perform ${s}.esc(); return a = b; end $$`);
    await c.query(`create operator ${s}.=== (leftarg = int, rightarg = int, function = ${s}.opf, restrict = eqsel)`);
    await c.query(`create index t_k on ${s}.t (id) where created_at is not null or k operator(${s}.===) 3`);
    await c.query(`analyze ${s}.t`);
    await refused(s, role, /index .*t_k calls .*opf\(integer,integer\) \(owned by .*\) in its predicate, which the planner estimates/);
    await c.query(`drop index ${s}.t_k`);
    // scalarltsel on the histogram, through an operator of the application's for <.
    await c.query(`create function ${s}.ltf(a int, b int) returns boolean language plpgsql immutable strict as $$ begin perform ${s}.esc(); return a < b; end $$`);
    await c.query(`create operator ${s}.<<< (leftarg = int, rightarg = int, function = ${s}.ltf, restrict = scalarltsel)`);
    await c.query(`create index t_lt on ${s}.t (id) where created_at is not null or id operator(${s}.<<<) 300`);
    await c.query(`analyze ${s}.t`);
    await refused(s, role, /index .*t_lt calls .*ltf/);
    await c.query(`drop index ${s}.t_lt`);
    // A function declared IMMUTABLE for the index, made STABLE afterwards: the estimator
    // folds it (estimate_expression_value), though the planner does not.
    await c.query(`create function ${s}.lim() returns int language plpgsql immutable as $$ begin perform ${s}.esc(); return 3; end $$`);
    await c.query(`create index t_st on ${s}.t (id) where created_at is not null or k = ${s}.lim()`);
    await c.query(`alter function ${s}.lim() stable`);
    await c.query(`analyze ${s}.t`);
    await refused(s, role, /index .*t_st calls .*lim\(\)/);
    await c.query(`drop index ${s}.t_st`);
    // Without them, the run goes.
    await db.call(`call retention.run('${s}.t')`);
    expect(await count(db, `${s}.t`)).toBe(0);
    expect(await superuser(role)).toBe(false);
  });

  it('the application\'s function called with a column, in an index expression or in a predicate the run\'s condition implies: not refused', async () => {
    const { c, role, s } = await app('e2');
    await c.query(`create function ${s}.norm(x int) returns int language plpgsql immutable strict as $$ begin perform ${s}.esc(); return x; end $$`);
    await c.query(`create function ${s}.ok(x int) returns boolean language plpgsql immutable strict as $$ begin perform ${s}.esc(); return x > 0; end $$`);
    // A unique index on the application's normal form, for live rows: common, and the
    // planner runs norm() neither when it plans nor when it estimates; nor ok(k), whose
    // selectivity is a default.
    await c.query(`create unique index t_norm on ${s}.t (${s}.norm(id)) where created_at is not null`);
    await c.query(`create index t_ok on ${s}.t (id) where created_at is not null or ${s}.ok(k)`);
    await c.query(`create index t_ok2 on ${s}.t (id) where created_at is not null or ${s}.norm(k) = 3`);
    await c.query(`analyze ${s}.t`);
    expect((await q(`select retention_internal._planner_code('${s}.t') as why`))[0]!.why).toBeNull();
    expect(await q(`select eligible::int from retention.preview('${s}.t')`)).toEqual([{ eligible: 2000 }]);
    await db.call(`call retention.run('${s}.t')`);
    expect(await count(db, `${s}.t`)).toBe(0);
    expect(await superuser(role)).toBe(false);
  });
});

describe('a range type whose subtype_diff is the application\'s (atk105 F2)', () => {
  it('a value of it (or of a domain over it) in an index predicate or in the policy\'s predicate: refused (RT025); a delete of the table runs', async () => {
    const { c, role, s } = await app('r1');
    await c.query(`create function ${s}.diff(a float8, b float8) returns float8 language plpgsql immutable strict as $$ begin perform ${s}.esc(); return a - b; end $$`);
    await c.query(`create type ${s}.frange as range (subtype = float8, subtype_diff = ${s}.diff)`);
    await c.query(`alter table ${s}.t add column span ${s}.frange`);
    await c.query(`update ${s}.t set span = ${s}.frange(id, id + 10)`);
    await c.query(`create index t_span on ${s}.t (id) where created_at is not null or span @> 5.0::float8`);
    await c.query(`analyze ${s}.t`);
    await refused(s, role, /index .*t_span has in its predicate a value of type .*frange, which range type .*frange calls .*diff\(double precision,double precision\)/);
    await c.query(`drop index ${s}.t_span`);
    // The admin's predicate on it: refused when set, or else by every read.
    const made = await q(`select retention.set_policy('${s}.p', '${s}.t', 'delete', 'created_at', p_retain => '30 days', p_predicate => 'span @> 5.0::float8')`)
      .then(() => 'ok', (e: { code?: string }) => e.code);
    if (made === 'ok') {
      expect(await sqlState(q(`select * from retention.preview('${s}.p')`))).toBe('RT025');
      expect(await sqlState(db.call(`call retention.run('${s}.p')`))).toBe('RT025');
      await q(`select retention.drop_policy('${s}.p')`);
    } else {
      expect(made).toBe('RT025');
    }
    expect(await superuser(role)).toBe(false);
    // A domain over it (the chain of types is followed), in an index predicate.
    await c.query(`alter table ${s}.t drop column span`);
    await c.query(`create domain ${s}.fspan as ${s}.frange`);
    await c.query(`alter table ${s}.t add column span ${s}.fspan`);
    await c.query(`update ${s}.t set span = ${s}.frange(id, id + 10)`);
    await c.query(`create index t_span on ${s}.t (id) where created_at is not null or span @> 5.0::float8`);
    await c.query(`analyze ${s}.t`);
    await refused(s, role, /index .*t_span has in its predicate a value of type .*, which range type .*frange calls/);
    // Nothing of ours estimates a condition on the column otherwise: a delete runs, and
    // the function never does (a GiST index on it is not touched by a delete).
    await c.query(`drop index ${s}.t_span`);
    await c.query(`create index t_gist on ${s}.t using gist (span)`);
    await c.query(`analyze ${s}.t`);
    expect((await q(`select retention_internal._planner_code('${s}.t') as why`))[0]!.why).toBeNull();
    await db.call(`call retention.run('${s}.t')`);
    expect(await count(db, `${s}.t`)).toBe(0);
    expect(await superuser(role)).toBe(false);
    await c.query(`insert into ${s}.t select g, now() - interval '1 year', g % 5 from generate_series(1, 2000) g`);
    // A built-in range type is no one's code: the run goes.
    await c.query(`alter table ${s}.t drop column span`);
    await c.query(`alter table ${s}.t add column span numrange`);
    await c.query(`update ${s}.t set span = numrange(id, id + 10)`);
    await c.query(`create index t_span on ${s}.t (id) where created_at is not null or span @> 5.0`);
    await c.query(`analyze ${s}.t`);
    expect((await q(`select retention_internal._planner_code('${s}.t') as why`))[0]!.why).toBeNull();
    await db.call(`call retention.run('${s}.t')`);
    expect(await count(db, `${s}.t`)).toBe(0);
    expect(await superuser(role)).toBe(false);
  });
});

describe('inheritance children of a table the owner reads (atk105 F1)', () => {
  it('a child with an index calling the application\'s function makes the parent refused: the check reads every table below it', async () => {
    const { c, role, s } = await app('i1');
    await c.query(`create function ${s}.evil() returns int language plpgsql immutable as $$ begin return ${s}.esc(); end $$`);
    await c.query(`create table ${s}.t_old () inherits (${s}.t)`);
    await c.query(`create index t_old_evil on ${s}.t_old (id) where ${s}.evil() = 1`);
    await refused(s, role, /index .*t_old_evil calls .*evil\(\)/);
  });

  it('an erasure whose orphan guard counts a table created after the plan, with such a child: refused, and no superuser', async () => {
    const c = await login('i2');
    const { role, s } = await escalatingApp(db, c, 'i2');
    await c.query(`create function ${s}.evil() returns int language plpgsql immutable as $$ begin return ${s}.esc(); end $$`);
    await c.query(`create table ${s}.users (id int primary key, email text)`);
    await c.query(`insert into ${s}.users values (1, 'alice@example.com'), (2, 'bob@example.com')`);
    await c.query(`grant usage on schema ${s} to public`);
    await c.query(`grant select, update, delete on ${s}.users to public`);
    await q(`select retention.set_erasure_rule('${s}.users', 'delete')`);
    const [{ id }] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure('${s}.users', '1', 'ticket 1')`) as [{ id: number }];
    const d = await db.connect();
    try {
      await d.query('select retention.pin_session()');
      expect((await d.query(`select retention.open_erasure($1) as s`, [id])).rows[0].s).toBe('in_progress');
      // The plan is fixed: the application adds a table keyed ON DELETE SET NULL to users,
      // and a child of it whose partial index folds evil().
      await c.query(`create table ${s}.notes (id int, user_id int references ${s}.users on delete set null)`);
      await c.query(`create table ${s}.notes_old () inherits (${s}.notes)`);
      await c.query(`create index on ${s}.notes_old (id) where ${s}.evil() = 1`);
      await c.query(`grant select, update on ${s}.notes to public`);
      let last: { status: string; code: string | null } | undefined;
      for (let i = 0; i < 20; i++) {
        const { rows: [st] } = await d.query(`select run_id, status, code from retention.erasure_step($1)`, [id]);
        last = st;
        if (!st.run_id) break;
        for (let j = 0; j < 20 && (await d.query(`select retention.run_step($1) as s`, [st.run_id])).rows[0].s === 'running'; j++);
      }
      expect(await superuser(role)).toBe(false);
      expect(last!.status).toBe('failed');
      const [r] = await q<{ status: string; status_reason: string }>(`select status, status_reason from retention.erasure_requests where request_id = $1`, [id]);
      expect(r!.status).toBe('failed');
      expect(r!.status_reason).toMatch(/notes_old_id_idx calls .*evil\(\)/);
      // Alice's row is still there: nothing was deleted on a guard that could not count.
      expect(await count(db, `${s}.users where id = 1`)).toBe(1);
    } finally {
      await d.end();
    }
  });
});
