// Attack round atk132 (time: no row goes before its period).
// F1: a policy without a period of its own took its schema's default by the schema's
// current name: the application renaming its schema (and making a new one under the old
// name) or moving the table to another schema cut a 10-year default to 30 days, and the
// run deleted every row older than that. A schema's default now follows the schema by
// OID, and a policy keeps the default of the schema its table was in when it was made.
// F3: the period was counted back on UTC's calendar: a Tokyo wall time written 1 March
// 08:00 went under '1 month' on 29 March, and '2 days' across New York's fall-back ended
// an hour early on the column's clock. The cutoff is now the earliest of UTC's and each
// reading zone's calendar.
// F5: a mark a soft delete stamps (a UTC wall time) was read in UTC too only while the
// stamping policy was there: dropped, or the table detached from its tree, the marks
// written seconds earlier went under a 6-hour period read in Tokyo. The tables and
// columns stamping policies write are now remembered for good.
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a schema default through a rename or a move of the table (atk132 F1)', () => {
  const { login } = useLogins(db);

  it('renaming the schema, moving the table, then dropping the old schema keep the 10-year default; nothing is deleted', async () => {
    const app = await login('t132_app');
    const role = (await app.query(`select current_user as u`)).rows[0].u as string;
    await q(`grant create on database ${(await q(`select current_database() as d`))[0]!.d} to ${role}`);
    await app.query(`create schema t132`);
    await app.query(`create table t132.events (id int primary key, created_at timestamptz not null)`);
    await app.query(`insert into t132.events select g, now() - g * interval '1 day' from generate_series(1, 400) g`);
    await app.query(`grant usage on schema t132 to public; grant select on t132.events to public`);
    await q(`select retention.set_default('t132', '10 years')`);
    await q(`select retention.set_policy('t132.events', 't132.events', 'delete', 'created_at')`);
    const effective = async () => (await q(`select retain::text, retain_source from retention.effective_policies where name = 't132.events'`))[0];
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });

    await app.query(`alter schema t132 rename to t132_old`);
    await app.query(`create schema t132`);
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });
    await db.call(`call retention.run('t132.events')`);
    expect(await count(db, `t132_old.events`)).toBe(400);

    await app.query(`create schema t132_scratch`);
    await app.query(`alter table t132_old.events set schema t132_scratch`);
    await app.query(`drop schema t132_old`);
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });
    await db.call(`call retention.run('t132.events')`);
    expect(await count(db, `t132_scratch.events`)).toBe(400);
    expect(await q(`select affected::int as n from retention.runs where policy_name = 't132.events' order by run_id`))
      .toEqual([{ n: 0 }, { n: 0 }]);

    // The longest default applies: a shorter one for the new schema does not cut it.
    await q(`select retention.set_default('t132_scratch', '30 days')`);
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });
    // A policy made on the table where it is now takes that schema's default.
    await q(`select retention.drop_policy('t132.events')`);
    await q(`select retention.set_policy('t132.events', 't132_scratch.events', 'delete', 'created_at')`);
    expect(await effective()).toEqual({ retain: '30 days', retain_source: 'schema' });
    // The records are the engine's: no direct write was audited.
    expect(await count(db, `retention.audit_log where action like 'direct.%'`)).toBe(0);
  });
});

describe('a period counted on the calendar of the zone a timestamp column is written in (atk132 F3)', () => {
  it('a month in Tokyo ends on the Tokyo calendar; two days across a fall-back end on the wall clock', async () => {
    await q(`create schema t133`);
    await q(`create table t133.events (id int primary key, created_at timestamp not null)`);
    await q(`insert into t133.events values (1, '2026-03-01 08:00'), (2, '2026-03-01 00:30')`);
    await q(`select retention.set_policy('t133.events', 't133.events', 'delete', 'created_at', '1 month', p_timestamp_zone => 'Asia/Tokyo')`);
    // 2026-03-29 08:00:01 on the Tokyo wall: 28 days after 1 March, not a month.
    const early = '2026-03-28 23:00:01+00';
    expect(await q(`select eligible::int from retention.preview('t133.events', $1)`, [early])).toEqual([{ eligible: 0 }]);
    await db.call(`call retention.run('t133.events', p_as_of => '${early}')`);
    expect(await count(db, `t133.events`)).toBe(2);
    // 2026-04-01 08:00:01 Tokyo: both months are over.
    await db.call(`call retention.run('t133.events', p_as_of => '2026-03-31 23:00:01+00')`);
    expect(await count(db, `t133.events`)).toBe(0);

    await q(`create table t133.ny (id int primary key, created_at timestamp not null)`);
    await q(`insert into t133.ny values (1, '2026-10-30 12:00')`);
    await q(`select retention.set_policy('t133.ny', 't133.ny', 'delete', 'created_at', '2 days', p_timestamp_zone => 'America/New_York')`);
    // 11:30 EST on 1 November: its two days on the wall clock end at 12:00.
    await db.call(`call retention.run('t133.ny', p_as_of => '2026-11-01 16:30:00+00')`);
    expect(await count(db, `t133.ny`)).toBe(1);
    await db.call(`call retention.run('t133.ny', p_as_of => '2026-11-01 17:00:01+00')`);
    expect(await count(db, `t133.ny`)).toBe(0);
  });
});

