// Attack round atk134 (personal data left behind).
// F1: a zero byte in any row's bytea (an image) or a \u0000 escape in any row's json value
// of the subject table failed every erasure of that table (convert_from, a cast to jsonb),
// and a subject hold's check of such a column failed every run. F3: a table the
// application rebuilt under its name (a new OID) lost its archive objects from the
// completion's archives_not_reached, which then said no copies remain. F4: `archive
// restore --live` of an object holding an erased person's rows put them back, silently:
// a live restore after erasures of its tables is refused (RT044) unless asked, and every
// restore is audited. F2: the person's values stayed in the column statistics (pg_stats)
// of the tables the erasure changed until the next ANALYZE: the erasure takes them again
// as it completes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { objectRecord, offload, readObject, restore } from '../../runner/archive/archive.ts';
import { parseKeyRing } from '../../runner/archive/envelope.ts';
import { LocalDirTarget } from '../../runner/archive/storage.ts';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

const processed = async (id: number) => {
  await db.call(`call retention.process_erasure(${id})`).catch(() => {});
  return (await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [id]))[0];
};

describe('values no text or jsonb can hold (atk134 F1)', () => {
  it('a bytea with zero bytes, in the person\'s row or another\'s, and json with \\u0000 do not stop the erasure', async () => {
    await q(`create schema n1`);
    await q(`create table n1.people (id bigint primary key, email text, avatar bytea, raw json, tags bytea[])`);
    await q(`create table n1.orders (id int primary key, person_id bigint references n1.people, meta json)`);
    await q(`insert into n1.people values
               (1, 'bob.victim@example.org', '\\x89504e470d0a1a0a0000000d49484452', '{"nick": "bob"}', array['\\x00ff'::bytea]),
               (2, 'carol@example.org', '\\xff00abcd', '{"sig": "a\\u0000b"}', null),
               (3, 'dave@example.org', null, '{"big": 1e1000000, "cut": "\\ud83d", "small": -1e-99999}', null)`);
    await q(`insert into n1.orders values (1, 1, '{"x": "\\u0000"}'), (2, 2, '{"y": "\\\\u0000 \\u0000"}')`);
    const id = (await q(`select (retention.request_erasure('n1.people', '1', 'ticket n1')).request_id::int as id`))[0]!.id;
    expect(await processed(id)).toEqual({ status: 'completed', status_reason: null });
    expect(await q(`select id from n1.people order by id`)).toEqual([{ id: '2' }, { id: '3' }]);
    expect(await q(`select id from n1.orders order by id`)).toEqual([{ id: 2 }]);
  });

  it('a subject hold over a subject column retyped to json, \\u0000 in another row: the held row stays and the run completes', async () => {
    await q(`create schema n2`);
    await q(`create table n2.events (id int primary key, who text, created_at timestamptz not null)`);
    await q(`select retention.set_policy('n2.events', 'n2.events', 'delete', 'created_at', '1 year', p_subject_column => 'who')`);
    // The application retypes its subject column to json afterwards.
    await q(`alter table n2.events alter column who type json using to_json(who)`);
    await q(`insert into n2.events values (1, '"alice"', now() - interval '3 years'), (2, '"b\\u0000b"', now() - interval '3 years'),
                                          (3, '{"name": "carol"}', now() - interval '3 years'),
                                          (4, '{"n": 1e1000000, "who": "alice"}', now() - interval '3 years'),
                                          (5, '"\\ud83d"', now() - interval '3 years')`);
    await q(`select retention.place_hold('subject', 'alice', 'case n2')`);
    await db.call(`call retention.run('n2.events')`);
    // Alice's rows stay (row 4 names her beside a number jsonb cannot hold: atk135 F3).
    expect(await q(`select id from n2.events order by id`)).toEqual([{ id: 1 }, { id: 4 }]);
    expect(await q(`select status from retention.runs where policy_name = 'n2.events'`)).toEqual([{ status: 'completed' }]);
  });

  it('_jsonb_of keeps an escape as the six characters it is written with, and an escaped backslash as it is', async () => {
    expect(await q(`select retention_internal._jsonb_of('{"a": "x\\u0000y", "b": "\\\\u0000", "c": 1}'::json)::text as j`))
      .toEqual([{ j: '{"a": "x\\\\u0000y", "b": "\\\\u0000", "c": 1}' }]);
    // A lone surrogate and a number beyond numeric's range (atk135 F3).
    expect(await q(`select retention_internal._jsonb_of('{"a": 1e1000000, "b": "x\\ud83d", "c": [1, 2.5]}'::json)::text as j`))
      .toEqual([{ j: '{"a": "1e1000000", "b": "x\\\\ud83d", "c": ["1", "2.5"]}' }]);
    expect(await q(`select retention_internal._bytea_texts('\\x61006200'::bytea) as t, retention_internal._bytea_texts('\\x41004200ff'::bytea) as u`))
      .toEqual([{ t: ['ab'], u: [] }]);
  });
});

