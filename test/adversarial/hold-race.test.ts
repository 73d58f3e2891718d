// The hold race (4 x 100 trials; RETENTION_HOLD_RACE_TRIALS for more): while a run (or an erasure) works through its batches,
// another session places subject holds one after another. Each hold is a trial: once
// place_hold has returned, the rows it covers — and the rows whose removal would reach
// them — are noted, and none of them may be gone or changed when the work is done.
// place_hold waits for the batch in flight and no longer.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count, slowRows, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
// Per action kind (four kinds), on CI's first leg only (vitest.config.ts): the race is the
// engine's, the same on every server version.
const TRIALS = Number(process.env.RETENTION_HOLD_RACE_TRIALS ?? 100);
if (!Number.isInteger(TRIALS) || TRIALS < 20) throw new Error('RETENTION_HOLD_RACE_TRIALS: a whole number of at least 20');
// Rows each run works through, in batches of 20: enough that the trials land while it runs
// (one trial per batch or so), and no more: the run goes on after the last trial.
const ROWS = Math.max(1600, 16 * TRIALS);

interface Trial { subject: number; waitedMs: number; rows: string[] }

/** Places TRIALS subject holds on distinct random subjects while `work` runs; after each
 * returns, `covered(subject)` lists the rows that must survive (as comparable strings). */