describe('marks a soft delete stamped, after the stamping policy is gone (atk132 F5)', () => {
  it('dropping the stamping policy, or detaching the partition the marks moved to, keeps them for their 6 hours', async () => {
    await q(`create schema t135`);
    await q(`create table t135.items (id int primary key, last_seen timestamp not null, deleted_at timestamp)`);
    await q(`insert into t135.items select g, localtimestamp - interval '400 days', null from generate_series(1, 5) g`);
    await q(`select retention.set_policy('t135.softdel', 't135.items', 'soft_delete', 'last_seen', '1 year', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.set_policy('t135.purge', 't135.items', 'delete', 'deleted_at', '6 hours', p_timestamp_zone => 'Asia/Tokyo')`);
    await db.call(`call retention.run('t135.softdel')`);
    expect(await count(db, `t135.items where deleted_at is not null`)).toBe(5);
    await q(`select retention.drop_policy('t135.softdel')`);
    expect(await q(`select eligible::int from retention.preview('t135.purge')`)).toEqual([{ eligible: 0 }]);
    await db.call(`call retention.run('t135.purge')`);
    expect(await count(db, `t135.items`)).toBe(5);

    // The application moves stamped rows to a sibling partition, then detaches it.
    await q(`create table t135.parts (id int, region text, last_seen timestamp not null, deleted_at timestamp, primary key (id, region))
             partition by list (region)`);
    await q(`create table t135.parts_eu partition of t135.parts for values in ('eu')`);
    await q(`create table t135.parts_us partition of t135.parts for values in ('us')`);
    await q(`insert into t135.parts select g, 'eu', localtimestamp - interval '400 days', null from generate_series(1, 5) g`);
    await q(`select retention.set_policy('t135.eu', 't135.parts_eu', 'soft_delete', 'last_seen', '1 year', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.set_policy('t135.us', 't135.parts_us', 'delete', 'deleted_at', '6 hours', p_timestamp_zone => 'Asia/Tokyo')`);
    await db.call(`call retention.run('t135.eu')`);
    await q(`update t135.parts set region = 'us' where deleted_at is not null`);
    await q(`alter table t135.parts detach partition t135.parts_us`);
    expect(await q(`select eligible::int from retention.preview('t135.us')`)).toEqual([{ eligible: 0 }]);
    await db.call(`call retention.run('t135.us')`);
    expect(await count(db, `t135.parts_us`)).toBe(5);
  });
});

// atk133 F2: flags() and note_overdue_erasures() took 'infinity' and quietly answered
// nothing, where every other routine refuses a moment that is not finite (RT022).
describe('moments that are not finite (atk133 F2)', () => {
  it('flags and note_overdue_erasures refuse infinity with a hint, and note nothing', async () => {
    for (const call of [`select * from retention.flags(null, 'infinity')`, `select * from retention.note_overdue_erasures('-infinity')`]) {
      const e = await q(call).then(() => null, (err: { code?: string; hint?: string }) => err);
      expect(e, call).toMatchObject({ code: 'RT022', hint: expect.stringContaining('finite') });
    }
  });
});

// atk135 F1: as_of - retain is not the moment whose period ends at as_of: PostgreSQL
// subtracts the months (clamping at a month's end) and then the days. A row of 2026-01-28
// 12:00 under '1 month 3 days' went on 2026-03-01, two days before its period ended.
describe('a period of months and days counted back (atk135 F1)', () => {
  it('keeps a row until its age plus the period is past, on timestamptz and timestamp columns', async () => {
    await q(`create schema t136`);
    await q(`create table t136.tz (id int primary key, created_at timestamptz not null)`);
    await q(`create table t136.wall (id int primary key, created_at timestamp not null)`);
    for (const t of ['tz', 'wall']) {
      await q(`insert into t136.${t} values (1, '2026-01-28 12:00'), (2, '2026-01-25 12:00')`);
      await q(`select retention.set_policy('t136.${t}', 't136.${t}', 'delete', 'created_at', '1 month 3 days')`);
      await db.call(`call retention.run('t136.${t}', p_as_of => '2026-03-01 00:00:00+00')`);
      expect(await q(`select id from t136.${t} order by id`)).toEqual([{ id: 1 }]);
      expect(await q(`select count(*)::int as n from t136.${t} where created_at + interval '1 month 3 days' <= '2026-03-01'`)).toEqual([{ n: 0 }]);
      // (The cutoff is found to the hour: an hour later it is past.)
      await db.call(`call retention.run('t136.${t}', p_as_of => '2026-03-03 13:00:01+00')`);
      expect(await count(db, `t136.${t}`)).toBe(0);
    }
  });
});

