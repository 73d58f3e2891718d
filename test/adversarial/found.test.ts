// Attacks an independent tester found against the first version of the fixes (each broke
// a guarantee then): code in a predicate's types, functions shadowing built-ins on the
// caller's search_path, the caller's TimeZone, periods negative in one part, a cancel
// while a run closes, a policy dropped and created again mid-run.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count, slowRows, waitFor } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

/** app.<name>: 100 rows, row i is i - 0.5 days old (timestamptz at, UTC wall clock ts, date d), user_id i. */
async function table(name: string): Promise<void> {
  await q(`create schema if not exists app`);
  await q(`create table app.${name} (id int primary key, at timestamptz not null, ts timestamp not null, d date not null,
             user_id int, deleted_at timestamp)`);
  await q(`insert into app.${name} select i, now() - make_interval(days => i) + interval '12 hours',
             (now() at time zone 'UTC') - make_interval(days => i) + interval '12 hours',
             ((now() at time zone 'UTC') - make_interval(days => i) + interval '12 hours')::date, i, null
             from generate_series(1, 100) i`);
}

describe('code hidden in a predicate\'s types', () => {
  it('an array or record literal of a domain whose check calls the admin\'s function is refused, and the function never runs as anyone', async () => {
    await table('f1');
    const role = `atk_${randomBytes(3).toString('hex')}`;
    const adm = await loginAs(db, role, 'retention_admin');
    await q(`grant usage on schema app to ${role}`);
    await q(`grant select on app.f1 to ${role}`);
    await q(`create schema ${role}_s authorization ${role}`);
    await q(`create sequence public.${role}_calls`);
    await q(`grant usage, update on sequence public.${role}_calls to public`);
    // Sequences are not rolled back: they count every call, whoever made it.
    await adm.query(`create function ${role}_s.evil(int) returns boolean language plpgsql as $$
                       begin perform nextval('public.${role}_calls'); return true; end $$`);
    await adm.query(`create domain ${role}_s.d as int check (${role}_s.evil(value))`);
    await adm.query(`create type ${role}_s.ct as (x ${role}_s.d)`);
    for (const predicate of [
      `'{1}'::${role}_s.d[] is not null`,
      `'(1)'::${role}_s.ct is not null`,
      `(('{' || id || '}'))::${role}_s.d[] is not null`,
      `array_in('{1}', '${role}_s.d'::regtype, -1) is not null`,
      `record_in('(1)', '${role}_s.ct'::regtype, -1) is not null`,
      `pg_input_is_valid('1', '${role}_s.d')`,
    ]) {
      expect(await sqlState(adm.query(`select retention.set_policy('f1', 'app.f1', 'delete', 'at', p_retain => '30 days', p_predicate => $1)`, [predicate])), predicate).toBe('RT005');
      expect(await sqlState(q(`select retention.set_policy('f1', 'app.f1', 'delete', 'at', p_retain => '30 days', p_predicate => $1)`, [predicate])), predicate).toBe('RT005');
    }
    await adm.end();
    const [s] = await q(`select is_called from public.${role}_calls`);
    expect(s!.is_called).toBe(false);
    expect(await count(db, `retention.policies where name = 'f1'`)).toBe(0);
    expect(await count(db, `pg_roles where rolname = $1 and rolsuper`, [role])).toBe(0);
    expect(await count(db, 'app.f1')).toBe(100);
  });

  it('enum literals and the table\'s own column types stay usable', async () => {
    await q(`create type app.state as enum ('open', 'closed')`);
    await q(`create table app.f2 (id int primary key, state app.state, at timestamptz not null)`);
    // Literals take the column's type without naming it (a cast naming app.state would need
    // a schema the checking role may not look into).
    const [p] = await q(`select (retention.set_policy('f2', 'app.f2', 'delete', 'at', p_predicate => $1)).predicate`, [`state = 'closed' and state <> all ('{open}')`]);
    expect(p!.predicate).toMatch(/'closed'::app\.state/);
  });
});

