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
      `select retention_internal._append_audit('run.completed', 'policy', 'e2', '{}')`,
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

// Attack round atk54: a login that holds the audit chain idle (any audited routine in an
// open transaction) made a run close without its closing entry; nothing wrote it later.
describe('a run closed while the audit chain is held gets its entry from the next append (atk54)', () => {
  it('the run keeps its status and count, and the next entry appended, whoever appends it, writes the run\'s first', async () => {
    await table('e54', 60);
    await q(`select retention.set_policy('e54', 'app.e54', 'delete', 'at', p_retain => '30 days', p_batch_size => 10)`);
    const a = await db.connect();
    const [{ id }] = (await a.query(`select retention.open_run('e54') as id`)).rows;
    const b = await db.connect();
    await b.query(`begin`);
    await b.query(`select last_id from retention.audit_chain for update`);
    let status = 'running';
    while (status === 'running') status = (await a.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
    expect(status).toBe('completed');
    const [run] = await q<{ status: string; affected: number; audit_pending: boolean }>(
      `select status, affected::int, audit_pending from retention.runs where run_id = $1`, [id]);
    expect(run).toEqual({ status: 'completed', affected: 60 - (await count(db, 'app.e54')), audit_pending: true });
    expect(run!.affected).toBeGreaterThanOrEqual(30);
    await b.query(`rollback`);
    await b.end();
    await a.end();
    const closing = `select a.audit_id::int, a.details from retention.audit_log a
                      where a.action = 'run.completed' and a.details->>'run_id' = $1`;
    expect(await q(closing, [String(id)])).toEqual([]);
    // The next entry, here a hold placed: the run's entry comes first.
    await q(`select retention.place_hold('subject', 'x54', 'next entry')`);
    const [entry] = await q<{ audit_id: number; details: Record<string, unknown> }>(closing, [String(id)]);
    expect(entry!.details).toMatchObject({ affected: run!.affected, recorded_late: true });
    // The run's own login, whoever appended the entry (atk84 F6).
    const [own] = await q(`select db_user, started_by from retention.runs where run_id = $1`, [id]);
    expect(entry!.details).toMatchObject({ run_db_user: own!.db_user, run_started_by: own!.started_by });
    const [hold] = await q<{ audit_id: number }>(`select audit_id::int from retention.audit_log where action = 'hold.placed' order by audit_id desc limit 1`);
    expect(entry!.audit_id).toBeLessThan(hold!.audit_id);
    expect(await q(`select count(*)::int as n from retention.runs where audit_pending`)).toEqual([{ n: 0 }]);
    expect((await q(`select * from retention.verify_audit_log()`))[0]!.ok).toBe(true);
    // Entries are in time order: none carries a time before the one chained ahead of it.
    expect(await q(`select count(*)::int as n from retention.audit_log a join retention.audit_log p on p.audit_id = a.audit_id - 1
                     where a.occurred_at < p.occurred_at`)).toEqual([{ n: 0 }]);
    await q(`select retention.release_hold(hold_id, 'done') from retention.legal_holds where reason = 'next entry' and released_at is null`);
  });
});

describe('an application role\'s code never runs with the owner\'s rights', () => {
  it('a trigger, domain or generated column of the table\'s owner refuses the run (RT025) and never runs; SECURITY DEFINER runs as its owner', async () => {
    const role = `appown_${randomBytes(3).toString('hex')}`;
    const app = await loginAs(db, role);
    await q(`create schema ${role} authorization ${role}`);
    await app.query(`create table ${role}.t (id int primary key, at timestamptz not null, email text)`);
    await app.query(`create table ${role}.child (id int primary key, t_id int references ${role}.t on delete cascade)`);
    await app.query(`insert into ${role}.t select i, now() - make_interval(days => i), 'x' from generate_series(1, 50) i`);
    await app.query(`insert into ${role}.child select i, i from generate_series(1, 50) i`);
    await app.query(`create table ${role}.log (who text, super boolean)`);
    // Would make its owner superuser if it ran as one.
    await app.query(`create function ${role}.grab() returns trigger language plpgsql as $$
                       begin insert into ${role}.log values (current_user, (select rolsuper from pg_roles where rolname = current_user));
                             begin execute 'alter role ${role} superuser'; exception when others then null; end;
                             return old; end $$`);
    await app.query(`create trigger grab before delete on ${role}.child for each row execute function ${role}.grab()`);
    await q(`select retention.set_policy('own1', '${role}.t', 'delete', 'at', p_retain => '30 days')`);
    await q(`select retention.set_policy('own2', '${role}.t', 'scrub', 'at', p_retain => '30 days', p_scrub => '{"email": "null"}')`);
    expect(await sqlState(db.call(`call retention.run('own1')`))).toBe('RT025');
    expect(await count(db, `${role}.t`)).toBe(50);
    // A domain on a scrubbed table's column, with the owner's function in its check.
    await app.query(`drop trigger grab on ${role}.child`);
    await app.query(`create function ${role}.ok(text) returns boolean language plpgsql as $$
                       begin insert into ${role}.log values (current_user, null); return true; end $$`);
    await app.query(`create domain ${role}.em as text check (${role}.ok(value))`);
    await app.query(`alter table ${role}.t alter column email type ${role}.em`);
    await app.query(`delete from ${role}.log`);
    expect(await sqlState(db.call(`call retention.run('own2')`))).toBe('RT025');
    expect(await count(db, `${role}.t where email is null`)).toBe(0);
    // A delete evaluates no domain check: it runs.
    await db.call(`call retention.run('own1')`);
    expect(await count(db, `${role}.t`)).toBe(29);
    expect(await q(`select * from ${role}.log`)).toEqual([]);
    // SECURITY DEFINER is refused too: such a function runs as its owner, but inside the
    // run's session and transaction, where a plain SET or DDL in it outlives it (atk43).
    await app.query(`alter function ${role}.grab() security definer`);
    await app.query(`create trigger grab before delete on ${role}.child for each row execute function ${role}.grab()`);
    await q(`update ${role}.t set at = now() - interval '1 year' where id <= 5`);
    const before = await count(db, `${role}.t`);
    expect(await sqlState(db.call(`call retention.run('own1')`))).toBe('RT025');
    expect(await count(db, `${role}.t`)).toBe(before);
    expect(await q(`select * from ${role}.log`)).toEqual([]);
    expect((await q(`select rolsuper from pg_roles where rolname = $1`, [role]))[0]!.rolsuper).toBe(false);
    await app.end();
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
    // Types too: a DECLARE in a procedure resolves its types with the caller's path.
    await q(`create function evil.spy_t(pg_catalog.text) returns boolean language plpgsql as $$
               begin insert into evil.calls (what) values ('type'); return true; end $$`);
    await q(`create domain evil.text as pg_catalog.text check (evil.spy_t(value))`);
    await q(`create domain evil.bigint as pg_catalog.int8 check (evil.spy_t(value::pg_catalog.text))`);
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
      const c = await loginAs(db, `sp_${role.slice(10)}_${randomBytes(4).toString('hex')}`, role);
      await c.query(`set search_path = evil, pg_catalog, public`);
      for (const sql of sqls) await c.query(sql).catch((e) => failed.push(`${role} ${sql}: ${e.message}`));
      await c.end();
    }
    expect(failed).toEqual([]);
    expect(await q(`select * from evil.calls`)).toEqual([]);
  });
});

