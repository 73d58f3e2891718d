import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';

const db = useTestDatabase();

/** Accounts of two tenants; last logins relative to the real clock. */
async function makeAccounts(table: string): Promise<void> {
  await db.q(`create schema if not exists app`);
  await db.q(`drop table if exists ${table}`);
  await db.q(`create table ${table} (
      id bigint primary key, org_id text not null, email text not null,
      last_login_at timestamptz not null, deleted_at timestamptz)`);
  await db.q(`create index on ${table} (last_login_at) where deleted_at is null`);
  await db.q(`insert into ${table} values
      (1, 'acme',   'ann@acme.example',    $1::timestamptz - interval '3 years',           null),
      (2, 'acme',   'bob@acme.example',    $1::timestamptz - interval '2 years 10 days',   null),
      (3, 'globex', 'cy@globex.example',   $1::timestamptz - interval '5 years',           null),
      (4, 'globex', 'dee@globex.example',  $1::timestamptz - interval '1 year',            null),
      (5, 'globex', 'eve@globex.example',  $1::timestamptz - interval '4 years',           null),
      (6, 'globex', 'fay@globex.example',  $1::timestamptz - interval '6 years',           $1::timestamptz - interval '1 year'),
      (7, 'initech', 'gus@initech.example', $1::timestamptz - interval '3 years',          null)`, [new Date()]);
}

/** A live run acts on the real clock. */
const run = (policy: string) => db.call(`call retention.run($1)`, [policy]);
/** Days pass for a notice policy: its open flags were raised that much earlier (tests move
 * data back in time; a live run never takes a future clock). */
const passDays = (policy: string, days: number) => db.q(
  `update retention.flagged_rows set flagged_at = flagged_at - make_interval(days => $2), act_after = act_after - make_interval(days => $2)
    where policy_name = $1 and status = 'flagged'`, [policy, days]);
const flags = (policy: string) => db.q<{ row_key: string; tenant: string; status: string; close_reason: string | null; flag_run_id: string; close_run_id: string | null }>(
  `select row_key, tenant, status, close_reason, flag_run_id, close_run_id from retention.flags($1, p_all => true) order by row_key::int, flagged_at`, [policy]);
const deleted = (table: string) => db.q<{ id: string }>(`select id from ${table} where deleted_at is not null order by id`).then((r) => r.map((x) => Number(x.id)));

