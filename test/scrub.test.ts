import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { AS_OF, count } from './support/fixtures.ts';

const db = useTestDatabase();

const sha = (s: string) => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;

/** n accounts, deactivated i days before AS_OF (account i), users cycling 1..5, two
 * identity providers whose subject ids repeat across providers. */
async function makeAccounts(table: string, n: number, withMarker = true): Promise<void> {
  await db.q(`create schema if not exists app`);
  await db.q(`drop table if exists ${table}`);
  await db.q(`create table ${table} (
      id bigint primary key,
      user_id bigint not null,
      email text not null unique,
      name text,
      phone varchar(20),
      profile jsonb,
      idp text not null,
      idp_subject text not null,
      deactivated_at timestamptz not null,
      ${withMarker ? 'scrubbed_at timestamptz,' : ''}
      unique (idp, idp_subject))`);
  await db.q(`create index on ${table} (deactivated_at)`);
  await db.q(`insert into ${table} (id, user_id, email, name, phone, profile, idp, idp_subject, deactivated_at)
              select i, 1 + i % 5, 'user' || i || '@example.com', 'Name ' || i, '+49 30 ' || i,
                     jsonb_build_object('city', 'Berlin', 'i', i), (array['google', 'github'])[1 + i % 2], 'sub-' || (i / 2),
                     $2::timestamptz - make_interval(days => i)
                from generate_series(1, $1) i`, [n, AS_OF]);
}

const SCRUB = { email: 'sha256', name: 'null', phone: { constant: '[purged]' }, profile: 'empty_json', idp_subject: 'sha256' };

