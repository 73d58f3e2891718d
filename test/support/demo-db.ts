// The demo's application on a test database, as the guides' examples expect it: the
// tables of examples/schema.sql, the rows of examples/seed.sql (both run by psql -f), the schedule of examples/retention.yaml, and the second
// person of the approval examples (demo_approver, password demo, as make demo makes it).
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { planOrApply } from '../../runner/plan.ts';
import { loadPolicyFile } from '../../runner/policy-file.ts';

export const DEMO_APPROVER = { role: 'demo_approver', password: 'demo' };

export async function loadDemo(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    // With psql, as the DBA guide says to load them.
    const psql = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', 'examples/schema.sql', '-f', 'examples/seed.sql', url],
                           { encoding: 'utf8' });
    if (psql.status !== 0) throw new Error(`psql -f examples/schema.sql -f examples/seed.sql: ${psql.error?.message ?? psql.stderr}`);
    await planOrApply(c, await loadPolicyFile('examples/retention.yaml'), { apply: true, prune: true });
    // Cluster-wide and shared with the demo's own test: made once, never dropped.
    await c.query(`do $$ begin
        create role ${DEMO_APPROVER.role} login password '${DEMO_APPROVER.password}' in role retention_approver;
      exception when duplicate_object or unique_violation then null; end $$`);
  } finally {
    await c.end();
  }
}

/** The URL of the same database as another login. */
export function asLogin(url: string, role: string, password: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = password;
  return u.toString();
}
