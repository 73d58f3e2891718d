// Attack round atk140 (evidence, restores). F4: the application renamed its archived table
// while an erasure of a person ran and renamed it back afterwards; a live restore of the
// archive object then found no erasure of the object's tables (matched by name only),
// put the erased person's row back, and its audit entry named no erasure. Erasure
// processing records the OIDs of the plan's tables (plan[0].target_oids), and the restore
// matches them with the object's tables by OID as well as by name.
// atk143 F2: a request processed again (its first processing failed) makes a new plan;
// a table only the first processing reached (its policy dropped meanwhile) was forgotten
// by the restore check and by the completion's archives_not_reached. Both take the
// tables of every step run of the request too.
// F1: `archive export` wrote an object's rows to files and left no record; it is audited
// now (archive.exported, with the erasures since), before a file is written; an export
// that cannot be written is refused first, and only a verified object is exported (atk147).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { objectRecord, offload, readObject, restore } from '../../runner/archive/archive.ts';
import { parseKeyRing } from '../../runner/archive/envelope.ts';
import { LocalDirTarget } from '../../runner/archive/storage.ts';
import { runCli } from '../support/cli.ts';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a live restore after an erasure of a table renamed meanwhile (atk140 F4)', () => {
  it('is refused (RT044) and names the erasure; into a schema it goes, audited with the erasure', async () => {
    await q(`create schema e4`);
    await q(`create table e4.people (id int primary key, email text)`);
    await q(`create table e4.events (id int primary key, person_id int, what text, created_at timestamptz not null)`);
    await q(`insert into e4.people values (5, 'dave@example.com'), (2, 'bob@example.com')`);
    await q(`insert into e4.events values (50, 5, 'dave logged in from 10.1.2.3', now() - interval '400 days'),
                                          (51, 2, 'bob old', now() - interval '400 days'), (52, 5, 'dave recent', now())`);
    await q(`select retention.set_erasure_rule('e4.events', 'delete', p_subject_column => 'person_id', p_subject_table => 'e4.people')`);
    await q(`select retention.set_policy('e4.events', 'e4.events', 'delete', 'created_at', '1 year', p_archive => true)`);
    await db.call(`call retention.run('e4.events')`);
    const ring = parseKeyRing(`k1:${randomBytes(32).toString('base64')}`);
    const target = new LocalDirTarget(mkdtempSync(path.join(os.tmpdir(), 'retention-atk140-')));
    const client = await db.connect();
    try {
      await offload(client, target, ring);
      const [{ id: obj }] = await q(`select object_id::text as id from retention.archive_objects where tables ? 'e4.events'`) as [{ id: string }];
      await q(`alter table e4.events rename to events_v2`);
      const req = (await q(`select (retention.request_erasure('e4.people', '5', 'ticket e4')).request_id::int as id`))[0]!.id;
      await db.call(`call retention.process_erasure(${req})`);
      expect(await q(`select status from retention.erasure_requests where request_id = $1`, [req])).toEqual([{ status: 'completed' }]);
      await q(`alter table e4.events_v2 rename to events`);
      expect(await count(db, `e4.events where person_id = 5`)).toBe(0);
      const rows = await readObject(await objectRecord(client, obj), target, ring);
      const refused = await restore(client, rows, { objects: [obj], live: true }).then(() => null, (e: { code?: string; message: string }) => e);
      expect(refused).toMatchObject({ code: 'RT044', message: expect.stringContaining(`erasure request(s) ${req} reached`) });
      expect(await count(db, `e4.events where person_id = 5`)).toBe(0);
      expect(await count(db, `retention.audit_log where action = 'archive.restored'`)).toBe(0);
      // A table made anew under the name since: matched by the name as before.
      expect(await restore(client, rows, { objects: [obj], into: 'e4_inspect' })).toEqual({ 'e4.events': 2 });
      expect(await q(`select details -> 'erasures_since' as e from retention.audit_log where action = 'archive.restored'`))
        .toEqual([{ e: [req] }]);
    } finally {
      await client.end();
    }
  });
});

