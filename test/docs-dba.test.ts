// Every SQL example of the DBA guide runs as written, in the guide's order, on the demo's
// schema: a statement the guide shows failing fails with the message shown, the others
// succeed; the NOTICEs and WARNINGs shown are raised; the columns shown are the columns
// returned. Numbers and dates in the guide's output stand for any.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { asLogin, DEMO_APPROVER, loadDemo } from './support/demo-db.ts';
import { useTestDatabase } from './support/db.ts';
import { runSqlSteps, sqlSteps } from './support/snippets.ts';

const db = useTestDatabase();

describe('docs/dba-guide.md', () => {
  const steps = sqlSteps(readFileSync('docs/dba-guide.md', 'utf8'), 'docs/dba-guide.md');
  beforeAll(async () => {
    await loadDemo(db.url);
  }, 120_000);

  it('has its examples where this check finds them', () => {
    expect(steps.filter((s) => s.kind === 'sql').length).toBeGreaterThan(60);
    expect(steps.some((s) => s.kind === 'sql' && s.error)).toBe(true);
    expect(steps.some((s) => s.kind === 'connect')).toBe(true);
  });

  it('every SQL example runs as written on the demo, with the output the guide shows', async () => {
    const owner = db.url;
    const problems = await runSqlSteps(steps, new Map([[new URL(owner).username, owner],
      [DEMO_APPROVER.role, asLogin(owner, DEMO_APPROVER.role, DEMO_APPROVER.password)]]), owner);
    expect(problems).toEqual([]);
  }, 240_000);
});
