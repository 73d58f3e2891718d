// Backup pruning over real pg_basebackup backups: 120 simulated days of daily backups in a
// directory (hard-linked copies of one real backup, named by their simulated times; the
// pruner runs each day with that day as its clock) leave exactly the dailies of the last
// 30 days, the weeklies (the last of each week) of the last 90 and the newest; a legal
// hold freezes the store or one backup; preview changes nothing; every pruning is in the
// ledger and the audit log, also when the pruner dies mid-way; S3 stores the same.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../runner/config.ts';
import { installJobSchema } from '../runner/migrate.ts';
import { startWorker } from './support/worker.ts';
import { type BackupStore, BackupStoreError, backupStores, LocalBackupStore, pruneBackups, S3BackupStore, labelTime, timeInName } from '../runner/backups.ts';
import { S3Target } from '../runner/archive/storage.ts';
import { postgresBin, realBaseBackup } from './support/basebackup.ts';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';
import { startS3, type TestS3 } from './support/s3.ts';

const db = useTestDatabase();
const q = db.q;
const DAY = 86_400_000;
let real: string;          // one real base backup
let realIsReal = false;
let client: pg.Client;

beforeAll(async () => {
  real = path.join(mkdtempSync(path.join(os.tmpdir(), 'retention-real-')), 'backup');
  realIsReal = realBaseBackup(real);
  if (!realIsReal) {
    // No PostgreSQL installation with pg_basebackup here (CI has Debian's): a stand-in
    // with the files the pruner looks at.
    console.log('[tests] no pg_basebackup installed: backup-pruning uses stand-in backups');
    mkdirSync(path.join(real, 'base'), { recursive: true });
    writeFileSync(path.join(real, 'backup_manifest'), '{"PostgreSQL-Backup-Manifest-Version": 1}');
    writeFileSync(path.join(real, 'backup_label'), 'START TIME: 2026-11-01 02:00:03 UTC\n');
    writeFileSync(path.join(real, 'base', 'data'), 'x'.repeat(1000));
  }
  // Finished an hour and more ago (a backup whose files changed within
  // PG_RETENTION_BACKUP_SETTLE, 1 hour, is not finished).
  spawnSync('find', [real, '-exec', 'touch', '-h', '-d', '2 hours ago', '{}', '+']);
  client = await db.connect();
}, 60_000);
afterAll(async () => {
  await client?.end();
});

const stamp = (t: number) => new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');   // 20261101T020000Z
/** A backup taken at t: a hard-linked copy of the real one, named by its time. */
function take(dir: string, t: number): string {
  const name = stamp(t);
  const r = spawnSync('cp', ['-al', real, path.join(dir, name)]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return name;
}
const present = (dir: string) => readdirSync(dir).filter((n) => /^\d{8}T\d{6}Z$/.test(n)).sort();

/** What GFS with dailies 30 days, weeklies 90 days keeps of backups at times ts, at asOf:
 * computed here independently of the SQL. */
function expected(ts: number[], asOf: number, frozen: Set<string> = new Set()): string[] {
  const weekStart = (t: number) => { const d = new Date(t); const dow = (d.getUTCDay() + 6) % 7; return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - dow); };
  const lastOfWeek = new Map<number, number>();
  for (const t of ts) lastOfWeek.set(weekStart(t), Math.max(lastOfWeek.get(weekStart(t)) ?? 0, t));
  const newest = Math.max(...ts);
  return ts.filter((t) => t === newest || asOf - t < 30 * DAY || (lastOfWeek.get(weekStart(t)) === t && asOf - t < 90 * DAY) || frozen.has(stamp(t)))
    .map(stamp).sort();
}

async function resetPolicies(): Promise<void> {
  await q(`select retention.release_hold(hold_id, 'test reset') from retention.legal_holds where released_at is null`);
  await q(`delete from retention.backup_policies`);
  await q(`delete from retention.backup_prunings`);
}

