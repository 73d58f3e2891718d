// Attack round atk148 F3 (critical): the application's view, read by an admin, called
// routines the decision guard (_check_called_directly) did not cover: it dropped an
// object column (files of deleted people stayed in storage) and a backup policy, and the
// audit log said the admin did. Every routine that makes a decision or records evidence
// in the login's name is guarded now: object columns, backup policies, proposals,
// erasure processing, checkpoints, the archiver's and the object deleter's records, the
// retry and requeue commands. Their own callers (a statement naming them, the engine's
// procedures) are answered as before.
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const { login, tag } = useLogins(db);
const q = db.q;

const failure = (p: Promise<unknown>) => p.then(() => null, (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }));

describe('decisions and records in an admin\'s name from the application\'s code (atk148 F3)', () => {
  it('a view of the application\'s that drops an object column or a backup policy, proposes, or records a checkpoint is refused; the admin\'s own statements are answered', async () => {
    const app = await login('a8app', 'retention_requester');
    const adm = await login('a8adm', 'retention_admin');
    const appRole = `a8app_${tag}`;
    await q(`create schema a8 authorization ${appRole}`);
    await q(`grant usage on schema a8 to a8adm_${tag}`);
    await app.query(`create table a8.docs (id int primary key, file_key text, created_at timestamptz not null default now())`);
    await q(`select retention.set_object_column('a8.docs', 'file_key', 'files')`);
    await q(`select retention.set_backup_policy('main', 'main', p_reason => 'dailies 30 days')`);
    await q(`select retention.set_policy('a8.docs', 'a8.docs', 'delete', 'created_at', '1 year', p_approval => 'required')`);
    const [head] = await q(`select audit_id, row_hash from retention.audit_log order by audit_id desc limit 1`);
    const auditBefore = await count(db, 'retention.audit_log');
    for (const [name, call] of [
      ['drop_column', `retention.drop_object_column('a8.docs', 'file_key')`],
      ['set_column', `retention.set_object_column('a8.docs', 'file_key', 'other')`],
      ['drop_backups', `retention.drop_backup_policy('main')`],
      ['propose', `retention.propose('a8.docs')`],
      ['checkpoint', `retention.record_checkpoint(${head!.audit_id}, '\\x${Buffer.from(head!.row_hash as Uint8Array).toString('hex')}'::bytea, now(), 'k', '\\x00'::bytea)`],
    ] as const) {
      await app.query(`create function a8.${name}() returns text language plpgsql as $$ begin perform ${call}; return 'x'; end $$`);
      await app.query(`create view a8.${name}_view as select a8.${name}() as x`);
      await app.query(`grant select on a8.${name}_view to a8adm_${tag}`);
      expect(await failure(adm.query(`select * from a8.${name}_view`)), name).toMatchObject({ code: '42501', message: expect.stringMatching(/from inside|a statement that does not call/) });
    }
    expect(await count(db, 'retention.object_columns')).toBe(1);
    expect(await count(db, `retention.backup_policies where name = 'main'`)).toBe(1);
    expect(await count(db, 'retention.proposals')).toBe(0);
    expect(await count(db, 'retention.audit_log')).toBe(auditBefore);
    // The admin's own statements are answered.
    await adm.query(`select retention.drop_backup_policy('main')`);
    expect(await count(db, `retention.backup_policies where name = 'main'`)).toBe(0);
    expect(await q(`select actor is not null as a, db_user from retention.audit_log where action = 'backup_policy.dropped'`)).toEqual([{ a: true, db_user: `a8adm_${tag}` }]);
  });
});

// F1 (major): a rule on the application's table read erasure_requests_as_of (or
// export_subject) when the admin's own function wrote a row to the table: the login's own
// function on the stack exempted the whole call. The own function nearest the reader must
// name it in the statement it runs now; a rule or a view in that statement leaves no frame.
describe('a rule read through the admin\'s own function (atk148 F1)', () => {
  it('is refused; the admin\'s own function that names the reader is answered', async () => {
    const app = await login('a9app', 'retention_requester');
    const adm = await login('a9adm', 'retention_admin');
    const appRole = `a9app_${tag}`;
    await q(`create schema a9 authorization ${appRole}`);
    await q(`grant usage on schema a9 to a9adm_${tag}`);
    await app.query(`create table a9.users (id int primary key, email text)`);
    await app.query(`insert into a9.users values (1, 'ann@example.org'), (2, 'bob@example.org')`);
    await app.query(`grant select, delete on a9.users to a9adm_${tag}`);
    await adm.query(`select retention.request_erasure('a9.users', '2', 'grace.hopper@navy.mil')`);
    await app.query(`create table a9.events (what text)`);
    await app.query(`create table a9.stolen (what text)`);
    await app.query(`grant insert on a9.events to a9adm_${tag}`);
    await app.query(`create rule leak as on insert to a9.events do also
                       insert into a9.stolen select r.requested_by from retention.erasure_requests_as_of(now()) r`);
    await app.query(`create view a9.board as select r.requested_by from retention.erasure_requests_as_of(now()) r`);
    await app.query(`grant select on a9.board to a9adm_${tag}`);
    await q(`create schema a9own authorization a9adm_${tag}`);
    await adm.query(`create function a9own.note(t text) returns void language plpgsql as $$ begin insert into a9.events values (t); end $$`);
    await adm.query(`create function a9own.board() returns bigint language plpgsql as $$ begin return (select count(*) from a9.board); end $$`);
    await adm.query(`create function a9own.mine() returns bigint language plpgsql as $$ begin return (select count(*) from retention.erasure_requests_as_of()); end $$`);
    expect(await failure(adm.query(`select a9own.note('x')`))).toMatchObject({ code: '42501', message: expect.stringMatching(/does not name retention\.erasure_requests_as_of/) });
    expect(await failure(adm.query(`select a9own.board()`))).toMatchObject({ code: '42501' });
    expect(await count(db, 'a9.stolen')).toBe(0);
    expect(await count(db, 'a9.events')).toBe(0);
    expect((await adm.query(`select a9own.mine() as n`)).rows).toEqual([{ n: '1' }]);
  });
});
