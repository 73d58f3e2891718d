// Attack round atk91 (no held row is deleted or changed), F1: a soft delete or a scrub
// changes rows in place, and the hold check for an update followed only the ON UPDATE
// actions of keys on the changed columns. A change that moves a row to another partition
// is a delete from the first one in PostgreSQL, and a key naming that partition took its
// ON DELETE CASCADE unseen: a table-held evidence row went, and the run ended completed.
//  - the scrubbed users.email referenced ON UPDATE CASCADE (or SET NULL) by a table
//    list-partitioned on that column, the key added after the policy was set;
//  - a soft delete whose stored generated status is referenced ON UPDATE CASCADE by a
//    table partitioned by status (nothing changed after the policy was set);
//  - the same move in the delete of a scrub's revoke tables (ON DELETE SET NULL on a
//    partition key). A policy's own rows cannot move: it is on an ordinary table (a
//    partition), whose UPDATE fails on its partition constraint instead.
// With a table or subject hold open such batches are refused (RT033) and nothing changes;
// a scrubbed column that a key references is refused at run time too (RT019), as when the
// policy is set.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** users (alice's email 'alice@example.com'), events list-partitioned by email, evidence
 * referencing the partition of alice's events ON DELETE CASCADE, a scrub of users.email. */
async function scrubbed(s: string) {
  await q(`create schema ${s}`);
  await q(`create table ${s}.users (id bigint primary key, email text unique, created_at timestamptz not null, scrubbed_at timestamptz)`);
  await q(`insert into ${s}.users values (1, 'alice@example.com', '2001-01-01', null)`);
  await q(`create table ${s}.events (id bigint, email text, at timestamptz) partition by list (email)`);
  await q(`create table ${s}.events_a partition of ${s}.events for values in ('alice@example.com')`);
  await q(`create table ${s}.events_rest partition of ${s}.events default`);
  await q(`alter table ${s}.events_a add primary key (id)`);
  await q(`insert into ${s}.events values (10, 'alice@example.com', '2001-01-01')`);
  await q(`create table ${s}.evidence (id bigint primary key, event_id bigint references ${s}.events_a (id) on delete cascade, note text)`);
  await q(`insert into ${s}.evidence values (100, 10, 'exhibit A')`);
  await q(`select retention.set_policy('${s}.users', '${s}.users', 'scrub', 'created_at', interval '1 year',
             p_scrub => '{"email": "sha256"}', p_scrubbed_at_column => 'scrubbed_at')`);
}

async function lastRun(policy: string) {
  return q(`select status, affected::int from retention.runs where policy_name = $1 order by run_id desc limit 1`, [policy]);
}

