// Attack round atk158 (no held row removed while its hold is in force), on stop 52's hold
// reach. F2-F4 (critical): with a subject hold open, the application dropped the partition
// whose policy (or erasure rule) declared the subject column, then rebuilt the parent and
// the sibling holding the held row under their names; subject_family records tables by
// OID only, so the rebuilt tree lost the declaration and the held row was deleted (by a
// delete policy, or dropped with its partition by drop_partitions). A family table gone by
// OID is now also the table under a name it had in a recorded edge (_family_now). F5, F6
// (critical): names recorded in past_parents, subject_links and held_keys were never
// updated on a rename; a table renamed, then rebuilt under its new name, lost its holds.
// They follow renames of tables still there now.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

async function tree(s: string): Promise<void> {
  await q(`create schema ${s}`);
  await q(`create table ${s}.ev (id int, user_id int, created_at timestamptz, k int) partition by list (k)`);
  await q(`create table ${s}.ev1 partition of ${s}.ev for values in (1)`);
  await q(`create table ${s}.ev2 partition of ${s}.ev for values in (2)`);
  await q(`insert into ${s}.ev values (1, 42, now() - interval '30 days', 1), (2, 42, now() - interval '30 days', 2), (3, 7, now() - interval '30 days', 2)`);
}

/** The application drops the declaring partition, then rebuilds the parent and the sibling under their names. */
async function rebuild(s: string): Promise<void> {
  await q(`drop table ${s}.ev1`);
  await q(`begin;
           create table ${s}.ev_new (id int, user_id int, created_at timestamptz, k int) partition by list (k);
           create table ${s}.ev2_new partition of ${s}.ev_new for values in (2);
           insert into ${s}.ev2_new select * from ${s}.ev2;
           drop table ${s}.ev;
           alter table ${s}.ev_new rename to ev;
           alter table ${s}.ev2_new rename to ev2;
           commit`);
}

const left = async (table: string) => (await q<{ id: number }>(`select id from ${table} order by id`)).map((r) => r.id);

describe('subject holds through tables rebuilt under their names (atk158)', () => {
  it('F2: the declaring partition dropped, its parent and sibling rebuilt under their names: the sibling\'s held row stays', async () => {
    await tree('h158a');
    await q(`select retention.set_policy('h158a-p1', 'h158a.ev1', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h158a-p2', 'h158a.ev2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await db.call(`call retention.run('h158a-p2')`);
    expect(await left('h158a.ev2')).toEqual([2]);
    await rebuild('h158a');
    await q(`select retention.set_policy('h158a-p2', 'h158a.ev2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`insert into h158a.ev2 values (4, 7, now() - interval '30 days', 2)`);
    await db.call(`call retention.run('h158a-p2')`);
    expect(await left('h158a.ev2')).toEqual([2]);
  });

  it('F1: the same before any hold was placed or run opened: the declaration records the edges above its table', async () => {
    await tree('h158e');
    await q(`select retention.set_policy('h158e-p1', 'h158e.ev1', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'user_id')`);
    expect(await q(`select count(*)::int as n from retention_internal.past_parents where rel = 'h158e.ev1'::regclass`)).toEqual([{ n: 1 }]);
    await rebuild('h158e');
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await q(`select retention.set_policy('h158e-p2', 'h158e.ev2', 'delete', 'created_at', p_retain => '1 day')`);
    await db.call(`call retention.run('h158e-p2')`);
    expect(await left('h158e.ev2')).toEqual([2]);
  });

  it('F1: so does an erasure rule\'s declaration on a partition', async () => {
    await tree('h158f');
    await q(`create table h158f.users (id int primary key)`);
    await q(`select retention.set_erasure_rule('h158f.ev1', 'delete', p_subject_column => 'user_id', p_subject_table => 'h158f.users')`);
    await rebuild('h158f');
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await q(`select retention.set_policy('h158f-p2', 'h158f.ev2', 'delete', 'created_at', p_retain => '1 day')`);
    await db.call(`call retention.run('h158f-p2')`);
    expect(await left('h158f.ev2')).toEqual([2]);
  });

  it('F4: the same with the subject column declared by an erasure rule on the partition', async () => {
    await tree('h158b');
    await q(`create table h158b.users (id int primary key)`);
    await q(`select retention.set_erasure_rule('h158b.ev1', 'delete', p_subject_column => 'user_id', p_subject_table => 'h158b.users')`);
    await q(`select retention.set_policy('h158b-p2', 'h158b.ev2', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await db.call(`call retention.run('h158b-p2')`);
    expect(await left('h158b.ev2')).toEqual([2]);
    await rebuild('h158b');
    await q(`select retention.set_policy('h158b-p2', 'h158b.ev2', 'delete', 'created_at', p_retain => '1 day')`);
    await db.call(`call retention.run('h158b-p2')`);
    expect(await left('h158b.ev2')).toEqual([2]);
  });

  it('F5: a partition renamed, detached and rebuilt under its new name keeps its tree\'s subject column', async () => {
    await tree('h158c');
    await q(`select retention.set_policy('h158c-p1', 'h158c.ev1', 'delete', 'created_at', p_retain => '1 day', p_subject_column => 'user_id')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await q(`alter table h158c.ev2 rename to ev2b`);
    await q(`alter table h158c.ev detach partition h158c.ev2b`);
    await q(`begin;
             create table h158c.ev2b_new (like h158c.ev2b);
             insert into h158c.ev2b_new select * from h158c.ev2b;
             drop table h158c.ev2b;
             alter table h158c.ev2b_new rename to ev2b;
             commit`);
    await q(`select retention.set_policy('h158c-p2', 'h158c.ev2b', 'delete', 'created_at', p_retain => '1 day')`);
    await db.call(`call retention.run('h158c-p2')`);
    expect(await left('h158c.ev2b')).toEqual([2]);
  });

  it('F6: a table with a key to the person\'s, renamed, its key dropped and rebuilt under its new name, keeps the person\'s rows', async () => {
    await q(`create schema h158d`);
    await q(`create table h158d.users (id int primary key, created_at timestamptz)`);
    await q(`create table h158d.orders (id int primary key, user_id int references h158d.users (id), created_at timestamptz)`);
    await q(`insert into h158d.users values (42, now()), (7, now())`);
    await q(`insert into h158d.orders values (1, 42, now() - interval '30 days'), (2, 7, now() - interval '30 days')`);
    await q(`select retention.set_policy('h158d-pu', 'h158d.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'id')`);
    await q(`select retention.set_policy('h158d-po', 'h158d.orders', 'delete', 'created_at', p_retain => '1 day')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await q(`alter table h158d.orders rename to orders2`);
    await q(`alter table h158d.orders2 drop constraint orders_user_id_fkey`);
    await q(`begin;
             create table h158d.orders2_new (like h158d.orders2 including all);
             insert into h158d.orders2_new select * from h158d.orders2;
             drop table h158d.orders2;
             alter table h158d.orders2_new rename to orders2;
             commit`);
    await q(`select retention.set_policy('h158d-po', 'h158d.orders2', 'delete', 'created_at', p_retain => '1 day')`);
    await db.call(`call retention.run('h158d-po')`);
    expect(await left('h158d.orders2')).toEqual([1]);
  });
});
