// Attack round atk87 (the ledger says what happened), each finding a test:
//  F1 a run that reached its limit (eligible less held at its start) closed completed
//     without looking for rows left: a hold that expired mid-run made one more row
//     eligible, so a locked row was left behind under a completed run;
//  F3 rows left were compared by count with the rows that failed: a failed row the
//     application deleted since made room for a locked row that never failed;
//  F2 a drop_partitions run's rows of a partition a hold kept were never checked;
//  F4 a runner that stalled between its steps got a budget stop counted as a success;
//  F5 a partitioned revoke table was accepted, and its partitions' rows never revoked;
//  F7 five minutes of p_as_of slack counted as a success;
//  F6 a scrub constant 'now' was a new value in every batch: rows scrubbed and counted
//     again, others left (with atk83 F9: a constant cut short by varchar(n), one a domain
//     refuses reported as 23514).
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a run that leaves eligible rows is not completed (atk87)', () => {
  it('F1: a hold released mid-run and a locked row: the run that reached its limit is stopped, not completed', async () => {
    await q(`create schema l1`);
    await q(`create table l1.ev (id int primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into l1.ev select g, g, now() - interval '100 days' + g * interval '1 minute' from generate_series(1, 5) g`);
    await q(`select retention.set_policy('l1.ev', 'l1.ev', 'delete', 'created_at', interval '30 days', p_subject_column => 'user_id', p_batch_size => 1)`);
    const { hold_id } = (await q(`select hold_id from retention.place_hold('subject', '5', 'inquiry')`))[0]!;
    const locker = await db.connect();
    const c = await db.connect();
    try {
      await locker.query(`begin`);
      await locker.query(`select from l1.ev where id = 1 for update`);
      const id = (await c.query(`select retention.open_run('l1.ev') as id`)).rows[0].id;
      await c.query(`select retention.run_step($1)`, [id]);
      await q(`select retention.release_hold($1, 'closed')`, [hold_id]);
      let st = 'running';
      for (let i = 0; i < 20 && st === 'running'; i++) st = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
      expect(st).toBe('stopped_lock_timeout');
      expect(await q(`select status, affected::int, error from retention.runs where run_id = $1`, [id]))
        .toEqual([{ status: 'stopped_lock_timeout', affected: 4, error: expect.stringMatching(/^1 eligible row\(s\) were left/) }]);
    } finally {
      await locker.query(`rollback`);
      await locker.end();
      await c.end();
    }
    expect(await count(db, `l1.ev`)).toBe(1);
  });

  it('F3: a failed row the application deleted since does not hide a locked row that never failed', async () => {
    await q(`create schema l3`);
    await q(`create table l3.users (id int primary key, created_at timestamptz not null)`);
    await q(`create table l3.refs (user_id int references l3.users (id))`);
    await q(`insert into l3.users select g, now() - interval '100 days' + g * interval '1 minute' from generate_series(1, 5) g`);
    await q(`insert into l3.refs values (2)`);
    await q(`select retention.set_policy('l3.users', 'l3.users', 'delete', 'created_at', interval '30 days', p_batch_size => 1)`);
    const locker = await db.connect();
    const c = await db.connect();
    try {
      await locker.query(`begin`);
      await locker.query(`select from l3.users where id = 3 for update`);
      const id = (await c.query(`select retention.open_run('l3.users') as id`)).rows[0].id;
      await c.query(`select retention.run_step($1)`, [id]);  // user 1
      await c.query(`select retention.run_step($1)`, [id]);  // user 2 fails (referenced)
      expect(await count(db, `retention.run_row_failures where run_id = ${Number(id)}`)).toBe(1);
      await q(`delete from l3.refs`);
      await q(`delete from l3.users where id = 2`);
      let st = 'running';
      for (let i = 0; i < 20 && st === 'running'; i++) st = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
      expect(st).toBe('stopped_lock_timeout');
    } finally {
      await locker.query(`rollback`);
      await locker.end();
      await c.end();
    }
    expect(await q(`select id from l3.users order by id`)).toEqual([{ id: 3 }]);
  });

  it('F2: a row of a partition a hold keeps, locked as the run went by, leaves the drop_partitions run stopped', async () => {
    await q(`create schema l2`);
    await q(`create table l2.logs (id int, user_id int, at timestamptz not null) partition by range (at)`);
    await q(`create table l2.logs_old partition of l2.logs for values from ('2024-01-01') to ('2025-01-01')`);
    await q(`create table l2.logs_new partition of l2.logs for values from ('2025-01-01') to ('2100-01-01')`);
    await q(`insert into l2.logs select g, g, '2024-06-01'::timestamptz + g * interval '1 hour' from generate_series(1, 4) g`);
    await q(`select retention.set_policy('l2.logs', 'l2.logs', 'drop_partitions', 'at', interval '30 days', p_subject_column => 'user_id', p_max_rows_per_run => 1000000)`);
    await q(`select retention.place_hold('subject', '2', 'keeps the partition')`);
    const locker = await db.connect();
    const c = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('l2.logs') as id`)).rows[0].id;
      // Stepped to the rows of the kept partition; a row of it locked from then on.
      let st = 'running';
      for (let i = 0; i < 20 && st === 'running'; i++) {
        const { phase } = (await q(`select state->>'phase' as phase from retention.runs where run_id = $1`, [id]))[0]!;
        if (phase === 'leaves') break;
        st = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
      }
      await locker.query(`begin`);
      await locker.query(`select from l2.logs_old where id = 3 for update`);
      for (let i = 0; i < 20 && st === 'running'; i++) st = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
      expect(st).toBe('stopped_lock_timeout');
    } finally {
      await locker.query(`rollback`);
      await locker.end();
      await c.end();
    }
    expect(await q(`select status, error from retention.runs where policy_name = 'l2.logs'`))
      .toEqual([{ status: 'stopped_lock_timeout', error: expect.stringMatching(/^1 eligible row\(s\) were left/) }]);
    expect(await q(`select id from l2.logs order by id`)).toEqual([{ id: 2 }, { id: 3 }]);
  });
});

describe('scrub constants are fixed values that fit (atk87 F6, atk83 F9)', () => {
  it('a moment, a constant longer than the column or one its domain refuses is refused (RT019) and nothing is saved', async () => {
    await q(`create schema l6`);
    await q(`create domain l6.code as text check (value ~ '^[A-Z]{2}$')`);
    await q(`create table l6.users (id int primary key, seen_at timestamptz, born date, initials varchar(3), country l6.code, closed_at timestamptz not null)`);
    for (const [col, value] of [['seen_at', 'now'], ['born', ' Today '], ['seen_at', 'tomorrow'], ['initials', 'REDACTED'], ['country', 'xx']] as [string, string][]) {
      const err = await q(`select retention.set_policy('l6.users', 'l6.users', 'scrub', 'closed_at', interval '30 days', p_scrub => $1)`,
        [JSON.stringify({ [col]: { constant: value } })]).then(() => null, (e: unknown) => e as { code: string; hint: string });
      expect(err?.code, `${col} ${value}`).toBe('RT019');
      expect(err!.hint).toBeTruthy();
      expect(await sqlState(q(`select retention.set_erasure_rule('l6.users', 'scrub', p_scrub => $1)`, [JSON.stringify({ [col]: { constant: value } })]))).toBe('RT019');
    }
    expect(await count(db, `retention.policies where name = 'l6.users'`)).toBe(0);
    expect(await count(db, `retention.erasure_rules where target = 'l6.users'::regclass`)).toBe(0);
    await q(`select retention.set_policy('l6.users', 'l6.users', 'scrub', 'closed_at', interval '30 days', p_scrub => '{"seen_at": {"constant": "1970-01-01"}, "initials": {"constant": "---"}, "country": {"constant": "ZZ"}}')`);
    expect(await count(db, `retention.policies where name = 'l6.users'`)).toBe(1);
  });
});

describe('what counts as a policy\'s success, and what a revoke reaches (atk87 F4, F5, F7)', () => {
  it('F4: a budget spent stalled between steps, and F7: a run a few minutes back in time, are no success', async () => {
    await q(`create schema l4`);
    await q(`create table l4.ev (id int primary key, at timestamptz not null)`);
    await q(`insert into l4.ev select g, now() - interval '2 years' from generate_series(1, 100) g`);
    await q(`select retention.set_policy('l4.ev', 'l4.ev', 'delete', 'at', interval '1 year', p_batch_size => 1, p_time_budget => '1 second')`);
    const c = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('l4.ev') as id`)).rows[0].id;
      await c.query(`select retention.run_step($1)`, [id]);
      await new Promise((r) => setTimeout(r, 1300));
      expect((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s).toBe('stopped_time_budget');
    } finally {
      await c.end();
    }
    await db.call(`call retention.run('l4.ev', p_as_of => now() - interval '4 minutes 50 seconds', p_max_rows => 5)`).catch(() => {});
    expect(await q(`select last_success_at from retention.policy_status where policy = 'l4.ev'`)).toEqual([{ last_success_at: null }]);
  });

  it('F5: a partitioned revoke table is refused (RT019) and nothing is saved', async () => {
    await q(`create schema l5`);
    await q(`create table l5.users (id int primary key, email text, closed_at timestamptz not null)`);
    await q(`create table l5.sessions (id int, user_id int references l5.users, at timestamptz not null) partition by range (at)`);
    await q(`create table l5.sessions_all partition of l5.sessions default`);
    const err = await q(`select retention.set_policy('l5.users', 'l5.users', 'scrub', 'closed_at', interval '30 days',
                           p_scrub => '{"email": "null"}', p_revoke => array['l5.sessions'])`).then(() => null, (e: unknown) => e as { code: string; hint: string });
    expect(err).toMatchObject({ code: 'RT019', hint: expect.stringContaining('partitions') });
    expect(await count(db, `retention.policies where name = 'l5.users'`)).toBe(0);
  });
});