describe('what an attacker of the owner-run executor found', () => {
  it('row-level security that hides rows from the running login refuses the run (RT023): it never deletes rows the login cannot see', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.rl (id int primary key, tenant int, at timestamptz not null)`);
    await q(`insert into app.rl select i, i % 2, now() - interval '1 year' from generate_series(1, 10) i`);
    await q(`alter table app.rl enable row level security`);
    await q(`alter table app.rl force row level security`);
    await q(`create policy rl_tenant on app.rl using (tenant = 1)`);
    await q(`select retention.set_policy('rl', 'app.rl', 'delete', 'at', p_retain => '30 days')`);
    const c = await runner('rl', 'app.rl');
    expect(await sqlState(c.query(`call retention.run('rl')`))).toBe('RT023');
    await c.end();
    expect(await count(db, 'app.rl')).toBe(10);
  });

  it('a login cannot learn about a table it may not read through set_policy, preview, explain_batch or set_erasure_rule', async () => {
    await q(`create schema if not exists secret`);
    await q(`create table secret.s (id int primary key, v text, created_at timestamptz not null)`);
    await q(`insert into secret.s values (1, 'salary 100', now() - interval '1 year'), (2, 'salary 200', now() - interval '1 year')`);
    const role = `rd_${randomBytes(3).toString('hex')}`;
    const adm = await loginAs(db, role, 'retention_admin');
    expect(await sqlState(adm.query(`select retention.set_policy('s1', 'secret.s', 'delete', 'created_at', p_predicate => 'id = 2', p_enabled => false)`))).toBe('42501');
    expect(await sqlState(adm.query(`select retention.set_erasure_rule('secret.s', 'keep', p_reason => 'x')`))).toBe('42501');
    // A policy the owner made: the admin may not look through it either.
    await q(`select retention.set_policy('s2', 'secret.s', 'delete', 'created_at', p_retain => '30 days', p_enabled => false)`);
    expect(await sqlState(adm.query(`select * from retention.preview('s2')`))).toBe('42501');
    expect(await sqlState(adm.query(`select * from retention.explain_batch('s2')`))).toBe('42501');
    expect((await adm.query(`select policy from retention.preview() where policy = 's2'`)).rows).toEqual([]);
    // Nor through an erasure plan's row counts.
    const [req] = await q(`select request_id from retention.request_erasure('secret.s', '2', 'ticket')`);
    expect(await sqlState(adm.query(`select * from retention.erasure_plan($1)`, [req!.request_id]))).toBe('42501');
    await adm.end();
    expect(await count(db, `retention.policies where name = 's1'`)).toBe(0);
  });

  it('a requester cannot file a request for a person row-level security hides from it (RT023)', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.rp (id int primary key, tenant int)`);
    await q(`insert into app.rp values (1, 1), (2, 2)`);
    await q(`alter table app.rp enable row level security`);
    await q(`create policy rp_tenant on app.rp using (tenant = 1)`);
    const role = `rq_${randomBytes(3).toString('hex')}`;
    const c = await loginAs(db, role, 'retention_requester');
    await q(`grant usage on schema app to ${role}`);
    await q(`grant select on app.rp to ${role}`);
    expect(await sqlState(c.query(`select retention.request_erasure('app.rp', '2', 'ticket')`))).toBe('RT023');
    await c.end();
    expect(await count(db, 'retention.erasure_requests')).toBe(await count(db, `retention.erasure_requests where subject_table <> 'app.rp'::regclass`));
  });

  it('an admin cannot trust a schema it may not grant USAGE on', async () => {
    await q(`create schema if not exists hidden_fns`);
    const role = `tr_${randomBytes(3).toString('hex')}`;
    const adm = await loginAs(db, role, 'retention_admin');
    expect(await sqlState(adm.query(`select retention.trust_schema('hidden_fns', 'their functions')`))).toBe('42501');
    await adm.end();
    expect(await count(db, `retention.trusted_schemas where schema_name = 'hidden_fns'`)).toBe(0);
    expect((await q(`select has_schema_privilege('retention_predicate_checker', 'hidden_fns', 'USAGE') as u`))[0]!.u).toBe(false);
  });
});

