// Attack round atk117 (no held row is ever deleted):
//  - F1: a row held only through a key chain (orders.user_id -> users.id, alice's e-mail in
//    users.email, a policy's subject column) was judged by a condition built from users'
//    catalog before users was locked. The application held ACCESS EXCLUSIVE on users while
//    it swapped column names (or retyped email to bytea) and committed while the batch
//    waited for users: the stale condition deleted alice's orders (runs stepped, CALL run,
//    the CLI) and dropped a partition of her events (drop_partitions, a two-key chain).
//    The rule's builders are STABLE and read the catalog with their statement's snapshot,
//    so the tables a chain reads are locked in statements of their own first
//    (_lock_hold_reads), and the rule is built after.
//  - F2: archive_rows_held read an archived row as the table's current row type by column
//    name: once the application renamed (or dropped) orders.user_id, the archived key read
//    NULL and `archive prune` deleted an object of alice's orders under her open hold.
//    Rows with a column the table no longer has are kept while subject holds are open.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** Opens a transaction in `c` that applies `ddl` (ACCESS EXCLUSIVE held until it commits). */
async function lockedChange(c: pg.Client, ddl: string[]): Promise<void> {
  await c.query('begin');
  for (const d of ddl) await c.query(d);
}

/** Waits until some session's statement matching `like` waits for a lock. */
async function waiting(like: string): Promise<void> {
  await expect.poll(async () => (await q(`select count(*)::int as n from pg_stat_activity
                                           where wait_event_type = 'Lock' and query like $1`, [like]))[0]!.n,
                    { timeout: 20_000, interval: 50 }).toBe(1);
}

async function ordersSchema(s: string): Promise<void> {
  await q(`create schema ${s}`);
  await q(`create table ${s}.users (id bigint primary key, email text, note text, created_at timestamptz not null default now())`);
  await q(`create table ${s}.orders (id bigint primary key, user_id bigint references ${s}.users (id), created_at timestamptz not null)`);
  await q(`insert into ${s}.users values (1, 'alice@x.example', 'n1'), (2, 'bob@x.example', 'n2')`);
  await q(`insert into ${s}.orders select g, 1 + (g % 2), now() - interval '400 days' from generate_series(1, 10) g`);
  await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', '100 years', p_subject_column => 'email')`);
  await q(`select retention.set_policy('${s}.orders', '${s}.orders', 'delete', 'created_at', '1 year', p_lock_timeout => '30 seconds')`);
  await q(`select retention.place_hold('subject', 'alice@x.example', 'litigation A')`);
}

const changes = {
  'swaps the subject column with another column\'s name': (s: string) => [
    `alter table ${s}.users rename column email to email_old`, `alter table ${s}.users rename column note to email`],
  'retypes the subject column to bytea': (s: string) => [
    `alter table ${s}.users alter column email type bytea using convert_to(email, 'UTF8')`],
};

