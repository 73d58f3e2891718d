// Attacks on time: a live run may not be moved forward, a hold is judged on the real
// clock, and nothing a run stamps can make a period or a notice look served already.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count, makeEvents } from '../support/fixtures.ts';

const db = useTestDatabase();

/** Rows of app.<name> half a day short of 1..n days old (row i is i - 0.5 days old), user_id 1..10. */
async function table(name: string, n = 100): Promise<void> {
  await makeEvents(db, `app.${name}`, 0);
  await db.q(`insert into app.${name} (user_id, created_at) select 1 + i % 10, now() - make_interval(days => i) + interval '12 hours' from generate_series(1, $1) i`, [n]);
}

async function evidence() {
  return {
    runs: await count(db, 'retention.runs'),
    audit: await count(db, 'retention.audit_log'),
  };
}

describe('a live run acts on the real clock', () => {
  for (const [what, asOf] of [
    ['a month ahead', `now() + interval '30 days'`],
    ['one second ahead', `clock_timestamp() + interval '1 second'`],
    ['infinity', `'infinity'::timestamptz`],
  ] as const) {
    it(`a live run with p_as_of ${what} is refused (RT022) and changes nothing`, async () => {
      const name = `t_${what.replace(/\W/g, '_')}`;
      await table(name);
      await db.q(`select retention.set_policy($1, $2, 'delete', 'created_at', p_retain => '50 days')`, [name.replaceAll('_', '-'), `app.${name}`]);
      const before = await evidence();
      expect(await sqlState(db.call(`call retention.run($1, p_as_of => ${asOf})`, [name.replaceAll('_', '-')]))).toBe('RT022');
      expect(await count(db, `app.${name}`)).toBe(100);
      expect(await evidence()).toEqual(before);
    });
  }

  it('run_all with a future p_as_of is refused before any policy runs', async () => {
    await table('t_all');
    await db.q(`select retention.set_policy('t-all', 'app.t_all', 'delete', 'created_at', p_retain => '50 days')`);
    const before = await evidence();
    expect(await sqlState(db.call(`call retention.run_all(p_as_of => now() + interval '1 year')`))).toBe('RT022');
    expect(await count(db, 'app.t_all')).toBe(100);
    expect(await evidence()).toEqual(before);
  });

  it('p_dry_run => NULL is refused rather than read as a live run', async () => {
    await table('t_null');
    await db.q(`select retention.set_policy('t-null', 'app.t_null', 'delete', 'created_at', p_retain => '50 days')`);
    const before = await evidence();
    expect(await sqlState(db.call(`call retention.run('t-null', p_dry_run => null)`))).toBe('RT022');
    expect(await sqlState(db.call(`call retention.run_all(p_dry_run => null)`))).toBe('RT022');
    expect(await count(db, 'app.t_null')).toBe(100);
    expect(await evidence()).toEqual(before);
  });

  it('a dry run may look ahead: it counts, records a dry run and deletes nothing', async () => {
    await table('t_dry');
    await db.q(`select retention.set_policy('t-dry', 'app.t_dry', 'delete', 'created_at', p_retain => '50 days')`);
    await db.call(`call retention.run('t-dry', p_dry_run => true, p_as_of => now() + interval '30 days')`);
    const [run] = await db.q(`select mode, status, eligible::int, affected::int from retention.runs where policy_name = 't-dry'`);
    expect(run).toEqual({ mode: 'dry_run', status: 'completed', eligible: 80, affected: 80 });
    expect(await count(db, 'app.t_dry')).toBe(100);
  });

  it('a past p_as_of deletes less, never more', async () => {
    await table('t_past');
    await db.q(`select retention.set_policy('t-past', 'app.t_past', 'delete', 'created_at', p_retain => '50 days')`);
    await db.call(`call retention.run('t-past', p_as_of => now() - interval '10 days')`);
    // Cutoff 60 days ago: rows 61..100 days old went, 51..60 stay until a run on the real clock.
    expect(await count(db, 'app.t_past')).toBe(60);
    await db.call(`call retention.run('t-past')`);
    expect(await count(db, 'app.t_past')).toBe(50);
  });
});

