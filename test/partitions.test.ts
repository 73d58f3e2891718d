import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';

const db = useTestDatabase();

/**
 * A table range-partitioned by month on created_at: one partition per month from
 * 2025-01 for `months` months (named like pg_partman 5 does, <table>_pYYYYMMDD, when
 * `partman`), optionally a default partition, and `perDay` rows per day in each month,
 * user_id cycling 1..10.
 */
async function makePartitioned(
  table: string,
  opts: { months?: number; perDay?: number; withDefault?: boolean; partman?: boolean; keyType?: string } = {},
): Promise<void> {
  const { months = 4, perDay = 10, withDefault = true, partman = false, keyType = 'timestamptz' } = opts;
  const [schema, name] = table.split('.') as [string, string];
  await db.q(`create schema if not exists ${schema}`);
  await db.q(`drop table if exists ${table} cascade`);
  await db.q(`create table ${table} (
      id bigint generated always as identity,
      user_id bigint not null,
      created_at ${keyType} not null,
      payload text,
      primary key (id, created_at)) partition by range (created_at)`);
  for (let m = 0; m < months; m++) {
    const from = new Date(Date.UTC(2025, m, 1)).toISOString().slice(0, 10);
    const to = new Date(Date.UTC(2025, m + 1, 1)).toISOString().slice(0, 10);
    const part = partman ? `${name}_p${from.replaceAll('-', '')}` : `${name}_${from.slice(0, 7).replace('-', '_')}`;
    await db.q(`create table ${schema}.${part} partition of ${table} for values from ('${from}') to ('${to}')`);
  }
  if (withDefault) await db.q(`create table ${table}_default partition of ${table} default`);
  await db.q(`create index on ${table} (created_at)`);
  await db.q(
    `insert into ${table} (user_id, created_at, payload)
     select 1 + i % 10, timestamptz '2025-01-01 00:00Z' + make_interval(secs => i * 86400.0 / $2), md5(i::text)
       from generate_series(0, $1 - 1) i
      where timestamptz '2025-01-01 00:00Z' + make_interval(secs => i * 86400.0 / $2) < timestamptz '2025-01-01Z' + make_interval(months => $3)`,
    [Math.ceil(perDay * 31 * months), perDay, months],
  );
}

async function partitionsOf(table: string): Promise<string[]> {
  const rows = await db.q<{ p: string }>(
    `select c.relname::text as p from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = $1::regclass order by 1`, [table]);
  return rows.map((r) => r.p);
}

async function lastRun(policy: string) {
  const [run] = await db.q(`select * from retention.runs where policy_name = $1 order by run_id desc limit 1`, [policy]);
  return run!;
}

/** Waits until the backend waits for a lock (a concurrent detach waiting for older transactions). */
async function waitForWaiting(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await db.q(`select wait_event_type from pg_stat_activity where pid = $1`, [pid]))[0]?.wait_event_type === 'Lock') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`backend ${pid} never waited for a lock`);
}

async function batches(runId: unknown) {
  return db.q(`select rows, partition_name, disposition from retention.run_batches where run_id = $1 order by batch_no`, [runId]);
}

