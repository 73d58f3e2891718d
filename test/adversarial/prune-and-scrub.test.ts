// What a seventh review found in the archive's prune and in sha256 scrubs, each closed:
// a subject hold whose transaction began before the prune's check and committed after it
// did not stop the deletion; a table hold on a table rebuilt under the same name did not
// keep its archive objects; a value that merely started with 'sha256:' read as scrubbed,
// so an erasure completed with the person's text left in place.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** An archiving policy over a fresh table, run, its rows in one verified object that has expired. */
async function expiredObject(table: string): Promise<number> {
  await q(`create schema if not exists ps`);
  await q(`create table ${table} (id int primary key, user_id int, created_at timestamptz not null)`);
  await q(`insert into ${table} select g, g % 5, now() - interval '400 days' from generate_series(1, 20) g`);
  await q(`select retention.set_policy('${table}', '${table}', 'delete', 'created_at', interval '30 days',
             p_subject_column => 'user_id', p_archive => true, p_archive_retain => interval '1 second')`);
  await db.call(`call retention.run('${table}')`);
  const c = await db.connect();
  try {
    const [claim] = (await c.query(`select * from retention.archive_claim('file:///nowhere')`)).rows;
    await c.query(`select retention.archive_complete($1, repeat('a', 64), 100, $2, 'k1', 'wk')`, [claim.object_id, claim.rows]);
    await c.query(`select pg_sleep(1.1)`);
    return Number(claim.object_id);
  } finally {
    await c.end();
  }
}

describe('archive prune and sha256 scrubs: the seventh review', () => {
  it('a subject hold placed by a transaction that began before the prune\'s check and committed after it stops the deletion', async () => {
    const id = await expiredObject('ps.ev');
    const h = await db.connect();
    try {
      await h.query(`begin`);
      await h.query(`select retention.place_hold('subject', '3', 'litigation')`);
      // The check waits for the hold's transaction (it holds the holds gate since atk128
      // F1) and then sees the hold; the deletion, recorded with the check's snapshot, is
      // refused all the same.
      const checking = q(`select retention.archive_rows_held($1, '[{"table": "ps.ev", "row": {"id": 3, "user_id": 3}}]') as held,
                                 now() as at, pg_current_snapshot()::text as snap`, [id]);
      await expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and query like 'select retention.archive_rows_held(%'`),
                        { timeout: 20_000, interval: 50 }).toBe(1);
      await h.query(`commit`);
      const [check] = await checking;
      expect(check!.held).toBe(true);
      expect(await sqlState(q(`select retention.archive_object_deleted($1, 'expired', $2, $3::pg_snapshot)`, [id, check!.at, check!.snap]))).toBe('RT037');
      expect(await count(db, `retention.archive_objects where object_id = $1 and status = 'verified'`, [id])).toBe(1);
    } finally {
      await h.end();
    }
  });

  it('a table hold on a table rebuilt under the same name keeps the objects of the old one', async () => {
    await q(`update retention.legal_holds set released_at = now(), released_by = 't', release_reason = 't' where released_at is null`);
    const id = await expiredObject('ps.logs');
    await q(`select retention.drop_policy('ps.logs')`);
    await q(`alter table ps.logs rename to logs_old`);
    await q(`create table ps.logs (id int primary key, user_id int, created_at timestamptz not null)`);
    await q(`drop table ps.logs_old`);
    expect(await count(db, `retention.archive_prunable() where object_id = $1`, [id])).toBe(1);
    await q(`select retention.place_hold('table', 'ps.logs', 'litigation: all logs')`);
    expect(await count(db, `retention.archive_prunable() where object_id = $1`, [id])).toBe(0);
    expect(await sqlState(q(`select retention.archive_object_deleted($1, 'expired', now())`, [id]))).toBe('RT037');
  });

  it('an erasure sha256 scrub hashes a value that merely starts with "sha256:"', async () => {
    await q(`create schema if not exists ps`);
    await q(`create table ps.people (id int primary key, email text, bio text)`);
    await q(`insert into ps.people values (10, 'sha256:alice@example.com', 'sha256: Alice Smith, 12 Elm St')`);
    await q(`select retention.set_erasure_rule('ps.people', 'scrub', p_scrub => '{"email": "sha256", "bio": "sha256"}')`);
    const [r] = await q(`select request_id from retention.request_erasure('ps.people', '10', 't-2')`);
    await db.call(`call retention.process_erasure($1, 100)`, [r!.request_id]);
    const [row] = await q(`select email, bio from ps.people where id = 10`);
    expect(row!.email).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(row!.bio).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [r!.request_id]))[0]!.status).toBe('completed');
  });
});
