// Attack round atk113 (no role but the owner gains the owner's powers): PostgreSQL's own
// work inside partition DDL, and comparisons through casts, ran the application's code as
// the retention owner (a superuser here):
//  F1  attaching a held partition again folds the default partition's CHECK constraints;
//      the application added one calling its IMMUTABLE function after the detach;
//  F2  finishing an archiving drop_partitions copies the detached partition's rows with
//      json_agg, which calls a cast to json the application made after the detach;
//  F3  DETACH checks the rows of a table referencing the partitioned table through an
//      implicit cast of the application's (an enum key referencing a bigint); F3b: so
//      does ATTACH validating the table's own key on the partition attached again;
//  F4  (owner-rls.test.ts: row security on a referencing table, binding an owner that is
//      not a superuser);
//  F6  the worker's DETACH ... CONCURRENTLY runs as its login, outside any routine: a
//      superuser's worker ran code the application added after the step checked;
//  F7  the hold rule follows a key from the policy's table to a person's table through an
//      implicit cast (bigint into the application's enum), on a table no run's reach has;
//  F8  an erasure's walk down the same key;
//  F9  an archiving batch checked the casts, then waited for a row lock; the application
//      made a cast to json meanwhile, and the copy called it.
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { escalatingApp, isSuperuser } from '../support/escalation.ts';
import { count, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
});

async function app(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
  const c = await login(name);
  const { role, s } = await escalatingApp(db, c, name);
  return { c, role, s };
}

/** A session of the test's superuser that steps a run, pinned as the worker's is. */
async function stepper(): Promise<pg.Client> {
  const w = await db.connect();
  clients.push(w);
  await w.query(`select retention.pin_session()`);
  return w;
}

/** Steps the run until a partition is recorded detached. */
async function untilDetached(w: pg.Client, run: number): Promise<void> {
  for (let i = 0; i < 10 && (await count(db, `retention.run_batches where run_id = ${run} and disposition = 'detached'`)) === 0; i++) {
    await w.query(`select retention.run_step($1)`, [run]);
  }
  expect(await count(db, `retention.run_batches where run_id = ${run} and disposition = 'detached'`)).toBe(1);
}

/** Steps the run to its end; the error's SQLSTATE, or ''. */
async function stepToEnd(w: pg.Client, run: number): Promise<string> {
  for (let i = 0; i < 20; i++) {
    const s = await w.query(`select retention.run_step($1) as s`, [run]).then((r) => r.rows[0].s as string, (e: { code: string }) => `error ${e.code}`);
    if (s !== 'running') return s.startsWith('error ') ? s.slice(6) : '';
  }
  return 'unfinished';
}

describe('a held partition attached again (atk113 F1)', () => {
  it('the application adds a CHECK calling its function to the default partition after the detach: left detached, the role stays', async () => {
    const { c, role, s } = await app('f1');
    await c.query(`create function ${s}.evil() returns int language sql immutable as 'select ${s}.esc()'`);
    await c.query(`create table ${s}.logs (id int, created_at timestamptz not null) partition by range (created_at)`);
    await c.query(`create table ${s}.logs_2000 partition of ${s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
    await c.query(`create table ${s}.logs_now partition of ${s}.logs for values from ('2001-01-01') to ('2200-01-01')`);
    await c.query(`create table ${s}.logs_def partition of ${s}.logs default`);
    await c.query(`insert into ${s}.logs values (1, '2000-06-01'), (2, now())`);
    await q(`select retention.set_policy('${s}.logs', '${s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days')`);
    const w = await stepper();
    const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
    await untilDetached(w, run);
    await c.query(`alter table ${s}.logs_def add constraint evil check (${s}.evil() = 1)`);
    const [{ hold_id: h }] = await q(`select hold_id from retention.place_hold('table', '${s}.logs', 'litigation')`) as [{ hold_id: number }];
    await stepToEnd(w, run);
    expect(await isSuperuser(db, role)).toBe(false);
    // Kept, detached, for the DBA; its row there.
    expect(await count(db, `${s}.logs_2000`)).toBe(1);
    expect(await count(db, `pg_inherits where inhrelid = '${s}.logs_2000'::regclass`)).toBe(0);
    expect(await count(db, `retention.run_batches where run_id = ${run} and disposition in ('reattached', 'dropped')`)).toBe(0);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });
});

describe('an archiving drop_partitions finishes a detached partition (atk113 F2)', () => {
  it('a cast to json the application made after the detach: RT025, the partition kept, the role stays', async () => {
    const { c, role, s } = await app('f2');
    await c.query(`create type ${s}.mood as enum ('calm', 'cross')`);
    await c.query(`create table ${s}.logs (id int, mood ${s}.mood, created_at timestamptz not null) partition by range (created_at)`);
    await c.query(`create table ${s}.logs_2000 partition of ${s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
    await c.query(`create table ${s}.logs_now partition of ${s}.logs for values from ('2001-01-01') to ('2200-01-01')`);
    await c.query(`insert into ${s}.logs values (1, 'calm', '2000-06-01'), (2, 'cross', now())`);
    await q(`select retention.set_policy('${s}.logs', '${s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days', p_archive => true)`);
    const w = await stepper();
    const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
    await untilDetached(w, run);
    await c.query(`create function ${s}.j(${s}.mood) returns json language sql as $$ select to_json(${s}.esc()) $$`);
    await c.query(`create cast (${s}.mood as json) with function ${s}.j(${s}.mood)`);
    expect(await stepToEnd(w, run)).toBe('');
    expect((await q(`select status, error_code from retention.runs where run_id = $1`, [run]))[0]).toEqual({ status: 'failed', error_code: 'RT025' });
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `${s}.logs_2000`)).toBe(1);
    expect(await count(db, `retention.archived_batches where run_id = ${run}`)).toBe(0);
    // Without the cast, the next run archives and drops it.
    await c.query(`drop cast (${s}.mood as json)`);
    await db.call(`call retention.run('${s}.logs')`);
    expect(await count(db, `pg_class where relname = 'logs_2000' and relnamespace = '${s}'::regnamespace`)).toBe(0);
    expect(await count(db, `retention.archived_batches where policy_name = '${s}.logs'`)).toBe(1);
    expect(await isSuperuser(db, role)).toBe(false);
  });
});

