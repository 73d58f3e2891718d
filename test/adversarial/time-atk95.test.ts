// Attack round atk95 (time cannot be turned against retention), on the shared server:
//  - F6: a soft delete stamps deleted_at (timestamp) as the latest wall time of UTC and its
//    own zones; a purge of that column naming the application's zone (Asia/Tokyo) read the
//    stamp nine hours older than it was, and purged a row soft-deleted a second before
//    under a six-hour period. A column a policy stamps is now read in UTC too.
//  - F5: the allowance for clocks going back covered an hour; Asia/Magadan went back two
//    hours in 2014 (Casey three), and a row of the repeated hours went before its period.
//  - F1: a checkpoint could be signed (by a clock a day behind) before the row it signs.
//  - F2: an overdue alert queued with a past p_as_of said it was checked then, 0 days
//    overdue, and was the request's only alert.
// F3, F4 (zones set by ALTER ROLE ALL and on the server's command line) need a server of
// their own: test/server-zones.test.ts. F7 is in time.test.ts (a stale transaction).
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a mark pg-retention stamps, read by a policy naming another zone (atk95 F6)', () => {
  for (const action of ['delete', 'purge_soft_deleted'] as const) {
    it(`a ${action} policy in Asia/Tokyo on the deleted-at column a soft delete stamped: the row stays until its period is over`, async () => {
      const s = `f6_${action === 'delete' ? 'd' : 'p'}`;
      await q(`create schema ${s}`);
      await q(`create table ${s}.users (id int primary key, last_login_at timestamptz not null, deleted_at timestamp)`);
      await q(`insert into ${s}.users values (1, now() - interval '400 days', null), (2, now() - interval '400 days', null)`);
      await q(`select retention.set_policy('${s}.soft', '${s}.users', 'soft_delete', 'last_login_at', '1 year', p_deleted_at_column => 'deleted_at')`);
      await q(`select retention.set_policy('${s}.purge', '${s}.users', '${action}', 'deleted_at', '6 hours',
                 p_timestamp_zone => 'Asia/Tokyo'${action === 'delete' ? `, p_predicate => 'deleted_at is not null'` : ''})`);
      expect((await q(`select value from retention.policy_settings('${s}.purge') where setting = 'timestamp_zone'`))[0]!.value)
        .toMatch(/Asia\/Tokyo/);
      await db.call(`call retention.run('${s}.soft')`);
      expect(await count(db, `${s}.users where deleted_at is not null`)).toBe(2);
      await db.call(`call retention.run('${s}.purge')`);
      expect(await count(db, `${s}.users`)).toBe(2);
      // Six hours and a minute later (p_as_of moves the run's clock back only, so the
      // stamps are moved back instead), they go.
      await q(`update ${s}.users set deleted_at = deleted_at - interval '6 hours 1 minute' where id = 1`);
      await db.call(`call retention.run('${s}.purge')`);
      expect(await q(`select id from ${s}.users`)).toEqual([{ id: 2 }]);
    });
  }
});

describe('clocks that went back by more than an hour (atk95 F5)', () => {
  // Asia/Magadan went from UTC+12 to UTC+10 at 2014-10-26 02:00 local (2014-10-25 14:00
  // UTC): 00:00-02:00 local came twice. A row written at the second 00:10 (14:10 UTC) is
  // a day old at 2014-10-26 14:10 UTC.
  it('a row of the repeated two hours in Asia/Magadan stays until its second occurrence is past its period', async () => {
    await q(`create schema f5`);
    await q(`create table f5.readings (id int primary key, taken_at timestamp not null)`);
    await q(`insert into f5.readings values (1, '2014-10-26 00:10'), (2, '2014-10-24 00:10')`);
    await q(`select retention.set_policy('f5.readings', 'f5.readings', 'delete', 'taken_at', '1 day', p_timestamp_zone => 'Asia/Magadan')`);
    const [pre] = await q(`select eligible::int from retention.preview('f5.readings', p_as_of => '2014-10-26 12:30+00')`);
    expect(pre!.eligible).toBe(1);
    await db.call(`call retention.run('f5.readings', p_as_of => '2014-10-26 12:30+00')`);
    expect(await q(`select id from f5.readings order by id`)).toEqual([{ id: 1 }]);
    await db.call(`call retention.run('f5.readings', p_as_of => '2014-10-26 14:20+00')`);
    expect(await count(db, 'f5.readings')).toBe(0);
  });

  it('Antarctica/Casey, back three hours in 2010: the repeated hours stay too', async () => {
    // 2010-03-04 15:00 UTC was 02:00 on the 5th (UTC+11), then 23:00 on the 4th (UTC+8):
    // 23:00-02:00 came twice. The second 00:10 is 2010-03-04 16:10 UTC.
    await q(`create schema f5c`);
    await q(`create table f5c.readings (id int primary key, taken_at timestamp not null)`);
    await q(`insert into f5c.readings values (1, '2010-03-05 00:10')`);
    await q(`select retention.set_policy('f5c.readings', 'f5c.readings', 'delete', 'taken_at', '1 day', p_timestamp_zone => 'Antarctica/Casey')`);
    expect(await q(`select (timestamptz '2010-03-04 14:59+00' at time zone 'Antarctica/Casey')::text as before,
                           (timestamptz '2010-03-04 15:00+00' at time zone 'Antarctica/Casey')::text as after`))
      .toEqual([{ before: '2010-03-05 01:59:00', after: '2010-03-04 23:00:00' }]);
    // The cutoff (2010-03-04 13:30 UTC) is 00:30 on the 5th there, before the row's second occurrence.
    await db.call(`call retention.run('f5c.readings', p_as_of => '2010-03-05 13:30+00')`);
    expect(await count(db, 'f5c.readings')).toBe(1);
    await db.call(`call retention.run('f5c.readings', p_as_of => '2010-03-05 16:20+00')`);
    expect(await count(db, 'f5c.readings')).toBe(0);
  });
});

