// An owner that is not a superuser (docs/security.md recommends one): `pg-retention
// migrate` run by such a role installs pg-retention in a database it owns, again as an
// upgrade, and a policy run by it deletes, keeps a held row and writes the ledger. Its
// first version failed: handing the two checker-run routines to
// retention_predicate_checker needs, for a role that is not a superuser, membership in it
// and its right to create in retention_internal.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { useTestDatabase } from './support/db.ts';

const db = useTestDatabase();
const q = db.q;
const tag = Math.random().toString(16).slice(2, 8);
const owner = `np_owner_${tag}`;
const dbName = `np_db_${tag}`;
const ownerUrl = (() => {
  const u = new URL(db.url);
  u.username = owner;
  u.password = 'pw';
  u.pathname = `/${dbName}`;
  return u.toString();
})();
const app = `np_app_${tag}`;
const bare = `np_bare_${tag}`;
const bareDb = `np_bare_db_${tag}`;
let client: pg.Client | undefined;
let su: pg.Client | undefined;

afterAll(async () => {
  await client?.end().catch(() => {});
  await su?.end().catch(() => {});
  await q(`drop database if exists ${dbName} with (force)`).catch(() => {});
  await q(`drop owned by ${owner}`).catch(() => {});
  await q(`drop role if exists ${owner}`).catch(() => {});
  await q(`drop role if exists ${app}`).catch(() => {});
  await q(`drop database if exists ${bareDb} with (force)`).catch(() => {});
  await q(`drop owned by ${bare}`).catch(() => {});
  await q(`drop role if exists ${bare}`).catch(() => {});
});

