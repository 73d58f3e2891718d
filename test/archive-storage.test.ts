// Cold storage: archived rows move into objects (NDJSON, gzip, AES-256-GCM under a wrapped
// data key) in a local directory or a real S3 API server, verified before the rows leave
// the database; restore gives back equal values for every column type; an object does not
// open without its key; kills at random moments of runs and offloads lose no row.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportRows, objectRecord, offload, prune, readObject, restore, type ObjectRecord } from '../runner/archive/archive.ts';
import { ArchiveKeyError, open, parseKeyRing } from '../runner/archive/envelope.ts';
import { LocalDirTarget, S3Target, type StorageTarget } from '../runner/archive/storage.ts';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';
import { startS3, type TestS3 } from './support/s3.ts';

const db = useTestDatabase();
const key = () => randomBytes(32).toString('base64');
const ring = parseKeyRing(`old:${key()},k1:${key()}`);
const dir = () => mkdtempSync(path.join(os.tmpdir(), 'retention-archive-'));

let client: pg.Client;
beforeAll(async () => {
  client = await db.connect();
});
afterAll(async () => {
  await client.end();
});

/** A table with a column of every kind that must survive the trip, and a copy of it. */
async function wideTable(): Promise<void> {
  await db.q(`drop schema if exists ar, restored cascade`);
  await db.q(`create schema ar`);
  await db.q(`create type ar.mood as enum ('ok', 'sad')`);
  // Columns named t, c and r: the engine's aliases must not be taken for them.
  await db.q(`create table ar.wide (
      id bigint primary key, created_at timestamptz not null, t text, j json, jb jsonb, ints int[], texts text[],
      b bytea, n numeric, n2 numeric(12, 4), f float8, ts timestamp, d date, iv interval, u uuid, ok boolean,
      ip inet, mood ar.mood, r int4range, nothing text, words tsvector)`);
  await db.q(`create index on ar.wide (created_at)`);
  await db.q(`create table ar.child (id bigint primary key, wide_id bigint references ar.wide on delete cascade, note text, c text, r int)`);
  await db.q(`insert into ar.wide
    select g, now() - interval '40 days' - make_interval(mins => g),
           case g % 3 when 0 then 'Grüße, 東京 👋 "quoted" \\ back' when 1 then e'line\\nbreak\\ttab' else '' end,
           '{"a": [1, 2.50, "x"], "b": null}'::json, jsonb_build_object('k', g, 'nested', jsonb_build_array(true, null, 1.5e10)),
           array[g, null, -g], array['a,b', null, 'c"d', 'NULL'],
           decode(md5(g::text), 'hex') || '\\x00ff'::bytea, 12345678901234567890.123456789012345 * g, g / 7.0,
           case g % 4 when 0 then 'NaN'::float8 when 1 then '-Infinity'::float8 else 1.0 / (g + 3) end,
           timestamp '2024-02-29 23:59:59.999999', date '0044-03-15', interval '1 year 2 months 3 days 04:05:06.789',
           gen_random_uuid(), g % 2 = 0, '10.0.0.1/24'::inet, case when g % 2 = 0 then 'ok' else 'sad' end::ar.mood,
           int4range(g, g + 10), null, to_tsvector('simple', 'the quick fox ' || g)
      from generate_series(1, 60) g`);
  await db.q(`insert into ar.child select g, g, 'child ' || g from generate_series(1, 60) g`);
  await db.q(`create table ar.wide_copy as select * from ar.wide`);
  await db.q(`create table ar.child_copy as select * from ar.child`);
  await db.q(`select retention.drop_policy(name) from retention.policies`);
  await db.q(`select retention.set_policy('ar.wide', 'ar.wide', 'delete', 'created_at', interval '30 days',
                p_archive => true, p_archive_retain => interval '7 years', p_batch_size => 7, p_max_rows_per_run => 1000)`);
}

async function objects(): Promise<ObjectRecord[]> {
  return (await db.q(`select * from retention.archive_objects where status = 'verified' order by object_id`)) as ObjectRecord[];
}

