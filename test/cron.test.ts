// Schedules: SQL (retention_internal._cron_error, set_policy) and the policy file (runner/cron.ts)
// judge one corpus alike, and accept nothing the worker's cron-parser would refuse. Time
// zones likewise: every zone set_policy takes, the worker can schedule in.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { cronError, timeZoneError } from '../runner/cron.ts';
import { loadPolicyFile } from '../runner/policy-file.ts';
import { sqlState, useTestDatabase } from './support/db.ts';

const db = useTestDatabase();

const GOOD = [
  '0 2 * * *', '*/15 * * * *', '0 3 * * 0', '0 4 1 * *', '30 4 * * 1', '0 0 1 1 *', '0 0 * * MON-FRI', '0 0 1 JAN *',
  '0 0 1 jan-mar *', '0 0 * * sun', '0 0 L * *', '0 0 * * 5L', '0 0 * * 1#2', '0 0 * * MON#2', '0 0 ? * 1', '0 0 1 * ?',
  '0 0 29 2 *', '0 0 31 2,3 *', '0 0 29-31 2 *', '0 0 31 */2 *', '0 0 31 2 1', '1-5/2 * * * *', '0 0 1,15 * *',
  '0 0 * * 7', '0 0 * * 0-7', '0 0 * * SUN-SAT', '0 0 * 2 5L', '0 12 * * 1L,5L', '0 0 1-5,L * *', '*/60 * * * *',
  '5/15 * * * *', '0 0 1/32 * *', '00 02 * * *', ' 0 2 * * * ', '0  2 * * *',
  '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly',
];
const BAD = [
  '99 99 99 99 99', '0 0 31 2 *', '0 0 30 2 *', '0 0 31 4 *', '0 0 30,31 2 *', '0 0 31 2 ?', '60 * * * *', '0 24 * * *',
  '0 0 0 * *', '0 0 * 13 *', '0 0 * * 8', '5-1 * * * *', '*/0 * * * *', '0 0 1/0 * *', '*/5,10 * * * *', '0 0 * * 0,7',
  '0 0 * * 7,SUN', '0 0 1,1 * *', '0 0 *,1 * *', '0 0 * * 1#6', '0 0 * * 1#0', '0 0 * * 1-5#2', '0 0 * * 1#2,3#4',
  '0 0 * * L', '0 0 2L * *', '0 0 L-2 * *', '0 0 LW * *', '0 0 15W * *', 'L * * * *', '0 0 * L *', '0 0 * * monday',
  '0 0 1 january *', '0 0 * * MON-SUN', '0 0 1 DEC-JAN *', '0 0 ** * *', '0 0 1/2/3 * *', '0 0 1--2 * *', '0 0 , * *',
  '0 0 1, * *', '+1 * * * *', '-1 * * * *', 'a b c d e', '@midnight', '@reboot', '@DAILY', '@every 5m',
  // cron-parser takes these, but they mislead: seconds first, every minute, a hash.
  '0 2 * * * *', '0 0 1 1 * 2027', '', '   ', 'H 0 * * *', '0 0 * * 5l',
  // what an attacker found: whitespace around a macro (cron-parser knows '@daily' only as
  // that text), other whitespace, ? outside the day fields, ?/2, three-digit numbers, long steps
  '@daily ', ' @daily', '@daily\n', '0 2 * * *\t', '\t0 2 * * *', '0\t2 * * *', '0 2 * * *\u00a0', '\ufeff0 2 * * *',
  '0 2 * * *\r', '? 2 * * *', '0 ? * * *', '0 0 ?/2 * *', '0 0 * * ?/2', '007 * * * *', '0 002 * * *', '*/10000 * * * *', '*/00015 * * * *',
  // and injection attempts
  "0 2 * * *'; drop table x; --", '0 2 * * *\n0 3 * * *',
];

function workerTakes(expr: string, tz = 'UTC'): boolean {
  try {
    CronExpressionParser.parse(expr, { tz, strict: false, currentDate: new Date() }).next();
    return true;
  } catch {
    return false;
  }
}

