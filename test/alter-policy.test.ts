// retention.alter_policy changes the settings it is given and keeps every other one
// (set_policy is declarative and resets what it is not given). Each setting is changed
// alone on a policy that has every setting away from its default, and the row must differ
// in that column only.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';

const db = useTestDatabase();

type Row = Record<string, unknown>;
const policy = async (name: string): Promise<Row> =>
  (await db.q(`select to_jsonb(p) - 'updated_at' - 'updated_by' as p from retention.policies p where name = $1`, [name]))[0]!.p as Row;
const changed = (a: Row, b: Row): string[] => Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();

async function tables(): Promise<void> {
  await db.q(`select retention.drop_policy(name) from retention.policies where name like 'al.%'`);
  await db.q(`drop schema if exists al, al_archive, al_archive2 cascade`);
  await db.q(`create schema al`);
  await db.q(`create table al.events (id bigint primary key, user_id bigint, org text, created_at timestamptz not null,
                                      seen_at timestamptz not null default now(), deleted_at timestamptz, gone_at timestamptz,
                                      email text, name text, scrubbed_at timestamptz, scrubbed2_at timestamptz)`);
  await db.q(`create table al.events2 (like al.events including all)`);
  await db.q(`create table al.tokens (id bigint primary key, event_id bigint references al.events on delete cascade)`);
  await db.q(`create table al.tokens2 (id bigint primary key, event_id bigint references al.events on delete cascade)`);
  await db.q(`create table al.parts (id bigint, created_at timestamptz not null) partition by range (created_at)`);
  await db.q(`create schema al_archive`);
  await db.q(`create schema al_archive2`);
}