describe('a scrub whose ON UPDATE key moves rows between partitions (atk91 F1)', () => {
  for (const action of ['cascade', 'set null']) {
    it(`ON UPDATE ${action} on the scrubbed column, the key added after the policy: refused (RT019), nothing changes`, async () => {
      const s = `f1${action === 'cascade' ? 'c' : 'n'}`;
      await scrubbed(s);
      await q(`select retention.place_hold('table', '${s}.evidence', 'litigation: keep every evidence row')`);
      await q(`alter table ${s}.events add foreign key (email) references ${s}.users (email) on update ${action}`);
      expect(await sqlState(db.call(`call retention.run('${s}.users')`))).toBe('RT019');
      expect(await q(`select id::int, note from ${s}.evidence`)).toEqual([{ id: 100, note: 'exhibit A' }]);
      expect(await q(`select email from ${s}.users`)).toEqual([{ email: 'alice@example.com' }]);
      expect(await q(`select tableoid::regclass::text as part from ${s}.events`)).toEqual([{ part: `${s}.events_a` }]);
      expect(await lastRun(`${s}.users`)).toEqual([{ status: 'failed', affected: 0 }]);
      // The key gone, the scrub runs; the evidence stays.
      await q(`alter table ${s}.events drop constraint events_email_fkey`);
      await db.call(`call retention.run('${s}.users')`);
      expect(await q(`select email like 'sha256:%' as scrubbed from ${s}.users`)).toEqual([{ scrubbed: true }]);
      expect(await count(db, `${s}.evidence`)).toBe(1);
    });
  }

  it('a stored generated column computed from the scrubbed one, referenced ON UPDATE CASCADE by a table partitioned by it: refused while held (RT033)', async () => {
    await q(`create schema f1g`);
    await q(`create table f1g.users (id int primary key, email text, created_at timestamptz not null, scrubbed_at timestamptz,
               email_kind text generated always as (case when email like 'sha256:%' then 'scrubbed' else 'live' end) stored,
               unique (id, email_kind))`);
    await q(`create table f1g.events (id int, user_id int, user_kind text,
               foreign key (user_id, user_kind) references f1g.users (id, email_kind) on update cascade) partition by list (user_kind)`);
    await q(`create table f1g.events_live partition of f1g.events for values in ('live')`);
    await q(`create table f1g.events_rest partition of f1g.events default`);
    await q(`alter table f1g.events_live add primary key (id)`);
    await q(`create table f1g.evidence (id int primary key, event_id int references f1g.events_live (id) on delete cascade)`);
    await q(`insert into f1g.users (id, email, created_at) values (1, 'alice@example.com', '2001-01-01')`);
    await q(`insert into f1g.events values (10, 1, 'live')`);
    await q(`insert into f1g.evidence values (100, 10)`);
    await q(`select retention.set_policy('f1g.users', 'f1g.users', 'scrub', 'created_at', interval '1 year',
               p_scrub => '{"email": "sha256"}', p_scrubbed_at_column => 'scrubbed_at')`);
    await q(`select retention.place_hold('table', 'f1g.evidence', 'litigation')`);
    await expect(db.call(`call retention.run('f1g.users')`)).rejects.toMatchObject({
      code: 'RT033', message: expect.stringContaining('cannot follow the scrub of f1g.users safely: f1g.events (user_id, user_kind) references') });
    expect(await count(db, 'f1g.evidence')).toBe(1);
    expect(await q(`select email, email_kind from f1g.users`)).toEqual([{ email: 'alice@example.com', email_kind: 'live' }]);
    expect(await lastRun('f1g.users')).toEqual([{ status: 'failed', affected: 0 }]);
  });
});

