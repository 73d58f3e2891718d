// Attack round atk142 (no held row deleted), on stop 50's reading of held values in pieces.
// F1: a number spelt in 1,000 characters or more (numeric(1000,998)[] stores 7 as 7.000…,
// jsonb keeps the scale) was not read as the number. F2: a bytea of UTF-16 without a mark
// whose bytes are UTF-8 too (はな is "o0j0") was read as UTF-8 alone. F3: arrays of the
// types whose values are held whole (xml[], bit(8)[]) were read piece by piece, and their
// pieces read nothing. F4: money[] {$7.00} under a hold on 7. F5: a jsonb, array or
// composite column retyped to text under a hold ({"id": "jdoe"}, (jdoe,5)) was compared
// whole. F6: a jsonb value 12,000 levels deep failed every run of its table while a
// subject hold was open. F7: 64 kB values read as UTF-16 took seconds a row.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

/** s.t(who TYPE), rows of VALUES (each 400 days old), holds on HOLDS, a run: the values left. */
async function heldRun(schema: string, type: string, values: string[], holds: string[], retype?: string): Promise<string[]> {
  await q(`create schema ${schema}`);
  await q(`create table ${schema}.t (id serial primary key, created_at timestamptz not null, who ${retype ? 'text' : type})`);
  await q(`select retention.set_policy('${schema}', '${schema}.t', 'delete', 'created_at', '30 days', p_subject_column => 'who')`);
  const ids: number[] = [];
  for (const h of holds) ids.push(Number((await q(`select hold_id from retention.place_hold('subject', $1, 'case ${schema}')`, [h]))[0]!.hold_id));
  try {
    if (retype) await q(`alter table ${schema}.t alter column who type ${type} using ${retype}`);
    for (const v of values) await q(`insert into ${schema}.t (created_at, who) values (now() - interval '400 days', ${v})`);
    await db.call(`call retention.run('${schema}')`);
    return (await q<{ who: string }>(`select who::text as who from ${schema}.t order by id`)).map((r) => r.who);
  } finally {
    for (const id of ids) await q(`select retention.release_hold($1, 'done')`, [id]);
  }
}

describe('held values in pieces after stop 50 (atk142)', () => {
  it('F1: a number of 1,000 characters and more is read as the number it is', async () => {
    expect((await heldRun('k2a', 'numeric(1000,998)[]', [`'{7}'`, `'{8}'`], ['7'])).length).toBe(1);
    expect(await heldRun('k2b', 'jsonb', [`'{"id": 7}'`, `('{"id": 7.' || repeat('0', 1000) || '}')::jsonb`, `'{"id": 8}'`,
                                          `'{"id": "7.5e99999999"}'`], ['7']))
      .toEqual(['{"id": 7}', `{"id": 7.${'0'.repeat(1000)}}`]);
  });

  it('F2: a bytea of UTF-16 whose bytes are UTF-8 too is read as UTF-16 as well', async () => {
    expect(await heldRun('k2d', 'bytea', [`'\\xfffe6f306a30'`, `'\\x6f306a30'`, `'\\x306f306a'`, `'\\x4e67'`, `'\\x6f306a306f306a30'`], ['はな', '李']))
      .toEqual(['\\xfffe6f306a30', '\\x6f306a30', '\\x306f306a', '\\x4e67']);
  });

  it('F3: an array of xml or of bit strings holds every row while a subject hold is open', async () => {
    expect(await heldRun('k2e', 'xml[]', [`array['<u>&#106;doe</u>'::xml]`, `array['<u>bob</u>'::xml]`], ['jdoe'], 'array[xmlelement(name u, who)]'))
      .toEqual(['{<u>&#106;doe</u>}', '{<u>bob</u>}']);
    expect(await heldRun('k2f', 'bit(8)[]', [`array[B'00000111']`, `array[B'00001000']`], ['7'], 'null'))
      .toEqual(['{00000111}', '{00001000}']);
  });

  it('F4: money[] is read as the number it is too', async () => {
    expect(await heldRun('k2c', 'money[]', [`array[7::numeric::money]`, `array[8::numeric::money]`], ['7'])).toHaveLength(1);
  });

  it('F5: a text that spells a JSON value, an array or a composite is read piece by piece', async () => {
    expect(await heldRun('k2g', 'text', [`'{"id": "jdoe"}'`, `'(jdoe,5)'`, `'{"jdoe",x}'`, `'jdoe'`, `'{"id": "bob"}'`, `'(bob,5)'`], ['jdoe']))
      .toEqual(['{"id": "jdoe"}', '(jdoe,5)', '{"jdoe",x}', 'jdoe']);
  });

  it('F6: a jsonb value nested 12,000 deep is held while a subject hold is open, and the run completes', async () => {
    const deep = `(repeat('[', 12000) || '"x"' || repeat(']', 12000))::jsonb`;
    expect((await heldRun('k2h', 'jsonb', [deep, `'"bob"'`, `'"jdoe"'`], ['jdoe'])).length).toBe(2);
    expect(await q(`select status from retention.runs where policy_name = 'k2h'`)).toEqual([{ status: 'completed' }]);
    // Without a subject hold it goes as any other row.
    await db.call(`call retention.run('k2h')`);
    expect(await q(`select count(*)::int as n from k2h.t`)).toEqual([{ n: 0 }]);
  });

  it('F7: 64 kB bytea values are not read as UTF-16 (no held id is that long); 16 kB ones are', async () => {
    const [{ big, mid }] = await q(`select cardinality(retention_internal._bytea_texts(decode(repeat('4e67', 16384), 'hex'))) as big,
                                           cardinality(retention_internal._bytea_texts(decode(repeat('4e67', 4096), 'hex'))) as mid`) as [{ big: number; mid: number }];
    expect([big, mid]).toEqual([1, 3]);
  });
});