describe('the caller\'s session cannot steer a run', () => {
  it('functions shadowing format_type and now() on the caller\'s search_path change nothing a run deletes or stamps', async () => {
    await table('f3');
    await q(`select retention.set_policy('f3', 'app.f3', 'delete', 'at', p_retain => '30 days', p_subject_column => 'user_id')`);
    await q(`select retention.place_hold('subject', '50', 'Litigation')`);
    await q(`create schema shadow`);
    await q(`create function shadow.format_type(regtype, integer) returns text language sql as $$ select 'timestamptz or true or null::timestamptz is null' $$`);
    await q(`create function shadow.now() returns timestamptz language sql stable as $$ select pg_catalog.now() + interval '1 year' $$`);
    const c = await db.connect();
    await c.query(`set search_path = shadow, pg_catalog, public`);
    await c.query(`call retention.run('f3')`);
    // The caller's settings are back afterwards.
    expect((await c.query(`show search_path`)).rows[0].search_path).toBe('shadow, pg_catalog, public');
    await c.end();
    expect(await count(db, 'app.f3')).toBe(31);
    expect(await count(db, 'app.f3 where id = 50')).toBe(1);
    const [r] = await q(`select as_of > now() - interval '1 minute' and as_of <= now() as real_clock, affected::int from retention.runs where policy_name = 'f3'`);
    expect(r).toEqual({ real_clock: true, affected: 69 });
  });

  it('a notice cannot be skipped with a shadowed now()', async () => {
    await q(`create table app.f4 (id int primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await q(`insert into app.f4 select 1000 + i, now() - make_interval(days => 90 + i), null from generate_series(1, 10) i`);
    await q(`select retention.set_inactive_accounts_policy('f4', 'app.f4', p_inactive_after => '60 days', p_grace => '30 days')`);
    const c = await db.connect();
    await c.query(`set search_path = shadow, pg_catalog`);
    await c.query(`call retention.run('f4')`);
    await c.query(`call retention.run('f4')`);
    await c.end();
    expect(await count(db, 'app.f4 where deleted_at is not null')).toBe(0);
    expect(await count(db, `retention.flagged_rows where policy_name = 'f4' and act_after > now() + interval '29 days'`)).toBe(10);
  });

  for (const col of ['ts', 'd'] as const) {
    it(`a ${col === 'ts' ? 'timestamp' : 'date'} age column is read as UTC whatever the caller's TimeZone (+167 hours)`, async () => {
      const name = `f5${col}`;
      await table(name);
      await q(`select retention.set_policy($1, $2, 'delete', $3, p_retain => '30 days')`, [name, `app.${name}`, col]);
      const [pv] = await q(`select eligible::int from retention.preview($1)`, [name]);
      const c = await db.connect();
      await c.query(`set timezone = 'XXX-167'`);
      const [pv2] = (await c.query(`select eligible::int from retention.preview($1)`, [name])).rows;
      await c.query(`call retention.run($1)`, [name]);
      expect((await c.query(`show timezone`)).rows[0].TimeZone).toBe('XXX-167');
      await c.end();
      expect(pv2).toEqual(pv);
      expect(await count(db, `app.${name}`)).toBe(100 - pv!.eligible);
      // Exactly the rows before the cutoff in UTC went.
      const cutoff = col === 'ts' ? `(now() at time zone 'UTC') - interval '30 days'` : `((now() at time zone 'UTC') - interval '30 days')::date`;
      expect(await count(db, `app.${name} where ${col} < ${cutoff}`)).toBe(0);
      expect(await count(db, `app.${name}`)).toBe(await count(db, `generate_series(1, 100) i where (${col === 'ts' ? `(now() at time zone 'UTC') - make_interval(days => i) + interval '12 hours'` : `((now() at time zone 'UTC') - make_interval(days => i) + interval '12 hours')::date`}) >= ${cutoff}`));
    });
  }

  it('a soft-delete mark in a timestamp column is UTC whatever the caller\'s TimeZone, so the purge waits its period', async () => {
    await table('f6');
    await q(`select retention.set_policy('f6-soft', 'app.f6', 'soft_delete', 'ts', p_retain => '90 days', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.set_policy('f6-purge', 'app.f6', 'purge_soft_deleted', 'deleted_at', p_retain => '6 days')`);
    const c = await db.connect();
    await c.query(`set timezone = 'XXX+167'`);
    await c.query(`call retention.run('f6-soft')`);
    await c.end();
    expect(await count(db, `app.f6 where deleted_at between (now() at time zone 'UTC') - interval '1 minute' and (now() at time zone 'UTC')`)).toBe(10);
    await db.call(`call retention.run('f6-purge')`);
    expect(await count(db, 'app.f6')).toBe(100);
  });
});

