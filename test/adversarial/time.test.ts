// Attacks on time: a live run may not be moved forward, a hold is judged on the real
// clock, and nothing a run stamps can make a period or a notice look served already.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count, makeEvents } from '../support/fixtures.ts';

const db = useTestDatabase();

/** Rows of app.<name> half a day short of 1..n days old (row i is i - 0.5 days old), user_id 1..10. */
async function table(name: string, n = 100): Promise<void> {
  await makeEvents(db, `app.${name}`, 0);
  await db.q(`insert into app.${name} (user_id, created_at) select 1 + i % 10, now() - make_interval(days => i) + interval '12 hours' from generate_series(1, $1) i`, [n]);
}

async function evidence() {
  return {
    runs: await count(db, 'retention.runs'),
    audit: await count(db, 'retention.audit_log'),
  };
}

describe('a live run acts on the real clock', () => {
  for (const [what, asOf] of [
    ['a month ahead', `now() + interval '30 days'`],
    ['one second ahead', `clock_timestamp() + interval '1 second'`],
    ['infinity', `'infinity'::timestamptz`],
  ] as const) {
    it(`a live run with p_as_of ${what} is refused (RT022) and changes nothing`, async () => {
      const name = `t_${what.replace(/\W/g, '_')}`;
      await table(name);
      await db.q(`select retention.set_policy($1, $2, 'delete', 'created_at', p_retain => '50 days')`, [name.replaceAll('_', '-'), `app.${name}`]);
      const before = await evidence();
      expect(await sqlState(db.call(`call retention.run($1, p_as_of => ${asOf})`, [name.replaceAll('_', '-')]))).toBe('RT022');
      expect(await count(db, `app.${name}`)).toBe(100);
      expect(await evidence()).toEqual(before);
    });
  }

  it('run_all with a future p_as_of is refused before any policy runs', async () => {
    await table('t_all');
    await db.q(`select retention.set_policy('t-all', 'app.t_all', 'delete', 'created_at', p_retain => '50 days')`);
    const before = await evidence();
    expect(await sqlState(db.call(`call retention.run_all(p_as_of => now() + interval '1 year')`))).toBe('RT022');
    expect(await count(db, 'app.t_all')).toBe(100);
    expect(await evidence()).toEqual(before);
  });

  it('p_dry_run => NULL is refused rather than read as a live run', async () => {
    await table('t_null');
    await db.q(`select retention.set_policy('t-null', 'app.t_null', 'delete', 'created_at', p_retain => '50 days')`);
    const before = await evidence();
    expect(await sqlState(db.call(`call retention.run('t-null', p_dry_run => null)`))).toBe('RT022');
    expect(await sqlState(db.call(`call retention.run_all(p_dry_run => null)`))).toBe('RT022');
    expect(await count(db, 'app.t_null')).toBe(100);
    expect(await evidence()).toEqual(before);
  });

  it('a dry run may look ahead: it counts, records a dry run and deletes nothing', async () => {
    await table('t_dry');
    await db.q(`select retention.set_policy('t-dry', 'app.t_dry', 'delete', 'created_at', p_retain => '50 days')`);
    await db.call(`call retention.run('t-dry', p_dry_run => true, p_as_of => now() + interval '30 days')`);
    const [run] = await db.q(`select mode, status, eligible::int, affected::int from retention.runs where policy_name = 't-dry'`);
    expect(run).toEqual({ mode: 'dry_run', status: 'completed', eligible: 80, affected: 80 });
    expect(await count(db, 'app.t_dry')).toBe(100);
  });

  it('a past p_as_of deletes less, never more', async () => {
    await table('t_past');
    await db.q(`select retention.set_policy('t-past', 'app.t_past', 'delete', 'created_at', p_retain => '50 days')`);
    await db.call(`call retention.run('t-past', p_as_of => now() - interval '10 days')`);
    // Cutoff 60 days ago: rows 61..100 days old went, 51..60 stay until a run on the real clock.
    expect(await count(db, 'app.t_past')).toBe(60);
    await db.call(`call retention.run('t-past')`);
    expect(await count(db, 'app.t_past')).toBe(50);
  });
});

