// Held rows that appear or change while a batch runs, and what the hold check must see.
// Another session keeps adding rows that reference rows a delete policy (or an erasure
// step) is removing, each carrying a subject under a legal hold, or moves referencing
// rows to that subject, committing one by one: every such row that committed must
// survive with its parent, whether the batch removes rows with one statement or archives
// them. Then single races made certain by an open transaction the run must wait for: a
// self-referencing cascade and SET NULL, a scrub's revoke table, a soft delete's ON
// UPDATE key; and two refusals or checks a review found missing: a SET NULL that moves a
// row between partitions, and a detached partition's own subject columns.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** Adds held rows (or, `update`, moves existing rows to the held subject) one by one
 * until `done`; returns the ids of those that committed. */
async function hammer(table: string, parents: number, done: () => boolean, update = false): Promise<number[]> {
  const c = await db.connect();
  const added: number[] = [];
  let id = 1_000_000;
  try {
    while (!done()) {
      const p = 1 + Math.floor(Math.random() * parents);
      id++;
      try {
        const r = update
          ? await c.query(`update ${table} set user_id = 7 where id = $1 and user_id <> 7 returning id`, [p])
          : await c.query(`insert into ${table} (id, p_id, user_id) values ($1, $2, 7) returning id`, [id, p]);
        added.push(...r.rows.map((x) => x.id as number));
      } catch {
        // The parent is gone already: nothing was added.
      }
    }
  } finally {
    await c.end();
  }
  return added;
}