describe('archived copies of a table rebuilt under its name (atk134 F3)', () => {
  it('the completion lists the old table\'s objects and rows still in the database by the name', async () => {
    await q(`create schema n3`);
    await q(`create table n3.users (id bigint primary key, email text)`);
    await q(`create table n3.logs (id int primary key, user_id bigint references n3.users, msg text, created_at timestamptz not null)`);
    await q(`insert into n3.users values (7, 'alice@example.org'), (8, 'bob@example.org')`);
    await q(`insert into n3.logs values (1, 7, 'alice logged in', now() - interval '90 days'), (2, 8, 'bob', now() - interval '90 days'),
                                        (3, 7, 'recent', now())`);
    await q(`select retention.set_policy('n3.logs', 'n3.logs', 'delete', 'created_at', '30 days', p_subject_column => 'user_id',
                                         p_archive => true, p_archive_retain => '1 year')`);
    await db.call(`call retention.run('n3.logs')`);
    const oldRel = (await q(`select 'n3.logs'::regclass::oid::text as o`))[0]!.o;
    expect(await count(db, `retention.archived_batches where rel = $1`, [oldRel])).toBe(1);
    // An object written from an earlier batch (as archive_complete records one), and a
    // failed one whose storage is not cleared yet.
    for (const status of ['verified', 'failed']) {
      await q(`insert into retention.archive_objects (object_key, target, status, tables, rels, created_by)
               values ($1, 'file:///nowhere', $2, '{"n3.logs": 1}', array[$3::oid], 'test')`, [`n3-${status}`, status, oldRel]);
    }
    await q(`begin; create table n3.logs_new (like n3.logs including all); insert into n3.logs_new select * from n3.logs;
             drop table n3.logs; alter table n3.logs_new rename to logs;
             alter table n3.logs add foreign key (user_id) references n3.users; commit`);
    const id = (await q(`select (retention.request_erasure('n3.users', '7', 'ticket n3')).request_id::int as id`))[0]!.id;
    expect((await processed(id))!.status).toBe('completed');
    const [entry] = await q(`select details -> 'archives_not_reached' as a from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(id)]);
    expect(entry!.a).toEqual([{ table: 'n3.logs', rows_in_database: 2, objects: 2 }]);
    const [note] = await q(`select payload -> 'archives_not_reached' as a from retention.notifications where dedupe_key = $1`, [`erasure_completed:${id}`]);
    expect(note!.a).toEqual(entry!.a);
    // (The policy on the table gone is the DBA's to drop: its subject column is checked
    // wherever the name leads until then, RT002.)
    await q(`select retention.drop_policy('n3.logs')`);
    await q(`delete from retention.archive_objects where object_key like 'n3-%'`);
  });
});

describe('a live restore after an erasure (atk134 F4)', () => {
  it('is refused (RT044) and changes nothing; into a schema it goes, audited; --despite-erasures restores live, audited as such', async () => {
    await q(`create schema n4`);
    await q(`create table n4.users (id bigint primary key, email text)`);
    await q(`create table n4.logs (id int primary key, user_id bigint, msg text, created_at timestamptz not null)`);
    await q(`insert into n4.users values (7, 'alice@example.org'), (8, 'bob@example.org')`);
    await q(`insert into n4.logs values (1, 7, 'alice logged in', now() - interval '90 days'), (2, 8, 'bob', now() - interval '90 days')`);
    await q(`select retention.set_policy('n4.logs', 'n4.logs', 'delete', 'created_at', '30 days', p_subject_column => 'user_id',
                                         p_archive => true, p_archive_retain => '1 year')`);
    await db.call(`call retention.run('n4.logs')`);
    const ring = parseKeyRing(`k1:${randomBytes(32).toString('base64')}`);
    const target = new LocalDirTarget(mkdtempSync(path.join(os.tmpdir(), 'retention-atk134-')));
    const client = await db.connect();
    try {
      await offload(client, target, ring);
      const [{ id: obj }] = await q(`select object_id::text as id from retention.archive_objects where tables ? 'n4.logs'`) as [{ id: string }];
      const req = (await q(`select (retention.request_erasure('n4.users', '7', 'ticket n4')).request_id::int as id`))[0]!.id;
      expect((await processed(req))!.status).toBe('completed');
      const rows = await readObject(await objectRecord(client, obj), target, ring);
      const refused = await restore(client, rows, { objects: [obj], live: true }).then(() => null, (e: { code?: string; message: string }) => e);
      expect(refused).toMatchObject({ code: 'RT044', message: expect.stringContaining(`erasure request(s) ${req} reached`) });
      expect(await count(db, `n4.logs`)).toBe(0);
      expect(await count(db, `retention.audit_log where action = 'archive.restored'`)).toBe(0);
      expect(await restore(client, rows, { objects: [obj], into: 'n4_inspect' })).toEqual({ 'n4.logs': 2 });
      expect(await restore(client, rows, { objects: [obj], live: true, despiteErasures: true })).toEqual({ 'n4.logs': 2 });
      expect(await q(`select details - 'tables' - 'rows' - 'object_id' as d from retention.audit_log where action = 'archive.restored' order by audit_id`))
        .toEqual([{ d: { live: false, into: 'n4_inspect', erasures_since: [req], despite_erasures: false } },
                  { d: { live: true, erasures_since: [req], despite_erasures: true } }]);
    } finally {
      await client.end();
    }
  });
});

describe('a live restore after an erasure of a partitioned table (atk135 F5)', () => {
  it('is refused though the manifest names the partitioned table and the plan its partitions', async () => {
    // (The policy on a partition: its rows are archived under the partitioned table's name.)
    await q(`create schema n6`);
    await q(`create table n6.users (id bigint primary key, email text)`);
    await q(`create table n6.logs (id int, user_id bigint, msg text, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table n6.logs_old partition of n6.logs for values from ('2000-01-01') to ('2026-01-01')`);
    await q(`create table n6.logs_new partition of n6.logs for values from ('2026-01-01') to ('2100-01-01')`);
    await q(`insert into n6.users values (7, 'alice@example.org'), (8, 'bob@example.org')`);
    await q(`insert into n6.logs values (1, 7, 'alice', '2025-06-01'), (2, 8, 'bob', '2025-06-01'), (3, 7, 'alice now', now())`);
    await q(`select retention.set_policy('n6.logs', 'n6.logs_old', 'delete', 'created_at', '30 days', p_subject_column => 'user_id',
                                         p_archive => true, p_archive_retain => '1 year')`);
    await db.call(`call retention.run('n6.logs')`);
    const ring = parseKeyRing(`k1:${randomBytes(32).toString('base64')}`);
    const target = new LocalDirTarget(mkdtempSync(path.join(os.tmpdir(), 'retention-atk135-')));
    const client = await db.connect();
    try {
      await offload(client, target, ring);
      const [{ id: obj }] = await q(`select object_id::text as id from retention.archive_objects where tables ? 'n6.logs'`) as [{ id: string }];
      const req = (await q(`select (retention.request_erasure('n6.users', '7', 'ticket n6')).request_id::int as id`))[0]!.id;
      expect((await processed(req))!.status).toBe('completed');
      const rows = await readObject(await objectRecord(client, obj), target, ring);
      const refused = await restore(client, rows, { objects: [obj], live: true }).then(() => null, (e: { code?: string }) => e);
      expect(refused).toMatchObject({ code: 'RT044' });
      // Alice's rows are gone (the old one archived, the new one erased); Bob's archived.
      expect(await count(db, `n6.logs`)).toBe(0);
    } finally {
      await client.end();
    }
  });
});

describe('column statistics after an erasure (atk134 F2)', () => {
  it('pg_stats of the retention tables no longer hold the person\'s values; the plan\'s tables are named to ANALYZE', async () => {
    await q(`create schema n5`);
    await q(`create table n5.users (id bigint primary key, email text, name text)`);
    await q(`insert into n5.users values (7, 'alice.victim@example.org', 'Alice Victimson')`);
    await q(`insert into n5.users select g, 'user' || g || '@example.org', 'User ' || g from generate_series(100, 120) g`);
    await q(`select retention.place_hold('subject', '7', 'Alice Victimson v. ACME')`);
    await q(`select retention.release_hold(hold_id, 'settled') from retention.legal_holds where reason like 'Alice%'`);
    const id = (await q(`select (retention.request_erasure('n5.users', '7', 'alice.victim@example.org', p_reference => 'ticket n5')).request_id::int as id`))[0]!.id;
    await q(`analyze n5.users; analyze retention.erasure_requests; analyze retention.legal_holds`);
    const leaks = () => count(db, `pg_stats where (schemaname = 'n5' or schemaname = 'retention')
                                     and (most_common_vals::text ~* 'alice' or histogram_bounds::text ~* 'alice')`);
    expect(await leaks()).toBeGreaterThan(0);
    expect((await processed(id))!.status).toBe('completed');
    // The retention tables' are taken again; the application's table is named for the DBA
    // (its ANALYZE would run the application's index expressions in the caller's session:
    // atk137 F1).
    const retentionLeaks = () => count(db, `pg_stats where schemaname = 'retention' and (most_common_vals::text ~* 'alice' or histogram_bounds::text ~* 'alice')`);
    expect(await retentionLeaks()).toBe(0);
    expect(await q(`select details -> 'statistics_not_refreshed' as s, details -> 'analyze_tables' as a
                      from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(id)]))
      .toEqual([{ s: null, a: ['n5.users'] }]);
    await q(`analyze n5.users`);
    expect(await leaks()).toBe(0);
  });
});

