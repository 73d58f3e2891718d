// For psql: schedules evaluated in the database as the worker evaluates them
// (next_occurrence / last_occurrence against cron-parser itself), retention.policy_status,
// and retention.run_due, which pg_cron can call instead of the worker (tested with
// Debian's postgresql-15-cron where the server preloads it; CI's PostgreSQL 15 does).
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from './support/db.ts';
import { count, makeEvents, waitFor } from './support/fixtures.ts';

const db = useTestDatabase();
const { login } = useLogins(db);

const SCHEDULES = [
  '0 2 * * *', '*/15 * * * *', '30 4 1 * *', '0 4 1 1 *', '0 3 * * 0', '0 9 * * 1-5', '5,35 8-18/2 * * *',
  '0 0 L * *', '0 12 * * 5L', '0 6 * * 1#2', '0 0 13 * 5', '0 0 1,15 * *', '0 0 29 2 *', '15 10 * JAN,JUL MON-FRI',
  '0 0 * * 7', '0 22 * * sun', '@daily', '@weekly', '@monthly', '@yearly', '@hourly', '0 0 ? * 3', '0 1 31 * *',
];
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'];
const INSTANTS = ['2026-12-01T10:17:31.5Z', '2027-02-27T23:59:59.9Z', '2027-03-28T00:30:12Z', '2027-10-31T05:10:00.1Z', '2028-02-29T12:00:01Z'];

describe('schedules in the database, as the worker reads them', () => {
  it('next_occurrence and last_occurrence agree with cron-parser', async () => {
    const cases: [string, string, string][] = [];
    for (const s of SCHEDULES) for (const z of ZONES) for (const t of INSTANTS) cases.push([s, z, t]);
    const rows = await db.q<{ i: number; next: Date | null; last: Date | null }>(
      `select i, retention.next_occurrence(c ->> 0, c ->> 1, (c ->> 2)::timestamptz) as next,
              retention.last_occurrence(c ->> 0, c ->> 1, (c ->> 2)::timestamptz) as last
         from jsonb_array_elements($1::jsonb) with ordinality x(c, i) order by i`, [JSON.stringify(cases)]);
    const wrong: string[] = [];
    let skipped = 0;
    rows.forEach((r, k) => {
      const [s, z, t] = cases[k]!;
      const it = () => CronExpressionParser.parse(s, { tz: z, currentDate: new Date(t) });
      let next: string, prev: string;
      try {
        next = it().next().toDate().toISOString();
        prev = it().prev().toDate().toISOString();
      } catch {
        // cron-parser gives up on a few (a weekly 03:00 in Lord Howe's half-hour summer
        // time change): the worker cannot schedule those either; nothing to compare.
        skipped++;
        return;
      }
      if (r.next?.toISOString() !== next) wrong.push(`${s} ${z} after ${t}: next ${r.next?.toISOString()} vs cron-parser ${next}`);
      if (r.last?.toISOString() !== prev) wrong.push(`${s} ${z} before ${t}: last ${r.last?.toISOString()} vs cron-parser ${prev}`);
    });
    expect(wrong).toEqual([]);
    expect(rows.length).toBe(SCHEDULES.length * ZONES.length * INSTANTS.length);
    expect(skipped).toBeLessThan(5);
  });

  it('refuses what is not a schedule', async () => {
    for (const bad of ['', '* * *', '61 * * * *', '0 0 31 2 *', "0 0 * * *'; drop table x; --"]) {
      expect(await sqlState(db.q(`select retention.next_occurrence($1)`, [bad])), bad).toBe('RT016');
    }
  });
});

describe('retention.policy_status', () => {
  it('per policy: next run, last run and its error, last success, an estimate, the holds that apply', async () => {
    await makeEvents(db, 'app.ps_ok', 300, 100);
    await makeEvents(db, 'app.ps_bad', 300, 100);
    await db.q(`select retention.set_policy('ps.ok', 'app.ps_ok', 'delete', 'created_at', p_retain => '30 days', p_schedule => '0 3 * * *',
                  p_time_zone => 'Europe/Berlin', p_subject_column => 'user_id')`);
    await db.q(`select retention.set_policy('ps.bad', 'app.ps_bad', 'delete', 'created_at', p_retain => '30 days', p_max_rows_per_run => 10)`);
    await db.call(`call retention.run('ps.ok')`);
    await db.call(`call retention.run('ps.bad')`).catch(() => {}); // refused by its ceiling
    await db.q(`select retention.place_hold('subject', '3', 'a matter')`);
    await db.q(`select retention.place_hold('policy', 'ps.bad', 'another matter')`);
    await db.q(`insert into app.ps_ok (user_id, created_at) select 1, now() - interval '1 year' from generate_series(1, 50)`);
    await db.q(`analyze app.ps_ok`);
    const rows = await db.q(`select * from retention.policy_status where policy like 'ps.%' order by policy`);
    const [bad, ok] = rows;
    expect(ok).toMatchObject({ table: 'app.ps_ok', action: 'delete', enabled: true, schedule: '0 3 * * *', time_zone: 'Europe/Berlin',
      last_status: 'completed', last_error_code: null, holds: 1, running: false });
    const [next] = await db.q<{ t: Date }>(`select retention.next_occurrence('0 3 * * *', 'Europe/Berlin') as t`);
    expect(ok!.next_run_at).toEqual(next!.t);
    expect(ok!.last_success_at).toBeInstanceOf(Date);
    // The estimate: what the planner expects of the 50 expired rows plus the held ones.
    expect(Number(ok!.eligible_estimate)).toBeGreaterThan(10);
    expect(Number(ok!.eligible_estimate)).toBeLessThan(300);
    expect(bad).toMatchObject({ last_status: 'refused', last_error_code: 'RT012', last_success_at: null, holds: 1 });
    expect(bad!.last_error).toMatch(/ceiling/);
    // The runner and the auditor read it; the requester does not.
    const runner = await login('ps_run', 'retention_runner');
    expect((await runner.query(`select count(*)::int as n from retention.policy_status where policy like 'ps.%'`)).rows[0].n).toBe(2);
    const aud = await login('ps_aud', 'retention_auditor');
    expect((await aud.query(`select count(*)::int as n from retention.policy_status where policy like 'ps.%'`)).rows[0].n).toBe(2);
    const req = await login('ps_req', 'retention_requester');
    expect(await sqlState(req.query(`select * from retention.policy_status`))).toBe('42501');
  });
});

