import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { AS_OF, count, makeEvents, slowRows } from './support/fixtures.ts';

const db = useTestDatabase();

const call = db.call;

async function lastRun(policy: string) {
  const rows = await db.q(`select * from retention.runs where policy_name = $1 order by run_id desc limit 1`, [policy]);
  return rows[0]!;
}

describe('the delete action', () => {
  it('reports progress as JSON in NOTICE DETAIL, at most one batch notice every 3 seconds', async () => {
    await makeEvents(db, 'app.prog', 4000, 100);
    await db.q(`select retention.set_policy('events.prog', 'app.prog', 'delete', 'created_at', p_retain => '30 days', p_batch_size => 100)`);
    // About 60 ms a batch (a row trigger sleeps): ~40 batches over ~2.5 s and more.
    await slowRows(db, 'app.prog', 0.6);
    const c = await db.connect();
    const seen: { message: string; detail?: string; at: number }[] = [];
    c.on('notice', (n) => seen.push({ message: n.message ?? '', detail: n.detail, at: Date.now() }));
    const t0 = Date.now();
    try {
      await c.query(`call retention.run('events.prog', p_as_of => $1)`, [AS_OF]);
    } finally {
      await c.end();
    }
    const seconds = (Date.now() - t0) / 1000;
    const run = await lastRun('events.prog');
    expect(run.batches).toBeGreaterThan(20);
    const batches = seen.filter((n) => / batch \d+ /.test(n.message));
    // The first batch's, then one per 3 seconds at most: far fewer than the batches.
    expect(batches.length).toBeGreaterThanOrEqual(1);
    expect(batches.length).toBeLessThanOrEqual(Math.floor(seconds / 3) + 1);
    expect(batches.length).toBeLessThan(run.batches);
    for (const b of batches) {
      const d = JSON.parse(b.detail!);
      expect(d).toMatchObject({ progress: 'pg-retention', run_id: Number(run.run_id), policy: 'events.prog' });
      expect(d.rows_done).toBeGreaterThan(0);
      expect(d.rows_total).toBe(Number(run.eligible));
    }
    const final = JSON.parse(seen.at(-1)!.detail!);
    expect(final).toMatchObject({ progress: 'pg-retention', final: true, status: 'completed', rows_done: Number(run.affected), batches: run.batches });
  });

  it('deletes exactly the rows older than the period, in batches, and the ledger counts them', async () => {
    await makeEvents(db, 'app.events', 5000, 100);
    await db.q(`select retention.set_policy('events.old', 'app.events', 'delete', 'created_at',
                  p_retain => '30 days', p_batch_size => 500)`);
    const [pv] = await db.q(`select * from retention.preview('events.old', $1)`, [AS_OF]);
    const expected = await count(db, `app.events where created_at < $1::timestamptz - interval '30 days'`, [AS_OF]);
    expect(Number(pv!.eligible)).toBe(expected);
    expect(Number(pv!.would_affect)).toBe(expected);

    const { rows, notices } = await call(`call retention.run('events.old', p_as_of => $1)`, [AS_OF]);
    const runId = rows[0]!.p_run_id;
    expect(notices.some((n) => /batch 1 500 rows/.test(n))).toBe(true);

    expect(await count(db, `app.events where created_at < $1::timestamptz - interval '30 days'`, [AS_OF])).toBe(0);
    expect(await count(db, 'app.events')).toBe(5000 - expected);
    const run = await lastRun('events.old');
    expect(run.run_id).toBe(runId);
    expect(run.status).toBe('completed');
    expect(Number(run.affected)).toBe(expected);
    expect(run.batches).toBe(Math.ceil(expected / 500));
    const [b] = await db.q(`select sum(rows)::int as rows, count(*)::int as n from retention.run_batches where run_id = $1`, [runId]);
    expect(b!.rows).toBe(expected);
    const audit = await db.q(`select action from retention.audit_log where object_name = 'events.old' order by audit_id`);
    expect(audit.map((a) => a.action)).toEqual(['policy.created', 'run.started', 'run.completed']);
  });

  it('a predicate limits what is deleted', async () => {
    await makeEvents(db, 'app.hooks', 1000, 100);
    await db.q(`select retention.set_policy('hooks.failed', 'app.hooks', 'delete', 'created_at',
                  p_retain => '10 days', p_predicate => $$status = 'failed'$$)`);
    const before = await count(db, `app.hooks where status = 'processed'`);
    await call(`call retention.run('hooks.failed', p_as_of => $1)`, [AS_OF]);
    expect(await count(db, `app.hooks where status = 'failed' and created_at < $1::timestamptz - interval '10 days'`, [AS_OF])).toBe(0);
    expect(await count(db, `app.hooks where status = 'failed'`)).toBeGreaterThan(0);
    expect(await count(db, `app.hooks where status = 'processed'`)).toBe(before);
  });

  it('foreign-key cascades delete child rows as the schema declares', async () => {
    await db.q(`create table app.meetings (id bigint primary key, user_id bigint, created_at timestamptz not null)`);
    await db.q(`create table app.recordings (id bigint primary key, meeting_id bigint not null references app.meetings on delete cascade)`);
    await db.q(`insert into app.meetings select i, case when i % 2 = 0 then null else i end, $1::timestamptz - make_interval(days => i) from generate_series(1, 20) i`, [AS_OF]);
    await db.q(`insert into app.recordings select i, i from generate_series(1, 20) i`);
    await db.q(`create index on app.meetings (created_at)`);
    await db.q(`select retention.set_policy('meetings.anonymous', 'app.meetings', 'delete', 'created_at',
                  p_retain => '7 days', p_predicate => 'user_id is null')`);
    await call(`call retention.run('meetings.anonymous', p_as_of => $1)`, [AS_OF]);
    // even ids 8..20 are anonymous and older than 7 days: 7 meetings and their recordings go
    expect(await count(db, 'app.meetings')).toBe(13);
    expect(await count(db, 'app.recordings')).toBe(13);
    expect(await count(db, 'app.recordings r where not exists (select from app.meetings m where m.id = r.meeting_id)')).toBe(0);
  });

  it('rows a foreign key still needs are recorded by their key and skipped; the rest of the batch goes', async () => {
    await db.q(`create table app.invoices (id bigint primary key, created_at timestamptz not null)`);
    await db.q(`create table app.payments (id bigint primary key, invoice_id bigint references app.invoices)`); // no cascade
    await db.q(`insert into app.invoices select i, $1::timestamptz - make_interval(days => i) from generate_series(1, 30) i`, [AS_OF]);
    await db.q(`insert into app.payments values (1, 12), (2, 25)`);
    await db.q(`create index on app.invoices (created_at)`);
    await db.q(`select retention.set_policy('invoices', 'app.invoices', 'delete', 'created_at', p_retain => '10 days', p_batch_size => 5)`);
    await call(`call retention.run('invoices', p_as_of => $1)`, [AS_OF]);
    expect(await db.q(`select id::int from app.invoices where id > 10 order by id`)).toEqual([{ id: 12 }, { id: 25 }]);
    const run = await lastRun('invoices');
    expect([run.status, Number(run.affected), Number(run.failed_rows)]).toEqual(['completed', 18, 2]);
    const failures = await db.q(`select f.batch_no, f.row_key, f.error_code from retention.run_row_failures f where run_id = $1 order by f.row_key->>'id'`, [run.run_id]);
    expect(failures.map((f) => [f.row_key, f.error_code])).toEqual([[{ id: 12 }, '23503'], [{ id: 25 }, '23503']]);
    const [ledger] = await db.q(`select sum(rows)::int as rows from retention.run_batches where run_id = $1`, [run.run_id]);
    expect(ledger!.rows).toBe(18);
  });
});

