// Attack round atk128 (holds), F1: archive prune asked archive_rows_held (not held), then
// recorded the deletion in another statement; a foreign key the application added to the
// object's table, or a subject column an admin declared, in between made the open hold
// cover the rows, and the object was deleted all the same. archive_rows_held now holds the
// holds gate and the object's tables still (SHARE UPDATE EXCLUSIVE) to the end of its
// transaction, and prune checks and records in one: the change waits for the record.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a hold widened between archive prune\'s check and its record (atk128 F1)', () => {
  it('a key added to the object\'s table and a declared subject column wait for the checking transaction', async () => {
    await q(`create schema p8`);
    await q(`create table p8.users (id int primary key, name text, created_at timestamptz not null default now())`);
    await q(`create table p8.docs (id int primary key, owner int, created_at timestamptz not null)`);
    await q(`insert into p8.users values (42, 'held'), (43, 'other')`);
    await q(`select retention.place_hold('subject', '42', 'litigation 128')`);
    const rows = JSON.stringify([{ table: 'p8.docs', row: { id: 1, owner: 42, created_at: '2020-01-01T00:00:00Z' } }]);
    // An object whose manifest lists p8.docs (as archive_complete records it).
    const obj = (await q(`insert into retention.archive_objects (object_key, target, status, tables, created_by)
                          values ('p8-object', 'file:///nowhere', 'verified', '{"p8.docs": 1}', 'test') returning object_id::int as id`))[0]!.id;
    const pruner = await db.connect();
    const app = await db.connect();
    const admin = await db.connect();
    const waits = (pattern: string) => expect.poll(async () => count(db, `pg_stat_activity where wait_event_type = 'Lock' and query like $1`, [pattern]),
                                                   { timeout: 20_000, interval: 50 }).toBe(1);
    try {
      await pruner.query('begin');
      expect((await pruner.query(`select retention.archive_rows_held($2, $1::jsonb) as held`, [rows, obj])).rows).toEqual([{ held: false }]);
      const fk = app.query(`alter table p8.docs add constraint docs_owner_fk foreign key (owner) references p8.users (id)`)
        .then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
      const declared = admin.query(`select retention.set_policy('p8.users', 'p8.users', 'delete', 'created_at', '100 years', p_subject_column => 'id')`)
        .then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
      await waits('alter table p8.docs add constraint%');
      await waits(`select retention.set_policy('p8.users'%`);
      // Still the same answer inside the transaction; the record would commit before either.
      expect((await pruner.query(`select retention.archive_rows_held($2, $1::jsonb) as held`, [rows, obj])).rows).toEqual([{ held: false }]);
      await pruner.query('commit');
      expect(await fk).toBe('ok');
      expect(await declared).toBe('ok');
      // Asked again now, the key makes the rows held.
      expect((await q(`select retention.archive_rows_held($2, $1::jsonb) as held`, [rows, obj]))).toEqual([{ held: true }]);
    } finally {
      await pruner.query('rollback').catch(() => {});
      await pruner.end();
      await app.end();
      await admin.end();
    }
  });

  it('an unknown object locks nothing (atk130 F1)', async () => {
    await q(`create schema p9`);
    await q(`create table p9.t (id int primary key)`);
    const c = await db.connect();
    try {
      await c.query('begin');
      await c.query(`select retention.archive_rows_held(-12345, '[{"table": "p9.t", "row": {"id": 1}}]'::jsonb)`);
      expect((await c.query(`select count(*)::int as n from pg_locks where pid = pg_backend_pid() and relation = 'p9.t'::regclass`)).rows).toEqual([{ n: 0 }]);
      await c.query('rollback');
    } finally {
      await c.end();
    }
  });
});
