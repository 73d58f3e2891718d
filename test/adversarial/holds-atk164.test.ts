// Attack round atk164 (no held row removed while its hold is in force). F1 (critical): a
// subject column declared on a partition; with no hold open, the application renamed the
// partitioned parent (or moved it to another schema), rebuilt a copy of the tree under the
// new name and dropped the old tree, declaring partition included, in one transaction.
// The names the tree was recorded under (past_parents) were refreshed only as runs opened,
// holds were placed or (a hold open) on DDL, so they named nothing: a subject hold placed
// after did not cover the rebuilt tree, and a delete policy on its partition took the held
// person's rows. The DDL event trigger now refreshes them with no hold open too.
// atk167 F1 (critical): the same with the rename made by ALTER INDEX (PostgreSQL renames a
// table so too) or ALTER SCHEMA ... RENAME, which the event trigger did not watch, even
// with the hold placed first. It watches both now. atk169 F1 (critical): a second open
// transaction that had refreshed the recorded names (a schema renamed and back) made the
// rebuild's own refresh pass those rows over (SKIP LOCKED), so its rename went unrecorded;
// the application's DDL now waits for them (and a refresh that fails refuses the DDL).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

async function tree(s: string): Promise<void> {
  await q(`create schema ${s}`);
  await q(`create table ${s}.events (id bigint, user_id bigint, created_at timestamptz not null) partition by range (created_at)`);
  await q(`create table ${s}.events_p1 partition of ${s}.events for values from ('2000-01-01') to ('2010-01-01')`);
  await q(`create table ${s}.events_p2 partition of ${s}.events for values from ('2010-01-01') to ('2100-01-01')`);
  await q(`insert into ${s}.events select g, g % 10, '2005-01-01'::timestamptz + g * interval '1 day' from generate_series(1, 100) g`);
  await q(`insert into ${s}.events select 1000 + g, g % 10, now() - interval '5 years' + g * interval '1 hour' from generate_series(1, 100) g`);
  // The subject column is declared on the old partition only.
  await q(`select retention.set_policy('${s}-p1', '${s}.events_p1', 'delete', 'created_at', '1 year', p_subject_column => 'user_id')`);
}

/** In one transaction: the parent renamed (or moved), a copy built under the new name, the old tree dropped. */
async function rebuild(s: string, from: string, to: string, name: string): Promise<void> {
  await q(`begin;
           ${from === to ? `alter table ${s}.events rename to ${name};` : `create schema ${to}; alter table ${s}.events set schema ${to};`}
           create table ${to}.${name}_new (id bigint, user_id bigint, created_at timestamptz not null) partition by range (created_at);
           create table ${to}.${name}_old partition of ${to}.${name}_new for values from ('2000-01-01') to ('2010-01-01');
           create table ${to}.${name}_cur partition of ${to}.${name}_new for values from ('2010-01-01') to ('2100-01-01');
           insert into ${to}.${name}_new select * from ${to}.${name};
           drop table ${to}.${name};
           alter table ${to}.${name}_new rename to ${name};
           commit`);
}

describe('a declaring partition\'s tree renamed and rebuilt with no hold open (atk164 F1)', () => {
  for (const [label, s, to, name] of [['renamed', 'h164a', 'h164a', 'events_v2'], ['moved to another schema', 'h164b', 'h164b2', 'events']] as const) {
    it(`the parent ${label}, the tree rebuilt: a subject hold placed after keeps the person's rows`, async () => {
      await tree(s);
      await rebuild(s, s, to, name);
      await q(`select retention.place_hold('subject', '7', 'litigation')`);
      const before = await q<{ n: number }>(`select count(*)::int as n from ${to}.${name} where user_id = 7`);
      expect(before).toEqual([{ n: 20 }]);
      await q(`select retention.set_policy('${s}-old', '${to}.${name}_old', 'delete', 'created_at', '1 year')`);
      await db.call(`call retention.run('${s}-old')`);
      expect(await q(`select count(*)::int as n from ${to}.${name} where user_id = 7`)).toEqual(before);
      // The others' old rows went.
      expect(await q(`select count(*)::int as n from ${to}.${name}_old`)).toEqual([{ n: 10 }]);
    });
  }
});