describe('backup pruning', () => {
  it('120 days of daily backups: exactly the last 30 days, the weeklies of the last 90 and the newest remain; each pruning in the ledger and audit log', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_reason => 'dailies 30 days, weeklies 90 days')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const store = new LocalBackupStore(dir);
    const start = Math.floor((Date.now() - 121 * DAY) / DAY) * DAY + 2 * 3600_000;   // 02:00 UTC, 121 days ago
    const ts: number[] = [];
    const auditBefore = await count(db, `retention.audit_log where action = 'backup.pruned'`);
    for (let i = 0; i < 120; i++) {
      const t = start + i * DAY;
      ts.push(t);
      take(dir, t);
      // The pruner runs every other day (and on the last): what it keeps does not depend
      // on how often it ran before.
      if (i % 2 === 0 && i !== 119) continue;
      const r = await pruneBackups(client, 'main', store, { execute: true, asOf: new Date(t + 3600_000) });
      expect(r.failed).toEqual([]);
      // After each pruning the store holds exactly what GFS keeps.
      expect(present(dir)).toEqual(expected(ts, t + 3600_000));
    }
    const left = present(dir);
    // 30 dailies, and the Sundays (the last backup of each week) of the 60 days before them.
    expect(left.length).toBeGreaterThanOrEqual(30 + 8);
    expect(left.length).toBeLessThanOrEqual(30 + 9);
    const asOf = ts.at(-1)! + 3600_000;
    const weekliesOlder = ts.filter((t) => asOf - t >= 30 * DAY && left.includes(stamp(t)));
    expect(weekliesOlder.length).toBeGreaterThanOrEqual(8);
    for (const t of weekliesOlder) expect(new Date(t).getUTCDay()).toBe(0);
    const ledger = await q(`select backup_name, status, reason, bytes, files from retention.backup_prunings where policy_name = 'main' order by pruning_id`);
    expect(ledger).toHaveLength(120 - left.length);
    expect(ledger.every((l) => l.status === 'deleted' && /older than 30 days/.test(l.reason) && Number(l.files) > 0 && Number(l.bytes) > 0)).toBe(true);
    expect(new Set(ledger.map((l) => l.backup_name))).toEqual(new Set(ts.map(stamp).filter((n) => !left.includes(n))));
    expect(await count(db, `retention.audit_log where action = 'backup.pruned'`)).toBe(auditBefore + ledger.length);
    // The plan says why each remaining backup stays.
    const plan = (await pruneBackups(client, 'main', store, { execute: false })).plan;
    expect(plan.filter((p) => p.keep).map((p) => p.reason.split(':')[0]).sort()).toEqual(expect.arrayContaining(['daily', 'weekly', 'the newest backup']));
  }, 300_000);

  it('a hold freezes the store, or one backup; preview deletes nothing; the newest and an unfinished backup stay', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '7 days', p_keep_weekly => '14 days')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const store = new LocalBackupStore(dir);
    const now = Date.now();
    const names = Array.from({ length: 40 }, (_, i) => take(dir, now - (40 - i) * DAY));
    // Preview: the plan, nothing deleted, nothing recorded.
    const preview = await pruneBackups(client, 'main', store, { execute: false });
    expect(preview.plan.filter((p) => !p.keep).length).toBeGreaterThan(20);
    expect(present(dir)).toEqual(names);
    expect(await count(db, `retention.backup_prunings`)).toBe(0);

    // One backup held, then the whole store.
    const one = names[3]!;
    await q(`select retention.place_hold('backups', $1, 'Audit of the March restore', 'AUD-9')`, [`main/${one}`]);
    let r = await pruneBackups(client, 'main', store, { execute: true });
    expect(present(dir)).toContain(one);
    expect(r.plan.find((p) => p.backup_name === one)).toMatchObject({ keep: true, reason: expect.stringMatching(/^legal hold \d+: Audit of the March restore/) });
    const afterOne = present(dir);
    for (let i = 0; i < 5; i++) take(dir, now - (45 + i) * DAY);   // older backups found later
    const [storeHold] = await q(`select hold_id from retention.place_hold('backups', 'main', 'Litigation: all backups frozen')`);
    r = await pruneBackups(client, 'main', store, { execute: true });
    expect(r.deleted).toEqual([]);
    expect(present(dir).length).toBe(afterOne.length + 5);
    await q(`select retention.release_hold($1, 'case closed')`, [storeHold!.hold_id]);
    await pruneBackups(client, 'main', store, { execute: true });
    expect(present(dir)).toEqual(afterOne);

    // A backup still being taken (no backup_manifest yet) is not a backup: never pruned,
    // and not "the newest" either.
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 hour', p_keep_weekly => '1 hour')`);
    const partial = stamp(now - 60_000);
    mkdirSync(path.join(dir, partial, 'base'), { recursive: true });
    r = await pruneBackups(client, 'main', store, { execute: true });
    expect(r.ignored).toContainEqual({ name: partial, why: expect.stringMatching(/no backup_manifest/) });
    expect(present(dir)).toEqual([names[3]!, names.at(-1)!, partial].sort());
    expect(r.plan.find((p) => p.backup_name === names.at(-1))).toMatchObject({ keep: true, reason: 'the newest backup' });
  }, 120_000);

  it('a pruner that dies mid-way leaves a record the next one settles; a hold placed during a pruning waits for it', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '2 days', p_keep_weekly => '2 days')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const store = new LocalBackupStore(dir);
    const now = Date.now();
    const names = Array.from({ length: 6 }, (_, i) => take(dir, now - (10 - i) * DAY));
    const listing = JSON.stringify((await store.list()).backups.map((b) => ({ name: b.name, taken_at: b.takenAt })));
    // Two prunings recorded, then the pruner "dies": one backup deleted, one not.
    const [a] = await q(`select retention.backup_prune_intent('main', $1, $2) as id`, [listing, names[0]]);
    await q(`select retention.backup_prune_intent('main', $1, $2) as id`, [listing, names[1]]);
    rmSync(path.join(dir, names[0]!), { recursive: true });
    expect(await q(`select status from retention.backup_prunings order by pruning_id`)).toEqual([{ status: 'deleting' }, { status: 'deleting' }]);
    const r = await pruneBackups(client, 'main', store, { execute: true });
    expect(r.reconciled).toBe(2);
    const rows = await q(`select backup_name, status, error from retention.backup_prunings order by pruning_id`);
    expect(rows.slice(0, 2)).toEqual([
      { backup_name: names[0], status: 'deleted', error: expect.stringMatching(/no longer listed/) },
      { backup_name: names[1], status: 'interrupted', error: expect.stringMatching(/still listed/) }]);
    expect(rows.slice(2).every((x) => x.status === 'deleted')).toBe(true);
    expect(present(dir)).toEqual(names.slice(-1));   // older than every period: only the newest stays
    expect(await count(db, `retention.audit_log where action = 'backup.pruned' and (details->>'pruning_id')::bigint = $1 and (details->>'settled_late')::boolean`, [a!.id])).toBe(1);

    // A hold placed while a backup is being deleted waits until that deletion commits.
    for (let i = 0; i < 3; i++) take(dir, now - (20 + i) * DAY);
    const listing2 = JSON.stringify((await store.list()).backups.map((b) => ({ name: b.name, taken_at: b.takenAt })));
    const victim = stamp(now - 22 * DAY);
    const [b] = await q(`select retention.backup_prune_intent('main', $1, $2) as id`, [listing2, victim]);
    const holder = await db.connect();
    await holder.query('begin');
    await holder.query(`select retention.backup_prune_check($1, $2)`, [b!.id, listing2]);
    const placer = await db.connect();
    await placer.query(`set statement_timeout = '500ms'`);
    expect(await sqlState(placer.query(`select retention.place_hold('backups', 'main', 'too late for this one')`))).toBe('57014');
    rmSync(path.join(dir, victim), { recursive: true });
    await holder.query(`select retention.backup_prune_done($1)`, [b!.id]);
    await holder.query('commit');
    await holder.end();
    await placer.query(`select retention.place_hold('backups', 'main', 'now it holds')`);
    await placer.end();
    // The check made after the hold refuses: the pruning is cancelled, nothing deleted.
    const [c] = await q(`select retention.backup_prune_intent('main', $1, $2) as id`, [listing2, stamp(now - 21 * DAY)]).catch(() => [{ id: null }]);
    expect(c!.id).toBeNull();
    const before = present(dir);
    const held = await pruneBackups(client, 'main', store, { execute: true });
    expect(held.deleted).toEqual([]);
    expect(present(dir)).toEqual(before);
  }, 60_000);

  it('reads the time from the name or the backup_label; refuses pgBackRest and WAL-G stores and never follows links', async () => {
    expect(timeInName('20261101T020000Z')).toBe('2026-11-01T02:00:00Z');
    expect(timeInName('base_2026-11-01_02-00-00')).toBe('2026-11-01T02:00:00Z');
    expect(timeInName('2026-11-01T02:00:00+01:00')).toBe('2026-11-01T02:00:00+01:00');
    expect(timeInName('20261101-020000F')).toBe('2026-11-01T02:00:00Z');
    // A date alone is its day's last second (atk132 F4: read as midnight, a backup taken at
    // 23:59:30 was pruned a day early).
    expect(timeInName('2026-11-01')).toBe('2026-11-01T23:59:59Z');
    expect(timeInName('20261332T020000Z')).toBeNull();
    expect(timeInName('backup')).toBeNull();
    expect(labelTime('START WAL LOCATION: 0/2\nSTART TIME: 2026-12-01 21:21:34 UTC\nLABEL: x\n')).toBe('2026-12-01T21:21:34Z');
    expect(labelTime('START TIME: 2026-12-01 21:21:34 +01\n')).toBe('2026-12-01T21:21:34+01:00');
    // An abbreviation means what the session's settings say; words are not times.
    for (const z of ['CET', 'EST', 'epoch', 'BC', 'infinity', 'PM']) expect([z, labelTime(`START TIME: 2026-12-01 02:00:00 ${z}\n`)]).toEqual([z, null]);

    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 hour', p_keep_weekly => '1 hour')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    // A real backup under a name without a time: its backup_label's START TIME counts.
    spawnSync('cp', ['-al', real, path.join(dir, 'nightly')]);
    const old = take(dir, Date.now() - 40 * DAY);
    // A link to a backup elsewhere, and a plain file: not backups.
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'retention-elsewhere-'));
    const linked = stamp(Date.now() - 50 * DAY);
    spawnSync('cp', ['-al', real, path.join(elsewhere, linked)]);
    symlinkSync(path.join(elsewhere, linked), path.join(dir, linked));
    writeFileSync(path.join(dir, 'README'), 'backups');
    // Dates alone (atk132 F4): its label's time when it falls on that day, else the day's
    // last second.
    for (const [name, label] of [['2026-11-05', '2026-11-05 23:59:30 UTC'], ['2026-11-06', '2020-01-01 00:00:00 UTC']] as const) {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, 'backup_manifest'), '{"PostgreSQL-Backup-Manifest-Version": 1}');
      writeFileSync(path.join(dir, name, 'backup_label'), `START TIME: ${label}\n`);
    }
    const listing = await new LocalBackupStore(dir).list();
    expect(listing.backups.map((b) => [b.name, b.timeFrom, b.takenAt])).toEqual(expect.arrayContaining([
      ['2026-11-05', 'backup_label', '2026-11-05T23:59:30Z'], ['2026-11-06', 'name', '2026-11-06T23:59:59Z']]));
    for (const name of ['2026-11-05', '2026-11-06']) rmSync(path.join(dir, name), { recursive: true });
    listing.backups = listing.backups.filter((b) => !b.name.startsWith('2026-11-0'));
    expect(listing.backups.map((b) => [b.name, b.timeFrom])).toEqual([[old, 'name'], ['nightly', 'backup_label']]);
    expect(listing.ignored.map((i) => i.why)).toEqual(expect.arrayContaining(['a symbolic link', 'not a directory']));
    const r = await pruneBackups(client, 'main', new LocalBackupStore(dir), { execute: true });
    if (realIsReal) expect(r.deleted).toEqual([old]);   // 'nightly' was taken minutes ago: the newest
    expect(existsSync(path.join(elsewhere, linked, 'backup_manifest'))).toBe(true);
    expect(existsSync(path.join(dir, linked))).toBe(true);

    for (const [marker, tool] of [['backup.info', /pgBackRest/], ['basebackups_005', /WAL-G/]] as const) {
      const d = mkdtempSync(path.join(os.tmpdir(), 'retention-tool-'));
      mkdirSync(path.join(d, marker));
      await expect(new LocalBackupStore(d).list()).rejects.toThrow(tool);
      await expect(new LocalBackupStore(d).list()).rejects.toBeInstanceOf(BackupStoreError);
    }
    const nested = mkdtempSync(path.join(os.tmpdir(), 'retention-tool-'));
    mkdirSync(path.join(nested, 'backup', 'main'), { recursive: true });
    writeFileSync(path.join(nested, 'backup', 'main', 'backup.info'), '[backup:current]');
    await expect(new LocalBackupStore(nested).list()).rejects.toThrow(/pgBackRest/);
  }, 60_000);

  it('refuses bad input with a hint and changes nothing; only the archiver prunes', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main')`);
    const ok = JSON.stringify([{ name: '20261101T020000Z', taken_at: '2026-11-01T02:00:00Z' }, { name: '20261102T020000Z', taken_at: '2026-11-02T02:00:00Z' }]);
    const before = await q(`select (select count(*) from retention.backup_policies)::int as p, (select count(*) from retention.backup_prunings)::int as r,
                                   (select count(*) from retention.legal_holds)::int as h, (select count(*) from retention.audit_log)::int as a`);
    const cases: [string, unknown[], string][] = [
      [`select retention.set_backup_policy('Main', 'main')`, [], 'RT009'],
      [`select retention.set_backup_policy('x; drop table retention.runs', 'main')`, [], 'RT009'],
      [`select retention.set_backup_policy('b', '/var/backups')`, [], 'RT039'],
      [`select retention.set_backup_policy('b', 's3://bucket/x')`, [], 'RT039'],
      [`select retention.set_backup_policy('b', 'main', p_keep_daily => '-30 days')`, [], 'RT004'],
      [`select retention.set_backup_policy('b', 'main', p_keep_weekly => '0 days')`, [], 'RT004'],
      [`select retention.set_backup_policy('b', 'main', p_keep_monthly => '1 month -40 days')`, [], 'RT004'],
      [`select retention.set_backup_policy('b', 'main', p_keep_daily => null)`, [], 'RT004'],
      [`select retention.set_backup_policy('b', 'main', p_keep_last => 0)`, [], 'RT006'],
      [`select * from retention.backup_plan('nope', $1)`, [ok], 'RT008'],
      [`select * from retention.backup_plan('main', '{"a": 1}')`, [], 'RT039'],
      [`select * from retention.backup_plan('main', '[{"name": "../etc", "taken_at": "2026-11-01"}]')`, [], 'RT039'],
      [`select * from retention.backup_plan('main', '[{"name": "a/b", "taken_at": "2026-11-01"}]')`, [], 'RT039'],
      [`select * from retention.backup_plan('main', '[{"name": "a", "taken_at": "yesterday-ish"}]')`, [], 'RT039'],
      [`select * from retention.backup_plan('main', '[{"name": "a", "taken_at": "2026-11-01"}, {"name": "a", "taken_at": "2026-11-02"}]')`, [], 'RT039'],
      [`select * from retention.backup_plan('main', $1, now() + interval '1 day')`, [ok], 'RT022'],
      [`select retention.backup_prune_intent('main', $1, '20261102T020000Z')`, [ok], 'RT039'],   // the newest
      [`select retention.backup_prune_intent('main', $1, 'nope')`, [ok], 'RT039'],
      [`select retention.backup_prune_done(424242)`, [], '55000'],
      [`select retention.backup_prune_check(424242, $1)`, [ok], '55000'],
      [`select retention.place_hold('backups', 'nope', 'why')`, [], 'RT008'],
      [`select retention.place_hold('backups', 'main/../x', 'why')`, [], 'RT010'],
      [`select retention.place_hold('backups', 'main/', 'why')`, [], 'RT010'],
      [`select retention.drop_backup_policy('nope')`, [], 'RT008'],
      [`select retention.backup_prune_cancel(424242, 'x')`, [], '55000'],
      [`select retention.backup_prune_reconcile('nope', $1)`, [ok], 'RT008'],
      [`select retention.backup_prune_reconcile('main', '"not a list"')`, [], 'RT039'],
      [`select retention.set_backup_policy('b', 'main', p_keep_weekly => '300000 years')`, [], 'RT004'],
      [`select retention.set_backup_policy('second', 'main')`, [], 'RT039'],   // one policy per store
      ...['2026-12-01 02:00:00 EST', 'epoch', 'infinity', '2026-12-01 02:00:00 BC', '2026-12-01', '2026-12-01T02:00:00', '2026-12-01T02:00:00+99:00']
        .map((t): [string, unknown[], string] => [`select * from retention.backup_plan('main', $1)`, [JSON.stringify([{ name: 'a', taken_at: t }])], 'RT039']),
    ];
    for (const [sql, args, code] of cases) expect([sql, await sqlState(q(sql, args))]).toEqual([sql, code]);
    expect(await q(`select (select count(*) from retention.backup_policies)::int as p, (select count(*) from retention.backup_prunings)::int as r,
                           (select count(*) from retention.legal_holds)::int as h, (select count(*) from retention.audit_log)::int as a`)).toEqual(before);
    // A held policy cannot be dropped.
    await q(`select retention.place_hold('backups', 'main', 'frozen')`);
    expect(await sqlState(q(`select retention.drop_backup_policy('main')`))).toBe('RT024');
    for (const role of ['retention_runner', 'retention_auditor', 'retention_requester', 'retention_approver']) {
      const c = await db.connect();
      await c.query(`set role ${role}`);
      expect([role, await sqlState(c.query(`select retention.backup_prune_intent('main', $1, '20261101T020000Z')`, [ok]))]).toEqual([role, '42501']);
      expect([role, await sqlState(c.query(`select retention.set_backup_policy('evil', 'main', p_keep_daily => '1 second')`))]).toEqual([role, '42501']);
      await c.end();
    }
  });
});

