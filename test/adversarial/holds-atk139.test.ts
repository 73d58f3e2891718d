// Attack round atk139 (no held row deleted): a subject hold's id inside a value of pieces,
// spelt as the column's own type or a text column would hold it, was not held.
// F1: numbers compared as their text only — a numeric(10,1)[] stores {7} as {7.0}, jsonb
// numbers 7.0 and 70e-1, strings "007" and " 07" in jsonb and text[] — on delete runs,
// drop_partitions and archive prune's question (archive_rows_held). F2: a bytea of UTF-16
// with a byte-order mark, or of characters beyond Latin-1. F3: a jsonb map keyed by the
// person ({"jdoe": ...}). F4: a subject column retyped to xml, the person in an attribute,
// a CDATA section or a character reference.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

async function heldRun(schema: string, type: string, values: string[], hold: string | string[]): Promise<string[]> {
  await q(`create schema ${schema}`);
  await q(`create table ${schema}.t (id serial primary key, created_at timestamptz not null, who ${type})`);
  for (const v of values) await q(`insert into ${schema}.t (created_at, who) values (now() - interval '400 days', ${v})`);
  await q(`select retention.set_policy('${schema}', '${schema}.t', 'delete', 'created_at', '30 days', p_subject_column => 'who')`);
  const holds: number[] = [];
  for (const h of [hold].flat()) holds.push(Number((await q(`select hold_id from retention.place_hold('subject', $1, 'case ${schema}')`, [h]))[0]!.hold_id));
  try {
    await db.call(`call retention.run('${schema}')`);
    return (await q<{ who: string }>(`select who::text as who from ${schema}.t order by id`)).map((r) => r.who);
  } finally {
    for (const id of holds) await q(`select retention.release_hold($1, 'done')`, [id]);
  }
}

