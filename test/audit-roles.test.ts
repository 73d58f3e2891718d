import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { AS_OF, count, makeEvents } from './support/fixtures.ts';

const db = useTestDatabase();

describe('the audit log', () => {
  it('rejects UPDATE, DELETE and TRUNCATE even for its owner', async () => {
    await db.q(`select retention.set_default('global', '1 year')`);
    expect(await sqlState(db.q(`update retention.audit_log set actor = 'mallory'`))).toBe('RT014');
    expect(await sqlState(db.q(`delete from retention.audit_log`))).toBe('RT014');
    expect(await sqlState(db.q(`truncate retention.audit_log`))).toBe('RT014');
    const [v] = await db.q(`select * from retention.verify_audit_log()`);
    expect(v!.ok).toBe(true);
  });

  it('records the actor from retention.actor and chains every row', async () => {
    const c = await db.connect();
    await c.query(`set retention.actor = 'dpo@example.com'`);
    await c.query(`select retention.set_default('global', '2 years')`);
    await c.end();
    const [last] = await db.q(`select actor, db_user from retention.audit_log order by audit_id desc limit 1`);
    expect(last!.actor).toBe('dpo@example.com');
    expect(last!.db_user).toBe('postgres');
  });

  /** Runs fn with the append-only trigger disabled, as an owner bent on tampering could. */
  async function behindTheTriggersBack(fn: (c: import('pg').Client) => Promise<void>) {
    const c = await db.connect();
    await c.query('begin');
    await c.query('alter table retention.audit_log disable trigger audit_log_append_only');
    await fn(c);
    await c.query('alter table retention.audit_log enable trigger audit_log_append_only');
    await c.query('commit');
    await c.end();
  }

  it('verify_audit_log names the first row changed, deleted from the middle, or cut from the end', async () => {
    for (const p of ['1 day', '2 days', '3 days', '4 days']) await db.q(`select retention.set_default('global', $1)`, [p]);
    const id = Number((await db.q(`select max(audit_id) - 2 as id from retention.audit_log`))[0]!.id);
    const [orig] = await db.q(`select details from retention.audit_log where audit_id = $1`, [id]);

    await behindTheTriggersBack((c) => c.query(`update retention.audit_log set details = '{"new": "1 hour"}' where audit_id = $1`, [id]).then(() => {}));
    let [v] = await db.q(`select * from retention.verify_audit_log()`);
    expect(v).toMatchObject({ ok: false, first_bad_audit_id: String(id) });
    expect(v!.problem).toMatch(/changed/);

    // Put it back: the chain verifies again, so the check is about content, not history.
    await behindTheTriggersBack((c) => c.query(`update retention.audit_log set details = $2 where audit_id = $1`, [id, orig!.details]).then(() => {}));
    [v] = await db.q(`select * from retention.verify_audit_log()`);
    expect(v!.ok).toBe(true);

    await db.q(`create table public.audit_copy as select * from retention.audit_log where audit_id = $1`, [id]);
    await behindTheTriggersBack((c) => c.query(`delete from retention.audit_log where audit_id = $1`, [id]).then(() => {}));
    [v] = await db.q(`select * from retention.verify_audit_log()`);
    expect(v).toMatchObject({ ok: false, first_bad_audit_id: String(id + 1) });
    expect(v!.problem).toMatch(/missing/);
    await behindTheTriggersBack((c) =>
      c.query(`insert into retention.audit_log select * from public.audit_copy`).then(() => {}));
    [v] = await db.q(`select * from retention.verify_audit_log()`);
    expect(v!.ok).toBe(true);

    const last = Number((await db.q(`select max(audit_id) as id from retention.audit_log`))[0]!.id);
    await behindTheTriggersBack((c) => c.query(`delete from retention.audit_log where audit_id = $1`, [last]).then(() => {}));
    [v] = await db.q(`select * from retention.verify_audit_log()`);
    expect(v!.ok).toBe(false);
    expect(v!.problem).toMatch(/newest rows were removed/);
  });
});