describe('keys compared through the application\'s implicit cast', () => {
  it('F3: a table referencing the partitioned table with an enum key cast to bigint: the detach is refused (RT025), nothing detached', async () => {
    const { c, role, s } = await app('f3');
    await c.query(`create table ${s}.logs (id bigint, created_at timestamptz not null, primary key (id, created_at)) partition by range (created_at)`);
    await c.query(`create table ${s}.logs_2000 partition of ${s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
    await c.query(`create table ${s}.logs_now partition of ${s}.logs for values from ('2001-01-01') to ('2200-01-01')`);
    await c.query(`insert into ${s}.logs values (1, '2000-06-01'), (2, '2100-01-01')`);
    await c.query(`create type ${s}.e as enum ('two')`);
    await c.query(`create function ${s}.e2i(${s}.e) returns bigint language sql as 'select ${s}.esc()::bigint + 1'`);
    await c.query(`create cast (${s}.e as bigint) with function ${s}.e2i(${s}.e) as implicit`);
    await c.query(`create table ${s}.refs (id ${s}.e, created_at timestamptz, foreign key (id, created_at) references ${s}.logs)`);
    await c.query(`insert into ${s}.refs values ('two', '2100-01-01')`);
    await q(`select retention.set_policy('${s}.logs', '${s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days')`);
    expect(await sqlState(db.call(`call retention.run('${s}.logs')`))).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `pg_inherits where inhparent = '${s}.logs'::regclass`)).toBe(2);
  });

  it('F3b: the cast made again after the detach, a hold on the table: the re-attach (which validates the key through it) is not made, left detached', async () => {
    const { c, role, s } = await app('f3b');
    await c.query(`create table ${s}.users (id bigint primary key)`);
    await c.query(`insert into ${s}.users values (1), (2)`);
    await c.query(`create type ${s}.e as enum ('one')`);
    await c.query(`create function ${s}.e2i(${s}.e) returns bigint language sql as 'select ${s}.esc()::bigint'`);
    await c.query(`create cast (${s}.e as bigint) with function ${s}.e2i(${s}.e) as implicit`);
    await c.query(`create table ${s}.logs (id int, usr ${s}.e references ${s}.users, created_at timestamptz not null) partition by range (created_at)`);
    await c.query(`create table ${s}.logs_2000 partition of ${s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
    await c.query(`create table ${s}.logs_now partition of ${s}.logs for values from ('2001-01-01') to ('2200-01-01')`);
    await c.query(`insert into ${s}.logs values (1, 'one', '2000-06-01'), (2, 'one', now())`);
    // The key stays when the cast goes (nothing records that it uses it).
    await c.query(`drop cast (${s}.e as bigint)`);
    await q(`select retention.set_policy('${s}.logs', '${s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days')`);
    const w = await stepper();
    const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
    await untilDetached(w, run);
    // The detached table's copy of the key dropped: attached again, it gets the key anew,
    // validated on its rows.
    await c.query(`alter table ${s}.logs_2000 drop constraint logs_usr_fkey`);
    await c.query(`create cast (${s}.e as bigint) with function ${s}.e2i(${s}.e) as implicit`);
    const [{ hold_id: h }] = await q(`select hold_id from retention.place_hold('table', '${s}.logs', 'litigation')`) as [{ hold_id: number }];
    await stepToEnd(w, run);
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `${s}.logs_2000`)).toBe(1);
    expect(await count(db, `pg_inherits where inhrelid = '${s}.logs_2000'::regclass`)).toBe(0);
    expect(await count(db, `retention.run_batches where run_id = ${run} and disposition in ('reattached', 'dropped')`)).toBe(0);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });

  /** s.accounts (id bigint, email: a subject column), s.customers (acct: the application's
   * enum, referencing accounts through its implicit cast to bigint) and s.orders (cust
   * referencing customers): the hold rule and the erasure go orders → customers → accounts;
   * customers is in no run's reach. */
  async function shop(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
    const a = await app(name);
    const { c, s } = a;
    await c.query(`create table ${s}.accounts (id bigint primary key, email text, created_at timestamptz not null default now())`);
    await c.query(`insert into ${s}.accounts values (1, 'alice@example.org'), (2, 'bob@example.org')`);
    await c.query(`create type ${s}.aid as enum ('1', '2')`);
    await c.query(`create function ${s}.a2i(${s}.aid) returns bigint language sql as $$ select $1::text::bigint + ${s}.esc() - 1 $$`);
    await c.query(`create cast (${s}.aid as bigint) with function ${s}.a2i(${s}.aid) as implicit`);
    await c.query(`create table ${s}.customers (id int primary key, acct ${s}.aid references ${s}.accounts)`);
    await c.query(`insert into ${s}.customers values (1, '1'), (2, '2')`);
    await c.query(`create table ${s}.orders (id int primary key, cust int references ${s}.customers, created_at timestamptz not null default now() - interval '400 days')`);
    await c.query(`insert into ${s}.orders values (1, 1), (2, 2), (3, null)`);
    return a;
  }

  it('F7: the hold rule\'s chain through such a key is not compared: held whenever the key is set, the role stays', async () => {
    const { role, s } = await shop('f7');
    await q(`select retention.set_policy('${s}.accounts', '${s}.accounts', 'delete', 'created_at', '30 days', p_subject_column => 'email')`);
    await q(`select retention.set_policy('${s}.orders', '${s}.orders', 'delete', 'created_at', '30 days')`);
    const [{ hold_id: h }] = await q(`select hold_id from retention.place_hold('subject', 'alice@example.org', 'litigation')`) as [{ hold_id: number }];
    expect(Number((await q(`select held_back from retention.preview('${s}.orders')`))[0]!.held_back)).toBe(2);
    await db.call(`call retention.run('${s}.orders')`);
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await q(`select id from ${s}.orders order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
    await q(`select retention.release_hold($1, 'done')`, [h]);
    await db.call(`call retention.run('${s}.orders')`);
    expect(await count(db, `${s}.orders`)).toBe(0);
    expect(await isSuperuser(db, role)).toBe(false);
  });

  it('F8: an erasure\'s walk down such a key is refused (RT025), nothing erased, the role stays', async () => {
    const { role, s } = await shop('f8');
    expect(await sqlState(q(`select retention.export_subject('${s}.accounts', '1')`))).toBe('RT025');
    const filed = await q(`select request_id::int as id from retention.request_erasure('${s}.accounts', '1', 'ticket 1')`)
      .then((r) => r[0]!.id as number, (e: { code: string }) => e.code);
    if (typeof filed === 'number') {
      expect(await sqlState(db.call(`call retention.process_erasure($1)`, [filed]))).toBe('RT025');
    } else {
      expect(filed).toBe('RT025');
    }
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `${s}.orders`)).toBe(3);
    expect(await count(db, `${s}.customers`)).toBe(2);
    expect(await count(db, `${s}.accounts`)).toBe(2);
  });
});

describe('the worker\'s concurrent detach (atk113 F6)', () => {
  async function table(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
    const a = await app(name);
    await a.c.query(`create table ${a.s}.logs (id int, created_at timestamptz not null) partition by range (created_at)`);
    await a.c.query(`create table ${a.s}.logs_2000 partition of ${a.s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
    await a.c.query(`create table ${a.s}.logs_now partition of ${a.s}.logs for values from ('2001-01-01') to ('2200-01-01')`);
    await a.c.query(`insert into ${a.s}.logs values (1, '2000-06-01'), (2, now())`);
    await q(`select retention.set_policy('${a.s}.logs', '${a.s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days')`);
    return a;
  }

  it('a superuser\'s worker on the application\'s table detaches the plain way: no statement of its own to run', async () => {
    const { role, s } = await table('f6a');
    const w = await stepper();
    await w.query(`set retention.detach_concurrently = on`);
    const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
    expect((await q(`select spec ->> 'detach' as d from retention.runs where run_id = $1`, [run]))[0]!.d).toBeNull();
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const st = (await w.query(`select retention.run_step($1) as s`, [run])).rows[0].s as string;
      seen.push(st);
      if (st !== 'running') break;
    }
    expect(seen).not.toContain('detach');
    expect(seen.at(-1)).toBe('completed');
    expect(await count(db, `pg_class where relname = 'logs_2000' and relnamespace = '${s}'::regnamespace`)).toBe(0);
    expect(await isSuperuser(db, role)).toBe(false);
  });

  it('a login that is also in another application\'s owner role, or in retention_admin, detaches the plain way: its rights would be lent to this one\'s code', async () => {
    const { role, s } = await table('f6c');
    const other = await app('f6o');
    for (const [name, extra] of [['f6x', other.role], ['f6y', 'retention_admin']] as const) {
      const w = await login(name, role, 'retention_runner', extra);
      await w.query(`select retention.pin_session(), set_config('retention.detach_concurrently', 'on', false)`);
      const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
      expect((await q(`select spec ->> 'detach' as d from retention.runs where run_id = $1`, [run]))[0]!.d).toBeNull();
      expect(await stepToEnd(w, run)).toBe('');
    }
    expect(await isSuperuser(db, role)).toBe(false);
  });

  it('a login that is a member of the table\'s owner and of retention_runner only: detaches concurrently', async () => {
    const { role, s } = await table('f6b');
    const w = await login('f6w', role, 'retention_runner');
    await w.query(`select retention.pin_session(), set_config('retention.detach_concurrently', 'on', false)`);
    const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
    expect((await q(`select spec ->> 'detach' as d from retention.runs where run_id = $1`, [run]))[0]!.d).toBe('concurrently');
    let statement = '';
    for (let i = 0; i < 10 && !statement; i++) {
      const st = (await w.query(`select retention.run_step($1) as s`, [run])).rows[0].s as string;
      if (st === 'detach') statement = (await w.query(`select statement from retention.detach_statement($1)`, [run])).rows[0].statement;
    }
    expect(statement).toMatch(/DETACH PARTITION .* CONCURRENTLY/);
    await w.query(statement);
    expect(await stepToEnd(w, run)).toBe('');
    expect(await count(db, `pg_class where relname = 'logs_2000' and relnamespace = '${s}'::regnamespace`)).toBe(0);
    expect(await isSuperuser(db, role)).toBe(false);
  });
});

describe('an archiving batch waits for a row lock (atk113 F9)', () => {
  it('a cast to json made during the wait waits for the batch: the copy is made without it, the role stays', async () => {
    const { c, role, s } = await app('f9');
    await c.query(`create type ${s}.mood as enum ('calm', 'cross')`);
    await c.query(`create table ${s}.ev (id int primary key, created_at timestamptz not null)`);
    await c.query(`create table ${s}.notes (id int primary key, ev int references ${s}.ev on delete cascade, mood ${s}.mood)`);
    await c.query(`insert into ${s}.ev values (1, now() - interval '400 days')`);
    await c.query(`insert into ${s}.notes values (1, 1, 'calm')`);
    await c.query(`create function ${s}.j(${s}.mood) returns json language sql as $$ select to_json(${s}.esc()) $$`);
    await q(`select retention.set_policy('${s}.ev', '${s}.ev', 'delete', 'created_at', '30 days', p_archive => true)`);
    const holder = await login('f9h', role);
    await holder.query(`begin`);
    await holder.query(`select * from ${s}.notes where id = 1 for update`);
    const running = db.call(`call retention.run('${s}.ev')`).then(() => '', (e: { code: string }) => e.code);
    const waiting = (what: string) => async () => (await count(db, `pg_locks l join pg_stat_activity a on a.pid = l.pid
                                                                    where not l.granted and a.query like $1`, [what])) > 0;
    await waitFor(waiting('%retention.run(%'), 'the batch waits for the row');
    const casting = c.query(`create cast (${s}.mood as json) with function ${s}.j(${s}.mood)`);
    await waitFor(waiting('create cast%'), 'the cast waits for the batch');
    await holder.query(`commit`);
    expect(await running).toBe('');
    await casting;
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `${s}.ev`)).toBe(0);
    expect(await count(db, `${s}.notes`)).toBe(0);
    // The note copied as it was: its mood as the enum's label, not what the cast returns.
    expect(await q(`select depth, (rows::jsonb) -> 0 ->> 'mood' as mood from retention.archived_batches
                     where policy_name = '${s}.ev' order by depth`)).toEqual([{ depth: 0, mood: null }, { depth: 1, mood: 'calm' }]);
  });
});
