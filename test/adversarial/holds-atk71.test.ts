// Attack round atk71 (legal holds), each finding a test: a subject hold in force, and a
// row naming the person deleted all the same.
//  F1 the RT024 check let drop_policy through while another subject column of the table
//     was renamed (RT002: its subject columns unknown); renamed back, a run deleted the row;
//  F2 drop_policy judged the coverage without the holds gate: a hold committed while it
//     ran was not seen, and the next run deleted the row;
//  F3 a subject column retyped to jsonb (42 became "42") was compared only as the number;
//  F4 a text subject column retyped to citext (or another string type) lost the spellings
//     holds take in text (blanks around the value, another case).
import { afterAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
});

async function hold(id: string): Promise<number> {
  const [h] = await q<{ id: number }>(`select hold_id::int as id from retention.place_hold('subject', $1, 'case atk71')`, [id]);
  return h!.id;
}

describe('holds the policies\' changes cannot take away (atk71)', () => {
  it('F1: while another subject column of the table is renamed, a change that may uncover a held row is refused (RT024)', async () => {
    await q(`create schema h1`);
    await q(`create table h1.logs (id bigint primary key, user_id int, actor_id int, created_at timestamptz not null)`);
    await q(`insert into h1.logs values (1, 42, 7, now() - interval '400 days'), (2, 8, 7, now() - interval '400 days')`);
    await q(`select retention.set_policy('h1.by_user', 'h1.logs', 'delete', 'created_at', interval '1 year', p_subject_column => 'user_id', p_enabled => false)`);
    await q(`select retention.set_policy('h1.by_actor', 'h1.logs', 'delete', 'created_at', interval '1 year', p_subject_column => 'actor_id')`);
    const h = await hold('42');
    expect(await sqlState(q(`select retention.drop_policy('h1.by_user')`))).toBe('RT024');
    await q(`alter table h1.logs rename column actor_id to actor`);
    expect(await sqlState(q(`select retention.drop_policy('h1.by_user')`))).toBe('RT024');
    await q(`alter table h1.logs rename column actor to actor_id`);
    await db.call(`call retention.run('h1.by_actor')`);
    expect(await q(`select id::int from h1.logs`)).toEqual([{ id: 1 }]);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });

  it('F2: a hold committed while drop_policy waits is seen: the drop is refused (RT024)', async () => {
    await q(`create schema h2`);
    await q(`create table h2.logs (id bigint primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into h2.logs values (1, 42, now() - interval '400 days'), (2, 8, now() - interval '400 days')`);
    await q(`select retention.set_policy('h2.by_user', 'h2.logs', 'delete', 'created_at', interval '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h2.other', 'h2.logs', 'delete', 'created_at', interval '1 year')`);
    const placing = await db.connect();
    clients.push(placing);
    await placing.query('begin');
    const [h] = (await placing.query<{ id: number }>(`select hold_id::int as id from retention.place_hold('subject', '42', 'case atk71 F2')`)).rows;
    // drop_policy starts while the hold's transaction is open: it waits for it.
    const dropping = sqlState(q(`select retention.drop_policy('h2.by_user')`));
    await new Promise((r) => setTimeout(r, 500));
    await placing.query('commit');
    expect(await dropping).toBe('RT024');
    await db.call(`call retention.run('h2.other')`);
    expect(await q(`select id::int from h2.logs`)).toEqual([{ id: 1 }]);
    // Outside read committed the change is refused: its snapshot could miss a hold.
    const rr = await db.connect();
    clients.push(rr);
    await rr.query('begin isolation level repeatable read');
    expect(await sqlState(rr.query(`select retention.drop_policy('h2.by_user')`))).toBe('25001');
    await rr.query('rollback');
    await q(`select retention.release_hold($1, 'done')`, [h!.id]);
  });

  it('F3: a subject column retyped to jsonb still holds the person, as a JSON string or number', async () => {
    await q(`create schema h3`);
    await q(`create table h3.events (id bigint primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into h3.events values (1, 42, now() - interval '400 days'), (2, 8, now() - interval '400 days'), (3, 42, now() - interval '400 days')`);
    await q(`select retention.set_policy('h3.events', 'h3.events', 'delete', 'created_at', interval '1 year', p_subject_column => 'user_id')`);
    const h = await hold('42');
    await q(`alter table h3.events alter column user_id type jsonb using case when id = 1 then to_jsonb(user_id::text) else to_jsonb(user_id) end`);
    expect(await q(`select held_back::int from retention.preview('h3.events')`)).toEqual([{ held_back: 2 }]);
    await db.call(`call retention.run('h3.events')`);
    expect(await q(`select id::int from h3.events order by id`)).toEqual([{ id: 1 }, { id: 3 }]);
    await q(`select retention.release_hold($1, 'done')`, [h]);
    await db.call(`call retention.run('h3.events')`);
    expect(await count(db, `h3.events`)).toBe(0);
  });

  it('F4: a text subject column retyped to citext or name keeps the spellings holds take', async () => {
    await q(`create schema h4`);
    const citext = await q(`create extension if not exists citext`).then(() => true, () => false);
    for (const type of citext ? ['name', 'citext'] : ['name']) {
      await q(`create table h4.t_${type} (id bigint primary key, customer text, created_at timestamptz not null)`);
      await q(`insert into h4.t_${type} values (1, ' alice@x.example ', now() - interval '400 days'), (2, 'bob@x.example', now() - interval '400 days')`);
      await q(`select retention.set_policy('h4.${type}', 'h4.t_${type}', 'delete', 'created_at', interval '1 year', p_subject_column => 'customer')`);
    }
    const h = await hold('Alice@X.example');
    for (const type of citext ? ['name', 'citext'] : ['name']) {
      await q(`alter table h4.t_${type} alter column customer type ${type}`);
      expect(await q(`select held_back::int from retention.preview('h4.${type}')`), type).toEqual([{ held_back: 1 }]);
      await db.call(`call retention.run('h4.${type}')`);
      expect(await q(`select id::int from h4.t_${type}`), type).toEqual([{ id: 1 }]);
    }
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });
});