describe('periods', () => {
  it('a period negative in one part (\'-100 years +36001 days\') is refused, as a default too, and changes nothing', async () => {
    await table('f7');
    const audit = await count(db, 'retention.audit_log');
    for (const period of ['-100 years +36001 days', '1 month -31 days', '1 day -25 hours', '-1 mon +40 days']) {
      expect(await sqlState(q(`select retention.set_policy('f7', 'app.f7', 'delete', 'at', p_retain => $1)`, [period])), period).toBe('RT004');
      expect(await sqlState(q(`select retention.set_default('global', $1)`, [period])), period).toBe('RT004');
      expect(await sqlState(q(`select retention.set_inactive_accounts_policy('f7', 'app.f7', p_last_login_column => 'at', p_grace => $1)`, [period])), period).toBe('RT004');
    }
    expect(await count(db, 'retention.audit_log')).toBe(audit);
    // One stored by an older version is refused at run time, before anything is deleted.
    await q(`select retention.set_policy('f7', 'app.f7', 'delete', 'at', p_retain => '30 days')`);
    await q(`update retention.policies set retain = '-100 years +36001 days' where name = 'f7'`);
    expect(await sqlState(db.call(`call retention.run('f7')`))).toBe('RT004');
    expect(await count(db, 'app.f7')).toBe(100);
  });
});

describe('run locks', () => {
  it('a run cancelled while it waits for the audit chain (its start is audited before any batch) is recorded interrupted and lets go of its lock', async () => {
    await table('f8');
    await q(`select retention.set_policy('f8', 'app.f8', 'delete', 'at', p_retain => '30 days')`);
    const blocker = await db.connect();
    await blocker.query('begin');
    await blocker.query(`select retention.set_default('global', '1 year')`);  // holds the audit chain
    const c = await db.connect();
    await c.query(`set statement_timeout = '1s'`);
    expect(await sqlState(c.query(`call retention.run('f8')`))).toBe('57014');
    await blocker.query('rollback');
    await blocker.end();
    const [r] = await q(`select status from retention.runs where policy_name = 'f8'`);
    expect(r!.status).toBe('interrupted');
    expect(await count(db, 'app.f8')).toBe(100);
    // Another session runs it now; the cancelled session is still open.
    await db.call(`call retention.run('f8')`);
    expect((await q(`select status from retention.runs where policy_name = 'f8' order by run_id desc limit 1`))[0]!.status).toBe('completed');
    await c.end();
  });

  it('a policy cannot be dropped while it runs, so a new one of the same name never runs beside it', async () => {
    await table('f9');
    await slowRows(db, 'app.f9', 20);
    await q(`select retention.set_policy('f9', 'app.f9', 'delete', 'at', p_retain => '30 days', p_batch_size => 5)`);
    const c = await db.connect();
    const done = c.query(`call retention.run('f9')`).catch(() => {});
    await waitFor(async () => (await count(db, `retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'f9'`)) >= 1, 'a batch');
    expect(await sqlState(q(`select retention.drop_policy('f9')`))).toBe('55006');
    expect(await count(db, `retention.policies where name = 'f9'`)).toBe(1);
    await q(`select retention.request_stop(run_id) from retention.runs where policy_name = 'f9' and status = 'running'`);
    await done;
    await c.end();
    await q(`select retention.drop_policy('f9')`);
    expect(await count(db, `retention.policies where name = 'f9'`)).toBe(0);
  });
});

