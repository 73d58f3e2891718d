// Attack round atk122 (no held row is ever deleted), on stop 47's fixes:
//  F2 a batch builds its hold rule, then its lock passes wait for the application's row
//     locks; meanwhile the application made orders.user_id a key to users (or attached
//     orders under a partitioned table whose key leads there): alice's note, held through
//     the new key, was deleted by the final statement. The tables the rule reads are
//     found again after each pass; more than it was built from, and the batch stops
//     (stopped_lock_timeout), nothing of it done. (The attach now waits for the batch:
//     orders, up the keys from notes, is locked ACCESS SHARE before the rule is built.)
//  F3 a table rebuilt under its name (copy, drop, rename) while a subject hold is open:
//     its archived rows were judged "not theirs", and `archive prune` deleted the object.
//  F3b the table dropped: its keys recorded in held_keys were not consulted.
//  F1 the key column's name swapped with another's (or the key renamed and a column added
//     under its old name) after the object was written and before the hold: archived rows
//     were read by today's names, and the object of alice's note was pruned. The manifest
//     records each table's keys when the object is written (archive_objects.keys), and
//     archived rows are judged through them.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { offload } from '../../runner/archive/archive.ts';
import { parseKeyRing } from '../../runner/archive/envelope.ts';
import { LocalDirTarget } from '../../runner/archive/storage.ts';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

async function release(): Promise<void> {
  await q(`select count(retention.release_hold(hold_id, 'test over')) from retention.legal_holds where released_at is null`);
}

describe('a key that comes while a batch waits for row locks (atk122 F2)', () => {
  for (const how of ['a foreign key added', 'a partition attached'] as const) {
    it(`${how}: ${how.startsWith('a foreign') ? 'alice\'s note stays, the run stops with nothing of the batch done' : 'the attach waits for the batch'}`, async () => {
      const s = how.startsWith('a foreign') ? 'k122k' : 'k122a';
      await q(`create schema ${s}`);
      try {
        await q(`create table ${s}.users (id bigint primary key, created_at timestamptz not null default now())`);
        if (how.startsWith('a partition')) {
          await q(`create table ${s}.all_orders (id bigint, user_id bigint references ${s}.users (id), primary key (id)) partition by range (id)`);
        }
        await q(`create table ${s}.orders (id bigint primary key, user_id bigint not null)`);
        await q(`create table ${s}.notes (id bigint primary key, order_id bigint references ${s}.orders (id), created_at timestamptz not null)`);
        await q(`create table ${s}.note_tags (id bigint primary key, note_id bigint references ${s}.notes (id) on delete cascade)`);
        await q(`insert into ${s}.users (id) values (42), (7)`);
        await q(`insert into ${s}.orders values (100, 42), (5, 7)`);
        await q(`insert into ${s}.notes values (1, 100, now() - interval '90 days'), (2, 5, now() - interval '90 days')`);
        await q(`insert into ${s}.note_tags values (10, 1), (20, 2)`);
        await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', '100 years', p_subject_column => 'id')`);
        await q(`select retention.set_policy('${s}.notes', '${s}.notes', 'delete', 'created_at', '30 days', p_lock_timeout => '30 seconds')`);
        await q(`select retention.place_hold('subject', '42', 'litigation')`);
        const app = await db.connect();
        const ddl = await db.connect();
        try {
          await app.query('begin');
          await app.query(`select * from ${s}.note_tags where id = 10 for update`);
          const run = db.call(`call retention.run('${s}.notes')`).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
          // The batch waits for the row lock (a transaction's), not for a moment's table
          // lock on the way (autovacuum's, under load: CI saw the attach go through first).
          await expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and wait_event in ('transactionid', 'tuple')
                                                    and query like 'call retention.run(%'`),
                            { timeout: 20_000, interval: 50 }).toBe(1);
          // The key committed at once; the attach waits for the batch (it needs ACCESS
          // EXCLUSIVE on orders, which the batch holds ACCESS SHARE on): either way, nothing
          // held is taken.
          const change = ddl.query(how.startsWith('a foreign')
            ? `alter table ${s}.orders add foreign key (user_id) references ${s}.users (id)`
            : `alter table ${s}.all_orders attach partition ${s}.orders for values from (0) to (1000)`);
          if (how.startsWith('a partition')) {
            // The attach waits for the batch: note 1 is not held while the batch runs (no
            // key leads from orders to users yet), and the key comes only after it.
            await expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and query like 'alter table ${s}.all_orders attach%'`),
                              { timeout: 20_000, interval: 50 }).toBe(1);
            await app.query('commit');
            expect(await run).toBe('ok');
            await change;
            return;
          }
          await change;
          await app.query('commit');
          expect(await run).toBe('ok');
          expect(await count(db, `${s}.notes where id = 1`)).toBe(1);
          expect(await q(`select status from retention.runs where policy_name = '${s}.notes' order by run_id desc limit 1`))
            .toEqual([{ status: 'stopped_lock_timeout' }]);
          // The next run reads the holds as they are: bob's note goes, alice's stays.
          await db.call(`call retention.run('${s}.notes')`);
          expect(await q(`select id from ${s}.notes order by id`)).toEqual([{ id: '1' }]);
        } finally {
          await app.query('rollback').catch(() => {});
          await app.end();
          await ddl.end();
        }
      } finally {
        await release();
        await q(`drop schema ${s} cascade`);
      }
    }, 60_000);
  }
});