// atk137 F1–F3: the completion's ANALYZE of the plan's tables ran the application's index
// expressions in the admin's session: they filed erasure requests in the admin's name, slept
// with the holds gate held, and wrote their error text into the audit log. The application's
// tables are no longer analyzed (named in analyze_tables instead), and request_erasure
// refuses a call from inside another function (42501).
describe('the application\'s code during an erasure\'s completion (atk137)', () => {
  it('no index expression of the plan\'s tables runs as the erasure completes; a request filed from inside a function is refused', async () => {
    await q(`create schema n7`);
    await q(`create table n7.users (id bigint primary key, email text)`);
    await q(`create table n7.calls (at timestamptz default clock_timestamp(), who text)`);
    await q(`create function n7.note() returns void language plpgsql as $$ begin insert into n7.calls (who) values (session_user); end $$`);
    await q(`create function n7.spy(text) returns text language plpgsql immutable as $$
               begin perform n7.note(); return $1; end $$`);
    await q(`insert into n7.users select g, 'u' || g || '@example.org' from generate_series(1, 50) g`);
    await q(`create index on n7.users (n7.spy(email))`);
    await q(`analyze n7.users`);
    await q(`delete from n7.calls`);
    const id = (await q(`select (retention.request_erasure('n7.users', '7', 'ticket n7')).request_id::int as id`))[0]!.id;
    expect((await processed(id))!.status).toBe('completed');
    // The index is kept up by the delete (no call), and no ANALYZE ran the expression.
    expect(await count(db, `n7.calls`)).toBe(0);
    expect(await q(`select details -> 'analyze_tables' as a from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(id)]))
      .toEqual([{ a: ['n7.users'] }]);
    await q(`create function n7.file() returns void language plpgsql as $$
               begin perform retention.request_erasure('n7.users', '8', 'in your name'); end $$`);
    const before = await count(db, `retention.erasure_requests`);
    const e = await q(`select n7.file()`).then(() => null, (err: { code?: string; message: string }) => err);
    expect(e).toMatchObject({ code: '42501', message: expect.stringContaining('cannot file an erasure request from inside another function') });
    expect(await count(db, `retention.erasure_requests`)).toBe(before);
  });
});