describe('holds are judged at now(), whatever p_as_of says', () => {
  it('a subject hold that expires in 7 days protects its rows from every run today, and previews a month ahead still count them held', async () => {
    await table('t_hold');
    await db.q(`select retention.set_policy('t-hold', 'app.t_hold', 'delete', 'created_at', p_retain => '50 days', p_subject_column => 'user_id')`);
    await db.q(`select retention.place_hold('subject', '4', 'Dispute', p_expires_at => now() + interval '7 days')`);
    const held = await count(db, `app.t_hold where user_id = 4 and created_at < now() - interval '50 days'`);
    expect(held).toBeGreaterThan(0);
    const [pv] = await db.q(`select held_back::int from retention.preview('t-hold', now() + interval '30 days')`);
    expect(pv!.held_back).toBe(await count(db, `app.t_hold where user_id = 4 and created_at < now() - interval '20 days'`));
    await db.call(`call retention.run('t-hold', p_dry_run => true, p_as_of => now() + interval '30 days')`);
    const [dry] = await db.q(`select held_back::int from retention.runs where policy_name = 't-hold' and mode = 'dry_run'`);
    expect(dry!.held_back).toBe(pv!.held_back);
    expect(await sqlState(db.call(`call retention.run('t-hold', p_as_of => now() + interval '30 days')`))).toBe('RT022');
    await db.call(`call retention.run('t-hold')`);
    expect(await count(db, `app.t_hold where user_id = 4 and created_at < now() - interval '50 days'`)).toBe(held);
    expect(await count(db, `app.t_hold where user_id <> 4 and created_at < now() - interval '50 days'`)).toBe(0);
  });

  it('an expired hold no longer applies to a run that looks back in time', async () => {
    await table('t_exp');
    await db.q(`select retention.set_policy('t-exp', 'app.t_exp', 'delete', 'created_at', p_retain => '50 days')`);
    // A hold that ran out yesterday (written by the owner, as if placed last month).
    await db.q(`insert into retention.legal_holds (scope, target, reason, placed_by, placed_at, expires_at)
                values ('table', 'app.t_exp'::regclass, 'Old inquiry', 'test', now() - interval '30 days', now() - interval '1 day')`);
    await db.call(`call retention.run('t-exp', p_as_of => now() - interval '2 days')`);
    expect(await count(db, 'app.t_exp')).toBe(52);
  });
});

describe('stamps carry the real time', () => {
  it('a notice cannot be skipped by a run that looks back: flags get the real clock, and act only after the notice', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.t_acc (id bigint primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    // Ids 101-120: the subject hold on 4 above covers this policy's subject column too.
    await db.q(`insert into app.t_acc select 100 + i, now() - interval '3 years' - make_interval(days => i), null from generate_series(1, 20) i`);
    await db.q(`select retention.set_inactive_accounts_policy('t-acc', 'app.t_acc')`);
    await db.call(`call retention.run('t-acc', p_as_of => now() - interval '60 days')`);
    const [f] = await db.q(`select count(*)::int as n, min(act_after - flagged_at) as notice, bool_and(flagged_at >= now() - interval '1 minute') as real
                              from retention.flagged_rows where policy_name = 't-acc' and status = 'flagged'`);
    expect(f).toEqual({ n: 20, notice: { days: 30 }, real: true });
    await db.call(`call retention.run('t-acc')`);
    await db.call(`call retention.run('t-acc', p_as_of => now() - interval '1 day')`);
    expect(await count(db, 'app.t_acc where deleted_at is not null')).toBe(0);
    expect(await sqlState(db.call(`call retention.run('t-acc', p_as_of => now() + interval '31 days')`))).toBe('RT022');
    expect(await count(db, 'app.t_acc where deleted_at is not null')).toBe(0);
  });

  it('soft_delete with a past p_as_of marks rows with the real time, so a purge policy waits its full period', async () => {
    await table('t_soft');
    await db.q(`select retention.set_policy('t-soft', 'app.t_soft', 'soft_delete', 'created_at', p_retain => '50 days', p_deleted_at_column => 'deleted_at')`);
    await db.q(`select retention.set_policy('t-purge', 'app.t_soft', 'purge_soft_deleted', 'deleted_at', p_retain => '5 days')`);
    // Cutoff 60 days back: rows 61..100 days old are marked — with the real time, not the
    // p_as_of of ten days ago, which would make them look deleted ten days already.
    await db.call(`call retention.run('t-soft', p_as_of => now() - interval '10 days')`);
    expect(await count(db, `app.t_soft where deleted_at >= now() - interval '1 minute'`)).toBe(40);
    await db.call(`call retention.run('t-purge')`);
    expect(await count(db, 'app.t_soft')).toBe(100);
  });
});