describe('a request processed again after a failure (atk143 F2)', () => {
  it('the restore check and archives_not_reached remember the tables the first processing reached', async () => {
    await q(`create schema e5`);
    await q(`create table e5.users (id int primary key, email text)`);
    await q(`insert into e5.users values (7, 'seven@example.com'), (8, 'eight@example.com')`);
    await q(`create table e5.events (id bigserial primary key, user_id int, created_at timestamptz not null, note text)`);
    await q(`insert into e5.events (user_id, created_at, note) values (7, now() - interval '100 days', 'jane from 10.0.0.7'),
               (8, now() - interval '100 days', 'bob'), (7, now() - interval '1 day', 'jane recent')`);
    await q(`select retention.set_policy('e5.events', 'e5.events', 'delete', 'created_at', '30 days', p_archive => true,
                                         p_archive_retain => '5 years', p_subject_column => 'user_id')`);
    // The application refuses the person's deletion once (a lock for an audit).
    await q(`create table e5.flag (stop boolean)`);
    await q(`insert into e5.flag values (true)`);
    await q(`create function e5.no_delete() returns trigger language plpgsql as $$
               begin if (select stop from e5.flag) then raise exception 'account is locked for audit'; end if; return old; end $$`);
    await q(`create trigger users_no_delete before delete on e5.users for each row execute function e5.no_delete()`);
    await db.call(`call retention.run('e5.events')`);
    const ring = parseKeyRing(`k1:${randomBytes(32).toString('base64')}`);
    const target = new LocalDirTarget(mkdtempSync(path.join(os.tmpdir(), 'retention-atk143-')));
    const client = await db.connect();
    try {
      await offload(client, target, ring);
      const [{ id: obj }] = await q(`select object_id::text as id from retention.archive_objects where tables ? 'e5.events'`) as [{ id: string }];
      const req = (await q(`select (retention.request_erasure('e5.users', '7', 'support desk')).request_id::int as id`))[0]!.id;
      await db.call(`call retention.process_erasure(${req})`).catch(() => {});
      expect(await q(`select status from retention.erasure_requests where request_id = $1`, [req])).toEqual([{ status: 'failed' }]);
      expect(await count(db, `e5.events where user_id = 7`)).toBe(0);
      // The policy goes, the lock is lifted: the second processing's plan has users alone.
      await q(`select retention.drop_policy('e5.events')`);
      await q(`update e5.flag set stop = false`);
      await db.call(`call retention.process_erasure(${req})`);
      expect(await q(`select status, (select jsonb_agg(e ->> 'target') from jsonb_array_elements(plan) e) as t
                        from retention.erasure_requests where request_id = $1`, [req])).toEqual([{ status: 'completed', t: ['e5.users'] }]);
      expect(await q(`select details -> 'archives_not_reached' as a from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(req)]))
        .toEqual([{ a: [{ table: 'e5.events', rows_in_database: 0, objects: 1 }] }]);
      const rows = await readObject(await objectRecord(client, obj), target, ring);
      const refused = await restore(client, rows, { objects: [obj], live: true }).then(() => null, (e: { code?: string; message: string }) => e);
      expect(refused).toMatchObject({ code: 'RT044', message: expect.stringContaining(`erasure request(s) ${req} reached`) });
      expect(await count(db, `e5.events where user_id = 7`)).toBe(0);
    } finally {
      await client.end();
    }
  });
});

describe('archive export leaves a record (atk140 F1)', () => {
  it('audits each export before a file is written, with the erasures since, warns of them, and refuses bad input unaudited', async () => {
    await q(`create schema e6`);
    await q(`create table e6.people (id int primary key, email text)`);
    await q(`create table e6.events (id int primary key, person_id int, what text, created_at timestamptz not null)`);
    await q(`insert into e6.people values (5, 'dave@example.com'), (2, 'bob@example.com')`);
    await q(`insert into e6.events values (60, 5, 'dave old', now() - interval '400 days'), (61, 2, 'bob old', now() - interval '400 days')`);
    await q(`select retention.set_erasure_rule('e6.events', 'delete', p_subject_column => 'person_id', p_subject_table => 'e6.people')`);
    await q(`select retention.set_policy('e6.events', 'e6.events', 'delete', 'created_at', '1 year', p_archive => true)`);
    await db.call(`call retention.run('e6.events')`);
    const key = randomBytes(32).toString('base64');
    const storage = mkdtempSync(path.join(os.tmpdir(), 'retention-atk140-f1-'));
    const client = await db.connect();
    try {
      await offload(client, new LocalDirTarget(storage), parseKeyRing(`k1:${key}`));
    } finally {
      await client.end();
    }
    const [{ id: obj, k: objKey }] = await q(`select object_id::text as id, object_key as k from retention.archive_objects where tables ? 'e6.events'`) as [{ id: string; k: string }];
    const exported = () => q(`select details from retention.audit_log where action = 'archive.exported' order by audit_id`);
    const cli = (out: string) => runCli(['archive', 'export', obj, '--format', 'jsonl', '--out', out],
      { url: db.url, env: { PG_RETENTION_STORAGE: storage, PG_RETENTION_ARCHIVE_KEYS: `k1:${key}` } });

    // Before any erasure: audited, no warning, the file written.
    const out1 = mkdtempSync(path.join(os.tmpdir(), 'retention-atk140-out-'));
    const r1 = await cli(path.join(out1, 'x'));
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stderr).not.toMatch(/warning/);
    expect(readFileSync(path.join(out1, 'x', `archive-${obj}.jsonl`), 'utf8')).toContain('dave old');
    expect(await exported()).toEqual([{ details: { object_id: Number(obj), format: 'jsonl', rows: 2, tables: { 'e6.events': 2 } } }]);

    // After an erasure of a person whose rows the object holds: audited with the request, warned.
    const req = (await q(`select (retention.request_erasure('e6.people', '5', 'ticket e6')).request_id::int as id`))[0]!.id;
    await db.call(`call retention.process_erasure(${req})`);
    const r2 = await cli(path.join(out1, 'y'));
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toContain(`warning: erasure request(s) ${req} reached tables of ${objKey}`);
    expect((await exported()).map((r) => (r.details as { erasures_since?: number[] }).erasures_since)).toEqual([undefined, [req]]);
    expect(await q(`select actor is not null as a, object_name from retention.audit_log where action = 'archive.exported' order by audit_id`))
      .toEqual([{ a: true, object_name: objKey }, { a: true, object_name: objKey }]);

    // atk147 F1: an export that cannot be written is refused before it is recorded: an
    // --out that is a file, and files that exist already (the same export again).
    writeFileSync(path.join(out1, 'afile'), 'x');
    const r3 = await cli(path.join(out1, 'afile'));
    expect([r3.code, r3.stderr]).toEqual([2, expect.stringMatching(/not a directory|cannot make/)]);
    const r4 = await cli(path.join(out1, 'x'));
    expect([r4.code, r4.stderr]).toEqual([2, expect.stringMatching(/exists: an export writes only new files/)]);
    expect(await exported()).toHaveLength(2);

    // Bad input: a clear error, nothing audited.
    expect(await sqlState(q(`select retention.archive_exporting($1, 'xml')`, [obj]))).toBe('RT006');
    expect(await sqlState(q(`select retention.archive_exporting($1, null)`, [obj]))).toBe('RT006');
    expect(await sqlState(q(`select retention.archive_exporting(424242, 'csv')`))).toBe('RT037');
    expect(await sqlState(q(`select retention.archive_exporting(null, 'csv')`))).toBe('RT037');
    // atk147 F2: an object that is not stored (failed, deleted) has nothing to export.
    await q(`update retention.archive_objects set status = 'failed' where object_id = $1`, [obj]);
    expect(await sqlState(q(`select retention.archive_exporting($1, 'csv')`, [obj]))).toBe('RT037');
    await q(`update retention.archive_objects set status = 'verified' where object_id = $1`, [obj]);
    expect(await exported()).toHaveLength(2);
    // Only the archiver and the admin may record one (an auditor cannot fill the log with them).
    const reader = await loginAs(db, `atk140_auditor_${process.pid}`, 'retention_auditor');
    try {
      expect(await sqlState(reader.query(`select retention.archive_exporting($1, 'csv')`, [obj]))).toBe('42501');
    } finally {
      await reader.end();
    }
    expect(await exported()).toHaveLength(2);
  });
});