async function roundTrip(target: StorageTarget): Promise<void> {
  await wideTable();
  await db.call(`call retention.run('ar.wide')`);
  expect(await count(db, 'ar.wide')).toBe(0);
  expect(await count(db, 'retention.archived_rows')).toBe(120);
  const audited = await count(db, `retention.audit_log where action = 'archive.object_verified'`);
  await db.q(`delete from retention.archive_objects`);
  const r = await offload(client, target, ring, { maxRowsPerObject: 50 });
  expect([r.objects, r.rows]).toEqual([3, 120]);
  // The rows left the database only into verified objects recorded in the manifest.
  expect(await count(db, 'retention.archived_rows')).toBe(0);
  const objs = await objects();
  // Objects take whole batch tuples (7 rows of ar.wide, their children) up to 50 rows.
  expect(objs.map((o) => Number(o.rows)).reduce((x, y) => x + y)).toBe(120);
  expect(objs.every((o) => Number(o.rows) <= 50)).toBe(true);
  expect(objs.every((o) => o.key_id === 'k1' && /^[0-9a-f]{64}$/.test(o.sha256))).toBe(true);
  const tables = objs.reduce((acc, o) => {
    for (const [t, n] of Object.entries(o.tables)) acc[t] = (acc[t] ?? 0) + n;
    return acc;
  }, {} as Record<string, number>);
  expect(tables).toEqual({ 'ar.wide': 60, 'ar.child': 60 });
  expect(await count(db, `retention.audit_log where action = 'archive.object_verified'`)).toBe(audited + 3);
  // Restored into a schema of our choice, every value equals the original.
  for (const o of objs) await restore(client, await readObject(await objectRecord(client, o.object_id), target, ring), { objects: [o.object_id], into: 'restored' });
  expect(await count(db, 'restored.wide')).toBe(60);
  // Exactly equal, column by column (json as jsonb: whitespace and key order are not kept).
  const cols = (await db.q(`select attname from pg_attribute where attrelid = 'ar.wide_copy'::regclass and attnum > 0`)).map((r) => r.attname as string);
  const differ = await db.q(`select ${cols.map((c) => `count(*) filter (where (x.${c}${c === 'j' ? '::jsonb' : ''})::text is distinct from (y.${c}${c === 'j' ? '::jsonb' : ''})::text) as ${c}`).join(', ')}
                               from restored.wide x full join ar.wide_copy y using (id)`);
  expect(differ[0]).toEqual(Object.fromEntries(cols.map((c) => [c, '0'])));
  expect(await count(db, '(select (x.*)::text from restored.child x except select (y.*)::text from ar.child_copy y) z')).toBe(0);
  expect(await count(db, 'restored.child')).toBe(60);
  // Into the live tables only when asked.
  expect(await count(db, 'ar.wide')).toBe(0);
  // (all objects at once: a cascaded row may sit in another object than its parent)
  const all = (await Promise.all(objs.map((o) => readObject(o, target, ring)))).flat();
  await restore(client, all, { objects: objs.map((o) => o.object_id), live: true });
  expect(await count(db, `ar.wide x join ar.wide_copy y using (id) where x.n = y.n and x.n2 = y.n2 and x.b = y.b and x.j::jsonb = y.j::jsonb`)).toBe(60);
  expect(await count(db, 'ar.child')).toBe(60);
}