describe('the application sees only its own requests', () => {
  it('a requester reads only the requests it filed, and a blocking hold without its reason', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.own_people (id int primary key, name text)`);
    await q(`insert into app.own_people values (1, 'Ann'), (2, 'Bob')`);
    const mk = async (name: string) => {
      const role = `${name}_${randomBytes(3).toString('hex')}`;
      const c = await loginAs(db, role, 'retention_requester');
      await q(`grant usage on schema app to ${role}`);
      await q(`grant select on app.own_people to ${role}`);
      return c;
    };
    const shop = await mk('shop');
    const hr = await mk('hr');
    const [a] = (await shop.query(`select request_id from retention.request_erasure('app.own_people', '1', 'shop ticket 1')`)).rows;
    const [b] = (await hr.query(`select request_id from retention.request_erasure('app.own_people', '2', 'hr case 2')`)).rows;
    await q(`select retention.place_hold('subject', '2', 'Internal investigation HR-2291')`);
    await db.call(`call retention.process_erasure($1)`, [b!.request_id]);
    const ids = async (c: typeof shop) => (await c.query(`select request_id, status, status_reason from retention.erasure_overview`)).rows;
    expect(await ids(shop)).toEqual([{ request_id: a!.request_id, status: 'pending', status_reason: null }]);
    expect(await ids(hr)).toEqual([{ request_id: b!.request_id, status: 'blocked_by_hold', status_reason: 'blocked by a legal hold' }]);
    expect((await hr.query(`select count(*)::int as n from retention.erasure_requests_as_of(pg_catalog.now())`)).rows[0].n).toBe(1);
    await shop.end();
    await hr.end();
    // The admin (and the auditor) see both, with the hold's reason.
    const all = await q(`select request_id, status_reason from retention.erasure_overview where request_id in ($1, $2) order by 1`,
      [a!.request_id, b!.request_id]);
    expect(all[1]!.status_reason).toMatch(/Internal investigation HR-2291/);
  });
});

describe('direct changes by the owner', () => {
  it('an insert, update or delete of policies, holds, rules or requests not made through a routine is audited, by key and column names only', async () => {
    await table('e9');
    await q(`select retention.set_policy('e9', 'app.e9', 'delete', 'at', p_retain => '30 days')`);
    const [h] = await q(`select hold_id from retention.place_hold('subject', 'ann@example.com', 'Case 9')`);
    const before = Number((await q(`select max(audit_id) as id from retention.audit_log`))[0]!.id);
    await q(`update retention.policies set retain = '1 day' where name = 'e9'`);
    await q(`delete from retention.legal_holds where hold_id = $1`, [h!.hold_id]);
    await q(`insert into retention.defaults (scope, retain) values ('global', '1 day') on conflict (scope) do update set retain = excluded.retain`);
    const trail = await q(`select action, object_type, object_name, details from retention.audit_log where audit_id > $1 order by audit_id`, [before]);
    expect(trail.map((t) => [t.action, t.object_type, t.object_name])).toEqual([
      ['direct.update', 'policies', 'e9'], ['direct.delete', 'legal_holds', String(h!.hold_id)], ['direct.insert', 'defaults', 'global'],
    ]);
    expect(trail[0]!.details.columns).toEqual(['retain']);
    expect(JSON.stringify(trail)).not.toContain('ann@example.com');
    // Through the routines: their own entries only.
    const mid = Number((await q(`select max(audit_id) as id from retention.audit_log`))[0]!.id);
    await q(`select retention.set_policy('e9', 'app.e9', 'delete', 'at', p_retain => '60 days')`);
    await q(`select retention.place_hold('table', 'app.e9', 'Case 10')`);
    expect((await q(`select action from retention.audit_log where audit_id > $1 order by audit_id`, [mid])).map((r) => r.action))
      .toEqual(['policy.updated', 'hold.placed']);
    expect((await q(`select ok from retention.verify_audit_log()`))[0]!.ok).toBe(true);
  });
});

describe('another person\'s rows reached through a foreign key', () => {
  it('a subject hold covers rows whose foreign key points at the held person: another person\'s erasure stops at them', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.users11 (id int primary key, name text)`);
    await q(`create table app.msgs11 (id int primary key, sender int references app.users11 on delete cascade,
               recipient int references app.users11 on delete cascade, body text)`);
    await q(`insert into app.users11 values (42, 'p42'), (43, 'p43')`);
    await q(`insert into app.msgs11 values (1, 42, 43, '42 to 43'), (2, 43, 42, '43 to 42'), (3, 43, 43, 'note')`);
    await q(`select retention.place_hold('subject', '43', 'Litigation against 43: keep all of their data')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.users11', '42', 'ticket 1')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    const [r] = await q(`select status, status_reason from retention.erasure_requests where request_id = $1`, [req!.request_id]);
    expect(r!.status).toBe('blocked_by_hold');
    expect((await q(`select id from app.msgs11 order by id`)).map((m) => m.id)).toEqual([1, 2, 3]);
    expect(await count(db, 'app.users11')).toBe(2);
    // Released, the erasure goes through: 42's messages go with them.
    await q(`select retention.release_hold(hold_id, 'settled') from retention.legal_holds where subject_id = '43' and released_at is null`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect((await q(`select id from app.msgs11 order by id`)).map((m) => m.id)).toEqual([3]);
  });
});

describe('plans', () => {
  it('a plan holds no lock on the audit chain while it counts, and can never be committed (RT027)', async () => {
    await table('e10');
    const a = await db.connect();
    await a.query('begin');
    await a.query('select retention.begin_plan()');
    await a.query(`select retention.set_policy('e10', 'app.e10', 'delete', 'at', p_retain => '30 days')`);
    expect((await a.query(`select would_affect::int as n from retention.preview('e10')`)).rows[0].n).toBe(71);
    // Meanwhile a hold is placed at once (it appends to the audit log).
    const b = await db.connect();
    await b.query(`set lock_timeout = '1s'`);
    await b.query(`select retention.place_hold('table', 'app.e10', 'Case 11')`);
    await b.end();
    expect(await sqlState(a.query('commit'))).toBe('RT027');
    await a.end();
    expect(await count(db, `retention.policies where name = 'e10'`)).toBe(0);
    expect(await count(db, `retention.audit_log where object_name = 'e10'`)).toBe(0);
    expect((await q(`select ok from retention.verify_audit_log()`))[0]!.ok).toBe(true);
  });
});

describe('casts of another role', () => {
  it('a cast to text an application defined on its key type never runs as the owner: request_erasure, place_hold and runs refuse it (RT025)', async () => {
    const role = `castown_${randomBytes(3).toString('hex')}`;
    const app = await loginAs(db, role, 'retention_requester');
    await q(`create schema ${role} authorization ${role}`);
    await app.query(`create type ${role}.pk as (a int)`);
    await app.query(`create function ${role}.evil(p ${role}.pk) returns text language plpgsql as $$
                       begin
                         if (select rolsuper from pg_roles where rolname = current_user) then
                           execute 'alter role ${role} superuser';
                         end if;
                         return format('(%s)', p.a);
                       end $$`);
    await app.query(`create cast (${role}.pk as text) with function ${role}.evil(${role}.pk)`);
    await app.query(`create table ${role}.people (id ${role}.pk primary key, name text, seen timestamptz not null default now() - interval '3 years')`);
    await app.query(`insert into ${role}.people values (row(1), 'x')`);
    await app.query(`grant select, delete, update on ${role}.people to retention_runner`);
    expect(await sqlState(app.query(`select retention.request_erasure('${role}.people', '(1)', 'ticket 1')`))).toBe('RT025');
    await q(`select retention.set_policy('cast1', '${role}.people', 'delete', 'seen', p_retain => '1 year', p_subject_column => 'id')`).catch(() => null);
    await q(`select retention.place_hold('subject', '(1)', 'Case')`).catch(() => null);
    await db.call(`call retention.run('cast1')`).catch(() => null);
    await app.end();
    expect((await q(`select rolsuper from pg_roles where rolname = $1`, [role]))[0]!.rolsuper).toBe(false);
    expect(await count(db, `${role}.people`)).toBe(1);
  });
});

describe('steps outside their session or snapshot', () => {
  it('run_step refuses an old snapshot (25001): a hold placed since is never missed', async () => {
    await table('e11');
    await q(`select retention.set_policy('e11', 'app.e11', 'delete', 'at', p_retain => '30 days', p_subject_column => 'user_id')`);
    const c = await runner('rr', 'app.e11');
    const [{ id }] = (await c.query(`select retention.open_run('e11') as id`)).rows;
    await c.query('begin isolation level repeatable read');
    await c.query('select 1');
    await q(`select retention.place_hold('subject', '40', 'Case 40')`);
    expect(await sqlState(c.query(`select retention.run_step($1)`, [id]))).toBe('25001');
    await c.query('rollback');
    let status = 'running';
    while (status === 'running') status = (await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s;
    await c.end();
    expect(await count(db, 'app.e11 where user_id = 40')).toBe(1);
  });

  it('erasure_step refuses any session but the one that began the processing, even holding its lock', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.e12 (id int primary key, name text)`);
    await q(`insert into app.e12 values (1, 'Ann'), (2, 'Bob')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.e12', '1', 'ticket')`);
    const a = await db.connect();
    expect((await a.query(`select retention.open_erasure($1) as s`, [req!.request_id])).rows[0].s).toBe('in_progress');
    await a.end();  // its session lock goes with it
    const b = await db.connect();
    await b.query(`select pg_advisory_lock(x'52540002'::int, hashtext($1))`, [`erasure:${req!.request_id}`]);
    expect(await sqlState(b.query(`select * from retention.erasure_step($1)`, [req!.request_id]))).toBe('55000');
    await b.end();
    expect(await count(db, 'app.e12')).toBe(2);
  });
});