describe('a checkpoint signed before its row was written (atk95 F1)', () => {
  it('is refused (RT026) past five minutes of skew; a signature at the row\'s time is taken', async () => {
    await q(`select retention.set_default('global', '1 year')`);
    const [head] = await q(`select audit_id, row_hash, occurred_at from retention.audit_head()`);
    const sig = Buffer.alloc(64);
    const before = await count(db, 'retention.audit_checkpoints');
    await expect(q(`select retention.record_checkpoint($1, $2, $3::timestamptz - interval '23 hours', 'k1', $4)`,
                   [head!.audit_id, head!.row_hash, head!.occurred_at, sig]))
      .rejects.toMatchObject({ code: 'RT026', message: expect.stringContaining('before the row was written'),
                               hint: expect.stringContaining('clock is behind') });
    expect(await sqlState(q(`select retention.record_checkpoint($1, $2, $3::timestamptz - interval '6 minutes', 'k1', $4)`,
                            [head!.audit_id, head!.row_hash, head!.occurred_at, sig]))).toBe('RT026');
    expect(await count(db, 'retention.audit_checkpoints')).toBe(before);
    await q(`select retention.record_checkpoint($1, $2, $3::timestamptz - interval '4 minutes', 'k1', $4)`,
            [head!.audit_id, head!.row_hash, head!.occurred_at, sig]);
    expect(await count(db, 'retention.audit_checkpoints')).toBe(before + 1);
  });
});

describe('an overdue alert queued with a past p_as_of (atk95 F2)', () => {
  it('says when it was really checked and how many days overdue the request really is', async () => {
    await q(`create schema f2`);
    await q(`create table f2.users (id int primary key, email text)`);
    await q(`insert into f2.users values (1, 'a@example.com')`);
    const [{ request_id }] = await q(`select request_id from retention.request_erasure('f2.users', '1', 'privacy form')`) as [{ request_id: string }];
    await q(`update retention.erasure_requests set requested_at = requested_at - interval '40 days', due_at = due_at - interval '40 days'
              where request_id = $1`, [request_id]);
    await q(`select * from retention.note_overdue_erasures(p_as_of => (select due_at from retention.erasure_requests where request_id = $1) + interval '1 microsecond')`,
            [request_id]);
    const [n] = await q(`select payload ->> 'days_overdue' as days, (payload ->> 'checked_at')::timestamptz > now() - interval '1 minute' as checked_now
                           from retention.notifications where kind = 'erasure_overdue' and (payload ->> 'request_id')::bigint = $1`, [request_id]);
    expect(n).toEqual({ days: '10', checked_now: true });
  });
});

describe('a writer whose privilege comes through a role it may SET ROLE to (after atk95 F3)', () => {
  // Since round atk98 (F2), every role's zone is read, whatever it may write: this login's
  // zone counts before the grant too.
  it('a NOINHERIT login in a group that may insert into the partitioned table: its zone is read for a policy on a partition', async () => {
    await q(`drop role if exists atk95_login`);
    await q(`drop role if exists atk95_writers`);
    await q(`create role atk95_writers nologin`);
    await q(`create role atk95_login login noinherit in role atk95_writers`);
    await q(`alter role atk95_login in database ${db.name} set timezone = 'Pacific/Pago_Pago'`);
    try {
      await q(`create schema f3w`);
      await q(`create table f3w.events (id int, created_at timestamp not null) partition by range (created_at)`);
      await q(`create table f3w.events_all partition of f3w.events default`);
      // Written by the login (SET ROLE atk95_writers) in Pago Pago, 23.5 hours and 2 days ago.
      await q(`insert into f3w.events values (1, (now() - interval '23 hours 30 minutes') at time zone 'Pacific/Pago_Pago'),
                                              (2, (now() - interval '2 days') at time zone 'Pacific/Pago_Pago')`);
      await q(`select retention.set_policy('f3w.events_all', 'f3w.events_all', 'delete', 'created_at', '1 day')`);
      const zones = async () => (await q(`select value from retention.policy_settings('f3w.events_all') where setting = 'timestamp_zone'`))[0]!.value;
      expect(await zones()).toContain('Pacific/Pago_Pago');
      await q(`grant insert on f3w.events to atk95_writers`);
      expect(await zones()).toContain('Pacific/Pago_Pago');
      await db.call(`call retention.run('f3w.events_all')`);
      expect(await q(`select id from f3w.events`)).toEqual([{ id: 1 }]);
    } finally {
      await q(`drop schema if exists f3w cascade`);
      await q(`drop role atk95_login`);
      await q(`drop role atk95_writers`);
    }
  });
});