describe('archive objects', () => {
  it('local directory: offload, verify, restore equal values of every column type', async () => {
    const d = dir();
    await roundTrip(new LocalDirTarget(d));
    // On disk: sealed bytes, no plain text of the rows.
    const files = readdirSync(d, { recursive: true }).map(String).filter((f) => f.endsWith('.enc'));
    expect(files).toHaveLength(3);
    for (const f of files) expect(readFileSync(path.join(d, f)).includes(Buffer.from('quick fox'))).toBe(false);
  });

  it('S3: the same through a real S3 API server', async () => {
    let s3: TestS3 | undefined;
    try {
      s3 = await startS3();
      await db.q(`delete from retention.archive_objects`);
      const target = new S3Target(s3.bucket, 'pg-retention/test', { endpoint: s3.endpoint, region: 'us-east-1' });
      await roundTrip(target);
      expect((await objects())[0]!.target).toBe(`s3://${s3.bucket}/pg-retention/test`);
      target.destroy();
    } finally {
      await s3?.stop();
    }
  });

  it('a connection lost after archive_complete committed keeps the verified object in storage (attack round atk28)', async () => {
    await db.q(`delete from retention.archive_objects`);
    await wideTable();
    await db.call(`call retention.run('ar.wide')`);
    const target = new LocalDirTarget(dir());
    // The real connection commits archive_complete; its answer is lost, and the
    // connection with it (what a network cut or a restarted pooler does).
    const c = await db.connect();
    let lost = false;
    const cut = new Proxy(c, {
      get(obj, prop, recv) {
        if (prop !== 'query') return Reflect.get(obj, prop, recv);
        return async (text: string, values?: unknown[]) => {
          if (lost) throw new Error('Connection terminated unexpectedly');
          const r = await obj.query(text, values);
          if (/archive_complete/.test(text)) {
            lost = true;
            throw new Error('Connection terminated unexpectedly');
          }
          return r;
        };
      },
    });
    await expect(offload(cut, target, ring)).rejects.toThrow(/terminated/);
    await c.end();
    const [o] = await objects();
    expect(o!.status).toBe('verified');
    expect(await count(db, 'retention.archived_rows')).toBe(0);
    // Still in storage, whole: every archived row has its copy.
    expect((await readObject(o!, target, ring)).length).toBe(Number(o!.rows));
    // The next offload leaves it alone.
    await offload(client, target, ring);
    expect((await readObject(o!, target, ring)).length).toBe(Number(o!.rows));
  });

  it('an object an ended session stored is deleted from storage even when the offloader told of it dies first, and only on its own target (atk39)', async () => {
    await db.q(`delete from retention.archive_objects`);
    await wideTable();
    await db.call(`call retention.run('ar.wide')`);
    const d = dir();
    const target = new LocalDirTarget(d);
    const stored = () => readdirSync(d, { recursive: true }).map(String).filter((f) => f.endsWith('.enc'));
    // A writer claims an object, stores it and is cut off before archive_complete.
    const gone = async (c: pg.Client) => {
      const { rows: [{ pid }] } = await c.query(`select pg_backend_pid() as pid`);
      await c.end();
      while ((await db.q(`select 1 from pg_stat_activity where pid = $1`, [pid])).length) await new Promise((r) => setTimeout(r, 20));
    };
    const w = await db.connect();
    const { rows: [a] } = await w.query(`select * from retention.archive_claim($1, 50)`, [target.url]);
    await target.put(a.object_key, Buffer.from('sealed bytes'));
    await gone(w);
    // The next offloader learns of it (abandoned_keys) and dies before deleting it.
    const o = await db.connect();
    const { rows: [b] } = await o.query(`select * from retention.archive_claim($1, 50)`, [target.url]);
    expect(b.abandoned_keys).toEqual([a.object_key]);
    await gone(o);
    // Another target's claim is not told of them (it finds the offloader's object b
    // abandoned and frees its rows, but the key is not its to delete).
    const other = await db.connect();
    const { rows: [x] } = await other.query(`select * from retention.archive_claim('file:///elsewhere', 50)`);
    expect(x.abandoned_keys).toEqual([]);
    await other.query(`select retention.archive_abandon($1, 'test')`, [x.object_id]);
    await other.end();
    // An offload within the grace period is told of neither (a writer cut off from the
    // database could still be storing them); the stored object is still there.
    const r1 = await offload(client, target, ring, { maxRowsPerObject: 50 });
    expect(r1.abandoned).toEqual([]);
    expect(r1.objects).toBeGreaterThan(0);
    expect(stored()).toContain(a.object_key);
    expect(await count(db, `retention.archive_objects where status = 'failed' and storage_cleared_at is not null`)).toBe(0);
    // Once the grace period is over, the next offload deletes it and records it cleared;
    // the one after is told of nothing more.
    await db.q(`update retention.archive_objects set failed_at = failed_at - interval '16 minutes' where status = 'failed'`);
    const r2 = await offload(client, target, ring);
    expect(r2.abandoned.sort()).toEqual([a.object_key, b.object_key].sort());
    expect(stored()).not.toContain(a.object_key);
    expect(await db.q(`select object_key, storage_cleared_at is not null as cleared from retention.archive_objects where status = 'failed' order by object_id`))
      .toEqual([{ object_key: a.object_key, cleared: true }, { object_key: b.object_key, cleared: true }, { object_key: x.object_key, cleared: false }]);
    expect((await offload(client, target, ring)).abandoned).toEqual([]);
    // Every archived row is in a verified object.
    expect(await count(db, 'retention.archived_rows')).toBe(0);
    expect((await objects()).reduce((n, v) => n + Number(v.rows), 0)).toBe(120);
    expect(await sqlState(db.q(`select retention.archive_cleared(' ', '{}')`))).toBe('RT006');
    expect(await sqlState(db.q(`select retention.archive_cleared('file:///x', null)`))).toBe('RT006');
  });

  it('a key deleted within the grace period and reported cleared after it is handed out again, until a delete follows a claim made after the grace (atk45)', async () => {
    await db.q(`delete from retention.archive_objects`);
    await wideTable();
    await db.call(`call retention.run('ar.wide')`);
    const t = 'file:///grace-test';
    const w = await db.connect();
    const { rows: [a] } = await w.query(`select * from retention.archive_claim($1, 50)`, [t]);
    const { rows: [{ pid }] } = await w.query(`select pg_backend_pid() as pid`);
    await w.end();
    while ((await db.q(`select 1 from pg_stat_activity where pid = $1`, [pid])).length) await new Promise((r) => setTimeout(r, 20));
    // An offloader is told of the key at once (the writer just ended) and deletes it.
    const [b] = await db.q(`select * from retention.archive_claim($1, 50)`, [t]);
    expect(b!.abandoned_keys).toEqual([a.object_key]);
    // It says so only after the grace period: the writer, cut off, may have stored the key
    // after that delete, so it does not count.
    await db.q(`update retention.archive_objects set failed_at = failed_at - interval '16 minutes' where object_id = $1`, [a.object_id]);
    expect((await db.q(`select retention.archive_cleared($1, $2) as n`, [t, [a.object_key]]))[0]!.n).toBe(0);
    // The next claim hands it out again; a delete after that counts.
    await db.q(`select retention.archive_abandon($1, 'test')`, [b!.object_id]).catch(() => {});
    const [c] = await db.q(`select * from retention.archive_claim($1, 50)`, [t]);
    expect(c!.abandoned_keys).toContain(a.object_key);
    expect((await db.q(`select retention.archive_cleared($1, $2) as n`, [t, [a.object_key]]))[0]!.n).toBe(1);
    await db.q(`update retention.archived_batches set object_id = null`);
    await db.q(`delete from retention.archive_objects`);
  });

  it('an object does not open without its key; a wrong key, a changed byte or a swapped object is named', async () => {
    await db.q(`delete from retention.archive_objects`);
    await wideTable();
    await db.call(`call retention.run('ar.wide')`);
    const d = dir();
    const target = new LocalDirTarget(d);
    await offload(client, target, ring);
    const [o] = await objects();
    const bytes = readFileSync(path.join(d, o!.object_key));
    expect(() => open(bytes, parseKeyRing(`old:${key()}`))).toThrow(/key id k1, which is not configured.*PG_RETENTION_ARCHIVE_KEYS/);
    expect(() => open(bytes, parseKeyRing(`k1:${key()}`))).toThrow(/key k1 does not open this object's data key/);
    const changed = Buffer.from(bytes);
    changed[changed.length - 40]! ^= 1;
    expect(() => open(changed, ring)).toThrow(ArchiveKeyError);
    expect(() => open(changed, ring)).toThrow(/changed or damaged/);
    writeFileSync(path.join(d, o!.object_key), changed);
    await expect(readObject(o!, target, ring)).rejects.toThrow(/sha256 .* is not the manifest's/);
    expect(() => parseKeyRing('k1:c2hvcnQ=')).toThrow(/32/);
    expect(() => parseKeyRing(`k1:${key()}`, 'k2')).toThrow(/current key id k2/);
  });

  it('kills at random moments of runs and offloads lose no row: deleted = archived (in the database or in verified objects)', async () => {
    await db.q(`delete from retention.archive_objects`);
    await wideTable();
    // One row per batch: a run of 20 rows is 20 transactions, so a kill lands mid-run.
    await db.q(`select retention.alter_policy('ar.wide', p_batch_size => 1)`);
    const target = new LocalDirTarget(dir());
    let kills = 0;
    for (let i = 0; i < 50; i++) {
      const c = await db.connect();
      const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p as number;
      const moment = Math.floor(Math.random() * 60);
      if (i % 2 === 0) {
        // A run, killed mid-batch or between batches.
        await db.q(`insert into ar.wide (id, created_at) select g, now() - interval '40 days' from generate_series($1::bigint, $1::bigint + 19) g`, [1000 * (i + 1)]);
        await db.q(`insert into ar.child (id, wide_id) select g + 500, g from generate_series($1::bigint, $1::bigint + 19) g`, [1000 * (i + 1)]);
        const done = c.query(`call retention.run('ar.wide')`).catch(() => {});
        await new Promise((r) => setTimeout(r, moment));
        await db.q('select pg_terminate_backend($1)', [pid]);
        await done;
      } else {
        // An offload, its connection killed at a random moment.
        const done = offload(c, target, ring, { maxRowsPerObject: 9 }).catch(() => {});
        await new Promise((r) => setTimeout(r, moment / 3));
        await db.q('select pg_terminate_backend($1)', [pid]);
        await done;
      }
      kills++;
      await c.end().catch(() => {});
      // Every deleted row has its copy: in the database, or in a verified object.
      const inserted = 60 + 20 * Math.ceil((i + 1) / 2);
      const deleted = inserted - (await count(db, 'ar.wide'));
      const inDb = await count(db, `retention.archived_rows where rel_name = 'ar.wide'`);
      const inObjects = Number((await db.q(`select coalesce(sum((tables->>'ar.wide')::int), 0) as n from retention.archive_objects where status = 'verified'`))[0]!.n);
      expect({ i, archived: inDb + inObjects }).toEqual({ i, archived: deleted });
      expect(await count(db, `retention.runs where status = 'running' and policy_name = 'ar.wide'
                                and not exists (select from pg_stat_activity a where a.pid = backend_pid)`)).toBeLessThanOrEqual(1);
    }
    expect(kills).toBe(50);
    // Finish: run and offload without interruption; everything is in verified objects.
    await db.call(`call retention.run('ar.wide')`);
    const c = await db.connect();
    await offload(c, target, ring);
    await c.end();
    expect(await count(db, 'ar.wide')).toBe(0);
    expect(await count(db, 'retention.archived_rows')).toBe(0);
    const all = await objects();
    let rows = 0;
    for (const o of all) rows += (await readObject(o, target, ring)).filter((r) => r.table === 'ar.wide').length;
    expect(rows).toBe(60 + 20 * 25);
  });

  it('prune keeps what a hold covers (a partition, a subject of a partition policy, after the policy is gone), refuses a bypass, and deletes the rest', async () => {
    await db.q(`delete from retention.archive_objects`);
    await db.q(`select retention.drop_policy(name) from retention.policies`);
    await db.q(`drop schema if exists pr cascade`);
    await db.q(`create schema pr`);
    await db.q(`create table pr.events (id int, user_id int, created_at timestamptz not null, primary key (id, created_at)) partition by range (created_at)`);
    await db.q(`create table pr.events_2025 partition of pr.events for values from ('2025-01-01') to ('2026-01-01')`);
    await db.q(`insert into pr.events values (1, 42, '2025-03-01'), (2, 43, '2025-04-01')`);
    await db.q(`select retention.set_policy('pr.ev', 'pr.events_2025', 'delete', 'created_at', interval '1 year',
                  p_subject_column => 'user_id', p_archive => true, p_archive_retain => interval '1 day')`);
    await db.call(`call retention.run('pr.ev')`);
    const target = new LocalDirTarget(dir());
    await offload(client, target, ring);
    await db.q(`update retention.archive_objects set expires_at = now() - interval '1 minute'`);
    const [o] = await objects();
    // A table hold on the partition the policy names.
    const th = (await db.q(`select hold_id from retention.place_hold('table', 'pr.events_2025', 'inquiry')`))[0]!.hold_id;
    expect(await prune(client, target, ring)).toEqual({ deleted: [], kept: [] });
    expect(await sqlState(db.q(`select retention.archive_object_deleted($1, 'x', now())`, [o!.object_id]))).toBe('RT037');
    await db.q(`select retention.release_hold($1, 'done')`, [th]);
    // A subject hold on user 42, found through the column recorded in the manifest after the policy is gone.
    await db.q(`select retention.drop_policy('pr.ev')`);
    const sh = (await db.q(`select hold_id from retention.place_hold('subject', '42', 'litigation')`))[0]!.hold_id;
    expect(await prune(client, target, ring)).toEqual({ deleted: [], kept: [o!.object_key] });
    // A subject hold placed after the rows were checked: the deletion is refused.
    const checked = (await db.q(`select now() - interval '1 second' as t`))[0]!.t;
    await db.q(`select retention.release_hold($1, 'done')`, [sh]);
    await db.q(`select retention.place_hold('subject', '99', 'another case')`);
    expect(await sqlState(db.q(`select retention.archive_object_deleted($1, 'x', $2)`, [o!.object_id, checked]))).toBe('RT037');
    expect((await objects()).length).toBe(1);
    const r = await prune(client, target, ring);
    expect(r.deleted).toEqual([o!.object_key]);
    expect(await count(db, `retention.archive_objects where status = 'deleted'`)).toBe(1);
    await expect(target.get(o!.object_key)).rejects.toThrow(/not in/);
  });

  it('prune keeps an inheritance child\'s objects under a hold on its parent, and a numeric subject spelt 2.0 (attack round atk29)', async () => {
    await db.q(`delete from retention.archive_objects`);
    await db.q(`select retention.drop_policy(name) from retention.policies`);
    await db.q(`drop schema if exists ph cascade`);
    await db.q(`create schema ph`);
    await db.q(`create table ph.events (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table ph.events_2024 () inherits (ph.events)`);
    await db.q(`insert into ph.events_2024 values (1, '2024-03-01')`);
    await db.q(`create table ph.ledger (id int primary key, account numeric not null, created_at timestamptz not null)`);
    await db.q(`insert into ph.ledger values (1, 2, '2024-03-01'), (2, 3, '2024-03-02')`);
    await db.q(`select retention.set_policy('ph.ev', 'ph.events_2024', 'delete', 'created_at', interval '30 days', p_archive => true, p_archive_retain => interval '1 day')`);
    await db.q(`select retention.set_policy('ph.ledger', 'ph.ledger', 'delete', 'created_at', interval '30 days',
                  p_subject_column => 'account', p_archive => true, p_archive_retain => interval '1 day')`);
    await db.call(`call retention.run('ph.ev')`);
    await db.call(`call retention.run('ph.ledger')`);
    const target = new LocalDirTarget(dir());
    await offload(client, target, ring, { maxRowsPerObject: 1 });
    await db.q(`update retention.archive_objects set expires_at = now() - interval '1 minute'`);
    // One object per batch tuple: the child's row, and the ledger's batch of two.
    const objs = await objects();
    expect(objs.map((o) => o.tables)).toEqual([{ 'ph.events_2024': 1 }, { 'ph.ledger': 2 }]);
    // A table hold on the parent keeps the child's object (as it keeps the child's live rows).
    const th = (await db.q(`select hold_id from retention.place_hold('table', 'ph.events', 'regulator inquiry')`))[0]!.hold_id;
    const prunable = await db.q(`select object_id from retention.archive_prunable()`);
    expect(prunable.map((r) => r.object_id)).not.toContain(objs.find((o) => Object.keys(o.tables).includes('ph.events_2024'))!.object_id);
    await db.q(`select retention.release_hold($1, 'done')`, [th]);
    // A subject hold spelt 2.0 holds account 2 in a numeric column, live and archived.
    const ledgerObj = objs.find((o) => Object.keys(o.tables).includes('ph.ledger'))!.object_id;
    expect((await db.q(`select retention.archive_rows_held($1, '[{"table": "ph.ledger", "row": {"account": 2}}]') as h`, [ledgerObj]))[0]!.h).toBe(false);
    const sh = (await db.q(`select hold_id from retention.place_hold('subject', '2.0', 'litigation on account 2')`))[0]!.hold_id;
    expect((await db.q(`select retention.archive_rows_held($1, '[{"table": "ph.ledger", "row": {"account": 2}}]') as h`, [ledgerObj]))[0]!.h).toBe(true);
    expect((await db.q(`select retention.archive_rows_held($1, '[{"table": "ph.ledger", "row": {"account": 3}}]') as h`, [ledgerObj]))[0]!.h).toBe(false);
    // Rows of another shape are refused (RT006), never answered "not held" (atk97 F7).
    for (const bad of ['[1, 2]', '{}', '[{"tbl": "ph.ledger", "data": {"account": 2}}]', '[{"table": "ph.ledger", "row": {"acount": 2}}]',
                       '[{"table": "ph.other", "row": {"account": 2}}]', '[{"table": "ph.ledger", "row": [2]}]']) {
      const e = await db.q(`select retention.archive_rows_held($1, $2::jsonb)`, [ledgerObj, bad]).catch((err: { code?: string; message: string }) => err);
      expect(e, bad).toMatchObject({ code: 'RT006' });
    }
    expect(await sqlState(db.q(`select retention.archive_rows_held($1, null)`, [ledgerObj]))).toBe('RT006');
    const r = await prune(client, target, ring);
    expect(r.kept).toHaveLength(1);
    expect(r.deleted).toHaveLength(1);
    const [kept] = await db.q(`select tables from retention.archive_objects where status = 'verified'`);
    expect(kept!.tables).toEqual({ 'ph.ledger': 2 });
    await db.q(`select retention.release_hold($1, 'done')`, [sh]);
    // The tests before left a subject hold open; later tests drop every policy.
    await db.q(`select retention.release_hold(h.hold_id, 'done') from retention.legal_holds h where h.released_at is null`);
  });

  it('prune keeps a held person\'s object after its table is renamed, replaced under its name, or its subject column retyped (attack round atk48)', async () => {
    await db.q(`delete from retention.archive_objects`);
    await db.q(`select retention.drop_policy(name) from retention.policies`);
    await db.q(`drop schema if exists pk cascade`);
    await db.q(`create schema pk`);
    await db.q(`create table pk.events (id int primary key, account uuid not null, created_at timestamptz not null)`);
    await db.q(`insert into pk.events values (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-03-01'), (2, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-03-01')`);
    await db.q(`create table pk.tickets (id int primary key, cust char(8) not null, created_at timestamptz not null)`);
    await db.q(`insert into pk.tickets values (1, 'AB12', '2024-03-01')`);
    await db.q(`select retention.set_policy('pk.ev', 'pk.events', 'delete', 'created_at', interval '30 days',
                  p_subject_column => 'account', p_archive => true, p_archive_retain => interval '1 day')`);
    await db.q(`select retention.set_policy('pk.tk', 'pk.tickets', 'delete', 'created_at', interval '30 days',
                  p_subject_column => 'cust', p_archive => true, p_archive_retain => interval '1 day')`);
    await db.call(`call retention.run('pk.ev')`);
    await db.call(`call retention.run('pk.tk')`);
    const target = new LocalDirTarget(dir());
    await offload(client, target, ring, { maxRowsPerObject: 2 });
    await db.q(`update retention.archive_objects set expires_at = now() - interval '1 minute'`);
    expect((await objects()).map((o) => o.tables)).toEqual([{ 'pk.events': 2 }, { 'pk.tickets': 1 }]);
    // The legal team writes the uuid in upper case, the ticket's customer without padding.
    const h1 = (await db.q(`select hold_id from retention.place_hold('subject', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'litigation')`))[0]!.hold_id;
    const h2 = (await db.q(`select hold_id from retention.place_hold('subject', 'AB12', 'litigation')`))[0]!.hold_id;
    expect(await prune(client, target, ring)).toMatchObject({ deleted: [] });
    // The application renames the events' table and retypes the tickets' column.
    await db.q(`alter table pk.events rename to events_2024`);
    await db.q(`alter table pk.tickets alter column cust type varchar(8)`);
    expect(await prune(client, target, ring)).toMatchObject({ deleted: [] });
    // ... and puts a table of another shape under the old name.
    await db.q(`create table pk.events (id int primary key, account text)`);
    expect(await prune(client, target, ring)).toMatchObject({ deleted: [] });
    expect(await count(db, `retention.archive_objects where status = 'verified'`)).toBe(2);
    for (const o of await objects()) await expect(target.get(o.object_key)).resolves.toBeTruthy();
    // Released, both go.
    await db.q(`select retention.release_hold($1, 'done')`, [h1]);
    await db.q(`select retention.release_hold($1, 'done')`, [h2]);
    expect((await prune(client, target, ring)).deleted).toHaveLength(2);
  });

  it('a table hold keeps its table\'s objects after the table is dropped, and holds the table rebuilt under its name (attack round atk44)', async () => {
    await db.q(`delete from retention.archive_objects`);
    await db.q(`select retention.drop_policy(name) from retention.policies`);
    await db.q(`drop schema if exists pd cascade`);
    await db.q(`create schema pd`);
    await db.q(`create table pd.logs (id int primary key, created_at timestamptz not null)`);
    await db.q(`insert into pd.logs select i, now() - interval '400 days' from generate_series(1, 5) i`);
    await db.q(`select retention.set_policy('pd.logs', 'pd.logs', 'delete', 'created_at', interval '30 days', p_archive => true, p_archive_retain => interval '1 day')`);
    await db.call(`call retention.run('pd.logs')`);
    const target = new LocalDirTarget(dir());
    await offload(client, target, ring);
    await db.q(`update retention.archive_objects set expires_at = now() - interval '1 minute'`);
    const h = (await db.q(`select hold_id from retention.place_hold('table', 'pd.logs', 'regulator inquiry')`))[0]!.hold_id;
    // The application rebuilds the table: a copy, the old one dropped, the copy renamed.
    await db.q(`create table pd.logs_new (id int primary key, created_at timestamptz not null)`);
    await db.q(`insert into pd.logs_new select i, now() - interval '400 days' from generate_series(11, 15) i`);
    await db.q(`drop table pd.logs`);
    expect(await prune(client, target, ring)).toMatchObject({ deleted: [] });
    await db.q(`alter table pd.logs_new rename to logs`);
    expect(await db.q(`select covers from retention.active_holds where hold_id = $1`, [h])).toEqual([{ covers: 'pd.logs' }]);
    await db.q(`select retention.set_policy('pd.logs', 'pd.logs', 'delete', 'created_at', interval '30 days')`);
    await db.call(`call retention.run('pd.logs')`);
    expect(await count(db, 'pd.logs')).toBe(5);
    expect(await prune(client, target, ring)).toMatchObject({ deleted: [] });
    await db.q(`select retention.release_hold($1, 'done')`, [h]);
    await db.call(`call retention.run('pd.logs')`);
    expect(await count(db, 'pd.logs')).toBe(0);
    expect((await prune(client, target, ring)).deleted).toHaveLength(1);
    // Renamed after its rows were archived, held under the new name, then dropped (atk51).
    await db.q(`insert into pd.logs select i, now() - interval '400 days' from generate_series(21, 25) i`);
    await db.q(`select retention.set_policy('pd.logs', 'pd.logs', 'delete', 'created_at', interval '30 days', p_archive => true, p_archive_retain => interval '1 day')`);
    await db.call(`call retention.run('pd.logs')`);
    await offload(client, target, ring);
    await db.q(`update retention.archive_objects set expires_at = now() - interval '1 minute' where status = 'verified'`);
    await db.q(`alter table pd.logs rename to logs_old`);
    const h2 = (await db.q(`select hold_id from retention.place_hold('table', 'pd.logs_old', 'litigation')`))[0]!.hold_id;
    await db.q(`drop table pd.logs_old`);
    expect(await prune(client, target, ring)).toMatchObject({ deleted: [] });
    await db.q(`select retention.release_hold($1, 'done')`, [h2]);
    expect((await prune(client, target, ring)).deleted).toHaveLength(1);
  });

  it('a local put that fails leaves no temporary file, and deleting a key removes what a killed writer left under it (atk45, atk49)', async () => {
    const root = dir();
    const target = new LocalDirTarget(root);
    // The key's place is taken by a directory with something in it: the rename fails.
    mkdirSync(path.join(root, 'p', 'k1', 'x'), { recursive: true });
    await expect(target.put('p/k1', Buffer.from('sealed'))).rejects.toThrow();
    expect(readdirSync(path.join(root, 'p')).sort()).toEqual(['k1']);
    // A writer killed between its write and its rename left <key>.tmp-<pid>.
    writeFileSync(path.join(root, 'p', 'k2.tmp-4242'), 'sealed part');
    writeFileSync(path.join(root, 'p', 'k20'), 'another object');
    await target.delete('p/k2');
    expect(readdirSync(path.join(root, 'p')).sort()).toEqual(['k1', 'k20']);
  });

  it('restore never writes into the live table without --live; export file names stay in their directory', async () => {
    await db.q(`delete from retention.archive_objects`);
    await wideTable();
    await db.call(`call retention.run('ar.wide')`);
    const target = new LocalDirTarget(dir());
    await offload(client, target, ring);
    const objs = await objects();
    const rows = (await Promise.all(objs.map((o) => readObject(o, target, ring)))).flat();
    await expect(restore(client, rows, { objects: objs.map((o) => o.object_id), into: 'ar' })).rejects.toThrow(/refusing to restore into ar/);
    expect(await count(db, 'ar.wide')).toBe(0);
    const out = dir();
    const files = await exportRows([{ ...rows[0]!, table: 'x."/../../escaped"' }], 'csv', path.join(out, 'sub'), 'archive-1');
    expect(files.every((f) => f.startsWith(path.join(out, 'sub') + path.sep))).toBe(true);
    // Archived personal data: the new directory and every file are the owner's alone, and
    // an export never overwrites a file or follows a link laid out for it (atk97 F5).
    expect([statSync(path.join(out, 'sub')).mode & 0o777, statSync(files[0]!).mode & 0o777]).toEqual([0o700, 0o600]);
    const again = readFileSync(files[0]!, 'utf8');
    await expect(exportRows([{ ...rows[0]!, table: 'x."/../../escaped"' }], 'csv', path.join(out, 'sub'), 'archive-1'))
      .rejects.toThrow(/exists: an export writes only new files/);
    expect(readFileSync(files[0]!, 'utf8')).toBe(again);
    const victim = path.join(out, 'victim');
    writeFileSync(victim, 'not yours');
    mkdirSync(path.join(out, 'shared'));
    symlinkSync(victim, path.join(out, 'shared', 'archive-2.jsonl'));
    await expect(exportRows([rows[0]!], 'jsonl', path.join(out, 'shared'), 'archive-2')).rejects.toThrow(/exists/);
    expect(readFileSync(victim, 'utf8')).toBe('not yours');
  });

  it('bad input to the archive routines and commands changes nothing and says what to do', async () => {
    await db.q(`delete from retention.archive_objects`);
    await wideTable();
    await db.call(`call retention.run('ar.wide')`);
    const before = [await count(db, 'retention.archived_rows'), await count(db, 'retention.archive_objects'), await count(db, 'retention.audit_log')];
    expect(await sqlState(db.q(`select * from retention.archive_claim('  ', 10)`))).toBe('RT006');
    expect(await sqlState(db.q(`select * from retention.archive_claim('file:///x', 0)`))).toBe('RT006');
    expect(await sqlState(db.q(`select * from retention.archive_object_rows(424242)`))).toBe('RT037');
    expect(await sqlState(db.q(`select retention.archive_complete(424242, repeat('0', 64), 1, 1, 'k', 'w')`))).toBe('RT037');
    expect(await sqlState(db.q(`select retention.archive_abandon(424242, 'x')`))).toBe('RT037');
    expect(await sqlState(db.q(`select retention.archive_object_checked(424242, true, 'x')`))).toBe('RT037');
    expect(await sqlState(db.q(`select retention.archive_object_deleted(424242, 'x', null)`))).toBe('RT006');
    expect(await sqlState(db.q(`select retention.archive_object_deleted(424242, 'x', now())`))).toBe('RT037');
    expect(await sqlState(db.q(`select retention.archive_restoring(424242, true, null)`))).toBe('RT037');
    expect(await sqlState(db.q(`select retention.archive_restoring(424242, null, 'x')`))).toBe('RT006');
    // An object another session claimed, and a completion with a bad digest or count.
    const c = await db.connect();
    await c.query('begin');
    const claim = (await c.query(`select * from retention.archive_claim('file:///x', 1000)`)).rows[0];
    expect(await sqlState(db.q(`select * from retention.archive_object_rows($1)`, [claim.object_id]))).toBe('RT037');
    await c.query('savepoint s');
    expect(await sqlState(c.query(`select retention.archive_complete($1, 'not-a-digest', 1, $2, 'k', 'w')`, [claim.object_id, claim.rows]))).toBe('RT006');
    await c.query('rollback to savepoint s');
    expect(await sqlState(c.query(`select retention.archive_complete($1, repeat('0', 64), 1, $2 + 1, 'k', 'w')`, [claim.object_id, claim.rows]))).toBe('RT037');
    await c.query('rollback');
    await c.end();
    expect([await count(db, 'retention.archived_rows'), await count(db, 'retention.archive_objects'), await count(db, 'retention.audit_log')]).toEqual(before);
    // The command line: usage errors exit 2 with a hint, a missing key names the variable.
    const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, ['runner/cli.ts', ...args],
      { env: { ...process.env, DATABASE_URL: db.url, PG_RETENTION_STORAGE: dir(), ...env }, encoding: 'utf8' });
    const keys = { PG_RETENTION_ARCHIVE_KEYS: `k1:${key()}` };
    for (const [args, env, code, msg] of [
      [['archive', 'frob'], keys, 2, /unknown archive command 'frob'/],
      [['archive', 'restore'], keys, 2, /needs an object id or key/],
      [['archive', 'export', '1'], keys, 2, /--format jsonl or --format csv/],
      [['archive', 'restore', '1', '--into', 'Bad-Name'], keys, 2, /--into takes a schema name/],
      [['archive', 'restore', '1', '--into', 'x', '--live'], keys, 2, /not both/],
      [['archive', 'restore', '1', '--despite-erasures'], keys, 2, /--despite-erasures goes with archive restore --live/],
      [['archive', 'offload'], {}, 2, /PG_RETENTION_ARCHIVE_KEYS: is not set/],
      [['archive', 'offload'], { PG_RETENTION_ARCHIVE_KEYS: 'k1:c2hvcnQ=' }, 2, /32/],
      [['archive', 'verify', '424242'], keys, 2, /archive object 424242 does not exist\nhint: pg-retention archive list/],
      [['approvals', 'frob'], {}, 2, /unknown approvals command/],
      [['approvals', 'show', 'abc'], {}, 2, /numeric proposal id/],
      [['approvals', 'propose', 'ar.wide', '--max-drift', '2'], {}, 2, /--max-drift takes a share from 0 to 1/],
      [['approvals', 'propose', 'ar.wide'], {}, 3, /does not require approval \[RT034\]/],
    ] as [string[], Record<string, string>, number, RegExp][]) {
      const r = cli(args, env);
      expect([args.join(' '), r.status]).toEqual([args.join(' '), code]);
      expect(r.stdout + r.stderr).toMatch(msg);
    }
    expect([await count(db, 'retention.archived_rows'), await count(db, 'retention.archive_objects'), await count(db, 'retention.proposals')])
      .toEqual([before[0], before[1], 0]);
  });
});
