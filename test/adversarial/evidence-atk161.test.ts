// Attack round atk161 (evidence cannot be forged). F1 (critical): a plain delete run's
// ledger counted rows it had only moved as deleted by its cascade. The application's
// events reference users ON DELETE SET NULL and are partitioned by that key: PostgreSQL
// moves a nulled row to another partition as a delete and an insert, and the batch counted
// its cascade by the server's deletion counts alone (run_batches.related_rows 100, the
// compliance report's rows_cascaded 100, every event still there). A move nets to nothing
// now (_removed_in_xact: deletions less a partition's insertions, in the partitions such a
// key action may move rows between). atk163 F1 (critical), on that fix: insertions into
// any partition counted against deletions, so the application's trigger logging each
// removal into a partitioned table the cascade also deleted from hid as many deletions
// (50 deleted, 0 recorded); only partitions a key action can move rows between count so.
// atk168 F1 (critical): an ON UPDATE CASCADE key into a column the batch's ON DELETE SET
// NULL nulled moved rows between partitions unseen by that rule (100 recorded, none
// deleted); keys with an ON UPDATE action count as movers too. atk170 F1 (critical): a key
// that names the partition a row moves out of cascades where the batch's reach does not
// go (unlocked, unchecked, uncounted). A policy's delete or scrub whose reach may move rows
// between partitions is refused now (RT033), as archiving, gated and hold-checked ones
// were; the count of moves stays for an erasure's steps.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

async function schema(s: string): Promise<void> {
  await q(`create schema ${s}`);
  await q(`create table ${s}.users (id int primary key, created_at timestamptz not null)`);
  await q(`create table ${s}.events (id int, user_id int references ${s}.users (id) on delete set null, note text) partition by list (user_id)`);
  await q(`create table ${s}.events_p1 partition of ${s}.events for values in (1, 2, 3, 4, 5)`);
  await q(`create table ${s}.events_def partition of ${s}.events default`);
  await q(`create table ${s}.likes (id int, user_id int references ${s}.users (id) on delete cascade)`);
  await q(`insert into ${s}.users select g, now() - interval '10 days' from generate_series(1, 6) g`);
  await q(`update ${s}.users set created_at = now() where id = 6`);
  await q(`insert into ${s}.events select g, 1 + g % 6, 'x' from generate_series(1, 120) g`);
  await q(`insert into ${s}.likes select g, 1 + g % 6 from generate_series(1, 12) g`);
}

const cascaded = async (policy: string) => (await q<{ rows: string; related: string }>(
  `select sum(b.rows)::text as rows, sum(b.related_rows)::text as related
     from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = $1`, [policy]))[0];

