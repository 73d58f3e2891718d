// Attack round atk94 (no held row deleted or changed; no role gains the owner's powers):
//  - F1: contrib's refint trigger (check_foreign_key 'cascade'), which a superuser
//    installed and the application attached to its table, deleted table-held rows of
//    another table by SQL of its own; the run ended completed. Refused now (RT025), as
//    any function that runs SQL of its own.
//  - F2: a batch's lock pass waited for a row the application held; meanwhile it ran
//    CREATE STATISTICS on an expression calling its IMMUTABLE function (SHARE UPDATE
//    EXCLUSIVE, which the batch's ROW EXCLUSIVE does not stop). The final statement,
//    planned after the wait, evaluated it as the retention owner: the role made itself
//    superuser. Each statement after a lock pass checks the tables again first; since
//    round atk99 the check holds SHARE UPDATE EXCLUSIVE, so the statistics wait.
//  - F3: a subject column under an ICU collation that ignored soft hyphens, zero-width
//    characters (and with alternate=shifted blanks and punctuation), made "C" since: the
//    rows spelled so were no longer held.
import { afterAll, describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

afterAll(async () => {
  await q(`drop role if exists atk94_app`).catch(() => {});
});

describe('refint, a trigger that changes other tables by SQL of its own (atk94 F1)', () => {
  it('check_foreign_key cascading into a held table: the run is refused (RT025) and the held rows stay', async () => {
    await q(`create extension if not exists refint`);
    await q(`create schema f1r`);
    await q(`create table f1r.users (id int primary key, email text not null, created_at timestamptz not null)`);
    await q(`create table f1r.messages (id int primary key, user_id int not null, body text)`);
    await q(`create trigger users_fk before delete or update on f1r.users for each row
               execute function check_foreign_key(1, 'cascade', 'id', 'f1r.messages', 'user_id')`);
    await q(`insert into f1r.users values (1, 'old@x.example', now() - interval '3 years')`);
    await q(`insert into f1r.messages values (10, 1, 'evidence message'), (11, 1, 'another')`);
    await q(`select retention.set_policy('f1r.users', 'f1r.users', 'delete', 'created_at', '1 year')`);
    await q(`select retention.place_hold('table', 'f1r.messages', 'litigation: all messages')`);
    expect(await sqlState(db.call(`call retention.run('f1r.users')`))).toBe('RT025');
    expect(await count(db, 'f1r.messages')).toBe(2);
    expect(await count(db, 'f1r.users')).toBe(1);
  });
});

describe('statistics created while a batch waits for its locks (atk94 F2)', () => {
  for (const gate of ['a hold open elsewhere'] as const) {
    it(`the application's function in a statistics expression never runs as the owner (${gate})`, async () => {
      const s = 'f2h';
      await q(`drop role if exists atk94_app`);
      await q(`create role atk94_app nologin`);
      await q(`create schema ${s} authorization atk94_app`);
      await q(`create table ${s}.users (id int primary key, created_at timestamptz not null)`);
      await q(`create table ${s}.msgs (id int primary key, user_id int not null references ${s}.users on delete cascade)`);
      await q(`create table ${s}.other (id int primary key)`);
      await q(`create table ${s}.log (who text)`);
      await q(`grant insert on ${s}.log to public`);
      for (const t of ['users', 'msgs', 'other', 'log']) await q(`alter table ${s}.${t} owner to atk94_app`);
      await q(`set role atk94_app;
               create function ${s}.note() returns void language plpgsql volatile as $f$
                 begin insert into ${s}.log values (current_user); end $f$;
               create function ${s}.evil(int) returns int language plpgsql immutable as $f$
                 begin perform ${s}.note(); return $1; end $f$; reset role`);
      await q(`insert into ${s}.users values (1, now() - interval '3 years')`);
      await q(`insert into ${s}.msgs values (10, 1)`);
      await q(`select retention.set_policy('${s}', '${s}.users', 'delete', 'created_at', '1 year', p_lock_timeout => '30 seconds')`);
      await q(`select retention.place_hold('table', '${s}.other', 'unrelated matter')`);
      const a = await db.connect();
      const b = await db.connect();
      try {
        await a.query(`begin`);
        await a.query(`select id from ${s}.msgs where id = 10 for update`);
        const run = db.call(`call retention.run('${s}')`).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
        await expect.poll(async () => (await q(`select count(*)::int as n from pg_stat_activity
                                                 where wait_event_type = 'Lock' and query like 'call retention.run(%${s}%'`))[0]!.n,
                          { timeout: 20_000, interval: 50 }).toBe(1);
        await b.query(`set role atk94_app`);
        // Since round atk99 (F2) the batch holds SHARE UPDATE EXCLUSIVE on the tables it
        // checked: the statistics wait for it, and the batch is planned as it checked.
        const stats = b.query(`create statistics ${s}.st on (${s}.evil(coalesce(1, id))) from ${s}.users`);
        await expect.poll(async () => (await q(`select count(*)::int as n from pg_stat_activity
                                                 where wait_event_type = 'Lock' and query like 'create statistics%'`))[0]!.n,
                          { timeout: 20_000, interval: 50 }).toBe(1);
        await a.query(`commit`);
        // The batch commits; the run's next statement finds the statistics made meanwhile
        // (RT025), or the run was over.
        expect(['ok', 'RT025']).toContain(await run);
        await stats;
        expect(await q(`select who from ${s}.log`)).toEqual([]);
        expect(await q(`select sum(rows)::int as n from retention.run_batches`)).toEqual([{ n: 1 }]);
        // Planning a statement on the table now would run it: the next run refuses.
        expect(await sqlState(db.call(`call retention.run('${s}')`))).toBe('RT025');
        expect(await q(`select who from ${s}.log`)).toEqual([]);
        // (This file's own count would run it too, as its login: the statistics go first.)
        await q(`drop statistics ${s}.st`);
        expect(await count(db, `${s}.users`)).toBe(0);
      } finally {
        await a.query('rollback').catch(() => {});
        await a.end();
        await b.end();
        await q(`drop schema ${s} cascade`);
        await q(`drop role atk94_app`);
      }
    }, 60_000);
  }
});

describe('a subject column made "C" after an ICU collation that ignored characters (atk94 F3)', () => {
  for (const locale of ['und-u-ks-level1', 'und-u-ks-level1-ka-shifted']) {
    it(`${locale}: the rows the hold held under it (soft hyphen, zero-width space, joiners, BOM${locale.endsWith('shifted') ? ', punctuation, blanks' : ''}) stay held`, async () => {
      const s = `icu${locale.endsWith('shifted') ? 's' : 'l'}`;
      await q(`create schema ${s}`);
      await q(`create collation ${s}.ci (provider = icu, locale = '${locale}', deterministic = false)`);
      await q(`create table ${s}.notes (id int primary key, subj text collate ${s}.ci, created_at timestamptz not null default now() - interval '3 years')`);
      const spellings = [`'alice'`, `E'al\\u00adice'`, `E'ali\\u200bce'`, `E'alic\\u200de'`, `E'a\\u2060lice'`, `E'alice\\u034f'`,
                         `E'\\ufeffalice'`, `'ÁLÏCE'`, ...(locale.endsWith('shifted') ? [`'a.l-i c_e'`, `'Alice!'`, `'al ice'`] : [])];
      await q(`insert into ${s}.notes (id, subj) values ${spellings.map((v, i) => `(${i + 1}, ${v})`).join(', ')}, (100, 'bob')`);
      // Under the collation each of them is alice.
      expect(await count(db, `${s}.notes where subj = 'alice'`)).toBe(spellings.length);
      await q(`select retention.set_policy('${s}.notes', '${s}.notes', 'delete', 'created_at', '1 year', p_subject_column => 'subj')`);
      await q(`select retention.place_hold('subject', 'alice', 'litigation')`);
      await q(`alter table ${s}.notes alter column subj type text collate "C"`);
      await db.call(`call retention.run('${s}.notes')`);
      expect(await count(db, `${s}.notes`)).toBe(spellings.length);
      expect(await count(db, `${s}.notes where id = 100`)).toBe(0);
      await q(`select retention.release_hold(hold_id, 'settled') from retention.legal_holds where subject_id = 'alice' and released_at is null`);
    });
  }
});