describe('holds are judged at now(), whatever p_as_of says', () => {
  it('a subject hold that expires in 7 days protects its rows from every run today, and previews a month ahead still count them held', async () => {
    await table('t_hold');
    await db.q(`select retention.set_policy('t-hold', 'app.t_hold', 'delete', 'created_at', p_retain => '50 days', p_subject_column => 'user_id')`);
    await db.q(`select retention.place_hold('subject', '4', 'Dispute', p_expires_at => now() + interval '7 days')`);
    const held = await count(db, `app.t_hold where user_id = 4 and created_at < now() - interval '50 days'`);
    expect(held).toBeGreaterThan(0);
    const [pv] = await db.q(`select held_back::int from retention.preview('t-hold', now() + interval '30 days')`);
    expect(pv!.held_back).toBe(await count(db, `app.t_hold where user_id = 4 and created_at < now() - interval '20 days'`));
    await db.call(`call retention.run('t-hold', p_dry_run => true, p_as_of => now() + interval '30 days')`);
    const [dry] = await db.q(`select held_back::int from retention.runs where policy_name = 't-hold' and mode = 'dry_run'`);
    expect(dry!.held_back).toBe(pv!.held_back);
    expect(await sqlState(db.call(`call retention.run('t-hold', p_as_of => now() + interval '30 days')`))).toBe('RT022');
    await db.call(`call retention.run('t-hold')`);
    expect(await count(db, `app.t_hold where user_id = 4 and created_at < now() - interval '50 days'`)).toBe(held);
    expect(await count(db, `app.t_hold where user_id <> 4 and created_at < now() - interval '50 days'`)).toBe(0);
  });

  it('an expired hold no longer applies to a run that looks back in time', async () => {
    await table('t_exp');
    await db.q(`select retention.set_policy('t-exp', 'app.t_exp', 'delete', 'created_at', p_retain => '50 days')`);
    // A hold that ran out yesterday (written by the owner, as if placed last month).
    await db.q(`insert into retention.legal_holds (scope, target, reason, placed_by, placed_at, expires_at)
                values ('table', 'app.t_exp'::regclass, 'Old inquiry', 'test', now() - interval '30 days', now() - interval '1 day')`);
    await db.call(`call retention.run('t-exp', p_as_of => now() - interval '2 days')`);
    expect(await count(db, 'app.t_exp')).toBe(52);
  });
});

describe('stamps carry the real time', () => {
  it('a notice cannot be skipped by a run that looks back: flags get the real clock, and act only after the notice', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.t_acc (id bigint primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    // Ids 101-120: the subject hold on 4 above covers this policy's subject column too.
    await db.q(`insert into app.t_acc select 100 + i, now() - interval '3 years' - make_interval(days => i), null from generate_series(1, 20) i`);
    await db.q(`select retention.set_inactive_accounts_policy('t-acc', 'app.t_acc')`);
    await db.call(`call retention.run('t-acc', p_as_of => now() - interval '60 days')`);
    const [f] = await db.q(`select count(*)::int as n, min(act_after - flagged_at) as notice, bool_and(flagged_at >= now() - interval '1 minute') as real
                              from retention.flagged_rows where policy_name = 't-acc' and status = 'flagged'`);
    expect(f).toEqual({ n: 20, notice: { days: 30 }, real: true });
    await db.call(`call retention.run('t-acc')`);
    await db.call(`call retention.run('t-acc', p_as_of => now() - interval '1 day')`);
    expect(await count(db, 'app.t_acc where deleted_at is not null')).toBe(0);
    expect(await sqlState(db.call(`call retention.run('t-acc', p_as_of => now() + interval '31 days')`))).toBe('RT022');
    expect(await count(db, 'app.t_acc where deleted_at is not null')).toBe(0);
  });

  it('soft_delete with a past p_as_of marks rows with the real time, so a purge policy waits its full period', async () => {
    await table('t_soft');
    await db.q(`select retention.set_policy('t-soft', 'app.t_soft', 'soft_delete', 'created_at', p_retain => '50 days', p_deleted_at_column => 'deleted_at')`);
    await db.q(`select retention.set_policy('t-purge', 'app.t_soft', 'purge_soft_deleted', 'deleted_at', p_retain => '5 days')`);
    // Cutoff 60 days back: rows 61..100 days old are marked — with the real time, not the
    // p_as_of of ten days ago, which would make them look deleted ten days already.
    await db.call(`call retention.run('t-soft', p_as_of => now() - interval '10 days')`);
    expect(await count(db, `app.t_soft where deleted_at >= now() - interval '1 minute'`)).toBe(40);
    await db.call(`call retention.run('t-purge')`);
    expect(await count(db, 'app.t_soft')).toBe(100);
  });
});
