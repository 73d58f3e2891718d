// Attack round atk32: a run in progress acted on the policy as it was when it began. An
// admin raised the period from a day to seven years (or disabled the policy) while a run
// was going, and the run went on deleting rows the policy now keeps; an erasure went on
// deleting a table a new `keep` rule (a court order) protected. Now a plain run stops
// (failed, RT041, its batches counted) once a setting that decides which rows go changes,
// and an erasure's step and the request with it.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
beforeAll(async () => { await q(`create schema if not exists app`); });

/** Starts `call retention.run(policy)` on its own connection; `done` settles when it returns. */
async function startRun(policy: string): Promise<{ done: Promise<unknown> }> {
  const c = await db.connect();
  const done = c.query(`call retention.run($1)`, [policy]).finally(() => c.end());
  done.catch(() => undefined);
  return { done };
}

describe('a run stops when its policy changes under it (atk32)', () => {
  for (const change of [`p_retain => '7 years'`, `p_enabled => false`, `p_predicate => 'id > 2900'`]) {
    it(`alter_policy(${change}) mid-run: no row is deleted under the new setting; the batches done are counted`, async () => {
      const t = `app.mr_${Math.random().toString(36).slice(2, 8)}`;
      await q(`create table ${t} (id bigint primary key, created_at timestamptz not null)`);
      await q(`insert into ${t} select g, now() - interval '2 days' - g * interval '1 second' from generate_series(1, 3000) g`);
      const name = t.replace('app.', '');
      await q(`select retention.set_policy($1, $2, 'delete', 'created_at', p_retain => '1 day', p_batch_size => 100,
                                           p_pause_between_batches => '100 milliseconds')`, [name, t]);
      const run = await startRun(name);
      await waitFor(async () => (await count(db, t)) < 2900, 'a few batches');
      await q(`select retention.alter_policy($1, ${change})`, [name]);
      const left = await count(db, t);
      await expect(run.done).rejects.toThrow(/changed while the run was in progress/);
      const [r] = await q(`select status, error_code, affected::int, error from retention.runs where policy_name = $1`, [name]);
      expect(r).toMatchObject({ status: 'failed', error_code: 'RT041' });
      expect(r!.error).toMatch(/changed while the run was in progress/);
      // A change waits for the batch in flight; nothing goes after it.
      expect(await count(db, t)).toBe(left);
      expect(await count(db, t)).toBeGreaterThan(0);
      expect(r!.affected).toBe(3000 - (await count(db, t)));
      const [b] = await q(`select coalesce(sum(rows), 0)::int as n from retention.run_batches where run_id =
                             (select run_id from retention.runs where policy_name = $1)`, [name]);
      expect(b!.n).toBe(r!.affected);
    });
  }

  it('a change of throttling or batch size does not stop it', async () => {
    await q(`create table app.mr_thr (id bigint primary key, created_at timestamptz not null)`);
    await q(`insert into app.mr_thr select g, now() - interval '2 days' from generate_series(1, 500) g`);
    await q(`select retention.set_policy('mr_thr', 'app.mr_thr', 'delete', 'created_at', p_retain => '1 day', p_batch_size => 100,
                                         p_pause_between_batches => '100 milliseconds')`);
    const run = await startRun('mr_thr');
    await waitFor(async () => (await count(db, 'app.mr_thr')) < 500, 'the first batch');
    await q(`select retention.alter_policy('mr_thr', p_pause_between_batches => '10 milliseconds', p_batch_size => 200)`);
    await run.done;
    expect(await q(`select status from retention.runs where policy_name = 'mr_thr'`)).toEqual([{ status: 'completed' }]);
    expect(await count(db, 'app.mr_thr')).toBe(0);
  });
});

describe('an erasure stops when its rules change under it (atk32)', () => {
  it('a keep rule set while a step runs stops the step and fails the request (RT041); the comments stay', async () => {
    await q(`create table app.mr_users (id bigint primary key, email text)`);
    await q(`create table app.mr_comments (id bigint primary key, user_id bigint references app.mr_users on delete cascade, body text)`);
    await q(`insert into app.mr_users values (1, 'alice@x.example'), (2, 'bob@x.example')`);
    await q(`insert into app.mr_comments select g, 1, 'comment ' || g from generate_series(1, 50) g`);
    const [req] = await q(`select request_id from retention.request_erasure('app.mr_users', '1', 'ticket mr')`);
    const id = req!.request_id;
    const c = await db.connect();
    try {
      await c.query(`select retention.pin_session()`);
      await c.query(`select retention.open_erasure($1, 10)`, [id]);
      const { rows: [s] } = await c.query(`select run_id from retention.erasure_step($1)`, [id]);
      expect(s.run_id).not.toBeNull();
      await c.query(`select retention.run_step($1)`, [s.run_id]);  // one batch of 10 comments
      expect(await count(db, 'app.mr_comments')).toBe(40);
      await q(`select retention.set_erasure_rule('app.mr_comments', 'keep', p_reason => 'court order 2026-44')`);
      const { rows: [st] } = await c.query(`select retention.run_step($1) as status`, [s.run_id]);
      expect(st.status).toBe('failed');
      const { rows: [e] } = await c.query(`select status, code from retention.erasure_step($1)`, [id]);
      expect(e).toEqual({ status: 'failed', code: 'RT041' });
    } finally {
      await c.end();
    }
    expect(await count(db, 'app.mr_comments')).toBe(40);
    expect(await count(db, `app.mr_users where id = 1`)).toBe(1);
    const [r] = await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [id]);
    expect(r!.status).toBe('failed');
    expect(r!.status_reason).toMatch(/erasure rules .* changed after processing began/);
    expect(await count(db, `retention.audit_log where action = 'erasure.failed' and object_name = $1 and details ->> 'error_code' = 'RT041'`, [String(id)]))
      .toBeGreaterThan(0);
  });
});
