// Attack round atk153 (no row removed before its period, by any clock; no held row
// removed). F1 (major): a timestamptz age column's days and months were counted on UTC's
// calendar only: in a Tokyo database a row went 21 hours before its `created_at + '1
// month'`, and in a New York one 30 minutes before `created_at + '1 day'` across the
// fall-back. They are counted on the calendar of every zone the database's settings name
// too, the earliest cutoff winning. F2 (major): `holds place --expires-at` (and every other
// time the CLI takes) went to `::timestamptz` as typed, read in the DateStyle and TimeZone
// the application's database settings chose: `12/01/2027` ended a hold on 11 January. The
// CLI reads ISO 8601 itself now, a time without an offset in UTC, and refuses the rest.
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

async function left(table: string): Promise<string[]> {
  return (await q<{ id: string }>(`select id::text from ${table} order by id`)).map((r) => r.id);
}

describe('periods on the database\'s calendar, and times the CLI reads (atk153)', () => {
  it('F1: a timestamptz row is kept until its period has ended on the calendar of the database\'s zone (a month in Tokyo, a day across New York\'s fall-back)', async () => {
    await q(`create schema t153`);
    await q(`create table t153.m (id int primary key, created_at timestamptz not null)`);
    // Tokyo: 1 May 05:00 is 30 April 20:00 UTC; '1 month' ends 1 June 05:00 in Tokyo.
    await q(`insert into t153.m values (1, '2026-05-01 05:00+09'), (2, '2026-04-29 00:00+09')`);
    await q(`create table t153.d (id int primary key, created_at timestamptz not null)`);
    // New York: 1 November 00:30 EDT; '1 day' ends 2 November 00:30 EST (25 hours on).
    await q(`insert into t153.d values (1, '2026-11-01 00:30-04'), (2, '2026-10-30 12:00-04')`);
    await q(`select retention.set_policy('t153-m', 't153.m', 'delete', 'created_at', '1 month')`);
    await q(`select retention.set_policy('t153-d', 't153.d', 'delete', 'created_at', '1 day')`);
    await q(`alter database ${db.name} set timezone = 'Asia/Tokyo'`);
    await db.call(`call retention.run('t153-m', false, '2026-05-31 08:00+09')`);
    expect(await left('t153.m')).toEqual(['1']);
    await q(`alter database ${db.name} set timezone = 'America/New_York'`);
    await db.call(`call retention.run('t153-d', false, '2026-11-02 00:00-05')`);
    expect(await left('t153.d')).toEqual(['1']);
    // And each goes once its period has ended there.
    await db.call(`call retention.run('t153-d', false, '2026-11-02 00:31-05')`);
    expect(await left('t153.d')).toEqual([]);
    await q(`alter database ${db.name} set timezone = 'Asia/Tokyo'`);
    await db.call(`call retention.run('t153-m', false, '2026-06-01 05:01+09')`);
    expect(await left('t153.m')).toEqual([]);
    await q(`alter database ${db.name} reset timezone`);
  });

  it('F2: the CLI reads a hold\'s expiry as ISO 8601 whatever DateStyle and TimeZone the database sets, and refuses other spellings changing nothing', async () => {
    await q(`create schema if not exists t153b`);
    await q(`create table t153b.ev (id int primary key, created_at timestamptz not null)`);
    await q(`alter database ${db.name} set datestyle = 'ISO, DMY'`);
    await q(`alter database ${db.name} set timezone = 'Etc/GMT-14'`);
    try {
      const cli = (args: string[]) => runCli(args, { url: db.url });
      const before = (await q<{ n: number }>(`select count(*)::int as n from retention.legal_holds`))[0]!.n;
      for (const bad of ['12/01/2027', '2027-02-30', 'tomorrow', '2027-03-01 25:00', '2027-03-01T10:00+16:00', '2027-03-01; drop table t153b.ev']) {
        const r = await cli(['holds', 'place', 'table', 't153b.ev', '--reason', 'inquiry', '--expires-at', bad]);
        expect([bad, r.code, r.stderr]).toEqual([bad, 2, expect.stringMatching(/--expires-at .* is not a date or time pg-retention reads\nhint: give ISO 8601/)]);
      }
      expect((await q<{ n: number }>(`select count(*)::int as n from retention.legal_holds`))[0]!.n).toBe(before);
      for (const [given, utc] of [['2027-03-01', '2027-03-01 00:00:00+00'], ['2027-03-01 09:30Z', '2027-03-01 09:30:00+00'],
                                  ['2027-03-01T09:30:00.5+01:00', '2027-03-01 08:30:00.5+00'], ['2027-03-01 12:00', '2027-03-01 12:00:00+00']]) {
        const r = await cli(['holds', 'place', 'table', 't153b.ev', '--reason', `inquiry ${given}`, '--expires-at', given!, '--json']);
        expect([given, r.code, r.stderr]).toEqual([given, 0, '']);
        const [h] = await q<{ e: string }>(`select (expires_at at time zone 'UTC')::text || '+00' as e from retention.legal_holds where reason = $1`, [`inquiry ${given}`]);
        expect([given, h?.e]).toEqual([given, utc]);
      }
    } finally {
      await q(`alter database ${db.name} reset datestyle`);
      await q(`alter database ${db.name} reset timezone`);
    }
  });
});