describe('what an attacker found', () => {
  it('a hold is on the store: the policy cannot be re-pointed, nor the store given to another policy, while it is open', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 day', p_keep_weekly => '1 day')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const names = Array.from({ length: 4 }, (_, i) => take(dir, Date.now() - (40 - i) * DAY));
    await q(`select retention.place_hold('backups', $1, 'litigation A')`, [`main/${names[0]}`]);
    // The held policy cannot walk away from its store, nor another take the store.
    expect(await sqlState(q(`select retention.set_backup_policy('main', 'elsewhere', p_keep_daily => '1 day', p_keep_weekly => '1 day')`))).toBe('RT024');
    expect(await sqlState(q(`select retention.set_backup_policy('other', 'main')`))).toBe('RT039');
    const r = await pruneBackups(client, 'main', new LocalBackupStore(dir), { execute: true });
    expect(r.deleted).toEqual(names.slice(1, 3));
    expect(present(dir)).toEqual([names[0]!, names[3]!]);
  });

  it('the check runs at read committed; a policy cannot be dropped or moved while a pruning is under way; a backup gone already is recorded so', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 day', p_keep_weekly => '1 day')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const names = Array.from({ length: 3 }, (_, i) => take(dir, Date.now() - (30 - i) * DAY));
    const listing = JSON.stringify((await new LocalBackupStore(dir).list()).backups.map((b) => ({ name: b.name, taken_at: b.takenAt })));
    const [a] = await q(`select retention.backup_prune_intent('main', $1, $2) as id`, [listing, names[0]]);
    const c = await db.connect();
    await c.query('begin isolation level repeatable read');
    expect(await sqlState(c.query(`select retention.backup_prune_check($1, $2)`, [a!.id, listing]))).toBe('25001');
    await c.query('rollback');
    await c.end();
    expect(await sqlState(q(`select retention.drop_backup_policy('main')`))).toBe('RT039');
    expect(await sqlState(q(`select retention.set_backup_policy('main', 'elsewhere')`))).toBe('RT039');
    // Someone else deleted it meanwhile: settled as deleted, with a note saying so.
    rmSync(path.join(dir, names[1]!), { recursive: true });
    await q(`select retention.backup_prune_cancel($1, 'test')`, [a!.id]);
    const store = new LocalBackupStore(dir);
    const gone: BackupStore = { url: store.url, list: async () => ({ backups: [...(await store.list()).backups, { name: names[1]!, takenAt: new Date(Date.now() - 29 * DAY).toISOString(), timeFrom: 'name', bytes: 0, files: 0 }], ignored: [] }),
                                remove: (n) => store.remove(n), measure: (n) => store.measure(n), finished: (n, ms) => store.finished(n, ms) };
    await pruneBackups(client, 'main', gone, { execute: true });
    expect(await q(`select backup_name, status, error from retention.backup_prunings where backup_name = $1`, [names[1]]))
      .toEqual([{ backup_name: names[1], status: 'deleted', error: expect.stringMatching(/not there any more/) }]);
  });

  it('a backup still being written or copied is not finished: never pruned, and the previous one stays the newest', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 hour', p_keep_weekly => '1 hour')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const older = take(dir, Date.now() - 3 * DAY);
    const complete = take(dir, Date.now() - 2 * DAY);
    // Being copied in name order: its manifest is there, a file just changed.
    const copying = take(dir, Date.now() - 60_000);
    // (A new file, not a write through the hard link the copy shares with the others.)
    rmSync(path.join(dir, copying, 'PG_VERSION'));
    writeFileSync(path.join(dir, copying, 'PG_VERSION'), '15\n');
    let r = await pruneBackups(client, 'main', new LocalBackupStore(dir), { execute: true });
    expect(r.ignored).toContainEqual({ name: copying, why: expect.stringMatching(/still being written or copied/) });
    expect(r.deleted).toEqual([older]);
    expect(present(dir)).toEqual([complete, copying]);
    if (realIsReal) {
      // Plain format with a file the manifest lists missing: not finished either.
      const torn = take(dir, Date.now() - 30_000);
      rmSync(path.join(dir, torn, 'global', 'pg_control'));
      r = await pruneBackups(client, 'main', new LocalBackupStore(dir), { execute: true });
      expect(r.ignored).toContainEqual({ name: torn, why: expect.stringMatching(/global\/pg_control is missing/) });
      expect(present(dir)).toContain(complete);
    }
  });
});