describe('inactive accounts (a soft_delete policy with a notice period)', () => {
  it('flags accounts without a login for two years, tells each tenant once, and soft-deletes after the grace period unless a login or an exemption cancels', async () => {
    await makeAccounts('app.a1');
    const [pol] = await db.q(`select * from retention.set_inactive_accounts_policy('a1.inactive', 'app.a1', p_tenant_column => 'org_id')`);
    expect(pol).toMatchObject({ action: 'soft_delete', age_column: 'last_login_at', deleted_at_column: 'deleted_at',
      retain: { years: 2 }, notice_period: { days: 30 }, tenant_column: 'org_id', subject_column: 'id', category: 'accounts' });
    await db.q(`select retention.place_hold('subject', '7', 'Litigation Doe v. Initech')`);

    // Day 0: flag. Nothing is deleted; 1, 2 (acme), 3, 5 (globex) are flagged; 4 logged in a
    // year ago, 6 is already deleted, 7 is held.
    await run('a1.inactive');
    expect(await deleted('app.a1')).toEqual([6]);
    const [r1] = await db.q(`select run_id, status, eligible::int, affected::int, flagged::int, flags_cancelled::int from retention.run_ledger where policy = 'a1.inactive'`);
    expect(r1).toMatchObject({ status: 'completed', eligible: 0, affected: 0, flagged: 4, flags_cancelled: 0 });
    expect((await flags('a1.inactive')).map((f) => `${f.row_key} ${f.tenant} ${f.status}`)).toEqual(['1 acme flagged', '2 acme flagged', '3 globex flagged', '5 globex flagged']);
    const [open] = await db.q(`select act_after, act_after - flagged_at as notice, days_left
                                  from retention.flags('a1.inactive', now() + interval '10 days') where row_key = '1'`);
    expect(open).toMatchObject({ notice: { days: 30 }, days_left: 20 });

    // One notification per tenant, listing its accounts by key (no e-mail), oldest login first.
    const notes = await db.q<{ policy_name: string; payload: { tenant: string; count: number; rows: { key: string }[]; act_after: string; run_id: number } }>(
      `select policy_name, payload from retention.notifications where kind = 'rows_flagged' and policy_name = 'a1.inactive' order by payload->>'tenant'`);
    expect(notes.map((n) => [n.payload.tenant, n.payload.count, n.payload.rows.map((r) => r.key)])).toEqual([['acme', 2, ['1', '2']], ['globex', 2, ['3', '5']]]);
    expect(notes[0]!.payload).toMatchObject({ kind: 'rows_flagged', table: 'app.a1', action: 'soft_delete', tenant_column: 'org_id', run_id: Number(r1!.run_id) });
    expect(new Date(notes[0]!.payload.act_after).toISOString()).toBe((open!.act_after as Date).toISOString());
    expect(JSON.stringify(notes)).not.toContain('@');
    const [audit] = await db.q(`select details from retention.audit_log where action = 'rows.flagged' and object_name = 'a1.inactive'`);
    expect(audit!.details).toMatchObject({ run_id: Number(r1!.run_id), flagged: 4, cancelled: 0, tenants: 2 });
    expect(JSON.stringify(audit!.details)).not.toMatch(/acme|globex/);

    // Day 5: bob logs in; an admin exempts cy (its flag closes at once).
    await passDays('a1.inactive', 5);
    await db.q(`update app.a1 set last_login_at = now() where id = 2`);
    const [ex] = await db.q(`select * from retention.exempt_row('a1.inactive', '3', 'Owner of the globex tenant')`);
    expect(ex).toMatchObject({ row_key: '3', reason: 'Owner of the globex tenant', revoked_at: null });
    expect((await flags('a1.inactive')).find((f) => f.row_key === '3')).toMatchObject({ status: 'exempted', close_reason: 'Owner of the globex tenant' });

    // Day 10, inside the grace period: no deletion, no new flags, no second notification;
    // bob's flag is cancelled by his login.
    await passDays('a1.inactive', 5);
    await run('a1.inactive');
    expect(await deleted('app.a1')).toEqual([6]);
    expect((await flags('a1.inactive')).map((f) => `${f.row_key} ${f.status} ${f.close_reason ?? ''}`.trim()))
      .toEqual(['1 flagged', '2 cancelled activity', '3 exempted Owner of the globex tenant', '5 flagged']);
    expect(await count(db, `retention.notifications where kind = 'rows_flagged' and policy_name = 'a1.inactive'`)).toBe(2);

    // Day 31: the grace period is over: ann and eve are soft-deleted, nobody else.
    await passDays('a1.inactive', 21);
    await run('a1.inactive');
    expect(await deleted('app.a1')).toEqual([1, 5, 6]);
    const runs = await db.q(`select run_id, status, eligible::int, affected::int, flagged::int, flags_cancelled::int from retention.run_ledger where policy = 'a1.inactive' order by run_id`);
    expect(runs.map((r) => [r.status, r.eligible, r.affected, r.flagged, r.flags_cancelled])).toEqual([
      ['completed', 0, 0, 4, 0], ['completed', 0, 0, 0, 1], ['completed', 2, 2, 0, 0]]);
    const f = await flags('a1.inactive');
    expect(f.filter((x) => x.status === 'acted').map((x) => [x.row_key, x.close_reason, x.close_run_id])).toEqual([
      ['1', 'soft_delete', runs[2]!.run_id], ['5', 'soft_delete', runs[2]!.run_id]]);
    expect(await count(db, `retention.run_batches where run_id = $1`, [runs[2]!.run_id])).toBe(1);
    // The exempted and the held account stay; later runs leave everything as it is.
    await passDays('a1.inactive', 29);
    await run('a1.inactive');
    expect(await deleted('app.a1')).toEqual([1, 5, 6]);
    expect((await flags('a1.inactive')).filter((x) => x.status === 'flagged')).toEqual([]);
    const trail = await db.q(`select action from retention.audit_log where object_name = 'a1.inactive' order by audit_id`);
    expect(trail.map((a) => a.action)).toEqual(['policy.created', 'rows.flagged', 'run.started', 'run.completed', 'row.exempted',
      'rows.flagged', 'run.started', 'run.completed', 'run.started', 'run.completed', 'run.started', 'run.completed']);

    // Revoking the exemption: the next run flags cy again, with a fresh notice.
    await db.q(`select retention.revoke_exemption('a1.inactive', '3', 'Tenant owner changed')`);
    await run('a1.inactive');
    expect((await flags('a1.inactive')).filter((x) => x.status === 'flagged').map((x) => x.row_key)).toEqual(['3']);
    expect(await deleted('app.a1')).toEqual([1, 5, 6]);
  });

  it('a login at any time before the action cancels, even after the notice ran out', async () => {
    await makeAccounts('app.a2');
    await db.q(`select retention.set_inactive_accounts_policy('a2.inactive', 'app.a2', p_grace => '7 days')`);
    await run('a2.inactive');
    // 1, 2, 3, 5 (7 is still under the first test's subject hold, which covers every policy).
    expect(await count(db, `retention.flagged_rows where policy_name = 'a2.inactive' and status = 'flagged'`)).toBe(4);
    // Without a tenant column: one notification for the run.
    expect(await db.q(`select payload->>'tenant' as tenant, (payload->>'count')::int as n from retention.notifications where policy_name = 'a2.inactive'`))
      .toEqual([{ tenant: null, n: 4 }]);
    // Ann logs in on day 9, after her notice ran out but before the next run: she stays.
    await passDays('a2.inactive', 9);
    await db.q(`update app.a2 set last_login_at = now() where id = 1`);
    await run('a2.inactive');
    expect(await deleted('app.a2')).toEqual([2, 3, 5, 6]);
    expect((await flags('a2.inactive')).find((f) => f.row_key === '1')).toMatchObject({ status: 'cancelled', close_reason: 'activity' });
    // Dry runs flag nothing and change nothing.
    await db.q(`update app.a2 set last_login_at = now() - interval '3 years' where id = 1`);
    await db.call(`call retention.run('a2.inactive', p_dry_run => true, p_as_of => now() + interval '20 days')`);
    expect(await count(db, `retention.flagged_rows where policy_name = 'a2.inactive' and status = 'flagged'`)).toBe(0);
  });

  it('bad notice settings and exemptions get a clear error and change nothing', async () => {
    await makeAccounts('app.a3');
    await db.q(`create table app.a3_nokey (org_id text, last_login_at timestamptz, deleted_at timestamptz)`);
    await db.q(`select retention.set_policy('a3.plain', 'app.a3', 'delete', 'last_login_at', p_retain => '2 years')`);
    await db.q(`select retention.set_inactive_accounts_policy('a3.inactive', 'app.a3')`);
    const policies = await db.q(`select * from retention.policies order by policy_id`);
    const audit = await count(db, 'retention.audit_log');
    const cases: [string, unknown[], string][] = [
      [`select retention.set_inactive_accounts_policy('a3.x', 'app.a3', p_grace => '-1 day')`, [], 'RT004'],
      [`select retention.set_inactive_accounts_policy('a3.x', 'app.a3', p_grace => null)`, [], 'RT004'],
      [`select retention.set_inactive_accounts_policy('a3.x', 'app.a3', p_tenant_column => 'tenant')`, [], 'RT002'],
      [`select retention.set_inactive_accounts_policy('a3.x', 'app.a3', p_last_login_column => 'email')`, [], 'RT003'],
      [`select retention.set_inactive_accounts_policy('a3.x', 'app.nope')`, [], 'RT001'],
      [`select retention.set_inactive_accounts_policy('a3.x', 'app.a3_nokey', p_subject_column => 'org_id')`, [], 'RT021'],
      [`select retention.set_policy('a3.x', 'app.a3', 'purge_soft_deleted', 'deleted_at', p_notice_period => '30 days')`, [], 'RT007'],
      [`select retention.set_policy('a3.x', 'app.a3', 'delete', 'last_login_at', p_tenant_column => 'org_id')`, [], 'RT007'],
      [`select retention.exempt_row('a3.nope', '1', 'x')`, [], 'RT008'],
      [`select retention.exempt_row('a3.plain', '1', 'x')`, [], 'RT021'],
      [`select retention.exempt_row('a3.inactive', '999', 'x')`, [], 'RT021'],
      [`select retention.exempt_row('a3.inactive', $1, 'x')`, ['1; drop table app.a3'], 'RT021'],
      [`select retention.exempt_row('a3.inactive', $1, 'x')`, ["1' or '1'='1"], 'RT021'],
      [`select retention.exempt_row('a3.inactive', '1', ' ')`, [], 'RT021'],
      [`select retention.exempt_row('a3.inactive', '1', 'x', now() - interval '1 day')`, [], 'RT021'],
      [`select retention.revoke_exemption('a3.inactive', '1', 'x')`, [], 'RT021'],
      [`select * from retention.flags('a3.nope')`, [], 'RT008'],
    ];
    for (const [sql, values, code] of cases) {
      expect(await sqlState(db.q(sql, values)), sql).toBe(code);
    }
    await db.q(`select retention.exempt_row('a3.inactive', '1', 'kept')`);
    expect(await sqlState(db.q(`select retention.exempt_row('a3.inactive', '1', 'again')`))).toBe('RT021');
    expect(await db.q(`select * from retention.policies order by policy_id`)).toEqual(policies);
    expect(await count(db, 'retention.audit_log')).toBe(audit + 1); // the one good exemption
    expect(await count(db, 'app.a3')).toBe(7);
    expect(await count(db, `retention.row_exemptions where revoked_at is null and row_key = '1'`)).toBe(1);
  });

  it('a run whose notice work fails is in the ledger as failed, and nothing is flagged', async () => {
    await makeAccounts('app.a4');
    await db.q(`select retention.set_inactive_accounts_policy('a4.inactive', 'app.a4', p_tenant_column => 'org_id')`);
    await db.q(`alter table app.a4 drop column org_id`); // the tenant column is gone
    expect(await sqlState(run('a4.inactive'))).toBe('42703');
    const runs = await db.q(`select status, error_code, error from retention.runs where policy_name = 'a4.inactive'`);
    expect(runs).toEqual([{ status: 'failed', error_code: '42703', error: expect.stringContaining('org_id') }]);
    expect(await count(db, `retention.flagged_rows where policy_name = 'a4.inactive'`)).toBe(0);
    expect(await count(db, `retention.notifications where kind = 'rows_flagged' and policy_name = 'a4.inactive'`)).toBe(0);
  });
});
