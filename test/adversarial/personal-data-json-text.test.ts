// Left open since stop 39: a JSON text stored inside a JSON string (an API payload kept as
// received: {"payload": "{\"email\": \"…\"}"}) was taken as one piece by the erasure. A run's
// error quoting the address inside stayed after her erasure completed; a reference naming
// it was accepted; a hold on it placed in that spelling kept nothing.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed, mentions } = erasureHelpers(db);

describe('JSON text inside a JSON string', () => {
  it('its strings and numbers are the person\'s values: erased from messages, refused in a reference', async () => {
    await q(`create schema jt`);
    await q(`create table jt.users (id bigint primary key, name text, raw jsonb)`);
    await q(`insert into jt.users values
               (7, 'Niamh', jsonb_build_object('source', 'signup-api', 'payload', '{"contact": {"email": "niamh.k@example.ie", "phone": 353871234567, "passport": "PX9981234"}}')),
               (8, 'Other', jsonb_build_object('payload', '{not json: "niamh.k@example.ie"'))`);
    await q(`create table jt.notes (id bigint primary key, user_id bigint references jt.users on delete cascade, created_at timestamptz not null)`);
    await q(`insert into jt.notes values (1, 7, now() - interval '400 days')`);
    await q(`create function jt.keep() returns trigger language plpgsql as $f$
             begin raise exception 'contact niamh.k@example.ie about 353871234567, passport PX9981234, first' using errcode = '54000'; end $f$`);
    await q(`create trigger keep before delete on jt.notes for each row execute function jt.keep()`);
    await q(`select retention.set_policy('jt.notes', 'jt.notes', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'user_id')`);
    await db.call(`call retention.run('jt.notes')`).catch(() => {});
    expect(await count(db, `retention.runs where error like '%niamh.k@example.ie%'`)).toBe(1);
    await q(`drop trigger keep on jt.notes`);
    expect(await sqlState(q(`select retention.request_erasure('jt.users', '7', 'privacy desk', p_reference => 'passport PX9981234')`))).toBe('RT029');
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('jt.users', '7'))).toBe('completed');
    for (const v of ['niamh.k@example.ie', '353871234567', 'PX9981234']) expect(await mentions(v), v).toEqual([]);
    // The other row's text is no JSON: it stays as it is, and so does the row.
    expect(await count(db, `jt.users where id = 8`)).toBe(1);
  });

  it('a subject hold keeps a row whose subject column holds the id inside a JSON text', async () => {
    await q(`create schema jh`);
    await q(`create table jh.ev (id int primary key, who jsonb, created_at timestamptz not null default now() - interval '400 days')`);
    await q(`insert into jh.ev values (1, to_jsonb('{"user": "Alice"}'::text)), (2, to_jsonb('{"user": "bob"}'::text))`);
    await q(`select retention.set_policy('jh.ev', 'jh.ev', 'delete', 'created_at', '30 days', p_subject_column => 'who')`);
    const [{ hold_id: h }] = await q(`select hold_id from retention.place_hold('subject', 'alice', 'litigation')`) as [{ hold_id: number }];
    await db.call(`call retention.run('jh.ev')`);
    expect(await q(`select id from jh.ev`)).toEqual([{ id: 1 }]);
    await q(`select retention.release_hold($1, 'done')`, [h]);
  });
});