describe('soft delete and purge of soft-deleted rows', () => {
  it('soft_delete marks old rows with the real time of the run, purge_soft_deleted removes them after their period', async () => {
    await makeEvents(db, 'app.leases', 300, 300);
    await db.q(`select retention.set_policy('leases.soft', 'app.leases', 'soft_delete', 'created_at',
                  p_retain => '100 days', p_deleted_at_column => 'deleted_at')`);
    const before = (await db.q(`select now() as before`))[0]!.before as Date;
    // A past p_as_of moves the cutoff back, but the mark is the real time: a purge policy
    // must not see these rows as deleted long ago.
    await call(`call retention.run('leases.soft', p_as_of => $1)`, [AS_OF]);
    const old = await count(db, `app.leases where created_at < $1::timestamptz - interval '100 days'`, [AS_OF]);
    expect(old).toBeGreaterThan(0);
    expect(await count(db, `app.leases where deleted_at between $1 and now()`, [before])).toBe(old);
    expect(await count(db, `app.leases where deleted_at is null`)).toBe(300 - old);
    expect(await count(db, 'app.leases')).toBe(300);

    // A second soft_delete run finds nothing new: marked rows are not marked again.
    await call(`call retention.run('leases.soft', p_as_of => $1)`, [AS_OF]);
    expect(Number((await lastRun('leases.soft')).affected)).toBe(0);

    await db.q(`select retention.set_policy('leases.purge', 'app.leases', 'purge_soft_deleted', 'deleted_at',
                  p_retain => '7 years')`);
    await call(`call retention.run('leases.purge')`);
    expect(await count(db, 'app.leases')).toBe(300);
    // Time passes by backdating the data, never by a live run in the future.
    expect(await sqlState(call(`call retention.run('leases.purge', p_as_of => now() + interval '8 years')`))).toBe('RT022');
    expect(await count(db, 'app.leases')).toBe(300);
    await db.q(`update app.leases set deleted_at = deleted_at - interval '7 years 1 day' where deleted_at is not null`);
    await call(`call retention.run('leases.purge')`);
    expect(await count(db, 'app.leases')).toBe(300 - old);
    expect(await count(db, 'app.leases where deleted_at is not null')).toBe(0);
  });
});

