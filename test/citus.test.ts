// Citus distributed tables are refused: a batch addresses the rows it picked by ctid,
// which is unique within one shard only, so a delete sent to every shard would remove
// other rows there. Citus is not installed here: the test creates a catalog table shaped
// like Citus's pg_dist_partition in this database's pg_catalog (a superuser may, with
// allow_system_table_mods) and lists tables in it, as Citus does when it distributes one.
import { beforeAll, describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { AS_OF, count, makeEvents } from './support/fixtures.ts';

const db = useTestDatabase();

async function distribute(table: string): Promise<void> {
  await db.q(`insert into pg_catalog.pg_dist_partition (logicalrelid, partmethod, partkey) values ($1::regclass, 'h', 'user_id')`, [table]);
}

beforeAll(async () => {
  const c = await db.connect();
  try {
    await c.query(`set allow_system_table_mods = on`);
    await c.query(`create table pg_catalog.pg_dist_partition (logicalrelid regclass not null, partmethod "char" not null, partkey text)`);
  } finally {
    await c.end();
  }
});

describe('Citus distributed tables', () => {
  it('a policy on one is refused with a hint, and nothing is saved', async () => {
    await makeEvents(db, 'app.dist', 50);
    await distribute('app.dist');
    const err = await db.q(`select retention.set_policy('dist', 'app.dist', 'delete', 'created_at', p_retain => '10 days')`)
      .then(() => null, (e: { code: string; message: string; hint: string }) => e);
    expect(err).toMatchObject({ code: 'RT013', message: 'app.dist is a Citus distributed table' });
    expect(err!.hint).toContain('ctid');
    expect(await count(db, `retention.policies where name = 'dist'`)).toBe(0);
    // An erasure rule that would act on it is refused too; one that keeps its rows is not.
    expect(await sqlState(db.q(`select retention.set_erasure_rule('app.dist', 'delete')`))).toBe('RT013');
    expect(await sqlState(db.q(`select retention.set_erasure_rule('app.dist', 'scrub', p_scrub => '{"payload": "null"}')`))).toBe('RT013');
    expect(await count(db, `retention.erasure_rules where target = 'app.dist'::regclass`)).toBe(0);
    await db.q(`select retention.set_erasure_rule('app.dist', 'keep', p_reason => 'Kept by the shard owner')`);
    // Tables Citus does not list are not affected.
    await makeEvents(db, 'app.local', 50);
    await db.q(`select retention.set_policy('local', 'app.local', 'delete', 'created_at', p_retain => '10 days')`);
  });

  it('a table distributed after its policy was set is refused at the run, before any row goes', async () => {
    await makeEvents(db, 'app.later', 200);
    await db.q(`select retention.set_policy('later', 'app.later', 'delete', 'created_at', p_retain => '10 days')`);
    const before = await count(db, `app.later`);
    await distribute('app.later');
    expect(await sqlState(db.call(`call retention.run('later', p_as_of => '${AS_OF}')`))).toBe('RT013');
    expect(await count(db, `retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'later'`)).toBe(0);
    expect(await count(db, `app.later`)).toBe(before);
    const [preview] = await db.q(`select eligible from retention.preview('later', '${AS_OF}')`);
    expect(preview).toEqual({ eligible: null });
  });

  it('drop_partitions: a distributed partitioned table, or one whose partitions are, is refused when set and at the run (what an attacker found)', async () => {
    await db.q(`create table app.parts (id bigint, user_id bigint, created_at timestamptz not null) partition by range (created_at)`);
    await db.q(`create table app.parts_2025_01 partition of app.parts for values from ('2025-01-01') to ('2025-02-01')`);
    await db.q(`create table app.parts_2025_02 partition of app.parts for values from ('2025-02-01') to ('2025-03-01')`);
    await db.q(`create table app.parts_2025_03 partition of app.parts for values from ('2025-03-01') to ('2025-04-01')`);
    await db.q(`insert into app.parts select i, i % 10, '2025-01-01Z'::timestamptz + make_interval(hours => i) from generate_series(0, 2000) i`);
    const before = await count(db, `app.parts`);
    await db.q(`select retention.set_policy('parts', 'app.parts', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_max_rows_per_run => 1000000)`);
    // Only a partition is listed: the policy on its parent is refused from now on.
    await distribute('app.parts_2025_01');
    expect(await sqlState(db.q(`select retention.set_policy('parts2', 'app.parts', 'drop_partitions', 'created_at', p_retain => '1 day')`))).toBe('RT013');
    expect(await sqlState(db.call(`call retention.run('parts', p_as_of => '2025-03-15Z')`))).toBe('RT013');
    // Only the parent is listed, and a hold keeps a partition to be deleted row by row: still refused.
    await db.q(`delete from pg_catalog.pg_dist_partition where logicalrelid = 'app.parts_2025_01'::regclass`);
    await distribute('app.parts');
    await db.q(`select retention.place_hold('subject', '3', 'Litigation 3')`);
    expect(await sqlState(db.call(`call retention.run('parts', p_as_of => '2025-03-15Z')`))).toBe('RT013');
    expect(await count(db, `app.parts`)).toBe(before);
    expect(await count(db, `pg_inherits where inhparent = 'app.parts'::regclass`)).toBe(3);
  });

  it('a run that finds its table or a detached partition distributed between its steps stops before dropping it', async () => {
    await db.q(`create table app.steps (id bigint, created_at timestamptz not null) partition by range (created_at)`);
    for (const m of ['01', '02', '03']) {
      await db.q(`create table app.steps_2025_${m} partition of app.steps for values from ('2025-${m}-01') to ('2025-${m}-01'::date + interval '1 month')`);
    }
    await db.q(`insert into app.steps select i, '2025-01-01Z'::timestamptz + make_interval(hours => i) from generate_series(0, 1400) i`);
    await db.q(`select retention.set_policy('steps', 'app.steps', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const jan = await count(db, `app.steps_2025_01`);
    const c = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('steps', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
      await c.query(`select retention.run_step($1)`, [id]);   // nothing left over
      await c.query(`select retention.run_step($1)`, [id]);   // January detached
      await distribute('app.steps_2025_01');
      let status = 'running';
      for (let i = 0; i < 5 && status === 'running'; i++) status = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
      const [run] = await db.q(`select status, error_code, affected::int from retention.runs where run_id = $1`, [id]);
      expect(run).toEqual({ status: 'failed', error_code: 'RT013', affected: 0 });
    } finally {
      await c.end();
    }
    expect(await count(db, `app.steps_2025_01`)).toBe(jan);
    expect(await count(db, `pg_inherits where inhparent = 'app.steps'::regclass`)).toBe(2);
  });

  it('a distributed table the delete reaches through a cascade refuses the run too', async () => {
    await makeEvents(db, 'app.parent', 100);
    await db.q(`create table app.child (id bigint primary key, parent_id bigint references app.parent on delete cascade)`);
    await db.q(`insert into app.child select id, id from app.parent`);
    await db.q(`select retention.set_policy('parent', 'app.parent', 'delete', 'created_at', p_retain => '10 days')`);
    await distribute('app.child');
    expect(await sqlState(db.call(`call retention.run('parent', p_as_of => '${AS_OF}')`))).toBe('RT013');
    expect(await count(db, `app.parent`)).toBe(100);
    expect(await count(db, `app.child`)).toBe(100);
  });
});
