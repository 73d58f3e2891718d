// A held row that appears while a batch runs: another session keeps adding rows that
// reference rows a delete policy is removing, each carrying a subject under a legal
// hold (or moving referencing rows to that subject), committing one by one. Every such row that committed must survive with its parent
// (the hold keeps both), whether the batch removes rows with one statement or archives
// them: the hold check must read the cascaded rows after the rows they reference are
// locked, not before.
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
});
