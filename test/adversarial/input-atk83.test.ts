// Attack rounds atk83 (bad input) and atk82 (time), the findings fixed with a test here:
//  atk83 F1 a predicate had no size or character bound: 10 MB, or control and
//           direction-changing characters, went into the append-only audit log for good;
//  atk83 F7 a reference holding the person's e-mail in fullwidth characters passed the
//           check, stayed after the erasure and went out in erasure_completed;
//  atk83 F4 the reasons of set_backup_policy, set_object_column, archive_object_deleted and
//           backup_prune_cancel took any length and any character into the audit log;
//  atk82 F4 note_overdue keyed its one alert per occurrence by the caller's DateStyle,
//           and recorded a checked_at in the future;
//  atk83 F3 a live run as of the first moment PostgreSQL knows opened, was recorded and
//           then failed (22008) with a run_failed notification, instead of being refused.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a predicate is bounded like any text of the audit log (atk83 F1)', () => {
  it('over 10,000 characters, or with a control or direction-changing character, is refused (RT005) and nothing is saved', async () => {
    await q(`create schema i1`);
    await q(`create table i1.users (id int primary key, email text, at timestamptz not null)`);
    const before = await count(db, `retention.audit_log`);
    for (const bad of [`email <> '${'x'.repeat(10_001)}'`, `email <> 'mallory\u202E'`, `email <> 'a\u0001b'`, `email <> 'a\u001b[31m'`, `email <> 'a\u200Bb'`]) {
      const err = await q(`select retention.set_policy('i1.users', 'i1.users', 'delete', 'at', p_predicate => $1)`, [bad])
        .then(() => null, (e: unknown) => e as { code: string; message: string; hint: string });
      expect(err?.code, JSON.stringify(bad.slice(0, 40))).toBe('RT005');
      expect(err!.message).toMatch(/a predicate must be at most 10000 characters, without control, invisible or direction-changing characters/);
      expect(err!.hint).toBeTruthy();
    }
    expect(await count(db, `retention.policies where name = 'i1.users'`)).toBe(0);
    expect(await count(db, `retention.audit_log`)).toBe(before);
    // Line breaks and tabs are kept; a long but bounded one is taken.
    await q(`select retention.set_policy('i1.users', 'i1.users', 'delete', 'at', p_predicate => $1)`, [`email <> 'x'\n\tand email <> '${'y'.repeat(9000)}'`]);
    expect(await count(db, `retention.policies where name = 'i1.users'`)).toBe(1);
    expect(await sqlState(q(`select retention.alter_policy('i1.users', p_predicate => $1)`, [`email <> '\u202E'`]))).toBe('RT005');
  });
});

describe('one overdue alert per occurrence, whatever the caller\'s DateStyle (atk82 F4)', () => {
  it('the same occurrence asked under ISO, SQL and German queues one notification; checked_at is never in the future', async () => {
    await q(`create schema i2`);
    await q(`create table i2.events (id int primary key, at timestamptz not null)`);
    await q(`select retention.set_policy('i2.events', 'i2.events', 'delete', 'at', interval '1 year')`);
    await q(`update retention.policies set created_at = now() - interval '2 days' where name = 'i2.events'`);
    for (const style of ['ISO, YMD', 'SQL, DMY', 'German']) {
      await db.call(`set datestyle = '${style}'; select retention.note_overdue('i2.events', date_trunc('hour', now()) - interval '1 day', now() + interval '10 years')`);
    }
    expect(await count(db, `retention.notifications where kind = 'policy_overdue' and policy_name = 'i2.events'`)).toBe(1);
    expect(await count(db, `retention.notifications where policy_name = 'i2.events' and (payload->>'checked_at')::timestamptz <= now()`)).toBe(1);
  });
});

