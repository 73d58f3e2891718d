// The demo's scenario on a database of its own: migrate, the example application, the
// retention schedule, a hold, a run of every policy, files deleted with their rows, the
// inactive-accounts lifecycle a month on, an erasure, the approved and archived realty
// purge, the compliance report of the month, the audit log. examples/demo.ts runs it on
// the embedded server (make demo); test/demo.test.ts runs it on a test database and checks
// what it prints against the ledger.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { objectRecord, offload, readObject, restore } from '../runner/archive/archive.ts';
import { parseKeyRing } from '../runner/archive/envelope.ts';
import { LocalDirTarget } from '../runner/archive/storage.ts';
import { loadConfig } from '../runner/config.ts';
import { installJobSchema, migrate } from '../runner/migrate.ts';
import { drainObjects } from '../runner/objects.ts';
import { formatPlan, planOrApply } from '../runner/plan.ts';
import { loadPolicyFile } from '../runner/policy-file.ts';
import { render, type Report } from '../runner/report.ts';
import { formatTable } from '../runner/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function countFiles(dir: string): Promise<number> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
}

export interface ScenarioResult {
  /** The compliance report of the demo's month (the 31 days it simulates, up to now). */
  report: Report;
  /** Where it wrote the report as HTML. */
  reportHtml: string;
}

