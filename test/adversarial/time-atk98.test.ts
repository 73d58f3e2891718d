// Attack round atk98 (time cannot be turned against retention, round 3), on the shared
// server. Role settings here are made IN DATABASE (roles are the server's; the database is
// this file's); what needs a server of its own is in test/server-zones.test.ts (F3).
//  - F1: AT TIME ZONE reads a name as an abbreviation of the session's
//    timezone_abbreviations first: under 'Australia', the zone EST is +10, not -5, and a
//    run by a login (or in a database) with that set deleted a 10-hour-old row under a
//    1-day period. Runs pin the set 'Default'; other callers in another set are refused.
//  - F2: a login that writes through the owner's view or SECURITY DEFINER function holds
//    no privilege on the table, so its role's zone was not read. Every role's is now.
//  - F4: a drop_partitions policy names the parent; a role that may write a partition
//    only was not read.
//  - F5: a column a soft delete stamps, in a row the application then moved to a sibling
//    partition, was read in the sibling's policy's zone only.
//  - F6: revoking the writer's INSERT made its zone forgotten (reading every role's
//    setting keeps it while the setting stands); a setting removed is remembered
//    (retention_internal.seen_zones) once a run or the worker's check has read it.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const { login, tag } = useLogins(db);

/** A connection as `role` (password 'pw') with extra startup options. */
async function connectWith(role: string, options: string): Promise<pg.Client> {
  const u = new URL(db.url);
  u.username = role;
  u.password = 'pw';
  const c = new pg.Client({ connectionString: u.toString(), options });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('a zone that is also an abbreviation, under another timezone_abbreviations (atk98 F1)', () => {
  it('a policy naming EST, run by a login whose session reads EST as +10: the 10-hour-old row stays', async () => {
    await q(`create schema f1`);
    await q(`create table f1.ev (id int primary key, created_at timestamp not null)`);
    await q(`insert into f1.ev values (1, (now() - interval '10 hours') at time zone 'EST'), (2, (now() - interval '2 days') at time zone 'EST')`);
    await q(`select retention.set_policy('f1.ev', 'f1.ev', 'delete', 'created_at', '1 day', p_timestamp_zone => 'EST')`);
    const runner = await login('f1run', 'retention_runner');
    await runner.end();
    await q(`grant usage on schema f1 to f1run_${tag}`);
    await q(`grant all on f1.ev to f1run_${tag}`);
    const c = await connectWith(`f1run_${tag}`, '-c timezone_abbreviations=Australia');
    try {
      expect((await c.query(`select current_setting('timezone_abbreviations') as s`)).rows[0].s).toBe('Australia');
      await c.query(`call retention.run('f1.ev')`);
      expect(await q(`select id from f1.ev`)).toEqual([{ id: 1 }]);
      // The caller's set comes back after the run.
      expect((await c.query(`select current_setting('timezone_abbreviations') as s`)).rows[0].s).toBe('Australia');
      // A function that reads the zone in the caller's session is refused there, not misread.
      const err = await c.query(`select * from retention.preview('f1.ev')`).catch((e: pg.DatabaseError) => e);
      expect(err).toMatchObject({ code: '22023', message: expect.stringMatching(/RT022.*timezone_abbreviations \(Australia\).*EST/) });
      expect((err as pg.DatabaseError).hint).toMatch(/SET timezone_abbreviations = 'Default'/);
      await c.query(`set timezone_abbreviations = 'Default'`);
      expect((await c.query(`select eligible::int from retention.preview('f1.ev')`)).rows).toEqual([{ eligible: 0 }]);
    } finally {
      await c.end();
    }
  });

  it('the database set to Australia, the writers in EST by their role: the worker\'s login keeps the 20-hour-old row', async () => {
    await q(`create schema f1b`);
    await q(`create table f1b.ev (id int primary key, created_at timestamp not null)`);
    await q(`insert into f1b.ev values (1, (now() - interval '20 hours') at time zone 'EST'), (2, (now() - interval '2 days') at time zone 'EST')`);
    await q(`select retention.set_policy('f1b.ev', 'f1b.ev', 'delete', 'created_at', '1 day')`);
    const app = await login('f1app');
    await app.end();
    await q(`alter role f1app_${tag} in database ${db.name} set timezone = 'EST'`);
    await q(`alter database ${db.name} set timezone_abbreviations = 'Australia'`);
    try {
      const runner = await login('f1brun', 'retention_runner');
      await q(`grant usage on schema f1b to f1brun_${tag}`);
      await q(`grant all on f1b.ev to f1brun_${tag}`);
      expect((await runner.query(`select current_setting('timezone_abbreviations') as s`)).rows[0].s).toBe('Australia');
      await runner.query(`call retention.run('f1b.ev')`);
      expect(await q(`select id from f1b.ev`)).toEqual([{ id: 1 }]);
    } finally {
      await q(`alter database ${db.name} reset timezone_abbreviations`);
      await q(`alter role f1app_${tag} in database ${db.name} reset timezone`);
    }
  });

  it('a session in another set, but no zone that is an abbreviation there: read as usual', async () => {
    await q(`create schema f1c`);
    await q(`create table f1c.ev (id int primary key, created_at timestamp not null)`);
    await q(`insert into f1c.ev values (1, now() at time zone 'UTC' - interval '2 days')`);
    await q(`select retention.set_policy('f1c.ev', 'f1c.ev', 'delete', 'created_at', '1 day', p_timestamp_zone => 'Asia/Tokyo')`);
    const c = await db.connect();
    try {
      await c.query(`set timezone_abbreviations = 'India'`);
      expect((await c.query(`select eligible::int from retention.preview('f1c.ev')`)).rows).toEqual([{ eligible: 1 }]);
    } finally {
      await c.end();
    }
  });
});

describe('writers a privilege check does not see (atk98 F2, F4, F6)', () => {
  it('a login writing through the owner\'s view and one through a SECURITY DEFINER function: their zones are read', async () => {
    await q(`create schema f2`);
    await q(`create table f2.ev (id int primary key, created_at timestamp not null default localtimestamp)`);
    await q(`create view f2.ev_in as select id, created_at from f2.ev`);
    await q(`create function f2.add_ev(p_id int, p_age interval) returns void language sql security definer set search_path = pg_catalog
               as $$ insert into f2.ev (id, created_at) values (p_id, localtimestamp - p_age) $$`);
    const web = await login('f2web');
    const web2 = await login('f2web2');
    for (const [r, z] of [[`f2web_${tag}`, 'America/Los_Angeles'], [`f2web2_${tag}`, 'Pacific/Honolulu']]) {
      await q(`alter role ${r} in database ${db.name} set timezone = '${z}'`);
    }
    await q(`grant usage on schema f2 to f2web_${tag}, f2web2_${tag}`);
    await q(`grant insert on f2.ev_in to f2web_${tag}`);
    await q(`grant execute on function f2.add_ev(int, interval) to f2web2_${tag}`);
    // Role settings apply from the next session on.
    await web.end();
    await web2.end();
    const w1 = await connectWith(`f2web_${tag}`, '');
    const w2 = await connectWith(`f2web2_${tag}`, '');
    try {
      await w1.query(`insert into f2.ev_in (id, created_at) values (1, localtimestamp - interval '20 hours')`);
      await w2.query(`select f2.add_ev(2, interval '20 hours')`);
      await w1.query(`insert into f2.ev_in (id, created_at) values (3, localtimestamp - interval '2 days')`);
    } finally {
      await w1.end();
      await w2.end();
    }
    await q(`select retention.set_policy('f2.ev', 'f2.ev', 'delete', 'created_at', '1 day')`);
    const [z] = await q(`select value from retention.policy_settings('f2.ev') where setting = 'timestamp_zone'`);
    expect(z!.value).toMatch(/America\/Los_Angeles.*Pacific\/Honolulu/);
    await db.call(`call retention.run('f2.ev')`);
    expect(await q(`select id from f2.ev order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
    // The writer losing its right to the view does not make its rows young in UTC (F6).
    await q(`revoke insert on f2.ev_in from f2web_${tag}`);
    await db.call(`call retention.run('f2.ev')`);
    expect(await q(`select id from f2.ev order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('a writer\'s zone setting removed after its rows were written: the zone stays read, seen by a run or the worker\'s check (F6)', async () => {
    await q(`create schema f6`);
    await q(`create table f6.ev (id int primary key, created_at timestamp not null)`);
    await q(`select retention.set_policy('f6.ev', 'f6.ev', 'delete', 'created_at', '1 day')`);
    for (const [r, z, check] of [[`f6w_${tag}`, 'Pacific/Pago_Pago', 'run'], [`f6v_${tag}`, 'America/Adak', 'worker']] as const) {
      const c = await login(r.replace(`_${tag}`, ''));
      await c.end();
      await q(`alter role ${r} in database ${db.name} set timezone = '${z}'`);
      await q(`grant usage on schema f6 to ${r}`);
      await q(`grant insert on f6.ev to ${r}`);
      const w = await connectWith(r, '');
      try {
        // Written 20 hours ago on its own clock (UTC-11, or -10 or -9 in Adak): read in UTC it looks at least 29 hours old.
        await w.query(`insert into f6.ev values (${check === 'run' ? 1 : 2}, localtimestamp - interval '20 hours')`);
      } finally {
        await w.end();
      }
      // Seen while the setting stands: by a run, or by the worker's periodic check.
      if (check === 'run') await db.call(`call retention.run('f6.ev')`);
      else await q(`select count(*) from retention.note_overdue_erasures()`);
      expect(await q(`select zone from retention_internal.seen_zones where zone = $1`, [z])).toEqual([{ zone: z }]);
      await q(`alter role ${r} in database ${db.name} reset timezone`);
      expect((await q(`select retention_internal._written_zones(null) as z`))[0]!.z).not.toContain(z);
    }
    await db.call(`call retention.run('f6.ev')`);
    expect(await q(`select id from f6.ev order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
    const [zs] = await q(`select value from retention.policy_settings('f6.ev') where setting = 'timestamp_zone'`);
    expect(zs!.value).toMatch(/America\/Adak.*Pacific\/Pago_Pago/);
    // The owner forgets a zone by deleting its row (the next tests read as before).
    await q(`delete from retention_internal.seen_zones where zone in ('Pacific/Pago_Pago', 'America/Adak')`);
    const [zs2] = await q(`select value from retention.policy_settings('f6.ev') where setting = 'timestamp_zone'`);
    expect(zs2!.value).not.toMatch(/Adak|Pago_Pago/);
  });

  it('drop_partitions: a role that writes a partition only, in its zone: the partition with its 20-hour-old row stays', async () => {
    await q(`create schema f4`);
    await q(`create table f4.ev (id int, created_at timestamp not null) partition by range (created_at)`);
    // ev_old: wall times up to 25 hours ago in UTC; ev_new: the rest.
    const edge = (await q(`select (now() at time zone 'UTC' - interval '25 hours')::text as t`))[0]!.t as string;
    await q(`create table f4.ev_old partition of f4.ev for values from (minvalue) to ('${edge}')`);
    await q(`create table f4.ev_new partition of f4.ev for values from ('${edge}') to (maxvalue)`);
    const web = await login('f4web');
    await web.end();
    await q(`alter role f4web_${tag} in database ${db.name} set timezone = 'America/Los_Angeles'`);
    await q(`grant usage on schema f4 to f4web_${tag}`);
    await q(`grant insert on f4.ev_old, f4.ev_new to f4web_${tag}`);
    const w = await connectWith(`f4web_${tag}`, '');
    try {
      // Los Angeles is 8 hours behind UTC: a row written there 20 hours ago reads 28 hours
      // old in UTC, in ev_old, whose bound is past a 1-day cutoff read in UTC.
      await w.query(`insert into f4.ev_old values (1, localtimestamp - interval '20 hours')`);
    } finally {
      await w.end();
    }
    expect(await count(db, 'f4.ev_old')).toBe(1);
    await q(`select retention.set_policy('f4.ev', 'f4.ev', 'drop_partitions', 'created_at', '1 day')`);
    await db.call(`call retention.run('f4.ev')`);
    expect(await count(db, 'f4.ev')).toBe(1);
    expect(await q(`select relname::text from pg_class where relname = 'ev_old' and relnamespace = 'f4'::regnamespace`)).toEqual([{ relname: 'ev_old' }]);
  });
});

describe('a stamped row moved to a sibling partition (atk98 F5)', () => {
  it('a soft delete stamps accounts_live; the row moves to accounts_gone, whose purge names Asia/Tokyo: it stays six hours', async () => {
    await q(`create schema f5`);
    await q(`create table f5.accounts (id int, status text not null, last_login_at timestamptz not null, deleted_at timestamp)
               partition by list (status)`);
    await q(`create table f5.accounts_live partition of f5.accounts for values in ('live')`);
    await q(`create table f5.accounts_gone partition of f5.accounts for values in ('gone')`);
    await q(`insert into f5.accounts values (1, 'live', now() - interval '400 days', null)`);
    await q(`select retention.set_policy('f5.soft', 'f5.accounts_live', 'soft_delete', 'last_login_at', '1 year', p_deleted_at_column => 'deleted_at')`);
    await q(`select retention.set_policy('f5.purge', 'f5.accounts_gone', 'delete', 'deleted_at', '6 hours',
               p_timestamp_zone => 'Asia/Tokyo', p_predicate => 'deleted_at is not null')`);
    await db.call(`call retention.run('f5.soft')`);
    await q(`update f5.accounts set status = 'gone' where id = 1`);
    expect(await count(db, `f5.accounts_gone where deleted_at is not null`)).toBe(1);
    await db.call(`call retention.run('f5.purge')`);
    expect(await count(db, 'f5.accounts_gone')).toBe(1);
    await q(`update f5.accounts set deleted_at = deleted_at - interval '6 hours 1 minute'`);
    await db.call(`call retention.run('f5.purge')`);
    expect(await count(db, 'f5.accounts')).toBe(0);
  });
});