// atk135 F7: "the longest" default was max(), which compares intervals with 30-day months
// and 360-day years ('3601 days' beat '10 years'). F8: a default set again on a schema
// made anew under the old name replaced the old schema's OID, and the policies of tables
// moved out of the old one fell to 30 days.
describe('the longest schema default, and one set again on a schema made anew (atk135 F7, F8)', () => {
  it('picks 10 years over 3601 days, and keeps the dropped schema\'s default for the table moved out of it', async () => {
    await q(`create schema t137a`);
    await q(`create schema t137b`);
    await q(`create table t137a.ev (id int primary key, created_at timestamptz not null)`);
    await q(`insert into t137a.ev values (1, now() - interval '3605 days')`);
    await q(`select retention.set_default('t137a', '10 years')`);
    await q(`select retention.set_default('t137b', '3601 days')`);
    await q(`select retention.set_policy('t137.ev', 't137a.ev', 'delete', 'created_at')`);
    await q(`alter table t137a.ev set schema t137b`);
    const effective = async () => (await q(`select retain::text from retention.effective_policies where name = 't137.ev'`))[0];
    expect(await effective()).toEqual({ retain: '10 years' });
    await db.call(`call retention.run('t137.ev')`);
    expect(await count(db, `t137b.ev`)).toBe(1);

    await q(`drop schema t137a`);
    await q(`create schema t137a`);
    await q(`select retention.set_default('t137a', '11 years')`);
    expect(await effective()).toEqual({ retain: '11 years' });
    await db.call(`call retention.run('t137.ev')`);
    expect(await count(db, `t137b.ev`)).toBe(1);
  });
});

// atk135 F6: stamped_marks knew the table by OID and the column by name: the column
// renamed, or the table rebuilt under its name, after the stamping policy was dropped, and
// the marks were read in Tokyo alone again. Now by the column's number and the table's
// name too.
describe('stamped marks after the column is renamed or the table rebuilt (atk135 F6)', () => {
  it('keeps the marks for their 5 hours', async () => {
    await q(`create schema t138`);
    for (const t of ['renamed', 'rebuilt']) {
      await q(`create table t138.${t} (id int primary key, created_at timestamp not null, deleted_at timestamp)`);
      await q(`insert into t138.${t} select g, localtimestamp - interval '10 days', null from generate_series(1, 3) g`);
      await q(`select retention.set_policy('t138.${t}.sd', 't138.${t}', 'soft_delete', 'created_at', '1 day', p_deleted_at_column => 'deleted_at')`);
      await db.call(`call retention.run('t138.${t}.sd')`);
      await q(`select retention.drop_policy('t138.${t}.sd')`);
    }
    await q(`alter table t138.renamed rename column deleted_at to gone_at`);
    await q(`begin; create table t138.rebuilt2 (like t138.rebuilt including all); insert into t138.rebuilt2 select * from t138.rebuilt;
             drop table t138.rebuilt; alter table t138.rebuilt2 rename to rebuilt; commit`);
    for (const [t, col] of [['renamed', 'gone_at'], ['rebuilt', 'deleted_at']] as const) {
      await q(`select retention.set_policy('t138.${t}.purge', 't138.${t}', 'delete', '${col}', '5 hours', p_timestamp_zone => 'Asia/Tokyo')`);
      await db.call(`call retention.run('t138.${t}.purge')`);
      expect([t, await count(db, `t138.${t}`)]).toEqual([t, 3]);
    }
  });
});

// atk138 F1: adding a month clamps the date and keeps the time, so it is not monotonic
// across days: 2026-10-30 23:30 plus '1 mon 6 days' (12-06 23:30) ends after 10-31 00:33
// plus it (12-06 00:33), and a cutoff of 10-31 00:33 took the first row early.
describe('periods whose months clamp two dates onto one (atk138 F1)', () => {
  it('keeps the late rows of the earlier day; leap years too; no moment before a cutoff is within its period', async () => {
    await q(`create schema t139`);
    await q(`create table t139.ev (id int primary key, created_at timestamptz not null)`);
    await q(`insert into t139.ev values (1, '2026-10-30 23:30+00'), (2, '2026-10-29 12:00+00')`);
    await q(`select retention.set_policy('t139.ev', 't139.ev', 'delete', 'created_at', '1 mon 6 days')`);
    await db.call(`call retention.run('t139.ev', p_as_of => '2026-12-06 00:33+00')`);
    expect(await q(`select id from t139.ev order by id`)).toEqual([{ id: 1 }]);
    expect(await q(`select retention_internal._period_start('2025-03-01 00:30', '1 year 1 day') <= '2024-02-28 23:00' as ok`)).toEqual([{ ok: true }]);
    // Random moments and periods: every moment in the week before the cutoff has its
    // period ended by the moment the cutoff is for.
    expect(await q(`with p as (select timestamp '2024-01-01' + (random() * 1000) * interval '1 day' + random() * interval '1 day' as as_of,
                                      make_interval(years => (random() * 2)::int, months => (random() * 13)::int,
                                                    days => (random() * 40)::int, hours => (random() * 30)::int) as iv
                                 from generate_series(1, 200)),
                         c as (select as_of, iv, retention_internal._period_start(as_of, iv) as cut from p)
                    select count(*)::int as bad from c
                     cross join lateral generate_series(c.cut - interval '8 days', c.cut - interval '1 microsecond', interval '13 minutes') r
                     where r + c.iv > c.as_of`)).toEqual([{ bad: 0 }]);
  });
});
