import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyFileJsonSchema, schemaPath } from '../runner/json-schema.ts';
import { useTestDatabase } from './support/db.ts';
import { makeEvents } from './support/fixtures.ts';

const db = useTestDatabase();
const dir = mkdtempSync(path.join(tmpdir(), 'retention-yaml-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['runner/cli.ts', ...args], {
    env: { ...process.env, DATABASE_URL: db.url, PG_RETENTION_ACTOR: 'ci:plan-test' }, encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

const GOOD = `defaults:
  global: 1 year
policies:
  - name: ev.old
    table: app.ev
    action: delete
    age_column: created_at
    retain: 30 days
    subject_column: user_id
  - name: ev.failed
    table: app.ev
    action: delete
    age_column: created_at
    retain: 7 days
    predicate: status = 'failed'
`;

async function dbState() {
  return db.q(`select name, retain::text, predicate, batch_size from retention.policies order by name`);
}

describe('policy file: plan and apply', () => {
  it('plan shows additions and exits 2; apply applies them; a second apply and plan change nothing', async () => {
    await makeEvents(db, 'app.ev', 200, 100);
    const f = file('good.yaml', GOOD);
    const plan = cli(['plan', '-f', f]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/\+ policy ev\.old added {2}\(would affect \d+ rows now; runs daily at 02:00 UTC\)/);
    // Every field of an added policy, named as in the file.
    expect(plan.stdout).toMatch(/\n {4}table +app\.ev\n/);
    expect(plan.stdout).toMatch(/\n {4}subject_column +user_id\n/);
    expect(plan.stdout).toMatch(/Plan: 3 to add, 0 to change, 0 to remove\./);
    expect(await dbState()).toEqual([]);

    const apply = cli(['apply', '-f', f]);
    expect(apply.code).toBe(0);
    expect(await dbState()).toEqual([
      { name: 'ev.failed', retain: '7 days', predicate: "(status = 'failed'::text)", batch_size: null },
      { name: 'ev.old', retain: '30 days', predicate: null, batch_size: null },
    ]);
    const audit = await db.q(`select action, actor from retention.audit_log where actor = 'ci:plan-test' order by audit_id`);
    expect(audit.map((a) => a.action)).toEqual(['default.set', 'policy.created', 'policy.created']);

    const auditCount = (await db.q('select count(*)::int as n from retention.audit_log'))[0]!.n;
    const updatedAt = await db.q('select name, updated_at from retention.policies order by name');
    expect(cli(['apply', '-f', f]).stdout).toMatch(/No changes/);
    expect(cli(['plan', '-f', f]).code).toBe(0);
    expect((await db.q('select count(*)::int as n from retention.audit_log'))[0]!.n).toBe(auditCount);
    expect(await db.q('select name, updated_at from retention.policies order by name')).toEqual(updatedAt);
  });

  it('a changed field shows old and new value; --prune removes policies absent from the file', async () => {
    const f = file('changed.yaml', GOOD.replace('retain: 30 days', 'retain: 60 days').replace(/ {2}- name: ev\.failed[\s\S]*$/, ''));
    const plan = cli(['plan', '-f', f, '--json']);
    expect(plan.code).toBe(2);
    const changes = JSON.parse(plan.stdout);
    expect(changes).toEqual([
      expect.objectContaining({ kind: 'database_only', name: 'ev.failed', fields: [] }),
      expect.objectContaining({ kind: 'changed', name: 'ev.old', fields: [{ field: 'retain', old: '30 days', new: '60 days' }] }),
    ]);
    expect(cli(['plan', '-f', f]).stdout).toMatch(/! policy ev\.failed is in the database but not in the file \(kept; --prune removes it\)/);
    const pruned = cli(['plan', '-f', f, '--prune']);
    expect(pruned.stdout).toMatch(/- policy ev\.failed removed/);
    expect(cli(['apply', '-f', f, '--prune']).code).toBe(0);
    expect((await dbState()).map((p) => `${p.name} ${p.retain}`)).toEqual(['ev.old 60 days']);
    // An empty file (or comments only) is refused, not read as "no policies" (atk33):
    // applied with --prune it would have dropped every policy.
    for (const text of ['', '# retention policies\n']) {
      const empty = cli(['apply', '-f', file('empty.yaml', text), '--prune']);
      expect(empty.stderr).toMatch(/empty\.yaml:1: \(file\): the file is empty/);
      expect(empty.code).not.toBe(0);
      expect((await dbState()).map((p) => p.name)).toEqual(['ev.old']);
    }
  });

  it('a drop_partitions policy with an archive schema applies from the file; an unknown archive schema names its line', async () => {
    await db.q(`create schema if not exists archive`);
    await db.q(`create table app.pev (id bigint, created_at timestamptz not null) partition by range (created_at)`);
    await db.q(`create table app.pev_2025_01 partition of app.pev for values from ('2025-01-01') to ('2025-02-01')`);
    const text = `policies:
  - name: pev.partitions
    table: app.pev
    action: drop_partitions
    age_column: created_at
    retain: 13 months
    archive_schema: archive
`;
    expect(cli(['apply', '-f', file('parts.yaml', text)]).code).toBe(0);
    expect(await db.q(`select action, archive_schema from retention.policies where name = 'pev.partitions'`))
      .toEqual([{ action: 'drop_partitions', archive_schema: 'archive' }]);
    const bad = cli(['apply', '-f', file('parts-bad.yaml', text.replace('archive_schema: archive', 'archive_schema: archiv'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/:7: policies\[0\]\.archive_schema: archive schema 'archiv' is not usable/);
    expect(await db.q(`select archive_schema from retention.policies where name = 'pev.partitions'`)).toEqual([{ archive_schema: 'archive' }]);
  });

  it('a scrub policy applies from the file (YAML null is the null strategy); an unsuitable strategy names its line', async () => {
    await db.q(`create table app.people (id bigint primary key, email text unique, name text, left_at timestamptz not null, scrubbed_at timestamptz)`);
    const text = `policies:
  - name: people.scrub
    table: app.people
    action: scrub
    age_column: left_at
    retain: 30 days
    scrub:
      email: sha256
      name: null
    scrubbed_at_column: scrubbed_at
`;
    expect(cli(['apply', '-f', file('scrub.yaml', text)]).code).toBe(0);
    expect(await db.q(`select scrub_columns, scrubbed_at_column from retention.policies where name = 'people.scrub'`))
      .toEqual([{ scrub_columns: { email: 'sha256', name: 'null' }, scrubbed_at_column: 'scrubbed_at' }]);
    const bad = cli(['apply', '-f', file('scrub-bad.yaml', text.replace('email: sha256', 'email: {constant: gone@example.com}'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/:8: policies\[0\]\.scrub: column email has a unique index/);
    const shape = cli(['apply', '-f', file('scrub-shape.yaml', text.replace('email: sha256', 'email: shred'))]);
    expect(shape.stderr).toMatch(/:8: policies\[0\]\.scrub\.email: must be null, sha256, empty_json or \{constant: "\.\.\."\}/);
  });

  it('an inactive-accounts policy (notice period, tenant column) applies from the file; a table without a one-column key names its line', async () => {
    await db.q(`create table app.members (id bigint primary key, org_id text, last_login_at timestamptz, deleted_at timestamptz)`);
    await db.q(`create table app.members_nokey (org_id text, last_login_at timestamptz, deleted_at timestamptz)`);
    const text = `policies:
  - name: members.inactive
    table: app.members
    action: soft_delete
    age_column: last_login_at
    deleted_at_column: deleted_at
    retain: 2 years
    notice_period: 30 days
    tenant_column: org_id
`;
    expect(cli(['apply', '-f', file('members.yaml', text)]).code).toBe(0);
    expect(await db.q(`select notice_period::text, tenant_column from retention.policies where name = 'members.inactive'`))
      .toEqual([{ notice_period: '30 days', tenant_column: 'org_id' }]);
    const bad = cli(['apply', '-f', file('members-bad.yaml', text.replace('table: app.members', 'table: app.members_nokey'))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/:8: policies\[0\].notice_period: app\.members_nokey has no single-column primary key/);
    const neg = cli(['apply', '-f', file('members-neg.yaml', text.replace('notice_period: 30 days', 'notice_period: -3 days'))]);
    expect(neg.stderr).toMatch(/:8: policies\[0\].notice_period: "-3 days" is not a positive duration/);
  });

  const BAD: [string, string, RegExp][] = [
    ['bad duration', GOOD.replace('retain: 30 days', 'retain: 30 dayz'), /:8: policies\[0\]\.retain: "30 dayz" is not a positive duration — use e\.g\. "30 days"/],
    ['unknown table', GOOD.replace('table: app.ev\n    action: delete\n    age_column: created_at\n    retain: 30 days', 'table: app.nope\n    action: delete\n    age_column: created_at\n    retain: 30 days'), /:5: policies\[0\]\.table: table 'app\.nope' does not exist/],
    ['unknown column', GOOD.replace('subject_column: user_id', 'subject_column: owner_id'), /:9: policies\[0\]\.subject_column: subject column 'owner_id' does not exist/],
    ['wrong column type', GOOD.replace('age_column: created_at\n    retain: 30 days', 'age_column: payload\n    retain: 30 days'), /:7: policies\[0\]\.age_column: column app\.ev\.payload is of type text, not a timestamp/],
    ['duplicate names', GOOD.replace('name: ev.failed', 'name: ev.old'), /:10: policies\[1\]\.name: "ev\.old" is already the name of policies\[0\]/],
    ['unknown action', GOOD.replace('action: delete', 'action: shred'), /:6: policies\[0\]\.action: "shred" is not an action/],
    ['bad cron', GOOD.replace('retain: 7 days', 'retain: 7 days\n    schedule: every night'), /:15: policies\[1\]\.schedule: "every night" is not a cron expression/],
    ['predicate with a statement separator', GOOD.replace(`status = 'failed'`, `status = 'failed'; drop table app.ev`), /:15: policies\[1\]\.predicate: predicate is not a valid condition on app\.ev/],
    ['negative ceiling', GOOD.replace('retain: 7 days', 'retain: 7 days\n    max_rows_per_run: -5'), /:15: policies\[1\]\.max_rows_per_run: must be at least 1/],
    // An error the database raises names the key it is about, not the first key given
    // with the same code (atk97 F4).
    ['a pause too long', GOOD.replace('retain: 7 days', 'retain: 7 days\n    batch_size: 500\n    pause_between_batches: 1 hour'),
      /:16: policies\[1\]\.pause_between_batches: /],
    ['a tenant column without a notice period', GOOD.replace('subject_column: user_id', 'subject_column: user_id\n    tenant_column: status'),
      /:10: policies\[0\]\.tenant_column: p_tenant_column is only used with p_notice_period/],
    ['unknown key', GOOD.replace('retain: 7 days', 'retain: 7 days\n    retian: 8 days'), /:15: policies\[1\]\.retian: unknown key/],
    ['malformed YAML', GOOD.replace('  - name: ev.failed', '  - name: [ev.failed'), /:\d+: /],
    ['negative period', GOOD.replace('global: 1 year', 'global: -1 year'), /:2: defaults\.global: "-1 year" is not a positive duration/],
    ['a setting of another action', GOOD.replace('subject_column: user_id', 'subject_column: user_id\n    scrubbed_at_column: created_at'),
      /:10: policies\[0\]\.scrubbed_at_column: scrubbed_at_column applies to scrub only, not delete/],
    // JavaScript would read it as the object's prototype: the schema's default dropped
    // without a word, then pruned (atk83 F2).
    ['a schema named __proto__', GOOD.replace('global: 1 year', 'global: 1 year\n  schemas:\n    __proto__: 10 years'),
      /:4: "__proto__" cannot be a key in a policy file/],
  ];

  it('a file that is not UTF-8, or a command-line argument that is not, is refused naming its line or argument, and changes nothing (atk83 F5)', async () => {
    await makeEvents(db, 'app.ev', 20, 100);
    const before = await db.q(`select (select count(*) from retention.audit_log)::int as audit, (select count(*) from retention.policies)::int as policies,
                                      (select count(*) from retention.legal_holds)::int as holds`);
    const p = path.join(dir, 'latin1.yaml');
    const [head, tail] = [GOOD.slice(0, GOOD.indexOf('policies:\n') + 10), GOOD.slice(GOOD.indexOf('policies:\n') + 10)];
    writeFileSync(p, Buffer.concat([Buffer.from(`${head}  # caf`), Buffer.from([0xc3, 0x28]), Buffer.from(`\n${tail}`)]));
    for (const command of ['plan', 'apply']) {
      const r = cli([command, '-f', p]);
      expect([command, r.code]).toEqual([command, 1]);
      expect(r.stderr).toMatch(/latin1\.yaml:4: is not valid UTF-8/);
    }
    const r = spawnSync('bash', ['-c', `exec "$0" runner/cli.ts holds place subject $'4\\xff2' --reason $'court\\xc3order'`, process.execPath], {
      env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is not valid UTF-8/);
    expect(await db.q(`select (select count(*) from retention.audit_log)::int as audit, (select count(*) from retention.policies)::int as policies,
                              (select count(*) from retention.legal_holds)::int as holds`)).toEqual(before);
  });

  it.each(BAD)('a file with %s exits 1 from plan and apply naming line and field, and changes nothing', async (_what, text, message) => {
    await makeEvents(db, 'app.ev', 20, 100);
    const before = await db.q(`select (select count(*) from retention.audit_log)::int as audit, (select count(*) from retention.policies)::int as policies`);
    for (const command of ['plan', 'apply']) {
      const r = cli([command, '-f', file('bad.yaml', text)]);
      expect([command, r.code]).toEqual([command, 1]);
      expect(r.stderr).toMatch(/the policy file is not valid/);
      expect(r.stderr).toMatch(message);
    }
    expect(await db.q(`select (select count(*) from retention.audit_log)::int as audit, (select count(*) from retention.policies)::int as policies`)).toEqual(before);
  });

  it('plan lists the policies a changed default gives a new period, with old and new period and count', async () => {
    await makeEvents(db, 'app.ih', 200, 400);
    const text = (global: string) => `defaults:\n  global: ${global}\npolicies:\n  - name: ih.inherits\n    table: app.ih\n    action: delete\n    age_column: created_at\n  - name: ih.own\n    table: app.ih\n    action: delete\n    age_column: created_at\n    retain: 30 days\n`;
    expect(cli(['apply', '-f', file('ih.yaml', text('1 year')), '--prune']).code).toBe(0);
    const r = cli(['plan', '-f', file('ih2.yaml', text('90 days')), '--json']);
    expect(r.code).toBe(2);
    const changes = JSON.parse(r.stdout) as { kind: string; name: string; fields: unknown[]; would_affect: string; would_affect_before: string }[];
    expect(changes.map((c) => `${c.kind} ${c.name}`)).toEqual(['changed global', 'inherited ih.inherits']);
    const inh = changes.find((c) => c.kind === 'inherited')!;
    expect(inh.fields).toEqual([{ field: 'retain', old: '1 year (global)', new: '90 days (global)' }]);
    expect(Number(inh.would_affect_before)).toBeLessThan(Number(inh.would_affect));
    expect(Number(inh.would_affect)).toBe(await db.q(`select count(*)::int as n from app.ih where created_at < now() - interval '90 days'`).then((x) => x[0]!.n));
    expect(cli(['plan', '-f', file('ih2.yaml', text('90 days'))]).stdout)
      .toMatch(/~ policy ih\.inherits: a changed default gives it a new period {2}\(would affect \d+ -> \d+ rows now; runs daily at 02:00 UTC\)\n {4}retain: 1 year \(global\) -> 90 days \(global\)/);
  });

  it('plan warns of a next run its ceiling will refuse, a subject column that goes, a schedule that goes', async () => {
    await makeEvents(db, 'app.wr', 300, 100);
    const base = `policies:\n  - name: wr.events\n    table: app.wr\n    action: delete\n    age_column: created_at\n    retain: 30 days\n    subject_column: user_id\n    schedule: "0 4 1 * *"\n`;
    expect(cli(['apply', '-f', file('wr.yaml', base), '--prune']).code).toBe(0);
    const changed = base.replace('    subject_column: user_id\n', '').replace('    schedule: "0 4 1 * *"\n', '    max_rows_per_run: 10\n');
    const r = cli(['plan', '-f', file('wr2.yaml', changed)]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/warning: subject holds no longer protect rows of app\.wr through its column user_id/);
    expect(r.stdout).toMatch(/warning: its schedule 0 4 1 \* \* goes: it runs daily at 02:00 UTC \(system default\)/);
    expect(r.stdout).toMatch(/warning: the next run will be refused: it would affect \d+ rows, over its ceiling of 10 \(max_rows_per_run\)/);
    // Markdown for a pull-request comment: the summary, the warnings, a table and the fields.
    const md = cli(['plan', '-f', file('wr2.yaml', changed), '--format', 'markdown']);
    expect(md.code).toBe(2);
    expect(md.stdout).toMatch(/^### pg-retention plan\n\n\*\*Plan: 0 to add, 1 to change, 0 to remove\.\*\*/);
    expect(md.stdout).toMatch(/- :warning: `wr\.events`: the next run will be refused/);
    expect(md.stdout).toMatch(/\| ~ \| policy `wr\.events` \| changed \| \d+ \| daily at 02:00 UTC \|/);
    expect(md.stdout).toMatch(/\| max\\_rows\\_per\\_run \| 10000 \| 10 \|/);
    expect(cli(['plan', '-f', file('wr2.yaml', changed), '--format', 'yaml']).code).toBe(1);
    expect(cli(['plan', '-f', file('wr2.yaml', changed), '--format', 'yaml']).stderr).toMatch(/unknown --format yaml/);
  });

  it('a saved plan applies while the database is as planned, and is refused (exit 3) once it changed', async () => {
    await makeEvents(db, 'app.sp', 50, 100);
    const text = `policies:\n  - name: sp.events\n    table: app.sp\n    action: delete\n    age_column: created_at\n    retain: 30 days\n`;
    const planFile = path.join(dir, 'plan.json');
    const made = cli(['plan', '-f', file('sp.yaml', text), '--prune', '--out', planFile]);
    expect(made.code).toBe(2);
    expect(JSON.parse(readFileSync(planFile, 'utf8'))).toMatchObject({ version: 1, text, changes: expect.any(Array) });
    // The database changes after the plan: the saved plan is refused and nothing is applied.
    await db.q(`select retention.set_policy('sp.other', 'app.sp', 'delete', 'created_at', interval '1 year')`);
    const stale = cli(['apply', '--plan', planFile]);
    expect(stale.code).toBe(3);
    expect(stale.stderr).toMatch(/the database changed since the plan in .*plan\.json was made/);
    expect(await db.q(`select name from retention.policies where name like 'sp.%' order by name`)).toEqual([{ name: 'sp.other' }]);
    // Planned again, it applies (pruning what the plan removes), and only once.
    expect(cli(['plan', '-f', file('sp.yaml', text), '--prune', '--out', planFile]).code).toBe(2);
    const applied = cli(['apply', '--plan', planFile]);
    expect(applied.code).toBe(0);
    expect(await db.q(`select name from retention.policies where name like 'sp.%' order by name`)).toEqual([{ name: 'sp.events' }]);
    expect(cli(['apply', '--plan', planFile]).code).toBe(3);
    // A plan whose file was edited after it was made applies nothing: its changes are not the ones shown.
    expect(cli(['plan', '-f', file('sp.yaml', text.replace('30 days', '40 days')), '--prune', '--out', planFile]).code).toBe(2);
    const edited = JSON.parse(readFileSync(planFile, 'utf8'));
    writeFileSync(planFile, JSON.stringify({ ...edited, text: edited.text.replace('40 days', '1 day') }));
    const tampered = cli(['apply', '--plan', planFile]);
    expect(tampered.code).toBe(3);
    expect(tampered.stderr).toMatch(/applying it now would make other changes than it shows/);
    expect(await db.q(`select retain::text from retention.policies where name = 'sp.events'`)).toEqual([{ retain: '30 days' }]);
    // Not a plan, both a file and a plan, a plan given to plan: errors, exit 1 (2 means changes).
    expect(cli(['apply', '--plan', file('notaplan.json', '{"x": 1}')]).code).toBe(1);
    expect(cli(['apply', '--plan', planFile, '-f', file('sp.yaml', text)]).code).toBe(1);
    expect(cli(['plan', '-f', file('sp.yaml', text), '--plan', planFile]).code).toBe(1);
  });

  it('no value breaks out of the output: markdown stays one table and its sections, the terminal gets no escape sequences', async () => {
    await makeEvents(db, 'app.mi', 20, 100);
    const policyFile = (description: string) => file('mi.yaml', `policies:\n  - name: mi.first\n    description: ${JSON.stringify(description)}\n    table: app.mi\n    action: delete\n    age_column: created_at\n    retain: 3650 days\n  - name: mi.evil\n    table: app.mi\n    action: delete\n    age_column: created_at\n    retain: 1 day\n`);
    // A description with an escape sequence is refused before anything is planned (it would
    // stay in the audit log for good); the database refuses it too (RT006).
    const escaped = cli(['plan', '-f', policyFile('Sessions \u001b[2A\u001b[2K')]);
    expect(escaped.code).toBe(1);
    expect(escaped.stderr).toMatch(/description: must be plain text: no control \(but line breaks and tabs\)/);
    await expect(db.q(`select retention.set_policy('mi.x', 'app.mi', 'delete', 'created_at', interval '1 year', p_description => E'a\\x1b[2A')`))
      .rejects.toMatchObject({ code: 'RT006' });
    expect(await db.q(`select name from retention.policies where name like 'mi.%'`)).toEqual([]);
    // What is allowed still cannot break the markdown out of its table and sections.
    const evil = 'Sessions\r\r</details>\r\r**Plan: 0 to add, 0 to change, 0 to remove.**\r\r<!-- | x | `code`';
    const f = policyFile(evil);
    const md = cli(['plan', '-f', f, '--format', 'markdown']).stdout;
    const ESC = String.fromCharCode(27);
    expect(md.includes(ESC) || md.includes('\r') || md.includes('<!--')).toBe(false);
    expect(md.match(/<details>/g)?.length).toBe(md.match(/<\/details>/g)?.length);
    expect(md.match(/\*\*Plan:/g)).toHaveLength(1);
    expect(md).toMatch(/&lt;\/details&gt;/);
    expect(md).toMatch(/\| retain \| \(none\) \| 1 day \|/);
    const plain = cli(['plan', '-f', f]).stdout;
    expect(plain.includes(ESC) || plain.includes('\r')).toBe(false);
    expect(cli(['apply', '-f', f]).code).toBe(0);
    // A description stored before notes were checked (an older release) still reaches the
    // terminal without its escape sequences.
    await db.q(`update retention.policies set description = E'Sessions \\x1b[2A\\x1b[2K\\r' where name = 'mi.first'`);
    const shown = cli(['policies', 'mi.first']);
    expect(shown.stdout.includes(ESC) || shown.stdout.includes('\r')).toBe(false);
    expect(shown.stdout).toMatch(/\\x1b\[2K/);
  });

  it('the committed JSON Schema matches the zod schema (run node runner/json-schema.ts)', () => {
    expect(readFileSync(schemaPath, 'utf8')).toBe(policyFileJsonSchema());
  });
});
