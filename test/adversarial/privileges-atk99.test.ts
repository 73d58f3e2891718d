// Attack round atk99 (no role but the owner gains the owner's powers): an application role
// that owns its tables became superuser through code the retention owner planned for it.
//  F3  the planner check read the stored expression tree's braces without their escapes:
//      a call with a named argument "}{VAR" looked like a call with a column, was not
//      counted, and a plain run folded it;
//  F1  the check read the catalog with a REPEATABLE READ snapshot taken before the index
//      existed, while the planner reads the catalog as it is: request_erasure and preview
//      in such a transaction folded an index created after the snapshot;
//  F2  the check ran before the table lock: the application held ACCESS EXCLUSIVE until it
//      saw the routine wait, created the index and committed, and the waiting statement
//      was planned with it. The check now locks the table first (SHARE UPDATE EXCLUSIVE).
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { escalatingApp, isSuperuser } from '../support/escalation.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

const superuser = (role: string) => isSuperuser(db, role);

/** The application's login (a requester too), a schema it owns with a table of 20 old
 * rows everyone may read and delete, and evil(): IMMUTABLE, makes it superuser when a
 * superuser runs it. */
async function app(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
  const c = await login(name, 'retention_requester');
  const { role, s } = await escalatingApp(db, c, name);
  await c.query(`create table ${s}.users (id int primary key, email text, created_at timestamptz not null default now() - interval '400 days')`);
  await c.query(`insert into ${s}.users select g, 'u' || g || '@x.example' from generate_series(1, 20) g`);
  await c.query(`grant usage on schema ${s} to public`);
  await c.query(`grant select, update, delete on ${s}.users to public`);
  await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', interval '1 year', p_subject_column => 'id')`);
  await q(`select retention.set_erasure_rule('${s}.users', 'delete')`);
  return { c, role, s };
}

describe('a name in the expression tree that reads as a column (atk99 F3)', () => {
  it('an index calling evil("}{VAR" => 0) is refused (RT025) by the check, a run and a preview; the function never runs', async () => {
    const { c, role, s } = await app('f3');
    await c.query(`create function ${s}.evil("}{VAR" int) returns int language plpgsql immutable as $$ begin perform ${s}.esc(); return $1; end $$`);
    await c.query(`create index users_evil on ${s}.users ((id + ${s}.evil("}{VAR" => 0)))`);
    expect((await q(`select retention_internal._planner_code('${s}.users') as why`))[0]!.why).toMatch(/evil/);
    expect(await sqlState(db.call(`call retention.run('${s}.users')`))).toBe('RT025');
    expect(await sqlState(q(`select * from retention.preview('${s}.users')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `${s}.users`)).toBe(20);
  });

  it('the same call with a column as its argument, named so too, is not counted', async () => {
    expect((await q(`select count(*)::int as n from retention_internal._folded_calls($1)`,
                    [`{FUNCEXPR :funcid 16400 :args ({NAMEDARGEXPR :arg {VAR :varno 1 :varattno 1} :name \\}\\{VAR :argnumber 0 :location 5}) :location 1}`]))[0]!.n)
      .toBe(0);
    expect((await q(`select count(*)::int as n from retention_internal._folded_calls($1)`,
                    [`{FUNCEXPR :funcid 16400 :args ({NAMEDARGEXPR :arg {CONST :consttype 23} :name \\}\\{VAR :argnumber 0 :location 5}) :location 1}`]))[0]!.n)
      .toBe(1);
  });
});

describe('a snapshot older than the index (atk99 F1)', () => {
  it('request_erasure and preview in a REPEATABLE READ transaction are refused (25001); the index made after its snapshot never runs', async () => {
    const { c, role, s } = await app('f1');
    await c.query(`create function ${s}.evil(int) returns int language plpgsql immutable as $$ begin perform ${s}.esc(); return $1; end $$`);
    const runner = await login('f1run', 'retention_runner');
    for (const [who, call] of [[c, `select request_id from retention.request_erasure('${s}.users', '3', 'ticket 1')`],
                               [runner, `select * from retention.preview('${s}.users')`]] as const) {
      await who.query(`begin isolation level repeatable read`);
      await who.query(`select 1`);
      const maker = await db.connect();
      try {
        await maker.query(`set role ${role}`);
        await maker.query(`create index users_evil on ${s}.users ((id + ${s}.evil(0)))`);
      } finally {
        await maker.end();
      }
      expect(await sqlState(who.query(call)), call).toBe('25001');
      await who.query(`rollback`);
      expect(await superuser(role), call).toBe(false);
      await q(`drop index ${s}.users_evil`);
    }
    expect(await q(`select count(*)::int as n from retention.erasure_requests`)).toEqual([{ n: 0 }]);
  });
});

describe('an index created while the routine waits for the table (atk99 F2)', () => {
  /** The application holds ACCESS EXCLUSIVE on its table until `victim` waits for a lock on
   * it, then creates the index that folds evil(0), commits; returns the victim's outcome. */
  async function race(appC: pg.Client, s: string, victim: () => Promise<unknown>): Promise<string> {
    await appC.query(`begin`);
    await appC.query(`lock table ${s}.users in access exclusive mode`);
    const outcome = victim().then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
    const watcher = await db.connect();
    try {
      for (let i = 0; i < 200; i++) {
        const [w] = (await watcher.query(`select count(*)::int as n from pg_locks where relation = '${s}.users'::regclass and not granted`)).rows;
        if (w.n > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await watcher.end();
    }
    await appC.query(`create index users_evil on ${s}.users ((id + ${s}.evil(0)))`);
    await appC.query(`commit`);
    const result = await outcome;
    await appC.query(`drop index ${s}.users_evil`);
    return result;
  }

  it('preview, explain_batch, export_subject, place_hold, request_erasure and a run: each refused (RT025); the application never becomes superuser', async () => {
    const { c, role, s } = await app('f2');
    await c.query(`create function ${s}.evil(int) returns int language plpgsql immutable as $$ begin perform ${s}.esc(); return $1; end $$`);
    const runner = await login('f2run', 'retention_runner');
    const admin = await login('f2adm', 'retention_admin');
    const requester = await login('f2req', 'retention_requester');
    // place_hold places the hold all the same, without its scan for the subject's rows.
    const victims: [string, pg.Client, string, string][] = [
      ['preview', runner, `select * from retention.preview('${s}.users')`, 'RT025'],
      ['explain_batch', runner, `select * from retention.explain_batch('${s}.users')`, 'RT025'],
      ['export_subject', admin, `select retention.export_subject('${s}.users', '7')`, 'RT025'],
      ['place_hold', admin, `select retention.place_hold('subject', '7', 'litigation')`, 'ok'],
      ['request_erasure', requester, `select request_id from retention.request_erasure('${s}.users', '3', 'ticket 1')`, 'RT025'],
      ['run', runner, `call retention.run('${s}.users')`, 'RT025'],
    ];
    for (const [name, who, call, expected] of victims) {
      const outcome = await race(c, s, () => who.query(call));
      expect(await superuser(role), name).toBe(false);
      expect(outcome, name).toBe(expected);
    }
    expect(await count(db, `${s}.users`)).toBe(20);
    expect(await q(`select count(*)::int as n from retention.legal_holds where scope = 'subject' and released_at is null`)).toEqual([{ n: 1 }]);
  });
});
