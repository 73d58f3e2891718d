// Attack rounds atk31 and atk32, the smaller findings, each a test:
//  - a session with standard_conforming_strings off read the routines' string literals
//    differently: an erasure deleted the person's rows, then failed on a syntax error and
//    stayed in progress;
//  - characters the actor check let through (a soft hyphen, tag characters) made 'alice'
//    and 'alice' + U+00AD two people, so one approved a proposal the other made;
//  - an erasure request's due date could be set centuries away (never overdue);
//  - settle_notification took any arguments: no attempts, a retry base in the past;
//  - a login with grants on a table but no USAGE on its schema had a run delete from it;
//  - (atk33) request_erasure took pg_class and retention.policies as subject tables, and
//    processing deleted a catalog row and a policy's ledger; set_policy took the job
//    queue's tables and a temporary table; holds, defaults and erasure rules took system
//    schemas and views.
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('session settings and caller input (atk31, atk32)', () => {
  it('an erasure in a session with standard_conforming_strings off completes, and the session keeps its setting', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.scs_users (id bigint primary key, email text)`);
    await q(`create table app.scs_notes (id bigint primary key, user_id bigint references app.scs_users on delete cascade, body text)`);
    await q(`insert into app.scs_users values (1, 'a@x.example'), (2, 'b@x.example')`);
    await q(`insert into app.scs_notes values (1, 1, 'note of a'), (2, 2, 'note of b')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.scs_users', '1', 'ticket scs')`);
    const c = new pg.Client({ connectionString: db.url, options: '-c standard_conforming_strings=off' });
    await c.connect();
    try {
      await c.query(`call retention.process_erasure($1)`, [req!.request_id]);
      expect((await c.query(`show standard_conforming_strings`)).rows).toEqual([{ standard_conforming_strings: 'off' }]);
      // Routines called directly read their literals as written too.
      expect((await c.query(`select retention_internal._printable('alice', 10) as ok`)).rows).toEqual([{ ok: true }]);
    } finally {
      await c.end();
    }
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id])).toEqual([{ status: 'completed' }]);
    expect(await count(db, `app.scs_notes`)).toBe(1);
    expect(await count(db, `app.scs_users`)).toBe(1);
  });

  it('invisible characters are no part of a name: a soft hyphen, tag characters, fillers, separators', async () => {
    for (const ch of [0xad, 0x34f, 0x61c, 0x115f, 0x180e, 0x2028, 0x2029, 0x3164, 0xfe0f, 0xe0041, 0x1d173]) {
      const name = `alice${String.fromCodePoint(ch)}`;
      expect(await q(`select retention_internal._printable($1, 100) as ok`, [name]), ch.toString(16)).toEqual([{ ok: false }]);
      const c = await db.connect();
      try {
        await c.query(`select set_config('retention.actor', $1, false)`, [name]);
        expect((await c.query(`select retention_internal._actor() as a`)).rows, ch.toString(16)).toEqual([{ a: 'alice' }]);
      } finally {
        await c.end();
      }
    }
    expect(await sqlState(q(`select retention.place_hold('table', 'retention.policies', 'x', p_placed_by => $1)`, [`bob${String.fromCodePoint(0xad)}`])))
      .toBe('RT010');
  });

  it('an erasure request is due within three months at most', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.due_users (id bigint primary key)`);
    await q(`insert into app.due_users values (1)`);
    const before = await count(db, 'retention.erasure_requests');
    const audit = await count(db, 'retention.audit_log');
    for (const due of [`now() + interval '500 years'`, `now() + interval '3 months 1 day'`]) {
      expect(await sqlState(q(`select retention.request_erasure('app.due_users', '1', 'ticket due', p_due_at => ${due})`)), due).toBe('RT029');
    }
    expect(await count(db, 'retention.erasure_requests')).toBe(before);
    expect(await count(db, 'retention.audit_log')).toBe(audit);
    await q(`select retention.request_erasure('app.due_users', '1', 'ticket due', p_due_at => now() + interval '2 months')`);
  });

  it('settle_notification refuses attempts and retry bases out of bounds, and keeps an error printable', async () => {
    await q(`insert into retention.notifications (kind, dedupe_key, payload) values ('run_failed', 'atk31-settle', '{}')`);
    const [n] = await q(`select notification_id from retention.claim_notifications('w1', 10, '1 minute') where dedupe_key = 'atk31-settle'`);
    const id = n!.notification_id;
    for (const args of [`false, 'x', 0, '30 seconds'`, `false, 'x', 8, '-1 year'`, `false, 'x', 101, '30 seconds'`, `null, 'x', 8, '30 seconds'`, `false, 'x', 8, '-1 mon 721 hours'`]) {
      expect(await sqlState(q(`select retention.settle_notification($1, 'w1', ${args})`, [id])), args).toBe('RT006');
    }
    expect(await q(`select status, attempts from retention.notifications where notification_id = $1`, [id])).toEqual([{ status: 'pending', attempts: 1 }]);
    const err = `boom${String.fromCodePoint(0x202e)}x\u001e${'y'.repeat(5000)}`;
    await q(`select retention.settle_notification($1, 'w1', false, $2, 8, '30 seconds')`, [id, err]);
    const [row] = await q(`select last_error from retention.notifications where notification_id = $1`, [id]);
    expect(row!.last_error.length).toBe(2000);
    expect(row!.last_error.startsWith('boom x y')).toBe(true);
  });

  it('a run needs USAGE on the schema of its table, as a DELETE would (42501, the GRANT in the hint)', async () => {
    const role = `nousage_${Math.random().toString(36).slice(2, 8)}`;
    await q(`create schema if not exists victim_${role}`);
    await q(`create table victim_${role}.mail (id int primary key, at timestamptz not null)`);
    await q(`insert into victim_${role}.mail select i, now() - interval '400 days' from generate_series(1, 3) i`);
    await q(`select retention.set_policy('nousage.mail', 'victim_${role}.mail', 'delete', 'at', p_retain => '30 days')`);
    const w = await loginAs(db, role, 'retention_runner');
    try {
      await q(`grant select, delete, update on victim_${role}.mail to ${role}`);
      const e = await w.query(`call retention.run('nousage.mail')`).catch((x: pg.DatabaseError) => x);
      expect((e as pg.DatabaseError).code).toBe('42501');
      expect((e as pg.DatabaseError).hint).toMatch(new RegExp(`GRANT USAGE ON SCHEMA victim_${role} TO ${role}`));
      expect(await count(db, `victim_${role}.mail`)).toBe(3);
      await q(`grant usage on schema victim_${role} to ${role}`);
      await w.query(`call retention.run('nousage.mail')`);
      expect(await count(db, `victim_${role}.mail`)).toBe(0);
    } finally {
      await w.end();
      await q(`drop owned by ${role}`).catch(() => undefined);
    }
  });

  it('only application tables: no catalog, pg-retention, job queue or temporary table is a subject, policy, hold, default or rule target', async () => {
    await q(`create schema if not exists app`);
    await q(`create table app.not_sys (id int primary key, at timestamptz)`);
    await q(`select retention.set_policy('notsys.t', 'app.not_sys', 'delete', 'at', p_retain => '30 days')`);
    const [pol] = await q(`select policy_id from retention.policies where name = 'notsys.t'`);
    const [cls] = await q(`select 'app.not_sys'::regclass::oid::text as oid`);
    const before = {
      requests: await count(db, 'retention.erasure_requests'), policies: await count(db, 'retention.policies'),
      holds: await count(db, 'retention.legal_holds'), rules: await count(db, 'retention.erasure_rules'),
      defaults: await count(db, 'retention.defaults'), audit: await count(db, 'retention.audit_log'),
    };
    expect(await sqlState(q(`select retention.request_erasure('pg_catalog.pg_class', $1, 'tester')`, [cls!.oid]))).toBe('RT013');
    expect(await sqlState(q(`select retention.request_erasure('retention.policies', $1, 'tester')`, [String(pol!.policy_id)]))).toBe('RT013');
    // A schema with pg-boss's tables is the worker's job queue, whatever its name.
    await q(`create schema if not exists jobq_x`);
    for (const t of ['job', 'queue', 'version']) await q(`create table if not exists jobq_x.${t} (id int primary key, created_on timestamptz)`);
    expect(await sqlState(q(`select retention.set_policy('jobs.q', 'jobq_x.job', 'delete', 'created_on', p_retain => '1 day')`))).toBe('RT013');
    const c = await db.connect();
    try {
      await c.query(`create temp table tt (id int primary key, at timestamptz)`);
      const e = await c.query(`select retention.set_policy('tmp.pol', 'pg_temp.tt', 'delete', 'at', p_retain => '30 days')`).catch((x: pg.DatabaseError) => x);
      expect((e as pg.DatabaseError).code).toBe('RT013');
    } finally {
      await c.end();
    }
    expect(await sqlState(q(`select retention.place_hold('table', 'pg_catalog.pg_class', 'tester')`))).toBe('RT010');
    expect(await sqlState(q(`select retention.set_default('pg_catalog', '1 day')`))).toBe('RT015');
    expect(await sqlState(q(`select retention.set_default('retention', '1 day')`))).toBe('RT015');
    await q(`create view app.not_sys_v as select * from app.not_sys`);
    expect(await sqlState(q(`select retention.set_erasure_rule('app.not_sys_v', 'delete')`))).toBe('RT013');
    expect({
      requests: await count(db, 'retention.erasure_requests'), policies: await count(db, 'retention.policies'),
      holds: await count(db, 'retention.legal_holds'), rules: await count(db, 'retention.erasure_rules'),
      defaults: await count(db, 'retention.defaults'), audit: await count(db, 'retention.audit_log'),
    }).toEqual(before);
  });

  it('a hold value of a megabyte is refused with RT010, not the index\'s own error, and no hold is placed', async () => {
    const before = await count(db, 'retention.legal_holds');
    for (const scope of ['subject', 'table', 'policy']) {
      expect(await sqlState(q(`select retention.place_hold($1, repeat('x', 1000000), 'Litigation')`, [scope])), scope).toBe('RT010');
    }
    // Counted in bytes: 700 four-byte characters are 2,800 bytes.
    expect(await sqlState(q(`select retention.place_hold('subject', repeat(chr(128512), 700), 'Litigation')`))).toBe('RT010');
    expect(await count(db, 'retention.legal_holds')).toBe(before);
    // A long id that fits is held.
    const [h] = await q(`select hold_id from retention.place_hold('subject', repeat('k', 2000), 'Litigation')`);
    expect(await q(`select length(subject_id) as n from retention.legal_holds where hold_id = $1`, [h!.hold_id])).toEqual([{ n: 2000 }]);
  });
});

describe('bad input an attacker tried (atk47)', () => {
  it('a NaN or Infinity subject hold is placed (no raw error); an infinite p_as_of is refused before anything is recorded; object_key_of works for every role', async () => {
    await db.q(`create schema if not exists app`);
    await db.q(`create table app.nan47 (id int primary key, user_id int, created_at timestamptz not null)`);
    await db.q(`select retention.set_policy('nan47', 'app.nan47', 'delete', 'created_at', p_retain => '30 days', p_subject_column => 'user_id')`);
    for (const v of ['NaN', 'Infinity']) {
      const [h] = await db.q(`select hold_id from retention.place_hold('subject', $1, 'odd id')`, [v]);
      await db.q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
    }
    const runs = await count(db, 'retention.runs');
    for (const [dry, asOf] of [[false, '-infinity'], [true, 'infinity'], [true, '-infinity']] as const) {
      expect(await sqlState(db.call(`call retention.run('nan47', $1, $2::timestamptz)`, [dry, asOf]))).toBe('RT022');
    }
    expect(await count(db, 'retention.runs')).toBe(runs);
    const holds = await count(db, 'retention.legal_holds');
    expect(await sqlState(db.q(`select retention.place_hold('subject', E'4\\u202e2', 'odd id')`))).toBe('RT010');
    expect(await sqlState(db.q(`select retention.place_hold('subject', '42', 'odd id', p_case_reference => repeat('a', 5000))`))).toBe('RT010');
    expect(await count(db, 'retention.legal_holds')).toBe(holds);
    const role = `ok47_${Math.random().toString(16).slice(2, 8)}`;
    const adm = await loginAs(db, role, 'retention_admin');
    expect((await adm.query(`select retention.object_key_of('s3://bucket/a/b.pdf', 's3://bucket/') as k`)).rows[0].k).toBe('a/b.pdf');
    await adm.end();
  });
});
