// retention.policy_settings / policies_overview and `pg-retention policies`: every setting
// of a policy, its effective value and where it comes from.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loginAs, sqlState, useTestDatabase } from './support/db.ts';
import { randomBytes } from 'node:crypto';

const db = useTestDatabase();

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['runner/cli.ts', ...args], { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('policies overview', () => {
  it('names where each setting comes from: the policy, set_policy\'s default, an inherited period, a category\'s schedule', async () => {
    await db.q(`create schema ov`);
    await db.q(`create table ov.logs (id bigint primary key, user_id bigint, created_at timestamptz not null)`);
    await db.q(`select retention.set_default('ov', interval '400 days')`);
    await db.q(`select retention.set_policy('ov.logs', 'ov.logs', 'delete', 'created_at', p_category => 'audit', p_batch_size => 700,
                                            p_subject_column => 'user_id')`);
    await db.q(`select retention.set_policy('ov.own', 'ov.logs', 'delete', 'created_at', interval '30 days', p_schedule => '@daily',
                                            p_max_rows_per_run => 10000)`);
    const rows = await db.q(`select setting, value, source from retention.policies_overview where policy = 'ov.logs'`);
    const of = (k: string) => rows.find((r) => r.setting === k);
    expect(rows).toHaveLength(32);
    expect(of('table')).toEqual({ setting: 'table', value: 'ov.logs', source: 'policy' });
    expect(of('retain')).toEqual({ setting: 'retain', value: '400 days', source: 'schema' });
    expect(of('schedule')).toEqual({ setting: 'schedule', value: '0 4 1 * *', source: 'category:audit' });
    expect(of('batch_size')).toEqual({ setting: 'batch_size', value: '700', source: 'policy' });
    expect(of('max_rows_per_run')).toEqual({ setting: 'max_rows_per_run', value: '10000', source: 'default' });
    // A fixed batch size: no target. Without one, the target's default is shown.
    expect(of('batch_target')).toEqual({ setting: 'batch_target', value: null, source: 'default' });
    // count is drop_partitions' own: nothing for a delete policy.
    expect(of('count')).toEqual({ setting: 'count', value: null, source: 'default' });
    // timestamp_zone is for timestamp and date age columns: nothing for a timestamptz one.
    expect(of('timestamp_zone')).toEqual({ setting: 'timestamp_zone', value: null, source: 'default' });
    expect(of('subject_column')).toEqual({ setting: 'subject_column', value: 'user_id', source: 'policy' });
    expect(of('scrub')).toEqual({ setting: 'scrub', value: null, source: 'default' });
    // archive left NULL: what it means for this policy (no approval: off).
    expect(of('archive')).toEqual({ setting: 'archive', value: 'false', source: 'default' });
    expect(of('approval')).toEqual({ setting: 'approval', value: 'none', source: 'default' });
    // What a NULL means, not NULL: a run of 100,000 rows is announced.
    expect(of('notify_over_rows')).toEqual({ setting: 'notify_over_rows', value: '100000', source: 'default' });
    // A value equal to the default is the default, however it was given.
    expect(await db.q(`select setting, value, source from retention.policy_settings('ov.own') where setting in ('retain', 'schedule', 'max_rows_per_run', 'batch_target')`))
      .toEqual([{ setting: 'retain', value: '30 days', source: 'policy' }, { setting: 'max_rows_per_run', value: '10000', source: 'default' },
                { setting: 'schedule', value: '@daily', source: 'policy' }, { setting: 'batch_target', value: '00:00:00.05', source: 'default' }]);
    expect(await sqlState(db.q(`select * from retention.policy_settings('ov.nope')`))).toBe('RT008');
  });

  it('the CLI lists each policy with its period and schedule in words, or one policy\'s every setting; the auditor may read it', async () => {
    const all = cli(['policies']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/ov\.logs +ov\.logs +delete +400 days \(schema\) +on day 1 of every month at 04:00 UTC \(category:audit\) +true/);
    expect(all.stdout).toMatch(/ov\.own +ov\.logs +delete +30 days \(policy\) +daily at 00:00 UTC \(policy\)/);
    const one = JSON.parse(cli(['policies', 'ov.logs', '--json']).stdout) as { setting: string; source: string }[];
    expect(one.find((r) => r.setting === 'retain')).toEqual({ policy: 'ov.logs', setting: 'retain', value: '400 days', source: 'schema' });
    const bad = cli(['policies', 'ov.nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/policy 'ov.nope' does not exist \[RT008\]/);
    const c = await loginAs(db, `auditor_${randomBytes(3).toString('hex')}`, 'retention_auditor');
    expect((await c.query(`select count(*)::int as n from retention.policies_overview`)).rows[0].n).toBe(64);
    await c.end();
  });
});