describe('the period hierarchy', () => {
  it('resolves policy, then schema, then global, then the 30-day system default, and says which', async () => {
    await makeEvents(db, 'app.hier', 10, 10);
    await db.q(`create schema if not exists other`);
    await db.q(`create table other.hier (created_at timestamptz)`);
    await db.q(`select retention.set_policy('h.app', 'app.hier', 'delete', 'created_at')`);
    await db.q(`select retention.set_policy('h.other', 'other.hier', 'delete', 'created_at')`);
    await db.q(`select retention.set_policy('h.own', 'app.hier', 'delete', 'created_at', p_retain => '5 days')`);
    const src = async () =>
      Object.fromEntries(
        (await db.q(`select name, retain::text, retain_source from retention.effective_policies where name like 'h.%'`)).map(
          (r) => [r.name, `${r.retain} ${r.retain_source}`],
        ),
      );
    expect(await src()).toEqual({ 'h.app': '30 days system', 'h.other': '30 days system', 'h.own': '5 days policy' });
    await db.q(`select retention.set_default('global', '1 year')`);
    expect(await src()).toMatchObject({ 'h.app': '1 year global', 'h.other': '1 year global' });
    await db.q(`select retention.set_default('app', '90 days')`);
    expect(await src()).toEqual({ 'h.app': '90 days schema', 'h.other': '1 year global', 'h.own': '5 days policy' });
    await db.q(`select retention.set_default('global', null)`);
    await db.q(`select retention.set_default('app', null)`);
    expect(await src()).toMatchObject({ 'h.app': '30 days system' });
    const [pv] = await db.q(`select cutoff, retain_source from retention.preview('h.app', $1)`, [AS_OF]);
    expect(pv!.retain_source).toBe('system');
    expect(new Date(pv!.cutoff).toISOString()).toBe('2025-12-02T00:00:00.000Z');
    const audit = await db.q(`select action from retention.audit_log where object_type = 'default' order by audit_id`);
    expect(audit.map((a) => a.action)).toEqual(['default.set', 'default.set', 'default.removed', 'default.removed']);
  });
});