describe('rows moved between partitions by a key action (atk161 F1, atk168 F1, atk170 F1)', () => {
  it('a policy whose delete reaches a SET NULL key on a partition key is refused (RT033) before anything is deleted', async () => {
    await schema('e161a');
    await q(`select retention.set_policy('e161a', 'e161a.users', 'delete', 'created_at', interval '1 day')`);
    const err = await db.call(`call retention.run('e161a')`).then(() => null, (e: { code?: string; message: string; hint?: string }) => e);
    expect(err?.message).toMatch(/cannot follow the delete from e161a\.users safely: e161a\.events \(user_id\) references e161a\.users \(id\), and the key action changes a partition key/);
    expect(err?.hint).toMatch(/partition that table by other columns/);
    expect(await q(`select count(*)::int as users, (select count(*)::int from e161a.likes) as likes,
                           (select count(*)::int from e161a.events where user_id is null) as nulled from e161a.users`)).toEqual([{ users: 6, likes: 12, nulled: 0 }]);
    expect(await q(`select status, error_code from retention.runs where policy_name = 'e161a'`)).toEqual([{ status: 'failed', error_code: 'RT033' }]);
    expect(await cascaded('e161a')).toEqual({ rows: null, related: null });
  });

  it('atk170 F1: a key naming the partition a row moves out of cascades outside the reach: refused, nothing deleted; a scrub\'s revoke too', async () => {
    await q(`create schema e170`);
    await q(`create table e170.users (id int primary key, created_at timestamptz not null)`);
    await q(`create table e170.t (id int, user_id int references e170.users (id) on delete set null) partition by list (user_id)`);
    await q(`create table e170.t_p1 partition of e170.t for values in (1, 2, 3, 4, 5)`);
    await q(`create table e170.t_def partition of e170.t default`);
    await q(`alter table e170.t_p1 add primary key (id)`);
    await q(`create table e170.u (id int primary key, t_id int references e170.t_p1 (id) on delete cascade)`);
    await q(`insert into e170.users select g, now() - interval '10 days' from generate_series(1, 5) g`);
    await q(`insert into e170.t select g, 1 + g % 5 from generate_series(1, 10) g`);
    await q(`insert into e170.u select g, 1 + g % 10 from generate_series(1, 100) g`);
    await q(`select retention.set_policy('e170', 'e170.users', 'delete', 'created_at', interval '1 day')`);
    await db.call(`call retention.run('e170')`).catch(() => undefined);
    expect(await q(`select status, error_code from retention.runs where policy_name = 'e170'`)).toEqual([{ status: 'failed', error_code: 'RT033' }]);
    expect(await q(`select (select count(*)::int from e170.users) as users, (select count(*)::int from e170.u) as u`)).toEqual([{ users: 5, u: 100 }]);
    // A scrub whose revoke table is referenced so.
    await q(`create table e170.accounts (id int primary key, email text, deactivated_at timestamptz)`);
    await q(`create table e170.sessions (id int primary key, account_id int not null references e170.accounts (id))`);
    await q(`create table e170.s (id int, session_id int references e170.sessions (id) on delete set null) partition by list (session_id)`);
    await q(`create table e170.s_p1 partition of e170.s for values in (1, 2, 3, 4, 5)`);
    await q(`create table e170.s_def partition of e170.s default`);
    await q(`insert into e170.accounts select g, 'user' || g || '@example.org', now() - interval '10 days' from generate_series(1, 5) g`);
    await q(`insert into e170.sessions select g, g from generate_series(1, 5) g`);
    await q(`insert into e170.s select g, 1 + g % 5 from generate_series(1, 10) g`);
    await q(`select retention.set_policy('e170s', 'e170.accounts', 'scrub', 'deactivated_at', interval '1 day',
                                        p_scrub => '{"email": null}', p_revoke => '{e170.sessions}')`);
    await db.call(`call retention.run('e170s')`).catch(() => undefined);
    expect(await q(`select status, error_code from retention.runs where policy_name = 'e170s'`)).toEqual([{ status: 'failed', error_code: 'RT033' }]);
    expect(await q(`select (select count(*)::int from e170.sessions) as sessions, (select count(email)::int from e170.accounts) as emails`)).toEqual([{ sessions: 5, emails: 5 }]);
  });

  it('atk163 F1: a trigger logging removals into a partitioned table the cascade deletes from hides no deletion', async () => {
    await q(`create schema e163`);
    await q(`create table e163.users (id int primary key, last_seen timestamptz not null)`);
    await q(`create table e163.activity (id bigserial, user_id int references e163.users on delete cascade, at timestamptz not null, what text)
             partition by range (at)`);
    await q(`create table e163.activity_old partition of e163.activity for values from ('2000-01-01') to ('2025-01-01')`);
    await q(`create table e163.activity_new partition of e163.activity default`);
    await q(`create function e163.log_removal() returns trigger language plpgsql as $$
             begin
               insert into e163.activity (user_id, at, what) select null, now(), 'account removed' from generate_series(1, 5);
               return old;
             end $$`);
    await q(`create trigger users_log after delete on e163.users for each row execute function e163.log_removal()`);
    await q(`insert into e163.users select g, now() - interval '3 years' from generate_series(1, 10) g`);
    await q(`insert into e163.activity (user_id, at, what) select u, '2020-06-01', 'login' from generate_series(1, 10) u, generate_series(1, 5)`);
    await q(`select retention.set_policy('e163', 'e163.users', 'delete', 'last_seen', interval '1 year')`);
    await db.call(`call retention.run('e163')`);
    expect(await q(`select count(*)::int as old, (select count(*)::int from e163.activity_new) as new from e163.activity_old`)).toEqual([{ old: 0, new: 50 }]);
    expect(await cascaded('e163')).toEqual({ rows: '10', related: '50' });
  });

  it('atk168 F1: an ON UPDATE CASCADE key that moves rows between partitions is refused too, nothing deleted', async () => {
    await q(`create schema e168`);
    await q(`create table e168.users (id int primary key, created_at timestamptz not null)`);
    await q(`create table e168.accounts (id int primary key, user_id int unique references e168.users (id) on delete set null)`);
    await q(`create table e168.ledger (id int, acct_user int references e168.accounts (user_id) on update cascade, note text)
             partition by list (acct_user)`);
    await q(`create table e168.ledger_p partition of e168.ledger for values in (1, 2, 3, 4, 5)`);
    await q(`create table e168.ledger_def partition of e168.ledger default`);
    await q(`insert into e168.users select g, now() - interval '10 days' from generate_series(1, 5) g`);
    await q(`insert into e168.accounts select g, g from generate_series(1, 5) g`);
    await q(`insert into e168.ledger select g, 1 + g % 5, 'x' from generate_series(1, 100) g`);
    await q(`select retention.set_policy('e168', 'e168.users', 'delete', 'created_at', interval '1 day')`);
    await db.call(`call retention.run('e168')`).catch(() => undefined);
    expect(await q(`select status, error_code from retention.runs where policy_name = 'e168'`)).toEqual([{ status: 'failed', error_code: 'RT033' }]);
    expect(await q(`select count(*)::int as n, count(acct_user)::int as keyed from e168.ledger`)).toEqual([{ n: 100, keyed: 100 }]);
  });
});
