// Attack round atk140 (evidence, restores). F4: the application renamed its archived table
// while an erasure of a person ran and renamed it back afterwards; a live restore of the
// archive object then found no erasure of the object's tables (matched by name only),
// put the erased person's row back, and its audit entry named no erasure. Erasure
// processing records the OIDs of the plan's tables (plan[0].target_oids), and the restore
// matches them with the object's tables by OID as well as by name.
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
