// Attack round atk149. F1 (major): on FETCH or EXECUTE the reader check compared every
// cursor and prepared statement of the session, and the application's code can open one:
// a cursor of its own naming erasure_requests_as_of let the admin's FETCH over the
// application's view be answered (every request copied). Now only the cursor or prepared
// statement the client's statement names counts (_client_statements). F2 (minor): a
// decision sent through a cursor (psql's FETCH_COUNT) or EXECUTE was refused; it is
// judged by that cursor's or statement's text now. F4: a decision or a reader run with no
// client statement at all (current_query() NULL: a logical replication apply) is refused.
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const { login, tag } = useLogins(db);
const q = db.q;

const failure = (p: Promise<unknown>) => p.then(() => null, (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }));

describe('cursors and prepared statements (atk149)', () => {
  it('F1: a cursor the application opened does not make the admin\'s FETCH over its view an answer; F2: the admin\'s own cursors and prepared statements are', async () => {
    const app = await login('b9app', 'retention_requester');
    const adm = await login('b9adm', 'retention_admin');
    await q(`create schema b9 authorization b9app_${tag}`);
    await q(`grant usage on schema b9 to b9adm_${tag}`);
    await app.query(`create table b9.users (id int primary key, email text)`);
    await app.query(`insert into b9.users values (1, 'ann@example.org'), (2, 'bob@example.org')`);
    await app.query(`grant select, delete on b9.users to b9adm_${tag}`);
    await adm.query(`select retention.request_erasure('b9.users', '2', 'grace.hopper@navy.mil')`);
    await app.query(`create table b9.loot (what text)`);
    await app.query(`create function b9.keep(v text) returns boolean language plpgsql volatile security definer as $$
                       begin insert into b9.loot values (v); return true; end $$`);
    // The application's function, called by the admin, leaves a cursor naming the reader open.
    await app.query(`create function b9.plant() returns void language plpgsql as $$
                       declare c refcursor := 'planted'; begin open c for select 1 from retention.erasure_requests_as_of(now()) where false; end $$`);
    await app.query(`create view b9.board as select r.request_id from retention.erasure_requests_as_of(now()) r where b9.keep(r.requested_by)`);
    await app.query(`grant select on b9.board to b9adm_${tag}`);
    await app.query(`grant execute on function b9.plant() to b9adm_${tag}`);
    await adm.query('begin');
    await adm.query(`select b9.plant()`);
    await adm.query(`declare mine cursor for select * from b9.board`);
    expect(await failure(adm.query(`fetch all from mine`))).toMatchObject({ code: '42501' });
    await adm.query('rollback');
    // A prepared statement of the admin's own that names the reader does not answer another's EXECUTE.
    await adm.query(`prepare own as select count(*) from retention.erasure_requests_as_of(now())`);
    await adm.query(`prepare other as select * from b9.board`);
    expect(await failure(adm.query(`execute other`))).toMatchObject({ code: '42501' });
    expect(await count(db, 'b9.loot')).toBe(0);
    // The admin's own: EXECUTE of the statement that names it, a cursor over it, a decision through a cursor.
    expect((await adm.query(`execute own`)).rows).toEqual([{ count: '1' }]);
    await adm.query('begin');
    await adm.query(`declare _psql_cursor no scroll cursor for select hold_id from retention.place_hold('subject', '77', 'case b9')`);
    expect((await adm.query(`fetch forward 100 from _psql_cursor`)).rows).toHaveLength(1);
    await adm.query(`declare "Odd ""name""" cursor for select requested_by from retention.erasure_requests_as_of(now())`);
    expect((await adm.query(`fetch all in "Odd ""name"""`)).rows).toEqual([{ requested_by: 'grace.hopper@navy.mil' }]);
    await adm.query('commit');
    await adm.query(`prepare hold as select hold_id from retention.place_hold('subject', '78', 'case b9')`);
    expect((await adm.query(`execute hold`)).rows).toHaveLength(1);
    expect(await count(db, `retention.legal_holds where reason = 'case b9'`)).toBe(2);
  });
});
