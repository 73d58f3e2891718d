// Attack round atk93 (no held row is deleted or changed: changes in place), each finding a
// test. Two causes:
//  F1 a BEFORE UPDATE trigger changes a column the hold check did not count as changed:
//     tsvector_update_trigger (built in, so the planner check lets it run) recomputes
//     users.tsv from the scrubbed bio, and notes references users (tsv) ON UPDATE CASCADE.
//     The held note was rewritten (F1), moved out of its partition, so a held evidence row
//     went with it (F1b), and an erasure's scrub did the same (F1c);
//  F2 a stored generated column below the first level, computed from a key a cascade
//     changes, fed a key on a partitioned table: the move deleted a held evidence row
//     under a soft delete (F2), a purge (F2b) and a scrub's revoke tables (F2c).
// Now every column counts as changed where a BEFORE UPDATE row trigger is enabled, and
// each changed table's stored generated columns count, at every level (_update_changes).
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';
import { erasureHelpers } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;
const { file } = erasureHelpers(db);

const tsvTrigger = (s: string) =>
  q(`create trigger tsv before update on ${s}.users for each row execute function tsvector_update_trigger(tsv, 'pg_catalog.simple', bio)`);

describe('a BEFORE UPDATE trigger that changes another column (atk93 F1)', () => {
  it('F1: the scrub holds back the row whose recomputed column a held table references; nothing changes', async () => {
    await q(`create schema t1`);
    await q(`create table t1.users (id int primary key, created_at timestamptz not null, bio text, scrubbed_at timestamptz, tsv tsvector not null unique)`);
    await q(`create table t1.notes (id int primary key, user_tsv tsvector references t1.users (tsv) on update cascade, body text)`);
    await q(`insert into t1.users values (1, now() - interval '400 days', 'alice likes cats', null, to_tsvector('simple', 'alice likes cats')),
                                        (2, now() - interval '400 days', 'bob', null, to_tsvector('simple', 'bob'))`);
    await q(`insert into t1.notes values (10, to_tsvector('simple', 'alice likes cats'), 'evidence note')`);
    await q(`select retention.set_policy('t1.users', 't1.users', 'scrub', 'created_at', interval '1 year',
               p_scrub => '{"bio": "null"}', p_scrubbed_at_column => 'scrubbed_at')`);
    await q(`select retention.place_hold('table', 't1.notes', 'litigation: keep notes unchanged')`);
    await tsvTrigger('t1');
    await db.call(`call retention.run('t1.users')`);
    expect(await q(`select user_tsv::text from t1.notes`)).toEqual([{ user_tsv: `'alice':1 'cats':3 'likes':2` }]);
    expect(await q(`select id, bio from t1.users order by id`)).toEqual([{ id: 1, bio: 'alice likes cats' }, { id: 2, bio: null }]);
    expect(await q(`select status, affected::int, held_back::int from retention.runs where policy_name = 't1.users'`))
      .toEqual([{ status: 'completed', affected: 1, held_back: 1 }]);
  });

  it('F1b: the recomputed column moves a referencing row out of its partition: refused while held (RT033)', async () => {
    await q(`create schema t1b`);
    await q(`create table t1b.users (id int primary key, created_at timestamptz not null, bio text, scrubbed_at timestamptz, tsv tsvector not null unique)`);
    await q(`create table t1b.notes (id int, user_tsv tsvector references t1b.users (tsv) on update cascade, body text) partition by list (user_tsv)`);
    await q(`create table t1b.notes_alice partition of t1b.notes for values in ('''alice'':1')`);
    await q(`create table t1b.notes_other partition of t1b.notes default`);
    await q(`alter table t1b.notes_alice add unique (id)`);
    await q(`create table t1b.evidence (id int primary key, note_id int references t1b.notes_alice (id) on delete cascade, doc text)`);
    await q(`insert into t1b.users values (1, now() - interval '400 days', 'alice', null, to_tsvector('simple', 'alice'))`);
    await q(`insert into t1b.notes values (10, to_tsvector('simple', 'alice'), 'note')`);
    await q(`insert into t1b.evidence values (100, 10, 'evidence under hold')`);
    await q(`select retention.set_policy('t1b.users', 't1b.users', 'scrub', 'created_at', interval '1 year',
               p_scrub => '{"bio": "null"}', p_scrubbed_at_column => 'scrubbed_at')`);
    await q(`select retention.place_hold('table', 't1b.evidence', 'litigation: keep evidence')`);
    await tsvTrigger('t1b');
    expect(await sqlState(db.call(`call retention.run('t1b.users')`))).toBe('RT033');
    expect(await count(db, 't1b.evidence')).toBe(1);
    expect(await q(`select tableoid::regclass::text as part from t1b.notes`)).toEqual([{ part: 't1b.notes_alice' }]);
    expect(await q(`select bio from t1b.users`)).toEqual([{ bio: 'alice' }]);
  });

  it('F1c: an erasure\'s scrub does not rewrite a held note through the trigger\'s column', async () => {
    await q(`create schema t1c`);
    await q(`create table t1c.users (id int primary key, email text, bio text, tsv tsvector not null unique)`);
    await q(`create table t1c.notes (id int primary key, user_tsv tsvector references t1c.users (tsv) on update cascade, body text)`);
    await q(`insert into t1c.users values (1, 'alice@t1c.example', 'alice likes cats', to_tsvector('simple', 'alice likes cats')),
                                         (2, 'bob@t1c.example', 'bob', to_tsvector('simple', 'bob'))`);
    await q(`insert into t1c.notes values (10, to_tsvector('simple', 'alice likes cats'), 'evidence note')`);
    await q(`select retention.set_erasure_rule('t1c.users', 'scrub', '{"bio": "null", "email": "null"}')`);
    await q(`select retention.set_erasure_rule('t1c.notes', 'keep', p_reason => 'kept as evidence')`);
    await q(`select retention.place_hold('table', 't1c.notes', 'litigation: keep notes unchanged')`);
    await tsvTrigger('t1c');
    const id = await file('t1c.users', '1');
    await db.call(`call retention.process_erasure($1)`, [id]).catch(() => {});
    expect(await q(`select status <> 'completed' as open from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ open: true }]);
    expect(await q(`select user_tsv::text from t1c.notes`)).toEqual([{ user_tsv: `'alice':1 'cats':3 'likes':2` }]);
  });
});

describe('generated columns below the first level (atk93 F2)', () => {
  it('F2: a soft delete whose cascade feeds a generated key a partitioned table references: refused while held (RT033)', async () => {
    await q(`create schema t2`);
    await q(`create table t2.users (id int primary key, created_at timestamptz not null, deleted_at timestamptz,
               status text generated always as (case when deleted_at is null then 'active' else 'gone' end) stored, unique (id, status))`);
    await q(`create table t2.accounts (id int primary key, uid int, u_status text,
               tag text generated always as (u_status || ':' || id) stored unique,
               foreign key (uid, u_status) references t2.users (id, status) on update cascade)`);
    await q(`create table t2.entries (id int, acct_tag text references t2.accounts (tag) on update cascade, body text) partition by list (acct_tag)`);
    await q(`create table t2.entries_a partition of t2.entries for values in ('active:10')`);
    await q(`create table t2.entries_rest partition of t2.entries default`);
    await q(`alter table t2.entries_a add unique (id)`);
    await q(`create table t2.evidence (id int primary key, entry_id int references t2.entries_a (id) on delete cascade, doc text)`);
    await q(`insert into t2.users (id, created_at) values (1, now() - interval '400 days')`);
    await q(`insert into t2.accounts (id, uid, u_status) values (10, 1, 'active')`);
    await q(`insert into t2.entries values (100, 'active:10', 'entry')`);
    await q(`insert into t2.evidence values (1000, 100, 'evidence under hold')`);
    await q(`select retention.set_policy('t2.users', 't2.users', 'soft_delete', 'created_at', interval '1 year', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.place_hold('table', 't2.evidence', 'litigation: keep evidence')`);
    expect(await sqlState(db.call(`call retention.run('t2.users')`))).toBe('RT033');
    expect(await count(db, 't2.evidence')).toBe(1);
    expect(await q(`select tableoid::regclass::text as part from t2.entries`)).toEqual([{ part: 't2.entries_a' }]);
    expect(await q(`select status from t2.users`)).toEqual([{ status: 'active' }]);
  });

  it('F2b: a purge whose ON DELETE SET NULL feeds the generated key: refused while held (RT033)', async () => {
    await q(`create schema t2b`);
    await q(`create table t2b.users (id int primary key, deleted_at timestamptz)`);
    await q(`create table t2b.accounts (id int primary key, uid int references t2b.users (id) on delete set null,
               tag text generated always as (coalesce(uid::text, 'none') || ':' || id) stored unique)`);
    await q(`create table t2b.entries (id int, acct_tag text references t2b.accounts (tag) on update cascade, body text) partition by list (acct_tag)`);
    await q(`create table t2b.entries_a partition of t2b.entries for values in ('1:10')`);
    await q(`create table t2b.entries_rest partition of t2b.entries default`);
    await q(`alter table t2b.entries_a add unique (id)`);
    await q(`create table t2b.evidence (id int primary key, entry_id int references t2b.entries_a (id) on delete cascade, doc text)`);
    await q(`insert into t2b.users values (1, now() - interval '400 days')`);
    await q(`insert into t2b.accounts (id, uid) values (10, 1)`);
    await q(`insert into t2b.entries values (100, '1:10', 'entry')`);
    await q(`insert into t2b.evidence values (1000, 100, 'evidence under hold')`);
    await q(`select retention.set_policy('t2b.users', 't2b.users', 'purge_soft_deleted', 'deleted_at', interval '1 year')`);
    await q(`select retention.place_hold('table', 't2b.evidence', 'litigation: keep evidence')`);
    expect(await sqlState(db.call(`call retention.run('t2b.users')`))).toBe('RT033');
    expect(await count(db, 't2b.evidence')).toBe(1);
    expect(await count(db, 't2b.users')).toBe(1);
  });

  it('F2c: a scrub\'s revoke table whose ON DELETE SET NULL feeds the generated key: refused while held (RT033)', async () => {
    await q(`create schema t2c`);
    await q(`create table t2c.users (id int primary key, created_at timestamptz not null, email text, scrubbed_at timestamptz)`);
    await q(`create table t2c.sessions (id int primary key, user_id int references t2c.users (id))`);
    await q(`create table t2c.devices (id int primary key, sid int references t2c.sessions (id) on delete set null,
               tag text generated always as (coalesce(sid::text, 'none') || ':' || id) stored unique)`);
    await q(`create table t2c.entries (id int, dev_tag text references t2c.devices (tag) on update cascade, body text) partition by list (dev_tag)`);
    await q(`create table t2c.entries_a partition of t2c.entries for values in ('5:10')`);
    await q(`create table t2c.entries_rest partition of t2c.entries default`);
    await q(`alter table t2c.entries_a add unique (id)`);
    await q(`create table t2c.evidence (id int primary key, entry_id int references t2c.entries_a (id) on delete cascade, doc text)`);
    await q(`insert into t2c.users values (1, now() - interval '400 days', 'alice@t2c.example', null)`);
    await q(`insert into t2c.sessions values (5, 1)`);
    await q(`insert into t2c.devices (id, sid) values (10, 5)`);
    await q(`insert into t2c.entries values (100, '5:10', 'entry')`);
    await q(`insert into t2c.evidence values (1000, 100, 'evidence under hold')`);
    await q(`select retention.set_policy('t2c.users', 't2c.users', 'scrub', 'created_at', interval '1 year',
               p_scrub => '{"email": "null"}', p_scrubbed_at_column => 'scrubbed_at', p_revoke => array['t2c.sessions'])`);
    await q(`select retention.place_hold('table', 't2c.evidence', 'litigation: keep evidence')`);
    expect(await sqlState(db.call(`call retention.run('t2c.users')`))).toBe('RT033');
    expect(await count(db, 't2c.evidence')).toBe(1);
    expect(await count(db, 't2c.sessions')).toBe(1);
    expect(await q(`select email from t2c.users`)).toEqual([{ email: 'alice@t2c.example' }]);
  });
});
