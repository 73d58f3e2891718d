// The database side of scheduling and notifications: effective schedules, the outbox the
// runs fill, overdue detection, and the claim/settle protocol workers deliver with.
import { beforeEach, describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { AS_OF, count, makeEvents } from './support/fixtures.ts';

const db = useTestDatabase();

interface Note { kind: string; policy_name: string; run_id: string | null; status: string; attempts: number; payload: Record<string, unknown> }
const notes = (policy: string) =>
  db.q<Note>(`select kind, policy_name, run_id, status, attempts, payload from retention.notifications
               where policy_name = $1 order by notification_id`, [policy]);

describe('schedules', () => {
  it('a policy without a schedule takes its category default, else daily 02:00', async () => {
    await makeEvents(db, 'app.s1', 10);
    for (const [name, category] of [['s.tokens', 'tokens'], ['s.accounts', 'accounts'], ['s.audit', 'audit'], ['s.metrics', 'metrics'], ['s.none', null]]) {
      await db.q(`select retention.set_policy($1, 'app.s1', 'delete', 'created_at', p_category => $2)`, [name, category]);
    }
    await db.q(`select retention.set_policy('s.own', 'app.s1', 'delete', 'created_at', p_category => 'audit', p_schedule => '*/5 * * * *', p_time_zone => 'Europe/Berlin')`);
    const rows = await db.q(`select name, effective_schedule, schedule_source, time_zone from retention.effective_policies
                              where name like 's.%' order by name`);
    expect(rows).toEqual([
      { name: 's.accounts', effective_schedule: '0 3 * * 0', schedule_source: 'category:accounts', time_zone: 'UTC' },
      { name: 's.audit', effective_schedule: '0 4 1 * *', schedule_source: 'category:audit', time_zone: 'UTC' },
      { name: 's.metrics', effective_schedule: '0 4 1 * *', schedule_source: 'category:metrics', time_zone: 'UTC' },
      { name: 's.none', effective_schedule: '0 2 * * *', schedule_source: 'system', time_zone: 'UTC' },
      { name: 's.own', effective_schedule: '*/5 * * * *', schedule_source: 'policy', time_zone: 'Europe/Berlin' },
      { name: 's.tokens', effective_schedule: '0 2 * * *', schedule_source: 'category:tokens', time_zone: 'UTC' },
    ]);
  });

  it('an unknown category or a zero notify_over_rows is refused with a hint and changes nothing', async () => {
    await makeEvents(db, 'app.s2', 10);
    const before = await count(db, 'retention.audit_log');
    expect(await sqlState(db.q(`select retention.set_policy('s2', 'app.s2', 'delete', 'created_at', p_category => 'sessions')`))).toBe('RT016');
    expect(await sqlState(db.q(`select retention.set_policy('s2', 'app.s2', 'delete', 'created_at', p_notify_over_rows => 0)`))).toBe('RT006');
    expect(await count(db, `retention.policies where name = 's2'`)).toBe(0);
    expect(await count(db, 'retention.audit_log')).toBe(before);
  });
});

describe('the outbox is filled by the database', () => {
  it('a live run that fails, is refused, or deletes at least notify_over_rows queues one notification each', async () => {
    await makeEvents(db, 'app.n1', 1000, 100);
    await db.q(`select retention.set_policy('n1', 'app.n1', 'delete', 'created_at', p_retain => '50 days', p_max_rows_per_run => 100, p_notify_over_rows => 300)`);
    // Refused by the ceiling (500 eligible > 100).
    expect(await sqlState(db.call(`call retention.run('n1', p_as_of => $1)`, [AS_OF]))).toBe('RT012');
    // Dry runs and runs under the threshold say nothing; one at the threshold does.
    await db.call(`call retention.run('n1', p_dry_run => true, p_as_of => $1)`, [AS_OF]);
    await db.call(`call retention.run('n1', p_as_of => $1, p_max_rows => 100)`, [AS_OF]);
    await db.call(`call retention.run('n1', p_as_of => $1, p_max_rows => 300, p_force => true)`, [AS_OF]);
    // A failure: a trigger on the table rejects the batch's DELETE.
    await db.q(`create function app.refuse() returns trigger language plpgsql as $$ begin raise exception 'no deletes today'; end $$`);
    await db.q(`create trigger refuse before delete on app.n1 for each row execute function app.refuse()`);
    expect(await sqlState(db.call(`call retention.run('n1', p_as_of => $1, p_force => true)`, [AS_OF]))).toBe('P0001');

    const got = await notes('n1');
    expect(got.map((n) => n.kind)).toEqual(['run_refused', 'large_deletion', 'run_failed']);
    const runs = await db.q<{ run_id: string; status: string; affected: string }>(
      `select run_id, status, affected from retention.runs where policy_name = 'n1' and mode = 'live' order by run_id`);
    expect(runs.map((r) => r.status)).toEqual(['refused', 'stopped_max_rows', 'stopped_max_rows', 'failed']);
    expect(got.map((n) => n.run_id)).toEqual([runs[0]!.run_id, runs[2]!.run_id, runs[3]!.run_id]);
    expect(got[0]!.payload).toMatchObject({ kind: 'run_refused', policy: 'n1', table: 'app.n1', status: 'refused', error_code: 'RT012', eligible: 500 });
    expect(got[1]!.payload).toMatchObject({ kind: 'large_deletion', affected: 300, threshold: 300 });
    // A message of the RAISE class leaves the database only by its code (retention.runs has it).
    expect(got[2]!.payload).toMatchObject({ kind: 'run_failed', error_code: 'P0001', error: expect.stringMatching(/^SQLSTATE P0001: message withheld/) });
    // Every row of the batch failed: each row's error is kept by its key, the run's names the batch.
    expect(await count(db, `retention.runs where run_id = $1 and error like 'every row of batch 1 %'`, [runs[3]!.run_id])).toBe(1);
    expect(await count(db, `retention.run_row_failures where run_id = $1 and error = 'no deletes today'`, [runs[3]!.run_id])).toBeGreaterThan(1);
    expect(got.every((n) => n.status === 'pending' && n.attempts === 0)).toBe(true);
  });

  it('note_overdue: true when no successful live run since the occurrence, one notification per occurrence', async () => {
    await makeEvents(db, 'app.o1', 100, 100);
    await db.q(`select retention.set_policy('o1', 'app.o1', 'delete', 'created_at', p_retain => '50 days')`);
    await db.q(`update retention.policies set created_at = now() - interval '1 day' where name = 'o1'`);
    const due = new Date(Date.now() - 60_000).toISOString();
    expect((await db.q(`select retention.note_overdue('o1', $1) as v`, [due]))[0]!.v).toBe(true);
    expect((await db.q(`select retention.note_overdue('o1', $1) as v`, [due]))[0]!.v).toBe(true);
    expect((await notes('o1')).map((n) => [n.kind, n.payload.due_at !== undefined])).toEqual([['policy_overdue', true]]);
    // A policy created after the occurrence is not overdue for it.
    expect((await db.q(`select retention.note_overdue('o1', now() - interval '2 days') as v`))[0]!.v).toBe(false);
    // A dry run does not count; a live run does.
    await db.call(`call retention.run('o1', p_dry_run => true)`);
    expect((await db.q(`select retention.note_overdue('o1', $1) as v`, [due]))[0]!.v).toBe(true);
    await db.call(`call retention.run('o1')`);
    expect((await db.q(`select retention.note_overdue('o1', $1) as v`, [due]))[0]!.v).toBe(false);
    expect(await count(db, `retention.notifications where policy_name = 'o1'`)).toBe(1);
    // Bad input: unknown policy, a due time in the future.
    expect(await sqlState(db.q(`select retention.note_overdue('nope', now())`))).toBe('RT008');
    expect(await sqlState(db.q(`select retention.note_overdue('o1', now() + interval '1 hour')`))).toBe('RT017');
  });
});

describe('delivery protocol', () => {
  // Each test sees only its own notifications: earlier ones are settled out of the way.
  beforeEach(async () => {
    await db.q(`update retention.notifications set status = 'dead' where status = 'pending'`);
  });

  it('two claimers never get the same notification; a settle by a claimer that lost its lease is ignored', async () => {
    await makeEvents(db, 'app.d1', 10);
    await db.q(`select retention.set_policy('d1', 'app.d1', 'delete', 'created_at')`);
    await db.q(`update retention.policies set created_at = now() - interval '1 day' where name = 'd1'`);
    for (let i = 1; i <= 6; i++) await db.q(`select retention.note_overdue('d1', now() - make_interval(mins => $1))`, [i]);
    const [a, b] = await Promise.all([
      db.q<{ notification_id: string }>(`select notification_id from retention.claim_notifications('worker-a', 4)`),
      db.q<{ notification_id: string }>(`select notification_id from retention.claim_notifications('worker-b', 4)`),
    ]);
    const ids = [...a!, ...b!].map((r) => r.notification_id);
    expect(ids.length).toBe(6);
    expect(new Set(ids).size).toBe(6);
    // Nothing is left to claim while the leases last.
    expect(await db.q(`select * from retention.claim_notifications('worker-c', 10)`)).toEqual([]);
    // worker-b's id settled by worker-a: ignored.
    const bId = b![0]!.notification_id;
    expect((await db.q(`select retention.settle_notification($1, 'worker-a', true) as s`, [bId]))[0]!.s).toBeNull();
    expect((await db.q(`select retention.settle_notification($1, 'worker-b', true) as s`, [bId]))[0]!.s).toBe('delivered');
    expect((await db.q(`select retention.settle_notification($1, 'worker-b', true) as s`, [bId]))[0]!.s).toBeNull();
    // An expired lease makes the notification claimable again, by anyone.
    const aId = a![0]!.notification_id;
    await db.q(`update retention.notifications set claimed_until = now() - interval '1 second' where notification_id = $1`, [aId]);
    const again = await db.q<{ notification_id: string; attempts: number }>(`select notification_id, attempts from retention.claim_notifications('worker-c', 10)`);
    expect(again).toEqual([{ notification_id: aId, attempts: 2 }]);
  });

  it('failures back off exponentially and dead-letter after max attempts; requeue is audited', async () => {
    await makeEvents(db, 'app.d2', 10);
    await db.q(`select retention.set_policy('d2', 'app.d2', 'delete', 'created_at')`);
    await db.q(`update retention.policies set created_at = now() - interval '1 day' where name = 'd2'`);
    await db.q(`select retention.note_overdue('d2', now() - interval '1 minute')`);
    const [{ notification_id: id }] = (await db.q<{ notification_id: string }>(`select notification_id from retention.notifications where policy_name = 'd2'`)) as [{ notification_id: string }];
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await db.q(`update retention.notifications set next_attempt_at = now() where notification_id = $1`, [id]);
      const claimed = await db.q(`select * from retention.claim_notifications('w', 1)`);
      expect(claimed.length).toBe(1);
      const [s] = await db.q<{ status: string }>(`select retention.settle_notification($1, 'w', false, 'HTTP 500', 3, '10 seconds') as status`, [id]);
      const [d] = await db.q<{ delay: number }>(
        `select extract(epoch from next_attempt_at - clock_timestamp())::float8 as delay from retention.notifications where notification_id = $1`, [id]);
      delays.push(Math.round(d!.delay));
      expect(s!.status).toBe(attempt < 3 ? 'pending' : 'dead');
    }
    expect(delays.slice(0, 2)).toEqual([10, 20]);
    const [row] = await db.q(`select status, attempts, last_error from retention.notifications where notification_id = $1`, [id]);
    expect(row).toEqual({ status: 'dead', attempts: 3, last_error: 'HTTP 500' });
    expect(await db.q(`select * from retention.claim_notifications('w', 10)`)).toEqual([]);
    expect((await db.q(`select retention.requeue_notification($1) as ok`, [id]))[0]!.ok).toBe(true);
    expect((await db.q(`select retention.requeue_notification($1) as ok`, [id]))[0]!.ok).toBe(false);
    // An id typed wrong says so (atk33), and changes nothing.
    const audits = await count(db, 'retention.audit_log');
    expect(await sqlState(db.q(`select retention.requeue_notification($1)`, [Number(id) + 1000]))).toBe('RT042');
    expect(await sqlState(db.q(`select retention.requeue_notification(null)`))).toBe('RT042');
    expect(await count(db, 'retention.audit_log')).toBe(audits);
    expect(await count(db, `retention.audit_log where action = 'notification.requeued' and object_name = $1`, [id])).toBe(1);
    expect(await db.q(`select status, attempts from retention.notifications where notification_id = $1`, [id])).toEqual([{ status: 'pending', attempts: 0 }]);
  });
});