/** Runs the demo on url (a fresh, empty database); files go to dirs, output to step/log. */
export async function demoScenario(url: string, dirs: { recordings: string; archive: string; report: string },
                                   step: (s: string) => void, log: (s: string) => void = console.log): Promise<ScenarioResult> {
  step('pg-retention migrate');
  await migrate(url, (l) => log(l));
  await installJobSchema(url, loadConfig({ DATABASE_URL: url }), (l) => log(l));

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(`set retention.actor = 'demo'`);
  const sql = (f: string) => readFile(path.join(root, 'examples', f), 'utf8');

  step('Creating the example application (examples/schema.sql) and ~100k rows (examples/seed.sql)');
  await db.query(await sql('schema.sql'));
  const asOf = (await db.query('select now() as t')).rows[0].t as Date;
  await db.query(`select set_config('demo.as_of', $1, false)`, [asOf.toISOString()]);
  await db.query(await sql('seed.sql'));
  const total = await db.query(`select (select sum(n_live_tup)::int from pg_stat_user_tables where schemaname in ('auth','ops','meet','realty')) as n,
      (select count(*)::int from pg_class c join pg_namespace s on s.oid = c.relnamespace
        where s.nspname in ('auth','ops','meet','realty') and c.relkind in ('r', 'p') and not c.relispartition) as tables`);
  log(`${total.rows[0].n} rows in ${total.rows[0].tables} tables (ops.request_logs partitioned by month)`);

  step('Declaring the retention schedule: pg-retention apply -f examples/retention.yaml');
  const { changes } = await planOrApply(db, await loadPolicyFile(path.join(root, 'examples', 'retention.yaml')), { apply: true, prune: true });
  log(formatPlan(changes, true).split('\n').at(-1) ?? '');
  log(formatTable((await db.query(
    `select name, action, age_column, retain::text, retain_source from retention.effective_policies order by name`)).rows));

  step('Placing a legal hold on user 42');
  const hold = await db.query(`select hold_id from retention.place_hold('subject', '42', 'Litigation: Doe v. Example Corp', p_case_reference => 'CASE-2026-117')`);
  log(`hold ${hold.rows[0].hold_id}: every row whose subject column is 42 is protected`);
  const user42 = async () => (await db.query(`select
      (select count(*) from auth.sessions where user_id = 42)
    + (select count(*) from auth.refresh_tokens where user_id = 42)
    + (select count(*) from auth.login_history where user_id = 42)
    + (select count(*) from ops.app_logs where user_id = 42)
    + (select count(*) from ops.request_logs where user_id = 42)::int as n`)).rows[0].n;
  const before42 = await user42();

  step('SELECT * FROM retention.preview()');
  log(formatTable((await db.query(
    `select policy, retain::text, to_char(cutoff, 'YYYY-MM-DD HH24:MI') as cutoff, eligible, held_back, would_affect, to_char(oldest_eligible, 'YYYY-MM-DD') as oldest_eligible from retention.preview()`)).rows));

  step("SELECT * FROM retention.partitions('ops.request-logs')");
  log(formatTable((await db.query(
    `select partition, to_char(lower_bound, 'YYYY-MM-DD') as lower_bound, to_char(upper_bound, 'YYYY-MM-DD') as upper_bound, rows, held_rows, action
       from retention.partitions('ops.request-logs')`)).rows));

  step("Recordings' files in object storage go with their rows: retention.set_object_column('meet.recordings', 'storage_key', 'recordings')");
  const recordingsDir = dirs.recordings;
  await rm(recordingsDir, { recursive: true, force: true });
  const keys = ((await db.query(`select storage_key from meet.recordings`)).rows as { storage_key: string }[]).map((r) => r.storage_key);
  for (let i = 0; i < keys.length; i += 500) {
    await Promise.all(keys.slice(i, i + 500).map(async (key) => {
      await mkdir(path.dirname(path.join(recordingsDir, key)), { recursive: true });
      await writeFile(path.join(recordingsDir, key), 'webm');
    }));
  }
  await db.query(`select retention.set_object_column('meet.recordings', 'storage_key', 'recordings',
                    p_reason => 'Recordings of anonymous meetings go after 7 days with their transcripts')`);
  const filesBefore = await countFiles(recordingsDir);
  log(`${filesBefore} recording files in .demo-data/recordings (the storage target 'recordings')`);

  step('CALL retention.run_all()');
  const meetBefore = await db.query(`select (select count(*) from meet.meetings)::int m, (select count(*) from meet.recordings)::int r`);
  const started = Date.now();
  await db.query('call retention.run_all()');
  log(`all policies ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  step('What was deleted, per policy (retention.run_ledger; drop_partitions counts the rows of the partitions it dropped)');
  log(formatTable((await db.query(
    `select policy, status, eligible, held_back, affected, batches, max_batch_ms, round(extract(epoch from duration) * 1000)::int as duration_ms
       from retention.run_ledger order by run_id`)).rows));
  const meetAfter = await db.query(`select (select count(*) from meet.meetings)::int m, (select count(*) from meet.recordings)::int r`);
  log(`\ncascade: ${meetBefore.rows[0].m - meetAfter.rows[0].m} meetings and ${meetBefore.rows[0].r - meetAfter.rows[0].r} recordings went with their anonymous transcripts`);

  step('The worker deletes the files of the removed recordings (retention.object_deletions; pg-retention objects drain)');
  log(formatTable((await db.query(
    `select rel_name as "table", column_name as "column", target, status, count(*)::int as objects
       from retention.object_deletions group by 1, 2, 3, 4 order by 1, 2`)).rows));
  const drained = await drainObjects(db, { targets: new Map([['recordings', new LocalDirTarget(recordingsDir)]]), maxAttempts: 8 });
  const filesAfter = await countFiles(recordingsDir);
  const left = (await db.query(`select count(*)::int as n from meet.recordings`)).rows[0].n as number;
  log(`${drained.deleted} files deleted, ${drained.kept} kept (still referenced); ${filesAfter} files left for the ${left} recordings left`);

  step('What the legal hold protected');
  const after42 = await user42();
  const held = await db.query(`select sum(held_back)::int as n from retention.runs`);
  log(`user 42: ${before42} rows before, ${after42} after; ${held.rows[0].n} eligible rows held back across all policies`);

  step("Inactive accounts: flagged by auth.inactive-users, announced to each organisation (retention.flags())");
  log(formatTable((await db.query(
    `select f.tenant as organisation, count(*)::int as flagged, to_char(min(f.act_after), 'YYYY-MM-DD') as soft_deleted_after,
            (select count(*)::int from retention.notifications n where n.kind = 'rows_flagged' and n.payload->>'tenant' = f.tenant) as notifications
       from retention.flags('auth.inactive-users') f group by f.tenant order by f.tenant`)).rows));
  const [first, second] = (await db.query(`select row_key from retention.flags('auth.inactive-users') order by row_key::int limit 2`)).rows.map((r) => r.row_key as string);
  await db.query(`update auth.users set last_login_at = now() where id = $1`, [first]);
  await db.query(`select retention.exempt_row('auth.inactive-users', $1, 'Service account of the billing integration')`, [second]);
  log(`user ${first} logs in during the notice period; an admin exempts user ${second}. 31 days later:`);
  // A live run acts on the real clock, so the demo lets a month pass the way tests do: the
  // accounts' last logins and the open flags all move 31 days back.
  await db.query(`update auth.users set last_login_at = last_login_at - interval '31 days' where id <> $1`, [first]);
  await db.query(`update retention.flagged_rows set flagged_at = flagged_at - interval '31 days', act_after = act_after - interval '31 days',
                         last_activity_at = last_activity_at - interval '31 days'
                   where policy_name = 'auth.inactive-users' and status = 'flagged' and row_key <> $1`, [first]);
  await db.query(`call retention.run('auth.inactive-users')`);
  log(formatTable((await db.query(
    `select status, close_reason, count(*)::int as accounts from retention.flags('auth.inactive-users', p_all => true)
      group by 1, 2 order by 1, 2`)).rows));
  log('(acted: soft-deleted after the notice; flagged: accounts that crossed two years during the month, announced now)');

  step('An erasure request for user 7 (GDPR Art. 17): plan over the foreign keys and subject columns, process, evidence');
  await db.query(`select retention.set_erasure_rule('auth.users', 'scrub', p_scrub => '{"email": "sha256", "name": null}')`);
  const req = (await db.query(`select request_id from retention.request_erasure('auth.users', '7', 'privacy form', p_reference => 'ticket 4711')`)).rows[0].request_id;
  log(formatTable((await db.query(`select step, target, via, rule, rows, warning from retention.erasure_plan($1)`, [req])).rows));
  await db.query(`call retention.process_erasure($1)`, [req]);
  const done = (await db.query(`select status, subject_id, subject_hash from retention.erasure_requests where request_id = $1`, [req])).rows[0];
  log(`request ${req}: ${done.status}; subject key now ${done.subject_id ?? 'NULL'}, named only by the token ${done.subject_hash}, which now leads nowhere; evidence:`);
  log(formatTable((await db.query(
    `select target, rule, rows from retention.erasure_evidence where request_id = $1 order by step`, [req])).rows));
  const confirmation = (await db.query(
    `select payload ->> 'reference' as reference from retention.notifications
      where kind = 'erasure_completed' and payload ->> 'request_id' = $1::text`, [req])).rows[0];
  log(`erasure_completed queued for the application, with its reference ${confirmation?.reference}`);

  step('The monthly realty purge: approval by a second person, an archive before deletion');
  // run_all above refused it (no approved proposal): the worker would now propose, as here.
  const refused = (await db.query(`select status, error_code from retention.runs where policy_name = 'realty.properties' order by run_id desc limit 1`)).rows[0];
  log(`run_all's run of realty.properties: ${refused.status} (${refused.error_code}: no approved proposal)`);
  const proposalId = (await db.query(`select retention.propose('realty.properties', p_note => 'monthly purge') as id`)).rows[0].id;
  log(formatTable((await db.query(
    `select proposal_id, policy_name, status, rows, held_back, to_char(cutoff, 'YYYY-MM-DD') as cutoff, proposed_by,
            to_char(expires_at, 'YYYY-MM-DD') as expires, left(policy_version, 12) as version
       from retention.proposals where proposal_id = $1`, [proposalId])).rows));
  const selfApproval = await db.query(`select retention.approve_proposal($1, 'mine')`, [proposalId]).then(() => 'approved?!', (e: Error) => e.message);
  log(`the proposer approving it: ${selfApproval}`);
  await db.query(`do $$ begin if not exists (select from pg_roles where rolname = 'demo_approver') then
                    create role demo_approver login password 'demo' in role retention_approver; end if; end $$`);
  const dana = new pg.Client({ connectionString: url.replace('postgres:postgres@', 'demo_approver:demo@') });
  await dana.connect();
  await dana.query(`set retention.actor = 'dana (data-protection officer)'`);
  await dana.query(`select retention.approve_proposal($1, 'Checked against the property register')`, [proposalId]);
  await dana.end();
  log(`approved by a second login; executing:`);
  await db.query(`call retention.run('realty.properties')`);
  log(formatTable((await db.query(
    `select proposal_id, status, executed_rows, skipped_held, skipped_gone, decided_by, decision_comment
       from retention.proposals where proposal_id = $1`, [proposalId])).rows));
  const archiveDir = dirs.archive;
  await rm(archiveDir, { recursive: true, force: true });
  const ring = parseKeyRing(`demo:${randomBytes(32).toString('base64')}`);
  const target = new LocalDirTarget(archiveDir);
  const moved = await offload(db, target, ring);
  log(`${moved.rows} archived rows sealed into ${moved.objects} object(s) in .demo-data/archive, read back and verified:`);
  const obj = (await db.query(`select object_id, object_key, rows, tables::text as tables, key_id, left(sha256, 12) as sha256 from retention.archive_objects order by object_id`)).rows;
  log(formatTable(obj));
  const rows = await readObject(await objectRecord(db, String(obj[0].object_id)), target, ring);
  await restore(db, rows, { objects: [obj[0].object_id], into: 'restored' });
  log('restored into schema restored for inspection (the live table is untouched):');
  log(formatTable((await db.query(`select * from restored.properties order by id limit 3`)).rows));

  step('The compliance report of the month: pg-retention report --from <31 days ago> --to <now> --format html');
  const { rows: [period] } = await db.query<{ from: Date; to: Date }>(
    `select $1::timestamptz - interval '31 days' as from, clock_timestamp() + interval '1 second' as to`, [asOf]);
  const report = (await db.query<{ r: Report }>('select retention.compliance_report($1, $2) as r', [period!.from, period!.to])).rows[0]!.r;
  log(render(report, 'md').split('\n## Policies')[0]!.split('\n').slice(4).join('\n').trim());
  await mkdir(path.dirname(dirs.report), { recursive: true });
  const reportHtml = dirs.report;
  await writeFile(reportHtml, render(report, 'html'));
  log(`the whole report, with its charts: ${path.relative(root, reportHtml)} (also as md, json or csv)`);

  step('Audit log');
  log(formatTable((await db.query(
    `select action, count(*)::int as entries from retention.audit_log group by 1 order by 1`)).rows));
  const v = (await db.query('select * from retention.verify_audit_log()')).rows[0];
  log(`verify_audit_log(): ok = ${v.ok}, ${v.rows_checked} rows checked`);
  await db.end();
  return { report, reportHtml };
}
