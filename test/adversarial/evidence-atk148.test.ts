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