describe('safety rules', () => {
  it('a run above the ceiling is refused and deletes nothing; forced or capped it runs', async () => {
    await makeEvents(db, 'app.ceil', 2000, 100);
    await db.q(`select retention.set_policy('ceil', 'app.ceil', 'delete', 'created_at', p_retain => '10 days', p_max_rows_per_run => 100)`);
    const err = await call(`call retention.run('ceil', p_as_of => $1)`, [AS_OF]).catch((e) => e);
    expect(err.code).toBe('RT012');
    expect(err.hint).toMatch(/p_force/);
    expect(await count(db, 'app.ceil')).toBe(2000);
    const refused = await lastRun('ceil');
    expect(refused.status).toBe('refused');
    expect(Number(refused.affected)).toBe(0);

    await call(`call retention.run('ceil', p_as_of => $1, p_max_rows => 100)`, [AS_OF]);
    expect(await count(db, 'app.ceil')).toBe(1900);
    expect((await lastRun('ceil')).status).toBe('stopped_max_rows');

    await call(`call retention.run('ceil', p_as_of => $1, p_force => true)`, [AS_OF]);
    expect(await count(db, `app.ceil where created_at < $1::timestamptz - interval '10 days'`, [AS_OF])).toBe(0);
    const forced = await lastRun('ceil');
    expect(forced.status).toBe('completed');
    expect(forced.forced).toBe(true);
  });

  it('a dry run changes nothing and records what it would do', async () => {
    await makeEvents(db, 'app.dry', 500, 100);
    await db.q(`select retention.set_policy('dry', 'app.dry', 'delete', 'created_at', p_retain => '50 days')`);
    await call(`call retention.run('dry', p_dry_run => true, p_as_of => $1)`, [AS_OF]);
    expect(await count(db, 'app.dry')).toBe(500);
    const run = await lastRun('dry');
    expect(run.mode).toBe('dry_run');
    expect(Number(run.affected)).toBe(await count(db, `app.dry where created_at < $1::timestamptz - interval '50 days'`, [AS_OF]));
  });

  it('a run stops between batches when its time budget is spent, and the next run carries on', async () => {
    await makeEvents(db, 'app.slow', 400, 100);
    await slowRows(db, 'app.slow', 2);
    await db.q(`select retention.set_policy('slow', 'app.slow', 'delete', 'created_at', p_retain => '1 day',
                  p_batch_size => 50)`);
    await call(`call retention.run('slow', p_as_of => $1, p_time_budget => '50 milliseconds')`, [AS_OF]);
    const first = await lastRun('slow');
    expect(first.status).toBe('stopped_time_budget');
    expect(first.batches).toBeGreaterThanOrEqual(1);
    expect(await count(db, 'app.slow')).toBe(400 - Number(first.affected));
    expect(await count(db, 'app.slow')).toBeGreaterThan(0);
    await call(`call retention.run('slow', p_as_of => $1)`, [AS_OF]);
    expect((await lastRun('slow')).status).toBe('completed');
    expect(await count(db, `app.slow where created_at < $1::timestamptz - interval '1 day'`, [AS_OF])).toBe(0);
  });

  it('run_all isolates failures: a refused policy does not stop the others', async () => {
    await makeEvents(db, 'app.all_a', 300, 100);
    await makeEvents(db, 'app.all_b', 300, 100);
    await db.q(`update retention.policies set enabled = false`);
    await db.q(`select retention.set_policy('all.a', 'app.all_a', 'delete', 'created_at', p_retain => '10 days', p_max_rows_per_run => 5)`);
    await db.q(`select retention.set_policy('all.b', 'app.all_b', 'delete', 'created_at', p_retain => '10 days')`);
    await call(`call retention.run_all(p_as_of => $1)`, [AS_OF]);
    expect((await lastRun('all.a')).status).toBe('refused');
    expect((await lastRun('all.b')).status).toBe('completed');
    expect(await count(db, 'app.all_a')).toBe(300);
    expect(await count(db, 'app.all_b')).toBe(30);
  });
});

