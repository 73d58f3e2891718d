// What an attacker review of approvals and the archive reported against their first
// version (641d902), each reproduced here: cascaded rows outside the proposal, a proposal
// that lapses mid-run, session settings that change a row's hash or its copy, a dropped
// and re-created policy, a runner reading or forging the archive, rows a trigger or a
// later loop removes without a copy, inheritance children copied though they stay.
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const { login } = useLogins(db);

let approver: pg.Client;
async function fresh(): Promise<void> {
  await db.q(`update retention.legal_holds set released_at = now(), released_by = 't', release_reason = 't' where released_at is null`);
  await db.q(`select retention.drop_policy(name) from retention.policies`);
  await db.q(`delete from retention.archived_batches`);
  await db.q(`drop schema if exists aa cascade`);
  await db.q(`create schema aa`);
  approver ??= await login('aa_appr', 'retention_approver');
}
async function approve(policy: string, extra = ''): Promise<number> {
  const id = Number((await db.q(`select retention.propose('${policy}'${extra}) as id`))[0]!.id);
  await approver.query(`select retention.approve_proposal($1, 'ok')`, [id]);
  return id;
}
const proposal = async (id: number) => (await db.q(`select * from retention.proposals where proposal_id = $1`, [id]))[0]!;

describe('approval: what the proposal freezes and when it is checked', () => {
  beforeEach(fresh);

  it('a cascaded row added or changed after approval keeps its parent (cascade and set null)', async () => {
    await db.q(`create table aa.p (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table aa.c (id int primary key, p_id int references aa.p on delete cascade, note text)`);
    await db.q(`create table aa.n (id int primary key, p_id int references aa.p on delete set null)`);
    await db.q(`insert into aa.p select g, now() - interval '100 days' from generate_series(1, 6) g`);
    await db.q(`insert into aa.c values (1, 1, 'before')`);
    await db.q(`select retention.set_policy('aa.p', 'aa.p', 'delete', 'created_at', interval '30 days', p_approval => 'required', p_archive => false)`);
    const id = await approve('aa.p', ', p_max_drift => 1');
    await db.q(`insert into aa.c values (2, 2, 'after approval')`); // a new child of 2
    await db.q(`update aa.c set note = 'changed' where id = 1`);    // the child of 1 changed
    await db.q(`insert into aa.n values (3, 3)`);                    // a set-null child of 3
    await db.call(`call retention.run('aa.p')`);
    expect((await db.q(`select id from aa.p order by id`)).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(await count(db, 'aa.c')).toBe(2);
    expect(await count(db, 'aa.n where p_id = 3')).toBe(1);
    const p = await proposal(id);
    expect([p.status, Number(p.executed_rows), Number(p.skipped_gone)]).toEqual(['executed', 3, 3]);
  });

  it('a self-referencing cascade: rows that are referenced are kept, never their fresh replies deleted', async () => {
    await db.q(`create table aa.t (id int primary key, parent_id int references aa.t on delete cascade, created_at timestamptz not null)`);
    await db.q(`insert into aa.t values (1, null, now() - interval '100 days'), (2, 1, now()), (3, null, now() - interval '100 days')`);
    await db.q(`select retention.set_policy('aa.t', 'aa.t', 'delete', 'created_at', interval '30 days', p_approval => 'required', p_archive => false)`);
    await approve('aa.t', ', p_max_drift => 1');
    await db.call(`call retention.run('aa.t')`);
    expect((await db.q(`select id from aa.t order by id`)).map((r) => r.id)).toEqual([1, 2]);
  });

  it('a proposal that expires, is superseded or whose policy changes during a run stops the run', async () => {
    await db.q(`create table aa.r (id int primary key, created_at timestamptz not null)`);
    await db.q(`insert into aa.r select g, now() - interval '100 days' from generate_series(1, 10) g`);
    await db.q(`select retention.set_policy('aa.r', 'aa.r', 'delete', 'created_at', interval '30 days', p_approval => 'required', p_archive => false, p_batch_size => 1)`);
    for (const lapse of [
      `select retention.propose('aa.r')`,                                    // supersedes the approved one
      `select retention.alter_policy('aa.r', p_retain => '20 days')`,        // the policy changes
      `update retention.proposals set expires_at = now() where status = 'approved'`, // (as expiry would)
    ]) {
      const before = await count(db, 'aa.r');
      const id = await approve('aa.r');
      const c = await db.connect();
      const run = (await c.query(`select retention.open_run('aa.r') as id`)).rows[0].id;
      expect((await c.query(`select retention.run_step($1) as s`, [run])).rows[0].s).toBe('running');
      await db.q(lapse);
      const s = (await c.query(`select retention.run_step($1) as s`, [run])).rows[0].s;
      await c.end();
      expect([lapse, s]).toEqual([lapse, 'failed']);
      expect(await count(db, 'aa.r')).toBe(before - 1);
      const r = (await db.q(`select error_code, error from retention.runs where run_id = $1`, [run]))[0]!;
      expect(r.error_code).toBe('RT035');
      expect(Number((await proposal(id)).executed_rows)).toBe(1); // the batch done is counted on the proposal
      await db.q(`update retention.proposals set status = 'rejected' where status in ('pending', 'approved')`);
    }
  });

  it('session settings do not change a row\'s hash: a changed float is not taken as unchanged', async () => {
    await db.q(`create table aa.m (id int primary key, created_at timestamptz not null, reading float8)`);
    await db.q(`insert into aa.m values (1, now() - interval '100 days', 0.11), (2, now() - interval '100 days', 0.21)`);
    await db.q(`select retention.set_policy('aa.m', 'aa.m', 'delete', 'created_at', interval '30 days', p_approval => 'required', p_archive => false)`);
    const c = await db.connect();
    await c.query(`set extra_float_digits = -14`);
    const id = Number((await c.query(`select retention.propose('aa.m', p_max_drift => 0.5) as id`)).rows[0].id);
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id]);
    await db.q(`update aa.m set reading = 0.149 where id = 1`);
    await c.query(`set extra_float_digits = -14`);
    await c.query(`call retention.run('aa.m')`);
    await c.end();
    expect((await db.q(`select id from aa.m`)).map((r) => r.id)).toEqual([1]);
  });

  it('a dropped policy takes its approved proposal with it', async () => {
    await db.q(`create table aa.d (id int primary key, created_at timestamptz not null)`);
    await db.q(`insert into aa.d select g, now() - interval '100 days' from generate_series(1, 3) g`);
    const set = `select retention.set_policy('aa.d', 'aa.d', 'delete', 'created_at', interval '30 days', p_approval => 'required', p_archive => false)`;
    await db.q(set);
    const id = await approve('aa.d');
    await db.q(`select retention.drop_policy('aa.d')`);
    await db.q(set);
    expect(await sqlState(db.call(`call retention.run('aa.d')`))).toBe('RT034');
    expect(await count(db, 'aa.d')).toBe(3);
    expect((await proposal(id)).status).toBe('stale');
  });
});