describe('an owner that is not a superuser', () => {
  it('migrates a database of its own, migrates it again, and its runs keep held rows and write the ledger', async () => {
    await q(`create role ${owner} login password 'pw' createrole`);
    await q(`create database ${dbName} owner ${owner}`);
    // pg-retention's roles are the cluster's: another database's install made them, as a
    // superuser. The owner needs to be able to grant them (PostgreSQL 16 and later: ADMIN).
    const roles = (await q(`select rolname from pg_roles where rolname like 'retention\\_%' order by 1`)).map((r) => r.rolname);
    for (const r of roles) await q(`grant ${r} to ${owner} with admin option`);
    const first = await runCli(['migrate'], { url: ownerUrl });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const again = await runCli(['migrate'], { url: ownerUrl });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('schema up to date');

    client = new pg.Client({ connectionString: ownerUrl });
    await client.connect();
    const c = client;
    expect((await c.query(`select rolsuper from pg_roles where rolname = current_user`)).rows).toEqual([{ rolsuper: false }]);
    expect((await c.query(`select distinct nspowner::regrole::text as o from pg_namespace where nspname in ('retention', 'retention_internal')`)).rows)
      .toEqual([{ o: owner }]);
    // The checker role may not create in retention_internal after migrate.
    expect((await c.query(`select has_schema_privilege('retention_predicate_checker', 'retention_internal', 'CREATE') as c`)).rows)
      .toEqual([{ c: false }]);
    await c.query(`create schema app`);
    await c.query(`create table app.users (id int primary key)`);
    await c.query(`create table app.events (id int primary key, user_id int references app.users, created_at timestamptz not null)`);
    await c.query(`insert into app.users select g from generate_series(1, 3) g`);
    await c.query(`insert into app.events select g, 1 + g % 3, now() - interval '2 years' from generate_series(1, 30) g`);
    await c.query(`select retention.set_policy('app.events', 'app.events', 'delete', 'created_at', '1 year',
                                               p_predicate => 'user_id > 0', p_subject_column => 'user_id')`);
    await c.query(`select retention.place_hold('subject', '2', 'case 9')`);
    await c.query(`call retention.run('app.events')`);
    expect((await c.query(`select user_id, count(*)::int as n from app.events group by 1`)).rows).toEqual([{ user_id: 2, n: 10 }]);
    expect((await c.query(`select status, affected::int as n from retention.runs where policy_name = 'app.events'`)).rows)
      .toEqual([{ status: 'completed', n: 20 }]);
    expect((await c.query(`select ok from retention.verify_audit_log()`)).rows).toEqual([{ ok: true }]);
    // An erasure completes, and takes the statistics it may (pg_statistic is a superuser's
    // to read: the completion reads what the owner may, pg_stats).
    await c.query(`create index on app.users ((id * 2))`);
    for (const t of ['app.users', 'app.events', 'retention.erasure_requests', 'retention.subject_tokens']) await c.query(`analyze ${t}`);
    const [{ id: req }] = (await c.query(`select (retention.request_erasure('app.users', '3', 'ticket np')).request_id::int as id`)).rows;
    await c.query(`call retention.process_erasure(${req})`);
    expect((await c.query(`select status from retention.erasure_requests where request_id = $1`, [req])).rows).toEqual([{ status: 'completed' }]);
    expect((await c.query(`select details -> 'analyze_tables' as a, details -> 'statistics_not_refreshed' as s
                             from retention.audit_log where action = 'erasure.completed'`)).rows)
      .toEqual([{ a: ['app.events', 'app.users'], s: null }]);
    expect((await c.query(`select count(*)::int as n from app.users where id = 3`)).rows).toEqual([{ n: 0 }]);
  });

  it('refuses another role\'s type (a cast may come) and function (it may be replaced) it cannot hold still: RT025, nothing deleted', async () => {
    const c = client!;
    const u = new URL(db.url);
    u.pathname = `/${dbName}`;
    su = new pg.Client({ connectionString: u.toString() });
    await su.connect();
    await su.query(`create role ${app} nologin`);
    await su.query(`create schema app2 authorization ${app}`);
    await su.query(`grant usage on schema app2 to ${owner}`);
    await su.query(`set role ${app}`);
    await su.query(`create type app2.state as enum ('open', 'closed')`);
    await su.query(`create function app2.norm(int) returns int language plpgsql immutable as 'begin return $1; end'`);
    await su.query(`reset role`);
    await c.query(`create table app.tickets (id int primary key, st app2.state, created_at timestamptz not null)`);
    await c.query(`insert into app.tickets select g, 'open', now() - interval '2 years' from generate_series(1, 5) g`);
    await c.query(`create table app.marks (id int primary key, created_at timestamptz not null)`);
    await c.query(`create index on app.marks (app2.norm(id))`);
    await c.query(`insert into app.marks select g, now() - interval '2 years' from generate_series(1, 5) g`);
    for (const t of ['tickets', 'marks']) {
      await c.query(`select retention.set_policy('app.${t}', 'app.${t}', 'delete', 'created_at', '1 year')`);
    }
    const e1 = await c.query(`call retention.run('app.tickets')`).then(() => null, (e) => e);
    expect(e1).toMatchObject({ code: 'RT025', message: expect.stringContaining(`type app2.state is owned by ${app}, which may create a cast`) });
    const e2 = await c.query(`call retention.run('app.marks')`).then(() => null, (e) => e);
    expect(e2).toMatchObject({ code: 'RT025', message: expect.stringContaining(`app2.norm(integer), owned by ${app}, could be replaced`) });
    expect((await c.query(`select (select count(*) from app.tickets)::int as t, (select count(*) from app.marks)::int as m`)).rows)
      .toEqual([{ t: 5, m: 5 }]);
    // Owned by the retention owner, neither can change under it: both run.
    await su.query(`alter type app2.state owner to ${owner}`);
    await su.query(`alter function app2.norm(int) owner to ${owner}`);
    await c.query(`call retention.run('app.tickets')`);
    await c.query(`call retention.run('app.marks')`);
    expect((await c.query(`select (select count(*) from app.tickets)::int as t, (select count(*) from app.marks)::int as m`)).rows)
      .toEqual([{ t: 0, m: 0 }]);
  });
});

// On PostgreSQL 16 and later a role with CREATEROLE grants only the roles it administers:
// an owner that was not given pg-retention's roles (made by another install) can neither
// grant them to one another (the first migration) nor join retention_predicate_checker.
// migrate says which grants to make (42501), before applying anything, and installs no
// schema. (On PostgreSQL 15, CREATEROLE grants any role that is not a superuser.)
describe('an owner that cannot join pg-retention\'s roles', () => {
  it('gets 42501 naming the grants to make, and no retention schema', async (ctx) => {
    if (Number((await q(`show server_version_num`))[0]!.server_version_num) < 160000) ctx.skip();
    await q(`create role ${bare} login password 'pw' createrole`);
    await q(`create database ${bareDb} owner ${bare}`);
    const u = new URL(db.url);
    u.username = bare;
    u.password = 'pw';
    u.pathname = `/${bareDb}`;
    const r = await runCli(['migrate'], { url: u.toString() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`the retention owner ${bare} cannot grant pg-retention's roles retention_admin, `);
    expect(r.stderr).toContain('[42501]');
    expect(r.stderr).toContain(`GRANT retention_predicate_checker TO "${bare}" WITH ADMIN OPTION;`);
    expect(r.stderr).not.toContain('connect as a member');
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    try {
      expect((await c.query(`select count(*)::int as n from pg_namespace where nspname in ('retention', 'retention_internal')`)).rows)
        .toEqual([{ n: 0 }]);
    } finally {
      await c.end();
    }
  });
});