describe('drop_partitions', () => {
  it('drops exactly the partitions whose upper bound is at or before the cutoff, counting their rows', async () => {
    await makePartitioned('app.p1', { months: 4 });
    await db.q(`insert into app.p1 (user_id, created_at) values (1, '2025-02-28 23:59:59.999999Z'), (1, '2025-03-01 00:00Z')`);
    const jan = await count(db, `app.p1_2025_01`);
    const feb = await count(db, `app.p1_2025_02`);
    const total = await count(db, `app.p1`);
    const atCutoff = await count(db, `app.p1 where created_at = '2025-03-01 00:00Z'`);
    // Retain 31 days as of 2025-04-01: the cutoff is exactly 2025-03-01, February's upper bound.
    await db.q(`select retention.set_policy('p1', 'app.p1', 'drop_partitions', 'created_at', p_retain => '31 days', p_max_rows_per_run => 1000000)`);

    // One microsecond earlier and February's bound is past the cutoff: only January goes.
    await db.call(`call retention.run('p1', p_as_of => '2025-04-01 00:00Z'::timestamptz - interval '1 microsecond')`);
    expect(await partitionsOf('app.p1')).toEqual(['p1_2025_02', 'p1_2025_03', 'p1_2025_04', 'p1_default']);
    let run = await lastRun('p1');
    expect(run.status).toBe('completed');
    expect(Number(run.affected)).toBe(jan);
    expect(await batches(run.run_id)).toEqual([{ rows: jan, partition_name: 'app.p1_2025_01', disposition: 'dropped' }]);

    await db.call(`call retention.run('p1', p_as_of => '2025-04-01 00:00Z')`);
    expect(await partitionsOf('app.p1')).toEqual(['p1_2025_03', 'p1_2025_04', 'p1_default']);
    run = await lastRun('p1');
    expect([run.status, Number(run.eligible), Number(run.affected), run.batches]).toEqual(['completed', feb, feb, 1]);
    expect(await count(db, `app.p1 where created_at = '2025-02-28 23:59:59.999999Z'`)).toBe(0);
    expect(await count(db, `app.p1 where created_at = '2025-03-01 00:00Z'`)).toBe(atCutoff);
    expect(atCutoff).toBeGreaterThan(0);
    expect(await count(db, `app.p1`)).toBe(total - jan - feb);
    expect(await count(db, `to_regclass('app.p1_2025_02') x where x is not null`)).toBe(0);
    const audit = await db.q(`select details from retention.audit_log where action = 'run.completed' order by audit_id`);
    expect(audit.map((a) => Number(a.details.affected))).toEqual([jan, feb]);
  });

  it('never drops the default partition or the last remaining one', async () => {
    await makePartitioned('app.p2', { months: 2 });
    await db.q(`insert into app.p2 (user_id, created_at) values (1, '2020-01-01Z'), (2, '2020-06-01Z')`);
    await db.q(`select retention.set_policy('p2', 'app.p2', 'drop_partitions', 'created_at', p_retain => '30 days', p_max_rows_per_run => 1000000)`);
    const list = await db.q(`select partition, rows, action from retention.partitions('p2', '2026-01-01Z')`);
    expect(list.map((p) => [p.partition, p.action])).toEqual([
      ['app.p2_2025_01', 'drop'],
      ['app.p2_2025_02', 'keep: last partition'],
      ['app.p2_default', 'keep: default partition'],
    ]);
    const feb = await count(db, `app.p2_2025_02`);
    await db.call(`call retention.run('p2', p_as_of => '2026-01-01Z')`);
    expect(await partitionsOf('app.p2')).toEqual(['p2_2025_02', 'p2_default']);
    await db.call(`call retention.run('p2')`);
    expect(await partitionsOf('app.p2')).toEqual(['p2_2025_02', 'p2_default']);
    expect(await count(db, `app.p2_2025_02`)).toBe(feb);
    expect(await count(db, `app.p2_default`)).toBe(2);
    const run = await lastRun('p2');
    expect([run.status, Number(run.eligible), Number(run.affected)]).toEqual(['completed', 0, 0]);
  });

  it('a subject hold keeps its partition: the unheld rows are deleted in batches, the partition goes once the hold is released', async () => {
    await makePartitioned('app.p3', { months: 3 });
    await db.q(`select retention.set_policy('p3', 'app.p3', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_max_rows_per_run => 1000000, p_batch_size => 100)`);
    const janHeld = await count(db, `app.p3_2025_01 where user_id = 4`);
    const jan = await count(db, `app.p3_2025_01`);
    const feb = await count(db, `app.p3_2025_02`);
    const [hold] = await db.q(`select * from retention.place_hold('subject', '4', 'Litigation Smith v. Acme')`);
    await db.q(`select retention.place_hold('subject', 'not-a-number', 'A subject id of another system')`);
    const list = await db.q(`select partition, rows::int, held_rows::int, action from retention.partitions('p3', '2025-03-15Z')`);
    expect(list[0]).toEqual({ partition: 'app.p3_2025_01', rows: jan, held_rows: janHeld, action: 'keep (legal hold): delete its unheld rows' });
    expect(list[1]!.action).toBe('keep (legal hold): delete its unheld rows');

    await db.call(`call retention.run('p3', p_as_of => '2025-03-15Z')`);
    let run = await lastRun('p3');
    const febHeld = await count(db, `app.p3_2025_02`);
    expect(run.status).toBe('completed');
    expect(Number(run.held_back)).toBe(janHeld + febHeld);
    expect(Number(run.affected)).toBe(jan - janHeld + feb - febHeld);
    expect(await partitionsOf('app.p3')).toEqual(['p3_2025_01', 'p3_2025_02', 'p3_2025_03', 'p3_default']);
    expect(await count(db, `app.p3_2025_01 where user_id <> 4`)).toBe(0);
    expect(await count(db, `app.p3_2025_01 where user_id = 4`)).toBe(janHeld);
    const rowBatches = await batches(run.run_id);
    expect(rowBatches.every((b) => b.disposition === 'rows_deleted' && b.rows <= 100)).toBe(true);
    expect(new Set(rowBatches.map((b) => b.partition_name))).toEqual(new Set(['app.p3_2025_01', 'app.p3_2025_02']));
    expect(rowBatches.reduce((s, b) => s + b.rows, 0)).toBe(Number(run.affected));

    await db.q(`select retention.release_hold($1, 'Case closed')`, [hold!.hold_id]);
    await db.call(`call retention.run('p3', p_as_of => '2025-03-15Z')`);
    run = await lastRun('p3');
    expect(await partitionsOf('app.p3')).toEqual(['p3_2025_03', 'p3_default']);
    expect(await batches(run.run_id)).toEqual([
      { rows: janHeld, partition_name: 'app.p3_2025_01', disposition: 'dropped' },
      { rows: febHeld, partition_name: 'app.p3_2025_02', disposition: 'dropped' },
    ]);
  });

  it('a subject hold keeps only the partitions that hold that subject\'s rows', async () => {
    await makePartitioned('app.pd', { months: 3 });
    await db.q(`insert into app.pd (user_id, created_at) values (99, '2025-01-20Z')`);
    await db.q(`select retention.set_policy('pd', 'app.pd', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_max_rows_per_run => 1000000)`);
    await db.q(`select retention.place_hold('subject', '99', 'Complaint 2025-17')`);
    const jan = await count(db, `app.pd_2025_01`);
    const feb = await count(db, `app.pd_2025_02`);
    await db.call(`call retention.run('pd', p_as_of => '2025-03-15Z')`);
    expect(await partitionsOf('app.pd')).toEqual(['pd_2025_01', 'pd_2025_03', 'pd_default']);
    expect(await db.q(`select user_id::int, count(*)::int as n from app.pd_2025_01 group by 1`)).toEqual([{ user_id: 99, n: 1 }]);
    const run = await lastRun('pd');
    expect([run.status, Number(run.held_back), Number(run.affected)]).toEqual(['completed', 1, jan - 1 + feb]);
    expect((await batches(run.run_id)).map((b) => `${b.partition_name} ${b.disposition}`)).toEqual([
      'app.pd_2025_02 dropped', 'app.pd_2025_01 rows_deleted',
    ]);
  });

  it('a table or policy hold keeps every partition whole', async () => {
    await makePartitioned('app.p4', { months: 3 });
    await db.q(`select retention.set_policy('p4', 'app.p4', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const before = await count(db, `app.p4`);
    const expired = await count(db, `app.p4 where created_at < '2025-03-01Z'`);
    for (const [scope, value] of [['table', 'app.p4'], ['policy', 'p4']] as const) {
      const [hold] = await db.q(`select * from retention.place_hold($1, $2, 'Regulator inquiry')`, [scope, value]);
      await db.call(`call retention.run('p4', p_as_of => '2025-03-15Z')`);
      const run = await lastRun('p4');
      expect([scope, run.status, Number(run.eligible), Number(run.held_back), Number(run.affected)]).toEqual([scope, 'completed', expired, expired, 0]);
      expect(await count(db, `app.p4`)).toBe(before);
      await db.q(`select retention.release_hold($1, 'lifted')`, [hold!.hold_id]);
    }
    // A table hold on one partition keeps that partition only.
    await db.q(`select retention.place_hold('table', 'app.p4_2025_01', 'Audit of January')`);
    await db.call(`call retention.run('p4', p_as_of => '2025-03-15Z')`);
    expect(await partitionsOf('app.p4')).toEqual(['p4_2025_01', 'p4_2025_03', 'p4_default']);
    expect(await count(db, `app.p4_2025_01`)).toBe(await count(db, `app.p4 where created_at < '2025-02-01Z'`));
  });

  it('archive mode moves expired partitions into the archive schema with their rows', async () => {
    await makePartitioned('app.p5', { months: 3 });
    await db.q(`create schema archive`);
    expect(await sqlState(db.q(`select retention.set_policy('p5', 'app.p5', 'drop_partitions', 'created_at', p_archive_schema => 'no_such_schema')`))).toBe('RT018');
    expect(await sqlState(db.q(`select retention.set_policy('p5', 'app.p5', 'drop_partitions', 'created_at', p_archive_schema => 'app')`))).toBe('RT018');
    await db.q(`select retention.set_policy('p5', 'app.p5', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_archive_schema => 'archive', p_max_rows_per_run => 1000000)`);
    const jan = await count(db, `app.p5_2025_01`);
    expect((await db.q(`select action from retention.partitions('p5', '2025-02-15Z')`))[0]!.action).toBe('archive to archive');
    await db.call(`call retention.run('p5', p_as_of => '2025-02-15Z')`);
    expect(await partitionsOf('app.p5')).toEqual(['p5_2025_02', 'p5_2025_03', 'p5_default']);
    expect(await count(db, `archive.p5_2025_01`)).toBe(jan);
    expect(await count(db, `pg_inherits where inhrelid = 'archive.p5_2025_01'::regclass`)).toBe(0);
    const run = await lastRun('p5');
    expect(await batches(run.run_id)).toEqual([{ rows: jan, partition_name: 'app.p5_2025_01', disposition: 'archived' }]);
  });

  it('handles pg_partman-style partition sets: pYYYYMMDD names, a default partition, a template table, a date key', async () => {
    await makePartitioned('app.p6', { months: 4, partman: true, keyType: 'date' });
    await db.q(`create schema if not exists partman`);
    await db.q(`create table partman.template_app_p6 (like app.p6)`);
    await db.q(`insert into app.p6 (user_id, created_at) values (1, '2019-05-05')`);
    await db.q(`select retention.set_policy('p6', 'app.p6', 'drop_partitions', 'created_at', p_retain => '45 days', p_max_rows_per_run => 1000000)`);
    // As of 2025-04-15 minus 45 days = 2025-03-01 (a date key compares by day).
    const plan = await db.q(`select partition, action from retention.partitions('p6', '2025-04-15 12:00Z')`);
    expect(plan.map((p) => [p.partition, p.action])).toEqual([
      ['app.p6_p20250101', 'drop'], ['app.p6_p20250201', 'drop'],
      ['app.p6_p20250301', 'keep: not past the cutoff'], ['app.p6_p20250401', 'keep: not past the cutoff'],
      ['app.p6_default', 'keep: default partition'],
    ]);
    const gone = await count(db, `app.p6 where created_at >= '2025-01-01' and created_at < '2025-03-01'`);
    await db.call(`call retention.run('p6', p_as_of => '2025-04-15 12:00Z')`);
    expect(await partitionsOf('app.p6')).toEqual(['p6_default', 'p6_p20250301', 'p6_p20250401']);
    expect(Number((await lastRun('p6')).affected)).toBe(gone);
    expect(await count(db, `app.p6_default`)).toBe(1);
    expect(await count(db, `partman.template_app_p6`)).toBe(0);
  });

  it('handles a timestamp (without time zone) key and a partition that is itself partitioned', async () => {
    await makePartitioned('app.pe', { months: 3, keyType: 'timestamp' });
    // January split in two by id: dropping it drops both halves; its rows are counted through it.
    const jan = await count(db, `app.pe_2025_01`);
    const [{ max }] = await db.q(`select max(id)::int as max from app.pe`) as [{ max: number }];
    await db.q(`create table app.pe_jan_tmp as select * from app.pe_2025_01`);
    await db.q(`drop table app.pe_2025_01`);
    await db.q(`create table app.pe_2025_01 partition of app.pe for values from ('2025-01-01') to ('2025-02-01') partition by range (id)`);
    await db.q(`create table app.pe_2025_01_low partition of app.pe_2025_01 for values from (minvalue) to (${max + Math.floor(jan / 2)})`);
    await db.q(`create table app.pe_2025_01_high partition of app.pe_2025_01 default`);
    await db.q(`insert into app.pe (user_id, created_at, payload) select user_id, created_at, payload from app.pe_jan_tmp`);
    expect(await count(db, `app.pe_2025_01_low`)).toBeGreaterThan(0);
    expect(await count(db, `app.pe_2025_01_high`)).toBeGreaterThan(0);
    await db.q(`select retention.set_policy('pe', 'app.pe', 'drop_partitions', 'created_at', p_retain => '14 days', p_max_rows_per_run => 1000000)`);
    const plan = await db.q(`select partition, upper_bound, rows::int, action from retention.partitions('pe', '2025-02-15Z')`);
    expect(plan[0]).toEqual({ partition: 'app.pe_2025_01', upper_bound: new Date('2025-02-01Z'), rows: jan, action: 'drop' });
    expect(plan[1]!.action).toBe('keep: not past the cutoff');
    await db.call(`call retention.run('pe', p_as_of => '2025-02-15Z')`);
    expect(await partitionsOf('app.pe')).toEqual(['pe_2025_02', 'pe_2025_03', 'pe_default']);
    expect(await count(db, `pg_class where relname like 'pe_2025_01%'`)).toBe(0);
    expect(await count(db, `app.pe_jan_tmp`)).toBe(jan);
    expect(Number((await lastRun('pe')).affected)).toBe(jan);
  });

  it('preview and dry runs list and count the partitions that would go without touching them', async () => {
    await makePartitioned('app.p7', { months: 3 });
    await db.q(`select retention.set_policy('p7', 'app.p7', 'drop_partitions', 'created_at', p_retain => '10 days', p_max_rows_per_run => 100)`);
    const jan = await count(db, `app.p7_2025_01`);
    const [pv] = await db.q(`select * from retention.preview('p7', '2025-02-15Z')`);
    expect([Number(pv!.eligible), Number(pv!.held_back), Number(pv!.would_affect), pv!.exceeds_ceiling]).toEqual([jan, 0, jan, true]);
    expect(pv!.oldest_eligible.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    const list = await db.q(`select partition, lower_bound, upper_bound, rows::int from retention.partitions('p7', '2025-02-15Z') where action = 'drop'`);
    expect(list).toEqual([{ partition: 'app.p7_2025_01', lower_bound: new Date('2025-01-01Z'), upper_bound: new Date('2025-02-01Z'), rows: jan }]);
    await db.call(`call retention.run('p7', p_as_of => '2025-02-15Z', p_dry_run => true)`);
    const run = await lastRun('p7');
    expect([run.mode, run.status, Number(run.affected)]).toEqual(['dry_run', 'completed', jan]);
    expect(await partitionsOf('app.p7')).toHaveLength(4);
    // Over the ceiling (100 rows): refused, nothing dropped; forced, it goes.
    expect(await sqlState(db.call(`call retention.run('p7', p_as_of => '2025-02-15Z')`))).toBe('RT012');
    expect([(await lastRun('p7')).status, Number((await lastRun('p7')).eligible)]).toEqual(['refused', jan]);
    expect(await partitionsOf('app.p7')).toHaveLength(4);
    // p_max_rows caps whole partitions: January alone is more than 10 rows, so nothing goes.
    await db.call(`call retention.run('p7', p_as_of => '2025-02-15Z', p_max_rows => 10)`);
    expect((await lastRun('p7')).status).toBe('stopped_max_rows');
    expect(await partitionsOf('app.p7')).toHaveLength(4);
    await db.call(`call retention.run('p7', p_as_of => '2025-02-15Z', p_force => true)`);
    expect(await partitionsOf('app.p7')).toHaveLength(3);
  });

  it('a lock it cannot get within lock_timeout leaves everything as it was, and the next run drops', async () => {
    await makePartitioned('app.p8', { months: 3 });
    await db.q(`select retention.set_policy('p8', 'app.p8', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_lock_timeout => '200 milliseconds', p_max_rows_per_run => 1000000)`);
    const before = await count(db, `app.p8`);
    for (const blocker of [
      `insert into app.p8 (user_id, created_at) values (1, '2025-01-05Z')`, // a late write into an old partition
      `select count(*) from app.p8`, // a long read of the table: the detach waits for it
    ]) {
      const other = await db.connect();
      await other.query('begin');
      await other.query(blocker);
      const { notices } = await db.call(`call retention.run('p8', p_as_of => '2025-03-15Z')`);
      const run = await lastRun('p8');
      expect([run.status, run.error_code, Number(run.affected), run.batches]).toEqual(['stopped_lock_timeout', '55P03', 0, 0]);
      expect(notices.join('\n')).toContain('stopped_lock_timeout');
      expect(await partitionsOf('app.p8')).toHaveLength(4);
      expect(await count(db, `retention.run_batches where run_id = $1`, [run.run_id])).toBe(0);
      await other.query('rollback');
      await other.end();
    }
    expect(await count(db, `app.p8`)).toBe(before);
    await db.call(`call retention.run('p8', p_as_of => '2025-03-15Z')`);
    expect((await lastRun('p8')).status).toBe('completed');
    expect(await partitionsOf('app.p8')).toEqual(['p8_2025_03', 'p8_default']);
  });

  it('a partition other rows still reference is not detached: the run fails with a hint and nothing is dropped', async () => {
    await makePartitioned('app.p9', { months: 2 });
    await db.q(`create table app.p9_refs (id bigint primary key, ev_id bigint, ev_at timestamptz,
                  foreign key (ev_id, ev_at) references app.p9 (id, created_at) on delete cascade)`);
    await db.q(`insert into app.p9_refs select 1, id, created_at from app.p9 where created_at < '2025-01-02Z' limit 1`);
    await db.q(`select retention.set_policy('p9', 'app.p9', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const err = await db.call(`call retention.run('p9', p_as_of => '2025-02-15Z')`).catch((e: { code: string; hint: string }) => e);
    expect((err as { code: string }).code).toBe('23503');
    expect((err as { hint: string }).hint).toContain('drop that table');
    expect((await lastRun('p9')).status).toBe('failed');
    expect(await partitionsOf('app.p9')).toHaveLength(3);
    await db.q(`delete from app.p9_refs`);
    await db.call(`call retention.run('p9', p_as_of => '2025-02-15Z')`);
    expect(await partitionsOf('app.p9')).toEqual(['p9_2025_02', 'p9_default']);
  });

  it('detaches one partition per step and finishes it before the next: between steps the table is unlocked and the rest attached', async () => {
    await makePartitioned('app.ps', { months: 4, withDefault: false });
    const jan = await count(db, `app.ps_2025_01`);
    const feb = await count(db, `app.ps_2025_02`);
    await db.q(`select retention.set_policy('ps', 'app.ps', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const c = await db.connect();
    const app = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('ps', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
      const seen: string[][] = [];
      for (let i = 0; i < 20; i++) {
        const status = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
        // The application reads and writes the table between any two steps, without waiting.
        await app.query(`set lock_timeout = '100ms'`);
        await app.query(`insert into app.ps (user_id, created_at) values (1, '2025-04-02Z')`);
        seen.push((await batches(id)).map((b) => `${b.partition_name} ${b.disposition}`));
        if (status !== 'running') break;
      }
      // January detached alone, dropped, then February: never two detached at once.
      expect(seen.filter((s, i) => i === 0 || s.join() !== seen[i - 1]!.join())).toEqual([
        [],
        ['app.ps_2025_01 detached'],
        ['app.ps_2025_01 dropped'],
        ['app.ps_2025_01 dropped', 'app.ps_2025_02 detached'],
        ['app.ps_2025_01 dropped', 'app.ps_2025_02 dropped'],
      ]);
      const run = await lastRun('ps');
      expect([run.status, Number(run.affected)]).toEqual(['completed', jan + feb]);
      expect(await partitionsOf('app.ps')).toEqual(['ps_2025_03', 'ps_2025_04']);
    } finally {
      await c.end();
      await app.end();
    }
  });

  describe('detached CONCURRENTLY by the worker, between steps', () => {
    /** A session that steps runs as the worker does: detach_concurrently on. */
    async function workerSession(): Promise<pg.Client> {
      const c = await db.connect();
      await c.query(`set retention.detach_concurrently = on`);
      return c;
    }
    /** Steps the run until a step returns 'detach'; returns that statement. */
    async function untilDetach(c: pg.Client, id: unknown): Promise<string> {
      for (let i = 0; i < 10; i++) {
        const s = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
        if (s === 'detach') return (await c.query(`select statement from retention.detach_statement($1)`, [id])).rows[0].statement;
        if (s !== 'running') throw new Error(`run ended ${s} before a detach`);
      }
      throw new Error('no detach');
    }
    async function stepToEnd(c: pg.Client, id: unknown): Promise<void> {
      for (let i = 0; i < 30; i++) {
        const s = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
        if (s === 'detach') {
          await c.query((await c.query(`select statement from retention.detach_statement($1)`, [id])).rows[0].statement);
        } else if (s !== 'running') return;
      }
    }

    it('the application reads and writes the table while the detach waits for its open transaction; the ledger is as after a plain detach', async () => {
      await makePartitioned('app.pk', { months: 4, withDefault: false });
      const jan = await count(db, `app.pk_2025_01`);
      const feb = await count(db, `app.pk_2025_02`);
      const apr = await count(db, `app.pk where created_at >= '2025-04-01Z'`);
      await db.q(`select retention.set_policy('pk', 'app.pk', 'drop_partitions', 'created_at', p_retain => '1 day',
                    p_max_rows_per_run => 1000000, p_lock_timeout => '30 seconds')`);
      const c = await workerSession();
      const open = await db.connect();   // an application transaction left open
      const app = await db.connect();
      try {
        const id = (await c.query(`select retention.open_run('pk', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        expect((await db.q(`select spec ->> 'detach' as d from retention.runs where run_id = $1`, [id]))[0]!.d).toBe('concurrently');
        const statement = await untilDetach(c, id);
        expect(statement).toBe('ALTER TABLE app.pk DETACH PARTITION app.pk_2025_01 CONCURRENTLY');
        // Only the session that opened the run gets it; an unknown run gives nothing.
        expect(await db.q(`select * from retention.detach_statement($1)`, [id])).toEqual([]);
        expect(await db.q(`select * from retention.detach_statement(-1)`)).toEqual([]);
        expect((await batches(id)).map((b) => b.disposition)).toEqual(['detaching']);
        await open.query(`begin`);
        await open.query(`insert into app.pk (user_id, created_at) values (1, '2025-04-02Z')`);
        let detached = false;
        const detach = c.query(statement).then(() => (detached = true));
        // It waits for the open transaction; meanwhile others read and write, not queued behind it.
        await app.query(`set lock_timeout = '2s'`);
        for (let i = 0; i < 5; i++) {
          await app.query(`insert into app.pk (user_id, created_at) values (2, '2025-04-03Z')`);
          await app.query(`select count(*) from app.pk where created_at >= '2025-04-01Z'`);
        }
        expect(detached).toBe(false);
        await open.query(`commit`);
        await detach;
        await stepToEnd(c, id);
        expect((await batches(id)).map((b) => `${b.partition_name} ${b.disposition} ${b.rows}`))
          .toEqual([`app.pk_2025_01 dropped ${jan}`, `app.pk_2025_02 dropped ${feb}`]);
        expect(await db.q(`select count(*)::int as n from retention.run_batches where run_id = $1 and partition_xmin is null`, [id])).toEqual([{ n: 0 }]);
        const run = await lastRun('pk');
        expect([run.status, Number(run.affected)]).toEqual(['completed', jan + feb]);
        expect(await partitionsOf('app.pk')).toEqual(['pk_2025_03', 'pk_2025_04']);
        expect(await count(db, `app.pk where created_at >= '2025-04-01Z'`)).toBe(apr + 6);
      } finally {
        for (const x of [c, open, app]) await x.end();
      }
    });

    it('a hold placed after the partition was handed over keeps it: attached again after the detach, the held row kept', async () => {
      await makePartitioned('app.pq', { months: 3, withDefault: false });
      await db.q(`select retention.set_policy('pq', 'app.pq', 'drop_partitions', 'created_at', p_retain => '1 day',
                    p_max_rows_per_run => 1000000, p_subject_column => 'user_id')`);
      const jan = await count(db, `app.pq_2025_01`);
      const c = await workerSession();
      try {
        const id = (await c.query(`select retention.open_run('pq', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        const statement = await untilDetach(c, id);
        await db.q(`select retention.place_hold('subject', '3', 'Litigation')`);
        await c.query(statement);
        await stepToEnd(c, id);
        expect((await batches(id))[0]).toMatchObject({ partition_name: 'app.pq_2025_01', disposition: 'reattached' });
        expect(await partitionsOf('app.pq')).toContain('pq_2025_01');
        expect(await count(db, `app.pq where created_at < '2025-02-01Z' and user_id = 3`)).toBeGreaterThan(0);
        expect(await count(db, `app.pq_2025_01 where user_id <> 3`)).toBe(0);   // its other rows deleted by batches
        expect(await count(db, `app.pq_2025_01`)).toBe(jan / 10);
      } finally {
        await c.end();
        await db.q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'Litigation' and released_at is null`);
      }
    });

    it('a statement the worker did not run, or that failed, leaves the partition attached: the run detaches it the plain way', async () => {
      await makePartitioned('app.pnx', { months: 3, withDefault: false });
      await db.q(`select retention.set_policy('pnx', 'app.pnx', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const c = await workerSession();
      try {
        const id = (await c.query(`select retention.open_run('pnx', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        await untilDetach(c, id);
        // The worker steps again without detaching (its statement failed).
        for (let i = 0; i < 20; i++) if ((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s !== 'running') break;
        expect((await batches(id)).map((b) => `${b.partition_name} ${b.disposition}`))
          .toEqual(['app.pnx_2025_01 not_detached', 'app.pnx_2025_01 dropped', 'app.pnx_2025_02 dropped']);
        expect((await lastRun('pnx')).status).toBe('completed');
        expect(await partitionsOf('app.pnx')).toEqual(['pnx_2025_03']);
      } finally {
        await c.end();
      }
    });

    it('a detach left pending by a cancel or a dead worker is completed (FINALIZE) and dropped by the next step or run; one it finished but never recorded is left and named', async () => {
      await makePartitioned('app.pp', { months: 4, withDefault: false });
      await db.q(`select retention.set_policy('pp', 'app.pp', 'drop_partitions', 'created_at', p_retain => '1 day',
                    p_max_rows_per_run => 1000000, p_lock_timeout => '30 seconds')`);
      const jan = await count(db, `app.pp_2025_01`);
      const feb = await count(db, `app.pp_2025_02`);
      const pending = async () => (await db.q(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
                                                where i.inhparent = 'app.pp'::regclass and i.inhdetachpending`)).map((r) => r.relname);
      const c = await workerSession();
      const open = await db.connect();
      const pid = (await c.query(`select pg_backend_pid() as pid`)).rows[0].pid;
      const id = (await c.query(`select retention.open_run('pp', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
      // Cancelled while it waits for an open transaction: January is left pending.
      await open.query(`begin isolation level repeatable read`);
      await open.query(`select count(*) from app.pp`);
      const detach = c.query(await untilDetach(c, id)).catch((e: { code?: string }) => e.code);
      await waitForWaiting(pid);
      await db.q(`select pg_cancel_backend($1)`, [pid]);
      expect(await detach).toBe('57014');
      await open.query(`commit`);
      expect(await pending()).toEqual(['pp_2025_01']);
      expect(await partitionsOf('app.pp')).toContain('pp_2025_01');
      // The worker steps on: the step completes the detach, the next drops it.
      for (let i = 0; i < 3; i++) await c.query(`select retention.run_step($1)`, [id]);
      expect((await batches(id)).map((b) => `${b.partition_name} ${b.disposition}`).slice(0, 1)).toEqual(['app.pp_2025_01 dropped']);
      expect(await count(db, `pg_class where relname = 'pp_2025_01'`)).toBe(0);
      // February: left pending by a worker that died; the next run (psql, plain) completes and drops it.
      await open.query(`begin isolation level repeatable read`);
      await open.query(`select count(*) from app.pp`);
      const feb0 = c.query(await untilDetach(c, id)).catch(() => null);
      await waitForWaiting(pid);
      await db.q(`select pg_terminate_backend($1)`, [pid]);
      await feb0;
      await c.end();
      await open.query(`commit`);
      await open.end();
      expect(await pending()).toEqual(['pp_2025_02']);
      expect((await db.q(`select problem from retention.check_setup() where policy = 'pp' and problem like 'partition%'`)).map((p) => p.problem))
        .toEqual([expect.stringMatching(/^partition app\.pp_2025_02 is still being detached concurrently \(run \d+ ended before the detach did\)/)]);
      await db.call(`call retention.run('pp', p_as_of => '2025-03-15Z')`);
      const run = await lastRun('pp');
      expect(run.status).toBe('completed');
      expect((await batches(run.run_id)).map((b) => `${b.partition_name} ${b.disposition} ${b.rows}`)).toEqual([`app.pp_2025_02 dropped ${feb}`]);
      expect(await partitionsOf('app.pp')).toEqual(['pp_2025_03', 'pp_2025_04']);
      expect(await pending()).toEqual([]);
      expect(jan).toBeGreaterThan(0);

      // March, detached by a worker that died before it stepped again: nothing tells that
      // table from one someone changed since; no run drops it, check_setup names it.
      const w = await workerSession();
      const id2 = (await w.query(`select retention.open_run('pp', p_as_of => '2025-04-15Z') as id`)).rows[0].id;
      await w.query(await untilDetach(w, id2));
      await w.end();
      await db.call(`call retention.run('pp', p_as_of => '2025-04-15Z')`);
      expect(await count(db, `app.pp_2025_03`)).toBeGreaterThan(0);
      expect((await db.q(`select problem from retention.check_setup() where policy = 'pp' and problem like 'partition%'`)).map((p) => p.problem))
        .toEqual([expect.stringMatching(/^partition app\.pp_2025_03 was detached concurrently for run \d+, which ended before it recorded the detach/)]);
    });

    it('a partition its owner attached again with later bounds before the worker detached it is not dropped (attack round atk23)', async () => {
      await makePartitioned('app.pb2', { months: 3, withDefault: false });
      await db.q(`select retention.set_policy('pb2', 'app.pb2', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const c = await workerSession();
      try {
        const id = (await c.query(`select retention.open_run('pb2', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        const statement = await untilDetach(c, id);
        // The table's owner moves January to a range not past the cutoff, with new rows.
        await db.q(`alter table app.pb2 detach partition app.pb2_2025_01`);
        await db.q(`delete from app.pb2_2025_01`);
        await db.q(`create table app.pb2_2025_04 partition of app.pb2 for values from ('2025-04-01') to ('2025-05-01')`);
        await db.q(`alter table app.pb2 attach partition app.pb2_2025_01 for values from ('2025-05-01') to ('2025-06-01')`);
        await db.q(`insert into app.pb2 (user_id, created_at) select 1, '2025-05-10Z' from generate_series(1, 100)`);
        await c.query(statement);
        await stepToEnd(c, id);
        expect(await count(db, `app.pb2_2025_01`)).toBe(100);
        expect((await batches(id)).map((b) => `${b.partition_name} ${b.disposition}`)).toEqual(['app.pb2_2025_01 detached', 'app.pb2_2025_02 dropped']);
        expect((await db.q(`select problem from retention.check_setup() where policy = 'pb2' and problem like 'partition%'`)).map((p) => p.problem))
          .toEqual([expect.stringMatching(/^partition app\.pb2_2025_01 was detached by run \d+ and changed since/)]);
      } finally {
        await c.end();
      }
    });

    it('only the session that opened a run steps it: not another one with its pid and the run lock (attack round atk23)', async () => {
      await makePartitioned('app.pr', { months: 3, withDefault: false });
      await db.q(`select retention.set_policy('pr', 'app.pr', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const a = await db.connect();
      const id = (await a.query(`select retention.open_run('pr', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
      await a.end();
      // Another session, as if it had got the dead session's pid: it takes the run lock.
      const b = await db.connect();
      try {
        const pid = (await b.query(`select pg_backend_pid() as pid`)).rows[0].pid;
        await db.q(`update retention.runs set backend_pid = $1 where run_id = $2`, [pid, id]);   // (the pid coming round)
        await b.query(`select pg_advisory_lock(x'52540002'::int, hashtext('pr'))`);
        expect(await sqlState(b.query(`select retention.run_step($1)`, [id]))).toBe('55000');
        expect(await partitionsOf('app.pr')).toEqual(['pr_2025_01', 'pr_2025_02', 'pr_2025_03']);
        // Its lock does not keep the dead run alive for check_setup.
        expect(await db.q(`select status from retention.runs where run_id = $1`, [id])).toEqual([{ status: 'running' }]);
      } finally {
        await b.end();
      }
    });

    it('a partition handed over by a run of a policy dropped since is named by check_setup (attack round atk23)', async () => {
      await makePartitioned('app.pg', { months: 3, withDefault: false });
      await db.q(`select retention.set_policy('pg', 'app.pg', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const c = await workerSession();
      const id = (await c.query(`select retention.open_run('pg', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
      await c.query(await untilDetach(c, id));
      await c.end();
      await db.q(`select retention.drop_policy('pg')`);
      // A login that takes the policy's run lock does not hide it either.
      const squatter = await db.connect();
      await squatter.query(`select pg_advisory_lock(x'52540002'::int, hashtext('pg'))`);
      expect((await db.q(`select problem, fix from retention.check_setup() where problem like 'partition app.pg%'`)))
        .toEqual([{ problem: expect.stringMatching(/^partition app\.pg_2025_01 was detached from app\.pg by run \d+, and no drop_partitions policy acts on that table now/),
                    fix: expect.stringContaining('DETACH PARTITION ... FINALIZE') }]);
      await squatter.end();
      expect(await count(db, `app.pg_2025_01`)).toBeGreaterThan(0);
    });

    it('what a detached partition holds is checked when it is dropped: a row not past the cutoff, or a table attached below it, keeps it (attack round atk24)', async () => {
      // Plain path: a row written into the detached partition before the step that drops it.
      await makePartitioned('app.pv', { months: 3, withDefault: false });
      await db.q(`select retention.set_policy('pv', 'app.pv', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const c = await db.connect();
      try {
        const id = (await c.query(`select retention.open_run('pv', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        for (let i = 0; i < 3 && !(await batches(id)).length; i++) await c.query(`select retention.run_step($1)`, [id]);
        expect((await batches(id)).map((b) => b.disposition)).toEqual(['detached']);
        await db.q(`insert into app.pv_2025_01 (id, user_id, created_at) values (999999, 3, now())`);
        for (let i = 0; i < 20; i++) if ((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s !== 'running') break;
        expect(await count(db, `app.pv_2025_01 where created_at > '2026-01-01Z'`)).toBe(1);
        expect((await batches(id)).map((b) => `${b.partition_name} ${b.disposition}`)).toEqual(['app.pv_2025_01 detached', 'app.pv_2025_02 dropped']);
        expect((await db.q(`select problem from retention.check_setup() where policy = 'pv' and problem like 'partition%'`)).map((p) => p.problem))
          .toEqual([expect.stringMatching(/^partition app\.pv_2025_01 was detached by run \d+ and changed since/)]);
      } finally {
        await c.end();
      }
      // A sub-partitioned partition: a table its owner attaches below it after the detach
      // (a concurrent detach's CHECK constraint refuses that; a plain one does not).
      await db.q(`create table app.pt (id bigint, user_id int not null, created_at timestamptz not null, region text not null) partition by range (created_at)`);
      await db.q(`create table app.pt_2025_01 partition of app.pt for values from ('2025-01-01Z') to ('2025-02-01Z') partition by list (region)`);
      await db.q(`create table app.pt_2025_01_eu partition of app.pt_2025_01 for values in ('eu')`);
      await db.q(`create table app.pt_2025_02 partition of app.pt for values from ('2025-02-01Z') to ('2025-03-01Z')`);
      await db.q(`create table app.pt_2025_03 partition of app.pt for values from ('2025-03-01Z') to ('2025-04-01Z')`);
      await db.q(`insert into app.pt select i, 1, timestamptz '2025-01-01Z' + i * interval '1 day', 'eu' from generate_series(0, 80) i`);
      await db.q(`select retention.set_policy('pt', 'app.pt', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const w = await db.connect();
      try {
        const id = (await w.query(`select retention.open_run('pt', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        for (let i = 0; i < 3 && !(await batches(id)).length; i++) await w.query(`select retention.run_step($1)`, [id]);
        await db.q(`create table app.pt_keep (like app.pt_2025_01_eu)`);
        await db.q(`insert into app.pt_keep values (1, 1, '2025-01-05Z', 'us')`);
        await db.q(`alter table app.pt_2025_01 attach partition app.pt_keep for values in ('us')`);
        for (let i = 0; i < 20; i++) if ((await w.query(`select retention.run_step($1) as s`, [id])).rows[0].s !== 'running') break;
        expect(await count(db, `app.pt_keep`)).toBe(1);
        expect(await count(db, `app.pt_2025_01_eu`)).toBe(31);
        expect((await batches(id)).map((b) => `${b.partition_name} ${b.disposition}`)).toEqual(['app.pt_2025_01 detached', 'app.pt_2025_02 dropped']);
      } finally {
        await w.end();
      }
    });

    it('a lock timeout after the worker detached the partition leaves it recorded: the next run drops it (attack round atk24)', async () => {
      await makePartitioned('app.pl', { months: 3, withDefault: false });
      await db.q(`select retention.set_policy('pl', 'app.pl', 'drop_partitions', 'created_at', p_retain => '1 day',
                    p_max_rows_per_run => 1000000, p_lock_timeout => '200 milliseconds')`);
      const jan = await count(db, `app.pl_2025_01`);
      const c = await workerSession();
      const reader = await db.connect();
      try {
        const id = (await c.query(`select retention.open_run('pl', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        await c.query(await untilDetach(c, id));
        await reader.query(`begin`);
        await reader.query(`select count(*) from app.pl_2025_01`);   // holds a lock the drop waits for
        let s = 'running';
        for (let i = 0; i < 5 && s === 'running'; i++) s = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
        expect(s).toBe('stopped_lock_timeout');
        expect((await batches(id)).map((b) => `${b.partition_name} ${b.disposition}`)).toEqual(['app.pl_2025_01 detached']);
        await reader.query(`commit`);
        await db.call(`call retention.run('pl', p_as_of => '2025-03-15Z')`);
        const run = await lastRun('pl');
        expect((await batches(run.run_id)).map((b) => `${b.partition_name} ${b.disposition} ${b.rows}`)[0]).toBe(`app.pl_2025_01 dropped ${jan}`);
        expect(await partitionsOf('app.pl')).toEqual(['pl_2025_03']);
      } finally {
        await c.end();
        await reader.end();
      }
    });

    it('a table with a default partition, and run() (it steps in the database), detach the plain way', async () => {
      await makePartitioned('app.pz', { months: 3, withDefault: true });
      await db.q(`select retention.set_policy('pz', 'app.pz', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const c = await workerSession();
      try {
        const id = (await c.query(`select retention.open_run('pz', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        expect((await db.q(`select spec ? 'detach' as d from retention.runs where run_id = $1`, [id]))[0]!.d).toBe(false);
        for (let i = 0; i < 20; i++) expect((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s).not.toBe('detach');
        await makePartitioned('app.pw', { months: 3, withDefault: false });
        await db.q(`select retention.set_policy('pw', 'app.pw', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
        await c.query(`call retention.run('pw', p_as_of => '2025-03-15Z')`);   // with detach_concurrently on
        const run = await lastRun('pw');
        expect([run.status, run.spec.detach]).toEqual(['completed', undefined]);
        expect(await partitionsOf('app.pw')).toEqual(['pw_2025_03']);
      } finally {
        await c.end();
      }
    });
  });

  it('a table hold on an empty sub-partition keeps its partition (attack round atk24)', async () => {
    await db.q(`create table app.ph (id bigint, user_id int not null, created_at timestamptz not null, region text not null) partition by range (created_at)`);
    await db.q(`create table app.ph_2025_01 partition of app.ph for values from ('2025-01-01Z') to ('2025-02-01Z') partition by list (region)`);
    await db.q(`create table app.ph_2025_01_eu partition of app.ph_2025_01 for values in ('eu')`);
    await db.q(`create table app.ph_2025_01_us partition of app.ph_2025_01 for values in ('us')`);
    await db.q(`create table app.ph_2025_02 partition of app.ph for values from ('2025-02-01Z') to ('2025-03-01Z')`);
    await db.q(`insert into app.ph select i, 1, timestamptz '2025-01-01Z' + i * interval '1 day', 'eu' from generate_series(0, 40) i`);
    await db.q(`select retention.set_policy('ph', 'app.ph', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    await db.q(`select retention.place_hold('table', 'app.ph_2025_01_us', 'Keep the US table')`);
    expect((await db.q(`select action from retention.partitions('ph', '2025-03-15Z') where partition = 'app.ph_2025_01'`))[0]!.action)
      .toBe('keep (legal hold): delete its unheld rows');
    await db.call(`call retention.run('ph', p_as_of => '2025-03-15Z')`);
    expect(await count(db, `pg_class where oid = to_regclass('app.ph_2025_01_us')`)).toBe(1);
    expect(await partitionsOf('app.ph')).toEqual(['ph_2025_01', 'ph_2025_02']);
    expect(await count(db, 'app.ph_2025_01_eu')).toBe(0);   // its unheld rows went row by row
  });

  it('a login row security binds on a partition, or that is not a member of a partition\'s owner, does not have it dropped (attack round atk24)', async () => {
    await makePartitioned('app.pu', { months: 3, withDefault: false });
    const owner = `pu_owner_${randomBytes(3).toString('hex')}`;
    const other = `pu_other_${randomBytes(3).toString('hex')}`;
    const runner = `pu_run_${randomBytes(3).toString('hex')}`;
    await db.q(`create role ${owner} nologin`);
    await db.q(`create role ${other} nologin`);
    for (const t of ['pu', 'pu_2025_01', 'pu_2025_02', 'pu_2025_03']) await db.q(`alter table app.${t} owner to ${owner}`);
    await db.q(`create role ${runner} login password 'pw' in role retention_runner, ${owner}`);
    await db.q(`grant usage on schema app to ${runner}`);
    await db.q(`select retention.set_policy('pu', 'app.pu', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const u = new URL(db.url);
    u.username = runner;
    u.password = 'pw';
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    try {
      const jan = await count(db, 'app.pu_2025_01');
      await db.q(`alter table app.pu_2025_01 enable row level security`);
      await db.q(`alter table app.pu_2025_01 force row level security`);
      await db.q(`create policy even on app.pu_2025_01 using (user_id % 2 = 0)`);
      expect(await sqlState(c.query(`call retention.run('pu', p_as_of => '2025-03-15Z')`))).toBe('RT023');
      expect(await count(db, 'app.pu_2025_01')).toBe(jan);
      await db.q(`alter table app.pu_2025_01 disable row level security`);
      await db.q(`alter table app.pu_2025_01 owner to ${other}`);   // the login is no member of its owner
      expect(await sqlState(c.query(`call retention.run('pu', p_as_of => '2025-03-15Z')`))).toBe('42501');
      expect(await count(db, 'app.pu_2025_01')).toBe(jan);
      expect(await partitionsOf('app.pu')).toEqual(['pu_2025_01', 'pu_2025_02', 'pu_2025_03']);
    } finally {
      await c.end();
    }
  });

  describe('policies on a partitioned table and on one of its partitions (attack round atk25)', () => {
    /** app.<n>: 2024 (sub-partitioned by half-year, user 1003 in the first half) and 2025–2030; policies <n>_top on it and <n>_sub on its 2024 partition. */
    async function twoLevels(n: string): Promise<void> {
      await db.q(`create schema if not exists app`);
      await db.q(`create table app.${n} (id bigint, user_id int not null, created_at timestamptz not null) partition by range (created_at)`);
      await db.q(`create table app.${n}_2024 partition of app.${n} for values from ('2024-01-01Z') to ('2025-01-01Z') partition by range (created_at)`);
      await db.q(`create table app.${n}_2024_h1 partition of app.${n}_2024 for values from ('2024-01-01Z') to ('2024-07-01Z')`);
      await db.q(`create table app.${n}_2024_h2 partition of app.${n}_2024 for values from ('2024-07-01Z') to ('2025-01-01Z')`);
      await db.q(`create table app.${n}_cur partition of app.${n} for values from ('2025-01-01Z') to ('2030-01-01Z')`);
      await db.q(`insert into app.${n} select i, case when i < 180 then 1003 else 1 end, timestamptz '2024-01-01Z' + i * interval '1 day' from generate_series(0, 500) i`);
      for (const [name, table] of [[`${n}_top`, `app.${n}`], [`${n}_sub`, `app.${n}_2024`]]) {
        await db.q(`select retention.set_policy($1, $2, 'drop_partitions', 'created_at', p_retain => '1 day', p_subject_column => 'user_id',
                      p_max_rows_per_run => 1000000, p_count => 'exact')`, [name, table]);
      }
    }

    it('a partition with a table below it left half-detached is kept: its rows are out of sight of the hold check', async () => {
      await twoLevels('hx');
      const w = await db.connect();
      const reader = await db.connect();
      await w.query(`set retention.detach_concurrently = on`);
      const id = (await w.query(`select retention.open_run('hx_sub', p_as_of => '2025-06-01Z') as id`)).rows[0].id;
      let statement = '';
      for (let i = 0; i < 5 && !statement; i++) {
        if ((await w.query(`select retention.run_step($1) as s`, [id])).rows[0].s === 'detach') {
          statement = (await w.query(`select statement from retention.detach_statement($1)`, [id])).rows[0].statement;
        }
      }
      expect(statement).toContain('app.hx_2024_h1');
      await reader.query(`begin isolation level repeatable read`);
      await reader.query(`select count(*) from app.hx_2024`);
      const pid = (await w.query(`select pg_backend_pid() as pid`)).rows[0].pid;
      const detach = w.query(statement).catch(() => null);
      await waitForWaiting(pid);
      await db.q(`select pg_terminate_backend($1)`, [pid]);
      await detach;
      await reader.query(`commit`);
      await reader.end();
      expect(await db.q(`select inhdetachpending from pg_inherits where inhrelid = 'app.hx_2024_h1'::regclass`)).toEqual([{ inhdetachpending: true }]);
      await db.q(`select retention.place_hold('subject', '1003', 'Litigation')`);
      try {
        const h1 = await db.q(`select count(*)::int as n from app.hx_2024_h1`);
        expect((await db.q(`select action from retention.partitions('hx_top', '2025-06-01Z') where partition = 'app.hx_2024'`))[0]!.action)
          .toBe('keep: a table below it is being detached concurrently');
        await db.call(`call retention.run('hx_top', p_as_of => '2025-06-01Z')`);
        expect(await db.q(`select count(*)::int as n from app.hx_2024_h1`)).toEqual(h1);
        expect(await count(db, `pg_class where oid = to_regclass('app.hx_2024')`)).toBe(1);
      } finally {
        await db.q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'Litigation' and released_at is null`);
      }
    });

    it('a partition a run detached and did not finish is acted on by no other policy; check_setup names it once its policy\'s table is gone', async () => {
      await twoLevels('hy');
      await db.q(`create view app.hy_v as select * from app.hy_2024`);   // the drop fails after the detach
      expect(await sqlState(db.call(`call retention.run('hy_top', p_as_of => '2025-06-01Z')`))).toBe('2BP01');
      expect(await count(db, `pg_class where oid = 'app.hy_2024'::regclass and not relispartition`)).toBe(1);
      await db.q(`select retention.place_hold('table', 'app.hy', 'Keep everything')`);
      try {
        const rows = await count(db, 'app.hy_2024');
        expect(await sqlState(db.call(`call retention.run('hy_sub', p_as_of => '2025-06-01Z')`))).toBe('55000');
        expect(await count(db, 'app.hy_2024')).toBe(rows);
        // The view gone, the policy it was detached by finds it under the hold: attached again.
        await db.q(`drop view app.hy_v`);
        await db.call(`call retention.run('hy_top', p_as_of => '2025-06-01Z')`);
        expect(await count(db, `pg_class where oid = 'app.hy_2024'::regclass and relispartition`)).toBe(1);
      } finally {
        await db.q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'Keep everything' and released_at is null`);
      }
      // A sub-partition its own policy detached and could not drop, then its table dropped by the top policy.
      await twoLevels('hz');
      await db.q(`create view app.hz_v as select * from app.hz_2024_h1`);
      expect(await sqlState(db.call(`call retention.run('hz_sub', p_as_of => '2025-06-01Z')`))).toBe('2BP01');
      await db.call(`call retention.run('hz_top', p_as_of => '2025-06-01Z')`);
      expect(await count(db, `pg_class where oid = to_regclass('app.hz_2024')`)).toBe(0);
      expect((await db.q(`select problem from retention.check_setup() where problem like 'partition app.hz_2024_h1%'`)).map((p) => p.problem))
        .toEqual([expect.stringMatching(/and no drop_partitions policy acts on that table now/)]);
    });

    it('a policy whose table is no longer partitioned by range on its age column is refused at the run', async () => {
      await makePartitioned('app.pk2', { months: 3, withDefault: false });
      await db.q(`alter table app.pk2 add column updated_at timestamptz not null default now()`);
      await db.q(`select retention.set_policy('pk2', 'app.pk2', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      await db.q(`alter table app.pk2 rename column created_at to made_at`);
      await db.q(`alter table app.pk2 rename column updated_at to created_at`);
      expect(await sqlState(db.call(`call retention.run('pk2', p_as_of => '2025-03-15Z')`))).toBe('RT013');
      expect(await partitionsOf('app.pk2')).toEqual(['pk2_2025_01', 'pk2_2025_02', 'pk2_2025_03']);
    });
  });

  it('a partition detached but not dropped (a view depends on it) is not counted until the next run drops it, first', async () => {
    await makePartitioned('app.pc', { months: 3 });
    await db.q(`create view app.pc_january as select * from app.pc_2025_01`);
    await db.q(`select retention.set_policy('pc', 'app.pc', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const jan = await count(db, `app.pc_2025_01`);
    const feb = await count(db, `app.pc_2025_02`);
    const err = await db.call(`call retention.run('pc', p_as_of => '2025-03-15Z')`).catch((e: { code: string }) => e);
    expect((err as { code: string }).code).toBe('2BP01'); // dependent objects still exist
    let run = await lastRun('pc');
    // Partitions go one at a time: January left the table, dropping it failed, and the run
    // stopped there (February is still in the table); nothing is counted as gone yet.
    expect([run.status, Number(run.affected)]).toEqual(['failed', 0]);
    expect(await batches(run.run_id)).toEqual([
      { rows: 0, partition_name: 'app.pc_2025_01', disposition: 'detached' },
    ]);
    expect(await partitionsOf('app.pc')).toEqual(['pc_2025_02', 'pc_2025_03', 'pc_default']);
    expect(await count(db, `app.pc_2025_01`)).toBe(jan);
    const flagged = await db.q(`select problem, fix from retention.check_setup() where policy = 'pc' and problem like 'partition%'`);
    expect(flagged.map((f) => f.problem)).toEqual([
      `partition app.pc_2025_01 was detached by run ${run.run_id} but not dropped yet: its rows are out of the table and not yet counted`,
    ]);

    await db.q(`drop view app.pc_january`);
    await db.call(`call retention.run('pc', p_as_of => '2025-03-15Z')`);
    run = await lastRun('pc');
    expect([run.status, Number(run.affected)]).toEqual(['completed', jan + feb]);
    expect(await batches(run.run_id)).toEqual([
      { rows: jan, partition_name: 'app.pc_2025_01', disposition: 'dropped' },
      { rows: feb, partition_name: 'app.pc_2025_02', disposition: 'dropped' },
    ]);
    expect(await count(db, `to_regclass('app.pc_2025_01') x where x is not null`)).toBe(0);
    expect(await count(db, `retention.check_setup() where policy = 'pc' and problem like 'partition%'`)).toBe(0);
    const [total] = await db.q(`select sum(rows)::int as n from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'pc'`);
    expect(total!.n).toBe(jan + feb);
  });

  it('a table made later under the name of a partition a dead run detached is never dropped nor attached (what an attacker found)', async () => {
    await makePartitioned('app.pn', { months: 4, withDefault: false });
    await db.q(`select retention.set_policy('pn', 'app.pn', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_max_rows_per_run => 1000000)`);
    // Run 1 detaches January and dies dropping it (a view depends on it); run 2 finishes it.
    await db.q(`create view app.pn_january as select * from app.pn_2025_01`);
    expect(await sqlState(db.call(`call retention.run('pn', p_as_of => '2025-02-15Z')`))).toBe('2BP01');
    await db.q(`drop view app.pn_january`);
    await db.call(`call retention.run('pn', p_as_of => '2025-02-15Z')`);
    expect(await count(db, `to_regclass('app.pn_2025_01') x where x is not null`)).toBe(0);
    // Later a table of that name comes back (a restore of that month, say): no run touches it.
    await db.q(`create table app.pn_2025_01 (like app.pn)`);
    await db.q(`insert into app.pn_2025_01 (id, user_id, created_at) select i, 7, '2025-01-05Z' from generate_series(1, 50) i`);
    await db.call(`call retention.run('pn', p_as_of => '2025-02-15Z')`);
    const [hold] = await db.q(`select hold_id from retention.place_hold('subject', '7', 'Litigation 7')`);
    await db.call(`call retention.run('pn', p_as_of => '2025-02-15Z')`);
    expect(await count(db, `app.pn_2025_01`)).toBe(50);
    expect(await db.q(`select c.relispartition from pg_class c where c.oid = 'app.pn_2025_01'::regclass`)).toEqual([{ relispartition: false }]);
    expect(await count(db, `retention.check_setup() where policy = 'pn' and problem like 'partition%'`)).toBe(0);

    // A partition a run detached and left, replaced by hand with another table of its name
    // before any run finished it: the replacement is not the partition, and stays.
    await db.q(`select retention.release_hold($1, 'settled')`, [hold!.hold_id]);
    await db.q(`create view app.pn_february as select * from app.pn_2025_02`);
    expect(await sqlState(db.call(`call retention.run('pn', p_as_of => '2025-03-15Z')`))).toBe('2BP01');
    await db.q(`drop view app.pn_february`);
    await db.q(`drop table app.pn_2025_02`);
    await db.q(`create table app.pn_2025_02 (like app.pn)`);
    await db.q(`insert into app.pn_2025_02 (id, user_id, created_at) select i, 8, '2025-02-05Z' from generate_series(1, 30) i`);
    await db.call(`call retention.run('pn', p_as_of => '2025-03-15Z')`);
    expect(await count(db, `app.pn_2025_02`)).toBe(30);
    const run = await lastRun('pn');
    expect(await batches(run.run_id)).toEqual([]);
  });

  describe('a partition a dead run left detached (second attack round)', () => {
    /** Opens a run of the policy, steps it until it detached one partition, and ends the session. */
    async function dieAfterDetach(policy: string, asOf: string): Promise<void> {
      const c = await db.connect();
      const id = (await c.query(`select retention.open_run($1, p_as_of => $2) as id`, [policy, asOf])).rows[0].id;
      for (let i = 0; i < 5; i++) {
        await c.query(`select retention.run_step($1)`, [id]);
        if ((await batches(id)).some((b) => b.disposition === 'detached')) break;
      }
      await c.end();
    }
    const problems = async (policy: string) =>
      (await db.q(`select problem from retention.check_setup() where policy = $1 and problem like 'partition%'`, [policy])).map((p) => p.problem as string);

    it('is never dropped by the policy once it acts on another table, whatever holds the old one', async () => {
      await makePartitioned('app.rt1', { months: 4, withDefault: false });
      await makePartitioned('app.rt2', { months: 3, withDefault: false });
      const jan = await count(db, `app.rt1_2025_01`);
      await db.q(`select retention.set_policy('rt', 'app.rt1', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      await dieAfterDetach('rt', '2025-02-15Z');
      await db.q(`select retention.place_hold('table', 'app.rt1', 'Litigation over rt1')`);
      await db.q(`select retention.set_policy('rt', 'app.rt2', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      await db.call(`call retention.run('rt', p_as_of => '2025-02-15Z')`);
      expect(await count(db, `app.rt1_2025_01`)).toBe(jan);
      const run = await lastRun('rt');
      expect((await batches(run.run_id)).map((b) => b.partition_name)).toEqual(['app.rt2_2025_01']);
      expect(await problems('rt')).toEqual([expect.stringMatching(/^partition app\.rt1_2025_01 was detached from app\.rt1 by run \d+, and no drop_partitions policy acts on that table now/)]);
    });

    it('is attached again when the policy keeps its rows now: a longer period set after the run died (atk85 F2)', async () => {
      await makePartitioned('app.rl', { months: 4, withDefault: false });
      const total = await count(db, `app.rl`);
      const jan = await count(db, `app.rl_2025_01`);
      await db.q(`select retention.set_policy('rl', 'app.rl', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000, p_count => 'exact')`);
      await dieAfterDetach('rl', '2025-02-15Z');
      expect(await count(db, `app.rl`)).toBe(total - jan);
      await db.q(`select retention.alter_policy('rl', p_retain => '60 days')`);
      await db.call(`call retention.run('rl', p_as_of => '2025-02-15Z')`);
      expect(await count(db, `app.rl`)).toBe(total);
      expect(await db.q(`select c.relispartition from pg_class c where c.oid = 'app.rl_2025_01'::regclass`)).toEqual([{ relispartition: true }]);
      const run = await lastRun('rl');
      expect(Number(run.affected)).toBe(0);
      expect(await count(db, `retention.run_batches where partition_name = 'app.rl_2025_01' and disposition = 'reattached'`)).toBe(1);
      expect(await problems('rl')).toEqual([]);
    });

    it('is finished by the policy whose run detached it, with its archive schema, not by another policy on the table (atk85 F5)', async () => {
      await makePartitioned('app.ra', { months: 4, withDefault: false });
      await db.q(`create schema if not exists ra_arch`);
      const jan = await count(db, `app.ra_2025_01`);
      await db.q(`select retention.set_policy('ra.keep', 'app.ra', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000, p_archive_schema => 'ra_arch')`);
      await dieAfterDetach('ra.keep', '2025-02-15Z');
      await db.q(`select retention.set_policy('ra.drop', 'app.ra', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      await db.call(`call retention.run('ra.drop', p_as_of => '2025-02-15Z')`);
      expect(await count(db, `app.ra_2025_01`)).toBe(jan);
      await db.call(`call retention.run('ra.keep', p_as_of => '2025-02-15Z')`);
      expect(await count(db, `ra_arch.ra_2025_01`)).toBe(jan);
    });

    it('keeps an erasure from completing while it holds rows of the person; the policy\'s next run finishes it, then the erasure completes (atk85 F6)', async () => {
      await makePartitioned('app.re', { months: 4, withDefault: false });
      await db.q(`create table app.re_users (id bigint primary key)`);
      await db.q(`insert into app.re_users select g from generate_series(1, 10) g`);
      await db.q(`select retention.set_policy('re', 'app.re', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      await db.q(`select retention.set_erasure_rule('app.re', 'delete', p_subject_column => 'user_id', p_subject_table => 'app.re_users')`);
      await db.q(`select retention.set_erasure_rule('app.re_users', 'delete')`);
      await dieAfterDetach('re', '2025-02-15Z');
      const jan = await count(db, `app.re_2025_01 where user_id = 7`);
      expect(jan).toBeGreaterThan(0);
      const { id } = (await db.q(`select request_id::int as id from retention.request_erasure('app.re_users', '7', 'ticket')`))[0]!;
      await db.call(`call retention.process_erasure($1)`, [id]).catch(() => {});
      const [req] = await db.q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [id]);
      expect(req).toMatchObject({ status: 'failed', status_reason: expect.stringMatching(/^app\.re_2025_01, a partition run \d+ of policy re detached from app\.re and did not finish, holds \d+ row\(s\) of the person/) });
      await db.call(`call retention.run('re', p_as_of => '2025-02-15Z')`);
      expect(await count(db, `pg_class where oid = to_regclass('app.re_2025_01')`)).toBe(0);
      await db.call(`call retention.process_erasure($1)`, [id]);
      expect(await db.q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
      expect(await count(db, `app.re where user_id = 7`)).toBe(0);
    });

    it('is left alone once someone attached and detached it again, or renamed it; named by check_setup', async () => {
      await makePartitioned('app.rm', { months: 4, withDefault: false });
      await db.q(`select retention.set_policy('rm', 'app.rm', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      await dieAfterDetach('rm', '2025-02-15Z');
      await db.q(`alter table app.rm attach partition app.rm_2025_01 for values from ('2025-01-01') to ('2025-02-01')`);
      await db.q(`alter table app.rm detach partition app.rm_2025_01`);   // the DBA keeps it aside
      await db.q(`delete from app.rm_2025_01`);
      await db.q(`insert into app.rm_2025_01 (id, user_id, created_at) select i, 1, now() from generate_series(1, 50) i`);
      await db.call(`call retention.run('rm', p_as_of => '2025-02-15Z')`);
      expect(await count(db, `app.rm_2025_01`)).toBe(50);
      expect(await problems('rm')).toEqual([expect.stringMatching(/^partition app\.rm_2025_01 was detached by run \d+ and changed since/)]);
      // Renamed while a run steps: that run leaves it, finishes the others, and it is named.
      await makePartitioned('app.rn', { months: 4, withDefault: false });
      await db.q(`create schema if not exists keep`);
      await db.q(`select retention.set_policy('rn', 'app.rn', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      const jan = await count(db, `app.rn_2025_01`);
      const c = await db.connect();
      try {
        const id = (await c.query(`select retention.open_run('rn', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
        await c.query(`select retention.run_step($1)`, [id]);
        await c.query(`select retention.run_step($1)`, [id]);
        await db.q(`alter table app.rn_2025_01 set schema keep`);
        for (let i = 0; i < 10; i++) if ((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s !== 'running') break;
      } finally {
        await c.end();
      }
      expect(await count(db, `keep.rn_2025_01`)).toBe(jan);
      expect(await problems('rn')).toEqual([expect.stringMatching(/^partition app\.rn_2025_01 was detached by run \d+ and changed since \(now keep\.rn_2025_01\)/)]);
    });

    it('is finished by a policy dropped and set again on the same table', async () => {
      await makePartitioned('app.rd', { months: 4, withDefault: false });
      const jan = await count(db, `app.rd_2025_01`);
      await db.q(`select retention.set_policy('rd', 'app.rd', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      await dieAfterDetach('rd', '2025-02-15Z');
      await db.q(`select retention.drop_policy('rd')`);
      await db.q(`select retention.set_policy('rd2', 'app.rd', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
      expect(await problems('rd2')).toEqual([expect.stringMatching(/^partition app\.rd_2025_01 was detached by run \d+ but not dropped yet/)]);
      await db.call(`call retention.run('rd2', p_as_of => '2025-02-15Z')`);
      const run = await lastRun('rd2');
      expect([run.status, Number(run.affected)]).toEqual(['completed', jan]);
      expect(await count(db, `to_regclass('app.rd_2025_01') x where x is not null`)).toBe(0);
      expect(await problems('rd2')).toEqual([]);
    });
  });

  it('refuses what it cannot do, with a hint, and saves nothing', async () => {
    await makePartitioned('app.pa', { months: 2 });
    await db.q(`create table app.plain (id int, created_at timestamptz)`);
    await db.q(`create table app.listed (id int, created_at timestamptz, region text) partition by list (region)`);
    await db.q(`create table app.by_id (id int, created_at timestamptz) partition by range (id)`);
    await db.q(`create table app.by_two (id int, created_at timestamptz) partition by range (created_at, id)`);
    const cases: [string, string][] = [
      [`select retention.set_policy('x', 'app.plain', 'drop_partitions', 'created_at')`, 'RT013'],
      [`select retention.set_policy('x', 'app.listed', 'drop_partitions', 'created_at')`, 'RT013'],
      [`select retention.set_policy('x', 'app.by_id', 'drop_partitions', 'created_at')`, 'RT013'],
      [`select retention.set_policy('x', 'app.by_two', 'drop_partitions', 'created_at')`, 'RT013'],
      [`select retention.set_policy('x', 'app.pa', 'delete', 'created_at')`, 'RT013'],
      [`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'created_at', p_predicate => 'user_id = 1')`, 'RT007'],
      [`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'payload')`, 'RT003'],
      [`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'created_at', p_retain => '-1 day')`, 'RT004'],
      [`select retention.set_policy('x', 'app.plain', 'delete', 'created_at', p_archive_schema => 'app')`, 'RT007'],
      [`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'created_at', p_archive_schema => 'pg_catalog')`, 'RT018'],
      [`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'created_at', p_count => 'roughly')`, 'RT007'],
      [`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'created_at', p_count => 'Exact')`, 'RT007'],
      [`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'created_at', p_count => 'exact''; drop table app.pa; --')`, 'RT007'],
      [`select retention.set_policy('x', 'app.plain', 'delete', 'created_at', p_count => 'exact')`, 'RT007'],
    ];
    for (const [sql, code] of cases) expect([sql, await sqlState(db.q(sql))]).toEqual([sql, code]);
    const hint = await db.q(`select retention.set_policy('x', 'app.pa', 'delete', 'created_at')`).catch((e: { hint: string }) => e.hint);
    expect(hint).toContain('drop_partitions');
    const countHint = await db.q(`select retention.set_policy('x', 'app.pa', 'drop_partitions', 'created_at', p_count => 'roughly')`)
      .catch((e: { message: string; hint: string }) => `${e.message} / ${e.hint}`);
    expect(countHint).toMatch(/^count must be exact or estimate, got 'roughly' \/ estimate \(the default\)/);
    expect(await count(db, `retention.policies where name = 'x'`)).toBe(0);
    expect(await count(db, `app.pa`)).toBeGreaterThan(0);
    await db.q(`select retention.set_policy('rows', 'app.plain', 'delete', 'created_at')`);
    expect(await sqlState(db.q(`select * from retention.partitions('rows')`))).toBe('RT007');
    expect(await sqlState(db.q(`select * from retention.partitions('no.such')`))).toBe('RT008');
  });

  it('count estimate (the default): rows come from the statistics, not from counting, and the ledger says they are estimates', async () => {
    await makePartitioned('app.pe', { months: 4, perDay: 40, withDefault: false });
    await db.q(`create schema if not exists archive`);
    // Autovacuum must not refresh the statistics while the test reads them.
    for (const part of await partitionsOf('app.pe')) await db.q(`alter table app.${part} set (autovacuum_enabled = false)`);
    await db.q(`analyze app.pe`);
    const janAnalyzed = await count(db, `app.pe_2025_01`);
    const febAnalyzed = await count(db, `app.pe_2025_02`);
    // Half of January's rows go without a VACUUM or ANALYZE: its pages and statistics stay, so
    // the estimate is the analyzed count and a real count would say half of it.
    await db.q(`delete from app.pe_2025_01 where id % 2 = 0`);
    const janNow = await count(db, `app.pe_2025_01`);
    expect(janNow).toBeLessThan(janAnalyzed * 0.6);
    // A partition made since the ANALYZE has no statistics: it is counted exactly.
    await db.q(`create table app.pe_2024_12 partition of app.pe for values from ('2024-12-01') to ('2025-01-01')`);
    await db.q(`alter table app.pe_2024_12 set (autovacuum_enabled = false)`);
    await db.q(`insert into app.pe (user_id, created_at) select 1, '2024-12-15Z' from generate_series(1, 37)`);
    await db.q(`select retention.set_policy('pe', 'app.pe', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_archive_schema => 'archive', p_max_rows_per_run => 1000000, p_notify_over_rows => 100)`);
    expect(await db.q(`select value, source from retention.policy_settings('pe') where setting = 'count'`))
      .toEqual([{ value: 'estimate', source: 'default' }]);

    const asOf = `'2025-03-02Z'`;  // December, January and February are past the cutoff
    const list = await db.q(`select partition, rows::int, held_rows::int, action, estimated from retention.partitions('pe', ${asOf})`);
    expect(list).toEqual([
      { partition: 'app.pe_2024_12', rows: 37, held_rows: 0, action: 'archive to archive', estimated: false },
      { partition: 'app.pe_2025_01', rows: janAnalyzed, held_rows: 0, action: 'archive to archive', estimated: true },
      { partition: 'app.pe_2025_02', rows: febAnalyzed, held_rows: 0, action: 'archive to archive', estimated: true },
      { partition: 'app.pe_2025_03', rows: null, held_rows: null, action: 'keep: not past the cutoff', estimated: false },
      { partition: 'app.pe_2025_04', rows: null, held_rows: null, action: 'keep: not past the cutoff', estimated: false },
    ]);

    await db.call(`call retention.run('pe', p_as_of => ${asOf})`);
    const run = await lastRun('pe');
    expect([run.status, Number(run.eligible), Number(run.affected), run.estimated])
      .toEqual(['completed', janAnalyzed + febAnalyzed + 37, janAnalyzed + febAnalyzed + 37, true]);
    expect(await db.q(`select partition_name, rows::int, disposition, estimated from retention.run_batches where run_id = $1 order by partition_name`, [run.run_id]))
      .toEqual([
        { partition_name: 'app.pe_2024_12', rows: 37, disposition: 'archived', estimated: false },
        { partition_name: 'app.pe_2025_01', rows: janAnalyzed, disposition: 'archived', estimated: true },
        { partition_name: 'app.pe_2025_02', rows: febAnalyzed, disposition: 'archived', estimated: true },
      ]);
    expect(await db.q(`select estimated from retention.run_ledger where run_id = $1`, [run.run_id])).toEqual([{ estimated: true }]);
    const [audit] = await db.q(`select details from retention.audit_log where action = 'run.completed' and details->>'run_id' = $1`, [String(run.run_id)]);
    expect(audit!.details).toMatchObject({ affected: janAnalyzed + febAnalyzed + 37, estimated: true });
    // Everything that reports the figures says they are estimates: the notification of a
    // large deletion and the compliance report.
    const [note] = await db.q(`select payload from retention.notifications where kind = 'large_deletion' and run_id = $1`, [run.run_id]);
    expect(note!.payload).toMatchObject({ affected: janAnalyzed + febAnalyzed + 37, estimated: true });
    const [report] = await db.q(`select retention.compliance_report(now() - interval '1 hour', now() + interval '1 hour') as r`);
    // (An earlier test's app.pe, dropped since, is another table: its runs are its own entry.)
    expect(report!.r.policies.filter((p: { policy: string }) => p.policy === 'pe').at(-1)).toMatchObject({ rows_estimated: true, table: 'app.pe' });
    // Every row is still there, in the archive schema: the estimate was only the ledger's figure.
    expect(await count(db, `archive.pe_2025_01`)).toBe(janNow);
    expect(await partitionsOf('app.pe')).toEqual(['pe_2025_03', 'pe_2025_04']);
  });

  it('a foreign partition is never estimated, never counted and never dropped: its rows are on another server', async (ctx) => {
    if (!(await db.q(`select 1 from pg_available_extensions where name = 'postgres_fdw'`)).length) return ctx.skip();
    // No primary key: a foreign table cannot be a partition of a table with one.
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.pf (id bigint, created_at timestamptz not null) partition by range (created_at)`);
    await db.q(`create table app.pf_2025_01 partition of app.pf for values from ('2025-01-01') to ('2025-02-01')`);
    await db.q(`insert into app.pf select i, '2025-01-10Z' from generate_series(1, 500) i`);
    await db.q(`analyze app.pf`);
    await db.q(`create extension if not exists postgres_fdw`);
    await db.q(`create server if not exists pf_remote foreign data wrapper postgres_fdw options (dbname 'nowhere')`);
    await db.q(`create foreign table app.pf_2024_12 partition of app.pf for values from ('2024-12-01') to ('2025-01-01') server pf_remote`);
    const est = await db.q(`select retention_internal._estimated_rows('app.pf_2024_12') as foreign_part,
                                   retention_internal._estimated_rows('app.pf') as parent,
                                   retention_internal._estimated_rows('app.pf_2025_01') = (select count(*) from app.pf_2025_01) as local_part`);
    expect(est).toEqual([{ foreign_part: null, parent: null, local_part: true }]);

    // Dropping a foreign table removes its definition, not its rows on the other server: a
    // run keeps it, alone or as a leaf of a partition, and counts nothing of it (what an
    // attacker found: the ledger said its remote rows were dropped).
    await db.q(`create table app.pf_2024_11 partition of app.pf for values from ('2024-11-01') to ('2024-12-01') partition by range (created_at)`);
    await db.q(`create table app.pf_2024_11a partition of app.pf_2024_11 for values from ('2024-11-01') to ('2024-11-15')`);
    await db.q(`create foreign table app.pf_2024_11b partition of app.pf_2024_11 for values from ('2024-11-15') to ('2024-12-01') server pf_remote`);
    await db.q(`create table app.pf_2025_02 partition of app.pf for values from ('2025-02-01') to ('2025-03-01')`);
    await db.q(`select retention.set_policy('pf', 'app.pf', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    expect(await db.q(`select partition, rows, action from retention.partitions('pf', '2025-03-15Z') order by lower_bound`)).toEqual([
      { partition: 'app.pf_2024_11', rows: null, action: 'keep: a foreign table (its rows are on another server)' },
      { partition: 'app.pf_2024_12', rows: null, action: 'keep: a foreign table (its rows are on another server)' },
      { partition: 'app.pf_2025_01', rows: '500', action: 'drop' },
      { partition: 'app.pf_2025_02', rows: '0', action: 'keep: last partition' },
    ]);
    await db.call(`call retention.run('pf', p_as_of => '2025-03-15Z')`);
    const [run] = await db.q(`select status, eligible::int, affected::int from retention.runs where policy_name = 'pf'`);
    expect(run).toEqual({ status: 'completed', eligible: 500, affected: 500 });
    expect(await db.q(`select partition_name, disposition from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'pf'`))
      .toEqual([{ partition_name: 'app.pf_2025_01', disposition: 'dropped' }]);
    expect(await db.q(`select relname::text as t from pg_class where relname in ('pf_2024_11', 'pf_2024_11a', 'pf_2024_11b', 'pf_2024_12') order by 1`))
      .toEqual([{ t: 'pf_2024_11' }, { t: 'pf_2024_11a' }, { t: 'pf_2024_11b' }, { t: 'pf_2024_12' }]);

    // A foreign table attached below a partition after the run counted it: still kept.
    await db.q(`create table app.pf_2024_10 partition of app.pf for values from ('2024-10-01') to ('2024-11-01') partition by range (created_at)`);
    await db.q(`create table app.pf_2024_10a partition of app.pf_2024_10 for values from ('2024-10-01') to ('2024-10-15')`);
    await db.q(`insert into app.pf select i, '2024-10-05Z' from generate_series(1, 20) i`);
    const c = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('pf', p_as_of => '2025-03-15Z') as id`)).rows[0].id;
      await db.q(`create foreign table app.pf_2024_10b partition of app.pf_2024_10 for values from ('2024-10-15') to ('2024-11-01') server pf_remote`);
      for (let i = 0; i < 10; i++) if ((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s !== 'running') break;
      expect(await batches(id)).toEqual([]);
    } finally {
      await c.end();
    }
    expect(await count(db, `pg_inherits where inhrelid = 'app.pf_2024_10'::regclass`)).toBe(1);
    expect(await count(db, `app.pf_2024_10a`)).toBe(20);
  });

  it('count exact reads and counts every expired partition; a held row makes a partition counted whatever the count', async () => {
    await makePartitioned('app.px', { months: 4, perDay: 40, withDefault: false });
    for (const part of await partitionsOf('app.px')) await db.q(`alter table app.${part} set (autovacuum_enabled = false)`);
    await db.q(`analyze app.px`);
    await db.q(`delete from app.px_2025_01 where id % 2 = 0`);
    await db.q(`delete from app.px_2025_02 where id % 3 = 0`);
    const jan = await count(db, `app.px_2025_01`);
    const feb = await count(db, `app.px_2025_02`);
    const febUser7 = await count(db, `app.px_2025_02 where user_id = 7`);
    expect(febUser7).toBeGreaterThan(0);
    await db.q(`select retention.set_policy('px', 'app.px', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_max_rows_per_run => 1000000, p_count => 'exact')`);
    const asOf = `'2025-03-02Z'`;
    expect(await db.q(`select rows::int, estimated from retention.partitions('px', ${asOf}) where rows is not null`))
      .toEqual([{ rows: jan, estimated: false }, { rows: feb, estimated: false }]);
    await db.call(`call retention.run('px', p_as_of => ${asOf})`);
    let run = await lastRun('px');
    expect([run.status, Number(run.affected), run.estimated]).toEqual(['completed', jan + feb, false]);
    const [audit] = await db.q(`select details from retention.audit_log where action = 'run.completed' and details->>'run_id' = $1`, [String(run.run_id)]);
    expect(audit!.details.estimated).toBeUndefined();

    // Back to estimates, with a subject hold on a row of March: March is counted (its held
    // row stays, the others go in batches), the others are estimated.
    await makePartitioned('app.py', { months: 5, perDay: 40, withDefault: false });
    for (const part of await partitionsOf('app.py')) await db.q(`alter table app.${part} set (autovacuum_enabled = false)`);
    await db.q(`analyze app.py`);
    await db.q(`insert into app.py (user_id, created_at) values (77, '2025-03-10Z')`);
    await db.q(`select retention.set_policy('py', 'app.py', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_max_rows_per_run => 1000000)`);
    await db.q(`select retention.place_hold('subject', '77', 'Litigation 77')`);
    const mar = await count(db, `app.py_2025_03`);
    const plan = await db.q(`select partition, rows::int, held_rows::int, action, estimated from retention.partitions('py', '2025-05-02Z') where rows is not null`);
    expect(plan.map((p) => [p.partition, p.held_rows, p.estimated, p.action])).toEqual([
      ['app.py_2025_01', 0, true, 'drop'],
      ['app.py_2025_02', 0, true, 'drop'],
      ['app.py_2025_03', 1, false, 'keep (legal hold): delete its unheld rows'],
      ['app.py_2025_04', 0, true, 'drop'],
    ]);
    expect(plan[2]!.rows).toBe(mar);
    await db.call(`call retention.run('py', p_as_of => '2025-05-02Z')`);
    run = await lastRun('py');
    expect([run.status, run.estimated]).toEqual(['completed', true]);
    expect(await db.q(`select user_id::int, created_at from app.py where created_at < '2025-05-01Z'`))
      .toEqual([{ user_id: 77, created_at: new Date('2025-03-10Z') }]);
    expect(await partitionsOf('app.py')).toEqual(['py_2025_03', 'py_2025_05']);
  });

  it('check_setup asks for the table owner\'s role and the archive schema; with them the runner role drops partitions', async () => {
    await makePartitioned('app.pb', { months: 2 });
    await db.q(`create schema if not exists archive`);
    const owner = `app_owner_${randomBytes(3).toString('hex')}`;
    const runner = `runner_${randomBytes(3).toString('hex')}`;
    await db.q(`create role ${owner} nologin`);
    await db.q(`alter table app.pb owner to ${owner}`);
    for (const part of await partitionsOf('app.pb')) await db.q(`alter table app.${part} owner to ${owner}`);
    await db.q(`create role ${runner} login password 'pw' in role retention_runner`);
    await db.q(`grant usage on schema app, archive to retention_runner`);
    await db.q(`select retention.set_policy('pb', 'app.pb', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_archive_schema => 'archive', p_max_rows_per_run => 1000000)`);
    const problems = await db.q(`select problem, fix from retention.check_setup() where policy = 'pb' and fix not like 'CALL%'`);
    expect(problems.map((p) => p.fix)).toEqual([`GRANT ${owner} TO retention_runner;`, 'GRANT CREATE ON SCHEMA archive TO retention_runner;']);

    const u = new URL(db.url);
    u.username = runner;
    u.password = 'pw';
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    await expect(c.query(`call retention.run('pb', p_as_of => '2025-02-15Z')`)).rejects.toMatchObject({ code: '42501' });
    expect(await partitionsOf('app.pb')).toHaveLength(3);
    try {
      for (const p of problems) await db.q(p.fix);
      expect(await count(db, `retention.check_setup() where policy = 'pb' and fix not like 'CALL%'`)).toBe(0);
      await c.query(`call retention.run('pb', p_as_of => '2025-02-15Z')`);
    } finally {
      // retention_runner is cluster-wide: another file's worker login must not stay a
      // member of this table's owner (it would detach the plain way: privileges-atk113).
      await db.q(`revoke ${owner} from retention_runner`);
      await c.end();
    }
    expect(await partitionsOf('app.pb')).toEqual(['pb_2025_02', 'pb_default']);
    expect(await count(db, `archive.pb_2025_01`)).toBeGreaterThan(0);
    const [run] = await db.q(`select status, db_user from retention.runs where policy_name = 'pb' order by run_id desc limit 1`);
    expect(run).toEqual({ status: 'completed', db_user: runner });
  });

  // Runs where the pg_partman extension is installed (CI's PostgreSQL 15 leg installs it).
  it('works with pg_partman itself, and check_setup flags pg_partman retention on the same table', async (ctx) => {
    const [ext] = await db.q(`select default_version from pg_available_extensions where name = 'pg_partman'`);
    if (!ext) ctx.skip();
    await db.q(`create schema if not exists partman`);
    await db.q(`create extension if not exists pg_partman schema partman`);
    await db.q(`create table app.pm (id bigint generated always as identity, created_at timestamptz not null, note text) partition by range (created_at)`);
    const native = String(ext!.default_version).startsWith('4.');
    await db.q(
      `select partman.create_parent(p_parent_table => 'app.pm', p_control => 'created_at', p_interval => ${native ? `'monthly', p_type => 'native'` : `'1 month'`},
                                    p_premake => 1, p_start_partition => '2025-01-01')`);
    await db.q(`insert into app.pm (created_at) select timestamptz '2025-01-01Z' + make_interval(hours => i) from generate_series(0, 24 * 59) i`);
    await db.q(`insert into app.pm (created_at) values ('2019-01-01Z')`);
    await db.q(`select retention.set_policy('pm', 'app.pm', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const plan = await db.q(`select partition, action from retention.partitions('pm', '2025-03-15Z')`);
    expect(plan.filter((p) => p.action === 'drop').map((p) => p.partition)).toEqual(['app.pm_p2025_01', 'app.pm_p2025_02'].map((n) => native ? n : n.replace(/_(\d\d)$/, '$1') + '01'));
    expect(plan.at(-1)).toEqual({ partition: 'app.pm_default', action: 'keep: default partition' });
    const jan = await count(db, `app.pm where created_at < '2025-03-01Z' and created_at >= '2025-01-01Z'`);
    await db.call(`call retention.run('pm', p_as_of => '2025-03-15Z')`);
    expect(Number((await lastRun('pm')).affected)).toBe(jan);
    expect(await count(db, `app.pm where created_at < '2025-03-01Z'`)).toBe(1); // the default partition's row
    await db.q(`call partman.run_maintenance_proc()`);
    await db.q(`update partman.part_config set retention = '3 months' where parent_table = 'app.pm'`);
    const [flag] = await db.q(`select problem, fix from retention.check_setup() where policy = 'pm' and problem like 'pg_partman%'`);
    expect(flag!.fix).toBe(`UPDATE partman.part_config SET retention = NULL WHERE parent_table = 'app.pm'; -- let one tool own retention`);
  });
});