describe('archive: who may touch it, and what it must copy', () => {
  beforeEach(fresh);

  async function archived(): Promise<void> {
    await db.q(`create table aa.o (id int primary key, created_at timestamptz not null, f8 float8, f4 float4)`);
    await db.q(`create table aa.l (id int primary key, o_id int references aa.o on delete cascade)`);
    await db.q(`insert into aa.o values (1, now() - interval '100 days', 0.1234567890123456, 3.4e38)`);
    await db.q(`insert into aa.l values (1, 1)`);
    await db.q(`select retention.set_policy('aa.o', 'aa.o', 'delete', 'created_at', interval '30 days', p_archive => true)`);
  }

  it('a runner can neither read archived rows nor complete an object; an archiver can', async () => {
    await archived();
    await db.call(`call retention.run('aa.o')`);
    const runner = await login('aa_run', 'retention_runner');
    expect(await sqlState(runner.query(`select * from retention.archive_claim('file:///dev/null', 10)`))).toBe('42501');
    expect(await sqlState(runner.query(`select * from retention.archived_rows`))).toBe('42501');
    const archiver = await login('aa_arc', 'retention_archiver');
    await archiver.query('begin');
    const claim = (await archiver.query(`select * from retention.archive_claim('file:///tmp/x', 10)`)).rows[0];
    expect(Number(claim.rows)).toBe(2);
    await archiver.query('rollback');
    expect(await count(db, 'retention.archived_rows')).toBe(2);
  });

  it('copies are made under pinned settings: floats keep every digit whatever the session says', async () => {
    await archived();
    const c = await db.connect();
    await c.query(`set extra_float_digits = -15`);
    await c.query(`call retention.run('aa.o')`);
    await c.end();
    const [r] = await db.q(`select (jsonb_populate_record(null::aa.o, row_data)).* from retention.archived_rows where depth = 0`);
    expect([r!.f8, r!.f4]).toEqual([0.1234567890123456, 3.4e38]);
  });

  it('a DELETE trigger, at set_policy or added later, refuses the archive and the gate; nothing is deleted', async () => {
    await archived();
    await db.q(`create function aa.cleanup() returns trigger language plpgsql security definer as $$ begin return old; end $$`);
    await db.q(`create trigger t1 after delete on aa.l for each row execute function aa.cleanup()`);
    expect(await sqlState(db.q(`select retention.set_policy('aa.o2', 'aa.o', 'delete', 'created_at', interval '30 days', p_archive => true)`))).toBe('RT033');
    expect(await sqlState(db.q(`select retention.set_policy('aa.o3', 'aa.o', 'delete', 'created_at', interval '30 days', p_approval => 'required', p_archive => false)`))).toBe('RT033');
    // The trigger came after the policy: the batch refuses.
    expect(await sqlState(db.call(`call retention.run('aa.o')`))).toBe('RT033');
    expect(await count(db, 'aa.o')).toBe(1);
    expect(await count(db, 'retention.archived_rows')).toBe(0);
  });

  it('a cascade loop added after set_policy refuses the batch; nothing goes without a copy', async () => {
    await db.q(`create table aa.th (id int primary key, parent_id int, created_at timestamptz not null)`);
    await db.q(`insert into aa.th values (1, null, now() - interval '100 days'), (2, 1, now())`);
    await db.q(`select retention.set_policy('aa.th', 'aa.th', 'delete', 'created_at', interval '30 days', p_archive => true)`);
    await db.q(`alter table aa.th add foreign key (parent_id) references aa.th on delete cascade`);
    expect(await sqlState(db.call(`call retention.run('aa.th')`))).toBe('RT033');
    expect(await count(db, 'aa.th')).toBe(2);
  });

  it('rows of an inheritance child of a cascaded table are not copied (the cascade does not reach them)', async () => {
    await archived();
    await db.q(`create table aa.l2 (extra text) inherits (aa.l)`);
    await db.q(`insert into aa.l2 values (99, 1, 'stays')`);
    await db.call(`call retention.run('aa.o')`);
    expect(await count(db, 'aa.l2')).toBe(1);
    expect(await db.q(`select rel_name, (row_data->>'id')::int as id from retention.archived_rows order by depth`))
      .toEqual([{ rel_name: 'aa.o', id: 1 }, { rel_name: 'aa.l', id: 1 }]);
  });
});

