// Attack round atk137 (left at stop 49): readers that answer by the session login's rights
// (erasure_requests_as_of: every request for an admin; export_subject: the person's rows of
// every table the login may read) answered the application's code running in an admin's
// session — an index expression, a trigger, a SECURITY DEFINER function of the
// application's that the admin called — which copied what they gave into its own tables.
// They refuse another role's code now (42501), and a statement that does not name them
// (a view of the application's, atk143 F1); the login's own functions and DO blocks, and
// statements of its own, are answered as before.
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const { login, tag } = useLogins(db);
const q = db.q;

const failure = (p: Promise<unknown>) => p.then(() => null, (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }));

describe('readers and another role\'s code in the session (atk137)', () => {
  it('erasure_requests_as_of and export_subject refuse the application\'s function, trigger and index expression run in an admin\'s session; the admin\'s own calls are answered', async () => {
    const app = await login('r7app', 'retention_requester');
    const adm = await login('r7adm', 'retention_admin');
    const appRole = `r7app_${tag}`;
    await q(`create schema r7 authorization ${appRole}`);
    await q(`grant usage on schema r7 to r7adm_${tag}`);
    await app.query(`create table r7.users (id int primary key, email text)`);
    await app.query(`create table r7.loot (what text, got text)`);
    await app.query(`insert into r7.users values (1, 'ann@example.org'), (2, 'bob@example.org')`);
    await app.query(`grant select, insert, delete on r7.users, r7.loot to r7adm_${tag}`);
    // A request the admin files, with the requester's address in it.
    await adm.query(`select retention.request_erasure('r7.users', '2', 'grace.hopper@navy.mil')`);
    // The application's ways into the admin's session.
    await app.query(`create function r7.grab() returns text language plpgsql security definer set search_path = pg_catalog as $$
                       begin
                         insert into r7.loot select 'requests', string_agg(requested_by, ',') from retention.erasure_requests_as_of();
                         insert into r7.loot select 'export', retention.export_subject('r7.users', '1')::text;
                         return 'x';
                       end $$`);
    await app.query(`create function r7.grab_list() returns text language plpgsql security definer set search_path = pg_catalog as $$
                       begin insert into r7.loot select 'view', string_agg(requested_by, ',') from retention.erasure_overview; return 'x'; end $$`);
    await app.query(`create function r7.on_delete() returns trigger language plpgsql as $$
                       begin perform r7.grab_list(); insert into r7.loot select 'trigger', string_agg(requested_by, ',') from retention.erasure_requests_as_of(); return old; end $$`);
    await app.query(`create trigger spy before delete on r7.users for each row execute function r7.on_delete()`);
    await app.query(`grant execute on function r7.grab(), r7.grab_list() to r7adm_${tag}`);
    const auditBefore = await count(db, 'retention.audit_log');
    // A function the admin calls.
    expect(await failure(adm.query(`select r7.grab()`))).toMatchObject({ code: '42501', message: expect.stringMatching(/cannot read erasure requests from inside another role's code \(PL\/pgSQL function r7\.grab\(\)/) });
    // A view read from the application's function.
    expect(await failure(adm.query(`select r7.grab_list()`))).toMatchObject({ code: '42501' });
    // A trigger the admin's delete fires (running as the admin: the function is the application's).
    expect(await failure(adm.query(`delete from r7.users where id = 1`))).toMatchObject({ code: '42501' });
    // The export alone, from the application's function running as the admin (not the
    // application's right: it is an admin's; its audit entry would name the admin).
    await app.query(`create function r7.grab_export() returns text language plpgsql set search_path = pg_catalog as $$
                       begin insert into r7.loot select 'export', retention.export_subject('r7.users', '1')::text; return 'x'; end $$`);
    await app.query(`grant execute on function r7.grab_export() to r7adm_${tag}`);
    expect(await failure(adm.query(`select r7.grab_export()`))).toMatchObject({ code: '42501', message: expect.stringMatching(/cannot export a person's data from inside another role's code/) });
    // A view of the application's (atk143 F1): no frame while the reader runs; each row it
    // reads goes to the application's function after the reader returns.
    await app.query(`create function r7.keep(w text, v text) returns boolean language plpgsql volatile security definer as $$
                       begin insert into r7.loot values (w, v); return true; end $$`);
    await app.query(`create view r7.dashboard as select count(*) as n from retention.erasure_requests_as_of(now()) r where r7.keep('request', r::text)`);
    await app.query(`create view r7.card as select u.id, r7.keep('export', retention.export_subject('r7.users', u.id::text)::text) as ok from r7.users u where u.id = 1`);
    await app.query(`grant select on r7.dashboard, r7.card to r7adm_${tag}`);
    expect(await failure(adm.query(`select * from r7.dashboard`))).toMatchObject({ code: '42501', message: expect.stringMatching(/a statement that does not name retention.erasure_requests_as_of/) });
    expect(await failure(adm.query(`select * from r7.card`))).toMatchObject({ code: '42501' });
    expect(await count(db, 'r7.loot')).toBe(0);
    expect(await count(db, 'r7.users')).toBe(2);
    expect(await count(db, 'retention.audit_log')).toBe(auditBefore);
    // The admin's own statements, a DO block and its own function are answered (the
    // trigger gone: an export refuses a table whose trigger is another role's code, RT025).
    await app.query(`drop trigger spy on r7.users`);
    expect((await adm.query(`select requested_by from retention.erasure_requests_as_of()`)).rows).toEqual([{ requested_by: 'grace.hopper@navy.mil' }]);
    expect((await adm.query(`select requested_by from retention.erasure_overview`)).rows).toEqual([{ requested_by: 'grace.hopper@navy.mil' }]);
    await adm.query(`create temp table seen (n int)`);
    await adm.query(`do $$ begin insert into seen select count(*) from retention.erasure_requests_as_of(); end $$`);
    expect((await adm.query(`select n from seen`)).rows).toEqual([{ n: 1 }]);
    await q(`create schema r7own authorization r7adm_${tag}`);
    await adm.query(`create function r7own.mine() returns bigint language plpgsql as $$ begin return (select count(*) from retention.erasure_requests_as_of()); end $$`);
    expect((await adm.query(`select r7own.mine() as n`)).rows).toEqual([{ n: '1' }]);
    expect((await adm.query(`select json_typeof(retention.export_subject('r7.users', '1')) as t`)).rows).toEqual([{ t: 'object' }]);
    // atk145: a DO block of the admin's reading the application's view is refused (F1); a
    // function of the application's named like a catalog function is not the admin's (F3);
    // the admin's own function on the search path (F2), a prepared statement and a cursor
    // (psql's FETCH_COUNT) are answered (F4).
    expect(await failure(adm.query(`do $$ begin perform count(*) from r7.dashboard; end $$`))).toMatchObject({ code: '42501' });
    await app.query(`create function r7.lower(text) returns text language plpgsql security definer set search_path = r7, pg_catalog as $$
                       begin insert into r7.loot select 'lower', string_agg(requested_by, ',') from retention.erasure_requests_as_of(); return $1; end $$`);
    await app.query(`create view r7.names as select r7.lower('x') as n`);
    await app.query(`grant select on r7.names to r7adm_${tag}`);
    await app.query(`grant execute on function r7.lower(text) to r7adm_${tag}`);
    expect(await failure(adm.query(`select * from r7.names`))).toMatchObject({ code: '42501' });
    expect(await count(db, 'r7.loot')).toBe(0);
    await q(`grant create on schema public to r7adm_${tag}`);
    await adm.query(`create function public.r7_open_requests_${tag}() returns bigint language plpgsql as $$ begin return (select count(*) from retention.erasure_requests_as_of()); end $$`);
    expect((await adm.query(`select public.r7_open_requests_${tag}() as n`)).rows).toEqual([{ n: '1' }]);
    await adm.query(`drop function public.r7_open_requests_${tag}()`);
    await q(`revoke create on schema public from r7adm_${tag}`);
    await adm.query(`prepare r7p as select count(*)::int as n from retention.erasure_requests_as_of()`);
    expect((await adm.query(`execute r7p`)).rows).toEqual([{ n: 1 }]);
    await adm.query(`begin`);
    await adm.query(`declare r7c cursor for select requested_by from retention.erasure_overview`);
    expect((await adm.query(`fetch 10 from r7c`)).rows).toEqual([{ requested_by: 'grace.hopper@navy.mil' }]);
    await adm.query(`commit`);
    // A NULL moment is now (atk145 F5).
    expect((await adm.query(`select overdue from retention.erasure_requests_as_of(null)`)).rows).toEqual([{ overdue: false }]);
    // The application's own function in its own session sees what the application filed: nothing.
    await app.query(`create function r7.mine() returns bigint language plpgsql as $$ begin return (select count(*) from retention.erasure_requests_as_of()); end $$`);
    expect((await app.query(`select r7.mine() as n`)).rows).toEqual([{ n: '0' }]);
  });
});
