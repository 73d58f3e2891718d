// Attack round atk126 (holds):
//  atk126 F1 two sessions each removed one of two declarations of a held subject column;
//     each judged the other's still there and both committed: nothing covered the column,
//     and the next run deleted the held person's order. Changes to a declaration now take
//     the holds gate exclusively: the second waits for the first, then is refused (RT024).
//  atk126 F2 a subject column declared after the hold: the keys referencing it were not
//     recorded, and dropping the key before any run took the rows behind it out of the hold.
//  atk126 F3 a declaration committed while a batch waited for a row lock was not in the
//     batch's hold rule: a declaration now waits for the batches in flight. (An erasure
//     request, which makes its table's key a subject column, does not: atk130 F2.)
import { describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a held subject column\'s declarations (atk126)', () => {
  it('F1: two sessions each dropping one of two declarations: one waits, then is refused; the held order stays', async () => {
    await q(`create schema h1`);
    await q(`create table h1.orders (id int primary key, referrer_id int, created_at timestamptz not null)`);
    await q(`insert into h1.orders values (1, 7, now() - interval '3 years'), (2, 8, now() - interval '3 years')`);
    await q(`select retention.set_policy('h1.a', 'h1.orders', 'delete', 'created_at', '1 year', p_subject_column => 'referrer_id')`);
    await q(`select retention.set_policy('h1.b', 'h1.orders', 'delete', 'created_at', '2 years', p_subject_column => 'referrer_id')`);
    await q(`select retention.place_hold('subject', '7', 'case 126')`);
    const s1 = await db.connect();
    const s2 = await db.connect();
    try {
      await s1.query('begin');
      await s2.query('begin');
      await s1.query(`select retention.set_policy('h1.a', 'h1.orders', 'delete', 'created_at', '1 year')`);
      const second = s2.query(`select retention.set_policy('h1.b', 'h1.orders', 'delete', 'created_at', '2 years')`)
        .then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
      await expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and query like 'select retention.set_policy(''h1.b''%'`),
                        { timeout: 20_000, interval: 50 }).toBe(1);
      await s1.query('commit');
      expect(await second).toBe('RT024');
      await s2.query('rollback');
    } finally {
      await s1.query('rollback').catch(() => {});
      await s1.end();
      await s2.end();
    }
    await db.call(`call retention.run('h1.a')`).catch(() => {});
    expect(await q(`select id from h1.orders order by id`)).toEqual([{ id: 1 }]);
  });

  it('F2: a column declared after the hold keeps the rows behind a key to it dropped before any run', async () => {
    await q(`create schema h2`);
    await q(`create table h2.users (id int primary key, created_at timestamptz not null default now())`);
    await q(`create table h2.orders (id int primary key, user_id int references h2.users, created_at timestamptz not null)`);
    await q(`insert into h2.users values (7), (8)`);
    await q(`insert into h2.orders values (1, 7, now() - interval '3 years'), (2, 8, now() - interval '3 years')`);
    await q(`select retention.set_policy('h2.orders', 'h2.orders', 'delete', 'created_at', '1 year')`);
    await q(`select retention.place_hold('subject', '7', 'case 126b')`);
    await q(`select retention.set_policy('h2.users', 'h2.users', 'delete', 'created_at', '100 years', p_subject_column => 'id')`);
    await q(`alter table h2.orders drop constraint orders_user_id_fkey`);
    await db.call(`call retention.run('h2.orders')`);
    expect(await q(`select id from h2.orders order by id`)).toEqual([{ id: 1 }]);
  });

  it('F3: a declaration waits for the batches in flight; an erasure request does not hold the gate (atk130 F2)', async () => {
    await q(`create schema h3`);
    await q(`create table h3.users (id int primary key, name text)`);
    await q(`create table h3.orders (id int primary key, referrer_id int, created_at timestamptz not null)`);
    await q(`insert into h3.users values (9, 'n')`);
    await q(`select retention.place_hold('subject', '7', 'case 126c')`);
    // A batch in flight holds the holds gate shared until it commits (_batch).
    const batch = await db.connect();
    const dba = await db.connect();
    try {
      await batch.query('begin');
      await batch.query(`select retention_internal._lock_holds_shared()`);
      const waits = (pattern: string) => expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and query like $1`, [pattern]),
                                                     { timeout: 20_000, interval: 50 }).toBe(1);
      const declared = dba.query(`select retention.set_policy('h3.refs', 'h3.orders', 'delete', 'created_at', '10 years', p_subject_column => 'referrer_id')`)
        .then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
      await waits(`select retention.set_policy('h3.refs'%`);
      await batch.query('commit');
      expect(await declared).toBe('ok');
      // A request does not take the gate exclusively: a requester's open transaction after
      // filing one stopped every hold and run (round atk130 F2).
      await dba.query('begin');
      await dba.query(`select retention.request_erasure('h3.users', '9', 'ticket 126')`);
      expect((await dba.query(`select count(*)::int as n from pg_locks where pid = pg_backend_pid()
                                  and relation = 'retention_internal.holds_gate'::regclass and mode = 'AccessExclusiveLock'`)).rows).toEqual([{ n: 0 }]);
      await dba.query('rollback');
    } finally {
      await batch.query('rollback').catch(() => {});
      await batch.end();
      await dba.end();
    }
  });
});