// Found by a second tester, against the one hold rule.
describe('holds the rule first missed', () => {
  it('a run in a repeatable-read session still reads a hold committed while it waits for a batch', async () => {
    await q(`create table app.g1 (id int primary key, created_at timestamptz not null)`);
    await q(`insert into app.g1 select i, now() - interval '1 year' + make_interval(secs => i) from generate_series(1, 5) i`);
    await slowRows(db, 'app.g1', 400);
    await q(`select retention.set_policy('g1', 'app.g1', 'delete', 'created_at', p_retain => '30 days', p_batch_size => 1)`);
    const c = await db.connect();
    await c.query(`set default_transaction_isolation = 'repeatable read'`);
    const done = c.query(`call retention.run('g1')`);
    await waitFor(async () => (await count(db, 'app.g1')) < 5, 'a batch');
    await q(`select retention.place_hold('table', 'app.g1', 'Inquiry')`);
    const left = await count(db, 'app.g1');
    await done;
    expect((await c.query(`show default_transaction_isolation`)).rows[0].default_transaction_isolation).toBe('repeatable read');
    await c.end();
    expect(await count(db, 'app.g1')).toBe(left);
  });

  it('a partition detached by a failed run is attached again, not dropped, once a hold covers it', async () => {
    await q(`create table app.g2 (id int, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table app.g2_2020 partition of app.g2 for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`create table app.g2_now partition of app.g2 for values from ('2021-01-01') to ('2100-01-01')`);
    await q(`insert into app.g2 values (1, '2020-06-01'), (2, now())`);
    await q(`select retention.set_policy('g2', 'app.g2', 'drop_partitions', 'created_at', p_retain => '1 year')`);
    await q(`create view app.g2_v as select * from app.g2_2020`);  // the drop fails after the detach
    await db.call(`call retention.run('g2')`).catch(() => {});
    expect(await count(db, `pg_class where oid = 'app.g2_2020'::regclass and not relispartition`)).toBe(1);
    await q(`select retention.place_hold('table', 'app.g2_2020', 'Held while detached')`);
    await q(`drop view app.g2_v`);
    await db.call(`call retention.run('g2')`);
    expect(await count(db, `pg_class where oid = 'app.g2_2020'::regclass and relispartition`)).toBe(1);
    expect(await count(db, 'app.g2')).toBe(2);
    expect(await count(db, `retention.run_batches where partition_name = 'app.g2_2020' and disposition = 'reattached'`)).toBe(1);
  });

  it('ON DELETE SET NULL into a key that ON UPDATE CASCADE carries into a held table keeps the parent', async () => {
    await q(`create table app.g3p (id int primary key, created_at timestamptz not null)`);
    await q(`create table app.g3c (id int primary key, parent_id int unique references app.g3p on delete set null)`);
    await q(`create table app.g3g (id int primary key, child_parent_id int references app.g3c (parent_id) on update cascade)`);
    await q(`insert into app.g3p values (1, now() - interval '1 year'), (2, now() - interval '1 year')`);
    await q(`insert into app.g3c values (10, 1), (20, 2)`);
    await q(`insert into app.g3g values (100, 1)`);
    await q(`select retention.set_policy('g3', 'app.g3p', 'delete', 'created_at', p_retain => '30 days')`);
    await q(`select retention.place_hold('table', 'app.g3g', 'Held grandchild')`);
    await db.call(`call retention.run('g3')`);
    expect((await q(`select id from app.g3p`)).map((r) => r.id)).toEqual([1]);
    expect((await q(`select child_parent_id from app.g3g`))[0]!.child_parent_id).toBe(1);
  });

  it('a subject hold on a char(4) subject column holds \'AB12\', not \'A\'; an erasure of \'AB12\' is blocked', async () => {
    await q(`create table app.g4 (id int primary key, code char(4), at timestamptz not null)`);
    await q(`insert into app.g4 values (1, 'AB12', now() - interval '1 year'), (2, 'A', now() - interval '1 year')`);
    await q(`select retention.set_policy('g4', 'app.g4', 'delete', 'at', p_retain => '30 days', p_subject_column => 'code')`);
    await q(`select retention.place_hold('subject', 'AB12', 'Char key')`);
    await db.call(`call retention.run('g4')`);
    expect((await q(`select id from app.g4`)).map((r) => r.id)).toEqual([1]);
    await q(`create table app.g4c (code char(4) primary key)`);
    await q(`insert into app.g4c values ('AB12')`);
    const [req] = await q(`select request_id from retention.request_erasure('app.g4c', 'AB12', 'ticket')`);
    await db.call(`call retention.process_erasure($1)`, [req!.request_id]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req!.request_id]))[0]!.status).toBe('blocked_by_hold');
    expect(await count(db, 'app.g4c')).toBe(1);
  });

  it('a scrub does not rewrite held rows through an ON UPDATE CASCADE key added after the policy was saved', async () => {
    await q(`create table app.g5u (id int primary key, email text unique, closed_at timestamptz not null)`);
    await q(`insert into app.g5u values (1, 'a@x.example', now() - interval '1 year'), (2, 'b@x.example', now() - interval '1 year')`);
    await q(`select retention.set_policy('g5', 'app.g5u', 'scrub', 'closed_at', p_retain => '30 days', p_scrub => '{"email": "sha256"}')`);
    await q(`create table app.g5log (id int primary key, email text references app.g5u (email) on update cascade)`);
    await q(`insert into app.g5log values (1, 'a@x.example')`);
    await q(`select retention.place_hold('table', 'app.g5log', 'Mail evidence')`);
    await db.call(`call retention.run('g5')`).catch(() => {});
    expect((await q(`select email from app.g5log`))[0]!.email).toBe('a@x.example');
    expect((await q(`select email from app.g5u where id = 1`))[0]!.email).toBe('a@x.example');
  });

  it('a scrub\'s revoke delete takes neither inheritance children of the revoke table nor held rows its cascades reach', async () => {
    await q(`create table app.g6u (id int primary key, email text, closed_at timestamptz not null)`);
    await q(`create table app.g6s (id int primary key, user_id int references app.g6u)`);
    await q(`create table app.g6s_archive () inherits (app.g6s)`);
    await q(`create table app.g6e (id int primary key, session_id int references app.g6s on delete cascade)`);
    await q(`insert into app.g6u values (1, 'a@x.example', now() - interval '1 year'), (2, 'b@x.example', now() - interval '1 year')`);
    await q(`insert into app.g6s values (10, 1), (20, 2)`);
    await q(`insert into app.g6s_archive values (11, 1)`);
    await q(`insert into app.g6e values (100, 20)`);
    await q(`select retention.set_policy('g6', 'app.g6u', 'scrub', 'closed_at', p_retain => '30 days', p_scrub => '{"email": "null"}', p_revoke => array['app.g6s'])`);
    await q(`select retention.place_hold('table', 'app.g6s_archive', 'Archive held')`);
    await q(`select retention.place_hold('table', 'app.g6e', 'Events held')`);
    await db.call(`call retention.run('g6')`);
    expect(await count(db, 'only app.g6s_archive')).toBe(1);
    expect(await count(db, 'app.g6e')).toBe(1);
    expect((await q(`select id from app.g6s order by id`)).map((r) => r.id)).toEqual([11, 20]);
    expect((await q(`select id from app.g6u where email is null`)).map((r) => r.id)).toEqual([1]);
  });

  it('a text subject id is taken as given: \' bob\' holds \' bob\' (and, blanks around a value aside since atk71, \'bob\')', async () => {
    await q(`create table app.g7 (id int primary key, name text, at timestamptz not null)`);
    await q(`insert into app.g7 values (1, ' bob', now() - interval '1 year'), (2, 'bob', now() - interval '1 year'), (3, 'bobby', now() - interval '1 year')`);
    await q(`select retention.set_policy('g7', 'app.g7', 'delete', 'at', p_retain => '30 days', p_subject_column => 'name')`);
    await q(`select retention.place_hold('subject', ' bob', 'Leading space')`);
    await db.call(`call retention.run('g7')`);
    expect((await q(`select id from app.g7 order by id`)).map((r) => r.id)).toEqual([1, 2]);
  });
});

// Found by a third tester.
describe('what the third tester found', () => {
  it('a domain on the subject or age column never runs its owner\'s check in the session of place_hold, preview or run', async () => {
    await q(`create sequence public.g8_calls`);
    await q(`grant usage, update on sequence public.g8_calls to public`);
    await q(`create function app.g8_spy(int) returns boolean language plpgsql as $$ begin perform nextval('public.g8_calls'); return true; end $$`);
    await q(`create function app.g8_spy_ts(timestamptz) returns boolean language plpgsql as $$ begin perform nextval('public.g8_calls'); return true; end $$`);
    await q(`create table app.g8 (id int primary key, user_id int not null, at timestamptz not null)`);
    await q(`insert into app.g8 values (1, 5, now() - interval '3 years'), (2, 6, now() - interval '3 years')`);
    await q(`select retention.set_policy('g8', 'app.g8', 'delete', 'at', p_retain => '2 years', p_subject_column => 'user_id')`);
    await q(`create domain app.g8_uid as int check (app.g8_spy(value))`);
    await q(`create domain app.g8_ts as timestamptz check (app.g8_spy_ts(value))`);
    await q(`alter table app.g8 alter column user_id type app.g8_uid, alter column at type app.g8_ts`);
    const before = Number((await q(`select last_value from public.g8_calls`))[0]!.last_value);
    await q(`select retention.place_hold('subject', '5', 'Litigation')`);
    await q(`select * from retention.preview('g8')`);
    await db.call(`call retention.run('g8', p_dry_run => true)`);
    // (Changing the column types checked the existing rows once; nothing since.)
    expect(Number((await q(`select last_value from public.g8_calls`))[0]!.last_value)).toBe(before);
    await db.call(`call retention.run('g8')`);
    expect((await q(`select id from app.g8`)).map((r) => r.id)).toEqual([1]);
  });

  it('row-level security on a cascade child that applies to the running login refuses the run (RT023)', async () => {
    await q(`create table app.g9u (id int primary key, last_seen timestamptz not null)`);
    await q(`create table app.g9d (id int primary key, user_id int references app.g9u on delete cascade, body text)`);
    await q(`insert into app.g9u values (1, now() - interval '3 years'), (2, now() - interval '3 years')`);
    await q(`insert into app.g9d values (10, 1, 'evidence'), (20, 2, 'other')`);
    await q(`alter table app.g9d enable row level security`);
    await q(`create policy g9_tenant on app.g9d using (body = current_setting('app.tenant', true))`);
    await q(`select retention.set_policy('g9', 'app.g9u', 'delete', 'last_seen', p_retain => '1 year')`);
    await q(`select retention.place_hold('table', 'app.g9d', 'Keep the docs')`);
    const role = `rls_${randomBytes(3).toString('hex')}`;
    const c = await loginAs(db, role, 'retention_runner');
    await q(`grant usage on schema app to ${role}`);
    await q(`grant select, delete, update (last_seen) on app.g9u to ${role}`);
    await q(`grant select on app.g9d to ${role}`);
    expect(await sqlState(c.query(`call retention.run('g9')`))).toBe('RT023');
    await c.end();
    expect(await count(db, 'app.g9d')).toBe(2);
    expect(await count(db, 'app.g9u')).toBe(2);
  });

  it('a scrub counts stored generated columns computed from the scrubbed ones (a key ON UPDATE CASCADE carries)', async () => {
    await q(`create table app.g10p (id int primary key, email text, created_at timestamptz not null,
               email_key text generated always as (coalesce(lower(email), 'scrubbed-' || id)) stored unique)`);
    await q(`create table app.g10m (id int primary key, email_key text references app.g10p (email_key) on update cascade)`);
    await q(`insert into app.g10p (id, email, created_at) values (1, 'alice@x.example', now() - interval '3 years'), (2, 'bob@x.example', now() - interval '3 years')`);
    await q(`insert into app.g10m values (100, 'alice@x.example')`);
    await q(`select retention.set_policy('g10', 'app.g10p', 'scrub', 'created_at', p_retain => '1 year', p_scrub => '{"email": "null"}')`);
    await q(`select retention.place_hold('table', 'app.g10m', 'Mail evidence')`);
    await db.call(`call retention.run('g10')`);
    expect((await q(`select email_key from app.g10m`))[0]!.email_key).toBe('alice@x.example');
    expect((await q(`select id from app.g10p where email is null`)).map((r) => r.id)).toEqual([2]);
  });

  it('a policy change or drop that would take a subject column away from open subject holds is refused (RT024)', async () => {
    await q(`create table app.g11 (id int primary key, customer_id int not null, created_at timestamptz not null)`);
    await q(`insert into app.g11 values (1, 7, now() - interval '3 years'), (2, 8, now() - interval '3 years')`);
    await q(`select retention.set_policy('g11', 'app.g11', 'delete', 'created_at', p_retain => '2 years', p_subject_column => 'customer_id')`);
    await q(`select retention.place_hold('subject', '7', 'Customer 7 litigation')`);
    expect(await sqlState(q(`select retention.set_policy('g11', 'app.g11', 'delete', 'created_at', p_retain => '1 year')`))).toBe('RT024');
    expect(await sqlState(q(`select retention.drop_policy('g11')`))).toBe('RT024');
    await db.call(`call retention.run('g11')`);
    expect((await q(`select id from app.g11`)).map((r) => r.id)).toEqual([1]);
    // Kept, the change goes through.
    await q(`select retention.set_policy('g11', 'app.g11', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'customer_id')`);
  });

  it('an exemption given as \'042\' holds row 42', async () => {
    await q(`create table app.g12 (id int primary key, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await q(`insert into app.g12 values (42, now() - interval '3 years', null)`);
    await q(`select retention.set_inactive_accounts_policy('g12', 'app.g12', p_grace => '1 day')`);
    await db.call(`call retention.run('g12')`);
    await q(`select retention.exempt_row('g12', '042', 'Service account')`);
    await q(`update retention.flagged_rows set flagged_at = flagged_at - interval '2 days', act_after = act_after - interval '2 days' where policy_name = 'g12'`);
    await db.call(`call retention.run('g12')`);
    expect(await count(db, 'app.g12 where deleted_at is null')).toBe(1);
    await q(`select retention.revoke_exemption('g12', ' 42', 'Reviewed')`);
  });

  it('a hold on an inheritance parent covers a policy on the child table', async () => {
    await q(`create table app.g13 (id int primary key, at timestamptz not null)`);
    await q(`create table app.g13_2023 () inherits (app.g13)`);
    await q(`insert into app.g13_2023 values (1, now() - interval '3 years')`);
    await q(`select retention.place_hold('table', 'app.g13', 'Keep all events')`);
    await q(`select retention.set_policy('g13', 'app.g13_2023', 'delete', 'at', p_retain => '1 year')`);
    await db.call(`call retention.run('g13')`);
    expect(await count(db, 'app.g13')).toBe(1);
  });

  it('a zero or negative time budget or row cap is refused (RT006) and deletes nothing', async () => {
    await table('g14');
    await q(`select retention.set_policy('g14', 'app.g14', 'delete', 'at', p_retain => '30 days')`);
    for (const args of [`p_time_budget => '-1 hour'`, `p_time_budget => '0'`, `p_time_budget => '25 hours'`, `p_max_rows => -1`, `p_max_rows => 0`]) {
      expect(await sqlState(db.call(`call retention.run('g14', ${args})`)), args).toBe('RT006');
    }
    expect(await count(db, 'app.g14')).toBe(100);
    expect(await count(db, `retention.runs where policy_name = 'g14'`)).toBe(0);
  });
});

// Found by a fifth tester.
describe('what the fifth tester found', () => {
  it('a subject column renamed after the policy was saved fails the run (RT002) instead of dropping subject holds; holds can still be placed', async () => {
    await q(`create table app.g15 (id int primary key, user_id int, created_at timestamptz not null)`);
    await q(`insert into app.g15 select i, i, now() - interval '100 days' from generate_series(1, 5) i`);
    await q(`select retention.set_policy('g15', 'app.g15', 'delete', 'created_at', p_retain => '30 days', p_subject_column => 'user_id')`);
    await q(`select retention.place_hold('subject', '3', 'Litigation')`);
    await q(`alter table app.g15 rename column user_id to uid`);
    expect(await sqlState(db.call(`call retention.run('g15')`))).toBe('RT002');
    expect(await count(db, 'app.g15')).toBe(5);
    const { notices } = await db.call(`select retention.place_hold('subject', '4', 'Another')`);
    expect(notices.join('\n')).toMatch(/subject column user_id no longer exists/);
    await q(`select retention.release_hold(hold_id, 'test over') from retention.legal_holds where reason in ('Litigation', 'Another')`);
    await q(`alter table app.g15 rename column uid to user_id`);
  });

  it('a composite subject column holding a domain is compared as text: no check runs in preview or place_hold, and the hold still covers its row', async () => {
    await q(`create sequence public.g16_calls`);
    await q(`grant usage, update on sequence public.g16_calls to public`);
    await q(`create function app.g16_spy(int) returns boolean language plpgsql as $$ begin perform nextval('public.g16_calls'); return true; end $$`);
    await q(`create domain app.g16_d as int check (app.g16_spy(value))`);
    await q(`create type app.g16_subj as (uid app.g16_d)`);
    await q(`create table app.g16 (id int primary key, s app.g16_subj, created_at timestamptz not null)`);
    await q(`insert into app.g16 values (1, row(3)::app.g16_subj, now() - interval '100 days'), (2, row(4)::app.g16_subj, now() - interval '100 days')`);
    await q(`select retention.set_policy('g16', 'app.g16', 'delete', 'created_at', p_retain => '30 days', p_subject_column => 's')`);
    const before = (await q(`select last_value, is_called from public.g16_calls`))[0]!;
    await q(`select retention.place_hold('subject', '(3)', 'Composite subject')`);
    await q(`select * from retention.preview('g16')`);
    expect((await q(`select last_value, is_called from public.g16_calls`))[0]).toEqual(before);
    await db.call(`call retention.run('g16')`);
    expect((await q(`select id from app.g16`)).map((r) => r.id)).toEqual([1]);
  });
});
