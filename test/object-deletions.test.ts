// Files deleted with their rows: an object column's references enter the object outbox in
// the transaction that removes the row (a policy's batch, its cascade, an erasure, a
// scrub, a dropped partition), and only then; the worker deletes the objects from a local
// directory or a real S3 API server, retried with backoff when the store fails, dead and
// notified after the attempts; an object a remaining row still references is never deleted.
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../runner/config.ts';
import { installJobSchema } from '../runner/migrate.ts';
import { startWorker } from './support/worker.ts';
import { LocalDirTarget, S3Target, type StorageTarget } from '../runner/archive/storage.ts';
import { drainObjects, objectSetup, type ObjectSetup } from '../runner/objects.ts';
import { ConfigError } from '../runner/config.ts';
import { loginAs, sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';
import { startS3, type TestS3 } from './support/s3.ts';

const db = useTestDatabase();
const q = db.q;
// A settled key is kept as 'k' and sha256 under the owner's secret (round atk70).
let hashKey = '';
beforeAll(async () => {
  hashKey = (await q<{ k: string }>('select k from retention_internal.row_hash_key'))[0]!.k;
});
const sha = (s: string) => `k${createHash('sha256').update(hashKey + s).digest('hex')}`;

/** Files under a directory, relative, sorted. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else out.push(path.relative(dir, path.join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

function put(dir: string, key: string): void {
  mkdirSync(path.dirname(path.join(dir, key)), { recursive: true });
  writeFileSync(path.join(dir, key), `object ${key}`);
}

const local = (dir: string, maxAttempts = 8): ObjectSetup => ({ targets: new Map([['rec', new LocalDirTarget(dir)]]), maxAttempts });

/** Meetings (user 7's, user 8's, anonymous) with recordings, transcripts that cascade. */
async function app(dir: string): Promise<void> {
  await q(`select retention.release_hold(hold_id, 'test reset') from retention.legal_holds where released_at is null`);
  await q(`select retention.drop_policy(name) from retention.policies`);
  await q(`drop schema if exists ob cascade`);
  await q(`delete from retention.object_columns`);
  await q(`delete from retention.object_deletions`);
  await q(`delete from retention.notifications`);
  await q(`create schema ob`);
  await q(`create table ob.users (id bigint primary key, email text)`);
  await q(`create table ob.meetings (id bigint primary key, user_id bigint references ob.users on delete cascade,
             created_at timestamptz not null, recording_key text)`);
  await q(`create index on ob.meetings (created_at)`);
  await q(`create index on ob.meetings (recording_key)`);
  await q(`create table ob.transcripts (id bigint primary key, meeting_id bigint references ob.meetings on delete cascade,
             file_url varchar(300))`);
  await q(`create index on ob.transcripts (file_url)`);
  await q(`insert into ob.users values (7, 'seven@example.com'), (8, 'eight@example.com'), (9, 'nine@example.com')`);
  // 1-6 are 10 days old, 7-8 are new. 5 (user 9) is under a subject hold. 6 shares its
  // recording with 7, which stays. 4 has no recording.
  await q(`insert into ob.meetings values
             (1, 7, now() - interval '10 days', 'm/1.webm'), (2, 8, now() - interval '10 days', 'm/2.webm'),
             (3, null, now() - interval '10 days', 'm/3.webm'), (4, null, now() - interval '10 days', null),
             (5, 9, now() - interval '10 days', 'm/5.webm'), (6, null, now() - interval '10 days', 'm/shared.webm'),
             (7, null, now(), 'm/shared.webm'), (8, 7, now(), 'm/8.webm')`);
  await q(`insert into ob.transcripts values (1, 1, 'https://cdn.example.com/t/1.txt'), (2, 2, 'https://cdn.example.com/t/2.txt'),
             (3, 5, 'https://cdn.example.com/t/5.txt'), (4, 8, 'https://cdn.example.com/t/8.txt'), (5, 3, null)`);
  for (const k of ['m/1.webm', 'm/2.webm', 'm/3.webm', 'm/5.webm', 'm/shared.webm', 'm/8.webm', 't/1.txt', 't/2.txt', 't/5.txt', 't/8.txt', 'unrelated.bin']) put(dir, k);
  await q(`select retention.set_object_column('ob.meetings', 'recording_key', 'rec', p_reason => 'meeting recordings')`);
  await q(`select retention.set_object_column('ob.transcripts', 'file_url', 'rec', 'https://cdn.example.com/')`);
  await q(`select retention.set_policy('meetings', 'ob.meetings', 'delete', 'created_at', p_retain => '7 days', p_subject_column => 'user_id')`);
  await q(`select retention.place_hold('subject', '9', 'litigation', 'CASE-1')`);
}

const outbox = () => q(`select target, object_key, key_sha256, rel_name, column_name, status, attempts, run_id::int
                          from retention.object_deletions order by deletion_id`);

describe('object columns', () => {
  it('a policy run queues the objects of the rows it deletes and of their cascade, none of held or remaining rows; the worker deletes them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await db.call(`call retention.run('meetings')`);
    expect((await q(`select id::int from ob.meetings order by id`)).map((r) => r.id)).toEqual([5, 7, 8]);
    const [run] = await q(`select run_id::int from retention.runs where policy_name = 'meetings' order by run_id desc limit 1`);
    const box = await outbox();
    expect(box.map((b) => `${b.column_name}:${b.object_key}`).sort()).toEqual(
      ['file_url:t/1.txt', 'file_url:t/2.txt', 'recording_key:m/1.webm', 'recording_key:m/2.webm', 'recording_key:m/3.webm', 'recording_key:m/shared.webm']);
    for (const b of box) {
      expect(b).toMatchObject({ target: 'rec', status: 'pending', attempts: 0, run_id: run!.run_id, key_sha256: sha(b.object_key) });
    }
    expect(new Set(box.map((b) => b.rel_name))).toEqual(new Set(['ob.meetings', 'ob.transcripts']));

    const r = await drainObjects(db.pool, local(dir));
    expect(r).toEqual({ deleted: 5, failed: 0, dead: 0, kept: 1 });
    // The held meeting's objects, the shared recording (meeting 7 keeps it), the new
    // meeting's and the unrelated file remain.
    expect(files(dir)).toEqual(['m/5.webm', 'm/8.webm', 'm/shared.webm', 't/5.txt', 't/8.txt', 'unrelated.bin']);
    const settled = await q(`select status, object_key, settled_at is not null as settled, key_sha256 from retention.object_deletions order by deletion_id`);
    expect(settled.filter((s) => s.status === 'kept').map((s) => s.key_sha256)).toEqual([sha('m/shared.webm')]);
    // Settled entries keep the key's hash only.
    for (const s of settled) expect(s).toMatchObject({ object_key: null, settled: true });
    expect((await drainObjects(db.pool, local(dir)))).toEqual({ deleted: 0, failed: 0, dead: 0, kept: 0 });
  });

  it('the application\'s own deletes and a forged run id queue nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await q(`delete from ob.meetings where id = 1`);
    await q(`update ob.meetings set recording_key = 'm/other.webm' where id = 2`);
    // A session sets retention.run_id to a run of another backend (running) or to a finished one.
    const a = await db.connect();
    const [open] = (await a.query(`select retention.open_run('meetings') as id`)).rows;
    const b = await db.connect();
    await b.query(`begin`);
    await b.query(`select set_config('retention.run_id', $1, true)`, [String(open.id)]);
    await b.query(`delete from ob.meetings where id = 3`);
    await b.query(`commit`);
    await b.query(`begin`);
    await b.query(`set local retention.run_id = 'x; drop table ob.users'`);
    await b.query(`delete from ob.meetings where id = 6`);
    await b.query(`commit`);
    await b.end();
    await a.end();
    expect(await count(db, `retention.object_deletions`)).toBe(0);
    expect(files(dir)).toContain('m/1.webm');
  });

  it('a batch that rolls back leaves no entry; a scrub queues the scrubbed reference; an erasure queues its rows\' objects', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    const c = await db.connect();
    await c.query(`begin`);
    const [r] = (await c.query(`select retention.open_run('meetings') as id`)).rows;
    await c.query(`select retention.run_step($1)`, [r.id]);
    expect(Number((await c.query(`select count(*) from retention.object_deletions`)).rows[0].count)).toBeGreaterThan(0);
    await c.query(`rollback`);
    await c.end();
    expect(await count(db, `retention.object_deletions`)).toBe(0);
    expect(await count(db, `ob.meetings`)).toBe(8);

    // Scrub: the reference goes, the row stays.
    await q(`create table ob.profiles (id int primary key, left_at timestamptz not null, avatar text, name text)`);
    await q(`insert into ob.profiles values (1, now() - interval '1 year', 'avatars/1.png', 'Ann'), (2, now(), 'avatars/2.png', 'Bo')`);
    put(dir, 'avatars/1.png');
    put(dir, 'avatars/2.png');
    await q(`select retention.set_object_column('ob.profiles', 'avatar', 'rec')`);
    await q(`select retention.set_policy('profiles', 'ob.profiles', 'scrub', 'left_at', p_retain => '30 days',
               p_scrub => '{"avatar": "null", "name": "null"}')`);
    await db.call(`call retention.run('profiles')`);
    expect(await q(`select id, avatar, name from ob.profiles order by id`)).toEqual([{ id: 1, avatar: null, name: null }, { id: 2, avatar: 'avatars/2.png', name: 'Bo' }]);
    expect((await outbox()).map((b) => b.object_key)).toEqual(['avatars/1.png']);

    // Erasure of user 7: meetings 1 and 8 (and transcripts 1, 4) go, with their objects.
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const [req] = await q(`select request_id from retention.request_erasure('ob.users', '7', 'privacy form')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).toEqual([{ status: 'completed' }]);
    expect((await outbox()).map((b) => b.object_key).sort()).toEqual(['avatars/1.png', 'm/1.webm', 'm/8.webm', 't/1.txt', 't/8.txt']);
    await drainObjects(db.pool, local(dir));
    expect(files(dir).filter((f) => ['m/1.webm', 'm/8.webm', 't/1.txt', 't/8.txt', 'avatars/1.png'].includes(f))).toEqual([]);
    expect(files(dir)).toContain('avatars/2.png');
  });

  it('drop_partitions queues the objects of the partitions it drops, not of those it keeps', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await q(`create table ob.calls (id bigint, at timestamptz not null, audio text) partition by range (at)`);
    await q(`create table ob.calls_old partition of ob.calls for values from ('2025-01-01') to ('2025-02-01')`);
    await q(`create table ob.calls_new partition of ob.calls for values from ('2025-02-01') to ('2099-01-01')`);
    await q(`insert into ob.calls values (1, '2025-01-05', 'calls/1.ogg'), (2, '2025-01-06', null), (3, '2025-01-07', 'calls/3.ogg'),
               (4, now(), 'calls/4.ogg')`);
    await q(`select retention.set_object_column('ob.calls', 'audio', 'rec')`);
    // A partition attached later gets the triggers too.
    await q(`create table ob.calls_future partition of ob.calls for values from ('2099-01-01') to ('2100-01-01')`);
    expect(await count(db, `pg_trigger where tgrelid = 'ob.calls_future'::regclass and tgname like 'retention_objects_%' and tgenabled = 'A'`)).toBe(2);
    await q(`select retention.set_policy('calls', 'ob.calls', 'drop_partitions', 'at', p_retain => '30 days', p_max_rows_per_run => 100000)`);
    await db.call(`call retention.run('calls')`);
    expect(await count(db, `to_regclass('ob.calls_old') x where x is not null`)).toBe(0);
    expect((await outbox()).map((b) => `${b.rel_name}:${b.object_key}:${b.status}`).sort()).toEqual(
      ['ob.calls:calls/1.ogg:pending', 'ob.calls:calls/3.ogg:pending']);
  });

  it('a batch refuses (RT038) while an object column lost its trigger or its column, and removes nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    const [col] = await q(`select column_id::int from retention.object_columns where rel = 'ob.transcripts'::regclass`);
    // The cascaded table's trigger disabled: the run of meetings refuses.
    await q(`alter table ob.transcripts disable trigger retention_objects_${col!.column_id}_d`);
    await db.call(`call retention.run('meetings')`).catch(() => undefined);
    let [run] = await q(`select status, error_code from retention.runs order by run_id desc limit 1`);
    expect(run).toEqual({ status: 'failed', error_code: 'RT038' });
    expect(await count(db, `ob.meetings`)).toBe(8);
    // Enabled again, but not ALWAYS (session_replication_role = replica would skip it).
    await q(`alter table ob.transcripts enable trigger retention_objects_${col!.column_id}_d`);
    await db.call(`call retention.run('meetings')`).catch(() => undefined);
    [run] = await q(`select status, error_code from retention.runs order by run_id desc limit 1`);
    expect(run).toEqual({ status: 'failed', error_code: 'RT038' });
    // Registering again puts it right.
    await q(`select retention.set_object_column('ob.transcripts', 'file_url', 'rec', 'https://cdn.example.com/')`);
    await q(`alter table ob.meetings rename column recording_key to rec_key`);
    await db.call(`call retention.run('meetings')`).catch(() => undefined);
    [run] = await q(`select status, error_code from retention.runs order by run_id desc limit 1`);
    expect(run).toEqual({ status: 'failed', error_code: 'RT038' });
    expect(await count(db, `ob.meetings`)).toBe(8);
    expect(await count(db, `retention.object_deletions`)).toBe(0);
  });

  it('refuses bad registrations with a hint and changes nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await q(`create table ob.parts (id int, at timestamptz, f text) partition by range (at)`);
    await q(`create table ob.parts_1 partition of ob.parts for values from ('2025-01-01') to ('2026-01-01')`);
    await q(`create view ob.v as select * from ob.meetings`);
    const before = await q(`select (select count(*) from retention.object_columns)::int as cols,
                                   (select count(*) from pg_trigger where tgname like 'retention_objects_%')::int as trg,
                                   (select count(*) from retention.audit_log)::int as audit`);
    const cases: [string, unknown[], string][] = [
      [`select retention.set_object_column('ob.nope', 'f', 'rec')`, [], 'RT001'],
      [`select retention.set_object_column('ob.meetings', 'nope', 'rec')`, [], 'RT002'],
      [`select retention.set_object_column('ob.meetings', 'created_at', 'rec')`, [], 'RT020'],
      [`select retention.set_object_column('ob.meetings', 'recording_key', $1)`, ['s3://bucket/prefix'], 'RT020'],
      [`select retention.set_object_column('ob.meetings', 'recording_key', $1)`, ["rec'; drop table ob.users; --"], 'RT020'],
      [`select retention.set_object_column('ob.meetings', 'recording_key', null)`, [], 'RT020'],
      [`select retention.set_object_column('ob.meetings', 'recording_key', 'rec', $1)`, ['https://x/\n'], 'RT020'],
      [`select retention.set_object_column('ob.meetings', 'recording_key', 'rec', '')`, [], 'RT020'],
      [`select retention.set_object_column('ob.parts_1', 'f', 'rec')`, [], 'RT020'],
      [`select retention.set_object_column('ob.v', 'recording_key', 'rec')`, [], 'RT020'],
      [`select retention.set_object_column('ob.meetings; drop table ob.users', 'recording_key', 'rec')`, [], 'RT001'],
      [`select retention.drop_object_column('ob.meetings', 'email')`, [], 'RT002'],
      [`select retention.claim_object_deletions('{}')`, [], 'RT006'],
      [`select retention.claim_object_deletions('{rec}', 0)`, [], 'RT006'],
      [`select retention.object_deletion_done(12345)`, [], '55000'],
    ];
    for (const [sql, args, code] of cases) expect([sql, await sqlState(q(sql, args))]).toEqual([sql, code]);
    const after = await q(`select (select count(*) from retention.object_columns)::int as cols,
                                  (select count(*) from pg_trigger where tgname like 'retention_objects_%')::int as trg,
                                  (select count(*) from retention.audit_log)::int as audit`);
    expect(after).toEqual(before);
    // A key column's type counts with its domains resolved, however deep: a domain over a
    // domain over text is a text column; the same over int is not.
    await q(`create domain ob.k1 as text; create domain ob.k2 as ob.k1; create domain ob.i1 as int; create domain ob.i2 as ob.i1`);
    await q(`create table ob.docs (id int primary key, k ob.k2, n ob.i2)`);
    expect(await sqlState(q(`select retention.set_object_column('ob.docs', 'n', 'rec')`))).toBe('RT020');
    await q(`select retention.set_object_column('ob.docs', 'k', 'rec')`);
    expect(await count(db, `retention.object_columns where rel = 'ob.docs'::regclass`)).toBe(1);
    await q(`select retention.drop_object_column('ob.docs', 'k')`);
    // Dropping one removes its triggers, audit-logged.
    await q(`select retention.drop_object_column('ob.transcripts', 'file_url')`);
    expect(await count(db, `pg_trigger where tgrelid = 'ob.transcripts'::regclass and tgname like 'retention_objects_%'`)).toBe(0);
    expect(await q(`select action, object_name, details->>'column' as col from retention.audit_log order by audit_id desc limit 1`))
      .toEqual([{ action: 'object_column.dropped', object_name: 'ob.transcripts', col: 'file_url' }]);
  });

  it('a reference that names no object in the target is dead from the start and never reaches the store', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    const outside = mkdtempSync(path.join(os.tmpdir(), 'retention-outside-'));
    writeFileSync(path.join(outside, 'secret'), 'x');
    await q(`update ob.meetings set recording_key = $1 where id = 1`, [`../${path.basename(outside)}/secret`]);
    await q(`update ob.meetings set recording_key = '/etc/passwd' where id = 2`);
    await q(`update ob.transcripts set file_url = 'https://evil.example.com/t/1.txt' where id = 1`);
    await q(`update ob.meetings set recording_key = e'm/a\\u0007b' where id = 3`);
    await db.call(`call retention.run('meetings')`);
    const box = await q(`select object_key, status, last_error, attempts from retention.object_deletions where status = 'dead' order by deletion_id`);
    expect(box.map((b) => b.object_key).sort()).toEqual([`../${path.basename(outside)}/secret`, '/etc/passwd', 'https://evil.example.com/t/1.txt', 'm/a\u0007b'].sort());
    expect(box.every((b) => b.attempts === 0 && /key|prefix/.test(b.last_error))).toBe(true);
    expect(await count(db, `retention.notifications where kind = 'object_deletion_failed'`)).toBe(4);
    await drainObjects(db.pool, local(dir));
    expect(existsSync(path.join(outside, 'secret'))).toBe(true);
    // Never attempted: retry leaves them dead.
    expect((await q(`select retention.retry_object_deletions() as n`))[0]!.n).toBe(0);
  });

  it('the local target does not follow a symbolic link out of its directory, and a missing directory is a failure', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    const outside = mkdtempSync(path.join(os.tmpdir(), 'retention-outside-'));
    writeFileSync(path.join(outside, 'victim'), 'x');
    symlinkSync(outside, path.join(dir, 'link'));
    const t = new LocalDirTarget(dir);
    await expect(t.delete('link/victim')).rejects.toThrow(/leads out of/);
    expect(existsSync(path.join(outside, 'victim'))).toBe(true);
    await t.delete('never/there.bin');   // not there: done
    rmSync(dir, { recursive: true });
    await expect(t.delete('m/1.webm')).rejects.toThrow(/is not there/);
  });

  it('a store that fails is retried with backoff, dead and notified after the attempts, and queued again by retry', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await db.call(`call retention.run('meetings')`);
    let calls = 0;
    const flaky: StorageTarget = {
      url: 'flaky', put: async () => {}, get: async () => Buffer.alloc(0),
      delete: async (key) => {
        calls += 1;
        if (calls <= 5) throw new Error(`store unavailable (${calls})`);
        await new LocalDirTarget(dir).delete(key);
      },
    };
    const setup: ObjectSetup = { targets: new Map([['rec', flaky]]), maxAttempts: 3 };
    expect(await drainObjects(db.pool, setup)).toEqual({ deleted: 0, failed: 5, dead: 0, kept: 1 });
    const waits = await q(`select attempts, extract(epoch from next_attempt_at - now())::int as wait, last_error
                             from retention.object_deletions where status = 'pending'`);
    expect(waits).toHaveLength(5);
    for (const w of waits) expect(w).toMatchObject({ attempts: 1, last_error: expect.stringMatching(/store unavailable/) });
    for (const w of waits) expect(w.wait).toBeGreaterThanOrEqual(25);
    // Not due yet: nothing is claimed.
    expect(await drainObjects(db.pool, setup)).toEqual({ deleted: 0, failed: 0, dead: 0, kept: 0 });
    await q(`update retention.object_deletions set next_attempt_at = now() where status = 'pending'`);
    expect(await drainObjects(db.pool, setup)).toEqual({ deleted: 5, failed: 0, dead: 0, kept: 0 });
    expect(files(dir)).toEqual(['m/5.webm', 'm/8.webm', 'm/shared.webm', 't/5.txt', 't/8.txt', 'unrelated.bin']);

    // A store that always fails: dead after 3 attempts, notified, audit-logged; retry queues it again.
    await q(`delete from ob.meetings where id = 8`);   // the application's own: nothing queued
    await q(`update ob.meetings set created_at = now() - interval '10 days' where id = 7`);
    await db.call(`call retention.run('meetings')`);
    // Its error quotes the key URI-encoded (as S3's do): kept without it, in any form.
    const down: ObjectSetup = { targets: new Map([['rec', { ...flaky, delete: async (key: string) => { throw new Error(`denied: ${encodeURIComponent(key)}`); } }]]), maxAttempts: 3 };
    for (let i = 0; i < 3; i++) {
      await drainObjects(db.pool, down);
      await q(`update retention.object_deletions set next_attempt_at = now() where status = 'pending'`);
    }
    const [dead] = await q(`select deletion_id::int, status, attempts, object_key from retention.object_deletions where status = 'dead'`);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, object_key: 'm/shared.webm' });
    expect(await q(`select payload->>'error' as e from retention.notifications where kind = 'object_deletion_failed'`)).toEqual([{ e: 'denied: <key>' }]);
    expect(await count(db, `retention.audit_log where action = 'object_deletion.dead' and details->>'key_sha256' = $1 and not details ? 'error'`, [sha('m/shared.webm')])).toBe(1);
    expect(await count(db, `retention.object_deletions where last_error like '%shared%'`)).toBe(0);
    expect((await q(`select retention.retry_object_deletions(array[$1::bigint]) as n`, [dead!.deletion_id]))[0]!.n).toBe(1);
    expect(await drainObjects(db.pool, local(dir))).toEqual({ deleted: 1, failed: 0, dead: 0, kept: 0 });
    expect(files(dir)).not.toContain('m/shared.webm');
  });

  it('a claim whose worker died is claimed again after its lease; only the archiver may claim', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await db.call(`call retention.run('meetings')`);
    const first = await q(`select deletion_id from retention.claim_object_deletions('{rec}', 100, '10 seconds') where not kept`);
    expect(first).toHaveLength(5);
    expect(await q(`select deletion_id from retention.claim_object_deletions('{rec}')`)).toEqual([]);
    await q(`update retention.object_deletions set next_attempt_at = now() where status = 'pending'`);
    expect(await drainObjects(db.pool, local(dir))).toEqual({ deleted: 5, failed: 0, dead: 0, kept: 0 });

    for (const role of ['retention_runner', 'retention_auditor', 'retention_requester']) {
      const c = await db.connect();
      await c.query(`set role ${role}`);
      expect(await sqlState(c.query(`select * from retention.claim_object_deletions('{rec}')`))).toBe('42501');
      expect(await sqlState(c.query(`select retention.set_object_column('ob.meetings', 'recording_key', 'x')`))).toBe('42501');
      await c.end();
    }
  });
});

describe('object targets from the environment', () => {
  it('parses names and URLs and refuses bad ones naming the variable', () => {
    const s = objectSetup({ PG_RETENTION_OBJECT_TARGETS: 'rec=/tmp/rec, uploads=s3://bucket/prefix', PG_RETENTION_OBJECT_ATTEMPTS: '5' });
    expect([...s.targets.keys()]).toEqual(['rec', 'uploads']);
    expect(s.maxAttempts).toBe(5);
    for (const env of [{ PG_RETENTION_OBJECT_TARGETS: 'Rec=/tmp' }, { PG_RETENTION_OBJECT_TARGETS: 'rec=ftp://x' },
                       { PG_RETENTION_OBJECT_TARGETS: 'a=/x,a=/y' }, { PG_RETENTION_OBJECT_ATTEMPTS: '0' }, { PG_RETENTION_OBJECT_ATTEMPTS: 'lots' }]) {
      expect(() => objectSetup(env)).toThrow(ConfigError);
      expect(() => objectSetup(env)).toThrow(/PG_RETENTION_OBJECT_/);
    }
  });
});

describe('objects in a real S3 API server', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3('recordings');
  }, 120_000);
  afterAll(async () => {
    await s3?.stop();
  });

  it('deletes the objects of deleted rows and keeps the rest, after failing while the store cannot be reached', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    const target = new S3Target(s3.bucket, 'app', { endpoint: s3.endpoint, region: 'us-east-1' });
    for (const k of ['m/1.webm', 'm/2.webm', 'm/3.webm', 'm/5.webm', 'm/shared.webm', 'm/8.webm', 't/1.txt', 't/2.txt', 't/5.txt', 't/8.txt']) {
      await target.put(k, Buffer.from(k));
    }
    await db.call(`call retention.run('meetings')`);
    // First the store is unreachable (nothing listens on the port): every attempt fails.
    const closed = new S3Target(s3.bucket, 'app', { endpoint: 'http://127.0.0.1:9', region: 'us-east-1' });
    expect(await drainObjects(db.pool, { targets: new Map([['rec', closed]]), maxAttempts: 8 })).toMatchObject({ deleted: 0, failed: 5 });
    closed.destroy();
    await q(`update retention.object_deletions set next_attempt_at = now() where status = 'pending'`);
    expect(await drainObjects(db.pool, { targets: new Map([['rec', target]]), maxAttempts: 8 })).toEqual({ deleted: 5, failed: 0, dead: 0, kept: 0 });
    const exists = async (k: string) => target.get(k).then(() => true, () => false);
    for (const k of ['m/1.webm', 'm/2.webm', 'm/3.webm', 't/1.txt', 't/2.txt']) expect([k, await exists(k)]).toEqual([k, false]);
    for (const k of ['m/5.webm', 'm/shared.webm', 'm/8.webm', 't/5.txt', 't/8.txt']) expect([k, await exists(k)]).toEqual([k, true]);
    target.destroy();
  });
});

describe('the CLI and the worker', () => {
  const cli = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, ['runner/cli.ts', 'objects', ...args], {
      env: { ...process.env, DATABASE_URL: db.url, PG_RETENTION_ACTOR: 'ci-test', PG_RETENTION_OBJECT_TARGETS: '', ...env }, encoding: 'utf8',
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('objects columns, list, drain and retry; usage errors exit 2 and change nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await db.call(`call retention.run('meetings')`);
    const cols = JSON.parse(cli(['columns', '--json']).out) as { table: string; column: string; target: string }[];
    expect(cols.map((c) => `${c.table}.${c.column}:${c.target}`)).toEqual(['ob.meetings.recording_key:rec', 'ob.transcripts.file_url:rec']);
    const pending = JSON.parse(cli(['list', '--json']).out) as { status: string; object_key: string }[];
    expect(pending.map((p) => p.object_key).sort()).toEqual(['m/1.webm', 'm/2.webm', 'm/3.webm', 'm/shared.webm', 't/1.txt', 't/2.txt']);
    for (const [args, env] of [[['drain'], {}], [['list', '--status', 'gone'], {}], [['list', '--limit', '0'], {}], [['retry', '1;drop'], {}],
                               [['purge'], {}], [['drain'], { PG_RETENTION_OBJECT_TARGETS: 'Bad=/x' }]] as [string[], Record<string, string>][]) {
      const r = cli(args, env);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.err).toMatch(/\S/);
    }
    expect(await count(db, `retention.object_deletions where status = 'pending'`)).toBe(6);
    const d = cli(['drain'], { PG_RETENTION_OBJECT_TARGETS: `rec=${dir}` });
    expect([d.code, d.out.trim()]).toEqual([0, '5 object(s) deleted, 1 kept (still referenced), 0 failed (retried later), 0 dead']);
    expect(files(dir)).toEqual(['m/5.webm', 'm/8.webm', 'm/shared.webm', 't/5.txt', 't/8.txt', 'unrelated.bin']);
    expect(JSON.parse(cli(['list', '--json', '--status', 'deleted']).out)).toHaveLength(5);
    expect(cli(['retry']).out.trim()).toBe('0 dead object deletion(s) queued again');
  });

  it('the worker deletes the objects of the rows its runs removed, as a login in retention_runner and retention_archiver', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await installJobSchema(db.url, loadConfig({ DATABASE_URL: db.url }));
    const login = `ob_worker_${randomBytes(3).toString('hex')}`;
    await q(`create role ${login} login password 'pw' in role retention_runner, retention_archiver`);
    await q(`grant usage on schema ob to retention_runner`);
    await q(`grant select, delete, update on ob.meetings, ob.transcripts to retention_runner`);
    const u = new URL(db.url);
    u.username = login;
    u.password = 'pw';
    const boss = new PgBoss({ connectionString: db.url, schema: 'retention_jobs', schedule: false, supervise: false });
    boss.on('error', () => {});
    await boss.start();
    const w = startWorker({ DATABASE_URL: u.toString(), PG_RETENTION_ACTOR: 'test-worker', PG_RETENTION_OBJECT_TARGETS: `rec=${dir}`,
                            PG_RETENTION_OBJECT_INTERVAL: '1s' });
    try {
      await w.waitFor((l) => l.msg === 'worker ready');
      await boss.send('retention-run', { policy: 'meetings' });
      await w.waitFor((l) => l.msg === 'run finished' && l.policy === 'meetings');
      const drained = await w.waitFor((l) => l.msg === 'object deletions drained');
      expect(drained).toMatchObject({ deleted: 5, kept: 1, failed: 0, dead: 0 });
      expect(files(dir)).toEqual(['m/5.webm', 'm/8.webm', 'm/shared.webm', 't/5.txt', 't/8.txt', 'unrelated.bin']);
      const metrics = await w.get('/metrics');
      expect(metrics.body).toMatch(/pg_retention_object_deletions_total\{outcome="deleted"\} 5/);
      expect(metrics.body).toMatch(/pg_retention_object_deletions\{status="pending"\} 0/);
    } finally {
      w.proc.kill('SIGTERM');
      await w.exited;
      await boss.stop({ graceful: false, close: true }).catch(() => {});
      await q(`drop owned by ${login}`).catch(() => {});
      await q(`drop role if exists ${login}`).catch(() => {});
    }
  }, 60_000);
});

describe('what an attacker found', () => {
  it('second round: a held row an application trigger removes inside a batch keeps its object; bad prefixes and case-blind collations are refused; the owner can still add partitions', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    put(dir, 'held/evidence.mp4');
    // Meeting 5 (user 9) is held; its transcript 3 names t/5.txt. A SECURITY DEFINER
    // trigger of the application deletes that transcript and another one during the batch.
    await q(`insert into ob.transcripts values (30, 7, 'https://cdn.example.com/held/evidence.mp4')`);
    await q(`select retention.place_hold('table', 'ob.transcripts', 'litigation 42')`);
    await q(`create function ob.sneaky() returns trigger language plpgsql security definer as $$
             begin delete from ob.transcripts where id in (3, 30); return null; end $$`);
    await q(`create trigger zz_sneaky after delete on ob.meetings for each statement execute function ob.sneaky()`);
    await db.call(`call retention.run('meetings')`).catch(() => undefined);
    expect((await outbox()).map((b) => b.object_key)).not.toContain('held/evidence.mp4');
    expect((await outbox()).map((b) => b.object_key)).not.toContain('t/5.txt');
    await drainObjects(db.pool, local(dir));
    expect(files(dir)).toContain('held/evidence.mp4');
    expect(files(dir)).toContain('t/5.txt');

    for (const prefix of ['https://cdn.example.com', 'https://cdn.example.com/rec', 'uploads', 'https://user@cdn.example.com/', 'https:///x/']) {
      expect([prefix, await sqlState(q(`select retention.set_object_column('ob.meetings', 'recording_key', 'rec', $1)`, [prefix]))]).toEqual([prefix, 'RT020']);
    }
    const icu = await q(`create collation if not exists ob.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`).then(() => true, () => false);
    if (icu) {
      await q(`create table ob.ci_keys (id int primary key, k text collate ob.ci)`);
      expect(await sqlState(q(`select retention.set_object_column('ob.ci_keys', 'k', 'rec')`))).toBe('RT020');
    }
    // The table's owner (not the retention owner) adds partitions to a registered table.
    const owner = `ob_owner_${randomBytes(3).toString('hex')}`;
    const c = await loginAs(db, owner);
    await q(`grant usage, create on schema ob to ${owner}`);
    try {
      await c.query(`create table ob.owned (id int, at timestamptz not null, f text) partition by range (at)`);
      await q(`select retention.set_object_column('ob.owned', 'f', 'rec')`);
      await c.query(`create table ob.owned_1 partition of ob.owned for values from ('2025-01-01') to ('2026-01-01')`);
      expect(await count(db, `pg_trigger where tgrelid = 'ob.owned_1'::regclass and tgname like 'retention_objects_%'`)).toBe(2);
    } finally {
      await c.end();
      await q(`drop table if exists ob.owned`);
      await q(`drop owned by ${owner}`).catch(() => undefined);
      await q(`drop role if exists ${owner}`);
    }
  });

  it('a runner session that opened a run, and the application\'s own trigger inside a batch, queue nothing of their own', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    // The session that opened the run (its backend is the run's) updates and deletes rows itself.
    const c = await db.connect();
    const [r] = (await c.query(`select retention.open_run('meetings') as id`)).rows;
    await c.query(`select set_config('retention.run_id', $1, false)`, [String(r.id)]);
    await c.query(`update ob.meetings set recording_key = 'victim.bin' where id = 7`);
    await c.query(`update ob.meetings set recording_key = 'm/shared.webm' where id = 7`);
    await c.query(`delete from ob.meetings where id = 6`);
    await c.end();
    expect(await count(db, `retention.object_deletions`)).toBe(0);

    // A SECURITY DEFINER trigger of the application on the policy's table changes another
    // table's object column while the batch runs: not the batch's doing, nothing queued.
    await q(`create table ob.other (id int primary key, f text)`);
    await q(`insert into ob.other values (1, 'o1.bin')`);
    await q(`select retention.set_object_column('ob.other', 'f', 'rec')`);
    await q(`create function ob.meddle() returns trigger language plpgsql security definer as $$
             begin update ob.other set f = 'victim3.bin' where id = 1; update ob.other set f = 'o1.bin' where id = 1; return null; end $$`);
    await q(`create trigger meddle before delete on ob.meetings for each statement execute function ob.meddle()`);
    await db.call(`call retention.run('meetings')`);
    const box = await outbox();
    expect(box.map((b) => b.object_key)).not.toContain('victim3.bin');
    expect(box.map((b) => b.object_key)).not.toContain('victim.bin');
    expect(box.map((b) => b.object_key).sort()).toEqual(['m/1.webm', 'm/2.webm', 'm/3.webm', 't/1.txt', 't/2.txt']);
  });

  it('another spelling of a URL a held row keeps is the same object; a percent-encoded key names the real file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    for (const k of ['t/held.bin', 't/q.bin', 't/my file.bin']) put(dir, k);
    // Held rows (user 9's meeting 5) spell their URLs otherwise: host in capitals, a query.
    await q(`insert into ob.transcripts values (10, 5, 'https://CDN.example.com/t/held.bin'), (11, 5, 'https://cdn.example.com/t/q.bin?v=2#top')`);
    // Meeting 2 (deleted) has transcripts naming the same objects canonically, and one percent-encoded.
    await q(`insert into ob.transcripts values (12, 2, 'https://cdn.example.com/t/held.bin'), (13, 2, 'https://cdn.example.com/t/q.bin'),
               (14, 2, 'https://cdn.example.com/t/my%20file.bin')`);
    await db.call(`call retention.run('meetings')`);
    expect(await drainObjects(db.pool, local(dir))).toMatchObject({ kept: 3, dead: 0 });
    const left = files(dir);
    expect(left).toContain('t/held.bin');
    expect(left).toContain('t/q.bin');
    expect(left).not.toContain('t/my file.bin');
    // Other spellings of the same URL: dot segments, the default port, a trailing dot, http.
    for (const [id, url] of [[20, 'https://cdn.example.com/t/./dot.png'], [21, 'https://cdn.example.com:443/t/x/../port.png'],
                             [22, 'https://cdn.example.com./t/trail.png'], [23, 'http://cdn.example.com/t/plain.png']] as const) {
      await q(`insert into ob.transcripts values ($1, 5, $2)`, [id, url]);
    }
    expect(await q(`select retention.object_key_of(file_url, 'https://cdn.example.com/') as k from ob.transcripts where id between 20 and 23 order by id`))
      .toEqual([{ k: 't/dot.png' }, { k: 't/port.png' }, { k: 't/trail.png' }, { k: 't/plain.png' }]);
    expect(await q(`select retention.object_key_of('HTTPS://cdn.EXAMPLE.com/t/a%2Fb.txt?x#y', 'https://cdn.example.com/t/') as k,
                           retention.object_key_of('https://cdn.example.com/T/a.txt', 'https://cdn.example.com/t/') as other_path,
                           retention.object_key_of('https://cdn.example.com/t/%zz', 'https://cdn.example.com/t/') as bad,
                           retention.object_key_of('https://cdn.example.com/t/..%2Fsecret', 'https://cdn.example.com/t/') as escape,
                           retention.object_key_of('https://cdn.example.com/../../etc/passwd', 'https://cdn.example.com/t/') as climb,
                           retention.object_key_of('https://user@cdn.example.com/t/a', 'https://cdn.example.com/t/') as userinfo,
                           retention.object_key_of('https://cdn.example.com.evil/t/a', 'https://cdn.example.com/t/') as evil,
                           retention.object_key_of('uploads/a/b.png', 'uploads/') as keyprefix`))
      .toEqual([{ k: 'a/b.txt', other_path: null, bad: null, escape: null, climb: null, userinfo: null, evil: null, keyprefix: 'a/b.png' }]);
  });

  it('a column renamed or swapped with another, a child table by inheritance: the batch refuses (RT038); retention tables cannot be registered', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await q(`alter table ob.meetings add column note text`);
    await q(`update ob.meetings set note = 'note-victim.bin'`);
    await q(`alter table ob.meetings rename column recording_key to tmpx`);
    await q(`alter table ob.meetings rename column note to recording_key`);
    await q(`alter table ob.meetings rename column tmpx to note`);
    await db.call(`call retention.run('meetings')`).catch(() => undefined);
    expect(await q(`select status, error_code from retention.runs order by run_id desc limit 1`)).toEqual([{ status: 'failed', error_code: 'RT038' }]);
    expect(await count(db, `ob.meetings`)).toBe(8);
    expect(await count(db, `retention.object_deletions`)).toBe(0);

    await q(`create table ob.base (id int, at timestamptz not null, f text)`);
    await q(`create table ob.kid () inherits (ob.base)`);
    expect(await sqlState(q(`select retention.set_object_column('ob.base', 'f', 'rec')`))).toBe('RT020');
    await q(`create table ob.base2 (id int, at timestamptz not null, f text)`);
    await q(`select retention.set_object_column('ob.base2', 'f', 'rec')`);
    await q(`create table ob.kid2 () inherits (ob.base2)`);
    await q(`insert into ob.kid2 values (1, now() - interval '1 year', 'inh.bin')`);
    await q(`select retention.set_policy('kid2', 'ob.kid2', 'delete', 'at', p_retain => '30 days')`);
    await db.call(`call retention.run('kid2')`).catch(() => undefined);
    expect(await q(`select status, error_code from retention.runs order by run_id desc limit 1`)).toEqual([{ status: 'failed', error_code: 'RT038' }]);
    expect(await count(db, `ob.kid2`)).toBe(1);

    for (const [t, c] of [['retention.object_deletions', 'object_key'], ['retention.runs', 'error'], ['pg_catalog.pg_class', 'relname']]) {
      expect([t, await sqlState(q(`select retention.set_object_column($1, $2, 'rec')`, [t, c]))]).toEqual([t, 'RT020']);
    }
  });

  it('a registered table or column dropped later does not stop the worker; dead references of a dropped partition are notified', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await app(dir);
    await q(`create table ob.tmp (id int, f text)`);
    await q(`select retention.set_object_column('ob.tmp', 'f', 'rec')`);
    await q(`drop table ob.tmp`);
    await q(`create table ob.tmp2 (id int, f text, g text)`);
    await q(`select retention.set_object_column('ob.tmp2', 'f', 'rec')`);
    await q(`alter table ob.tmp2 drop column f cascade`);
    await db.call(`call retention.run('meetings')`);
    expect(await drainObjects(db.pool, local(dir))).toEqual({ deleted: 5, failed: 0, dead: 0, kept: 1 });
    expect(await q(`select details->>'why' as why from retention.audit_log where action = 'object_column.dropped' order by audit_id desc limit 1`))
      .toEqual([{ why: 'the table was dropped' }]);

    await q(`create table ob.pt (id int, at timestamptz not null, f text) partition by range (at)`);
    await q(`create table ob.pt_old partition of ob.pt for values from ('2025-01-01') to ('2025-02-01')`);
    await q(`create table ob.pt_new partition of ob.pt for values from ('2025-02-01') to ('2099-01-01')`);
    await q(`insert into ob.pt values (1, '2025-01-05', '../../etc/passwd'), (2, '2025-01-06', '/abs.bin'), (3, '2025-01-07', 'ok.bin')`);
    await q(`select retention.set_object_column('ob.pt', 'f', 'rec')`);
    await q(`select retention.set_policy('pt', 'ob.pt', 'drop_partitions', 'at', p_retain => '30 days', p_max_rows_per_run => 1000)`);
    await db.call(`call retention.run('pt')`);
    const dead = await q(`select deletion_id from retention.object_deletions where rel_name = 'ob.pt' and status = 'dead'`);
    expect(dead).toHaveLength(2);
    expect(await count(db, `retention.notifications where kind = 'object_deletion_failed' and (payload->>'deletion_id')::bigint = any ($1)`,
                        [dead.map((d) => d.deletion_id)])).toBe(2);
  });

  it('an empty target directory (a volume not mounted) is a failure, not a deletion', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-objects-'));
    await expect(new LocalDirTarget(dir).delete('m/1.webm')).rejects.toThrow(/empty \(not mounted\?\)/);
    put(dir, 'other.bin');
    await new LocalDirTarget(dir).delete('m/1.webm');
  });
});