describe('alter_policy', () => {
  it('changes each setting of a delete policy alone and keeps all the others', async () => {
    await tables();
    await db.q(`select retention.set_policy('al.events', 'al.events', 'delete', 'created_at', interval '30 days',
                  p_predicate => 'org <> ''keep''', p_subject_column => 'user_id', p_batch_size => 500, p_max_rows_per_run => 5000,
                  p_time_budget => '5 minutes', p_lock_timeout => '3 seconds', p_schedule => '0 3 * * *', p_time_zone => 'Europe/Berlin',
                  p_description => 'Events', p_category => 'logs', p_notify_over_rows => 100, p_run_cap => 1000,
                  p_notice_period => '7 days', p_tenant_column => 'org')`);
    const cases: [string, string, string[]][] = [
      ['p_retain', `interval '90 days'`, ['retain']],
      ['p_predicate', `'org <> ''other'''`, ['predicate']],
      ['p_subject_column', `'id'`, ['subject_attnum', 'subject_column']],
      ['p_batch_size', `250`, ['batch_size']],
      ['p_max_rows_per_run', `8000`, ['max_rows_per_run']],
      ['p_time_budget', `interval '1 minute'`, ['time_budget']],
      ['p_lock_timeout', `interval '1 second'`, ['lock_timeout']],
      ['p_schedule', `'30 4 * * 1'`, ['schedule']],
      ['p_time_zone', `'America/New_York'`, ['time_zone']],
      ['p_enabled', `false`, ['enabled']],
      ['p_description', `'All events'`, ['description']],
      ['p_category', `'audit'`, ['category']],
      ['p_notify_over_rows', `200`, ['notify_over_rows']],
      ['p_run_cap', `2000`, ['run_cap']],
      ['p_notice_period', `interval '14 days'`, ['notice_period']],
      ['p_tenant_column', `'email'`, ['tenant_column']],
      ['p_age_column', `'seen_at'`, ['age_column']],
      ['p_target', `'al.events2'`, ['target', 'target_name']],  // the table's name is recorded with it (not audited)
    ];
    for (const [param, value, cols] of cases) {
      const before = await policy('al.events');
      const err = await db.q(`select retention.alter_policy('al.events', ${param} => ${value})`).then(() => null, (e: Error) => e.message);
      expect([param, err]).toEqual([param, null]);
      const after = await policy('al.events');
      expect([param, changed(before, after)]).toEqual([param, cols]);
    }
    // Each change is audited as set_policy audits one: the fields with old and new values.
    const [last] = await db.q(`select action, details from retention.audit_log where object_name = 'al.events' order by audit_id desc limit 1`);
    expect(last).toEqual({ action: 'policy.updated', details: { target: { old: 'al.events', new: 'al.events2' } } });
    expect(await count(db, `retention.audit_log where object_name = 'al.events' and action = 'policy.updated'`)).toBe(cases.length);
  });

  it('changes the settings of soft deletes, scrubs and partition drops alone, and the action with what it needs', async () => {
    await tables();
    await db.q(`select retention.set_policy('al.soft', 'al.events', 'soft_delete', 'created_at', interval '30 days', p_deleted_at_column => 'deleted_at')`);
    let before = await policy('al.soft');
    await db.q(`select retention.alter_policy('al.soft', p_deleted_at_column => 'gone_at')`);
    expect(changed(before, await policy('al.soft'))).toEqual(['deleted_at_column']);
    // A change of action needs what the new action needs, given together.
    expect(await sqlState(db.q(`select retention.alter_policy('al.soft', p_action => 'scrub')`))).toMatch(/^RT/);
    before = await policy('al.soft');
    await db.q(`select retention.alter_policy('al.soft', p_action => 'delete', p_reset => array['deleted_at_column'])`);
    expect(changed(before, await policy('al.soft'))).toEqual(['action', 'deleted_at_column']);

    await db.q(`select retention.set_policy('al.scrub', 'al.events', 'scrub', 'created_at', interval '30 days',
                  p_scrub => '{"email": "null"}', p_scrubbed_at_column => 'scrubbed_at', p_revoke => array['al.tokens'])`);
    for (const [param, value, col] of [
      ['p_scrub', `'{"email": "null", "name": "null"}'::jsonb`, 'scrub_columns'],
      ['p_scrubbed_at_column', `'scrubbed2_at'`, 'scrubbed_at_column'],
      ['p_revoke', `array['al.tokens', 'al.tokens2']`, 'revoke_tables'],
    ] as const) {
      before = await policy('al.scrub');
      await db.q(`select retention.alter_policy('al.scrub', ${param} => ${value})`);
      expect([param, changed(before, await policy('al.scrub'))]).toEqual([param, [col]]);
    }
    // A JSON null in the scrub map is the "null" strategy, as set_policy takes it: alter_policy keeps it.
    await db.q(`select retention.alter_policy('al.scrub', p_scrub => '{"email": null, "name": "null"}'::jsonb)`);
    expect((await policy('al.scrub')).scrub_columns).toEqual({ email: 'null', name: 'null' });
    await db.q(`select retention.alter_policy('al.scrub', p_batch_size => 300)`);
    expect((await policy('al.scrub')).scrub_columns).toEqual({ email: 'null', name: 'null' });
    await db.q(`select retention.alter_policy('al.scrub', p_scrub => '{"name": null}'::jsonb)`);
    expect((await policy('al.scrub')).scrub_columns).toEqual({ name: 'null' });
    await db.q(`select retention.alter_policy('al.scrub', p_scrub => '{"email": "null", "name": "null"}'::jsonb, p_batch_size => 1000)`);
    before = await policy('al.scrub');
    await db.q(`select retention.alter_policy('al.scrub', p_reset => array['revoke'])`);
    expect(changed(before, await policy('al.scrub'))).toEqual(['revoke_tables']);

    await db.q(`select retention.set_policy('al.parts', 'al.parts', 'drop_partitions', 'created_at', interval '90 days', p_archive_schema => 'al_archive')`);
    before = await policy('al.parts');
    await db.q(`select retention.alter_policy('al.parts', p_archive_schema => 'al_archive2')`);
    expect(changed(before, await policy('al.parts'))).toEqual(['archive_schema']);
  });

  it('resets settings to set_policy\'s defaults; the period then comes from the default again', async () => {
    await tables();
    await db.q(`select retention.set_default('al', interval '400 days')`);
    await db.q(`select retention.set_policy('al.reset', 'al.events', 'delete', 'created_at', interval '30 days',
                  p_subject_column => 'user_id', p_batch_size => 500, p_schedule => '0 3 1 * *', p_category => 'logs')`);
    const before = await policy('al.reset');
    await db.q(`select retention.alter_policy('al.reset', p_reset => array['retain', 'batch_size', 'schedule'])`);
    const after = await policy('al.reset');
    expect(changed(before, after)).toEqual(['batch_size', 'retain', 'schedule']);
    expect([after.retain, after.batch_size, after.schedule, after.subject_column, after.category]).toEqual([null, null, null, 'user_id', 'logs']);
    expect(await db.q(`select retain_source, retain from retention.effective_policies where name = 'al.reset'`))
      .toEqual([{ retain_source: 'schema', retain: expect.objectContaining({ days: 400 }) }]);
  });

  it('warns when the subject column goes, and refuses (RT024) while an open subject hold relies on it', async () => {
    await tables();
    await db.q(`select retention.set_policy('al.subj', 'al.events', 'delete', 'created_at', interval '30 days', p_subject_column => 'user_id')`);
    const [hold] = await db.q(`select hold_id from retention.place_hold('subject', '5', 'Case 1')`);
    expect(await sqlState(db.q(`select retention.alter_policy('al.subj', p_reset => array['subject_column'])`))).toBe('RT024');
    expect((await policy('al.subj')).subject_column).toBe('user_id');
    await db.q(`select retention.release_hold($1, 'closed')`, [hold!.hold_id]);
    const { notices } = await db.call(`select retention.alter_policy('al.subj', p_reset => array['subject_column'])`);
    expect((await policy('al.subj')).subject_column).toBeNull();
    const warned = await db.call(`select retention.alter_policy('al.subj', p_subject_column => 'user_id')`)
      .then(() => db.call(`select retention.alter_policy('al.subj', p_subject_column => 'id')`));
    expect(warned.notices.join('\n')).toMatch(/subject holds no longer protect rows of al\.events through its column user_id/);
    expect(notices.join('\n')).toMatch(/policy al\.subj updated: subject_column/);
  });

  it('bad input gets a clear error and changes nothing', async () => {
    await tables();
    await db.q(`select retention.set_policy('al.bad', 'al.events', 'delete', 'created_at', interval '30 days', p_batch_size => 500)`);
    const before = await policy('al.bad');
    const audit = await count(db, `retention.audit_log`);
    const cases: [string, string][] = [
      [`select retention.alter_policy('al.nope', p_retain => '1 day')`, 'RT008'],
      [`select retention.alter_policy('al.bad')`, 'RT028'],
      [`select retention.alter_policy('al.bad', p_reset => array['target'])`, 'RT028'],
      [`select retention.alter_policy('al.bad', p_reset => array['no_such_setting'])`, 'RT028'],
      [`select retention.alter_policy('al.bad', p_reset => array[null])`, 'RT028'],
      [`select retention.alter_policy('al.bad', p_retain => '1 day', p_reset => array['retain'])`, 'RT028'],
      [`select retention.alter_policy('al.bad', p_retain => '-1 day')`, 'RT004'],
      [`select retention.alter_policy('al.bad', p_batch_size => 0)`, 'RT006'],
      [`select retention.alter_policy('al.bad', p_age_column => 'nope')`, 'RT002'],
      [`select retention.alter_policy('al.bad', p_target => 'al.nope')`, 'RT001'],
      [`select retention.alter_policy('al.bad', p_predicate => '1=1); drop table al.events; --')`, 'RT005'],
      [`select retention.alter_policy('al.bad', p_schedule => 'every day')`, 'RT016'],
      [`select retention.alter_policy('al.bad', p_subject_column => 'x"; drop table al.events; --')`, 'RT002'],
    ];
    for (const [sql, code] of cases) expect([sql, await sqlState(db.q(sql))]).toEqual([sql, code]);
    expect(await policy('al.bad')).toEqual(before);
    expect(await count(db, `retention.audit_log`)).toBe(audit);
    expect(await count(db, `al.events`)).toBe(0);
  });
});
