// Attack round atk159's minor findings (bad input changes nothing), left at stop 52:
// F2 a saved plan edited by hand (a TypeError), F5 -f of a device or a huge file (read
// whole before its size was refused), F6 export --out's directories made before a
// refusal, F7 an empty option value (plan --out '' saved nothing without a word), F8
// backups plan --names printing names xargs splits or reads as options, F9 a blank
// PG_RETENTION_ACTOR recorded, F11 years before 100 read as 19xx, --last 1e20.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'atk159b-'));

const POLICY_FILE = `policies:
  - name: atk159b.events
    table: atk159b.events
    action: delete
    age_column: created_at
    retain: 30 days
`;

describe('bad input to the command line changes nothing (atk159 minor findings)', () => {
  it('F2: a saved plan whose changes were removed or altered by hand is a usage error, nothing applied', async () => {
    await q(`create schema if not exists atk159b`);
    await q(`create table if not exists atk159b.events (id int primary key, created_at timestamptz not null)`);
    const dir = tmp();
    const f = path.join(dir, 'retention.yaml');
    writeFileSync(f, POLICY_FILE);
    const planFile = path.join(dir, 'plan.json');
    const planned = await runCli(['plan', '-f', f, '--out', planFile], { url: db.url });
    expect(planned.code, planned.stderr).toBe(2);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Record<string, unknown>;
    for (const [what, edit] of [
      ['changes removed', (p: Record<string, unknown>) => { delete p.changes; }],
      ['changes not an array', (p: Record<string, unknown>) => { p.changes = { a: 1 }; }],
      ['a change without fields', (p: Record<string, unknown>) => { p.changes = [{ kind: 'added', object: 'policy', name: 'x' }]; }],
      ['prune a string', (p: Record<string, unknown>) => { p.prune = 'yes'; }],
    ] as const) {
      const copy = structuredClone(plan);
      edit(copy);
      writeFileSync(planFile, JSON.stringify(copy));
      const r = await runCli(['apply', '--plan', planFile], { url: db.url });
      expect([what, r.code, r.stderr]).toEqual([what, 1, expect.stringMatching(/is not a plan saved by pg-retention plan --out \(.+\)\nhint: make one with/)]);
      expect(r.stderr).not.toMatch(/TypeError|at /);
    }
    expect(await q(`select count(*)::int as n from retention.policies`)).toEqual([{ n: 0 }]);
  });

  it('F5: -f of a device or of a file over 4 MiB is refused without reading it whole', async () => {
    const dir = tmp();
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(5 * 1048576)}\n${POLICY_FILE}`);
    for (const f of ['/dev/zero', big]) {
      const r = await runCli(['plan', '-f', f], { url: db.url, nodeArgs: ['--max-old-space-size=96'] });
      expect([f, r.code, r.stderr]).toEqual([f, 1, expect.stringMatching(/:1: \(file\): more than the 4 MiB pg-retention reads in a policy file/)]);
    }
    const r = await runCli(['plan', '-f', dir], { url: db.url });
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/cannot read the file: EISDIR/)]);
  });

  it('F6: export --out into new directories leaves none behind when the export is refused', async () => {
    const dir = tmp();
    const out = path.join(dir, 'a', 'b', 'c');
    const r = await runCli(['export', 'atk159b.nosuch', '7', '--out', out], { url: db.url });
    expect(r.code, r.stderr).not.toBe(0);
    expect(existsSync(path.join(dir, 'a'))).toBe(false);
    // A directory that was there already stays.
    const kept = path.join(dir, 'kept');
    await runCli(['export', 'atk159b.nosuch', '7', '--out', path.join(kept, 'x')], { url: db.url });
    expect(existsSync(kept)).toBe(false);
  });

  it('F7: an empty option value is a usage error naming the option, before the database is touched', async () => {
    const dir = tmp();
    const f = path.join(dir, 'retention.yaml');
    writeFileSync(f, POLICY_FILE);
    const audit = await q(`select count(*)::int as n from retention.audit_log`);
    for (const args of [['plan', '-f', f, '--out', ''], ['plan', '-f', f, '--out', '  '], ['runs', '--last', ''],
                        ['holds', 'place', 'table', 'atk159b.events', '--reason', ''], ['policies', '--database-url', '']]) {
      const r = await runCli(args, { url: db.url });
      const name = args[args.length - 2]!;
      expect([args, r.code, r.stderr]).toEqual([args, expect.any(Number), expect.stringContaining(`option ${name} is empty\nhint: Give it a value, or leave the option out.`)]);
      expect(r.code).not.toBe(0);
    }
    expect(await q(`select count(*)::int as n from retention.audit_log`)).toEqual(audit);
    expect(await q(`select count(*)::int as n from retention.legal_holds`)).toEqual([{ n: 0 }]);
  });

  it('F8: backups plan --names refuses names xargs would split or read as options, printing none', async () => {
    await q(`select retention.set_backup_policy('b159', 'b159', p_keep_daily => '1 day', p_keep_weekly => '1 day', p_keep_monthly => '1 day')`);
    const dir = tmp();
    // (Control and format characters the database refuses in a listing itself: RT039.)
    for (const name of ['base 1', '-rf', "it's", 'a"b', 'back\\slash', 'nbsp\u00a0name']) {
      const listing = path.join(dir, 'listing.json');
      writeFileSync(listing, JSON.stringify([{ name, taken_at: '2020-01-01T00:00:00Z' }, { name: 'plain_old', taken_at: '2020-01-02T00:00:00Z' },
                                             { name: 'newest', taken_at: new Date().toISOString() }]));
      const r = await runCli(['backups', 'plan', 'b159', '--listing', listing, '--names'], { url: db.url });
      expect([name, r.code, r.stdout]).toEqual([name, 2, '']);
      expect(r.stderr).toMatch(/cannot be printed one per line for xargs[^]*hint: use --json/);
      // --json still lists it (and the decision) for a tool that reads JSON.
      const j = await runCli(['backups', 'plan', 'b159', '--listing', listing, '--json'], { url: db.url });
      expect(j.code, j.stderr).toBe(0);
      expect(JSON.parse(j.stdout).map((x: { backup_name: string }) => x.backup_name)).toContain(name);
    }
    // A listing read no further than 16 MiB (atk168: /dev/zero read half a gigabyte).
    const zero = await runCli(['backups', 'plan', 'b159', '--listing', '/dev/zero', '--names'], { url: db.url, nodeArgs: ['--max-old-space-size=128'] });
    expect([zero.code, zero.stdout, zero.stderr]).toEqual([2, '', expect.stringMatching(/the listing is more than 16 MiB/)]);
    const listing = path.join(dir, 'ok.json');
    writeFileSync(listing, JSON.stringify([{ name: 'plain_old', taken_at: '2020-01-02T00:00:00Z' }, { name: 'newest', taken_at: new Date().toISOString() }]));
    const ok = await runCli(['backups', 'plan', 'b159', '--listing', listing, '--names'], { url: db.url });
    expect([ok.code, ok.stdout, ok.stderr]).toEqual([0, 'plain_old\n', '']);
  });

  it('F9: a blank PG_RETENTION_ACTOR is refused, nothing recorded in its name', async () => {
    const audit = await q(`select count(*)::int as n from retention.audit_log`);
    for (const actor of ['', '   ', '\u200b', '\t']) {
      const r = await runCli(['holds', 'place', 'table', 'atk159b.events', '--reason', 'litigation'], { url: db.url, actor });
      expect([JSON.stringify(actor), r.code, r.stderr]).toEqual([JSON.stringify(actor), 2, expect.stringMatching(/PG_RETENTION_ACTOR .* names nobody\nhint: /)]);
    }
    // A name with a line break (recorded without it) is refused too (atk168).
    for (const actor of ['a\nb', 'desk\r', 'a\u0007b']) {
      const r = await runCli(['holds', 'place', 'table', 'atk159b.events', '--reason', 'litigation'], { url: db.url, actor });
      expect([JSON.stringify(actor), r.code, r.stderr]).toEqual([JSON.stringify(actor), 2, expect.stringMatching(/PG_RETENTION_ACTOR .* has a control character\nhint: /)]);
    }
    expect(await q(`select count(*)::int as n from retention.audit_log`)).toEqual(audit);
    expect(await q(`select count(*)::int as n from retention.legal_holds`)).toEqual([{ n: 0 }]);
  });

  it('F11: a year before 100 is a year, and --last takes digits only', async () => {
    const r = await runCli(['holds', 'place', 'table', 'atk159b.events', '--reason', 'litigation', '--expires-at', '0050-01-01'], { url: db.url });
    // Read as the year 50 (in the past: refused by the database for that reason, not called "not ISO").
    expect(r.stderr).not.toMatch(/is not a date or time pg-retention reads/);
    for (const last of ['1e20', '0x10', '1.0', '+3', '0', '99999999']) {
      const x = await runCli(['runs', '--last', last], { url: db.url });
      expect([last, x.code, x.stderr]).toEqual([last, 2, expect.stringMatching(/--last must be a whole number from 1 to 9999999/)]);
    }
    expect((await runCli(['runs', '--last', '5'], { url: db.url })).code).toBe(0);
  });
});