describe('an erasure request filed while a batch waits (atk126 F3, atk130 F2)', () => {
  it('a request committed during the batch\'s lock wait stops the batch, nothing of it done; the next run deletes', async () => {
    await q(`create schema h5`);
    await q(`create table h5.users (id int primary key, created_at timestamptz not null)`);
    await q(`create table h5.orders (id int primary key, user_id int references h5.users on delete cascade)`);
    await q(`create table h5.people (id int primary key, name text)`);
    await q(`insert into h5.users values (8, now() - interval '3 years')`);
    await q(`insert into h5.orders values (1, 8)`);
    await q(`insert into h5.people values (1, 'p')`);
    await q(`select retention.set_policy('h5.users', 'h5.users', 'delete', 'created_at', '1 year', p_lock_timeout => '30 seconds')`);
    await q(`select retention.place_hold('subject', '999', 'case 126d')`);
    const app = await db.connect();
    const runner = await db.connect();
    try {
      await app.query('begin');
      await app.query(`select * from h5.orders where user_id = 8 for update`);
      const run = (await runner.query(`select retention.open_run('h5.users') as run`)).rows[0].run;
      const step = runner.query(`select retention.run_step(${run}) as r`).then((r) => r.rows[0].r, (e: { code?: string }) => e.code ?? 'error');
      await expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and query like 'select retention.run_step(%'`),
                        { timeout: 20_000, interval: 50 }).toBe(1);
      await q(`select retention.request_erasure('h5.people', '1', 'ticket 126d')`);
      await app.query('commit');
      expect(await step).toBe('stopped_lock_timeout');
      expect(await count(db, `h5.users`)).toBe(1);
      await db.call(`call retention.run('h5.users')`);
      expect(await count(db, `h5.users`)).toBe(0);
    } finally {
      await app.query('rollback').catch(() => {});
      await app.end();
      await runner.end();
    }
  });
});

// atk127 F1: a runner queued a deferred trigger of its own (a temporary table's) and then
// called run_step in the same transaction: the batch fired it as
// retention_predicate_checker, and it dropped the two routines that role owns. A step that
// follows the caller's own writes in its transaction is refused (25001); open_run's own
// writes do not count.
describe('a runner\'s deferred trigger fired as the checker role (atk127 F1)', () => {
  const { login } = useLogins(db);
  it('run_step after the caller\'s own write is refused (25001); the checker\'s routines stay; after open_run alone it runs', async () => {
    await q(`create schema h4`);
    await q(`create table h4.ev (id int primary key, created_at timestamptz not null)`);
    await q(`insert into h4.ev select g, now() - interval '3 years' from generate_series(1, 5) g`);
    await q(`grant usage on schema h4 to public`);
    await q(`grant select, delete, update (created_at) on h4.ev to public`);
    await q(`select retention.set_policy('h4.ev', 'h4.ev', 'delete', 'created_at', '1 year')`);
    const runner = await login('r127', 'retention_runner');
    const run = (await runner.query(`select retention.open_run('h4.ev') as run`)).rows[0].run;
    await runner.query('begin');
    await runner.query(`create temp table q (x int)`);
    await runner.query(`create function pg_temp.f() returns trigger language plpgsql as $$
                        begin execute 'drop owned by retention_predicate_checker'; return null; end $$`);
    await runner.query(`create constraint trigger tq after insert on q deferrable initially deferred for each row execute function pg_temp.f()`);
    await runner.query(`insert into q values (1)`);
    expect(await sqlState(runner.query(`select retention.run_step($1)`, [run]))).toBe('25001');
    await runner.query('rollback');
    expect(await q(`select count(*)::int as n from pg_proc where proowner = 'retention_predicate_checker'::regrole`)).toEqual([{ n: 2 }]);
    expect(await count(db, `h4.ev`)).toBe(5);
    // Stepped as statements of their own, the run deletes; open_run and run_step in one
    // transaction (pg-retention's writes only) still step.
    let status = 'running';
    while (status === 'running') status = (await runner.query(`select retention.run_step($1) as s`, [run])).rows[0].s;
    expect(status).toBe('completed');
    expect(await count(db, `h4.ev`)).toBe(0);
    await runner.query('begin');
    const again = (await runner.query(`select retention.open_run('h4.ev') as run`)).rows[0].run;
    expect((await runner.query(`select retention.run_step($1) as s`, [again])).rows[0].s).toMatch(/running|completed/);
    await runner.query('rollback');
  });
});

// atk130 N1: with track_counts off nothing is counted in pg_stat_xact_all_tables, so the
// caller's own writes cannot be told from pg-retention's: any written transaction is
// refused. A step as a statement of its own, and CALL retention.run, still work.
describe('run_step with track_counts off (atk130 N1)', () => {
  it('refuses a step after the caller\'s own write (25001) and changes nothing; run() and lone steps still delete', async () => {
    await q(`create schema h6`);
    await q(`create table h6.ev (id int primary key, created_at timestamptz not null)`);
    await q(`create table h6.own (x int)`);
    await q(`insert into h6.ev select g, now() - interval '3 years' from generate_series(1, 5) g`);
    await q(`select retention.set_policy('h6.ev', 'h6.ev', 'delete', 'created_at', '1 year', p_batch_size => 2)`);
    const c = await db.connect();
    try {
      await c.query(`set track_counts = off`);
      const run = (await c.query(`select retention.open_run('h6.ev') as run`)).rows[0].run;
      await c.query('begin');
      await c.query(`insert into h6.own values (1)`);
      expect(await sqlState(c.query(`select retention.run_step($1)`, [run]))).toBe('25001');
      await c.query('rollback');
      expect(await count(db, `h6.ev`)).toBe(5);
      expect(await count(db, `retention.run_batches where run_id = $1`, [run])).toBe(0);
      let status = 'running';
      while (status === 'running') status = (await c.query(`select retention.run_step($1) as s`, [run])).rows[0].s;
      expect(status).toBe('completed');
      expect(await count(db, `h6.ev`)).toBe(0);
      await q(`insert into h6.ev select g, now() - interval '3 years' from generate_series(1, 3) g`);
      await c.query(`call retention.run('h6.ev')`);
      expect(await count(db, `h6.ev`)).toBe(0);
    } finally {
      await c.end();
    }
  });
});