describe('scrub', () => {
  it('scrubs each column by its strategy, keeps key and unique constraints, sets the marker', async () => {
    await makeAccounts('app.s1', 100);
    const before = await db.q(`select * from app.s1 order by id`);
    await db.q(`select retention.set_policy('s1', 'app.s1', 'scrub', 'deactivated_at', p_retain => '30 days',
                  p_scrub => $1, p_scrubbed_at_column => 'scrubbed_at')`, [SCRUB]);
    const [pv] = await db.q(`select eligible::int, would_affect::int from retention.preview('s1', $1)`, [AS_OF]);
    expect(pv).toEqual({ eligible: 70, would_affect: 70 });
    const t0 = (await db.q(`select now() as t0`))[0]!.t0 as Date;
    await db.call(`call retention.run('s1', p_as_of => $1)`, [AS_OF]);
    const after = await db.q(`select * from app.s1 order by id`);
    // The marker is the real time of the run, not its p_as_of.
    expect(await count(db, `app.s1 where scrubbed_at between $1 and now()`, [t0])).toBe(70);
    expect(after).toHaveLength(100);
    for (const [i, row] of after.entries()) {
      const old = before[i]!;
      expect(row.id).toBe(old.id);
      if (Number(row.id) <= 30) {
        expect(row).toEqual({ ...old, scrubbed_at: null });
        continue;
      }
      // Two accounts with the same subject id at two providers stay distinct, as unique (idp, idp_subject) requires.
      expect(row).toEqual({
        ...old, email: sha(old.email), name: null, phone: '[purged]', profile: {}, idp_subject: sha(old.idp_subject),
        scrubbed_at: expect.any(Date),
      });
    }
    const [run] = await db.q(`select status, affected::int, batches from retention.runs where policy_name = 's1'`);
    expect(run).toEqual({ status: 'completed', affected: 70, batches: 1 });
    expect(await count(db, `app.s1 where idp_subject like 'sha256:%'`)).toBe(70);
    expect(await db.q(`select count(*)::int as n from (select idp_subject from app.s1 where idp_subject like 'sha256:%' group by 1 having count(*) > 1) d`))
      .toEqual([{ n: 34 }]); // the same subject id at both providers hashes alike; (idp, idp_subject) still unique
  });

  it('repeating a run changes nothing, with the marker and without it', async () => {
    for (const [table, marker] of [['app.s2', true], ['app.s3', false]] as const) {
      await makeAccounts(table, 50, marker);
      const name = table.replace('app.', '');
      await db.q(`select retention.set_policy($1, $2, 'scrub', 'deactivated_at', p_retain => '10 days', p_scrub => $3, p_scrubbed_at_column => $4)`,
        [name, table, SCRUB, marker ? 'scrubbed_at' : null]);
      await db.call(`call retention.run($1, p_as_of => $2)`, [name, AS_OF]);
      const once = await db.q(`select * from ${table} order by id`);
      await db.call(`call retention.run($1, p_as_of => $2)`, [name, AS_OF]);
      // A day later (the data one day older), one more row is due; its marker is the real time.
      await db.q(`update ${table} set deactivated_at = deactivated_at - interval '1 day'`);
      const before = (await db.q(`select now() as before`))[0]!.before as Date;
      await db.call(`call retention.run($1, p_as_of => $2)`, [name, AS_OF]);
      const after = (await db.q(`select now() as after`))[0]!.after as Date;
      expect(await db.q(`select * from ${table} order by id`)).toEqual(
        once.map((r): Record<string, unknown> => ({ ...r, deactivated_at: new Date((r.deactivated_at as Date).getTime() - 86400_000) }))
          .map((r) => (Number(r.id) === 10 ? { ...r, email: sha(r.email as string), name: null, phone: '[purged]', profile: {}, idp_subject: sha(r.idp_subject as string), ...(marker ? { scrubbed_at: expect.any(Date) } : {}) } : r)));
      if (marker) expect(await count(db, `${table} where scrubbed_at between $1 and $2`, [before, after])).toBe(1);
      const runs = await db.q(`select affected::int from retention.runs where policy_name = $1 order by run_id`, [name]);
      expect([table, runs.map((r) => r.affected)]).toEqual([table, [40, 0, 1]]);
    }
  });

  it('a subject hold keeps that subject\'s rows unscrubbed', async () => {
    await makeAccounts('app.s4', 100);
    await db.q(`select retention.set_policy('s4', 'app.s4', 'scrub', 'deactivated_at', p_retain => '30 days',
                  p_scrub => $1, p_scrubbed_at_column => 'scrubbed_at', p_subject_column => 'user_id')`, [SCRUB]);
    await db.q(`select retention.place_hold('subject', '3', 'Fraud investigation 2026-4')`);
    const held = await count(db, `app.s4 where user_id = 3 and deactivated_at < $1::timestamptz - interval '30 days'`, [AS_OF]);
    await db.call(`call retention.run('s4', p_as_of => $1)`, [AS_OF]);
    expect(await count(db, `app.s4 where user_id = 3 and email like 'sha256:%'`)).toBe(0);
    expect(await count(db, `app.s4 where user_id <> 3 and email like 'sha256:%'`)).toBe(70 - held);
    const [run] = await db.q(`select held_back::int, affected::int from retention.runs where policy_name = 's4'`);
    expect(run).toEqual({ held_back: held, affected: 70 - held });
  });

  it('scrubbing a deactivated account revokes its sessions and tokens in the same transaction', async () => {
    await makeAccounts('app.s7', 60);
    await db.q(`create table app.s7_sessions (id bigint generated always as identity primary key,
                  account_id bigint not null references app.s7 (id), token text)`);
    await db.q(`create table app.s7_tokens (id bigint generated always as identity primary key,
                  owner bigint references app.s7 (id) on delete cascade, secret text)`);
    await db.q(`insert into app.s7_sessions (account_id, token) select 1 + i % 60, md5(i::text) from generate_series(0, 179) i`);
    await db.q(`insert into app.s7_tokens (owner, secret) select 1 + i % 60, md5(i::text) from generate_series(0, 59) i`);
    await db.q(`select retention.set_policy('s7', 'app.s7', 'scrub', 'deactivated_at', p_retain => '30 days', p_batch_size => 10,
                  p_subject_column => 'user_id', p_scrub => '{"email": "sha256", "name": null}', p_scrubbed_at_column => 'scrubbed_at',
                  p_revoke => '{app.s7_sessions,app.s7_tokens}')`);
    await db.q(`select retention.place_hold('subject', '2', 'Chargeback dispute')`);
    // (user 3 is held too, since an earlier test in this database)
    const scrubbed = await count(db, `app.s7 where id > 30 and user_id::text not in
      (select subject_id from retention.legal_holds where scope = 'subject' and released_at is null)`);
    expect(scrubbed).toBe(18);
    await db.call(`call retention.run('s7', p_as_of => $1)`, [AS_OF]);
    // Accounts 31..60 are past 30 days; held users' accounts keep their data, sessions and tokens.
    expect(await count(db, `app.s7_sessions s join app.s7 a on a.id = s.account_id where a.scrubbed_at is not null`)).toBe(0);
    expect(await count(db, `app.s7_tokens t join app.s7 a on a.id = t.owner where a.scrubbed_at is not null`)).toBe(0);
    expect(await count(db, `app.s7_sessions s join app.s7 a on a.id = s.account_id where a.scrubbed_at is null`)).toBe(180 - 3 * scrubbed);
    expect(await count(db, `app.s7_tokens`)).toBe(60 - scrubbed);
    expect(await count(db, `app.s7 where scrubbed_at is not null`)).toBe(scrubbed);
    const [ledger] = await db.q(`select sum(rows)::int as rows, sum(related_rows)::int as related, count(*)::int as batches
                                   from retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 's7'`);
    expect(ledger).toEqual({ rows: scrubbed, related: 4 * scrubbed, batches: Math.ceil(scrubbed / 10) });

    await db.q(`create table app.s7_loose (account_id bigint)`);
    expect(await sqlState(db.q(`select retention.set_policy('s7', 'app.s7', 'scrub', 'deactivated_at', p_scrub => '{"name": null}', p_revoke => '{app.s7_loose}')`))).toBe('RT019');
    expect(await sqlState(db.q(`select retention.set_policy('s7', 'app.s7', 'scrub', 'deactivated_at', p_scrub => '{"name": null}', p_revoke => '{app.nope}')`))).toBe('RT001');
    expect(await sqlState(db.q(`select retention.set_policy('s7', 'app.s7', 'delete', 'deactivated_at', p_revoke => '{app.s7_sessions}')`))).toBe('RT007');
    expect((await db.q(`select revoke_tables::text[] as r from retention.policies where name = 's7'`))[0]!.r).toEqual(['app.s7_sessions', 'app.s7_tokens']);
    const fixes = (await db.q(`select fix from retention.check_setup() where policy = 's7'`)).map((r) => r.fix);
    expect(fixes).toContain('CREATE INDEX CONCURRENTLY ON app.s7_sessions (account_id);');
    expect(fixes).toContain('GRANT SELECT, DELETE ON app.s7_tokens TO retention_runner;');
  });

  it('an account that cannot be scrubbed is recorded by its key and the others are scrubbed', async () => {
    await makeAccounts('app.s8', 40);
    await db.q(`create function app.s8_guard() returns trigger language plpgsql as $$
                  begin
                    if old.id in (33, 37) then raise exception 'account % is under manual review', old.id; end if;
                    return new;
                  end $$`);
    await db.q(`create trigger s8_guard before update on app.s8 for each row execute function app.s8_guard()`);
    await db.q(`select retention.set_policy('s8', 'app.s8', 'scrub', 'deactivated_at', p_retain => '30 days', p_batch_size => 4,
                  p_scrub => '{"email": "sha256", "name": null}', p_scrubbed_at_column => 'scrubbed_at')`);
    const { notices } = await db.call(`call retention.run('s8', p_as_of => $1)`, [AS_OF]);
    expect(await db.q(`select id::int from app.s8 where id > 30 and scrubbed_at is null order by id`)).toEqual([{ id: 33 }, { id: 37 }]);
    expect(await count(db, `app.s8 where id > 30 and scrubbed_at is not null and email like 'sha256:%' and name is null`)).toBe(8);
    const [run] = await db.q(`select status, affected::int, failed_rows::int from retention.runs where policy_name = 's8'`);
    expect(run).toEqual({ status: 'completed', affected: 8, failed_rows: 2 });
    const failures = await db.q(`select row_key, error_code, error from retention.run_row_failures order by row_key->>'id'`);
    expect(failures).toEqual([
      { row_key: { id: 33 }, error_code: 'P0001', error: 'account 33 is under manual review' },
      { row_key: { id: 37 }, error_code: 'P0001', error: 'account 37 is under manual review' },
    ]);
    expect(JSON.stringify(failures)).not.toContain('example.com'); // keys only, no personal data
    expect(notices.join('\n')).toMatch(/could not act on/);
    const [note] = await db.q(`select kind, payload from retention.notifications where policy_name = 's8'`);
    expect(note).toMatchObject({ kind: 'rows_failed', payload: { status: 'completed', affected: 8, failed_rows: 2 } });
  });

  it('a run cap scrubs at most that many accounts per run; the rest wait for the next run, none is refused', async () => {
    await makeAccounts('app.s9', 100);
    expect(await sqlState(db.q(`select retention.set_policy('s9', 'app.s9', 'scrub', 'deactivated_at', p_retain => '30 days',
                  p_scrub => '{"name": null}', p_max_rows_per_run => 50, p_run_cap => 51)`))).toBe('RT006');
    await db.q(`select retention.set_policy('s9', 'app.s9', 'scrub', 'deactivated_at', p_retain => '30 days',
                  p_scrub => '{"name": null}', p_scrubbed_at_column => 'scrubbed_at', p_max_rows_per_run => 50, p_run_cap => 30)`);
    for (let i = 0; i < 4; i++) await db.call(`call retention.run('s9', p_as_of => $1)`, [AS_OF]);
    const runs = await db.q(`select status, affected::int from retention.runs where policy_name = 's9' order by run_id`);
    expect(runs).toEqual([
      { status: 'stopped_max_rows', affected: 30 }, { status: 'stopped_max_rows', affected: 30 },
      { status: 'completed', affected: 10 }, { status: 'completed', affected: 0 },
    ]);
    expect(await count(db, `app.s9 where scrubbed_at is not null`)).toBe(70);
  });

  it('check_setup asks for UPDATE on exactly the scrubbed columns and a partial index on unscrubbed rows', async () => {
    await makeAccounts('app.s5', 10);
    await db.q(`drop index app.s5_deactivated_at_idx`);
    await db.q(`grant usage on schema app to retention_runner`);
    await db.q(`select retention.set_policy('s5', 'app.s5', 'scrub', 'deactivated_at', p_scrub => '{"email": "sha256", "name": null}', p_scrubbed_at_column => 'scrubbed_at')`);
    const fixes = (await db.q(`select fix from retention.check_setup() where policy = 's5'`)).map((r) => r.fix);
    expect(fixes).toEqual([
      'CREATE INDEX CONCURRENTLY ON app.s5 (deactivated_at) WHERE scrubbed_at IS NULL;',
      'GRANT SELECT, UPDATE (deactivated_at, email, name, scrubbed_at) ON app.s5 TO retention_runner;',
      `CALL retention.run('s5', p_dry_run => true); -- then without p_dry_run`,
    ]);
    await db.q(fixes[1]!);
    expect(await count(db, `retention.check_setup() where policy = 's5' and fix like 'GRANT%'`)).toBe(0);
  });

  it('refuses a scrub it cannot do, with a hint, and saves nothing', async () => {
    await makeAccounts('app.s6', 5);
    await db.q(`alter table app.s6 add column age int, add column note text not null default ''`);
    const bad: [unknown, string][] = [
      [{}, 'RT019'],
      [['email'], 'RT019'],
      [{ nope: 'null' }, 'RT002'],
      [{ id: 'sha256' }, 'RT019'],
      [{ deactivated_at: 'null' }, 'RT019'],
      [{ note: 'null' }, 'RT019'],
      [{ age: 'sha256' }, 'RT019'],
      [{ phone: 'sha256' }, 'RT019'], // varchar(20) is too short for a digest
      [{ name: 'empty_json' }, 'RT019'],
      [{ age: { constant: 'abc' } }, 'RT019'],
      [{ email: { constant: 'purged@redacted.local' } }, 'RT019'], // unique: would collide
      [{ name: 'shred' }, 'RT019'],
      [{ name: { constant: 'x', extra: 1 } }, 'RT019'],
      [{ name: "null'); drop table app.s6; --" }, 'RT019'],
    ];
    for (const [scrub, code] of bad) {
      expect([scrub, await sqlState(db.q(`select retention.set_policy('x', 'app.s6', 'scrub', 'deactivated_at', p_scrub => $1)`, [JSON.stringify(scrub)]))]).toEqual([scrub, code]);
    }
    expect(await sqlState(db.q(`select retention.set_policy('x', 'app.s6', 'scrub', 'deactivated_at')`))).toBe('RT019');
    expect(await sqlState(db.q(`select retention.set_policy('x', 'app.s6', 'delete', 'deactivated_at', p_scrub => '{"name": "null"}')`))).toBe('RT007');
    expect(await sqlState(db.q(`select retention.set_policy('x', 'app.s6', 'scrub', 'deactivated_at', p_scrub => '{"name": "null"}', p_scrubbed_at_column => 'note')`))).toBe('RT003');
    expect(await sqlState(db.q(`select retention.set_policy('x', 'app.s6', 'scrub', 'deactivated_at', p_scrub => '{"name": "null"}', p_scrubbed_at_column => 'nope')`))).toBe('RT002');
    const hint = await db.q(`select retention.set_policy('x', 'app.s6', 'scrub', 'deactivated_at', p_scrub => '{"email": {"constant": "a@b.c"}}')`).catch((e: { hint: string }) => e.hint);
    expect(hint).toContain('Use sha256');
    // A column other rows reference by foreign key keeps its values.
    await db.q(`create table app.s6_mail (id bigint primary key, to_email text references app.s6 (email))`);
    const fkHint = await db.q(`select retention.set_policy('x', 'app.s6', 'scrub', 'deactivated_at', p_scrub => '{"email": "sha256"}')`).catch((e: { message: string; hint: string }) => `${e.message} / ${e.hint}`);
    expect(fkHint).toMatch(/^column email cannot be scrubbed: app\.s6_mail \(s6_mail_to_email_fkey\) references it by foreign key \/ Rows elsewhere/);
    expect(await count(db, `retention.policies where name = 'x'`)).toBe(0);
    expect(await count(db, `app.s6 where email like 'user%'`)).toBe(5);
  });
});