describe('retention.run_due', () => {
  it('runs the policies whose schedule came due and that have not run since, once per occurrence', async () => {
    await makeEvents(db, 'app.rd_due', 100, 100);
    await makeEvents(db, 'app.rd_later', 100, 100);
    await makeEvents(db, 'app.rd_off', 100, 100);
    // Every minute, created an hour ago: due. Yearly on 1 Jan, created now: not due since its creation.
    await db.q(`select retention.set_policy('rd.due', 'app.rd_due', 'delete', 'created_at', p_retain => '30 days', p_schedule => '* * * * *')`);
    await db.q(`select retention.set_policy('rd.later', 'app.rd_later', 'delete', 'created_at', p_retain => '30 days', p_schedule => '0 0 1 1 *')`);
    await db.q(`select retention.set_policy('rd.off', 'app.rd_off', 'delete', 'created_at', p_retain => '30 days', p_schedule => '* * * * *', p_enabled => false)`);
    await db.q(`update retention.policies set created_at = now() - interval '1 hour' where name like 'rd.%'`);
    const due = (await db.q<{ policy: string }>(`select policy from retention.due_policies() where policy like 'rd.%'`)).map((r) => r.policy);
    expect(due).toEqual(['rd.due']);
    await db.call(`call retention.run_due()`);
    expect(await count(db, `retention.runs where policy_name = 'rd.due' and mode = 'live' and status = 'completed'`)).toBe(1);
    expect(await count(db, `retention.runs where policy_name in ('rd.later', 'rd.off')`)).toBe(0);
    expect(await count(db, 'app.rd_due')).toBeLessThan(100);
    // Not due again until the next occurrence.
    expect(await count(db, `retention.due_policies() where policy like 'rd.%'`)).toBe(0);
    await db.call(`call retention.run_due()`);
    expect(await count(db, `retention.runs where policy_name = 'rd.due'`)).toBe(1);
    // The runner may call it.
    const runner = await login('rd_run', 'retention_runner');
    await runner.query(`call retention.run_due()`);
  });

  // pg_cron (Debian's postgresql-15-cron), where the server preloads it: a job in this
  // test's database calls run_due every minute; the policy's run appears in the ledger.
  it('runs from pg_cron', async () => {
    const [cron] = await db.q<{ loaded: boolean; db: string | null }>(
      `select current_setting('shared_preload_libraries') ~ 'pg_cron' as loaded, current_setting('cron.database_name', true) as db`);
    if (!cron?.loaded) {
      if (process.env.RETENTION_REQUIRE_PG_CRON === '1') throw new Error('pg_cron is not preloaded on this server (RETENTION_REQUIRE_PG_CRON=1)');
      console.log('[tests] pg_cron is not preloaded here: the pg_cron path is tested on CI\'s PostgreSQL 15');
      return;
    }
    await makeEvents(db, 'app.rd_cron', 100, 100);
    await db.q(`select retention.set_policy('rd.cron', 'app.rd_cron', 'delete', 'created_at', p_retain => '30 days', p_schedule => '* * * * *')`);
    await db.q(`update retention.policies set created_at = now() - interval '1 hour' where name = 'rd.cron'`);
    const admin = await db.connect();
    const u = new URL(db.url);
    u.pathname = `/${cron.db ?? 'postgres'}`;
    const { default: pg } = await import('pg');
    const home = new pg.Client({ connectionString: u.toString() });
    await home.connect();
    let job: number | undefined;
    try {
      await home.query('create extension if not exists pg_cron');
      job = (await home.query<{ j: number }>(`select cron.schedule_in_database($1, '* * * * *', 'CALL retention.run_due()', $2) as j`,
        [`pg-retention-${db.name}`, db.name])).rows[0]!.j;
      await waitFor(async () => (await count(db, `retention.runs where policy_name = 'rd.cron' and mode = 'live'`)) > 0, 'a run started by pg_cron', 130_000);
      const [run] = await db.q<{ status: string; started_by: string }>(`select status, started_by from retention.runs where policy_name = 'rd.cron'`);
      await waitFor(async () => (await count(db, `retention.runs where policy_name = 'rd.cron' and status = 'running'`)) === 0, 'the run to end', 30_000);
      expect(['completed', 'running']).toContain(run!.status);
      expect(await count(db, 'app.rd_cron')).toBeLessThan(100);
    } finally {
      if (job !== undefined) await home.query('select cron.unschedule($1)', [job]).catch(() => {});
      await home.end();
      await admin.end();
    }
  }, 180_000);
});