describe('what a second attacker found', () => {
  const finishedCopy = (dir: string, name: string) => { spawnSync('cp', ['-al', real, path.join(dir, name)]); return name; };
  const unfinish = (dir: string, name: string) => writeFileSync(path.join(dir, name, 'partial.tmp'), 'still copying');

  it('two backups at the same instant, or one named after the time judged at: the unfinished one never counts as the newest', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 day', p_keep_weekly => '1 day')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const good = finishedCopy(dir, '2026-10-01_02-00-00');
    const partial = finishedCopy(dir, '20261001T020000Z');
    unfinish(dir, partial);
    const old = finishedCopy(dir, '20260901T020000Z');
    const r = await pruneBackups(client, 'main', new LocalBackupStore(dir), { execute: true });
    expect(r.ignored).toContainEqual({ name: partial, why: expect.stringMatching(/still being written/) });
    expect(r.deleted).toEqual([old]);
    expect(readdirSync(dir).sort()).toEqual([good, partial].sort());
    // Judged at an earlier time, a later unfinished backup does not count either.
    const dir2 = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const a = finishedCopy(dir2, '20260901T020000Z');
    const b = finishedCopy(dir2, '20261001T020000Z');
    unfinish(dir2, b);
    finishedCopy(dir2, '20261125T020000Z');
    const plan = (await pruneBackups(client, 'main', new LocalBackupStore(dir2), { execute: false, asOf: '2026-10-15T00:00:00Z' })).plan;
    expect(plan.find((p) => p.backup_name === a)).toMatchObject({ keep: true, rule: 'newest' });
  });

  it('the store is read again before each deletion: the newest gone meanwhile does not leave the last one to go', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 day', p_keep_weekly => '1 day')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const away = mkdtempSync(path.join(os.tmpdir(), 'retention-away-'));
    const older = finishedCopy(dir, '20260801T020000Z');
    const newest = finishedCopy(dir, '20261101T020000Z');
    class Moving extends LocalBackupStore {
      override async measure(name: string) {
        spawnSync('mv', [path.join(this.dir, newest), away]);
        return super.measure(name);
      }
    }
    const r = await pruneBackups(client, 'main', new Moving(dir), { execute: true });
    expect(r.deleted).toEqual([]);
    expect(readdirSync(dir)).toEqual([older]);
  });

  it('odd entries are passed over, not fatal; a truncated base.tar is not finished; a settled pruning of a backup still there stays unsettled', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 day', p_keep_weekly => '1 day')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    finishedCopy(dir, '20261001T020000+16');                       // an offset no clock has
    finishedCopy(dir, '20261002T020000Z\u0085');                   // a C1 control character
    const broken = finishedCopy(dir, '20260601T020000Z');
    writeFileSync(Buffer.from(`${path.join(dir, broken)}/bad\xff`, 'latin1'), 'x');   // a name that is not UTF-8
    const old2 = finishedCopy(dir, '20260701T020000Z');
    const newest = finishedCopy(dir, '20261101T020000Z');
    const r = await pruneBackups(client, 'main', new LocalBackupStore(dir), { execute: true });
    // The impossible offset is no time in the name: the backup_label's time counts instead.
    expect(timeInName('20261001T020000+16')).toBeNull();
    expect(r.ignored.map((i) => i.name)).toEqual(expect.arrayContaining(['20261002T020000Z\u0085']));
    expect(r.deleted).toEqual(expect.arrayContaining([old2, newest]));
    // (Its backup_label says it was taken today: it is the newest, and stays.)
    expect(readdirSync(dir)).toContain('20261001T020000+16');

    // Tar format: a base.tar cut short is not finished, however old.
    const tdir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    for (const [n, bytes] of [['20261120T020000Z', Buffer.concat([Buffer.alloc(512, 1), Buffer.alloc(1024)])], ['20261125T020000Z', Buffer.alloc(1000, 1)]] as const) {
      mkdirSync(path.join(tdir, n));
      writeFileSync(path.join(tdir, n, 'base.tar'), bytes);
      writeFileSync(path.join(tdir, n, 'backup_manifest'), '{}');
      spawnSync('find', [path.join(tdir, n), '-exec', 'touch', '-h', '-d', '2 hours ago', '{}', '+']);
    }
    const t = await pruneBackups(client, 'main', new LocalBackupStore(tdir), { execute: false });
    expect(t.ignored).toContainEqual({ name: '20261125T020000Z', why: expect.stringMatching(/end-of-archive/) });
    expect(t.plan.find((p) => p.backup_name === '20261120T020000Z')).toMatchObject({ keep: true, rule: 'newest' });

    // A pruning left under way whose backup is still in the store (only ignored now: a link)
    // is not settled as deleted.
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '1 day', p_keep_weekly => '1 day')`);
    const sdir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const keepMe = finishedCopy(sdir, '20260801T020000Z');
    finishedCopy(sdir, '20261101T020000Z');
    const listing = JSON.stringify((await new LocalBackupStore(sdir).list()).backups.map((b) => ({ name: b.name, taken_at: b.takenAt })));
    await q(`select retention.backup_prune_intent('main', $1, $2)`, [listing, keepMe]);
    const disk2 = mkdtempSync(path.join(os.tmpdir(), 'retention-disk2-'));
    spawnSync('mv', [path.join(sdir, keepMe), disk2]);
    symlinkSync(path.join(disk2, keepMe), path.join(sdir, keepMe));
    await pruneBackups(client, 'main', new LocalBackupStore(sdir), { execute: true });
    expect(await q(`select status from retention.backup_prunings where backup_name = $1`, [keepMe])).toEqual([{ status: 'interrupted' }]);
  });

  it('two store names for one place are refused', () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    expect(() => backupStores({ PG_RETENTION_BACKUP_STORES: `a=${d},b=${d}/` })).toThrow(/same place/);
    expect(() => backupStores({ PG_RETENTION_BACKUP_STORES: 'a=s3://bucket/p,b=s3://bucket/p/' })).toThrow(/same place/);
  });
});

describe('backup pruning in a real S3 API server', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3('backups');
  }, 120_000);
  afterAll(async () => {
    await s3?.stop();
  });

  it('prunes backups stored under a prefix, object by object, and keeps the rest', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('offsite', 'offsite', p_keep_daily => '3 days', p_keep_weekly => '3 days')`);
    const up = new S3Target(s3.bucket, 'pg', { endpoint: s3.endpoint, region: 'us-east-1' });
    const now = Date.now();
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const n = stamp(now - (6 - i) * DAY + 60_000);
      names.push(n);
      const files = ['backup_label', 'base/1/1259', 'global/pg_control'];
      for (const f of files) await up.put(`${n}/${f}`, Buffer.from(`${n} ${f}`));
      // Plain format: the manifest lists every file with its size.
      await up.put(`${n}/backup_manifest`, Buffer.from(JSON.stringify({ 'PostgreSQL-Backup-Manifest-Version': 1,
        Files: files.map((f) => ({ Path: f, Size: Buffer.byteLength(`${n} ${f}`) })) })));
    }
    await up.put('README', Buffer.from('not a backup'));
    await up.put('20200101T000000Z/base/1/1', Buffer.from('an upload without its manifest'));
    await up.put('bad\\name/backup_manifest', Buffer.from('a name the store refuses'));
    const store = new S3BackupStore(s3.bucket, 'pg', { endpoint: s3.endpoint, region: 'us-east-1' });
    // Just uploaded: finished only with no settle time (the local tests cover settling).
    const r = await pruneBackups(client, 'offsite', store, { execute: true, settleMs: 0 });
    expect(r.deleted).toEqual(names.slice(0, 3));
    expect(r.ignored.map((i) => i.name).sort()).toEqual(['20200101T000000Z', 'README', 'bad\\name']);
    expect((await store.list()).backups.map((b) => b.name)).toEqual(names.slice(3));
    for (const n of names.slice(0, 3)) await expect(up.get(`${n}/backup_manifest`)).rejects.toThrow(/not in/);
    expect(await count(db, `retention.backup_prunings where policy_name = 'offsite' and status = 'deleted' and files = 4`)).toBe(3);
    store.destroy();
    up.destroy();
  }, 60_000);
});

