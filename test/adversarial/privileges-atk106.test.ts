// Attack round atk106 (no role but the owner gains the owner's powers): PostgreSQL runs
// queries of its own for some partition DDL as the current user, the retention owner in a
// drop_partitions run:
//  F1  DETACH PARTITION of a table other tables reference checks their rows
//      (RI_PartitionRemove_Check): a query planned on the referencing table, whose partial
//      index folded the application's app.evil();
//  F2  attaching a held partition again (_attach_again) clones the table's foreign keys onto
//      it and validates them (RI_Initial_Check): a query planned on the referenced table.
// Both made the application's role superuser. The tables those checks read are now checked
// (_check_key_neighbours) before the DDL.
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { escalatingApp, isSuperuser } from '../support/escalation.ts';
import { count } from '../support/fixtures.ts';

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
  await c.query(`create function ${s}.evil() returns int language sql immutable as 'select ${s}.esc()'`);
  return { c, role, s };
}

/** A range-partitioned s.logs with an old and a current partition, and a drop_partitions policy. */
async function logs(c: pg.Client, s: string, keyed = ''): Promise<void> {
  await c.query(`create table ${s}.logs (id int, created_at timestamptz not null, ${keyed} primary key (id, created_at)) partition by range (created_at)`);
  await c.query(`create table ${s}.logs_2000 partition of ${s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
  await c.query(`create table ${s}.logs_now partition of ${s}.logs for values from ('2001-01-01') to ('2200-01-01')`);
}

describe('DETACH PARTITION checks the tables referencing the partitioned table (atk106 F1)', () => {
  it('a referencing table (NO ACTION) whose partial index folds the application\'s function: refused (RT025), nothing detached', async () => {
    const { c, role, s } = await app('d1');
    await logs(c, s);
    await c.query(`insert into ${s}.logs values (1, '2000-06-01'), (2, now())`);
    await c.query(`create table ${s}.refs (id int, created_at timestamptz, foreign key (id, created_at) references ${s}.logs)`);
    await c.query(`create index refs_evil on ${s}.refs (id) where ${s}.evil() = 1`);
    await q(`select retention.set_policy('${s}.logs', '${s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days')`);
    expect(await sqlState(db.call(`call retention.run('${s}.logs')`))).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `pg_inherits where inhparent = '${s}.logs'::regclass`)).toBe(2);
    // Without the index, the run detaches and drops the old partition.
    await c.query(`drop index ${s}.refs_evil`);
    await db.call(`call retention.run('${s}.logs')`);
    expect(await q(`select relname from pg_class where relname like 'logs_%' and relkind = 'r' and relnamespace = '${s}'::regnamespace order by 1`))
      .toEqual([{ relname: 'logs_now' }]);
    expect(await isSuperuser(db, role)).toBe(false);
  });

  it('the worker\'s concurrent detach: the step that hands the partition over refuses (RT025) first', async () => {
    const { c, role, s } = await app('d2');
    await logs(c, s);
    await c.query(`insert into ${s}.logs values (1, '2000-06-01'), (2, now())`);
    await c.query(`create table ${s}.refs (id int, created_at timestamptz, foreign key (id, created_at) references ${s}.logs on delete restrict)`);
    await c.query(`create index refs_evil on ${s}.refs (id) where ${s}.evil() = 1`);
    await q(`select retention.set_policy('${s}.logs', '${s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days')`);
    const w = await db.connect();
    clients.push(w);
    await w.query(`select retention.pin_session(), set_config('retention.detach_concurrently', 'on', false)`);
    const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
    let state = '';
    for (let i = 0; i < 10 && state === ''; i++) {
      state = await w.query(`select retention.run_step($1) as s`, [run]).then((r) => (r.rows[0].s === 'running' ? '' : r.rows[0].s), (e) => e.code);
    }
    expect(state).toBe('failed');
    expect((await q(`select error_code from retention.runs where run_id = $1`, [run]))[0]!.error_code).toBe('RT025');
    expect((await w.query(`select * from retention.detach_statement($1)`, [run])).rows).toEqual([]);
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `pg_inherits where inhparent = '${s}.logs'::regclass`)).toBe(2);
  });
});

describe('attaching a held partition again checks the tables its keys reference (atk106 F2)', () => {
  it('the application drops the detached partition\'s key; the re-attach would validate it on a table with a folding index: left detached for the DBA', async () => {
    const { c, role, s } = await app('a1');
    await c.query(`create table ${s}.users (id int primary key)`);
    await c.query(`insert into ${s}.users values (1), (2)`);
    await c.query(`create table ${s}.logs (id int, user_id int references ${s}.users, created_at timestamptz not null) partition by range (created_at)`);
    await c.query(`create table ${s}.logs_2000 partition of ${s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
    await c.query(`create table ${s}.logs_now partition of ${s}.logs for values from ('2001-01-01') to ('2200-01-01')`);
    await c.query(`insert into ${s}.logs values (1, 1, '2000-06-01'), (2, 2, now())`);
    await q(`select retention.set_policy('${s}.logs', '${s}.logs', 'drop_partitions', 'created_at', p_retain => '30 days')`);
    // Step by step: detach first.
    const w = await db.connect();
    clients.push(w);
    await w.query(`select retention.pin_session()`);
    const run = Number((await w.query(`select retention.open_run($1) as r`, [`${s}.logs`])).rows[0].r);
    for (let i = 0; i < 10 && (await count(db, `retention.run_batches where run_id = ${run} and disposition = 'detached'`)) === 0; i++) {
      await w.query(`select retention.run_step($1)`, [run]);
    }
    expect(await count(db, `retention.run_batches where run_id = ${run} and disposition = 'detached'`)).toBe(1);
    // Then the application drops the detached table's key (its own table now) and makes the
    // index again; an admin places a hold on the table: the finish step attaches it again.
    await c.query(`alter table ${s}.logs_2000 drop constraint logs_user_id_fkey`);
    await c.query(`create index users_evil on ${s}.users (id) where ${s}.evil() = 1`);
    const [{ hold_id: h }] = await q(`select hold_id from retention.place_hold('table', '${s}.logs', 'litigation')`) as [{ hold_id: number }];
    for (let i = 0; i < 10; i++) {
      const st = (await w.query(`select retention.run_step($1) as s`, [run])).rows[0].s;
      if (st !== 'running') break;
    }
    expect(await isSuperuser(db, role)).toBe(false);
    // Kept: detached, its row there, left for the DBA (not reattached, not dropped).
    expect(await count(db, `${s}.logs_2000`)).toBe(1);
    expect(await count(db, `pg_inherits where inhrelid = '${s}.logs_2000'::regclass`)).toBe(0);
    expect(await count(db, `retention.run_batches where run_id = ${run} and disposition in ('reattached', 'dropped')`)).toBe(0);
    await q(`select retention.release_hold($1, 'done')`, [h]);
    // With the index there before the run, the detach itself is refused (its check reads
    // the referenced tables too).
    await c.query(`create table ${s}.logs_2001 partition of ${s}.logs for values from ('2000-01-01') to ('2001-01-01')`);
    await c.query(`insert into ${s}.logs values (3, 1, '2000-06-01')`);
    await c.query(`alter table ${s}.logs_2000 rename to logs_2000_kept`);
    expect(await sqlState(db.call(`call retention.run('${s}.logs')`))).toBe('RT025');
    expect(await isSuperuser(db, role)).toBe(false);
    expect(await count(db, `pg_inherits where inhrelid = '${s}.logs_2001'::regclass`)).toBe(1);
  });
});