// The second review (against d4f416e): keys that name a partition, revoke tables, keys
// added mid-run, ON UPDATE chains behind a SET NULL.
describe('approval and archive: what the second review found', () => {
  beforeEach(fresh);

  async function leafFk(): Promise<void> {
    await db.q(`create table aa.users (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table aa.orders (id int, user_id int not null references aa.users on delete cascade, region int not null,
                                        primary key (id, region)) partition by list (region)`);
    await db.q(`create table aa.orders_1 partition of aa.orders for values in (1)`);
    await db.q(`create table aa.orders_2 partition of aa.orders for values in (2)`);
    // A key that names one partition, not the partitioned table.
    await db.q(`create table aa.lines (id int primary key, order_id int, region int,
                                       foreign key (order_id, region) references aa.orders_1 (id, region) on delete cascade)`);
    await db.q(`insert into aa.users values (1, now() - interval '400 days'), (2, now() - interval '400 days')`);
    await db.q(`insert into aa.orders values (10, 1, 1), (20, 2, 1), (30, 2, 2)`);
    await db.q(`insert into aa.lines values (100, 10, 1), (200, 20, 1)`);
  }

  it('a table hold on rows a cascade reaches through a key naming a partition keeps them', async () => {
    await leafFk();
    await db.q(`select retention.set_policy('aa.users', 'aa.users', 'delete', 'created_at', interval '1 year')`);
    await db.q(`select retention.place_hold('table', 'aa.lines', 'litigation')`);
    await db.call(`call retention.run('aa.users')`);
    expect(await count(db, 'aa.lines')).toBe(2);
    expect(await count(db, 'aa.users')).toBe(2);
  });

  it('... is frozen in a proposal and copied to the archive', async () => {
    await leafFk();
    await db.q(`select retention.set_policy('aa.users', 'aa.users', 'delete', 'created_at', interval '1 year', p_approval => 'required')`);
    const id = await approve('aa.users', ', p_max_drift => 1');
    expect((await proposal(id)).cascade.map((c: { table: string }) => c.table).sort()).toEqual(['aa.lines', 'aa.orders']);
    await db.q(`insert into aa.lines values (101, 10, 1)`); // after approval: user 1 is kept
    await db.call(`call retention.run('aa.users')`);
    expect((await db.q(`select id from aa.users`)).map((r) => r.id)).toEqual([1]);
    expect((await db.q(`select id from aa.lines order by id`)).map((r) => r.id)).toEqual([100, 101]);
    // User 2's rows went with their copies, the line in orders_1 included; none of another partition's.
    expect(await db.q(`select rel_name, (row_data->>'id')::int as id from retention.archived_rows order by depth, 2`))
      .toEqual([{ rel_name: 'aa.users', id: 2 }, { rel_name: 'aa.orders', id: 20 }, { rel_name: 'aa.orders', id: 30 }, { rel_name: 'aa.lines', id: 200 }]);
  });

  it('a foreign key added between two steps of an approved run stops it', async () => {
    await db.q(`create table aa.u3 (id int primary key, created_at timestamptz not null)`);
    await db.q(`insert into aa.u3 select g, now() - interval '400 days' from generate_series(1, 4) g`);
    await db.q(`select retention.set_policy('aa.u3', 'aa.u3', 'delete', 'created_at', interval '1 year', p_approval => 'required', p_archive => false, p_batch_size => 1)`);
    await approve('aa.u3');
    const c = await db.connect();
    const run = (await c.query(`select retention.open_run('aa.u3') as id`)).rows[0].id;
    expect((await c.query(`select retention.run_step($1) as s`, [run])).rows[0].s).toBe('running');
    await db.q(`create table aa.inv (id int primary key, u_id int references aa.u3 on delete cascade)`);
    await db.q(`insert into aa.inv select g, g from generate_series(2, 4) g`);
    const s = (await c.query(`select retention.run_step($1) as s`, [run])).rows[0].s;
    await c.end();
    expect(s).toBe('failed');
    expect(await count(db, 'aa.inv')).toBe(3);
    expect(await count(db, 'aa.u3')).toBe(3);
  });

  it('rows an ON UPDATE key changes behind a SET NULL are frozen too', async () => {
    await db.q(`create table aa.u7 (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table aa.m7 (id int primary key, user_id int references aa.u7 on delete set null, unique (user_id, id))`);
    await db.q(`create table aa.g7 (id int primary key, uid int, mid int, note text,
                                    foreign key (uid, mid) references aa.m7 (user_id, id) on update cascade)`);
    await db.q(`insert into aa.u7 values (1, now() - interval '400 days')`);
    await db.q(`insert into aa.m7 values (10, 1)`);
    await db.q(`insert into aa.g7 values (100, 1, 10, 'before')`);
    await db.q(`select retention.set_policy('aa.u7', 'aa.u7', 'delete', 'created_at', interval '1 year', p_approval => 'required', p_archive => false)`);
    const id = await approve('aa.u7', ', p_max_drift => 1');
    expect((await proposal(id)).cascade.map((c: { table: string; action: string }) => `${c.table} ${c.action}`))
      .toEqual(['aa.m7 set_null', 'aa.g7 update_cascade']);
    await db.q(`insert into aa.g7 values (101, 1, 10, 'after approval')`);
    await db.call(`call retention.run('aa.u7')`);
    expect(await count(db, 'aa.g7 where uid = 1')).toBe(2);
    expect(await count(db, 'aa.u7')).toBe(1);
  });

  it('approval refuses a scrub with revoke tables (their rows are not in the proposal)', async () => {
    await db.q(`create table aa.su (id int primary key, created_at timestamptz not null, email text, scrubbed_at timestamptz)`);
    await db.q(`create table aa.ss (id int primary key, user_id int not null references aa.su)`);
    expect(await sqlState(db.q(`select retention.set_policy('aa.su', 'aa.su', 'scrub', 'created_at', interval '1 year', p_scrub => '{"email": "null"}',
                                   p_scrubbed_at_column => 'scrubbed_at', p_revoke => '{aa.ss}', p_approval => 'required')`))).toBe('RT007');
  });
});