describe('a soft delete whose change moves rows between partitions (atk91 F1, f3d)', () => {
  it('a stored generated status referenced ON UPDATE CASCADE by a table partitioned by it: refused while held, nothing changes', async () => {
    await q(`create schema f3d`);
    await q(`create table f3d.ac (id int primary key, last_seen timestamptz not null, deleted_at timestamptz,
               status text generated always as (case when deleted_at is null then 'active' else 'deleted' end) stored, unique (id, status))`);
    await q(`create table f3d.notes (id int, account_id int, account_status text,
               foreign key (account_id, account_status) references f3d.ac (id, status) on update cascade) partition by list (account_status)`);
    await q(`create table f3d.notes_active partition of f3d.notes for values in ('active')`);
    await q(`create table f3d.notes_other partition of f3d.notes default`);
    await q(`alter table f3d.notes_active add primary key (id)`);
    await q(`create table f3d.evidence (id int primary key, note_id int references f3d.notes_active (id) on delete cascade, note text)`);
    await q(`insert into f3d.ac (id, last_seen) values (1, now() - interval '100 days'), (2, now() - interval '100 days')`);
    await q(`insert into f3d.notes values (10, 1, 'active')`);
    await q(`insert into f3d.evidence values (100, 10, 'exhibit A')`);
    await q(`select retention.set_policy('f3d.ac', 'f3d.ac', 'soft_delete', 'last_seen', interval '30 days', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.place_hold('table', 'f3d.evidence', 'litigation: keep every evidence row')`);
    await expect(db.call(`call retention.run('f3d.ac')`)).rejects.toMatchObject({
      code: 'RT033', message: expect.stringContaining('cannot follow the soft delete of f3d.ac safely: ') });
    expect(await count(db, 'f3d.evidence')).toBe(1);
    expect(await q(`select id, status from f3d.ac order by id`)).toEqual([{ id: 1, status: 'active' }, { id: 2, status: 'active' }]);
    expect(await q(`select tableoid::regclass::text as part from f3d.notes`)).toEqual([{ part: 'f3d.notes_active' }]);
    // Released, the soft delete runs: the note moves, and the key's cascade takes the evidence, as the application's schema says.
    await q(`select retention.release_hold(hold_id, 'case closed') from retention.active_holds where scope = 'table'`);
    await db.call(`call retention.run('f3d.ac')`);
    expect(await q(`select id, status from f3d.ac order by id`)).toEqual([{ id: 1, status: 'deleted' }, { id: 2, status: 'deleted' }]);
    expect(await count(db, 'f3d.evidence')).toBe(0);
  });

  it('a policy on a partition of a table partitioned by its deleted-at column: the row cannot move, and the held evidence stays', async () => {
    await q(`create schema f3r`);
    await q(`create table f3r.ac (id int, last_seen timestamptz not null, deleted_at timestamptz) partition by list (deleted_at)`);
    await q(`create table f3r.ac_active partition of f3r.ac for values in (null)`);
    await q(`create table f3r.ac_deleted partition of f3r.ac default`);
    await q(`alter table f3r.ac_active add primary key (id)`);
    await q(`create table f3r.evidence (id int primary key, account_id int references f3r.ac_active (id) on delete cascade)`);
    await q(`insert into f3r.ac (id, last_seen) values (1, now() - interval '100 days')`);
    await q(`insert into f3r.evidence values (100, 1)`);
    // A row policy's table is an ordinary table (the partitioned one is refused: RT013).
    expect(await sqlState(q(`select retention.set_policy('f3r.ac', 'f3r.ac', 'soft_delete', 'last_seen', interval '30 days', p_deleted_at_column => 'deleted_at')`))).toBe('RT013');
    await q(`select retention.set_policy('f3r.ac_active', 'f3r.ac_active', 'soft_delete', 'last_seen', interval '30 days', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.place_hold('table', 'f3r.evidence', 'litigation')`);
    // An UPDATE of the partition itself fails on its partition constraint rather than move the row.
    await db.call(`call retention.run('f3r.ac_active')`).catch(() => {});
    expect(await count(db, 'f3r.evidence')).toBe(1);
    expect(await q(`select tableoid::regclass::text as part, deleted_at from f3r.ac`)).toEqual([{ part: 'f3r.ac_active', deleted_at: null }]);
    expect(await q(`select f.error_code from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'f3r.ac_active'`))
      .toEqual([{ error_code: '23514' }]);
  });
});

describe('a scrub\'s revoke tables whose delete moves rows between partitions (atk91 F1)', () => {
  it('ON DELETE SET NULL on a partition key below a revoked row: refused while held, nothing changes', async () => {
    await q(`create schema rv`);
    await q(`create table rv.users (id int primary key, email text, created_at timestamptz not null, scrubbed_at timestamptz)`);
    await q(`create table rv.sessions (id int primary key, user_id int not null references rv.users (id) on delete cascade)`);
    await q(`create table rv.tokens (id int, session_id int references rv.sessions (id) on delete set null) partition by list (session_id)`);
    await q(`create table rv.tokens_1 partition of rv.tokens for values in (1)`);
    await q(`create table rv.tokens_rest partition of rv.tokens default`);
    await q(`alter table rv.tokens_1 add primary key (id)`);
    await q(`create table rv.evidence (id int primary key, token_id int references rv.tokens_1 (id) on delete cascade)`);
    await q(`insert into rv.users values (1, 'alice@example.com', '2001-01-01', null)`);
    await q(`insert into rv.sessions values (1, 1)`);
    await q(`insert into rv.tokens values (7, 1)`);
    await q(`insert into rv.evidence values (100, 7)`);
    await q(`select retention.set_policy('rv.users', 'rv.users', 'scrub', 'created_at', interval '1 year',
               p_scrub => '{"email": "sha256"}', p_scrubbed_at_column => 'scrubbed_at', p_revoke => array['rv.sessions'])`);
    await q(`select retention.place_hold('table', 'rv.evidence', 'litigation')`);
    expect(await sqlState(db.call(`call retention.run('rv.users')`))).toBe('RT033');
    expect(await count(db, 'rv.evidence')).toBe(1);
    expect(await count(db, 'rv.sessions')).toBe(1);
    expect(await q(`select email from rv.users`)).toEqual([{ email: 'alice@example.com' }]);
  });
});
