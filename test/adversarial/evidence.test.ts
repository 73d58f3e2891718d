// Evidence nobody but the owner can forge (issue 13): writes only through routines, runs
// audited from their start, steps only by the session that opened the run, and no
// shadowing function or operator on a caller's search_path ever runs inside a routine.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count, slowRows, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** app.<name>: n rows, row i is i days old, user_id i. */
async function table(name: string, n = 100): Promise<void> {
  await q(`create schema if not exists app`);
  await q(`create table app.${name} (id int primary key, at timestamptz not null, user_id int, deleted_at timestamptz, email text)`);
  await q(`create index on app.${name} (at)`);
  await q(`insert into app.${name} select i, now() - make_interval(days => i), i, null, 'p' || i || '@example.com'
             from generate_series(1, $1) i`, [n]);
}

async function runner(name: string, ...tables: string[]): Promise<pg.Client> {
  const role = `${name}_${randomBytes(3).toString('hex')}`;
  const c = await loginAs(db, role, 'retention_runner');
  await q(`grant usage on schema app to ${role}`);
  for (const t of tables) await q(`grant select, delete, update on ${t} to ${role}`);
  return c;
}

describe('the ledger and the audit log tell the truth', () => {
  it('a run\'s start is in the audit log before its first batch; a killed run is audited interrupted by the next', async () => {
    await table('e1', 200);
    await slowRows(db, 'app.e1', 20);
    await q(`select retention.set_policy('e1', 'app.e1', 'delete', 'at', p_retain => '30 days', p_batch_size => 10)`);
    const c = await db.connect();
    const [{ pid }] = (await c.query('select pg_backend_pid() as pid')).rows;
    const running = c.query(`call retention.run('e1')`).catch(() => null);
    await waitFor(async () => Number((await q(`select coalesce(max(batches), 0) as b from retention.runs where policy_name = 'e1'`))[0]!.b) >= 1,
      'a first batch committed');
    const [started] = await q(`select a.details->>'run_id' as run_id from retention.audit_log a
                                where a.action = 'run.started' and a.object_name = 'e1'`);
    const [run] = await q(`select run_id::text, status from retention.runs where policy_name = 'e1'`);
    expect(started!.run_id).toBe(run!.run_id);
    expect(run!.status).toBe('running');
    await q(`select pg_terminate_backend($1)`, [pid]);
    await running;
    await waitFor(async () => (await q(`select 1 from pg_stat_activity where pid = $1`, [pid])).length === 0, 'the killed session gone');
    await q(`drop trigger slow_row on app.e1`);
    await db.call(`call retention.run('e1')`);
    const trail = await q(`select action, details->>'run_id' as run_id from retention.audit_log
                            where object_name = 'e1' and action like 'run.%' order by audit_id`);
    expect(trail.map((t) => t.action)).toEqual(['run.started', 'run.interrupted', 'run.started', 'run.completed']);
    expect(trail[1]!.run_id).toBe(run!.run_id);
    // Every deleted row is counted, by the killed run or the one after.
    const affected = Number((await q(`select sum(affected)::int as affected from retention.runs where policy_name = 'e1'`))[0]!.affected);
    expect(await count(db, 'app.e1')).toBe(200 - affected);
    expect(affected).toBe(171);  // rows 30..200 days old: row 30 was written a moment before the cutoff
    expect((await q(`select * from retention.verify_audit_log()`))[0]!.ok).toBe(true);
  });

  it('the runner cannot change the ledger, a request or a notification, nor append to the audit log', async () => {
    await table('e2');
    await q(`select retention.set_policy('e2', 'app.e2', 'delete', 'at', p_retain => '30 days')`);
    const c = await runner('fg', 'app.e2');
    await c.query(`call retention.run('e2')`);
    const before = await q(`select * from retention.runs where policy_name = 'e2'`);
    for (const sql of [
      `update retention.runs set affected = 0`,
      `update retention.run_batches set rows = 0`,
      `insert into retention.run_row_failures (run_id, batch_no, row_key, error_code, error) values (1, 1, '{}', 'x', 'x')`,
      `update retention.erasure_requests set status = 'completed'`,
      `update retention.notifications set delivered_at = now()`,
      `delete from retention.flagged_rows`,
      `select retention._append_audit('run.completed', 'policy', 'e2', '{}')`,
    ]) expect(await sqlState(c.query(sql)), sql).toBe('42501');
    await c.end();
    expect(await q(`select * from retention.runs where policy_name = 'e2'`)).toEqual(before);
    expect(before[0]!.affected).toBe('71');
  });

  it('a pending request\'s subject cannot be changed by the runner: processing erases the person it was filed for', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.e3 (id int primary key, name text)`);
    await q(`insert into app.e3 values (1, 'Ann'), (2, 'Bob')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.e3', '1', 'ticket 1')`);
    const c = await runner('sw');
    expect(await sqlState(c.query(`update retention.erasure_requests set subject_id = '2'`))).toBe('42501');
    await c.end();
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect((await q(`select id from app.e3`)).map((r) => r.id)).toEqual([2]);
  });

  it('an admin cannot delete a hold or change a policy behind the routines\' back', async () => {
    await table('e4');
    await q(`select retention.set_policy('e4', 'app.e4', 'delete', 'at', p_retain => '30 days')`);
    const [h] = await q(`select hold_id from retention.place_hold('table', 'app.e4', 'Litigation 7')`);
    const role = `ad_${randomBytes(3).toString('hex')}`;
    const c = await loginAs(db, role, 'retention_admin');
    for (const sql of [`delete from retention.legal_holds`, `update retention.legal_holds set released_at = now(), released_by = 'x'`,
                       `update retention.policies set retain = '1 day'`, `delete from retention.policies`,
                       `insert into retention.erasure_rules (target, rule, reason, updated_by) values ('app.e4', 'keep', 'x', 'x')`,
                       `delete from retention.defaults`, `insert into retention.trusted_schemas (schema_name, reason, trusted_by) values ('app', 'x', 'x')`]) {
      expect(await sqlState(c.query(sql)), sql).toBe('42501');
    }
    // Through the routine it works, and is audited.
    await c.query(`select retention.release_hold($1, 'settled')`, [h!.hold_id]);
    await c.end();
    expect(await count(db, `retention.audit_log where action = 'hold.released'`)).toBe(1);
  });

  it('only the session that opened a run may step it', async () => {
    await table('e5');
    await q(`select retention.set_policy('e5', 'app.e5', 'delete', 'at', p_retain => '30 days', p_batch_size => 10)`);
    const a = await db.connect();
    const [{ id }] = (await a.query(`select retention.open_run('e5') as id`)).rows;
    const b = await runner('st', 'app.e5');
    expect(await sqlState(b.query(`select retention.run_step($1)`, [id]))).toBe('55000');
    const o = await db.connect();
    expect(await sqlState(o.query(`select retention.run_step($1)`, [id]))).toBe('55000');
    await o.end();
    await b.end();
    expect(await count(db, 'app.e5')).toBe(100);
    // The session that opened it steps it to the end, one committed batch at a time.
    let status = 'running';
    while (status === 'running') status = (await a.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
    await a.end();
    expect(status).toBe('completed');
    expect(await count(db, 'app.e5')).toBe(29);
    const [r] = await q(`select affected, batches from retention.runs where run_id = $1`, [id]);
    expect(r).toEqual({ affected: '71', batches: 8 });
  });
});