describe('a trigger slipped in between the check and the statement', () => {
  it('cannot be: the batch locks the tables it reaches before it checks them', async () => {
    const role = `tt_${randomBytes(3).toString('hex')}`;
    const app = await loginAs(db, role);
    await q(`create schema ${role} authorization ${role}`);
    await app.query(`create table ${role}.t (id int primary key, at timestamptz not null)`);
    await app.query(`create index on ${role}.t (at)`);
    await app.query(`insert into ${role}.t select i, now() - interval '1 year' from generate_series(1, 20) i`);
    await app.query(`create table ${role}.log (who text)`);
    await app.query(`grant insert on ${role}.log to public`);
    await app.query(`grant usage on schema ${role} to public`);
    await app.query(`create function ${role}.spy() returns trigger language plpgsql as $$
                       begin insert into ${role}.log values (current_user); return old; end $$`);
    await q(`select retention.set_policy('tt', '${role}.t', 'delete', 'at', p_retain => '30 days', p_lock_timeout => '5 seconds')`);
    // A hold being placed holds the holds lock (only the owner's routines may take it), so
    // the batch waits after its check...
    const dba = await db.connect();
    await dba.query(`begin`);
    await dba.query(`lock table retention_internal.holds_gate in access exclusive mode`);
    const run = db.call(`call retention.run('tt')`).catch((e: { code?: string }) => e.code);
    await waitFor(async () => (await q(`select 1 from pg_locks where locktype = 'relation' and not granted
                                          and relation = 'retention_internal.holds_gate'::regclass`)).length > 0, 'the batch waiting for the holds lock');
    // ... and tries to add its trigger meanwhile: it has to wait for the batch's table lock.
    await app.query(`set lock_timeout = '1s'`);
    const created = await app.query(`create trigger spy before delete on ${role}.t for each row execute function ${role}.spy()`)
      .then(() => 'created', (e: { code?: string }) => e.code);
    await dba.query(`commit`);
    await dba.end();
    const ran = await run;
    const how = `trigger: ${String(created)}, run: ${JSON.stringify(ran)}`;  // in every failure message below
    // The two waits are a deadlock: PostgreSQL ends one of them (or both: the trigger's
    // lock_timeout and the deadlock check run out together). Either the batch ended and the
    // trigger is created (the next run refuses the table, RT025: no row goes), or the trigger
    // did not come (55P03 or 40P01). Never did the trigger fire inside a batch.
    expect(await q(`select * from ${role}.log`), how).toEqual([]);
    if (created === 'created') {
      expect(await sqlState(db.call(`call retention.run('tt')`)), how).toBe('RT025');
      expect(await count(db, `${role}.t`), how).toBe(20);
    } else {
      // The trigger did not come; the batch went on and deleted the rows without it, unless
      // the deadlock ended it too (then no row went).
      expect(['55P03', '40P01'], how).toContain(created);
      expect(await count(db, `${role}.t`), how).toBe(typeof ran === 'string' ? 20 : 0);
    }
    expect(await q(`select * from ${role}.log`), how).toEqual([]);
    await app.end();
  });
});