async function race(work: Promise<unknown>, subjects: number, covered: (s: number) => Promise<string[]>): Promise<Trial[]> {
  const c = await db.connect();
  const trials: Trial[] = [];
  const pool = Array.from({ length: subjects }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
  let finished = false;
  void work.finally(() => { finished = true; });
  try {
    for (const subject of pool.slice(0, TRIALS)) {
      const t0 = performance.now();
      await c.query(`select retention.place_hold('subject', $1, 'race trial')`, [String(subject)]);
      const waitedMs = performance.now() - t0;
      trials.push({ subject, waitedMs, rows: await covered(subject) });
      if (!finished && Math.random() < 0.3) await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    await c.end();
  }
  await work;
  return trials;
}

async function assertSurvived(trials: Trial[], present: (s: number) => Promise<string[]>, runIds: string) {
  let lost = 0;
  for (const t of trials) {
    const now = new Set(await present(t.subject));
    lost += t.rows.filter((r) => !now.has(r)).length;
  }
  expect(lost).toBe(0);
  // place_hold waits for the batch in flight, never for the run: bounded by the longest
  // batch (plus generous room for a loaded machine).
  const [b] = await q(`select coalesce(max(duration_ms), 0)::float8 as ms from retention.run_batches where run_id in (${runIds})`);
  expect(Math.max(...trials.map((t) => t.waitedMs))).toBeLessThan(b!.ms + 1000);
  // A race: most holds went in while the run was still working.
  const [d] = await q(`select count(*)::int as n from retention.legal_holds, (select min(started_at) as s, max(finished_at) as f
                                                                               from retention.runs where run_id in (${runIds})) r
                        where reason = 'race trial' and placed_at between r.s and r.f`);
  expect(d!.n).toBeGreaterThan(trials.length / 3);
  return trials.filter((t) => t.rows.length > 0).length;
}

/** Waits until the work has removed or changed something (its first batch committed). */
const started = (sql: string) => waitFor(async () => (await count(db, sql)) > 0, 'the first batch');

const rows = (r: pg.QueryResultRow[]) => r.map((x) => JSON.stringify(x));

describe(`the hold race (4 x ${TRIALS} trials)`, () => {
  it('delete with a cascade: no row a hold covers, nor a parent whose cascade reaches one, goes after place_hold returns', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.hr_p (id int primary key, owner_id int, at timestamptz not null)`);
    await q(`create table app.hr_c (id int primary key, p_id int references app.hr_p on delete cascade, user_id int, at timestamptz not null default now())`);
    await q(`create index on app.hr_p (at)`);
    await q(`create index on app.hr_c (p_id)`);
    await q(`insert into app.hr_p select i, 1 + i % 1000, now() - interval '1 year' - make_interval(secs => i) from generate_series(1, ${ROWS}) i`);
    await q(`insert into app.hr_c select i, 1 + (i * 7) % ${ROWS}, 1 + (i * 13) % 1000 from generate_series(1, ${ROWS / 2}) i`);
    await slowRows(db, 'app.hr_p', 1);
    await q(`select retention.set_policy('hr-c', 'app.hr_c', 'delete', 'at', p_retain => '5 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('hr-p', 'app.hr_p', 'delete', 'at', p_retain => '30 days', p_subject_column => 'owner_id',
               p_batch_size => 20, p_max_rows_per_run => 100000)`);
    const covered = async (s: number) => rows(await q(
      `select 'p' as t, id from app.hr_p where owner_id = $1
       union select 'p', p.id from app.hr_p p join app.hr_c c on c.p_id = p.id where c.user_id = $1
       union select 'c', id from app.hr_c where user_id = $1 order by 1, 2`, [s]));
    const work = db.call(`call retention.run('hr-p')`);
    await started(`generate_series(1, 1) where (select count(*) from app.hr_p) < ${ROWS}`);
    const trials = await race(work, 1000, covered);
    const [r] = await q(`select string_agg(run_id::text, ',') as ids, sum(affected)::int as affected from retention.runs where policy_name = 'hr-p'`);
    expect(r!.affected).toBeGreaterThan(0);
    expect(await assertSurvived(trials, covered, r!.ids)).toBeGreaterThan(TRIALS / 5);
  });

  it('scrub with a revoke table: no held account is scrubbed and no held token revoked after place_hold returns', async () => {
    await q(`create table app.hr_acc (id int primary key, user_id int, email text, closed_at timestamptz not null)`);
    await q(`create table app.hr_tok (id int primary key, acc_id int references app.hr_acc on delete cascade, user_id int, at timestamptz not null default now())`);
    await q(`create index on app.hr_acc (closed_at)`);
    await q(`create index on app.hr_tok (acc_id)`);
    await q(`insert into app.hr_acc select i, 1 + i % 1000, 'a' || i || '@x.example', now() - interval '1 year' - make_interval(secs => i) from generate_series(1, ${ROWS}) i`);
    await q(`insert into app.hr_tok select i, 1 + (i * 11) % ${ROWS}, 1 + (i * 17) % 1000 from generate_series(1, ${ROWS / 2}) i`);
    await slowRows(db, 'app.hr_acc', 1);
    await q(`select retention.set_policy('hr-tok', 'app.hr_tok', 'delete', 'at', p_retain => '5 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('hr-acc', 'app.hr_acc', 'scrub', 'closed_at', p_retain => '30 days', p_subject_column => 'user_id',
               p_scrub => '{"email": "null"}', p_revoke => array['app.hr_tok'], p_batch_size => 20, p_max_rows_per_run => 100000)`);
    const covered = async (s: number) => rows(await q(
      `select 'a' as t, id, email from app.hr_acc where user_id = $1 and email is not null
       union select 'a', a.id, a.email from app.hr_acc a join app.hr_tok k on k.acc_id = a.id where k.user_id = $1 and a.email is not null
       union select 't', id, null from app.hr_tok where user_id = $1 order by 1, 2`, [s]));
    const work = db.call(`call retention.run('hr-acc')`);
    await started(`app.hr_acc where email is null`);
    const trials = await race(work, 1000, covered);
    const [r] = await q(`select string_agg(run_id::text, ',') as ids, sum(affected)::int as affected from retention.runs where policy_name = 'hr-acc'`);
    expect(r!.affected).toBeGreaterThan(0);
    expect(await assertSurvived(trials, covered, r!.ids)).toBeGreaterThan(TRIALS / 5);
  });

  it('drop_partitions row by row (a partition kept for a hold): no newly held row goes after place_hold returns', async () => {
    await q(`create table app.hr_pt (id int, user_id int, at timestamptz not null) partition by range (at)`);
    await q(`create table app.hr_pt_2024 partition of app.hr_pt for values from ('2024-01-01') to ('2025-01-01')`);
    await q(`create table app.hr_pt_2025 partition of app.hr_pt for values from ('2025-01-01') to ('2026-01-01')`);
    await q(`create table app.hr_pt_next partition of app.hr_pt for values from ('2026-01-01') to ('2100-01-01')`);
    await q(`create index on app.hr_pt (at)`);
    await q(`insert into app.hr_pt select i, 1000 + i % 1000, '2024-01-01'::timestamptz + make_interval(secs => i * 3600) from generate_series(1, ${ROWS}) i`);
    await q(`insert into app.hr_pt values (0, 5000, '2026-06-01')`);
    await slowRows(db, 'app.hr_pt_2024', 1);
    await q(`select retention.set_policy('hr-pt', 'app.hr_pt', 'drop_partitions', 'at', p_retain => '30 days', p_subject_column => 'user_id',
               p_batch_size => 20, p_max_rows_per_run => 100000)`);
    // One held subject in 2024 keeps that partition: its other rows go in batches.
    await q(`select retention.place_hold('subject', '1001', 'keeps the partition')`);
    const covered = async (s: number) => rows(await q(`select id from app.hr_pt where user_id = $1 order by id`, [999 + s]));
    const c = await db.connect();
    const trials: Trial[] = [];
    const work = c.query(`call retention.run('hr-pt')`);
    await started(`generate_series(1, 1) where (select count(*) from app.hr_pt_2024) < ${ROWS}`);
    const subjects = Array.from({ length: 998 }, (_, i) => i + 2).sort(() => Math.random() - 0.5).slice(0, TRIALS);
    for (const s of subjects) {
      const t0 = performance.now();
      await q(`select retention.place_hold('subject', $1, 'race trial')`, [String(999 + s)]);
      trials.push({ subject: s, waitedMs: performance.now() - t0, rows: await covered(s) });
    }
    await work;
    await c.end();
    const [r] = await q(`select string_agg(run_id::text, ',') as ids, sum(affected)::int as affected from retention.runs where policy_name = 'hr-pt'`);
    expect(r!.affected).toBeGreaterThan(0);
    expect(await assertSurvived(trials, covered, r!.ids)).toBeGreaterThan(TRIALS / 5);
  });

  it('an erasure step: no held row of another person goes after place_hold returns', async () => {
    await q(`create table app.hr_u (id int primary key, email text)`);
    await q(`create table app.hr_m (id int primary key, author_id int references app.hr_u on delete cascade, recipient_id int, at timestamptz not null default now())`);
    await q(`create index on app.hr_m (author_id)`);
    // Author 90000: no hold of the other trials names it.
    await q(`insert into app.hr_u values (90000, 'author@x.example')`);
    await q(`insert into app.hr_m select i, 90000, 2000 + i % 1000 from generate_series(1, ${ROWS}) i`);
    await slowRows(db, 'app.hr_m', 1);
    await q(`select retention.set_policy('hr-m', 'app.hr_m', 'delete', 'at', p_retain => '5 years', p_subject_column => 'recipient_id')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.hr_u', '90000', 'ticket race')`);
    const covered = async (s: number) => rows(await q(`select id from app.hr_m where recipient_id = $1 order by id`, [1999 + s]));
    const c = await db.connect();
    const trials: Trial[] = [];
    const work = c.query(`call retention.process_erasure($1, 20)`, [req!.request_id]);
    await started(`generate_series(1, 1) where (select count(*) from app.hr_m) < ${ROWS}`);
    const subjects = Array.from({ length: 1000 }, (_, i) => i + 1).sort(() => Math.random() - 0.5).slice(0, TRIALS);
    for (const s of subjects) {
      const t0 = performance.now();
      await q(`select retention.place_hold('subject', $1, 'race trial')`, [String(1999 + s)]);
      trials.push({ subject: s, waitedMs: performance.now() - t0, rows: await covered(s) });
    }
    await work;
    await c.end();
    let lost = 0;
    for (const t of trials) {
      const now = new Set(await covered(t.subject));
      lost += t.rows.filter((x) => !now.has(x)).length;
    }
    expect(lost).toBe(0);
    expect(trials.filter((t) => t.rows.length > 0).length).toBeGreaterThan(TRIALS / 5);
    const [st] = await q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(st!.status).toBe('blocked_by_hold');
    expect(await q(`select count(*)::int as n from app.hr_m`)).not.toEqual([{ n: ROWS }]);
  });
});