describe('held rows that appear during a run', () => {
  for (const [archive, update] of [[false, false], [true, false], [false, true], [true, true]]) {
    it(`a held row ${update ? 'changed to a held subject' : 'added'} mid-batch keeps itself and its parent (${archive ? 'archiving' : 'plain'} delete)`, async () => {
      const s = `nr_${archive ? 'a' : 'p'}${update ? 'u' : 'i'}`;
      await q(`create schema if not exists app`);
      await q(`create table app.${s} (id int primary key, at timestamptz not null)`);
      await q(`create table app.${s}_c (id int primary key, p_id int not null references app.${s} on delete cascade, user_id int,
                                                at timestamptz not null default now())`);
      await q(`create index on app.${s} (at)`);
      await q(`create index on app.${s}_c (p_id)`);
      await q(`insert into app.${s} select i, now() - interval '1 year' - make_interval(secs => i) from generate_series(1, 30000) i`);
      await q(`insert into app.${s}_c select i, i, 1 from generate_series(1, 30000) i`);
      // The children's subject column, named by a policy of their own.
      await q(`select retention.set_policy('${s}-c', 'app.${s}_c', 'delete', 'at', p_retain => '5 years', p_subject_column => 'user_id', p_enabled => false)`);
      await q(`select retention.set_policy('${s}', 'app.${s}', 'delete', 'at', p_retain => '30 days', p_batch_size => 3000,
                 p_max_rows_per_run => 1000000, p_archive => ${archive})`);
      await q(`select retention.place_hold('subject', '7', 'litigation')`);
      let finished = false;
      const work = db.call(`call retention.run('${s}')`).finally(() => { finished = true; });
      const added = await hammer(`app.${s}_c`, 30000, () => finished, update);
      await work;
      expect(added.length).toBeGreaterThan(50);
      // Every held row that committed is still there, and so is its parent.
      expect(await count(db, `app.${s}_c where user_id = 7`)).toBe(added.length);
      expect(await count(db, `app.${s}_c c where c.user_id = 7 and not exists (select from app.${s} p where p.id = c.p_id)`)).toBe(0);
      // The run removed the rest.
      expect(await count(db, `app.${s} p where not exists (select from app.${s}_c c where c.p_id = p.id and c.user_id = 7)`)).toBe(0);
    }, 120_000);
  }

  it('a held row added mid-batch to a row an erasure step removes keeps itself and that row', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.er_u (id int primary key)`);
    await q(`create table app.er_m (id int primary key, author_id int references app.er_u on delete cascade)`);
    await q(`create table app.er_mc (id int primary key, p_id int references app.er_m on delete cascade, user_id int,
                                     at timestamptz not null default now())`);
    await q(`create index on app.er_m (author_id)`);
    await q(`create index on app.er_mc (p_id)`);
    await q(`insert into app.er_u values (90000)`);
    await q(`insert into app.er_m select i, 90000 from generate_series(1, 30000) i`);
    await q(`select retention.set_policy('er-mc', 'app.er_mc', 'delete', 'at', p_retain => '5 years', p_subject_column => 'user_id', p_enabled => false)`);
    await q(`select retention.place_hold('subject', '7', 'litigation')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.er_u', '90000', 'ticket new rows')`);
    let finished = false;
    const c = await db.connect();
    const work = c.query(`call retention.process_erasure($1, 1000)`, [req!.request_id]).finally(() => { finished = true; });
    // From the step that removes the messages on (the one before it removes their rows
    // in app.er_mc, of which there are none yet).
    await waitFor(async () => finished || (await count(db, 'app.er_m')) < 30000, 'the first batch of messages');
    const added = await hammer('app.er_mc', 30000, () => finished);
    await work;
    await c.end();
    expect(added.length).toBeGreaterThan(20);
    expect(await count(db, `app.er_mc where user_id = 7`)).toBe(added.length);
    expect(await count(db, `app.er_mc c where not exists (select from app.er_m m where m.id = c.p_id)`)).toBe(0);
    // The erasure removed messages while the rows were coming.
    expect(await count(db, `app.er_m`)).toBeLessThan(30000);
  }, 120_000);

  /** Runs `run` while `other` holds an open transaction that did `setup`; commits it once
   * the run waits for it (a lock), then returns when the run is done. */
  async function whileWaiting(setup: string[], run: string): Promise<void> {
    const other = await db.connect();
    try {
      await other.query('begin');
      for (const sql of setup) await other.query(sql);
      const mine = Number((await other.query('select pg_backend_pid() as pid')).rows[0].pid);
      const work = db.call(run);
      await waitFor(async () => (await count(db, `pg_stat_activity where wait_event_type = 'Lock' and $1 = any (pg_blocking_pids(pid))`, [mine])) > 0,
        'the run to wait for the open transaction');
      await other.query('commit');
      await work;
    } finally {
      await other.end();
    }
  }

  it('a self-referencing cascade: a held reply committed while the delete waits keeps its thread', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.sr (id int primary key, parent_id int references app.sr on delete cascade, author text not null, created_at timestamptz not null)`);
    await q(`select retention.set_policy('sr', 'app.sr', 'delete', 'created_at', interval '30 days', p_subject_column => 'author', p_lock_timeout => '20 seconds')`);
    await q(`insert into app.sr values (1, null, 'bob', now() - interval '100 days'), (2, 1, 'bob', now()), (3, 2, 'bob', now())`);
    await q(`select retention.place_hold('subject', 'alice', 'litigation')`);
    await whileWaiting([`insert into app.sr values (4, 3, 'alice', now())`], `call retention.run('sr')`);
    expect((await q(`select id from app.sr order by id`)).map((r) => r.id)).toEqual([1, 2, 3, 4]);
  });

  it('a self-referencing SET NULL: a reply moved to a held subject while the delete waits keeps its parent and its key', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.sn (id int primary key, parent_id int references app.sn on delete set null, author text not null, created_at timestamptz not null)`);
    await q(`select retention.set_policy('sn', 'app.sn', 'delete', 'created_at', interval '30 days', p_subject_column => 'author', p_lock_timeout => '20 seconds')`);
    await q(`insert into app.sn values (1, null, 'bob', now() - interval '100 days'), (2, 1, 'bob', now())`);
    await q(`select retention.place_hold('subject', 'alice', 'litigation')`);
    await whileWaiting([`update app.sn set author = 'alice' where id = 2`], `call retention.run('sn')`);
    expect(await q(`select id, parent_id from app.sn order by id`)).toEqual([{ id: 1, parent_id: null }, { id: 2, parent_id: 1 }]);
  });

  it('a scrub\'s revoke table: a held row added under a revoked row while the scrub waits keeps it', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.su (id int primary key, email text, scrubbed_at timestamptz, created_at timestamptz not null)`);
    await q(`create table app.ss (id int primary key, user_id int not null references app.su)`);
    await q(`create table app.se (id int primary key, session_id int references app.ss on delete cascade, actor text, created_at timestamptz not null default now())`);
    await q(`select retention.set_policy('su', 'app.su', 'scrub', 'created_at', interval '30 days', p_scrub => '{"email": "null"}',
               p_scrubbed_at_column => 'scrubbed_at', p_revoke => '{app.ss}', p_lock_timeout => '20 seconds')`);
    await q(`select retention.set_policy('se', 'app.se', 'delete', 'created_at', interval '3000 days', p_subject_column => 'actor', p_enabled => false)`);
    await q(`insert into app.su values (1, 'u1@x.example', null, now() - interval '100 days')`);
    await q(`insert into app.ss values (1, 1)`);
    await q(`select retention.place_hold('subject', 'alice', 'litigation')`);
    await whileWaiting([`insert into app.se (id, session_id, actor) values (1, 1, 'alice')`], `call retention.run('su')`);
    expect([await count(db, 'app.se'), await count(db, 'app.ss'), await count(db, `app.su where email is not null`)]).toEqual([1, 1, 1]);
  });

  it('a soft delete whose ON UPDATE key changes other rows: a row moved to a held subject while it waits keeps its account', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.ac (id int primary key, last_seen timestamptz not null, deleted_at timestamptz,
               status text generated always as (case when deleted_at is null then 'active' else 'deleted' end) stored, unique (id, status))`);
    await q(`create table app.an (id int primary key, account_id int, account_status text, author text not null,
               created_at timestamptz not null default now(),
               foreign key (account_id, account_status) references app.ac (id, status) on update cascade)`);
    await q(`select retention.set_policy('ac', 'app.ac', 'soft_delete', 'last_seen', interval '30 days', p_deleted_at_column => 'deleted_at', p_lock_timeout => '20 seconds')`);
    await q(`select retention.set_policy('an', 'app.an', 'delete', 'created_at', interval '3000 days', p_subject_column => 'author', p_enabled => false)`);
    await q(`insert into app.ac (id, last_seen) values (1, now() - interval '100 days'), (2, now() - interval '100 days')`);
    await q(`insert into app.an (id, account_id, account_status, author) values (1, 1, 'active', 'bob'), (2, 2, 'active', 'alice')`);
    await q(`select retention.place_hold('subject', 'alice', 'litigation')`);
    await whileWaiting([`update app.an set author = 'alice' where id = 1`], `call retention.run('ac')`);
    // Both notes are held now: neither account is soft-deleted, neither note changed.
    expect(await q(`select id, account_status from app.an order by id`)).toEqual([{ id: 1, account_status: 'active' }, { id: 2, account_status: 'active' }]);
    expect(await count(db, `app.ac where deleted_at is not null`)).toBe(0);
  });

  it('a SET NULL that moves a row to another partition (deleting it from the first) is refused under a hold; nothing goes', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.tn (id int primary key, created_at timestamptz not null)`);
    await q(`create table app.dc (id int, tenant_id int references app.tn (id) on delete set null) partition by list (tenant_id)`);
    await q(`create table app.dc_t1 partition of app.dc for values in (1)`);
    await q(`create table app.dc_other partition of app.dc default`);
    await q(`alter table app.dc_t1 add primary key (id)`);
    await q(`create table app.evd (id int primary key, doc_id int references app.dc_t1 (id) on delete cascade, note text)`);
    await q(`insert into app.tn values (1, now() - interval '400 days')`);
    await q(`insert into app.dc values (10, 1)`);
    await q(`insert into app.evd values (100, 10, 'exhibit A')`);
    await q(`select retention.set_policy('tn', 'app.tn', 'delete', 'created_at', interval '1 year')`);
    await q(`select retention.place_hold('table', 'app.evd', 'litigation')`);
    await expect(db.call(`call retention.run('tn')`)).rejects.toThrow(/partition key/);
    expect([await count(db, 'app.tn'), await count(db, 'app.dc_t1'), await count(db, 'app.evd')]).toEqual([1, 1, 1]);
  });

  it('a partition detached by a run is checked by its own subject columns too before it is dropped', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.ev (id bigint, user_id int not null, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table app.ev_2020 partition of app.ev for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`create table app.ev_2026 partition of app.ev for values from ('2021-01-01') to ('2030-01-01')`);
    await q(`insert into app.ev values (1, 7, '2020-05-01'), (2, 8, '2020-06-01'), (3, 7, '2026-01-01')`);
    // The subject column is named by a policy on the partition only.
    await q(`select retention.set_policy('ev2020', 'app.ev_2020', 'delete', 'created_at', interval '100 years', p_subject_column => 'user_id', p_enabled => false)`);
    await q(`select retention.set_policy('ev-drop', 'app.ev', 'drop_partitions', 'created_at', interval '1 year')`);
    const [r] = await q(`select retention.open_run('ev-drop') as id`);
    await q(`select retention.run_step($1)`, [r!.id]);  // detaches app.ev_2020
    await q(`select retention.place_hold('subject', '7', 'litigation')`);
    for (let i = 0; i < 5; i++) await q(`select retention.run_step($1)`, [r!.id]).catch(() => {});
    expect(await count(db, `app.ev where user_id = 7`)).toBe(2);
    expect(await count(db, `pg_inherits where inhrelid = 'app.ev_2020'::regclass`)).toBe(1);
  });
});