describe('a reference in look-alike characters (atk83 F7)', () => {
  it('the person\'s e-mail or key in fullwidth characters is refused (RT029) and nothing is filed', async () => {
    await q(`create schema i3`);
    await q(`create table i3.users (id int primary key, email text)`);
    await q(`insert into i3.users values (2, 'u2@ex.com'), (3, 'u3@ex.com')`);
    for (const [id, ref] of [['2', 'about u2＠ex.com'], ['3', 'ｕ３＠ｅｘ．ｃｏｍ'], ['3', 'user ３']]) {
      expect(await sqlState(q(`select retention.request_erasure('i3.users', $1, 'ticket', p_reference => $2)`, [id, ref])), ref).toBe('RT029');
    }
    expect(await count(db, `retention.erasure_requests where subject_table = 'i3.users'::regclass`)).toBe(0);
    expect(await q(`select count(*)::int as n from retention.request_erasure('i3.users', '3', 'ticket', p_reference => 'ZD-４７１１')`)).toEqual([{ n: 1 }]);
  });

  it('the row\'s own value in fullwidth characters, named plainly by the reference, is refused too (both sides folded)', async () => {
    await q(`create schema i3b`);
    await q(`create table i3b.users (id int primary key, email text)`);
    await q(`insert into i3b.users values (4, 'ｕ４＠ｅｘ．ｃｏｍ')`);
    expect(await sqlState(q(`select retention.request_erasure('i3b.users', '4', 'ticket', p_reference => 'mail from u4@ex.com')`))).toBe('RT029');
    expect(await count(db, `retention.erasure_requests where subject_table = 'i3b.users'::regclass`)).toBe(0);
  });

  it('percent-escaped, with Cyrillic or Greek look-alike letters, or without its accents: refused (RT029) (atk86 F2)', async () => {
    await q(`create schema i3c`);
    await q(`create table i3c.users (id int primary key, email text, name text)`);
    await q(`insert into i3c.users values (5, 'u5@ex.com', 'Zoë Müller-Łukasz'), (6, 'pablo@ex.com', null)`);
    for (const [id, ref] of [['5', 'mail from u5%40ex.com'], ['5', 'u5@\u0435x.com'], ['5', 'about zoe muller-lukasz'],
                             ['6', '\u0440\u0430blo@ex.com'], ['6', 'pabl\u03bf@ex.com'], ['6', 'pablo%40ex%2Ecom']]) {
      expect(await sqlState(q(`select retention.request_erasure('i3c.users', $1, 'ticket', p_reference => $2)`, [id, ref])), ref).toBe('RT029');
    }
    expect(await count(db, `retention.erasure_requests where subject_table = 'i3c.users'::regclass`)).toBe(0);
    // A reference of the application's own, with escapes that are not UTF-8, is taken.
    expect(await q(`select count(*)::int as n from retention.request_erasure('i3c.users', '5', 'ticket', p_reference => 'ZD-4711 %FF%FE')`)).toEqual([{ n: 1 }]);
  });
});

describe('every reason that enters the audit log is bounded (atk83 F4)', () => {
  it('a backup policy\'s or an object column\'s reason of 2,001 characters, or with ESC, is refused and nothing is saved', async () => {
    await q(`create schema i4`);
    await q(`create table i4.docs (id int primary key, file_key text)`);
    const before = await count(db, `retention.audit_log`);
    for (const bad of ['x'.repeat(2001), 'a\u001b[31m', 'b\u202Ec']) {
      expect(await sqlState(q(`select retention.set_backup_policy('i4-backups', 'i4store', p_reason => $1)`, [bad]))).toBe('RT039');
      expect(await sqlState(q(`select retention.set_object_column('i4.docs', 'file_key', 'local', p_reason => $1)`, [bad]))).toBe('RT020');
      expect(await sqlState(q(`select retention.backup_prune_cancel(1, $1)`, [bad]))).toBe('RT039');
      expect(await sqlState(q(`select retention.archive_object_deleted(1, $1, now())`, [bad]))).toBe('RT006');
    }
    expect(await count(db, `retention.audit_log`)).toBe(before);
    expect(await count(db, `retention.backup_policies`)).toBe(0);
    expect(await count(db, `retention.object_columns`)).toBe(0);
  });
});


describe('a time at the edge of the timestamp range (atk83 F3)', () => {
  it('is refused (RT022) by run, preview, explain_batch and next_occurrence before anything is recorded', async () => {
    await q(`create schema i5`);
    await q(`create table i5.events (id int primary key, at timestamptz not null)`);
    await q(`insert into i5.events values (1, now() - interval '2 years')`);
    await q(`select retention.set_policy('i5.events', 'i5.events', 'delete', 'at', interval '1 year')`);
    const runs = await count(db, `retention.runs`);
    const notes = await count(db, `retention.notifications`);
    for (const at of ['4714-11-24 00:00:00+00 BC', '294000-01-01']) {
      const err = await db.call(`call retention.run('i5.events', false, $1::timestamptz)`, [at]).then(() => null, (e: { code: string; message: string }) => e);
      expect(err?.code, at).toBe('RT022');
      expect(err!.message).toMatch(/too near the end of the timestamp range/);
      expect(await sqlState(q(`select * from retention.preview('i5.events', $1::timestamptz)`, [at])), at).toBe('RT022');
      expect(await sqlState(q(`select * from retention.explain_batch('i5.events', $1::timestamptz)`, [at])), at).toBe('RT022');
      expect(await sqlState(q(`select retention.next_occurrence('0 3 * * *', 'UTC', $1::timestamptz)`, [at])), at).toBe('RT022');
    }
    expect(await count(db, `retention.runs`)).toBe(runs);
    expect(await count(db, `retention.notifications`)).toBe(notes);
    expect(await count(db, `i5.events`)).toBe(1);
    // A time long ago, well inside the range, is a time like any other.
    expect(await q(`select eligible::int from retention.preview('i5.events', '1500-01-01')`)).toEqual([{ eligible: 0 }]);
  });
});