describe('archived rows of a table rebuilt, dropped or re-keyed (atk122 F3, F3b, F1)', () => {
  for (const then of ['rebuilt under its name', 'dropped', 'given the key column\'s name to another column', 'renamed its key, a new column under the old name'] as const) {
    it(`the notes table ${then}: the object of alice's archived note is kept`, async () => {
      const s = `k122${['rebuilt', 'dropped', 'given', 'renamed'].findIndex((w) => then.startsWith(w))}`;
      await q(`create schema ${s}`);
      const c = await db.connect();
      try {
        await q(`create table ${s}.users (id bigint primary key, created_at timestamptz not null default now())`);
        await q(`create table ${s}.orders (id bigint primary key, user_id bigint references ${s}.users (id))`);
        await q(`create table ${s}.notes (id bigint primary key, order_id bigint references ${s}.orders (id), other_id bigint, created_at timestamptz not null)`);
        await q(`insert into ${s}.users (id) values (42), (7)`);
        await q(`insert into ${s}.orders values (100, 42), (5, 7)`);
        await q(`insert into ${s}.notes values (1, 100, 5, now() - interval '90 days')`);
        await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', '100 years', p_subject_column => 'id')`);
        await q(`select retention.set_policy('${s}.notes', '${s}.notes', 'delete', 'created_at', '30 days', p_archive => true, p_archive_retain => '1 day')`);
        await db.call(`call retention.run('${s}.notes')`);
        const r = await offload(c, new LocalDirTarget(mkdtempSync(path.join(os.tmpdir(), 'retention-atk122-'))),
                                parseKeyRing(`k1:${randomBytes(32).toString('base64')}`));
        expect(r.objects).toBe(1);
        const [{ object_id: object }] = await q(`select object_id from retention.archive_objects where tables ? '${s}.notes'`) as [{ object_id: string }];
        const rows = JSON.stringify([{ table: `${s}.notes`, row: { id: 1, order_id: 100, other_id: 5, created_at: '2026-09-01T00:00:00+00:00' } }]);
        const held = async () => (await q(`select retention.archive_rows_held($1, $2::jsonb) as h`, [object, rows]))[0]!.h;
        if (then.startsWith('given') || then.startsWith('renamed')) {
          // Before the hold, as in the attack: held_keys records nothing yet.
          if (then.startsWith('given')) {
            await q(`alter table ${s}.notes rename order_id to tmp`);
            await q(`alter table ${s}.notes rename other_id to order_id`);
            await q(`alter table ${s}.notes rename tmp to other_id`);
          } else {
            await q(`alter table ${s}.notes rename order_id to order_ref`);
            await q(`alter table ${s}.notes add column order_id bigint`);
          }
          await q(`select retention.place_hold('subject', '42', 'litigation')`);
          expect(await held()).toBe(true);
          if (then.startsWith('renamed')) {
            // Bob's note (his order 5), archived alike, is not held: judged, not kept blindly.
            const bob = JSON.stringify([{ table: `${s}.notes`, row: { id: 2, order_id: 5, other_id: 100, created_at: '2026-09-01T00:00:00+00:00' } }]);
            expect((await q(`select retention.archive_rows_held($1, $2::jsonb) as h`, [object, bob]))[0]!.h).toBe(false);
          }
          return;
        }
        await q(`select retention.place_hold('subject', '42', 'litigation')`);
        expect(await held()).toBe(true);
        await q(`select retention.drop_policy('${s}.notes')`);
        if (then.startsWith('rebuilt')) {
          await q(`create table ${s}.notes_new (like ${s}.notes including all)`);
          await q(`alter table ${s}.notes_new add foreign key (order_id) references ${s}.orders (id)`);
          await q(`drop table ${s}.notes`);
          await q(`alter table ${s}.notes_new rename to notes`);
        } else {
          await q(`drop table ${s}.notes`);
        }
        expect(await held()).toBe(true);
      } finally {
        await c.end();
        await release();
        await q(`drop schema ${s} cascade`);
      }
    }, 60_000);
  }
});
