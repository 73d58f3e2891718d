// Attack round atk85 (faults), the finding tested here (the others: notifications.test.ts,
// partitions.test.ts, faults-atk74.test.ts):
//  F4 a notice-period policy whose tenant column held both NULL and '' queued two notices
//     under one key: every run failed (23505) and the table was never cleaned again.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('ordinary data does not stop a policy (atk85 F4)', () => {
  it('no tenant and an empty tenant are two notices, and the run completes', async () => {
    await q(`create schema f4`);
    await q(`create table f4.accounts (id int primary key, tenant text, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await q(`create index on f4.accounts (last_login_at)`);
    await q(`insert into f4.accounts values (1, null, now() - interval '3 years'), (2, '', now() - interval '3 years'), (3, 'acme', now() - interval '3 years')`);
    await q(`select retention.set_inactive_accounts_policy('f4.inactive', 'f4.accounts', p_tenant_column => 'tenant')`);
    await db.call(`call retention.run('f4.inactive')`);
    expect(await q(`select status from retention.runs where policy_name = 'f4.inactive'`)).toEqual([{ status: 'completed' }]);
    expect(await count(db, `retention.flagged_rows where policy_name = 'f4.inactive' and status = 'flagged'`)).toBe(3);
    expect(await q(`select payload->>'tenant' as tenant, (payload->>'count')::int as n from retention.notifications
                     where kind = 'rows_flagged' and policy_name = 'f4.inactive' order by 1 nulls first`))
      .toEqual([{ tenant: null, n: 1 }, { tenant: '', n: 1 }, { tenant: 'acme', n: 1 }]);
  });
});
