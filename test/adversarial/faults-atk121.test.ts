// Attack round atk121 (nothing lost; bad input changes nothing), the smaller findings:
//  F2 a statement timeout during an offload gave no hint;
//  F3 a negative notice or archive period warned "shorter than a day … alter_policy
//     changes it" before the error refusing it;
//  and request_stop of a run that does not exist answered false, as for a finished run.
// (F1, a local archive write not flushing its directory: test/archive-fsync.test.ts.)
import { describe, expect, it } from 'vitest';
import { describe as describeError } from '../../runner/errors.ts';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('smaller findings of atk121', () => {
  it('a cancelled statement (57014) is explained with a hint', () => {
    const text = describeError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }));
    expect(text).toMatch(/\[57014\]\nhint: the statement was cancelled \(statement_timeout/);
  });

  // atk133 F1: a full disk while an archive object was written printed Node's message alone.
  it('a full disk with no path named (an archive object being written) is explained with a hint', () => {
    const text = describeError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    expect(text).toMatch(/\[ENOSPC\]\nhint: no space left where pg-retention writes .*rows waiting for offload stay in the database/);
  });

  for (const setting of ['p_notice_period', 'p_archive_retain'] as const) {
    it(`a negative ${setting} is refused without a warning first, and nothing is set`, async () => {
      await q(`create schema if not exists n3`);
      await q(`create table if not exists n3.t (id int primary key, created_at timestamptz not null)`);
      const before = await count(db, 'retention.policies');
      const c = await db.connect();
      const notices: string[] = [];
      c.on('notice', (n) => notices.push(n.message ?? ''));
      try {
        expect(await sqlState(c.query(`select retention.set_policy('n3.t', 'n3.t', 'delete', 'created_at', '1 year', ${setting} => '-1 day'${setting === 'p_archive_retain' ? ', p_archive => true' : ''})`))).toBe('RT004');
      } finally {
        await c.end();
      }
      expect(notices.filter((n) => /shorter than a day/.test(n))).toEqual([]);
      expect(await count(db, 'retention.policies')).toBe(before);
    });
  }

  it('request_stop of a run that does not exist: RT008; of a finished one: false', async () => {
    expect(await sqlState(q(`select retention.request_stop(987654321)`))).toBe('RT008');
    await q(`create schema s4`);
    await q(`create table s4.t (id int primary key, created_at timestamptz not null)`);
    await q(`select retention.set_policy('s4.t', 's4.t', 'delete', 'created_at', '1 year')`);
    await db.call(`call retention.run('s4.t')`);
    const run = (await q(`select run_id from retention.runs where policy_name = 's4.t'`))[0]!.run_id;
    expect(await q(`select retention.request_stop($1) as s`, [run])).toEqual([{ s: false }]);
  });
});