describe('a declaring partition\'s tree renamed by ALTER INDEX or ALTER SCHEMA and rebuilt (atk167 F1)', () => {
  for (const [how, holdFirst] of [['index', false], ['index', true], ['schema', false], ['schema', true]] as const) {
    it(`renamed by ALTER ${how.toUpperCase()}${holdFirst ? ', the hold placed first' : ''}: the person's rows stay`, async () => {
      const s = `h167${how[0]}${holdFirst ? 'h' : 'n'}`;
      await tree(s);
      const hold = () => q(`select retention.place_hold('subject', '7', 'litigation')`);
      if (holdFirst) await hold();
      const to = how === 'schema' ? `${s}x` : s;
      const name = how === 'schema' ? 'events' : 'events_v2';
      await q(`begin;
               create table ${s}.new_tree (id bigint, user_id bigint, created_at timestamptz not null) partition by range (created_at);
               create table ${s}.new_old partition of ${s}.new_tree for values from ('2000-01-01') to ('2010-01-01');
               create table ${s}.new_cur partition of ${s}.new_tree for values from ('2010-01-01') to ('2100-01-01');
               insert into ${s}.new_tree select * from ${s}.events;
               ${how === 'schema' ? `alter schema ${s} rename to ${to};` : `alter index ${s}.events rename to events_v2;`}
               drop table ${to}.${name};
               alter index ${to}.new_tree rename to ${name};
               commit`);
      if (!holdFirst) await hold();
      expect(await q(`select count(*)::int as n from ${to}.${name} where user_id = 7`)).toEqual([{ n: 20 }]);
      await q(`select retention.set_policy('${s}-old', '${to}.new_old', 'delete', 'created_at', '1 year')`);
      await db.call(`call retention.run('${s}-old')`);
      expect(await q(`select count(*)::int as n from ${to}.${name} where user_id = 7`)).toEqual([{ n: 20 }]);
      expect(await q(`select count(*)::int as n from ${to}.new_old`)).toEqual([{ n: 10 }]);
    });
  }
});

describe('a rename made while another transaction holds the recorded names (atk169 F1)', () => {
  for (const holdFirst of [false, true]) {
    it(`the rebuild waits for it and is recorded${holdFirst ? ', the hold placed first' : ''}`, async () => {
      const s = `h169${holdFirst ? 'h' : 'n'}`;
      await tree(s);
      await q(`create table ${s}.unrelated (x int)`);
      if (holdFirst) await q(`select retention.place_hold('subject', '7', 'litigation')`);
      const t1 = await db.connect();
      const t2 = await db.connect();
      try {
        await t1.query('begin');
        await t1.query(`alter schema ${s} rename to ${s}_tmp`);
        await t1.query(`alter schema ${s}_tmp rename to ${s}`);
        // T2 renames and rebuilds while T1 is open: it waits for T1's rows now.
        const t2done = t2.query(`begin;
          alter table ${s}.events rename to events_v2;
          create table ${s}.new_tree (id bigint, user_id bigint, created_at timestamptz not null) partition by range (created_at);
          create table ${s}.new_old partition of ${s}.new_tree for values from ('2000-01-01') to ('2010-01-01');
          create table ${s}.new_cur partition of ${s}.new_tree for values from ('2010-01-01') to ('2100-01-01');
          insert into ${s}.new_tree select * from ${s}.events_v2;
          drop table ${s}.events_v2;
          alter table ${s}.new_tree rename to events_v2;
          commit`);
        await new Promise((r) => setTimeout(r, 700));
        await t1.query('commit');
        await t2done;
      } finally {
        await t1.end();
        await t2.end();
      }
      if (!holdFirst) await q(`select retention.place_hold('subject', '7', 'litigation')`);
      expect(await q(`select count(*)::int as n from ${s}.events_v2 where user_id = 7`)).toEqual([{ n: 20 }]);
      await q(`select retention.set_policy('${s}-old', '${s}.new_old', 'delete', 'created_at', '1 year')`);
      await db.call(`call retention.run('${s}-old')`);
      expect(await q(`select count(*)::int as n from ${s}.events_v2 where user_id = 7`)).toEqual([{ n: 20 }]);
      expect(await q(`select count(*)::int as n from ${s}.new_old`)).toEqual([{ n: 10 }]);
    });
  }
});
