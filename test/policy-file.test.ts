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
    expect(plan.stdout).toMatch(/\+ policy ev\.old added {2}\(would affect \d+ rows now\)/);
    expect(plan.stdout).toMatch(/Plan: 3 to add, 0 to change, 0 to remove\./);
    expect(await dbState()).toEqual([]);

    const apply = cli(['apply', '-f', f]);
    expect(apply.code).toBe(0);
    expect(await dbState()).toEqual([
      { name: 'ev.failed', retain: '7 days', predicate: "(status = 'failed'::text)", batch_size: 1000 },
      { name: 'ev.old', retain: '30 days', predicate: null, batch_size: 1000 },
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
      expect.objectContaining({ kind: 'changed', name: 'ev.old', fields: [{ field: 'retain', old: '30 days', new: '60 days' }] }),
    ]);
    const pruned = cli(['plan', '-f', f, '--prune']);
    expect(pruned.stdout).toMatch(/- policy ev\.failed removed/);
    expect(cli(['apply', '-f', f, '--prune']).code).toBe(0);
    expect((await dbState()).map((p) => `${p.name} ${p.retain}`)).toEqual(['ev.old 60 days']);
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
    expect(bad.code).toBe(2);
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
    expect(bad.code).toBe(2);
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
    expect(bad.code).toBe(2);
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
    ['unknown key', GOOD.replace('retain: 7 days', 'retain: 7 days\n    retian: 8 days'), /:15: policies\[1\]\.retian: unknown key/],
    ['malformed YAML', GOOD.replace('  - name: ev.failed', '  - name: [ev.failed'), /:\d+: /],
    ['negative period', GOOD.replace('global: 1 year', 'global: -1 year'), /:2: defaults\.global: "-1 year" is not a positive duration/],
  ];

  it.each(BAD)('a file with %s exits 2 naming line and field, and changes nothing', async (_what, text, message) => {
    await makeEvents(db, 'app.ev', 20, 100);
    const before = await db.q(`select (select count(*) from retention.audit_log)::int as audit, (select count(*) from retention.policies)::int as policies`);
    const r = cli(['apply', '-f', file('bad.yaml', text)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the policy file is not valid/);
    expect(r.stderr).toMatch(message);
    expect(await db.q(`select (select count(*) from retention.audit_log)::int as audit, (select count(*) from retention.policies)::int as policies`)).toEqual(before);
  });

  it('the committed JSON Schema matches the zod schema (run node runner/json-schema.ts)', () => {
    expect(readFileSync(schemaPath, 'utf8')).toBe(policyFileJsonSchema());
  });
});
