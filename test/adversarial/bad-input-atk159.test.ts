// Attack round atk159 (bad input changes nothing). F1 (major): `report --month M --store
// --out /bad/path` stored the month's report (once only, audited, announced by a webhook)
// and only then failed on --out; --out is checked first now. F7: `report --out ''` was
// Node's ERR_INVALID_ARG_TYPE. (F3, migrate and libpq's URL forms: cli-atk156.test.ts.)
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

describe('report checks --out before it stores (atk159)', () => {
  it('F1, F7: a --out that cannot be written is a usage error with nothing stored, audited or queued', async () => {
    const state = async () => (await q<{ r: number; a: number; n: number }>(
      `select (select count(*)::int from retention.compliance_reports) as r, (select count(*)::int from retention.audit_log) as a,
              (select count(*)::int from retention.notifications) as n`))[0];
    const before = await state();
    for (const out of ['/nonexistent-dir-159/report.md', '', '/tmp']) {
      const r = await runCli(['report', '--store', '--out', out], { url: db.url });
      expect([out, r.code, r.stderr]).toEqual([out, 2, expect.stringMatching(/--out|cannot write|is a directory/)]);
      expect(r.stderr).toMatch(out === '' ? /option --out is empty\nhint: Give it a value/ : /hint: give --out a file/);
    }
    expect(await state()).toEqual(before);
  });
});
