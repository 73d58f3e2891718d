// Attack round atk97, its minor input gaps left open at stop 43 (F10 d, f–j; F11):
//  - d: a 42501 from an approval routine carried its own hint and a second, generic one
//    that contradicted it;
//  - f: retry_object_deletions of ids that name no deletion answered "0 queued again";
//  - g: `archive verify|restore` of an unknown object exited 1 with no hint;
//  - h: alter_policy with 100,000 unknown reset names answered with a 1 MB message;
//  - i: last_occurrence and due_policies answered NULL or nothing for a time next_occurrence
//    refuses;
//  - F11: a retention, notice or archive period of a microsecond passed without a word.
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;
const { login, tag } = useLogins(db);

/** The retention tables and the audit log, to show a refusal changed nothing. */
async function state(): Promise<string> {
  const rows = await q(`select (select count(*) from retention.audit_log) as a, (select count(*) from retention.object_deletions) as d,
                               (select coalesce(string_agg(status, ',' order by deletion_id), '') from retention.object_deletions) as s,
                               (select coalesce(string_agg(policy_id::text || ':' || coalesce(schedule, ''), ',' order by policy_id), '') from retention.policies) as p`);
  return JSON.stringify(rows);
}

describe('the CLI\'s answers (atk97 F10 d, g)', () => {
  it('an admin approving: the database\'s own hint, once', async () => {
    await q(`create schema d`);
    await q(`create table d.t (id int primary key, at timestamptz not null default now() - interval '2 years')`);
    await q(`insert into d.t values (1)`);
    await q(`select retention.set_policy('d.t', 'd.t', 'delete', 'at', '1 year', p_approval => 'required')`);
    const [{ p }] = await q(`select retention.propose('d.t') as p`) as [{ p: string }];
    const admin = await login('adm', 'retention_admin');
    await admin.end();
    const u = new URL(db.url);
    u.username = `adm_${tag}`;
    u.password = 'pw';
    const r = await runCli(['approvals', 'approve', String(p), '--comment', 'ok'], { url: u.toString() });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/\[42501\]/);
    expect(r.stderr.match(/^hint: /gm), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toMatch(/retention_admin or retention_runner/);
  });

  it('runs --policy of a name no policy or run has: exit 2, a hint (it said "(no rows)", exit 0)', async () => {
    const r = await runCli(['runs', '--policy', 'nosuch'], { url: db.url });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/no policy or run is named .*\nhint: pg-retention policies lists the policies/);
    // An empty name: refused before anything is read (round atk159 F7).
    const empty = await runCli(['runs', '--policy', ''], { url: db.url });
    expect([empty.code, empty.stderr]).toEqual([2, expect.stringMatching(/option --policy is empty\nhint: Give it a value/)]);
    // A policy that has not run yet: an empty ledger, exit 0.
    await q(`create schema rn`);
    await q(`create table rn.t (id int primary key, at timestamptz not null)`);
    await q(`select retention.set_policy('rn.t', 'rn.t', 'delete', 'at', '1 year')`);
    expect((await runCli(['runs', '--policy', 'rn.t'], { url: db.url })).code).toBe(0);
  });

  it('archive verify and restore of an unknown object: exit 2, a hint', async () => {
    for (const sub of ['verify', 'restore']) {
      const r = await runCli(['archive', sub, '999999'], { url: db.url, env: { PG_RETENTION_ARCHIVE_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/archive object 999999 does not exist\nhint: pg-retention archive list shows the objects/);
    }
  });
});

describe('routines that took what names nothing (atk97 F10 f, h, i)', () => {
  it('retry_object_deletions of ids that name no deletion: RT042, naming them, nothing queued', async () => {
    const before = await state();
    for (const ids of ['{424242}', '{-1,0,99999}', '{NULL}']) {
      const err = await q(`select retention.retry_object_deletions($1::bigint[])`, [ids]).then(() => null, (e: { code?: string; message: string; hint?: string }) => e);
      expect(err?.code, ids).toBe('RT042');
      expect(err?.hint).toMatch(/object_deletions/);
    }
    await expect(q(`select retention.retry_object_deletions(array(select g from generate_series(1, 100000) g)::bigint[])`))
      .rejects.toThrow(/^object deletion 1, 2, 3, 4, 5 \(and 99995 more\) does not exist$/);
    expect(await state()).toBe(before);
    // No ids: every dead one, none here.
    expect(await q(`select retention.retry_object_deletions() as n`)).toEqual([{ n: 0 }]);
  });

  it('alter_policy with 100,000 unknown reset names: RT028 naming five of them, the message short', async () => {
    await q(`create schema h`);
    await q(`create table h.t (id int primary key, at timestamptz not null)`);
    await q(`select retention.set_policy('h.t', 'h.t', 'delete', 'at', '1 year')`);
    const before = await state();
    const err = await q(`select retention.alter_policy('h.t', p_reset => array(select 'x' || g || repeat('y', 200) from generate_series(1, 100000) g))`)
      .then(() => null, (e: { code?: string; message: string }) => e);
    expect(err?.code).toBe('RT028');
    expect(err!.message.length).toBeLessThan(500);
    expect(err!.message).toMatch(/^alter_policy: cannot reset 'x1y+…', .* and 99995 more$/);
    expect(await state()).toBe(before);
  });
});

describe('periods of a microsecond (atk97 F11)', () => {
  it('a retention, notice or archive period shorter than an hour or a day is said in a warning', async () => {
    await q(`create schema p`);
    await q(`create table p.t (id int primary key, at timestamptz not null)`);
    const { notices } = await db.call(`select retention.set_policy('p.t', 'p.t', 'delete', 'at', '1 microsecond', p_notice_period => '1 microsecond',
                                                                   p_archive => true, p_archive_retain => '1 microsecond')`);
    expect(notices.join('\n')).toMatch(/retention period 00:00:00.000001 is shorter than an hour/);
    expect(notices.join('\n')).toMatch(/notice period 00:00:00.000001 is shorter than a day/);
    expect(notices.join('\n')).toMatch(/archive_retain 00:00:00.000001 is shorter than a day/);
    const { notices: quiet } = await db.call(`select retention.alter_policy('p.t', p_retain => '30 days', p_notice_period => '14 days', p_archive_retain => '10 years')`);
    expect(quiet.join('\n')).not.toMatch(/shorter than/);
  });
});

it('set_inactive_accounts_policy with a table name that is none: RT001 with a hint, as set_policy', async () => {
  const before = await state();
  for (const t of ['', '"unbalanced', 'a.b.c.d', 'nosuch.accounts']) {
    const err = await q(`select retention.set_inactive_accounts_policy('ia', $1)`, [t]).then(() => null, (e: { code?: string; hint?: string }) => e);
    expect(err?.code, t).toBe('RT001');
    expect(err?.hint, t).toMatch(/schema-qualified/);
  }
  expect(await state()).toBe(before);
});

it('the check of a time for a schedule names the argument (atk97 F10i)', async () => {
  expect(await sqlState(q(`select * from retention.due_policies('infinity')`))).toBe('RT022');
  // And the erasure overview's moment (it failed on the days left, 22008).
  for (const t of ['infinity', '-infinity']) expect(await sqlState(q(`select * from retention.erasure_requests_as_of($1)`, [t])), t).toBe('RT022');
  expect(await q(`select count(*)::int as n from retention.erasure_overview`)).toHaveLength(1);
});
