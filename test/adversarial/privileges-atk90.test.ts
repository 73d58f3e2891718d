// Attack round atk90 (privileges), each finding a test: an application role that owns its
// tables became superuser through code the retention owner ran for it.
//  F1  the planner check counted only calls with no column anywhere among their arguments:
//      app.evil(coalesce(1, id)) in a partial index folds to app.evil(1) (F1), and an
//      IMMUTABLE SQL function wrap(id) inlines to a body that calls app.evil(1) (F1b); runs,
//      request_erasure (F1c: the application's own login in retention_requester) and the
//      object claim (F1d) ran it;
//  F2  place_hold's scan for the subject read tables with no planner check at all;
//  F3  archive restore (for inspection) made its tables LIKE the originals, so a column the
//      application retyped to its domain ran the domain's CHECK as the login restoring;
//      and it restored into a schema and table the application had made, with a trigger.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { objectRecord, offload, readObject, restore } from '../../runner/archive/archive.ts';
import { parseKeyRing } from '../../runner/archive/envelope.ts';
import { storageTarget } from '../../runner/archive/storage.ts';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

const roleOf = async (c: pg.Client) => (await c.query<{ r: string }>(`select current_user as r`)).rows[0]!.r;
const superuser = async (role: string) => (await q<{ s: boolean }>(`select rolsuper as s from pg_roles where rolname = $1`, [role]))[0]!.s;

/** The application's login, a schema it owns, and its function that makes it superuser
 * when a superuser runs it (evil: IMMUTABLE, as an index needs). */
async function app(name: string): Promise<{ c: pg.Client; role: string; s: string }> {
  const c = await login(name);
  const role = await roleOf(c);
  const s = `${name}_s`;
  await q(`create schema ${s} authorization ${role}`);
  await c.query(`create function ${s}.esc() returns boolean language plpgsql volatile as $$
                   begin
                     if (select rolsuper from pg_roles where rolname = current_user) then
                       execute format('alter role %I superuser', '${role}');
                     end if;
                     return true;
                   end $$`);
  await c.query(`create function ${s}.evil(int) returns boolean language plpgsql immutable as $$ begin return ${s}.esc(); end $$`);
  return { c, role, s };
}

describe('what the planner runs, however the call is spelt (atk90 F1)', () => {
  it('F1, F1b: a column folded away (coalesce) or an inlined SQL function is refused (RT025) by runs and previews; the function never runs', async () => {
    const { c, role, s } = await app('f1');
    await c.query(`create table ${s}.t (id int primary key, created_at timestamptz not null default now() - interval '400 days')`);
    await c.query(`insert into ${s}.t select g from generate_series(1, 10) g`);
    await c.query(`grant usage on schema ${s} to public`);
    await c.query(`grant select, delete on ${s}.t to public`);
    await q(`select retention.set_policy('${s}.t', '${s}.t', 'delete', 'created_at', interval '30 days')`);
    await c.query(`create function ${s}.wrap(int) returns boolean language sql immutable as $$ select ${s}.evil(1) and $1 is not null $$`);
    for (const index of [`(id) where ${s}.evil(coalesce(1, id))`, `(id) where ${s}.wrap(id)`, `((${s}.wrap(id)))`]) {
      await c.query(`create index ix on ${s}.t ${index}`);
      expect(await sqlState(db.call(`call retention.run('${s}.t')`)), index).toBe('RT025');
      expect(await sqlState(q(`select * from retention.preview('${s}.t')`)), index).toBe('RT025');
      expect(await superuser(role), index).toBe(false);
      await c.query(`drop index ${s}.ix`);
    }
    expect(await count(db, `${s}.t`)).toBe(10);
    // The function with the column itself as its argument is not run while planning.
    await c.query(`create function ${s}.ok(int) returns boolean language plpgsql immutable as $$ begin return $1 > 0; end $$`);
    await c.query(`create index ix on ${s}.t (id) where ${s}.ok(id)`);
    await db.call(`call retention.run('${s}.t')`);
    expect(await count(db, `${s}.t`)).toBe(0);
    expect(await superuser(role)).toBe(false);
  });

  it('F1c: the application\'s own login in retention_requester files a request on its table with such an index: refused (RT025)', async () => {
    const { c, role, s } = await app('f1c');
    await q(`grant retention_requester to ${role}`);
    await c.query(`create table ${s}.users (id int primary key, email text)`);
    await c.query(`insert into ${s}.users values (1, 'a@x.example')`);
    await c.query(`create index ix on ${s}.users (id) where ${s}.evil(coalesce(1, id))`);
    expect(await sqlState(c.query(`select retention.request_erasure('${s}.users', '1', 'ticket 1')`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `retention.erasure_requests where subject_table::text = '${s}.users'`)).toBe(0);
  });

  it('F1d: the object claim refuses a registered table with such an index (RT025); the entries stay pending', async () => {
    const { c, role, s } = await app('f1d');
    const arch = await login('f1darch', 'retention_archiver');
    await c.query(`create table ${s}.media (id int primary key, url text, created_at timestamptz not null default now() - interval '400 days')`);
    await c.query(`insert into ${s}.media select g, 'media/' || g || '.mp4' from generate_series(1, 3) g`);
    await q(`select retention.set_policy('${s}.media', '${s}.media', 'delete', 'created_at', interval '30 days')`);
    await q(`select retention.set_object_column('${s}.media', 'url', 'f1d')`);
    await db.call(`call retention.run('${s}.media')`);
    await c.query(`create index ix on ${s}.media (id) where ${s}.evil(coalesce(1, id))`);
    expect(await sqlState(arch.query(`select * from retention.claim_object_deletions(array['f1d'])`))).toBe('RT025');
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `retention.object_deletions where target = 'f1d' and status = 'pending' and attempts = 0`)).toBe(3);
  });
});

