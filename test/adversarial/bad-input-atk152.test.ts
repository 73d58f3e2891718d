// Attack round atk152 (bad input gets a clear error with a hint and changes nothing).
// F1 (critical): `apply` committed the file (and --prune's removals), then counted the rows
// each policy would affect, and a predicate that fails on a row ('note::int > 0' and a note
// 'abc') made it exit 1 with PostgreSQL's raw error: the operator read "failed" while the
// file was in. Apply now plans first, counting where nothing can commit, and refuses the
// file there, naming its line. F2: `export --out` naming a file gave Node's EEXIST. F3:
// `run_policies` took a name no policy has (a warning) and a NULL list. F4: an alias bomb
// crashed the parser's caller, an unknown tag was read as untagged, a NUL in a value was
// the database's encoding error, "30 days 1 days" passed the file check. F6: a policy file
// of any size was read (21 MB: minutes and 1.7 GB).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePolicyFile } from '../../runner/policy-file.ts';
import { runCli } from '../support/cli.ts';
import { sqlState, useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;
const dir = mkdtempSync(path.join(tmpdir(), 'retention-atk152-'));
const cli = (args: string[]) => runCli(args, { url: db.url });

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

const state = async () => (await q<{ p: string; a: number }>(
  `select coalesce(string_agg(name, ',' order by name), '') as p, (select count(*)::int from retention.audit_log) as a from retention.policies`))[0]!;

describe('bad input changes nothing and says so (atk152)', () => {
  it('F1: apply refuses a file whose predicate fails on a row of its table, names the line, and applies nothing (prune included)', async () => {
    await q(`create schema b152`);
    await q(`create table b152.t (id int primary key, created_at timestamptz not null, note text)`);
    await q(`insert into b152.t values (1, now() - interval '1 year', 'abc'), (2, now() - interval '1 year', '7')`);
    await q(`select retention.set_policy('b152.keep', 'b152.t', 'delete', 'created_at', '10 years')`);
    const before = await state();
    const f = file('f1.yaml', `policies:
  - {name: b152.good, table: b152.t, action: delete, age_column: created_at, retain: 30 days}
  - name: b152.bad
    table: b152.t
    action: delete
    age_column: created_at
    retain: 30 days
    predicate: "note::int > 0"
`);
    for (const args of [['plan', '-f', f], ['apply', '-f', f], ['apply', '-f', f, '--prune', '--yes']]) {
      const r = await cli(args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 1]);
      expect(r.stderr).toMatch(/f1\.yaml:8: policies\[1\]\.predicate: cannot be evaluated on the rows of its table: invalid input syntax for type integer: "abc" \[22P02\] — a run would fail on that row/);
      expect(await state()).toEqual(before);
    }
    // Guarded, the same file applies, with its counts.
    const ok = file('f1-ok.yaml', `policies:
  - {name: b152.good, table: b152.t, action: delete, age_column: created_at, retain: 30 days}
  - {name: b152.bad, table: b152.t, action: delete, age_column: created_at, retain: 30 days, predicate: "note ~ '^[0-9]+$' and note::int > 0"}
  - {name: b152.keep, table: b152.t, action: delete, age_column: created_at, retain: 10 years}
`);
    const r = await cli(['apply', '-f', ok]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/policy b152\.bad added[\s\S]*would affect 1 rows now/);
    expect((await state()).p).toBe('b152.bad,b152.good,b152.keep');
  });

  it('F3: run_policies refuses a name no policy has and a NULL list or name before running any', async () => {
    await q(`create schema if not exists b152c`);
    await q(`create table b152c.t (id int primary key, created_at timestamptz not null)`);
    await q(`insert into b152c.t values (1, now() - interval '1 year')`);
    await q(`select retention.set_policy('b152c.p', 'b152c.t', 'delete', 'created_at', '30 days')`);
    const runs = async () => (await q<{ n: number }>(`select count(*)::int as n from retention.runs`))[0]!.n;
    const n = await runs();
    for (const [sql, code] of [[`call retention.run_policies(array['b152c.p', 'no-such-policy'])`, 'RT008'],
                               [`call retention.run_policies(null)`, 'RT022'],
                               [`call retention.run_policies(array['b152c.p', null])`, 'RT022']] as const) {
      expect([sql, await sqlState(db.call(sql))]).toEqual([sql, code]);
    }
    expect(await runs()).toBe(n);
    expect(await q(`select count(*)::int as n from b152c.t`)).toEqual([{ n: 1 }]);
    await db.call(`call retention.run_policies(array['b152c.p'])`);
    expect(await q(`select count(*)::int as n from b152c.t`)).toEqual([{ n: 0 }]);
  });

  it('F2: export --out naming a file is a usage error with a hint', async () => {
    const f = file('afile', 'x');
    const r = await cli(['export', 'b152.t', '1', '--out', f]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/afile is a file, not a directory\nhint: give --out an empty or new directory/)]);
  });

  it('F4, F6: the policy file refuses an alias bomb, an unknown tag, a NUL, a unit given twice and a file over 4 MiB, each naming the file', () => {
    const head = 'policies:\n  - {name: x, table: app.x, action: delete, age_column: created_at, retain: ';
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
policies: []
`;
    const cases: [string, RegExp][] = [
      [bomb, /^f\.yaml:1: \(file\): .*alias.* — write the values out/],
      [`${head}!whatever 30 days}\n`, /^f\.yaml:2: .*whatever.* — remove the tag/],
      [`${head}30 days, predicate: "note = \\u0000"}\n`, /^f\.yaml:2: a value holds a NUL character/],
      [`${head}"30 days 1 days"}\n`, /policies\[0\]\.retain: "30 days 1 days" is not a positive duration/],
      [`${head}30 days}\n# ${'x'.repeat(4 * 1048576)}\n`, /^f\.yaml:1: \(file\): \d+ bytes, more than the 4 MiB/],
    ];
    for (const [text, want] of cases) {
      let problems: string[] = [];
      try {
        parsePolicyFile(text, 'f.yaml');
      } catch (err) {
        problems = (err as { problems?: string[] }).problems ?? [`not a PolicyFileError: ${String(err)}`];
      }
      expect([text.slice(0, 60), problems.join('\n')]).toEqual([text.slice(0, 60), expect.stringMatching(want)]);
    }
  });
});