describe('a shadowing search_path', () => {
  it('no function or operator on the caller\'s path runs inside any public routine, whoever calls it', async () => {
    await table('e6');
    await q(`create table app.e6_people (id text primary key, name text)`);
    await q(`insert into app.e6_people values ('p1', 'Ann')`);
    await q(`create schema evil`);
    await q(`create table evil.calls (what text, by_role text default current_user)`);
    await q(`grant usage on schema evil to public`);
    await q(`grant insert, select on evil.calls to public`);
    // Better matches than pg_catalog's for the argument types the engine uses, and exact
    // ones (which win when the caller puts evil before pg_catalog).
    const fns: [string, string, string][] = [
      ['format', 'text, text', 'text'], ['format', 'text, text, text', 'text'], ['format', 'text, regclass', 'text'],
      ['convert_to', 'text, text', 'bytea'], ['concat_ws', 'text, text, text', 'text'], ['now', '', 'timestamptz'],
      ['clock_timestamp', '', 'timestamptz'], ['quote_ident', 'text', 'text'], ['set_config', 'text, text, boolean', 'text'],
      ['current_setting', 'text, boolean', 'text'], ['pg_backend_pid', '', 'integer'], ['hashtext', 'text', 'integer'],
      ['jsonb_build_object', 'text, text', 'jsonb'], ['texteq', 'text, text', 'boolean'], ['textne', 'text, text', 'boolean'],
      ['coalesce_x', 'text', 'text'], ['lower', 'text', 'text'], ['btrim', 'text', 'text'], ['length', 'text', 'integer'],
    ];
    for (const [name, args, ret] of fns) {
      const params = args ? args.split(', ').map((t, i) => `a${i} ${t}`).join(', ') : '';
      await q(`create function evil.${name}(${params}) returns ${ret} language plpgsql as $$
                 begin insert into evil.calls (what) values ('${name}'); return null; end $$`);
    }
    await q(`grant execute on all functions in schema evil to public`);
    for (const [op, t] of [['=', 'text'], ['<>', 'text'], ['=', 'bigint'], ['>=', 'bigint'], ['=', 'integer'], ['<', 'timestamptz']] as const) {
      const fn = `op_${randomBytes(3).toString('hex')}`;
      await q(`create function evil.${fn}(${t}, ${t}) returns boolean language plpgsql as $$
                 begin insert into evil.calls (what) values ('operator ${op} ${t}'); return true; end $$`);
      await q(`create operator evil.${op} (leftarg = ${t}, rightarg = ${t}, function = evil.${fn})`);
    }
    const admin = await db.connect();
    await admin.query(`set search_path = evil, pg_catalog, public`);
    // The calls' own arguments use no function the caller's path could shadow (that would
    // be the caller's statement, not the routine's): ids come from subqueries.
    const req = `(select max(request_id) from retention.erasure_requests)`;
    const hold = `(select max(hold_id) from retention.legal_holds)`;
    const calls = [
      `select retention.set_default('app', '2 years')`,
      `select retention.set_policy('e6', 'app.e6', 'delete', 'at', p_retain => '30 days', p_subject_column => 'user_id', p_predicate => 'user_id > 0')`,
      `select * from retention.preview('e6')`, `select * from retention.explain_batch('e6')`,
      `select * from retention.check_setup()`, `select * from retention.verify_audit_log()`,
      `select * from retention.place_hold('subject', '5', 'Case 5')`, `select * from retention.active_holds`,
      `select * from retention.effective_policies`,
      `call retention.run('e6', p_dry_run => true)`, `call retention.run('e6')`, `call retention.run_all()`,
      `select retention.set_erasure_rule('app.e6_people', 'delete', p_reason => 'account')`,
      `select * from retention.request_erasure('app.e6_people', 'p1', 'ticket')`,
      `select * from retention.erasure_plan(${req})`, `call retention.process_erasure($REQ)`,
      `select * from retention.erasure_overview`, `select * from retention.erasure_requests_as_of(pg_catalog.now())`,
      `select * from retention.note_overdue('e6', timestamptz '2026-01-01Z', null)`,
      `select * from retention.note_overdue_erasures()`, `select * from retention.claim_notifications('w', 10, '1 minute')`,
      `select retention.request_stop(1)`, `select * from retention.flags('e6')`,
      `select retention.release_hold(${hold}, 'settled')`, `select retention.drop_policy('e6')`,
    ];
    const failed: string[] = [];
    for (let sql of calls) {
      if (sql.includes('$REQ')) sql = sql.replace('$REQ', (await q(`select max(request_id)::text as id from retention.erasure_requests`))[0]!.id);
      await admin.query(sql).catch((e) => failed.push(`${sql}: ${e.message}`));
    }
    await admin.end();
    expect(failed).toEqual([]);
    expect(await q(`select * from evil.calls`)).toEqual([]);
    expect((await q(`select status from retention.erasure_requests order by request_id desc limit 1`))[0]!.status).toBe('completed');
    expect(await count(db, 'app.e6')).toBe(29);
    // As each role, through the routines it may call.
    const roles: [string, string[]][] = [
      ['retention_runner', [`call retention.run_all()`, `select * from retention.preview()`, `select * from retention.check_setup()`,
                            `select * from retention.verify_audit_log()`, `select * from retention.run_ledger`]],
      ['retention_auditor', [`select * from retention.verify_audit_log()`, `select * from retention.effective_policies`,
                             `select * from retention.erasure_requests_as_of(pg_catalog.now())`]],
      ['retention_requester', [`select * from retention.erasure_overview`, `select * from retention.erasure_requests_as_of(pg_catalog.now())`]],
    ];
    for (const [role, sqls] of roles) {
      const c = await loginAs(db, `sp_${role.slice(10)}_${randomBytes(2).toString('hex')}`, role);
      await c.query(`set search_path = evil, pg_catalog, public`);
      for (const sql of sqls) await c.query(sql).catch((e) => failed.push(`${role} ${sql}: ${e.message}`));
      await c.end();
    }
    expect(failed).toEqual([]);
    expect(await q(`select * from evil.calls`)).toEqual([]);
  });
});
