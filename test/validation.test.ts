import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { makeEvents } from './support/fixtures.ts';

const db = useTestDatabase();

async function snapshot() {
  const [r] = await db.q(`select (select count(*) from retention.policies)::int as policies,
                                 (select count(*) from retention.defaults)::int as defaults,
                                 (select count(*) from retention.legal_holds)::int as holds,
                                 (select count(*) from retention.audit_log)::int as audit`);
  return r;
}

const setPolicy = (args: string) => db.q(`select retention.set_policy(${args})`);

describe('bad input gets its own error code and changes nothing', () => {
  const cases: [string, string, string][] = [
    ['unknown table', `'p', 'app.nope', 'delete', 'created_at'`, 'RT001'],
    ['SQL injection in the table name', `'p', 'app.v; drop table app.v', 'delete', 'created_at'`, 'RT001'],
    ['unknown age column', `'p', 'app.v', 'delete', 'nope'`, 'RT002'],
    ['age column of the wrong type', `'p', 'app.v', 'delete', 'payload'`, 'RT003'],
    ['negative period', `'p', 'app.v', 'delete', 'created_at', p_retain => '-1 day'`, 'RT004'],
    ['zero period', `'p', 'app.v', 'delete', 'created_at', p_retain => '0'`, 'RT004'],
    ['predicate with a statement separator', `'p', 'app.v', 'delete', 'created_at', p_predicate => 'true; drop table app.v'`, 'RT005'],
    ['predicate escaping its parentheses', `'p', 'app.v', 'delete', 'created_at', p_predicate => 'true) or (true'`, 'RT005'],
    ['predicate with a comment', `'p', 'app.v', 'delete', 'created_at', p_predicate => 'true --'`, 'RT005'],
    ['malformed predicate', `'p', 'app.v', 'delete', 'created_at', p_predicate => 'status ==== 1'`, 'RT005'],
    ['predicate on an unknown column', `'p', 'app.v', 'delete', 'created_at', p_predicate => 'nope = 1'`, 'RT005'],
    ['predicate that is not boolean', `'p', 'app.v', 'delete', 'created_at', p_predicate => 'user_id + 1'`, 'RT005'],
    ['predicate reading another schema', `'p', 'app.v', 'delete', 'created_at', p_predicate => 'exists (select from retention.legal_holds)'`, 'RT005'],
    ['batch size out of bounds', `'p', 'app.v', 'delete', 'created_at', p_batch_size => 0`, 'RT006'],
    ['negative ceiling', `'p', 'app.v', 'delete', 'created_at', p_max_rows_per_run => -5`, 'RT006'],
    ['time budget out of bounds', `'p', 'app.v', 'delete', 'created_at', p_time_budget => '2 days'`, 'RT006'],
    ['lock timeout out of bounds', `'p', 'app.v', 'delete', 'created_at', p_lock_timeout => '0'`, 'RT006'],
    ['unknown action', `'p', 'app.v', 'shred', 'created_at'`, 'RT007'],
    ['soft_delete without its column', `'p', 'app.v', 'soft_delete', 'created_at'`, 'RT007'],
    ['soft_delete with an unknown deleted-at column', `'p', 'app.v', 'soft_delete', 'created_at', p_deleted_at_column => 'gone_at'`, 'RT002'],
    ['unknown subject column', `'p', 'app.v', 'delete', 'created_at', p_subject_column => 'nope'`, 'RT002'],
    ['bad policy name', `'Bad Name!', 'app.v', 'delete', 'created_at'`, 'RT009'],
    ['a view as target', `'p', 'app.vv', 'delete', 'created_at'`, 'RT013'],
    ['the retention schema as target', `'p', 'retention.runs', 'delete', 'started_at'`, 'RT013'],
    ['bad cron schedule', `'p', 'app.v', 'delete', 'created_at', p_schedule => 'every day'`, 'RT016'],
    ['unknown time zone', `'p', 'app.v', 'delete', 'created_at', p_time_zone => 'Mars/Olympus'`, 'RT016'],
  ];

  it.each(cases)('set_policy: %s', async (_what, args, code) => {
    await makeEvents(db, 'app.v', 10, 10);
    await db.q(`create or replace view app.vv as select * from app.v`);
    const before = await snapshot();
    const err = await db.q(`select retention.set_policy(${args})`).catch((e) => e);
    expect(err.code).toBe(code);
    expect(err.hint?.length ?? 0).toBeGreaterThan(10);
    expect(await snapshot()).toEqual(before);
    expect((await db.q(`select count(*)::int as n from app.v`))[0]!.n).toBe(10);
  });

  it('unknown policy, hold and default scopes are rejected', async () => {
    await makeEvents(db, 'app.v', 10, 10);
    await setPolicy(`'known', 'app.v', 'delete', 'created_at'`);
    const before = await snapshot();
    expect(await sqlState(db.call(`call retention.run('nope')`))).toBe('RT008');
    expect(await sqlState(db.q(`select * from retention.preview('nope')`))).toBe('RT008');
    expect(await sqlState(db.q(`select retention.drop_policy('nope')`))).toBe('RT008');
    expect(await sqlState(db.q(`select retention.place_hold('galaxy', 'x', 'r')`))).toBe('RT010');
    expect(await sqlState(db.q(`select retention.place_hold('subject', '1', '  ')`))).toBe('RT010');
    expect(await sqlState(db.q(`select retention.place_hold('subject', '1', 'r', p_expires_at => now() - interval '1 day')`))).toBe('RT010');
    expect(await sqlState(db.q(`select retention.place_hold('table', 'app.nope', 'r')`))).toBe('RT001');
    expect(await sqlState(db.q(`select retention.place_hold('policy', 'nope', 'r')`))).toBe('RT008');
    expect(await sqlState(db.q(`select retention.release_hold(999999, 'r')`))).toBe('RT011');
    expect(await sqlState(db.q(`select retention.set_default('nope_schema', '1 day')`))).toBe('RT015');
    expect(await sqlState(db.q(`select retention.set_default('global', '-1 day')`))).toBe('RT004');
    expect(await snapshot()).toEqual(before);
    expect((await db.q(`select count(*)::int as n from retention.runs`))[0]!.n).toBe(0);
  });

  it('a valid predicate on the table\'s own columns is accepted and stored', async () => {
    await makeEvents(db, 'app.v', 10, 10);
    const [row] = await db.q(`select (retention.set_policy('ok', 'app.v', 'delete', 'created_at',
      p_predicate => $$status in ('failed', 'a (b') and user_id is not null$$)).predicate`);
    // Stored as PostgreSQL deparsed it.
    expect(row!.predicate).toBe(`((status = ANY (ARRAY['failed'::text, 'a (b'::text])) AND (user_id IS NOT NULL))`);
  });
});