// Attack round atk144, on the fixes above. F1: a held value inside the text of an array or
// a composite (quoted, "" or backslash escaped), or in JSON inside such a text or inside a
// text[] element, a composite's field or a bytea's text. F2: an xml value 17 composites
// down, or under 71 domains (the type walks stopped at 16 and 32). F3 (availability): a
// jsonb row of numbers like 1e131071 made every held run run out of memory (its deep check
// printed it). F4: such numbers cost milliseconds a piece.
describe('held values in texts of pieces, deep types, huge numbers (atk144)', () => {
  it('F1: a held value inside array or composite text, quoted or escaped, and JSON inside pieces', async () => {
    expect(await heldRun('k4a', 'text', [`'{"Doe, John",bob}'`, `'("Doe, John",5)'`, `'(5,"{""id"": ""jdoe""}")'`, `'{"{\\"id\\": \\"jdoe\\"}"}'`, `'{bob,"x y"}'`],
                         ['jdoe', 'Doe, John'])).toHaveLength(4);
    expect(await heldRun('k4b', 'text[]', [`array['{"id": "jdoe"}']`, `array['(jdoe,5)']`, `array['bob']`], ['jdoe'])).toHaveLength(2);
    expect(await heldRun('k4c', 'bytea', [`convert_to('{"id": "jdoe"}', 'UTF8')`, `convert_to('(jdoe,5)', 'UTF8')`, `convert_to('["jdoe","bob"]', 'UTF8')`,
                                           `convert_to('["bob"]', 'UTF8')`], ['jdoe'])).toHaveLength(3);
  });

  it('F2: an xml value 17 composites down, or under 71 domains, holds its rows', async () => {
    await q(`create schema k4t`);
    await q(`create type k4t.c0 as (x xml)`);
    await q(`do $$ begin for i in 1..17 loop execute format('create type k4t.c%s as (f k4t.c%s)', i, i - 1); end loop; end $$`);
    await q(`create domain k4t.d0 as xml`);
    await q(`do $$ begin for i in 1..70 loop execute format('create domain k4t.d%s as k4t.d%s', i, i - 1); end loop; end $$`);
    expect(await q(`select retention_internal._hold_kind('k4t.c17'::regtype) as c, retention_internal._hold_kind('k4t.d70'::regtype) as d`))
      .toEqual([{ c: 'opaque', d: 'opaque' }]);
    expect(await heldRun('k4d', 'k4t.d70', [`'<u>&#106;doe</u>'`, `'<u>bob</u>'`], ['jdoe'], 'who::xml')).toHaveLength(2);
  });

  it('domains deeper than the walk (1,000) over any type: held whole; over a text type: read as text', async () => {
    await q(`create schema k4w`);
    await q(`create domain k4w.i0 as int`);
    await q(`create domain k4w.t0 as text`);
    await q(`do $$ begin for i in 1..1001 loop
               execute format('create domain k4w.i%s as k4w.i%s', i, i - 1);
               execute format('create domain k4w.t%s as k4w.t%s', i, i - 1);
             end loop; end $$`);
    expect(await q(`select retention_internal._hold_kind('k4w.i999'::regtype) as shallow, retention_internal._hold_kind('k4w.i1001'::regtype) as deep,
                           retention_internal._hold_kind('k4w.t1001'::regtype) as txt, retention_internal._json_type('k4w.i1001'::regtype) as js`))
      .toEqual([{ shallow: 'typed', deep: 'opaque', txt: 'text', js: false }]);
    // Under a subject hold on 7 every row of the unread type is kept; of the text one, the held value's.
    expect(await heldRun('k4x', 'k4w.i1001', [`8`, `7`], ['7'])).toHaveLength(2);
    expect(await heldRun('k4y', 'k4w.t1001', [`'bob'`, `'jdoe'`], ['jdoe'])).toHaveLength(1);
  });

  it('F3/F4: numbers like 1e131071 in a jsonb subject column: the held run completes, and such a number is no piece', async () => {
    expect(await heldRun('k4e', 'jsonb', [`(select jsonb_agg('1e131071'::numeric) from generate_series(1, 8200))`, `'[1e131071]'`, `'["jdoe"]'`], ['jdoe']))
      .toEqual(['["jdoe"]']);
    expect(await q(`select retention_internal._json_number_piece('1e131071') as a, retention_internal._json_number_piece('7.000') as b`))
      .toEqual([{ a: null, b: '7' }]);
  });
});
