// A database whose collation is "C" (initdb --locale=C or --no-locale, common where sorts
// must be fast): lower() and ILIKE fold ASCII letters only there. Round atk104 F2 found a
// name in capitals (JOSÉ NÚÑEZ) left in messages by her erasure; the same folding let a run
// delete 'ЖАННА' under a hold on 'жанна'. pg-retention lowers under its own collation
// (retention_internal.fold), whatever the database's.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../runner/migrate.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const name = `retention_locale_c_${process.pid}`;
let c: pg.Client;

beforeAll(async () => {
  await db.q(`create database ${name} template template0 locale 'C' encoding 'UTF8'`);
  const u = new URL(db.url);
  u.pathname = `/${name}`;
  await migrate(u.toString());
  c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
}, 120_000);

afterAll(async () => {
  await c?.end();
  await db.q(`drop database if exists ${name} with (force)`);
});

const q = async (text: string, values?: unknown[]) => (await c.query(text, values)).rows;

describe('a database whose collation is "C"', () => {
  it('is one: lower() there folds ASCII only, and pg-retention\'s fold collation folds every script', async () => {
    expect(await q(`select datcollate from pg_database where datname = current_database()`)).toEqual([{ datcollate: 'C' }]);
    expect(await q(`select lower('ЖАННА') as plain, lower('ЖАННА' collate retention_internal.fold) as folded`))
      .toEqual([{ plain: 'ЖАННА', folded: 'жанна' }]);
  });

  it('a subject hold in lower case holds the rows that spell it in capitals, in every script', async () => {
    await q(`create schema h`);
    await q(`create table h.ev (id int primary key, who text, created_at timestamptz not null default now() - interval '40 days')`);
    await q(`insert into h.ev values (1, 'ЖАННА'), (2, 'жанна'), (3, 'ΣΟΦΙΑ'), (4, 'ÉMILE'), (5, 'bob')`);
    await q(`select retention.set_policy('h.ev', 'h.ev', 'delete', 'created_at', interval '30 days', p_subject_column => 'who')`);
    for (const v of ['жанна', 'σοφια', 'émile']) await q(`select retention.place_hold('subject', $1, 'litigation')`, [v]);
    await q(`call retention.run('h.ev')`);
    expect(await q(`select id from h.ev order by id`)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
  });

  it('a request\'s reference naming her key in capitals is refused (RT029), as in lower case', async () => {
    await q(`create schema r`);
    await q(`create table r.members (handle text primary key, email text)`);
    await q(`insert into r.members values ('жанна', 'z@r.example')`);
    for (const ref of ['ticket for жанна', 'ticket for ЖАННА']) {
      const err = await q(`select retention.request_erasure('r.members', 'жанна', 'privacy desk', p_reference => $1)`, [ref]).then(() => null, (e: { code?: string }) => e.code);
      expect(err, ref).toBe('RT029');
    }
    expect(await q(`select count(*)::int as n from retention.erasure_requests where subject_table = 'r.members'::regclass`)).toEqual([{ n: 0 }]);
  });

  it('her erasure erases her name where a message quotes it in capitals', async () => {
    await q(`create schema e`);
    await q(`create table e.users (id int primary key, name text)`);
    await q(`create table e.invoices (id int primary key, created_at timestamptz not null default now() - interval '3 years')`);
    await q(`insert into e.users values (2024, 'José Núñez'), (7, 'Bob')`);
    await q(`insert into e.invoices values (1)`);
    await q(`create function e.guard() returns trigger language plpgsql as $$
               begin raise exception 'invoice of JOSÉ NÚÑEZ is locked'; end $$`);
    await q(`create trigger guard before delete on e.invoices for each row execute function e.guard()`);
    await q(`select retention.set_policy('e.invoices', 'e.invoices', 'delete', 'created_at', '1 year')`);
    await q(`call retention.run('e.invoices')`);
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'e.invoices'`;
    expect(await q(failures)).toEqual([{ error: expect.stringContaining('JOSÉ NÚÑEZ') }]);
    const [{ request_id: rid }] = await q(`select request_id from retention.request_erasure('e.users', '2024', 'privacy desk')`) as [{ request_id: string }];
    await q(`call retention.process_erasure($1)`, [rid]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [rid])).toEqual([{ status: 'completed' }]);
    expect(await q(failures)).toEqual([{ error: expect.stringContaining('invoice of [erased] is locked') }]);
  });
});
