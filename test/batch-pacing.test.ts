// Batch pacing: batches that size themselves to batch_target; throttling between batches
// with pause_between_batches, and max_replication_lag against a real streaming standby
// made by pg_basebackup on this machine, whose replay is paused to make it lag. Outcomes
// are read from the ledger (run_batches, runs.throttled).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../runner/migrate.ts';
import { parsePolicyFile } from '../runner/policy-file.ts';
import { postgresBin } from './support/basebackup.ts';
import { useTestDatabase } from './support/db.ts';
import { count, slowRows, waitFor } from './support/fixtures.ts';
import { type Pair, startPair } from './support/standby.ts';

const db = useTestDatabase();
const q = db.q;

async function oldRows(exec: (sql: string) => Promise<unknown>, table: string, n: number) {
  await exec(`create schema if not exists app`);
  await exec(`create table ${table} (id int primary key, at timestamptz not null)`);
  await exec(`insert into ${table} select i, now() - interval '1 year' from generate_series(1, ${n}) i`);
  await exec(`create index on ${table} (at)`);
}

describe('batches that size themselves (no batch_size)', () => {
  const sizes = async (policy: string) => (await q<{ rows: string; ms: number }>(
    `select b.rows, b.duration_ms as ms from retention.run_batches b join retention.runs r using (run_id)
      where r.policy_name = $1 order by b.batch_no`, [policy])).map((b) => ({ rows: Number(b.rows), ms: Number(b.ms) }));

  it('grow while batches are fast: cheap rows go in batches larger than 1,000, and none is lost', async () => {
    await oldRows(q, 'app.ag', 30000);
    await q(`select retention.set_policy('ag', 'app.ag', 'delete', 'at', p_retain => '30 days', p_max_rows_per_run => 100000)`);
    expect((await q(`select batch_size, batch_target from retention.effective_policies where name = 'ag'`))[0])
      .toEqual({ batch_size: null, batch_target: { milliseconds: 50 } });
    await db.call(`call retention.run('ag')`);
    expect(await count(db, 'app.ag')).toBe(0);
    const b = await sizes('ag');
    expect(b[0]!.rows).toBe(1000);
    expect(Math.max(...b.map((x) => x.rows))).toBeGreaterThan(1000);
    expect(b.reduce((n, x) => n + x.rows, 0)).toBe(30000);
    // Each batch grew from the one before at most twofold (the time that decides is the
    // part holding the rows, which the ledger's duration_ms, the whole batch, includes).
    for (let i = 1; i < b.length - 1; i++) {
      expect(b[i]!.rows, `batch ${i}`).toBeLessThanOrEqual(b[i - 1]!.rows * 2);
    }
  });

  it('shrink at once after a slow batch: rows that cost a millisecond each go about 50 at a time', async () => {
    await oldRows(q, 'app.as', 1200);
    await slowRows(db, 'app.as', 1);
    await q(`select retention.set_policy('as', 'app.as', 'delete', 'at', p_retain => '30 days', p_time_budget => '4 seconds')`);
    await db.call(`call retention.run('as')`);
    const b = await sizes('as');
    expect(b[0]!.rows).toBe(1000);
    expect(b[1]!.rows).toBeLessThan(100);  // 1000 rows took over a second: about 50 ms worth next
    expect(b[1]!.rows).toBeGreaterThanOrEqual(10);
    expect(await count(db, 'app.as')).toBe(1200 - b.reduce((n, x) => n + x.rows, 0));
  });

  it('a fixed batch_size overrides; batch_target is checked, excludes batch_size, and changes nothing when refused', async () => {
    await oldRows(q, 'app.af', 50);
    await q(`select retention.set_policy('af', 'app.af', 'delete', 'at', p_retain => '30 days', p_batch_size => 7)`);
    await db.call(`call retention.run('af')`);
    expect((await sizes('af')).map((x) => x.rows)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    const before = await q(`select * from retention.policies where name = 'af'`);
    for (const [sql, word] of [[`p_batch_target => '1 millisecond'`, 'batch target'], [`p_batch_target => '1 minute'`, 'batch target'],
                               [`p_batch_target => '100 milliseconds'`, 'exclude']] as const) {
      const err = await q(`select retention.alter_policy('af', ${sql})`).then(() => null, (e: pg.DatabaseError) => e);
      expect(err?.code, sql).toBe('RT006');
      expect(err?.message).toContain(word);
    }
    expect(await q(`select * from retention.policies where name = 'af'`)).toEqual(before);
    await q(`select retention.alter_policy('af', p_batch_target => '100 milliseconds', p_reset => array['batch_size'])`);
    expect(await q(`select batch_size, batch_target::text as t from retention.policies where name = 'af'`)).toEqual([{ batch_size: null, t: '00:00:00.1' }]);
  });
});

describe('pause_between_batches', () => {
  it('pauses after every batch: the ledger shows the gaps', async () => {
    await oldRows(q, 'app.pz', 40);
    await q(`select retention.set_policy('pz', 'app.pz', 'delete', 'at', p_retain => '30 days', p_batch_size => 10,
                                         p_pause_between_batches => '300 milliseconds')`);
    await db.call(`call retention.run('pz')`);
    expect(await count(db, 'app.pz')).toBe(0);
    const gaps = await q<{ ms: number }>(`
      select extract(epoch from b.finished_at - lag(b.finished_at) over (order by b.batch_no)) * 1000 as ms
        from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'pz' order by b.batch_no offset 1`);
    expect(gaps.length).toBe(3);
    for (const g of gaps) expect(Number(g.ms)).toBeGreaterThanOrEqual(290);
    const [run] = await q(`select status, affected, throttled from retention.run_ledger where policy = 'pz'`);
    expect(run).toMatchObject({ status: 'completed', affected: '40' });
  });

  it('a clock set back does not stretch the pause: a step waits at most the pause itself (atk96)', async () => {
    await oldRows(q, 'app.pc', 30);
    await q(`select retention.set_policy('pc', 'app.pc', 'delete', 'at', p_retain => '30 days', p_batch_size => 10,
                                         p_pause_between_batches => '200 milliseconds')`);
    const c = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('pc') as id`)).rows[0].id;
      expect((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s).toBe('running');
      // The last batch's time as a clock an hour ahead wrote it (the clock went back since).
      await q(`update retention.runs set state = jsonb_set(state, '{batch_at}', to_jsonb(now() + interval '1 hour')) where run_id = $1`, [id]);
      await c.query(`set statement_timeout = '10s'`);
      expect((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s).toBe('running');
      while ((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s === 'running');
    } finally {
      await c.end();
    }
    expect(await count(db, 'app.pc')).toBe(0);
  });

  it('refuses a pause or lag that is not positive or too long (RT006), naming it, and changes nothing', async () => {
    await oldRows(q, 'app.pb', 1);
    await q(`select retention.set_policy('pb', 'app.pb', 'delete', 'at', p_retain => '30 days')`);
    const before = await q(`select * from retention.policies where name = 'pb'`);
    const audit = await count(db, 'retention.audit_log');
    for (const [arg, value, word] of [['p_pause_between_batches', '0', 'pause'], ['p_pause_between_batches', '-1 second', 'pause'],
                                      ['p_pause_between_batches', '2 minutes', 'pause'], ['p_max_replication_lag', '0', 'lag'],
                                      ['p_max_replication_lag', '-5 seconds', 'lag'], ['p_max_replication_lag', '2 days', 'lag']] as const) {
      const err = await q(`select retention.alter_policy('pb', ${arg} => '${value}')`).then(() => null, (e: pg.DatabaseError) => e);
      expect(err?.code, `${arg} ${value}`).toBe('RT006');
      expect(err?.message).toContain(word);
      expect(err?.hint).toBeTruthy();
    }
    expect(await q(`select * from retention.policies where name = 'pb'`)).toEqual(before);
    expect(await count(db, 'retention.audit_log')).toBe(audit);
    // Given and reset like any setting; audited.
    await q(`select retention.alter_policy('pb', p_pause_between_batches => '50 milliseconds', p_max_replication_lag => '10 seconds')`);
    expect(await q(`select pause_between_batches::text as p, max_replication_lag::text as l from retention.policies where name = 'pb'`))
      .toEqual([{ p: '00:00:00.05', l: '00:00:10' }]);
    await q(`select retention.alter_policy('pb', p_reset => array['pause_between_batches', 'max_replication_lag'])`);
    expect(await q(`select pause_between_batches, max_replication_lag from retention.policies where name = 'pb'`))
      .toEqual([{ pause_between_batches: null, max_replication_lag: null }]);
    // The policy file takes them, and refuses what is not a duration.
    const file = (extra: string) => `policies:\n  - name: pb\n    table: app.pb\n    action: delete\n    age_column: at\n${extra}`;
    expect(parsePolicyFile(file('    pause_between_batches: 100 milliseconds\n    max_replication_lag: 30 seconds\n'), 'f.yaml').spec.policies[0])
      .toMatchObject({ pause_between_batches: '100 milliseconds', max_replication_lag: '30 seconds' });
    expect(() => parsePolicyFile(file('    max_replication_lag: soon\n'), 'f.yaml')).toThrow(/max_replication_lag.*not a positive duration/);
  });

  it('check_setup names a lag the schema owner cannot measure, with the GRANT that fixes it', async () => {
    await oldRows(q, 'app.po', 1);
    await q(`select retention.set_policy('po', 'app.po', 'delete', 'at', p_retain => '30 days', p_max_replication_lag => '10 seconds')`);
    const problems = async () => (await q<{ fix: string }>(`select fix from retention.check_setup() where policy = 'po' and problem like 'max_replication_lag%'`)).map((r) => r.fix);
    expect(await problems()).toEqual([]);  // a superuser owns it here
    const role = `np_owner_${process.pid}`;
    await q(`create role ${role} nologin`);
    try {
      await q(`alter schema retention owner to ${role}`);
      expect(await problems()).toEqual([`GRANT pg_read_all_stats TO ${role};`]);
      await q(`grant pg_read_all_stats to ${role}`);
      expect(await problems()).toEqual([]);
    } finally {
      await q(`alter schema retention owner to current_user`);
    }
  });

  it('a throttle does not change the policy\'s version: an approved proposal stays good', async () => {
    await oldRows(q, 'app.pv', 5);
    await q(`select retention.set_policy('pv', 'app.pv', 'delete', 'at', p_retain => '30 days')`);
    const v = async () => (await q(`select retention_internal._policy_version(p) as v from retention.policies p where name = 'pv'`))[0]!.v;
    const before = await v();
    await q(`select retention.alter_policy('pv', p_pause_between_batches => '1 second', p_max_replication_lag => '5 seconds')`);
    expect(await v()).toBe(before);
  });
});

const bin = postgresBin();
describe.skipIf(!bin)('max_replication_lag, with a real streaming standby', () => {
  let pair: Pair;
  let primary: pg.Client;
  let standby: pg.Client;

  beforeAll(async () => {
    pair = (await startPair())!;
    await migrate(pair.primaryUrl());
    primary = new pg.Client({ connectionString: pair.primaryUrl() });
    await primary.connect();
    standby = new pg.Client({ connectionString: pair.standbyUrl() });
    await standby.connect();
  }, 120_000);
  afterAll(async () => {
    await primary?.end().catch(() => {});
    await standby?.end().catch(() => {});
    pair?.stop();
  });

  const ex = (sql: string) => primary.query(sql);
  const lag = async () => Number((await primary.query(`select coalesce(extract(epoch from max(replay_lag)), 0) as s from pg_stat_replication`)).rows[0].s);
  /** Pauses the standby's replay and writes until its replay lags more than `s` seconds. */
  async function makeLag(s: number) {
    await standby.query(`select pg_wal_replay_pause()`);
    await ex(`create table if not exists app.noise (x int)`);
    await waitFor(async () => {
      await ex(`insert into app.noise select generate_series(1, 100)`);
      return (await lag()) > s;
    }, `a replay lag over ${s} s`, 30_000);
  }
  async function resume() {
    await standby.query(`select pg_wal_replay_resume()`);
  }
  const runIn = async (sql: string) => {
    const c = new pg.Client({ connectionString: pair.primaryUrl() });
    await c.connect();
    return { c, done: c.query(sql).then(() => null, (e: Error) => e).finally(() => c.end()) };
  };
  const run = async (name: string) => (await ex(`select * from retention.runs where policy_name = '${name}' order by run_id desc limit 1`)).rows[0];

  it('waits before each batch while the standby lags more than allowed, records the wait, and goes on once it caught up', async () => {
    if (process.env.CI === 'true') expect(bin).not.toBeNull();
    await oldRows(ex, 'app.lg', 100);
    await ex(`select retention.set_policy('lg', 'app.lg', 'delete', 'at', p_retain => '30 days', p_batch_size => 10,
                                          p_max_replication_lag => '500 milliseconds')`);
    await makeLag(1);
    const { done } = await runIn(`call retention.run('lg')`);
    await waitFor(async () => (await run('lg'))?.status === 'running', 'the run to start');
    await new Promise((r) => setTimeout(r, 2500));
    // Nothing deleted while the standby is behind; the wait is in the ledger.
    const waiting = await run('lg');
    expect(waiting.status).toBe('running');
    expect(Number(waiting.affected)).toBe(0);
    expect(Number((await ex(`select count(*) from app.lg`)).rows[0].count)).toBe(100);
    expect(Number((await ex(`select extract(epoch from throttled) as s from retention.runs where run_id = ${waiting.run_id}`)).rows[0].s)).toBeGreaterThan(1);
    await resume();
    expect(await done).toBeNull();
    const end = (await ex(`select status, affected, extract(epoch from throttled) as s from retention.run_ledger where run_id = ${waiting.run_id}`)).rows[0];
    expect(end.status).toBe('completed');
    expect(Number(end.affected)).toBe(100);
    expect(Number(end.s)).toBeGreaterThan(2);
    expect(Number((await ex(`select count(*) from app.lg`)).rows[0].count)).toBe(0);
  });

  it('a run kept waiting ends at its time budget with nothing lost; a stop request ends a waiting run', async () => {
    await oldRows(ex, 'app.lb', 30);
    await ex(`select retention.set_policy('lb', 'app.lb', 'delete', 'at', p_retain => '30 days', p_batch_size => 10,
                                          p_max_replication_lag => '500 milliseconds', p_time_budget => '2 seconds')`);
    await makeLag(1);
    try {
      const { done } = await runIn(`call retention.run('lb')`);
      expect(await done).toBeNull();
      const r = await run('lb');
      expect(r.status).toBe('stopped_time_budget');
      expect(Number(r.affected)).toBe(0);
      expect(Number((await ex(`select extract(epoch from throttled) as s from retention.runs where run_id = ${r.run_id}`)).rows[0].s)).toBeGreaterThan(1.5);
      expect(Number((await ex(`select count(*) from app.lb`)).rows[0].count)).toBe(30);
      // A stop request while it waits.
      await ex(`select retention.alter_policy('lb', p_time_budget => '10 minutes')`);
      const second = await runIn(`call retention.run('lb')`);
      await waitFor(async () => (await run('lb'))?.status === 'running', 'the run to start');
      await ex(`select retention.request_stop(${(await run('lb')).run_id})`);
      expect(await second.done).toBeNull();
      expect((await run('lb')).status).toBe('stopped_requested');
      expect(Number((await ex(`select count(*) from app.lb`)).rows[0].count)).toBe(30);
    } finally {
      await resume();
    }
  });

  it('a standby within the allowed lag does not slow the run: nothing waited', async () => {
    await waitFor(async () => (await lag()) < 0.5, 'the standby to catch up');
    await oldRows(ex, 'app.ln', 20);
    await ex(`select retention.set_policy('ln', 'app.ln', 'delete', 'at', p_retain => '30 days', p_batch_size => 10,
                                          p_max_replication_lag => '30 seconds')`);
    const { done } = await runIn(`call retention.run('ln')`);
    expect(await done).toBeNull();
    const r = await run('ln');
    expect(r.status).toBe('completed');
    expect(Number(r.affected)).toBe(20);
    expect((await ex(`select throttled::text as t from retention.runs where run_id = ${r.run_id}`)).rows[0].t).toBe('00:00:00');
  });
});