describe('schedules', () => {
  it('SQL and the policy file judge every expression of the corpus alike, and accept none the worker refuses', async () => {
    expect(GOOD.length + BAD.length).toBeGreaterThan(100);
    for (const expr of [...GOOD, ...BAD]) {
      const [{ e: sql }] = (await db.q<{ e: string | null }>(`select retention_internal._cron_error($1) as e`, [expr])) as [{ e: string | null }];
      const js = cronError(expr);
      const good = GOOD.includes(expr);
      expect([expr, sql === null, js === null]).toEqual([expr, good, good]);
      if (good) expect([expr, workerTakes(expr)]).toEqual([expr, true]);
    }
  });

  it('set_policy takes the good ones (macros too) and refuses the bad ones with RT016 and what is wrong', async () => {
    await db.q(`create schema cr`);
    await db.q(`create table cr.t (id bigint primary key, created_at timestamptz not null)`);
    for (const expr of ['@daily', '0 0 * * MON#2', '0 0 29 2 *']) {
      const [p] = await db.q(`select schedule from retention.set_policy('cr.t', 'cr.t', 'delete', 'created_at', interval '1 day', p_schedule => $1)`, [expr]);
      expect(p!.schedule).toBe(expr);
    }
    for (const expr of ['0 0 31 2 *', '0 2 * * * *', '@midnight']) {
      expect([expr, await sqlState(db.q(`select retention.set_policy('cr.t', 'cr.t', 'delete', 'created_at', interval '1 day', p_schedule => $1)`, [expr]))])
        .toEqual([expr, 'RT016']);
    }
    const msg = await db.q(`select retention.set_policy('cr.t', 'cr.t', 'delete', 'created_at', interval '1 day', p_schedule => '0 0 31 2 *')`)
      .catch((e: Error) => e.message);
    expect(msg).toMatch(/day of month 31 never occurs in month 2/);
    expect(await db.q(`select schedule from retention.policies where name = 'cr.t'`)).toEqual([{ schedule: '0 0 29 2 *' }]);
  });

  it('every time zone set_policy takes, the worker can schedule in; the policy file agrees', async () => {
    // _time_zone_ok may read pg_timezone_names (~40 ms on Debian's PostgreSQL 15, whose
    // system tzdata lists ~1,800 names): called once per name that is quadratic, so it is
    // called on every 20th name and every name its rule refuses, and all names take the
    // rule in one read.
    const zones = await db.q<{ name: string; ok: boolean }>(
      `select name, name !~ '^(posix|right)/' and name not in ('Factory', 'localtime', 'posixrules') as ok from pg_timezone_names order by name`);
    const sample = zones.filter((z, i) => i % 20 === 0 || !z.ok);
    const checked = await db.q<{ name: string; ok: boolean }>(
      `select name, retention_internal._time_zone_ok(name) as ok from unnest($1::text[]) name`, [sample.map((z) => z.name)]);
    expect(checked).toEqual(sample.map((z) => ({ name: z.name, ok: z.ok })));
    const taken = zones.filter((z) => z.ok).map((z) => z.name);
    expect(taken.length).toBeGreaterThan(300);
    expect(taken.filter((z) => !workerTakes('0 2 * * *', z))).toEqual([]);
    for (const z of zones) expect([z.name, timeZoneError(z.name) === null]).toEqual([z.name, z.ok]);
    // A name in another case (PostgreSQL reads it, cron-parser does not), one PostgreSQL reads as a POSIX rule.
    for (const z of ['Mars/Olympus', 'posix/Europe/Berlin', 'Factory', 'localtime', '', 'europe/berlin', 'EUROPE/BERLIN', 'XYZ3', 'CET-1CEST,M3.5.0,M10.5.0/3', 'Europe/Berlin,M3']) {
      expect([z, (await db.q(`select retention_internal._time_zone_ok($1) as ok`, [z]))[0]!.ok]).toEqual([z, false]);
    }
  });

  it('the policy file refuses a bad schedule or time zone, naming the line and field', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cron-'));
    const load = async (schedule: string, tz = 'UTC'): Promise<string> => {
      const f = path.join(dir, 'retention.yaml');
      writeFileSync(f, `policies:\n  - name: cr.t\n    table: cr.t\n    action: delete\n    age_column: created_at\n    retain: 1 day\n    schedule: "${schedule}"\n    time_zone: "${tz}"\n`);
      return loadPolicyFile(f).then(() => 'ok', (e: Error) => e.message);
    };
    expect(await load('@daily')).toBe('ok');
    expect(await load('0 0 * * MON#2', 'Europe/Berlin')).toBe('ok');
    expect(await load('0 0 31 2 *')).toMatch(/retention\.yaml:7: policies\[0\]\.schedule: "0 0 31 2 \*" is not a cron expression/);
    expect(await load('0 2 * * * *')).toMatch(/policies\[0\]\.schedule: .*6 field\(s\), not five/);
    expect(await load('0 2 * * *', 'posix/Europe/Berlin')).toMatch(/retention\.yaml:8: policies\[0\]\.time_zone: posix\/Europe\/Berlin is a copy/);
    expect(await load('0 2 * * *', 'Mars/Olympus')).toMatch(/policies\[0\]\.time_zone: Mars\/Olympus is not a time zone the worker knows/);
  });
});
