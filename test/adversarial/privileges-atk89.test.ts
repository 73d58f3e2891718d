// Attack round atk89 (privileges), each finding a test: the worker's claim of object
// deletions (claim_object_deletions) read every table registered under the target as the
// retention owner, checking neither what the planner would run nor that the table was
// still a table.
//  F1 a partial index of the table's owner calling its IMMUTABLE function: the function
//     ran as the owner and made its role superuser; so too on an inheritance child added
//     later, which the read reached;
//  F2 the registered table turned into a view (PostgreSQL 15: a _RETURN rule): the view's
//     query ran as the owner;
//  and, found while fixing them, the column retyped to the application's type, whose cast
//     to text is the application's function.
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

const roleOf = async (c: pg.Client) => (await c.query<{ r: string }>(`select current_user as r`)).rows[0]!.r;
const superuser = async (role: string) => (await q<{ s: boolean }>(`select rolsuper as s from pg_roles where rolname = $1`, [role]))[0]!.s;

let n = 0;
let app: pg.Client;
let appRole: string;
let arch: pg.Client;
let schema: string;

/** The application's table of avatars, registered under target `t`, five rows deleted by a
 * run: five object deletions pending for the archiver's claim. */
beforeEach(async () => {
  n += 1;
  app = await login(`a${n}app`);
  appRole = await roleOf(app);
  arch = await login(`a${n}arch`, 'retention_archiver');
  schema = `atk89_${n}`;
  await q(`create schema ${schema} authorization ${appRole}`);
  await app.query(`create table ${schema}.avatars (id int primary key, created_at timestamptz not null, url text)`);
  await app.query(`insert into ${schema}.avatars select g, now() - interval '30 days', 'avatars/u' || g || '.png' from generate_series(1, 5) g`);
  await app.query(`insert into ${schema}.avatars select g, now(), 'avatars/u' || g || '.png' from generate_series(6, 7) g`);
  await q(`select retention.set_policy('atk89-${n}', '${schema}.avatars', 'delete', 'created_at', p_retain => '7 days')`);
  await q(`select retention.set_object_column('${schema}.avatars', 'url', 't${n}')`);
  await db.call(`call retention.run('atk89-${n}')`);
  expect(await count(db, `retention.object_deletions where target = 't${n}' and status = 'pending'`)).toBe(5);
  await app.query(`create function ${schema}.evil() returns boolean language plpgsql volatile as $$
                     begin
                       if (select rolsuper from pg_roles where rolname = current_user) then
                         execute format('alter role %I superuser', '${appRole}');
                       end if;
                       return true;
                     end $$`);
  await app.query(`create function ${schema}.boom(int) returns boolean language plpgsql immutable as $$ begin return ${schema}.evil(); end $$`);
});

/** The claim is refused with `code`; the role is no superuser and nothing was claimed. */
async function refused(code: string, message: RegExp) {
  const err = await arch.query(`select * from retention.claim_object_deletions(array['t${n}'])`).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as { code?: string }).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  expect(await superuser(appRole)).toBe(false);
  expect(await count(db, `retention.object_deletions where target = 't${n}' and status = 'pending' and attempts = 0`)).toBe(5);
}

describe('the object claim reads only what set_object_column would register (atk89)', () => {
  it('F1: a partial index calling the application\'s IMMUTABLE function is refused (RT025), the function never run', async () => {
    await app.query(`create index on ${schema}.avatars (id) where ${schema}.boom(1)`);
    await refused('RT025', /planning a statement on it would run another role's code/);
    // Without the index the claim goes through.
    await app.query(`drop index ${schema}.avatars_id_idx`);
    const rows = (await arch.query(`select * from retention.claim_object_deletions(array['t${n}'])`)).rows;
    expect(rows).toHaveLength(5);
  });

  it('F1: an inheritance child added later is refused (RT020), its partial index never planned', async () => {
    await app.query(`create table ${schema}.kid (extra int) inherits (${schema}.avatars)`);
    await app.query(`create index on ${schema}.kid (id) where ${schema}.boom(1)`);
    await refused('RT020', /kid below it is an inheritance child/);
  });

  it('a column retyped to the application\'s type, with its own cast to text, is refused (RT020)', async () => {
    await app.query(`create type ${schema}.ref as (v text)`);
    await app.query(`create function ${schema}.ref_text(${schema}.ref) returns text language plpgsql as $$
                       begin perform ${schema}.evil(); return ($1).v; end $$`);
    await app.query(`create cast (${schema}.ref as text) with function ${schema}.ref_text(${schema}.ref)`);
    for (const t of (await q<{ tgname: string }>(`select tgname from pg_trigger where tgrelid = '${schema}.avatars'::regclass and not tgisinternal`))) {
      await app.query(`drop trigger ${t.tgname} on ${schema}.avatars`);
    }
    await app.query(`alter table ${schema}.avatars alter column url type ${schema}.ref using row(url)::${schema}.ref`);
    await refused('RT020', /it is atk89_\d+\.ref now, not text/);
  });

  it('F2: a registered table turned into a view is refused (RT013), its query never run', async () => {
    for (const t of (await q<{ tgname: string }>(`select tgname from pg_trigger where tgrelid = '${schema}.avatars'::regclass and not tgisinternal`))) {
      await app.query(`drop trigger ${t.tgname} on ${schema}.avatars`);
    }
    await app.query(`alter table ${schema}.avatars drop constraint avatars_pkey`);
    await app.query(`delete from ${schema}.avatars`);
    await app.query(`vacuum ${schema}.avatars`);
    const made = await app.query(`create rule "_RETURN" as on select to ${schema}.avatars do instead
                                    select 1 as id, now() as created_at, ${schema}.evil()::text as url`).then(() => 'view', (e: { code?: string }) => e.code);
    if (made !== 'view') {
      // PostgreSQL 16 and later no longer turn a table into a view.
      expect(made).toBe('42809');
      return;
    }
    await refused('RT013', /it is no longer a table \(relkind v\)/);
  });
});