// The binaries the real backups need are in CI (Debian's postgresql-15).
it('CI has pg_basebackup', () => {
  if (process.env.CI === 'true') expect(postgresBin()).not.toBeNull();
});

describe('the CLI and the worker', () => {
  const cli = (args: string[], env: Record<string, string> = {}, input?: string) => {
    const r = spawnSync(process.execPath, ['runner/cli.ts', 'backups', ...args], {
      env: { ...process.env, DATABASE_URL: db.url, PG_RETENTION_ACTOR: 'ci-test', PG_RETENTION_BACKUP_STORES: '', ...env }, encoding: 'utf8', input,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('backups policies, list, prune (preview, then --execute) and plan over a listing; usage errors exit 2 and change nothing', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '3 days', p_keep_weekly => '3 days')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const now = Date.now();
    const names = Array.from({ length: 6 }, (_, i) => take(dir, now - (6 - i) * DAY + 60_000));
    const env = { PG_RETENTION_BACKUP_STORES: `main=${dir}` };
    expect(JSON.parse(cli(['policies', '--json']).out)).toMatchObject([{ name: 'main', store: 'main', keep_daily: '3 days', keep_last: 1 }]);
    const listed = JSON.parse(cli(['list', 'main', '--json'], env).out) as { backup: string; action: string; reason: string }[];
    expect(listed.map((l) => `${l.backup}:${l.action}`)).toEqual(names.map((n, i) => `${n}:${i < 3 ? 'prune' : 'keep'}`));
    const preview = cli(['prune', 'main'], env);
    expect([preview.code, preview.out]).toEqual([0, expect.stringContaining('3 backup(s) would be pruned; nothing was deleted (add --execute)')]);
    for (const [args, e, input] of [[['purge'], env], [['list'], env], [['plan', 'main'], env], [['list', 'main', '--execute'], env],
                                    [['list', 'main'], { PG_RETENTION_BACKUP_STORES: 'other=/tmp' }], [['list', 'main'], { PG_RETENTION_BACKUP_STORES: 'bad' }],
                                    [['plan', 'main', '--listing', '-'], env, 'not json'], [['list', 'main', 'extra'], env]] as [string[], Record<string, string>, string?][]) {
      const r = cli(args, e, input);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.err).toMatch(/\S/);
    }
    expect(present(dir)).toEqual(names);
    expect(await count(db, `retention.backup_prunings`)).toBe(0);
    const done = cli(['prune', 'main', '--execute'], env);
    expect([done.code, done.out.trim().split('\n').at(-1)]).toEqual([0, '3 backup(s) pruned, 3 kept']);
    expect(present(dir)).toEqual(names.slice(3));
    // plan: the decision over a listing from elsewhere (a pgBackRest or WAL-G listing).
    const listing = JSON.stringify([{ name: '20260101-020000F', taken_at: '2026-01-01T02:00:00Z' }, { name: '20260102-020000F', taken_at: '2026-01-02T02:00:00Z' },
                                    { name: 'latest', taken_at: new Date(now).toISOString() }]);
    const plan = cli(['plan', 'main', '--listing', '-', '--names'], {}, listing);
    expect([plan.code, plan.out.trim().split('\n')]).toEqual([0, ['20260101-020000F', '20260102-020000F']]);
  }, 60_000);

  it('the worker prunes the stores of enabled backup policies, as a login in retention_runner and retention_archiver', async () => {
    await resetPolicies();
    await q(`select retention.set_backup_policy('main', 'main', p_keep_daily => '3 days', p_keep_weekly => '3 days')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-backups-'));
    const now = Date.now();
    const names = Array.from({ length: 5 }, (_, i) => take(dir, now - (5 - i) * DAY + 60_000));
    await installJobSchema(db.url, loadConfig({ DATABASE_URL: db.url }));
    const login = `bp_worker_${randomBytes(3).toString('hex')}`;
    await q(`create role ${login} login password 'pw' in role retention_runner, retention_archiver`);
    const u = new URL(db.url);
    u.username = login;
    u.password = 'pw';
    const w = startWorker({ DATABASE_URL: u.toString(), PG_RETENTION_ACTOR: 'test-worker', PG_RETENTION_BACKUP_STORES: `main=${dir}`,
                            PG_RETENTION_BACKUP_INTERVAL: '1s' });
    try {
      const pruned = await w.waitFor((l) => l.msg === 'backups pruned');
      expect(pruned).toMatchObject({ backup_policy: 'main', deleted: names.slice(0, 2) });
      expect(present(dir)).toEqual(names.slice(2));
      expect(await q(`select pruned_by from retention.backup_prunings`)).toEqual([{ pruned_by: 'test-worker' }, { pruned_by: 'test-worker' }]);
    } finally {
      w.proc.kill('SIGTERM');
      await w.exited;
      await q(`drop owned by ${login}`).catch(() => {});
      await q(`drop role if exists ${login}`).catch(() => {});
    }
  }, 60_000);
});