describe('place_hold\'s scan for the subject (atk90 F2)', () => {
  it('skips a table whose planning would run another role\'s code: the hold is placed, with a warning, and the function never runs', async () => {
    const { c, role, s } = await app('f2');
    await c.query(`create table ${s}.users (id int primary key, created_at timestamptz not null default now())`);
    await c.query(`insert into ${s}.users values (42)`);
    await c.query(`grant usage on schema ${s} to public`);
    await c.query(`grant select, delete on ${s}.users to public`);
    await q(`select retention.set_policy('${s}.users', '${s}.users', 'delete', 'created_at', interval '30 days', p_subject_column => 'id')`);
    await c.query(`create index ix on ${s}.users (id) where ${s}.evil(1)`);
    const warnings: string[] = [];
    const owner = await db.connect();
    owner.on('notice', (n) => warnings.push(n.message ?? ''));
    try {
      await owner.query(`select retention.place_hold('subject', '42', 'litigation')`);
    } finally {
      await owner.end();
    }
    expect(await superuser(role)).toBe(false);
    expect(warnings.join('\n')).toMatch(/planning a statement on it would run another role's code/);
    expect(await count(db, `retention.legal_holds where subject_id = '42' and released_at is null`)).toBe(1);
  });
});

describe('archive restore for inspection (atk90 F3)', () => {
  async function archived(name: string) {
    const { c, role, s } = await app(name);
    await c.query(`create table ${s}.a (id bigint primary key, note text, created_at timestamptz not null default now() - interval '400 days')`);
    await c.query(`insert into ${s}.a select g, 'n' || g from generate_series(1, 3) g`);
    await c.query(`grant usage on schema ${s} to public`);
    await c.query(`grant select, delete on ${s}.a to public`);
    await q(`select retention.set_policy('${s}.a', '${s}.a', 'delete', 'created_at', interval '30 days', p_archive => true)`);
    await db.call(`call retention.run('${s}.a')`);
    const target = storageTarget(mkdtempSync(path.join(tmpdir(), `retention-${name}-`)));
    const ring = parseKeyRing(`k1:${Buffer.alloc(32, 3).toString('base64')}`);
    const client = await db.connect();
    try {
      await offload(client, target, ring);
    } finally {
      await client.end();
    }
    const [o] = await q(`select object_id from retention.archive_objects order by object_id desc limit 1`);
    return { c, role, s, id: o!.object_id as string, read: async (cl: pg.Client) => readObject(await objectRecord(cl, o!.object_id), target, ring) };
  }

  it('F3: a column retyped to the application\'s domain is restored in its base type: the domain\'s CHECK never runs', async () => {
    const { c, role, s, id, read } = await archived('f3');
    await c.query(`create function ${s}.chk(text) returns boolean language plpgsql volatile as $$ begin return ${s}.esc(); end $$`);
    await c.query(`create domain ${s}.note_t as text check (${s}.chk(value))`);
    await c.query(`alter table ${s}.a alter column note type ${s}.note_t`);
    const client = await db.connect();
    try {
      expect(await restore(client, await read(client), { objects: [id], into: 'f3_restored' })).toEqual({ [`${s}.a`]: 3 });
    } finally {
      await client.end();
    }
    expect(await superuser(role)).toBe(false);
    expect(await q(`select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = 'f3_restored.a'::regclass and attname = 'note'`))
      .toEqual([{ t: 'text' }]);
    expect(await q(`select note from f3_restored.a order by id`)).toEqual([{ note: 'n1' }, { note: 'n2' }, { note: 'n3' }]);
  });

  it('F3b: a schema the application made, or a table of its there with a trigger, is refused; nothing is inserted', async () => {
    const { c, role, s, id, read } = await archived('f3b');
    await q(`create schema f3b_restored authorization ${role}`);
    await c.query(`create table f3b_restored.a (id bigint, note text, created_at timestamptz)`);
    await c.query(`create function ${s}.grab() returns trigger language plpgsql as $$ begin perform ${s}.esc(); return new; end $$`);
    await c.query(`create trigger grab before insert on f3b_restored.a for each row execute function ${s}.grab()`);
    const client = await db.connect();
    try {
      const rows = await read(client);
      await expect(restore(client, rows, { objects: [id], into: 'f3b_restored' })).rejects.toThrow(/refusing to restore into f3b_restored: another role owns it/);
      // The owner's own schema in which the application may create.
      await q(`create schema f3b_open`);
      await q(`grant create, usage on schema f3b_open to ${role}`);
      await expect(restore(client, rows, { objects: [id], into: 'f3b_open' })).rejects.toThrow(new RegExp(`refusing to restore into f3b_open: ${role} may create in it`));
    } finally {
      await client.end();
    }
    expect(await superuser(role)).toBe(false);
    expect(await count(db, `f3b_restored.a`)).toBe(0);
  });
});