/** A connection as a freshly created login role (password 'pw'). */
async function connectAs(role: string): Promise<pg.Client> {
  const u = new URL(db.url);
  u.username = role;
  u.password = 'pw';
  const c = new pg.Client({ connectionString: u.toString() });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('roles and least privilege', () => {
  it('a role without grants can neither run, change policies nor touch the audit log', async () => {
    await makeEvents(db, 'app.r', 100, 100);
    await db.q(`select retention.set_policy('r', 'app.r', 'delete', 'created_at', p_retain => '10 days')`);
    const role = `nobody_${randomBytes(3).toString('hex')}`;
    await db.q(`create role ${role} login password 'pw'`);
    await db.q(`grant select, delete on app.r to ${role}`);
    await db.q(`grant usage on schema app to ${role}`);
    const c = await connectAs(role);
    const auditBefore = await count(db, 'retention.audit_log');
    expect(await sqlState(c.query(`call retention.run('r', p_as_of => $1)`, [AS_OF]))).toBe('42501');
    expect(await sqlState(c.query(`select retention.set_policy('x', 'app.r', 'delete', 'created_at')`))).toBe('42501');
    expect(await sqlState(c.query(`update retention.policies set retain = '1 day'`))).toBe('42501');
    expect(await sqlState(c.query(`select retention_internal._append_audit('forged', 'policy', 'r')`))).toBe('42501');
    expect(await sqlState(c.query(`insert into retention.audit_log select * from retention.audit_log limit 1`))).toBe('42501');
    expect(await sqlState(c.query(`select * from retention.audit_log`))).toBe('42501');
    await c.end();
    expect(await count(db, 'app.r')).toBe(100);
    expect(await count(db, 'retention.audit_log')).toBe(auditBefore);
    expect(await count(db, 'retention.runs')).toBe(0);
  });

  it('the runner role runs policies on tables it was granted, and only those', async () => {
    await makeEvents(db, 'app.r2', 100, 100);
    await db.q(`select retention.set_policy('r2', 'app.r2', 'delete', 'created_at', p_retain => '10 days')`);
    // Without USAGE on the schema the login could not reach the table at all: named first.
    const noUsage = await db.q(`select fix from retention.check_setup() where policy = 'r2' and fix like 'GRANT%'`);
    expect(noUsage.map((r) => r.fix)).toEqual(['GRANT USAGE ON SCHEMA app TO retention_runner;', 'GRANT SELECT, DELETE, UPDATE (created_at) ON app.r2 TO retention_runner;']);
    await db.q(`grant usage on schema app to retention_runner`);
    const [missing] = await db.q(`select * from retention.check_setup() where policy = 'r2'`);
    expect(missing!.fix).toBe('GRANT SELECT, DELETE, UPDATE (created_at) ON app.r2 TO retention_runner;');
    const role = `runner_${randomBytes(3).toString('hex')}`;
    await db.q(`create role ${role} login password 'pw' in role retention_runner`);
    await db.q(`grant usage on schema app to retention_runner`);
    const c = await connectAs(role);
    await expect(c.query(`call retention.run('r2', p_as_of => $1)`, [AS_OF])).rejects.toMatchObject({ code: '42501' });
    expect(await count(db, 'app.r2')).toBe(100);
    expect(await sqlState(c.query(`select retention.set_policy('y', 'app.r2', 'delete', 'created_at')`))).toBe('42501');
    expect(await sqlState(c.query(`select retention.place_hold('subject', '1', 'r')`))).toBe('42501');

    await db.q(missing!.fix);
    expect(await count(db, `retention.check_setup() where policy = 'r2' and problem like '%privileges%'`)).toBe(0);
    await c.query(`call retention.run('r2', p_as_of => $1)`, [AS_OF]);
    expect(await count(db, 'app.r2')).toBe(10);
    const [run] = await db.q(`select status, db_user from retention.runs where policy_name = 'r2' order by run_id desc limit 1`);
    expect(run).toEqual({ status: 'completed', db_user: role });
    await c.end();
  });

  it('the requester role files erasure requests and follows them, and can do nothing else', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.rq_people (id text primary key, email text)`);
    await db.q(`insert into app.rq_people values ('p-1', 'ann@example.com'), ('p-2', 'bob@example.com')`);
    const role = `requester_${randomBytes(3).toString('hex')}`;
    await db.q(`create role ${role} login password 'pw' in role retention_requester`);
    await db.q(`grant usage on schema app to ${role}`);
    const c = await connectAs(role);
    // Without SELECT on the subject table it cannot even check that the subject exists.
    expect(await sqlState(c.query(`select retention.request_erasure('app.rq_people', 'p-1', 'privacy form')`))).toBe('42501');
    await db.q(`grant select on app.rq_people to ${role}`);
    const { rows: [req] } = await c.query(`select request_id, status from retention.request_erasure('app.rq_people', 'p-1', 'privacy form')`);
    expect(req!.status).toBe('pending');
    const { rows: overview } = await c.query(`select request_id, overdue from retention.erasure_overview where request_id = $1`, [req!.request_id]);
    expect(overview).toEqual([{ request_id: req!.request_id, overdue: false }]);
    expect(await sqlState(c.query(`call retention.process_erasure($1)`, [req!.request_id]))).toBe('42501');
    expect(await sqlState(c.query(`select retention.set_erasure_rule('app.rq_people', 'keep', p_reason => 'x')`))).toBe('42501');
    expect(await sqlState(c.query(`update retention.erasure_requests set status = 'completed'`))).toBe('42501');
    expect(await sqlState(c.query(`select retention.place_hold('subject', 'p-2', 'x')`))).toBe('42501');
    expect(await sqlState(c.query(`select retention.set_policy('x', 'app.rq_people', 'delete', 'created_at')`))).toBe('42501');
    expect(await sqlState(c.query(`select * from retention.audit_log`))).toBe('42501');
    expect(await sqlState(c.query(`delete from app.rq_people`))).toBe('42501');
    await c.end();
    const [audit] = await db.q(`select db_user, details->>'filed_by' as by, details::text like '%privacy form%' as named
                                  from retention.audit_log where action = 'erasure.requested' order by audit_id desc limit 1`);
    expect(audit).toEqual({ db_user: role, by: role, named: false });
    expect(await count(db, 'app.rq_people')).toBe(2);
  });

  it('the auditor role reads the evidence the compliance guide names and verifies the log, and changes nothing', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.au_users (id bigint primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`insert into app.au_users values (1, $1::timestamptz - interval '3 years')`, [AS_OF]);
    await db.q(`select retention.set_inactive_accounts_policy('au.inactive', 'app.au_users')`);
    await db.call(`call retention.run('au.inactive', p_as_of => $1)`, [AS_OF]);
    const role = `auditor_${randomBytes(3).toString('hex')}`;
    await db.q(`create role ${role} login password 'pw' in role retention_auditor`);
    const c = await connectAs(role);
    const reads = [
      `select name, target, action, retain, retain_source, effective_schedule, description from retention.effective_policies`,
      `select occurred_at, actor, action, object_name, details from retention.audit_log where object_type in ('policy', 'default')`,
      `select run_id, status, cutoff, eligible, held_back, affected, flagged from retention.run_ledger`,
      `select * from retention.run_batches`, `select * from retention.run_row_failures`, `select * from retention.legal_holds`,
      `select * from retention.erasure_requests_as_of(now())`, `select * from retention.erasure_evidence`, `select * from retention.erasure_rules`,
      `select * from retention.flags('au.inactive', now(), true)`, `select * from retention.flagged_rows`, `select * from retention.row_exemptions`,
      `select * from retention.notifications`, `select last_id, encode(last_hash, 'hex') from retention.audit_chain`,
    ];
    for (const sql of reads) await c.query(sql);
    const { rows: [flag] } = await c.query(`select row_key, status from retention.flags('au.inactive')`);
    expect(flag).toEqual({ row_key: '1', status: 'flagged' });
    // (An earlier test of this file tampers with the log on purpose: the auditor sees what the owner sees.)
    expect((await c.query(`select * from retention.verify_audit_log()`)).rows).toEqual(await db.q(`select * from retention.verify_audit_log()`));
    expect(await sqlState(c.query(`select * from app.au_users`))).toBe('42501');
    expect(await sqlState(c.query(`select retention.exempt_row('au.inactive', '1', 'x')`))).toBe('42501');
    expect(await sqlState(c.query(`update retention.flagged_rows set status = 'acted'`))).toBe('42501');
    expect(await sqlState(c.query(`call retention.run('au.inactive')`))).toBe('42501');
    await c.end();
  });

  it('check_setup recommends an index when the age column has none', async () => {
    await db.q(`create table app.noidx (created_at timestamptz not null)`);
    await db.q(`grant usage on schema app to retention_runner; grant select, delete, update (created_at) on app.noidx to retention_runner`);
    await db.q(`select retention.set_policy('noidx', 'app.noidx', 'delete', 'created_at')`);
    const rows = await db.q(`select problem, fix from retention.check_setup() where policy = 'noidx'`);
    expect(rows.map((r) => r.fix)).toEqual(['CREATE INDEX CONCURRENTLY ON app.noidx (created_at);', `CALL retention.run('noidx', p_dry_run => true); -- then without p_dry_run`]);
    expect(rows[1]!.problem).toBe('policy has never run');
  });

  it('check_setup names the exact index: partial for soft deletes, and behind every foreign key into the table', async () => {
    await db.q(`create table app.acc (id bigint primary key, seen_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`create table app.acc_log (id bigint primary key, acc_id bigint references app.acc on delete cascade, at timestamptz)`);
    await db.q(`create table app.acc_tag (acc_id bigint, tag text, foreign key (acc_id) references app.acc (id) on delete cascade)`);
    await db.q(`create index on app.acc_tag (tag, acc_id)`); // does not lead with acc_id: no help
    await db.q(`grant select, delete, update on app.acc to retention_runner`);
    await db.q(`select retention.set_policy('acc.soft', 'app.acc', 'soft_delete', 'seen_at', p_deleted_at_column => 'deleted_at')`);
    await db.q(`select retention.set_policy('acc.purge', 'app.acc', 'purge_soft_deleted', 'deleted_at')`);
    const fixes = async () => (await db.q(`select policy, fix from retention.check_setup() where policy like 'acc.%' and fix like 'CREATE%'`))
      .map((r) => `${r.policy}: ${r.fix}`);
    expect(await fixes()).toEqual([
      'acc.purge: CREATE INDEX CONCURRENTLY ON app.acc (deleted_at) WHERE deleted_at IS NOT NULL;',
      'acc.purge: CREATE INDEX CONCURRENTLY ON app.acc_log (acc_id);',
      'acc.purge: CREATE INDEX CONCURRENTLY ON app.acc_tag (acc_id);',
      'acc.soft: CREATE INDEX CONCURRENTLY ON app.acc (seen_at) WHERE deleted_at IS NULL;',
    ]);
    const [fk] = await db.q(`select problem from retention.check_setup() where fix = 'CREATE INDEX CONCURRENTLY ON app.acc_log (acc_id);'`);
    expect(fk!.problem).toBe('no index on app.acc_log (acc_id) for foreign key acc_log_acc_id_fkey: each deleted row scans app.acc_log');
    for (const f of await fixes()) await db.q(f.slice(f.indexOf(': ') + 2));
    expect(await fixes()).toEqual([]);
  });
});