describe('the referenced table changed while a batch waits for it (atk117 F1)', () => {
  for (const [what, ddl] of Object.entries(changes)) {
    it(`run_step: the application ${what} and commits during the wait; alice's orders stay`, async () => {
      const s = what.startsWith('swaps') ? 'k117s' : 'k117r';
      await ordersSchema(s);
      // A run is stepped by the session that opened it.
      const runner = await db.connect();
      const app = await db.connect();
      try {
        const run = (await runner.query(`select retention.open_run('${s}.orders') as run`)).rows[0].run;
        await lockedChange(app, ddl(s));
        const step = runner.query(`select retention.run_step(${run}) as r`).then((r) => r.rows[0].r, (e: { code?: string }) => e.code ?? 'error');
        await waiting('select retention.run_step(%');
        await app.query('commit');
        // Swapped: the policy's subject column is another column now (RT002); retyped: the
        // rule compares the bytea's text, and holds alice's orders.
        expect(await step).toBe(what.startsWith('swaps') ? 'failed' : 'running');
        expect(await q(`select error_code from retention.runs where run_id = $1`, [run]))
          .toEqual([{ error_code: what.startsWith('swaps') ? 'RT002' : null }]);
        while ((await runner.query(`select retention.run_step(${run}) as r`)).rows[0].r === 'running');
        expect(await count(db, `${s}.orders where user_id = 1`)).toBe(5);
        if (what.startsWith('retypes')) expect(await count(db, `${s}.orders where user_id = 2`)).toBe(0);
        // The ledger counts what went: bob's orders, or nothing.
        expect(await q(`select coalesce(sum(rows), 0)::int as n from retention.run_batches where run_id = $1`, [run]))
          .toEqual([{ n: what.startsWith('retypes') ? 5 : 0 }]);
      } finally {
        await app.query('rollback').catch(() => {});
        await app.end();
        await runner.end();
        await q(`select count(retention.release_hold(hold_id, 'test over')) from retention.legal_holds where released_at is null`);
        await q(`drop schema ${s} cascade`);
      }
    }, 60_000);
  }

  it('CALL run between batches: the swap during the pause changes nothing it deletes', async () => {
    const s = 'k117c';
    await ordersSchema(s);
    await q(`select retention.alter_policy('${s}.orders', p_batch_size => 2, p_pause_between_batches => '1 second')`);
    const app = await db.connect();
    try {
      const run = db.call(`call retention.run('${s}.orders')`).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
      await expect.poll(async () => count(db, `retention.run_batches b join retention.runs r using (run_id)
                                               where r.policy_name = '${s}.orders'`), { timeout: 20_000, interval: 20 }).toBeGreaterThan(0);
      await lockedChange(app, changes['swaps the subject column with another column\'s name'](s));
      await new Promise((r) => setTimeout(r, 1500));
      await app.query('commit');
      expect(await run).toBe('RT002');
      expect(await count(db, `${s}.orders where user_id = 1`)).toBe(5);
    } finally {
      await app.query('rollback').catch(() => {});
      await app.end();
      await q(`select count(retention.release_hold(hold_id, 'test over')) from retention.legal_holds where released_at is null`);
      await q(`drop schema ${s} cascade`);
    }
  }, 60_000);

  async function eventsSchema(s: string): Promise<void> {
    await q(`create schema ${s}`);
    await q(`create table ${s}.users (id bigint primary key, email text, note bytea, created_at timestamptz not null default now())`);
    await q(`insert into ${s}.users values (1, 'alice@x.example', 'n1'), (2, 'bob@x.example', 'n2')`);
    await q(`create table ${s}.orders (id bigint primary key, user_id bigint references ${s}.users (id))`);
    await q(`insert into ${s}.orders values (1, 1), (2, 2)`);
    await q(`create table ${s}.events (id bigint, order_id bigint references ${s}.orders (id), created_at timestamptz not null)
               partition by range (created_at)`);
    await q(`create table ${s}.events_old partition of ${s}.events for values from ('2020-01-01') to ('2024-01-01')`);
    await q(`create table ${s}.events_new partition of ${s}.events for values from ('2024-01-01') to ('2100-01-01')`);
    await q(`insert into ${s}.events select g, 1 + (g % 2), timestamptz '2022-06-01' + g * interval '1 day' from generate_series(1, 10) g`);
    await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', '100 years', p_subject_column => 'email')`);
    await q(`select retention.set_policy('${s}.events', '${s}.events', 'drop_partitions', 'created_at', '1 year', p_lock_timeout => '30 seconds')`);
  }

  // The detach step's check (the hold placed after the run counted), and the finish step's
  // (the hold placed after the detach), each with the chain's subject column changed
  // while the step waits for users.
  for (const at of ['detach', 'finish'] as const) {
    it(`drop_partitions, a two-key chain (events -> orders -> users), changed during the ${at} step: alice's events stay`, async () => {
      const s = `k117${at[0]}`;
      await eventsSchema(s);
      const runner = await db.connect();
      const app = await db.connect();
      const step = async () => (await runner.query(`select retention.run_step(${run}) as r`)).rows[0].r as string;
      let run = 0;
      try {
        run = (await runner.query(`select retention.open_run('${s}.events') as run`)).rows[0].run;
        if (at === 'detach') {
          await q(`select retention.place_hold('subject', 'alice@x.example', 'litigation A')`);
        }
        if (at === 'detach') {
          await q(`select retention.place_hold('subject', 'alice@x.example', 'litigation A')`);
          expect(await step()).toBe('running');  // to the detach
        } else {
          // Stepped until the partition is detached, not dropped yet; then the hold.
          const attached = async () => count(db, `pg_inherits where inhrelid = '${s}.events_old'::regclass`);
          for (let i = 0; i < 5 && (await attached()) === 1; i++) expect(await step()).toBe('running');
          expect(await attached()).toBe(0);
          await q(`select retention.place_hold('subject', 'alice@x.example', 'litigation A')`);
        }
        await lockedChange(app, [`alter table ${s}.users rename column email to email_x`, `alter table ${s}.users rename column note to email`]);
        const waited = step().catch((e: { code?: string }) => e.code ?? 'error');
        await waiting('select retention.run_step(%');
        await app.query('commit');
        await waited;
        while ((await q(`select status from retention.runs where run_id = $1`, [run]))[0]!.status === 'running' && (await step()) === 'running');
        // The run fails on the swapped subject column (RT002) with the partition kept: never
        // detached, or detached and not dropped (the DBA attaches it again).
        expect(await count(db, `${s}.events_old where order_id = 1`)).toBe(5);
        expect(await q(`select r.status, r.error_code, (select count(*)::int from pg_inherits where inhrelid = '${s}.events_old'::regclass) as attached
                          from retention.runs r where r.run_id = $1`, [run]))
          .toEqual([{ status: 'failed', error_code: 'RT002', attached: at === 'detach' ? 1 : 0 }]);
      } finally {
        await app.query('rollback').catch(() => {});
        await app.end();
        await runner.end();
        await q(`select count(retention.release_hold(hold_id, 'test over')) from retention.legal_holds where released_at is null`);
        await q(`drop schema ${s} cascade`);
      }
    }, 60_000);
  }
});