// timestamp (without time zone) and date columns hold wall-clock times: they are read in
// the zone the application writes in (the policy's timestamp_zone, else UTC and the
// installation's default), never in the session's (attack round atk32, F1 and F10).
describe('a step cannot take its clock from a transaction opened long before (atk47)', () => {
  it('open_run, run_step, open_erasure, erasure_step, propose and approve_proposal refuse a transaction older than 10 seconds (RT022); nothing is stamped or flagged', async () => {
    await db.q(`create table app.st (id int primary key, created_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`create index on app.st (created_at)`);
    await db.q(`insert into app.st select i, now() - interval '100 days', null from generate_series(1, 5) i`);
    await db.q(`select retention.set_policy('st.soft', 'app.st', 'soft_delete', 'created_at', p_retain => '90 days', p_deleted_at_column => 'deleted_at')`);
    await db.q(`select retention.set_policy('st.gate', 'app.st', 'delete', 'created_at', p_retain => '30 days', p_approval => 'required', p_archive => false)`);
    const [{ id: proposal }] = await db.q(`select retention.propose('st.gate') as id`) as [{ id: number }];
    await db.q(`create table app.st_users (id int primary key, name text)`);
    await db.q(`insert into app.st_users values (1, 'Ann')`);
    const [{ request_id }] = await db.q(`select request_id from retention.request_erasure('app.st_users', '1', 'ticket')`) as [{ request_id: number }];
    const before = await evidence();
    const calls = [
      `select retention.open_run('st.soft')`,
      `select retention.run_step(1)`,
      `select retention.open_erasure(${request_id})`,
      `select * from retention.erasure_step(${request_id})`,
      `select retention.propose('st.gate')`,
      `select retention.approve_proposal(${proposal}, 'ok')`,
      // A stored report says when it was generated, and whether its month has ended, by now() (atk95 F7).
      `select * from retention.store_compliance_report()`,
    ];
    // Each in a transaction that began 10.5 seconds earlier, all at once.
    const codes = await Promise.all(calls.map(async (sql) => {
      const c = await db.connect();
      try {
        await c.query('begin');
        await c.query('select pg_sleep(10.5)');
        return await c.query(sql).then(() => 'ok', (e: { code?: string }) => e.code);
      } finally {
        await c.query('rollback').catch(() => {});
        await c.end();
      }
    }));
    expect(codes).toEqual(calls.map(() => 'RT022'));
    expect(await evidence()).toEqual(before);
    expect(await count(db, 'app.st where deleted_at is not null')).toBe(0);
  }, 30_000);
});

describe('the zone of timestamp and date columns', () => {
  // 2025-06-15 03:00 UTC is 2025-06-14 20:00 in Los Angeles (PDT, UTC-7): with a period of
  // one day the cutoff there is 2025-06-13 20:00.
  const AT = '2025-06-15 03:00:00+00';
  const LA = 'America/Los_Angeles';
  beforeAll(async () => {
    await db.q(`create schema if not exists app`);
  });

  async function refusal(p: Promise<unknown>): Promise<{ code?: string; hint?: string }> {
    try {
      await p;
    } catch (err) {
      const e = err as { code?: string; hint?: string };
      return { code: e.code, hint: e.hint };
    }
    throw new Error('expected the statement to fail, but it succeeded');
  }

  /** A login whose session starts in a zone far east (connection option) and sets DateStyle. */
  async function hostile(role: string, ...memberOf: string[]) {
    await db.q(`create role ${role} login password 'pw' in role ${memberOf.join(', ')}`);
    await db.q(`grant usage on schema app to ${role}; grant select, insert, update, delete on all tables in schema app to ${role}`);
    const u = new URL(db.url);
    u.username = role;
    u.password = 'pw';
    const c = new pg.Client({ connectionString: u.toString(), options: '-c TimeZone=Pacific/Kiritimati -c DateStyle=German,MDY' });
    c.on('error', () => {});
    await c.connect();
    return c;
  }

  it('in a database whose TimeZone is Los Angeles, rows just younger than their day are kept and older ones go (timestamp and date), whatever the caller\'s zone', async () => {
    await db.q(`alter database ${db.name} set timezone = '${LA}'`);
    try {
      // The application writes its local time (the wall clock at AT minus 20, 23, 25 and 30 hours).
      await db.q(`create table app.zl_ts (id int primary key, created_at timestamp not null)`);
      await db.q(`create index on app.zl_ts (created_at)`);
      await db.q(`insert into app.zl_ts select h, ('${AT}'::timestamptz at time zone '${LA}') - make_interval(hours => h) from unnest(array[20, 23, 25, 30]) h`);
      await db.q(`create table app.zl_d (id int primary key, d date not null)`);
      await db.q(`create index on app.zl_d (d)`);
      await db.q(`insert into app.zl_d select k, ('${AT}'::timestamptz at time zone '${LA}')::date - k from generate_series(0, 3) k`);
      await db.q(`select retention.set_policy('zl-ts', 'app.zl_ts', 'delete', 'created_at', p_retain => '1 day')`);
      await db.q(`select retention.set_policy('zl-d', 'app.zl_d', 'delete', 'd', p_retain => '1 day')`);
      // Not early though the policies name no zone: the database's TimeZone is one of the readings.
      expect(await db.q(`select policy, eligible::int from retention.preview(p_as_of => $1) where policy like 'zl-%' order by policy`, [AT]))
        .toEqual([{ policy: 'zl-d', eligible: 2 }, { policy: 'zl-ts', eligible: 2 }]);
      // Relying on the installation's default (UTC here) while the database is in Los Angeles: named.
      const problems = await db.q<{ policy: string; fix: string }>(`select policy, fix from retention.check_setup() where problem like '%TimeZone is ${LA}%' order by policy`);
      expect(problems.map((p) => p.policy)).toEqual(['zl-d', 'zl-ts']);
      expect(problems[0]!.fix).toContain(`p_timestamp_zone => '${LA}'`);

      // One policy names its zone, the other relies on the default, set by the admin.
      const [v0] = await db.q(`select retention_internal._policy_version(p) as v from retention.policies p where name = 'zl-ts'`);
      await db.q(`select retention.alter_policy('zl-ts', p_timestamp_zone => '${LA}')`);
      const [v1] = await db.q(`select retention_internal._policy_version(p) as v from retention.policies p where name = 'zl-ts'`);
      expect(v1!.v).not.toBe(v0!.v);  // the zone decides which rows go: a proposal does not survive it
      await db.q(`select retention.set_default_timestamp_zone('${LA}')`);
      expect(await db.q(`select policy from retention.check_setup() where problem like '%TimeZone%'`)).toEqual([]);
      expect(await db.q(`select setting, value, source from retention.policy_settings('zl-d') where setting = 'timestamp_zone'`))
        .toEqual([{ setting: 'timestamp_zone', value: `${LA}, UTC`, source: 'default' }]);
      expect(await count(db, `retention.audit_log where action = 'default.timestamp_zone'`)).toBe(1);

      // A runner login whose session starts far east of UTC (UTC+14) and in German dates.
      const c = await hostile(`zl_runner_${process.pid}`, 'retention_runner');
      try {
        expect((await c.query(`show timezone`)).rows[0].TimeZone).toBe('Pacific/Kiritimati');
        const pv = (await c.query(`select policy, eligible::int from retention.preview(p_as_of => $1) where policy like 'zl-%' order by policy`, [AT])).rows;
        expect(pv).toEqual([{ policy: 'zl-d', eligible: 2 }, { policy: 'zl-ts', eligible: 2 }]);
        expect(await sqlState(c.query(`select retention.set_default_timestamp_zone('Pacific/Kiritimati')`))).toBe('42501');
        expect(await sqlState(c.query(`alter database ${db.name} set timezone = 'Pacific/Kiritimati'`))).toBe('42501');
        await c.query(`call retention.run('zl-ts', p_as_of => $1)`, [AT]);
        await c.query(`call retention.run('zl-d', p_as_of => $1)`, [AT]);
      } finally {
        await c.end();
      }
      // 20 and 23 hours old stay; 25 and 30 went. Today's and yesterday's dates stay (its
      // last hours are younger than a day), older dates went.
      expect((await db.q(`select id from app.zl_ts order by id`)).map((r) => r.id)).toEqual([20, 23]);
      expect((await db.q(`select id from app.zl_d order by id`)).map((r) => r.id)).toEqual([0, 1]);
      expect(await db.q(`select setting_value from (select value as setting_value from retention.settings where name = 'timestamp_zone') s`))
        .toEqual([{ setting_value: LA }]);
    } finally {
      await db.q(`alter database ${db.name} reset timezone`);
      await db.q(`select retention.set_default_timestamp_zone('UTC')`);
    }
  });

  it('around a fall-back the repeated hour\'s rows stay until their later instant is past', async () => {
    // 2025-11-02 in Los Angeles: 01:00-01:59 happens twice (PDT until 09:00 UTC, then PST).
    await db.q(`create table app.zl_dst (id text primary key, created_at timestamp not null)`);
    await db.q(`insert into app.zl_dst values ('00:20', '2025-11-02 00:20'), ('00:50', '2025-11-02 00:50'),
                  ('01:10', '2025-11-02 01:10'), ('01:40', '2025-11-02 01:40'), ('02:10', '2025-11-02 02:10')`);
    await db.q(`select retention.set_policy('zl-dst', 'app.zl_dst', 'delete', 'created_at', p_retain => '1 hour', p_timestamp_zone => '${LA}')`);
    // Cutoff 08:30 UTC = the first 01:30 (PDT): a row at 01:10 may be the second one (09:10 UTC).
    await db.call(`call retention.run('zl-dst', p_as_of => '2025-11-02 09:30+00')`);
    expect((await db.q(`select id from app.zl_dst order by id`)).map((r) => r.id)).toEqual(['00:50', '01:10', '01:40', '02:10']);
    // Cutoff 09:30 UTC = the second 01:30 (PST): both 01:10s are past, 01:40 (09:40 UTC) is not.
    await db.call(`call retention.run('zl-dst', p_as_of => '2025-11-02 10:30+00')`);
    expect((await db.q(`select id from app.zl_dst order by id`)).map((r) => r.id)).toEqual(['01:40', '02:10']);
  });

  it('drop_partitions on a table partitioned by a timestamp key in Los Angeles time drops a partition only once its last hour is past', async () => {
    await db.q(`create table app.zl_p (id int, user_id int, created_at timestamp not null) partition by range (created_at)`);
    for (const d of [12, 13, 14, 15]) {
      await db.q(`create table app.zl_p_${d} partition of app.zl_p for values from ('2025-06-${d}') to ('2025-06-${d + 1}')`);
    }
    await db.q(`insert into app.zl_p select h, 1, timestamp '2025-06-12' + make_interval(hours => h) from generate_series(0, 95) h`);
    await db.q(`select retention.set_policy('zl-p', 'app.zl_p', 'drop_partitions', 'created_at', p_retain => '1 day',
                  p_subject_column => 'user_id', p_timestamp_zone => '${LA}', p_count => 'exact', p_max_rows_per_run => 1000)`);
    const c = await hostile(`zl_reader_${process.pid}`, 'retention_runner');
    let parts: pg.QueryResultRow[];
    try {
      parts = (await c.query(`select partition, upper_bound = '2025-06-13 07:00+00'::timestamptz as first_upper, action
                                from retention.partitions('zl-p', $1)`, [AT])).rows;
    } finally {
      await c.end();
    }
    // The 13th's rows run to 2025-06-13 23:59 in Los Angeles (06:59 UTC on the 14th), after the cutoff.
    expect(parts.map((p) => [p.partition, p.action])).toEqual([
      ['app.zl_p_12', 'drop'], ['app.zl_p_13', 'keep: not past the cutoff'],
      ['app.zl_p_14', 'keep: not past the cutoff'], ['app.zl_p_15', 'keep: not past the cutoff'],
    ]);
    expect(parts[0]!.first_upper).toBe(true);
    await db.call(`call retention.run('zl-p', p_as_of => '${AT}')`);
    expect(await count(db, `pg_inherits where inhparent = 'app.zl_p'::regclass`)).toBe(3);
    expect(await count(db, 'app.zl_p')).toBe(72);
  });

  it('partitions() and preview() read partition bounds alike under DateStyle German, MDY', async () => {
    await db.q(`create table app.zl_g (id bigint, user_id bigint, created_at timestamptz not null) partition by range (created_at)`);
    for (const m of ['09', '10', '11', '12']) {
      const next = m === '12' ? '2027-01-01' : `2026-${String(Number(m) + 1).padStart(2, '0')}-01`;
      await db.q(`create table app.zl_g_${m} partition of app.zl_g for values from ('2026-${m}-01') to ('${next}')`);
    }
    await db.q(`insert into app.zl_g select g, 1 + g % 2, '2026-09-01'::timestamptz + g * interval '1 hour' from generate_series(0, 2200) g`);
    await db.q(`select retention.set_policy('zl-g', 'app.zl_g', 'drop_partitions', 'created_at', p_retain => '30 days',
                  p_subject_column => 'user_id', p_count => 'exact', p_max_rows_per_run => 100000)`);
    const c = await db.connect();
    try {
      await c.query(`set datestyle = 'German, MDY'`);
      const at = '2026-12-02 12:00:00+00';
      const parts = (await c.query(`select partition, action from retention.partitions('zl-g', $1)`, [at])).rows;
      expect(parts.map((p) => p.action)).toEqual(['drop', 'drop', 'keep: not past the cutoff', 'keep: not past the cutoff']);
      expect((await c.query(`select eligible::int from retention.preview('zl-g', $1)`, [at])).rows).toEqual([{ eligible: 720 + 744 }]);
    } finally {
      await c.end();
    }
  });

  it('the zone the table owner writes in counts however it is set: its role setting, a lower-case name, an offset (atk35)', async () => {
    // 20 hours ago and 30 hours ago on the Los Angeles wall clock, written as timestamp.
    const role = `tzown_${Math.random().toString(36).slice(2, 8)}`;
    await db.q(`create role ${role}`);
    await db.q(`create table app.tz_own (id int primary key, created_at timestamp not null)`);
    await db.q(`alter table app.tz_own owner to ${role}`);
    await db.q(`insert into app.tz_own values (1, (now() at time zone '${LA}') - interval '20 hours'), (2, (now() at time zone '${LA}') - interval '30 hours')`);
    await db.q(`select retention.set_policy('tz.own', 'app.tz_own', 'delete', 'created_at', p_retain => '1 day')`);
    try {
      for (const set of [`alter role ${role} in database ${db.name} set timezone = 'america/los_angeles'`, `alter role ${role} in database ${db.name} set timezone = '-8'`]) {
        await db.q(set);
        expect(await db.q(`select eligible::int from retention.preview('tz.own')`), set).toEqual([{ eligible: 1 }]);
      }
      await db.call(`call retention.run('tz.own')`);
      expect(await db.q(`select id from app.tz_own order by id`)).toEqual([{ id: 1 }]);
    } finally {
      await db.q(`drop table app.tz_own`);
      await db.q(`select retention.drop_policy('tz.own')`).catch(() => undefined);
      await db.q(`drop owned by ${role}`).catch(() => undefined);
      await db.q(`drop role ${role}`).catch(() => undefined);
    }
  });

  it('a zone that is not an IANA name, or one for a timestamptz column, is refused with RT016 and a hint, and changes nothing', async () => {
    await db.q(`create table app.zl_bad (id int primary key, created_at timestamp not null, at timestamptz not null)`);
    await db.q(`select retention.set_policy('zl-bad', 'app.zl_bad', 'delete', 'created_at', p_retain => '1 day')`);
    const before = {
      policy: await db.q(`select to_jsonb(p) - 'updated_at' as p from retention.policies p where name = 'zl-bad'`),
      settings: await db.q(`select * from retention.settings`),
      audit: await count(db, 'retention.audit_log'),
    };
    for (const zone of ['Mars/Olympus', 'posix/America/Los_Angeles', 'UTC+5', '']) {
      for (const call of [
        () => db.q(`select retention.set_policy('zl-bad', 'app.zl_bad', 'delete', 'created_at', p_retain => '1 day', p_timestamp_zone => $1)`, [zone]),
        () => db.q(`select retention.alter_policy('zl-bad', p_timestamp_zone => $1)`, [zone]),
        () => db.q(`select retention.set_default_timestamp_zone($1)`, [zone]),
      ]) {
        const r = await refusal(call());
        expect(r.code, zone).toBe('RT016');
        expect(r.hint, zone).toMatch(/IANA name/);
      }
    }
    expect((await refusal(db.q(`select retention.set_default_timestamp_zone(null)`))).code).toBe('RT016');
    const r = await refusal(db.q(`select retention.set_policy('zl-bad2', 'app.zl_bad', 'delete', 'at', p_timestamp_zone => 'UTC')`));
    expect(r).toEqual({ code: 'RT016', hint: expect.stringMatching(/leave p_timestamp_zone NULL/) });
    expect(await db.q(`select to_jsonb(p) - 'updated_at' as p from retention.policies p where name = 'zl-bad'`)).toEqual(before.policy);
    expect(await db.q(`select * from retention.settings`)).toEqual(before.settings);
    expect(await count(db, `retention.policies where name = 'zl-bad2'`)).toBe(0);
    expect(await count(db, 'retention.audit_log')).toBe(before.audit);
  });
});
