// Attack round atk64 (bad input), each critical finding a test: inputs that were accepted
// and then misbehaved.
//  F1 a policy file's defaults.schemas.global set (and overwrote) the global default;
//  F2 an exemption spelt otherwise than the stored key ('7.5' for 7.50) matched nothing;
//  F4 bounds compared with 30-day months: '1000 mon -30000 days 1 minute' is "1 minute";
//  F6 a predicate's constants deparsed in the saving session's IntervalStyle;
//  F8 a subject column without equality (json) made every subject hold fail to be placed;
//  F9 a lock timeout under a millisecond became lock_timeout = 0, no timeout at all;
//  F12 a drop_partitions archive schema holding a table of the partition's name.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const TRICK = `'1000 mon -30000 days 1 minute'`;

describe('bad input accepted and misbehaving later (atk64)', () => {
  it('F1: a policy file cannot give a schema named global a default (the name means the global one)', async () => {
    await q(`create schema "global"`);
    const file = path.join(tmpdir(), `atk64-f1-${process.pid}.yaml`);
    writeFileSync(file, 'defaults:\n  global: 10 years\n  schemas:\n    global: 7 days\npolicies: []\n');
    const res = await runCli(['apply', '-f', file], { url: db.url });
    rmSync(file, { force: true });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/defaults\.schemas\.global: a schema named "global" cannot have a default/);
    expect(await count(db, `retention.defaults`)).toBe(0);
  });

  it('F2: an exemption given in another spelling of the key keeps the row as it holds its key', async () => {
    await q(`create schema f2`);
    await q(`create table f2.accounts (id numeric primary key, last_seen timestamptz not null)`);
    await q(`insert into f2.accounts values (7.50, now() - interval '400 days'), (8, now() - interval '400 days')`);
    await q(`select retention.set_policy('f2.inactive', 'f2.accounts', 'delete', 'last_seen', p_retain => '1 year', p_notice_period => '1 second')`);
    const [ex] = await q<{ row_key: string }>(`select row_key from retention.exempt_row('f2.inactive', '7.5', 'service account')`);
    expect(ex!.row_key).toBe('7.50');
    await db.call(`call retention.run('f2.inactive')`);
    await new Promise((r) => setTimeout(r, 1200));
    await db.call(`call retention.run('f2.inactive')`);
    expect(await q(`select id::text from f2.accounts`)).toEqual([{ id: '7.50' }]);
    // Revoked in either spelling.
    const [rv] = await q<{ row_key: string }>(`select row_key from retention.revoke_exemption('f2.inactive', '7.5', 'no longer needed')`);
    expect(rv!.row_key).toBe('7.50');
  });

  it('F4 and F9: bounded settings are judged on the calendar, and a lock timeout rounds to at least a millisecond', async () => {
    await q(`create schema f4`);
    await q(`create table f4.t (id int primary key, created_at timestamptz not null)`);
    const before = await count(db, `retention.audit_log`);
    for (const arg of [`p_pause_between_batches => ${TRICK}`, `p_lock_timeout => ${TRICK}`, `p_lock_timeout => '100 microseconds'`,
                       `p_lock_timeout => '0.4 milliseconds'`, `p_max_replication_lag => '1000 mon -30000 days 1 hour'`,
                       `p_time_budget => '1000 mon -30000 days 1 hour'`, `p_batch_target => '1000 mon -30000 days 1 second'`]) {
      expect(await sqlState(q(`select retention.set_policy('f4.t', 'f4.t', 'delete', 'created_at', p_retain => '30 days', ${arg})`)), arg).toBe('RT006');
    }
    expect(await count(db, `retention.policies where name = 'f4.t'`)).toBe(0);
    expect(await count(db, `retention.audit_log`)).toBe(before);
    await q(`select retention.set_policy('f4.t', 'f4.t', 'delete', 'created_at', p_retain => '30 days', p_lock_timeout => '1 millisecond')`);
    expect(await sqlState(q(`select retention.alter_policy('f4.t', p_pause_between_batches => ${TRICK})`))).toBe('RT006');
    expect(await sqlState(q(`select * from retention.claim_notifications('w1', 10, '1000 mon -30000 days 23:00')`))).toBe('RT006');
    await q(`select retention.set_policy('f4.appr', 'f4.t', 'delete', 'created_at', p_retain => '30 days', p_approval => 'required')`);
    expect(await sqlState(q(`select retention.propose('f4.appr', '1000 mon -29999 days')`))).toBe('RT006');
    expect(await sqlState(q(`select retention.propose('f4.appr', '3 mons 1 day')`))).toBe('RT006');
    expect(await count(db, `retention.proposals`)).toBe(0);
  });

  it('F6: a predicate means what was written, whatever IntervalStyle and DateStyle the admin had', async () => {
    await q(`create schema f6`);
    await q(`create table f6.tokens (id int primary key, created_at timestamptz not null, expires_at timestamptz not null)`);
    await q(`insert into f6.tokens values (1, now() - interval '10 days', now() - interval '2 days'),
                                          (2, now() - interval '10 days', now() - interval '3 days')`);
    const c = await db.connect();
    try {
      await c.query(`set intervalstyle = sql_standard; set datestyle = 'SQL, DMY'`);
      await c.query(`select retention.set_policy('f6.expired', 'f6.tokens', 'delete', 'created_at', p_retain => '1 day',
                       p_predicate => $p$expires_at < now() + interval '-2 days -3 hours' and created_at > date '2024-02-01'$p$)`);
    } finally {
      await c.end();
    }
    await db.call(`call retention.run('f6.expired')`);
    expect(await q(`select id from f6.tokens`)).toEqual([{ id: 1 }]);
    const [p] = await q<{ predicate: string }>(`select predicate from retention.policies where name = 'f6.expired'`);
    expect(p!.predicate).toContain('2024-02-01');
  });

  it('F8: a subject column of a type without equality is refused, and subject holds can still be placed', async () => {
    await q(`create schema f8`);
    await q(`create table f8.docs (id int primary key, created_at timestamptz not null, owner_ref json, spot point)`);
    for (const col of ['owner_ref', 'spot']) {
      const err = await q(`select retention.set_policy('f8.docs', 'f8.docs', 'delete', 'created_at', p_retain => '30 days', p_subject_column => $1)`, [col])
        .catch((e: Error & { code?: string; hint?: string }) => e);
      expect((err as { code?: string }).code, col).toBe('RT002');
      expect((err as Error).message).toMatch(/has no equality/);
    }
    expect(await count(db, `retention.policies where name = 'f8.docs'`)).toBe(0);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('subject', '42', 'Litigation X')`);
    await q(`select retention.release_hold($1, 'done')`, [h!.hold_id]);
  });

  it('F7 and F10: a dropped schema\'s default can be removed; an erasure rule\'s subject table is an application table', async () => {
    await q(`create schema f7tmp`);
    await q(`select retention.set_default('f7tmp', '5 days')`);
    await q(`drop schema f7tmp`);
    expect(await sqlState(q(`select retention.set_default('f7tmp', '6 days')`))).toBe('RT015');
    await q(`select retention.set_default('f7tmp', null)`);
    expect(await count(db, `retention.defaults where scope = 'schema:f7tmp'`)).toBe(0);
    await q(`create schema f10; create table f10.t (id int primary key, uid int)`);
    expect(await sqlState(q(`select retention.set_erasure_rule('f10.t', 'delete', p_subject_column => 'uid', p_subject_table => 'retention.legal_holds')`))).toBe('RT013');
    expect(await count(db, `retention.erasure_rules where target = 'f10.t'::regclass`)).toBe(0);
  });

  it('F5: free-text notes that enter the audit log are bounded and plain (line breaks kept)', async () => {
    await q(`create schema f5; create table f5.t (id int primary key, created_at timestamptz not null)`);
    const before = await count(db, `retention.audit_log`);
    expect(await sqlState(q(`select retention.place_hold('table', 'f5.t', E'Litigation \\u202Esdrawkcab\\u0007')`))).toBe('RT010');
    expect(await sqlState(q(`select retention.place_hold('table', 'f5.t', repeat('y', 2001))`))).toBe('RT010');
    expect(await sqlState(q(`select retention.set_policy('f5.t', 'f5.t', 'delete', 'created_at', p_retain => '30 days',
                                                         p_description => E'keeps \\u202Eevil\\u202C')`))).toBe('RT006');
    expect(await count(db, `retention.audit_log`)).toBe(before);
    expect(await count(db, `retention.legal_holds where target::oid = 'f5.t'::regclass::oid`)).toBe(0);
    const [h] = await q<{ hold_id: number }>(`select hold_id::int from retention.place_hold('table', 'f5.t', E'Litigation Smith\\nv. Acme\\tcase 7')`);
    expect(await count(db, `retention.legal_holds where target::oid = 'f5.t'::regclass::oid`)).toBe(1);
    await q(`select retention.release_hold($1, 'case closed')`, [h!.hold_id]);
  });

  it('F12: a drop_partitions run refuses before detaching when the archive schema has a table of the partition\'s name', async () => {
    await q(`create schema f12; create schema f12arch`);
    await q(`create table f12.ev (id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table f12.ev_old partition of f12.ev for values from ('2000-01-01') to ('2001-01-01')`);
    await q(`create table f12.ev_new partition of f12.ev for values from ('2001-01-01') to ('3000-01-01')`);
    await q(`insert into f12.ev values (1, '2000-06-01'), (2, now())`);
    await q(`create table f12arch.ev_old (x int)`);
    await q(`select retention.set_policy('f12.ev', 'f12.ev', 'drop_partitions', 'created_at', p_retain => '1 year', p_archive_schema => 'f12arch')`);
    const err = await db.call(`call retention.run('f12.ev')`).catch((e: Error & { code?: string; hint?: string }) => e);
    expect((err as { code?: string }).code).toBe('RT018');
    expect((err as { hint?: string }).hint).toMatch(/Nothing was detached/);
    expect(await count(db, `f12.ev`)).toBe(2);
    expect(await count(db, `pg_inherits where inhrelid = 'f12.ev_old'::regclass`)).toBe(1);
  });
});