describe('held values spelt otherwise inside values of pieces (atk139)', () => {
  it('F1: a number in a numeric[], a jsonb number or a string of digits in jsonb or text[] is held as the number it spells', async () => {
    expect(await heldRun('h9a', 'jsonb', [`'7'`, `'"007"'`, `'{"id": "007"}'`, `'{"id": 7.0}'`, `'[[["7.00"]]]'`, `'{"id": 70e-1}'`, `'{"id": "+7"}'`, `'8'`, `'"70"'`], '7'))
      .toEqual(['7', '"007"', '{"id": "007"}', '{"id": 7.0}', '[[["7.00"]]]', '{"id": 7.0}', '{"id": "+7"}']);
    expect(await heldRun('h9b', 'text[]', [`'{7}'`, `'{007}'`, `'{" 07"}'`, `'{8}'`], '7')).toEqual(['{7}', '{007}', '{" 07"}']);
    expect(await heldRun('h9c', 'numeric(10,1)[]', [`'{7}'`, `'{8}'`, `'{7.5}'`], '7')).toEqual(['{7.0}']);
    // A held id spelt with zeros holds the number too.
    expect(await heldRun('h9d', 'int[]', [`'{42}'`, `'{43}'`], '0042')).toEqual(['{42}']);
  });

  it('F1: drop_partitions keeps a partition whose numeric[] row is the held person\'s; archive_rows_held reads 7.0 as 7', async () => {
    await q(`create schema h9p`);
    await q(`create table h9p.logs (id bigserial, created_at timestamptz not null, who numeric(10,1)[]) partition by range (created_at)`);
    await q(`create table h9p.logs_a partition of h9p.logs for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`create table h9p.logs_b partition of h9p.logs for values from ('2021-01-01') to ('2022-01-01')`);
    await q(`create table h9p.logs_c partition of h9p.logs for values from ('2022-01-01') to ('2023-01-01')`);
    await q(`create table h9p.logs_new partition of h9p.logs for values from ('2023-01-01') to ('2100-01-01')`);
    await q(`insert into h9p.logs (created_at, who) values ('2020-06-01', '{7}'), ('2020-06-02', '{8}'), ('2021-06-01', '{8,7}'), ('2022-06-01', '{9}'), (now(), '{8}')`);
    await q(`select retention.set_policy('h9p', 'h9p.logs', 'drop_partitions', 'created_at', '90 days', p_subject_column => 'who')`);
    const [{ hold_id }] = await q(`select hold_id from retention.place_hold('subject', '7', 'case h9p')`) as [{ hold_id: number }];
    await db.call(`call retention.run('h9p')`);
    expect((await q<{ p: string }>(`select distinct tableoid::regclass::text as p from h9p.logs order by 1`)).map((r) => r.p))
      .toEqual(['h9p.logs_a', 'h9p.logs_b', 'h9p.logs_new']);
    const held = async (row: string) => (await q<{ h: boolean }>(
      `select retention.archive_rows_held(999999, jsonb_build_array(jsonb_build_object('table', 'h9p.logs', 'row', $1::jsonb))) as h`, [row]))[0]!.h;
    expect([await held('{"who": [7]}'), await held('{"who": [7.0]}'), await held('{"who": ["007"]}'), await held('{"who": [8.0]}')])
      .toEqual([true, true, true, false]);
    await q(`select retention.release_hold($1, 'done')`, [hold_id]);
  });

  it('F2: a bytea of UTF-16 with a byte-order mark, or of Cyrillic, is held', async () => {
    const le = (s: string) => `'\\x${Buffer.from(s, 'utf16le').toString('hex')}'::bytea`;
    const be = (s: string) => `'\\x${Buffer.from(s, 'utf16le').swap16().toString('hex')}'::bytea`;
    const kept = await heldRun('h9e', 'bytea', [
      `'\\xfffe'::bytea || ${le('zhanna@example.com')}`, `'\\xfeff'::bytea || ${be('zhanna@example.com')}`,
      le('жанна'), le('ЖАННА'), be('жанна'), le('ivan@example.com'), `'\\x89504e470d0a1a0a0000000d49484452'::bytea`,
    ], ['zhanna@example.com', 'жанна']);
    expect(kept).toEqual([
      `\\xfffe${Buffer.from('zhanna@example.com', 'utf16le').toString('hex')}`,
      `\\xfeff${Buffer.from('zhanna@example.com', 'utf16le').swap16().toString('hex')}`,
      `\\x${Buffer.from('жанна', 'utf16le').toString('hex')}`,
      `\\x${Buffer.from('ЖАННА', 'utf16le').toString('hex')}`,
      `\\x${Buffer.from('жанна', 'utf16le').swap16().toString('hex')}`,
    ]);
  });

  it('F3: a jsonb map keyed by the held person is held', async () => {
    expect(await heldRun('h9f', 'jsonb', [`'{"voter": "jdoe"}'`, `'{"jdoe": "yes", "asmith": "no"}'`, `'{"by_user": {"jdoe": {"v": 1}}}'`, `'{"asmith": "no"}'`], 'jdoe'))
      .toEqual(['{"voter": "jdoe"}', '{"jdoe": "yes", "asmith": "no"}', '{"by_user": {"jdoe": {"v": 1}}}']);
  });

  it('F4: a subject column retyped to xml under a hold holds every row while a subject hold is open', async () => {
    await q(`create schema h9x`);
    await q(`create table h9x.docs (id serial primary key, created_at timestamptz not null, who text)`);
    await q(`insert into h9x.docs (created_at, who) select now() - interval '400 days', w from unnest(array['jdoe', 'bob']) w`);
    await q(`select retention.set_policy('h9x', 'h9x.docs', 'delete', 'created_at', '30 days', p_subject_column => 'who')`);
    const [{ hold_id }] = await q(`select hold_id from retention.place_hold('subject', 'jdoe', 'case h9x')`) as [{ hold_id: number }];
    await q(`alter table h9x.docs alter column who type xml using xmlelement(name "user", xmlattributes(who as login))`);
    await q(`insert into h9x.docs (created_at, who) values (now() - interval '400 days', '<user><![CDATA[jdoe]]></user>'),
               (now() - interval '400 days', '<user>&#106;doe</user>'), (now() - interval '400 days', null)`);
    await db.call(`call retention.run('h9x')`);
    expect(await q(`select id from h9x.docs order by id`)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    await q(`select retention.release_hold($1, 'done')`, [hold_id]);
    await db.call(`call retention.run('h9x')`);
    expect(await q(`select id from h9x.docs order by id`)).toEqual([]);
  });
});