describe('batch plans', () => {
  it('a batch walks the age-column index even when most rows are eligible', async () => {
    await makeEvents(db, 'app.plan', 20000, 100);
    await db.q('analyze app.plan');
    await db.q(`select retention.set_policy('plan', 'app.plan', 'delete', 'created_at', p_retain => '1 day')`);
    const plan = (await db.q(`select * from retention.explain_batch('plan', $1)`, [AS_OF])).map((r) => r.explain_batch).join('\n');
    expect(plan).toMatch(/Index Scan using plan_created_at_idx on plan t/);
    expect(plan).toMatch(/Tid Scan on plan t/);
    expect(plan).not.toMatch(/Seq Scan|Sort/);
  });

  it('a batch for a soft_delete policy updates through the same index walk', async () => {
    await makeEvents(db, 'app.plan_soft', 2000, 100);
    await db.q(`select retention.set_policy('plan.soft', 'app.plan_soft', 'soft_delete', 'created_at', p_retain => '1 day', p_deleted_at_column => 'deleted_at')`);
    const plan = (await db.q(`select * from retention.explain_batch('plan.soft', $1)`, [AS_OF])).map((r) => r.explain_batch).join('\n');
    expect(plan).toMatch(/Update on plan_soft/);
    expect(plan).toMatch(/Index Scan using plan_soft_created_at_idx/);
  });
});

describe('run_all', () => {
  it('a policy whose table was dropped fails on its own and the others still run', async () => {
    await makeEvents(db, 'app.gone', 50, 100);
    await makeEvents(db, 'app.stays', 50, 100);
    await db.q(`update retention.policies set enabled = false`);
    await db.q(`select retention.set_policy('gone', 'app.gone', 'delete', 'created_at', p_retain => '10 days')`);
    await db.q(`select retention.set_policy('stays', 'app.stays', 'delete', 'created_at', p_retain => '10 days')`);
    await db.q('drop table app.gone');
    await call(`call retention.run_all(p_as_of => $1)`, [AS_OF]);
    const gone = await lastRun('gone');
    expect(gone.status).toBe('failed');
    expect(gone.error_code).toBe('RT001');
    expect((await lastRun('stays')).status).toBe('completed');
    expect(await count(db, 'app.stays')).toBe(5);
    const problems = await db.q(`select problem from retention.check_setup() where policy = 'gone'`);
    expect(problems.map((p) => p.problem)).toEqual(['the policy\'s table no longer exists']);
  });

  it('a run behind an ACCESS EXCLUSIVE lock waits at most lock_timeout while counting, and records stopped_lock_timeout', async () => {
    await makeEvents(db, 'app.lt1', 100, 100);
    await db.q(`select retention.set_policy('lt1', 'app.lt1', 'delete', 'created_at', p_retain => '10 days', p_lock_timeout => '100 milliseconds')`);
    const blocker = await db.connect();
    await blocker.query('begin');
    await blocker.query('lock table app.lt1 in access exclusive mode');
    try {
      await db.call(`call retention.run('lt1', p_as_of => $1)`, [AS_OF]);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    const runs = await db.q(`select status, error_code, affected::int, finished_at is not null as finished from retention.runs where policy_name = 'lt1'`);
    expect(runs).toEqual([{ status: 'stopped_lock_timeout', error_code: '55P03', affected: 0, finished: true }]);
    expect(await count(db, 'app.lt1')).toBe(100);
  });
});
