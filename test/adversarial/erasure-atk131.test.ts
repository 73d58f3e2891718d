// Attack round atk131 (erasure messages, on atk129's fixes):
//  F1 the runs of a dropped policy on her table were out of the erasure's scope: a single
//     word of hers stayed in another user's failed row. The scope takes runs by the table
//     their spec records, as _table_family does.
//  F2 an archive object of her table that failed before its manifest was complete (no
//     tables recorded) and its archive_failed notification were out of scope: her username
//     stayed in the store's answer. Objects are in scope by their tables, policies or runs.
//  F4 the short-word pass took a word of pg-retention's own ('locked') out of another
//     user's failed row: such words stay, as everywhere.
//  F3, F7 her values percent-encoded, with \u escapes, in a row literal with both quotes and
//     a backslash, or a two-line address written on one line, stayed: those are read too.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed } = erasureHelpers(db);

describe('an erasure\'s scope (atk131)', () => {
  it('F1: a dropped policy\'s failed row quoting her one-word username loses it', async () => {
    await q(`create schema t6`);
    await q(`create table t6.users (id bigint primary key, username text, created_at timestamptz not null)`);
    await q(`create function t6.refuse() returns trigger language plpgsql as $$
             begin if old.id = 8 then raise exception 'user % shares a payment card with user %', old.username, (select username from t6.users where id = 7); end if;
                   return old; end $$`);
    await q(`create trigger refuse before delete on t6.users for each row execute function t6.refuse()`);
    await q(`select retention.set_policy('t6.users', 't6.users', 'delete', 'created_at', '1 day')`);
    await q(`insert into t6.users values (7, 'Siobhán🌸', now()), (8, 'otherguy', now() - interval '3 days')`);
    await db.call(`call retention.run('t6.users')`).catch(() => {});
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 't6.users'`;
    expect(await q(failures)).toEqual([{ error: 'user otherguy shares a payment card with user Siobhán🌸' }]);
    await q(`select retention.drop_policy('t6.users')`);
    await q(`drop trigger refuse on t6.users`);
    await q(`select retention.set_erasure_rule('t6.users', 'delete')`);
    const req = await file('t6.users', '7');
    expect(await processed(req)).toBe('completed');
    expect(await q(failures)).toEqual([{ error: 'user otherguy shares a payment card with user [erased]' }]);
  });

  it('F2: a failed archive object of her table and its notification lose her username', async () => {
    await q(`create schema t5`);
    await q(`create table t5.users (id bigint primary key, username text, created_at timestamptz not null)`);
    await q(`insert into t5.users values (7, 'shivbhraonain', now()), (8, 'otherguy', now() - interval '3 days')`);
    await q(`select retention.set_policy('t5.users', 't5.users', 'delete', 'created_at', '1 day', p_archive => true)`);
    await db.call(`call retention.run('t5.users')`);
    const obj = (await q(`select object_id from retention.archive_claim('file:///t5', 10)`))[0]!.object_id;
    const answer = 'PUT archive/t5.users/obj: 403 Forbidden: object metadata x-amz-meta-owner=shivbhraonain rejected by bucket policy';
    await q(`select retention.archive_abandon($1, $2)`, [obj, answer]);
    await q(`select retention.set_erasure_rule('t5.users', 'delete')`);
    const req = await file('t5.users', '7');
    expect(await processed(req)).toBe('completed');
    const erased = answer.replace('shivbhraonain', '[erased]');
    expect(await q(`select error from retention.archive_objects where object_id = $1`, [obj])).toEqual([{ error: erased }]);
    expect(await q(`select payload ->> 'error' as error from retention.notifications where kind = 'archive_failed' and payload ->> 'object_id' = $1::text`, [obj]))
      .toEqual([{ error: erased }]);
  });

  it('F4: a word of pg-retention\'s own stays in another user\'s failed row', async () => {
    await q(`create schema t2`);
    await q(`create table t2.users (id bigint primary key, name text, status text, created_at timestamptz not null)`);
    await q(`create function t2.refuse() returns trigger language plpgsql as $$
             begin if old.id = 8 then raise exception 'user % is under review: account locked by billing; refund pending', old.id; end if; return old; end $$`);
    await q(`create trigger refuse before delete on t2.users for each row execute function t2.refuse()`);
    await q(`select retention.set_policy('t2.users', 't2.users', 'delete', 'created_at', '1 day')`);
    await q(`insert into t2.users values (7, 'Siobhan Brannigan', 'locked', now()), (9, 'Third Person', 'active', now()),
                                         (8, 'Other Guy', 'active', now() - interval '3 days')`);
    await db.call(`call retention.run('t2.users')`).catch(() => {});
    await q(`drop trigger refuse on t2.users`);
    await q(`select retention.set_erasure_rule('t2.users', 'delete')`);
    const req = await file('t2.users', '7');
    expect(await processed(req)).toBe('completed');
    expect(await q(`select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 't2.users'`))
      .toEqual([{ error: 'user 8 is under review: account locked by billing; refund pending' }]);
  });

  it('F3, F7: her values percent-encoded, JSON-escaped, in a row literal with a backslash, or on one line, go', async () => {
    await q(`create schema t3`);
    await q(`create table t3.users (id bigint primary key, name text, email text, sig text, address text, created_at timestamptz not null)`);
    await q(`insert into t3.users values (7, 'Siobhán Ní Bhraonáin', 'siobhan.nibhraonain@example.org', E'Shiv \\\\ "the Quill" Bhraonáin',
                                          E'14 Rathmines Terrace\\nDublin 6', now())`);
    await q(`create function t3.refuse() returns trigger language plpgsql as $$
             declare s t3.users; begin
               select * into s from t3.users where id = 7;
               if old.id = 11 then raise exception 'cannot purge: duplicate of %', row(s.id, s.sig)::text; end if;
               if old.id = 12 then raise exception 'crm said 404 for GET /contacts?email=%', replace(s.email, '@', '%40'); end if;
               if old.id = 14 then raise exception 'crm said 409: {"name": "%"}', replace(replace(s.name, 'á', '\\u00e1'), 'í', '\\u00ed'); end if;
               if old.id = 15 then raise exception 'crm said 422: address "%" does not validate', replace(s.address, E'\\n', ' '); end if;
               return old; end $$`);
    await q(`create trigger refuse before delete on t3.users for each row execute function t3.refuse()`);
    await q(`select retention.set_policy('t3.users', 't3.users', 'delete', 'created_at', '1 day')`);
    await q(`insert into t3.users select g, 'Other ' || g, 'o' || g || '@example.net', null, null, now() - interval '3 days' from unnest(array[11, 12, 14, 15]) g`);
    await db.call(`call retention.run('t3.users')`).catch(() => {});
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 't3.users' order by f.row_key::text`;
    const before = (await q(failures)).map((r) => r.error as string);
    expect(before).toHaveLength(4);
    expect(before.join('\n')).toMatch(/siobhan.nibhraonain%40example.org/);
    await q(`drop trigger refuse on t3.users`);
    await q(`update t3.users set created_at = now() where id <> 7`);
    await q(`select retention.set_erasure_rule('t3.users', 'delete')`);
    const req = await file('t3.users', '7');
    expect(await processed(req)).toBe('completed');
    const after = (await q(failures)).map((r) => r.error as string).join('\n');
    expect(after).not.toMatch(/nibhraonain|Bhraon|Quill|Rathmines/i);
    expect(after).toMatch(/\[erased\]/);
  });
});
