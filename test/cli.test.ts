import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { exitCodeFor } from '../runner/errors.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, inject, it } from 'vitest';
import { type CliResult, runCli } from './support/cli.ts';
import { sqlState, useTestDatabase } from './support/db.ts';
import { AS_OF, count, makeEvents, slowRows } from './support/fixtures.ts';

const db = useTestDatabase();

type Result = CliResult;

function cli(args: string[], opts: { onSpawn?: (p: ChildProcess) => void; env?: Record<string, string> } = {}): Promise<Result> {
  return runCli(args, { url: db.url, ...opts });
}

describe('pg-retention CLI', () => {
  it('every command has --help with an example', async () => {
    const main = await cli(['--help']);
    expect(main.code).toBe(0);
    const names = [...main.stdout.matchAll(/^ {2}(\w+) {2}/gm)].map((m) => m[1]!);
    expect(names).toEqual(['migrate', 'plan', 'apply', 'policies', 'preview', 'run', 'holds', 'approvals', 'erasure', 'export', 'accounts', 'archive', 'objects', 'backups', 'report', 'runs', 'audit', 'doctor', 'worker']);
    for (const name of names) {
      const r = await cli([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toMatch(/Example/);
    }
  });

  it('a word more than a command takes, or an option given twice, is refused (exit 2) and nothing is done (atk97 F2)', async () => {
    await db.q(`create schema if not exists xa`);
    await db.q(`create table if not exists xa.a (id int primary key)`);
    await db.q(`create table if not exists xa.b (id int primary key)`);
    const holdsBefore = await count(db, 'retention.legal_holds');
    const two = await cli(['holds', 'place', 'table', 'xa.a', 'xa.b', '--reason', 'inquiry']);
    expect([two.code, two.stderr]).toEqual([2, expect.stringMatching(/unexpected argument 'xa\.b'[\s\S]*holds place <table\|subject\|policy> <value>/)]);
    const twice = await cli(['holds', 'place', 'table', 'xa.a', '--reason', 'first', '--reason', 'second']);
    expect([twice.code, twice.stderr]).toEqual([2, expect.stringContaining('option --reason given twice')]);
    expect(await count(db, 'retention.legal_holds')).toBe(holdsBefore);
    for (const args of [['holds', 'release', '1', '2', '--reason', 'x'], ['erasure', 'request', 'xa.a', '8', '9', '--requested-by', 'desk'],
                        ['erasure', 'plan', '1', '2'], ['erasure', 'process', '1', '2', '3'], ['approvals', 'approve', '2', '1', '--comment', 'ok'],
                        ['approvals', 'reject', '2', '1', '--comment', 'no'], ['backups', 'policies', 'extra'], ['runs', 'extra'],
                        ['policies', 'a', 'b'], ['archive', 'verify', '1', '2'], ['objects', 'drain', 'x'], ['doctor', 'x']]) {
      const r = await cli(args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, expect.stringContaining('unexpected argument')]);
    }
    expect(await count(db, 'retention.legal_holds')).toBe(holdsBefore);
    expect(await count(db, 'retention.erasure_requests')).toBe(0);
    // What a command takes is still taken.
    const one = await cli(['holds', 'place', 'table', 'xa.a', '--reason', 'inquiry', '--case', 'C-1']);
    expect(one.code, one.stderr).toBe(0);
    expect(await count(db, `retention.legal_holds where target = 'xa.a'::regclass and released_at is null`)).toBe(1);
    await db.q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where target = 'xa.a'::regclass and released_at is null`);
  });

  it('--version, help <command>, and a suggestion for a mistyped command, option or policy', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const v = await cli(['--version']);
    expect([v.code, v.stdout.trim()]).toEqual([0, `pg-retention ${version}`]);
    const h = await cli(['help', 'report']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: pg-retention report /);
    expect((await cli(['help', 'reprot'])).stderr).toMatch(/unknown command 'reprot'; did you mean 'report'\?/);
    const typo = await cli(['prevew']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command 'prevew'; did you mean 'preview'\?/);
    const opt = await cli(['run', 'x', '--exeucte']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/did you mean '--execute'\?/);
    expect((await cli(['run', 'x', '--zzzzzzzz'])).stderr).not.toMatch(/did you mean/);
    // Global options before the command are read as after it (atk33: "unknown command
    // '--verbose'" and a stack trace).
    const lead = await cli(['--verbose', '--json', 'policies']);
    expect(lead.code).toBe(0);
    expect(Array.isArray(JSON.parse(lead.stdout))).toBe(true);
    expect((await cli(['--verbose'])).stderr).not.toMatch(/at main|UsageError/);
    await makeEvents(db, 'app.sugg', 10, 10);
    await db.q(`select retention.set_policy('app.suggested', 'app.sugg', 'delete', 'created_at')`);
    const pol = await cli(['preview', 'app.sugested']);
    expect(pol.code).toBe(2);
    expect(pol.stderr).toMatch(/policy 'app\.sugested' does not exist \[RT008\]/);
    expect(pol.stderr).toMatch(/hint: did you mean 'app\.suggested'\?/);
  });

  it('exits 2 for bad input, 3 for a refusal by a safety rule, 1 for a failure; a database without the schema gets a hint to migrate', async () => {
    expect([exitCodeFor({ code: 'RT008', message: '' }), exitCodeFor({ code: 'RT040', message: '' }), exitCodeFor({ code: 'RT005', message: '' })]).toEqual([2, 2, 2]);
    for (const code of ['RT012', 'RT023', 'RT024', 'RT025', 'RT033', 'RT034', 'RT035', 'RT036', 'RT038']) expect(exitCodeFor({ code, message: '' }), code).toBe(3);
    for (const code of ['RT014', 'RT032', 'RT037', '55P03', '40P01', undefined]) expect(exitCodeFor({ code, message: '' }), String(code)).toBe(1);
    // A refusal through the command line: the ceiling.
    await makeEvents(db, 'app.ceil', 50, 100);
    await db.q(`select retention.set_policy('app.ceil', 'app.ceil', 'delete', 'created_at', p_retain => '1 day', p_max_rows_per_run => 10)`);
    const refused = await cli(['run', 'app.ceil', '--execute']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/RT012/);
    // A database without the retention schema.
    const empty = `retention_empty_${process.pid}`;
    const c = await db.connect();
    await c.query(`drop database if exists ${empty}`);
    await c.query(`create database ${empty}`);
    await c.end();
    const u = new URL(db.url);
    u.pathname = `/${empty}`;
    try {
      const r = await cli(['preview', '--database-url', u.toString()]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/hint: this database has no retention schema, or an older one: run pg-retention migrate/);
    } finally {
      const a = await db.connect();
      await a.query(`drop database if exists ${empty} with (force)`);
      await a.end();
    }
  });

  it('run is a dry run by default; --execute deletes; both are in the ledger with the actor', async () => {
    await makeEvents(db, 'app.c1', 3000, 100);
    await db.q(`select retention.set_policy('c1', 'app.c1', 'delete', 'created_at', p_retain => '10 days', p_batch_size => 500)`);
    const dry = await cli(['run', 'c1', '--as-of', AS_OF]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry run: nothing was deleted/);
    expect(await count(db, 'app.c1')).toBe(3000);
    const live = await cli(['run', 'c1', '--execute', '--as-of', AS_OF], { env: { PG_RETENTION_PROGRESS_MS: '0' } });
    expect(live.code).toBe(0);
    expect(await count(db, 'app.c1')).toBe(300);
    expect(live.stderr).toMatch(/progress: 500\/2700 rows/);
    expect(live.stderr).toMatch(/progress: 2700\/2700 rows, \d+ rows\/s, ETA 0s, 6 batches/);
    const runs = await db.q(`select mode, affected::int, started_by from retention.runs where policy_name = 'c1' order by run_id`);
    expect(runs).toEqual([
      { mode: 'dry_run', affected: 2700, started_by: 'ci-test' },
      { mode: 'live', affected: 2700, started_by: 'ci-test' },
    ]);
  });

  it('exit codes: 2 for bad input, 3 for a refusal, and no stack trace', async () => {
    await makeEvents(db, 'app.c2', 500, 100);
    await db.q(`select retention.set_policy('c2', 'app.c2', 'delete', 'created_at', p_retain => '10 days', p_max_rows_per_run => 10)`);
    const unknown = await cli(['run', 'nope', '--execute']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/policy 'nope' does not exist \[RT008\]\nhint: /);
    expect(unknown.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect((await cli(['run'])).code).toBe(2);
    expect((await cli(['run', 'c2', '--max-rows', 'lots'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    // A time is ISO 8601, read by the CLI (not in the session's DateStyle: atk153 F2).
    const badDate = await cli(['run', 'c2', '--as-of', '2026-13-45']);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toMatch(/--as-of "2026-13-45" is not a date or time pg-retention reads\nhint: give ISO 8601/);
    const badPeriod = await cli(['run', 'c2', '--as-of', 'soon']);
    expect(badPeriod.code).toBe(2);
    expect(badPeriod.stderr).toMatch(/--as-of "soon" is not a date or time/);
    // A value PostgreSQL cannot read as its type is asked wrongly too (atk33), with a hint.
    const badInterval = await cli(['run', 'c2', '--time-budget', 'soon']);
    expect(badInterval.code).toBe(2);
    expect(badInterval.stderr).toMatch(/\[22007\]\nhint: a value given is not one PostgreSQL can read/);
    // The same class of error from an application's trigger while a run deletes is a failure.
    await makeEvents(db, 'app.c9', 20, 100);
    await db.q(`create function app.c9_bad() returns trigger language plpgsql security definer as $$ begin perform 'x'::int; return old; end $$`);
    await db.q(`create trigger c9_bad before delete on app.c9 for each row execute function app.c9_bad()`);
    await db.q(`select retention.set_policy('c9', 'app.c9', 'delete', 'created_at', p_retain => '10 days')`);
    const failed = await cli(['run', 'c9', '--execute', '--as-of', AS_OF]);
    expect(failed.stderr).toMatch(/\[22P02\]/);
    expect(failed.code).toBe(1);
    // A path that cannot be written: what, which path, a hint; asked wrongly (2).
    const noDir = await cli(['report', '--month', '2026-10', '--out', '/nonexistent-dir/report.html']);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/cannot write \/nonexistent-dir\/report\.html: .*no such file or directory.*\nhint: give --out a file/);
    const refused = await cli(['run', 'c2', '--execute', '--as-of', AS_OF]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/ceiling of 10 \[RT012\]/);
    expect(await count(db, 'app.c2')).toBe(500);
    const capped = await cli(['run', 'c2', '--execute', '--max-rows', '10', '--as-of', AS_OF]);
    expect(capped.code).toBe(0);
    expect(await count(db, 'app.c2')).toBe(490);
  });

  it('preview --partitions lists what a drop_partitions policy would do with each partition', async () => {
    await db.q(`create table app.cp (id bigint, created_at timestamptz not null) partition by range (created_at)`);
    await db.q(`create table app.cp_2025_01 partition of app.cp for values from ('2025-01-01') to ('2025-02-01')`);
    await db.q(`create table app.cp_2025_02 partition of app.cp for values from ('2025-02-01') to ('2025-03-01')`);
    await db.q(`insert into app.cp select i, timestamptz '2025-01-01Z' + make_interval(hours => i) from generate_series(0, 1000) i`);
    await db.q(`select retention.set_policy('cp', 'app.cp', 'drop_partitions', 'created_at', p_retain => '1 day')`);
    const r = await cli(['preview', 'cp', '--partitions', '--as-of', '2025-02-20Z', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((p: { partition: string; rows: string | null; action: string }) => [p.partition, p.rows, p.action]))
      .toEqual([['app.cp_2025_01', '744', 'drop'], ['app.cp_2025_02', null, 'keep: not past the cutoff']]);
    const text = await cli(['preview', 'cp', '--partitions', '--as-of', '2025-02-20Z']);
    expect(text.stdout).toMatch(/app\.cp_2025_01 .* 744 .* drop/);
    const usage = await cli(['preview', '--partitions']);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringMatching(/--partitions needs a policy name/)]);
  });

  it('erasure request, plan and list: deadlines and the overdue flag follow --as-of', async () => {
    await db.q(`create table app.people (id text primary key, email text)`);
    await db.q(`create table app.visits (id bigint primary key, person text references app.people)`);
    await db.q(`insert into app.people values ('p-1', 'p1@example.com'), ('p-2', 'p2@example.com')`);
    await db.q(`insert into app.visits values (1, 'p-1'), (2, 'p-1'), (3, 'p-2')`);
    const req = await cli(['erasure', 'request', 'app.people', 'p-1', '--requested-by', 'ticket 9', '--json']);
    expect(req.code).toBe(0);
    const [filed] = JSON.parse(req.stdout);
    expect(filed).toMatchObject({ subject_table: 'app.people', requested_by: 'ticket 9', status: 'pending' });
    const plan = JSON.parse((await cli(['erasure', 'plan', String(filed.request_id), '--json'])).stdout);
    expect(plan.map((p: { target: string; rule: string; rows: string }) => `${p.target} ${p.rule} ${p.rows}`))
      .toEqual(['app.people delete 1', 'app.visits delete 2']);
    const due = new Date(filed.due_at);
    const list = async (asOf: Date) => JSON.parse((await cli(['erasure', 'list', '--as-of', asOf.toISOString(), '--json'])).stdout)
      .find((r: { request_id: string }) => r.request_id === filed.request_id);
    expect(await list(new Date(due.getTime() - 86400_000 * 2.5))).toMatchObject({ overdue: false, days_left: 2 });
    expect(await list(new Date(due.getTime() + 86400_000 * 1.5))).toMatchObject({ overdue: true, days_left: -1 });
    // A request on hold is not processed: exit 3, the reason shown.
    await db.q(`select retention.place_hold('subject', 'p-2', 'Subpoena 77')`);
    const held = JSON.parse((await cli(['erasure', 'request', 'app.people', 'p-2', '--requested-by', 'y', '--json'])).stdout)[0];
    const blocked = await cli(['erasure', 'process', String(held.request_id)]);
    expect([blocked.code, blocked.stdout]).toEqual([3, expect.stringMatching(/blocked_by_hold — legal hold \d+ \(subject\): Subpoena 77/)]);
    const processed = await cli(['erasure', 'process', String(filed.request_id), '--json']);
    expect(processed.code).toBe(0);
    expect(JSON.parse(processed.stdout)).toMatchObject({ status: 'completed', evidence: [
      { target: 'app.people', rule: 'delete', rows: '1' }, { target: 'app.visits', rule: 'delete', rows: '2' }] });
    expect(await db.q(`select id from app.people`)).toEqual([{ id: 'p-2' }]);
    const bad = await cli(['erasure', 'request', 'app.people', 'p-9', '--requested-by', 'x']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/no subject 'p-9' in app\.people/)]);
    expect(await count(db, `retention.erasure_requests`)).toBe(2);
  });

  it('accounts inactive lists flagged accounts with days left as of --as-of; exempt closes a flag, audited with the actor', async () => {
    await db.q(`create table app.users (id bigint primary key, org_id text, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`insert into app.users values (1, 'acme', now() - interval '3 years'), (2, 'acme', now() - interval '2 years 1 month'),
                (3, 'globex', now() - interval '1 year')`);
    await db.q(`select retention.set_inactive_accounts_policy('users.inactive', 'app.users', p_tenant_column => 'org_id')`);
    await db.call(`call retention.run('users.inactive')`);
    const list = async (...extra: string[]) => JSON.parse((await cli(['accounts', 'inactive', '--policy', 'users.inactive', '--json', ...extra])).stdout);
    const open = await list('--as-of', new Date(Date.now() + 10 * 86400_000).toISOString());
    expect(open.map((r: { account: string; tenant: string; days_left: number; status: string }) => `${r.account} ${r.tenant} ${r.days_left} ${r.status}`))
      .toEqual(['1 acme 20 flagged', '2 acme 20 flagged']);
    const ex = await cli(['accounts', 'exempt', 'users.inactive', '2', '--reason', 'service account']);
    expect(ex.code).toBe(0);
    expect(ex.stdout).toMatch(/service account/);
    expect((await list()).map((r: { account: string }) => r.account)).toEqual(['1']);
    expect((await list('--all')).map((r: { account: string; status: string }) => `${r.account} ${r.status}`)).toEqual(['1 flagged', '2 exempted']);
    // Audited with the actor; the row by its token (the link in subject_tokens), not its key.
    const [audit] = await db.q(`select a.actor, t.subject as key from retention.audit_log a
                                  left join retention.subject_tokens t on t.token = a.details->>'key_token'
                                 where a.action = 'row.exempted' order by a.audit_id desc limit 1`);
    expect(audit).toEqual({ actor: 'ci-test', key: 'app.users:2' });
    const bad = await cli(['accounts', 'exempt', 'users.inactive', '999', '--reason', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/app\.users has no row with id = '999'/);
    expect((await cli(['accounts', 'exempt', 'users.inactive'])).code).toBe(2);
    expect((await cli(['accounts', 'shred'])).code).toBe(2);
    const un = await cli(['accounts', 'unexempt', 'users.inactive', '2', '--reason', 'integration retired']);
    expect(un.code).toBe(0);
  });

  it('--json output of preview and runs agrees with the database', async () => {
    await makeEvents(db, 'app.c3', 100, 100);
    await db.q(`select retention.set_policy('c3', 'app.c3', 'delete', 'created_at', p_retain => '50 days')`);
    const r = await cli(['preview', 'c3', '--as-of', AS_OF, '--json']);
    expect(r.code).toBe(0);
    const [row] = JSON.parse(r.stdout);
    expect(row.eligible).toBe(String(await count(db, `app.c3 where created_at < $1::timestamptz - interval '50 days'`, [AS_OF])));
    await cli(['run', 'c3', '--execute', '--as-of', AS_OF]);
    const runs = JSON.parse((await cli(['runs', '--policy', 'c3', '--json'])).stdout);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ policy: 'c3', mode: 'live', status: 'completed', affected: row.would_affect });
  });

  it('holds place, list and release, audited with the actor', async () => {
    const placed = await cli(['holds', 'place', 'subject', '77', '--reason', 'Litigation', '--case', 'C-1', '--json']);
    expect(placed.code).toBe(0);
    const [hold] = JSON.parse(placed.stdout);
    const list = JSON.parse((await cli(['holds', 'list', '--json'])).stdout);
    expect(list.map((h: { hold_id: string }) => h.hold_id)).toContain(hold.hold_id);
    const noReason = await cli(['holds', 'release', String(hold.hold_id)]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/RT010/);
    expect((await cli(['holds', 'release', String(hold.hold_id), '--reason', 'Settled'])).code).toBe(0);
    // Text that would turn the terminal's writing around (U+202E) or hide in it (U+200B) is
    // refused in a reason (atk64 F5), and one stored before that was checked is shown
    // escaped (atk33).
    expect(await sqlState(db.q(`select retention.place_hold('subject', '78', $1)`, [`Smith${String.fromCodePoint(0x202e)}v. Acme`]))).toBe('RT010');
    const [old] = await db.q<{ hold_id: string }>(`select hold_id from retention.place_hold('subject', '78', 'Smith v. Acme')`);
    await db.q(`update retention.legal_holds set reason = $2 where hold_id = $1`, [old!.hold_id, `Smith${String.fromCodePoint(0x202e)}v. Acme\u200b`]);
    const shown = await cli(['holds', 'list']);
    expect(shown.stdout).toContain('Smith\\u{202e}v. Acme\\u{200b}');
    expect(shown.stdout).not.toMatch(/[\u202e\u200b]/);
    const audit = await db.q(`select action, actor from retention.audit_log where object_type = 'legal_hold' and object_name = $1 order by audit_id`, [String(hold.hold_id)]);
    expect(audit).toEqual([
      { action: 'hold.placed', actor: 'ci-test' },
      { action: 'hold.released', actor: 'ci-test' },
    ]);
    expect((await cli(['audit', 'verify'])).stdout).toMatch(/audit log intact/);
  });

  it('Ctrl-C stops after the current batch: exit 130, every deleted row counted', async () => {
    await makeEvents(db, 'app.c4', 4000, 100);
    await slowRows(db, 'app.c4', 0.5);
    await db.q(`select retention.set_policy('c4', 'app.c4', 'delete', 'created_at', p_retain => '1 day',
                  p_batch_size => 100, p_max_rows_per_run => 100000)`);
    const r = await cli(['run', 'c4', '--execute', '--as-of', AS_OF], {
      onSpawn: (p) => {
        void (async () => {
          for (let i = 0; i < 1500; i++) {
            const [b] = await db.q(`select count(*)::int as n from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'c4'`);
            if (b!.n >= 2) break;
            await sleep(20);
          }
          p.kill('SIGINT');
        })();
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/stopping run \d+ after its current batch/);
    const [run] = await db.q(`select * from retention.runs where policy_name = 'c4'`);
    expect(run!.status).toBe('stopped_requested');
    const deleted = 4000 - (await count(db, 'app.c4'));
    expect(deleted).toBeGreaterThan(0);
    expect(deleted).toBeLessThan(3960);
    expect(Number(run!.affected)).toBe(deleted);
  });

  it('doctor lists missing indexes, grants, dropped tables and never-run policies with their fixes', async () => {
    await db.q('create table app.d1 (created_at timestamptz)');
    await db.q('create table app.d2 (created_at timestamptz)');
    await db.q('create table app.d3 (created_at timestamptz primary key)');
    await db.q(`grant select, delete, update (created_at) on app.d3 to retention_runner`);
    await db.q(`select retention.set_policy('d3', 'app.d3', 'delete', 'created_at', p_enabled => false)`);
    await db.q(`select retention.set_policy('d1', 'app.d1', 'delete', 'created_at')`);
    await db.q(`select retention.set_policy('d2', 'app.d2', 'delete', 'created_at', p_enabled => false)`);
    await db.q('drop table app.d2');
    const r = await cli(['doctor', '--json']);
    expect(r.code).toBe(1);
    const problems = JSON.parse(r.stdout).filter((p: { policy: string }) => p.policy.startsWith('d'));
    expect(problems).toEqual(expect.arrayContaining([
      expect.objectContaining({ policy: 'd1', fix: 'CREATE INDEX CONCURRENTLY ON app.d1 (created_at);' }),
      expect.objectContaining({ policy: 'd1', fix: 'GRANT SELECT, DELETE, UPDATE (created_at) ON app.d1 TO retention_runner;' }),
      expect.objectContaining({ policy: 'd2', problem: "the policy's table no longer exists", blocking: true }),
      expect.objectContaining({ policy: 'd3', problem: 'policy is disabled', blocking: true }),
    ]));
    // Just created, it has not come due yet: a note, not a problem.
    expect(problems).toContainEqual(expect.objectContaining({ policy: 'd1', problem: expect.stringMatching(/^has not run yet: its schedule \(daily at 02:00 UTC\) first comes due /), blocking: false }));
    // Once its first occurrence is more than an hour past, never having run is a problem.
    await db.q(`update retention.policies set created_at = now() - interval '3 days' where name = 'd1'`);
    const later = JSON.parse((await cli(['doctor', '--json'])).stdout);
    expect(later).toContainEqual(expect.objectContaining({ policy: 'd1', problem: 'policy has never run', blocking: true }));
  });

  it('doctor passes a fresh install whose policies have not come due yet', async () => {
    const c = await db.connect();
    const fresh = `retention_fresh_${process.pid}`;
    await c.query(`drop database if exists ${fresh}`);
    await c.query(`create database ${fresh} template ${inject('templateDb')}`);
    await c.end();
    const u = new URL(db.url);
    u.pathname = `/${fresh}`;
    try {
      const f = new pg.Client({ connectionString: u.toString() });
      await f.connect();
      await f.query(`create schema app`);
      await f.query(`create table app.fresh (id int primary key, created_at timestamptz not null)`);
      await f.query(`create index on app.fresh (created_at)`);
      await f.query(`grant usage on schema app to retention_runner`);
      await f.query(`grant select, delete, update (created_at) on app.fresh to retention_runner`);
      await f.query(`select retention.set_policy('fresh', 'app.fresh', 'delete', 'created_at', p_retain => '30 days')`);
      await f.end();
      const r = await cli(['doctor', '--database-url', u.toString()]);
      expect(r.stdout).toMatch(/no problems found/);
      expect(r.stdout).toMatch(/notes \(not problems yet\):[\s\S]*fresh/);
      expect(r.code).toBe(0);
    } finally {
      const a = await db.connect();
      await a.query(`drop database if exists ${fresh} with (force)`);
      await a.end();
    }
  });

  it('archive list shows each object\'s rows per table (an object in --json)', async () => {
    await db.q(`insert into retention.archive_objects (object_key, target, created_by, status, tables, rows)
                values ('list-test/1', 'file:///nowhere', 'test', 'verified', '{"app.a": 3, "app.b": 1}', 4)`);
    const r = await cli(['archive', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('app.a: 3, app.b: 1');
    expect(r.stdout).not.toContain('[object Object]');
    const j = await cli(['archive', 'list', '--json']);
    expect(JSON.parse(j.stdout).find((o: { object_key: string }) => o.object_key === 'list-test/1').tables).toEqual({ 'app.a': 3, 'app.b': 1 });
    await db.q(`delete from retention.archive_objects where object_key = 'list-test/1'`);
  });

  it('audit verify exits 1 and names the row when the log was tampered with', async () => {
    await db.q(`select retention.set_default('global', '3 years')`);
    const c = await db.connect();
    await c.query('begin');
    await c.query('alter table retention.audit_log disable trigger audit_log_append_only');
    await c.query(`update retention.audit_log set actor = 'mallory' where audit_id = 1`);
    await c.query('alter table retention.audit_log enable trigger audit_log_append_only');
    await c.query('commit');
    await c.end();
    const r = await cli(['audit', 'verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/audit log TAMPERED at audit_id 1/);
  });

  it('PG_RETENTION_ACTOR with bytes that are not UTF-8 is refused (exit 2), naming it; nothing is placed (atk97 F3)', async () => {
    await db.q(`create schema if not exists xa`);
    await db.q(`create table if not exists xa.a (id int primary key)`);
    const holdsBefore = await count(db, 'retention.legal_holds');
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('bash', ['-c', `PG_RETENTION_ACTOR=$'dana\\xff\\xfe' exec "$0" runner/cli.ts holds place table xa.a --reason inquiry`, process.execPath],
                        { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([2, expect.stringMatching(/PG_RETENTION_ACTOR "dana\uFFFD\uFFFD" is not valid UTF-8[\s\S]*hint: Name who acts in UTF-8/)]);
    expect(await count(db, 'retention.legal_holds')).toBe(holdsBefore);
  });

  it('a --database-url or DATABASE_URL that is no connection URL is refused (exit 2), naming it (atk97 F10)', async () => {
    const flag = await cli(['runs', '--database-url', 'not a url']);
    expect([flag.code, flag.stderr]).toEqual([2, expect.stringMatching(/--database-url "not a url" is not a PostgreSQL connection URL[\s\S]*hint: give postgres:\/\//)]);
    const env = await cli(['runs'], { env: { DATABASE_URL: 'localhost' } });
    expect([env.code, env.stderr]).toEqual([2, expect.stringContaining('DATABASE_URL "localhost" is not a PostgreSQL connection URL')]);
  });

  it('a report of a month that has not begun is refused (exit 2), not a report of zeros (atk97 F10)', async () => {
    const r = await cli(['report', '--month', '2999-01']);
    expect([r.code, r.stderr, r.stdout]).toEqual([2, expect.stringContaining('--month 2999-01 has not begun'), '']);
  });

  it('a key file that never ends (/dev/zero) is refused (exit 2), not read forever (atk97 F10)', async () => {
    const before = await count(db, 'retention.audit_checkpoints');
    const r = await cli(['audit', 'checkpoint', '--signing-key-file', '/dev/zero']);
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('cannot read /dev/zero: more than 64 KiB: not a key file')]);
    expect(await count(db, 'retention.audit_checkpoints')).toBe(before);
  });

  it('connects from the libpq PG* variables when DATABASE_URL is not set, or from --database-url', async () => {
    const u = new URL(db.url);
    const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: u.hostname, PGPORT: u.port, PGUSER: decodeURIComponent(u.username),
                  PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: u.pathname.slice(1) };
    delete env.DATABASE_URL;
    const { spawnSync } = await import('node:child_process');
    const viaPg = spawnSync(process.execPath, ['runner/cli.ts', 'audit', 'verify', '--json'], { env, encoding: 'utf8' });
    expect(viaPg.status, viaPg.stderr).toBe(1); // the previous test tampered with this database's log
    expect(JSON.parse(viaPg.stdout).first_bad_audit_id).toBe('1');
    const viaFlag = await cli(['runs', '--json', '--database-url', db.url], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
    expect(viaFlag.code, viaFlag.stderr).toBe(0);
    const refused = await cli(['runs'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ECONNREFUSED[\s\S]*hint: is PostgreSQL running\?/);
  });
  // A real pseudo-terminal (util-linux script): what a person at a terminal sees.
  function cliTty(args: string[], input: string): Promise<Result> {
    return new Promise((resolve) => {
      const line = [process.execPath, 'runner/cli.ts', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
      const p = spawn('script', ['-qec', line, '/dev/null'], {
        env: { ...process.env, DATABASE_URL: db.url, PG_RETENTION_ACTOR: 'ci-test' }, stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
      // Answer once the question is there.
      const ask = setInterval(() => {
        if (/\[y\/N\]/.test(stdout)) {
          clearInterval(ask);
          p.stdin.end(input);
        }
      }, 50);
      p.on('close', () => clearInterval(ask));
    });
  }

  it('erasure process and apply --prune ask first at a terminal; --yes and scripts are not asked', async () => {
    await db.q(`create table app.asked (id int primary key, email text)`);
    await db.q(`insert into app.asked values (1, 'a@example.test'), (2, 'b@example.test'), (3, 'c@example.test')`);
    const req = async (id: string) => (await db.q<{ request_id: string }>(
      `select request_id from retention.request_erasure('app.asked', $1, 'a form')`, [id]))[0]!.request_id;
    const status = async (id: string) => (await db.q<{ status: string }>(`select status from retention.erasure_requests where request_id = $1`, [id]))[0]!.status;
    const r1 = await req('1');
    const no = await cliTty(['erasure', 'process', r1], 'n\n');
    expect(no.stdout).toMatch(/Process erasure request \d+: delete or scrub 1 rows in 1 steps\? This cannot be undone\. \[y\/N\]/);
    expect(no.code).toBe(3);
    expect(await status(r1)).toBe('pending');
    expect(await count(db, 'app.asked where id = 1')).toBe(1);
    const yes = await cliTty(['erasure', 'process', r1], 'y\n');
    expect(yes.code).toBe(0);
    expect(await status(r1)).toBe('completed');
    // --yes at a terminal, and no terminal at all: not asked.
    const r2 = await req('2');
    const flagged = await cliTty(['erasure', 'process', r2, '--yes'], '');
    expect(flagged.stdout).not.toMatch(/\[y\/N\]/);
    expect(await status(r2)).toBe('completed');
    const r3 = await req('3');
    expect((await cli(['erasure', 'process', r3])).code).toBe(0);
    expect(await status(r3)).toBe('completed');

    // apply --prune, on a database of its own: the policy the file lacks is shown, and
    // stays when not confirmed.
    const fresh = `retention_prune_${process.pid}`;
    const a = await db.connect();
    await a.query(`drop database if exists ${fresh}`);
    await a.query(`create database ${fresh} template ${inject('templateDb')}`);
    await a.end();
    const u = new URL(db.url);
    u.pathname = `/${fresh}`;
    const f = new pg.Client({ connectionString: u.toString() });
    await f.connect();
    await f.query(`create schema app`);
    await f.query(`create table app.pruned (id int primary key, created_at timestamptz not null)`);
    await f.query(`select retention.set_policy('app.pruned', 'app.pruned', 'delete', 'created_at')`);
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(tmpdir(), 'prune-'));
    try {
      const file = path.join(dir, 'retention.yaml');
      await writeFile(file, 'policies: []\n');
      const declined = await cliTty(['apply', '-f', file, '--prune', '--database-url', u.toString()], 'n\n');
      expect(declined.stdout).toMatch(/app\.pruned/);
      expect(declined.stdout).toMatch(/Remove 1 policy or default absent from .*\? Their schedules stop\. \[y\/N\]/);
      expect(declined.code).toBe(3);
      expect((await f.query(`select count(*)::int as n from retention.policies`)).rows[0].n).toBe(1);
      const confirmed = await cliTty(['apply', '-f', file, '--prune', '--database-url', u.toString()], 'y\n');
      expect(confirmed.code).toBe(0);
      expect((await f.query(`select count(*)::int as n from retention.policies`)).rows[0].n).toBe(0);
    } finally {
      await f.end();
      const b = await db.connect();
      await b.query(`drop database if exists ${fresh} with (force)`);
      await b.end();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