describe('archive and holds: what the fourth review found (migration 20)', () => {
  beforeEach(fresh);
  const arch = (extra = '') => `select retention.set_policy('aa.p', 'aa.p', 'delete', 'created_at', interval '30 days', p_archive => true, p_batch_size => 10${extra})`;

  it('a SET DEFAULT key that points a row at another deleted row is refused; nothing goes', async () => {
    await db.q(`create table aa.p (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table aa.q (id int primary key, pid int not null references aa.p on delete cascade)`);
    await db.q(`create table aa.c (id int primary key, a int default 1,
                  constraint c_a_q foreign key (a) references aa.q (id) on delete cascade deferrable initially deferred,
                  constraint c_a_p foreign key (a) references aa.p (id) on delete set default)`);
    await db.q(`insert into aa.p values (5, now() - interval '400 days'), (1, now()), (9, now() - interval '399 days')`);
    await db.q(`insert into aa.q values (1, 9), (5, 1)`);
    await db.q(`insert into aa.c values (100, 5)`);
    expect(await sqlState(db.q(arch()))).toBe('RT033');
    // Set before the key came: the batch refuses, nothing is deleted.
    await db.q(`alter table aa.c drop constraint c_a_p`);
    await db.q(arch());
    await db.q(`alter table aa.c add constraint c_a_p foreign key (a) references aa.p (id) on delete set default`);
    await expect(db.call(`call retention.run('aa.p')`)).rejects.toThrow(/SET DEFAULT/);
    expect([await count(db, 'aa.p'), await count(db, 'aa.c'), await count(db, 'retention.archived_rows')]).toEqual([3, 1, 0]);
  });

  it('a key of char(n) compared as text is refused for the archive and, with a hold open, for a plain delete', async () => {
    await db.q(`create table aa.p (code char(4) primary key, created_at timestamptz not null)`);
    await db.q(`create table aa.c (id int primary key, pcode text references aa.p (code) on delete cascade)`);
    await db.q(`insert into aa.p values ('ab', now() - interval '400 days'), ('cd', now() - interval '400 days')`);
    // The cascade compares as char(4): 'ab  ' references 'ab'; compared as text it would not.
    await db.q(`insert into aa.c values (2, 'ab  '), (3, 'cd')`);
    expect(await sqlState(db.q(arch()))).toBe('RT033');
    await db.q(`select retention.set_policy('aa.p', 'aa.p', 'delete', 'created_at', interval '30 days')`);
    await db.q(`select retention.place_hold('table', 'aa.c', 'dispute')`);
    await expect(db.call(`call retention.run('aa.p')`)).rejects.toThrow(/another type/);
    expect([await count(db, 'aa.p'), await count(db, 'aa.c')]).toEqual([2, 2]);
  });

  it('a DELETE trigger on a partition of a cascaded table, or an UPDATE trigger behind SET NULL, is refused', async () => {
    await db.q(`create table aa.p (id int primary key, created_at timestamptz not null)`);
    await db.q(`create table aa.c (id int, k int not null, pid int references aa.p on delete cascade, primary key (id, k)) partition by list (k)`);
    await db.q(`create table aa.c1 partition of aa.c for values in (1)`);
    await db.q(`create table aa.side (id int primary key)`);
    await db.q(`insert into aa.side values (1)`);
    await db.q(`create function aa.trg() returns trigger language plpgsql as $$ begin delete from aa.side; return old; end $$`);
    await db.q(`create trigger t after delete on aa.c1 for each row execute function aa.trg()`);
    await db.q(`insert into aa.p values (1, now() - interval '400 days')`);
    await db.q(`insert into aa.c values (1, 1, 1)`);
    expect(await sqlState(db.q(arch()))).toBe('RT033');
    await db.q(`drop trigger t on aa.c1`);
    await db.q(`create table aa.n (id int primary key, pid int references aa.p on delete set null)`);
    await db.q(`insert into aa.n values (1, 1)`);
    await db.q(`create function aa.orphans() returns trigger language plpgsql as $$ begin delete from aa.n where id = new.id; return null; end $$`);
    await db.q(`create trigger o after update of pid on aa.n for each row when (new.pid is null) execute function aa.orphans()`);
    expect(await sqlState(db.q(arch()))).toBe('RT033');
    expect([await count(db, 'aa.p'), await count(db, 'aa.n'), await count(db, 'aa.side')]).toEqual([1, 1, 1]);
  });

  it('archive_complete without a row count is refused and leaves the rows', async () => {
    await db.q(`create table aa.p (id int primary key, created_at timestamptz not null)`);
    await db.q(`insert into aa.p select g, now() - interval '400 days' from generate_series(1, 5) g`);
    await db.q(arch());
    await db.call(`call retention.run('aa.p')`);
    const arc = await login('aa_arch', 'retention_archiver');
    const [claim] = (await arc.query(`select * from retention.archive_claim('file:///nowhere')`)).rows;
    expect(await sqlState(arc.query(`select retention.archive_complete($1, repeat('a', 64), 1, null, 'k', 'w')`, [claim.object_id]))).toBe('RT006');
    await arc.query(`select retention.archive_abandon($1, 'test')`, [claim.object_id]);
    expect(await count(db, 'retention.archived_rows')).toBe(5);
    expect(await count(db, `retention.archive_objects where status = 'verified'`)).toBe(0);
  });
});
