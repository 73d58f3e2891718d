// Attack round atk130, F3: a reader (the read-only auditor, through policy_status; the
// admin through preview) kept each policy table's planner lock (SHARE UPDATE EXCLUSIVE,
// taken by the check of the code planning would run) until it ended its transaction.
// Kept open, every run of those tables stopped on its lock timeout and the application's
// CREATE INDEX waited. The readers now check, plan and count in a subtransaction they roll
// back, so no lock of theirs outlasts the call.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** Locks a session holds on the tables of a schema. */
async function heldLocks(c: pg.Client, schema: string): Promise<string[]> {
  const r = await c.query<{ l: string }>(
    `select relation::regclass::text || ' ' || mode as l from pg_locks
      where pid = pg_backend_pid() and locktype = 'relation'
        and relation in (select oid from pg_class where relnamespace = $1::regnamespace)
      order by 1`, [schema]);
  return r.rows.map((x) => x.l);
}

describe('readers keep no lock on policy tables (atk130 F3)', () => {
  const { login } = useLogins(db);

  it('policy_status, preview, explain_batch, partitions, erasure_plan and export_subject leave no lock behind in the reader\'s transaction', async () => {
    await q(`create schema rl`);
    await q(`create table rl.users (id int primary key, email text, created_at timestamptz not null default now())`);
    await q(`create table rl.ev (id int primary key, user_id int references rl.users, created_at timestamptz not null)`);
    await q(`create table rl.pt (id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table rl.pt_2020 partition of rl.pt for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`create table rl.pt_2099 partition of rl.pt for values from ('2099-01-01') to ('2100-01-01')`);
    await q(`insert into rl.users values (1, 'a@example.org')`);
    await q(`insert into rl.ev select g, 1, now() - interval '3 years' from generate_series(1, 20) g`);
    await q(`insert into rl.pt values (1, '2020-06-01')`);
    await q(`select retention.set_policy('rl.ev', 'rl.ev', 'delete', 'created_at', '1 year', p_lock_timeout => '2 seconds')`);
    await q(`select retention.set_policy('rl.pt', 'rl.pt', 'drop_partitions', 'created_at', '1 year')`);
    const req = (await q(`select (retention.request_erasure('rl.users', '1', 'ticket rl')).request_id::int as id`))[0]!.id;
    await q(`grant usage on schema rl to public`);
    await q(`grant select on all tables in schema rl to public`);
    const auditor = await login('rl_aud', 'retention_auditor');
    const admin = await login('rl_adm', 'retention_admin');
    const readers: [pg.Client, string][] = [
      [auditor, `select count(*) from retention.policy_status`],
      [admin, `select count(*) from retention.preview()`],
      [admin, `select count(*) from retention.explain_batch('rl.ev')`],
      [admin, `select count(*) from retention.partitions('rl.pt')`],
      [admin, `select count(*) from retention.erasure_plan(${req})`],
      [admin, `select retention.export_subject('rl.users', '1') is not null`],
      // atk135 F2: ACCESS SHARE on partitions (row security's check) stopped a drop_partitions run.
      [admin, `select count(*) from retention.check_setup()`],
    ];
    for (const [c, sql] of readers) {
      await c.query('begin');
      try {
        await c.query(sql);
        expect(await heldLocks(c, 'rl'), sql).toEqual([]);
      } finally {
        await c.query('rollback');
      }
    }
    // The auditor keeps its transaction open after reading the status: a run and the
    // application's DDL go on.
    await auditor.query('begin');
    try {
      expect(Number((await auditor.query(`select eligible_estimate from retention.policy_status where policy = 'rl.ev'`)).rows[0].eligible_estimate))
        .toBeGreaterThan(0);
      await q(`call retention.run('rl.ev')`);
      expect(await count(db, `rl.ev`)).toBe(0);
      expect((await q(`select status from retention.runs where policy_name = 'rl.ev' order by run_id desc limit 1`))).toEqual([{ status: 'completed' }]);
      await q(`set lock_timeout = '2s'`);
      await q(`create index on rl.ev (created_at)`);
    } finally {
      await auditor.query('rollback');
    }
  });
});