describe('archived rows judged after their key column was renamed or dropped (atk117 F2)', () => {
  for (const ddl of ['rename column user_id to customer_id', 'drop column user_id', 'rename column user_id to note']) {
    it(`orders ${ddl}: an archived order of alice's is still held`, async () => {
      const s = 'k117a';
      await q(`create schema ${s}`);
      try {
        await q(`create table ${s}.users (id bigint primary key, email text, created_at timestamptz not null default now())`);
        await q(`insert into ${s}.users values (1, 'alice@x.example'), (2, 'bob@x.example')`);
        await q(`create table ${s}.orders (id bigint primary key, user_id bigint references ${s}.users (id), created_at timestamptz not null)`);
        if (ddl.endsWith('note')) await q(`alter table ${s}.orders add column note_old text`);
        await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', '100 years', p_subject_column => 'email')`);
        await q(`select retention.place_hold('subject', 'alice@x.example', 'litigation A')`);
        const rows = (user: number) => JSON.stringify([{ table: `${s}.orders`, row: { id: 7, user_id: user, created_at: '2024-01-01T00:00:00+00:00' } }]);
        const held = async (user: number) => (await q(`select retention.archive_rows_held(0, $1::jsonb) as h`, [rows(user)]))[0]!.h;
        expect(await held(1)).toBe(true);
        expect(await held(2)).toBe(false);
        if (ddl.endsWith('note')) {
          // A column of another name takes the key's old name: read as the key no more.
          await q(`alter table ${s}.orders rename column user_id to customer_id`);
          await q(`alter table ${s}.orders rename column note_old to user_id`);
        } else {
          await q(`alter table ${s}.orders ${ddl}`);
        }
        expect(await held(1)).toBe(true);
      } finally {
        await q(`select count(retention.release_hold(hold_id, 'test over')) from retention.legal_holds where released_at is null`);
        await q(`drop schema ${s} cascade`);
      }
    });
  }
});
