// Attacks through a policy's predicate. A predicate is pasted into the engine's
// statements, so it must be exactly one boolean expression over the table's own columns,
// parsed by PostgreSQL (never by hand) and calling only built-in, non-volatile functions.
// Every refusal is RT005 and changes nothing: no policy, no audit entry, no row.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../runner/migrate.ts';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();

/** app.<name>: 100 rows, row i is i - 0.5 days old; user_id 1..10; note and "it's" text columns. */
async function table(name: string): Promise<void> {
  await db.q(`create schema if not exists app`);
  await db.q(`create table app.${name} (id bigint generated always as identity primary key, user_id bigint,
                note text, "it's" text, created_at timestamptz not null)`);
  await db.q(`create index on app.${name} (created_at)`);
  await db.q(`insert into app.${name} (user_id, note, "it's", created_at)
              select 1 + i % 10, 'n' || i, 'x', now() - make_interval(days => i) + interval '12 hours' from generate_series(1, 100) i`);
}

async function state(name: string) {
  return {
    policies: await db.q(`select * from retention.policies order by policy_id`),
    audit: await count(db, 'retention.audit_log'),
    rows: await count(db, `app.${name}`),
  };
}

const ATTACKS: [string, string][] = [
  ['an E-string that closes the parentheses', `note <> E'\\'' ) or true or ( note <> E'\\''`],
  ['a quoted identifier holding a quote', `"it's" = 'x' ) or true or ( "it's" = 'x'`],
  ['a second statement', `true; delete from app.pa`],
  ['a second statement after closing the constraint', `true) not valid; drop table app.pa; alter table app.pa add constraint z check (true`],
  ['a union that would read everything', `true) from app.pa t union all select (true`],
  ['a trailing comment that swallows the rest', `true) or (true --`],
  ['volatile random()', `random() < 0.5`],
  ['pg_sleep', `pg_sleep(10) is not null`],
  ['set_config', `set_config('retention.actor', 'forged', false) is not null`],
  ['nextval', `nextval('app.pa_id_seq') > 0`],
  ['an advisory lock', `pg_advisory_lock(1) is not null`],
  ['a subquery over another table', `exists (select from retention.legal_holds)`],
  ['a subquery over its own table', `id in (select id from app.pa)`],
  ['an aggregate', `count(*) > 0`],
  ['a window function', `row_number() over () > 0`],
  ['a set-returning function', `generate_series(1, 2) > 0`],
  ['table_to_xml reading another table', `length(table_to_xml('retention.legal_holds', true, false, '')::text) > 0`],
  ['query_to_xml running SQL', `query_to_xml('delete from app.pa returning 1', true, false, '') is not null`],
  ['a function outside pg_catalog', `app.always_true(note)`],
  ['a system column', `ctid <> '(0,0)'`],
  ['an unknown column', `nope = 1`],
  ['a non-boolean expression', `user_id + 1`],
  ['an empty predicate', `   `],
];

describe('predicates are parsed by PostgreSQL', () => {
  it('each attack is refused with RT005 and changes nothing', async () => {
    await table('pa');
    await db.q(`create function app.always_true(text) returns boolean language sql immutable as 'select true'`);
    await db.q(`select retention.set_policy('pa', 'app.pa', 'delete', 'created_at', p_retain => '50 days')`);
    const before = await state('pa');
    for (const [what, predicate] of ATTACKS) {
      const refused = (sql: string) => db.q(sql, [predicate]).then(() => `accepted: ${what}`, (e: { code?: string }) => e.code);
      expect(await refused(`select retention.set_policy('pa', 'app.pa', 'delete', 'created_at', p_retain => '50 days', p_predicate => $1)`), what).toBe('RT005');
      expect(await refused(`select retention.set_policy('pa-new', 'app.pa', 'delete', 'created_at', p_predicate => $1)`), what).toBe('RT005');
    }
    expect(await state('pa')).toEqual(before);
    expect(await count(db, `pg_class where relname like 'retention_predicate%'`)).toBe(0);
  });

  it('a predicate that selects everything still cannot cross the cutoff or a hold', async () => {
    await table('pb');
    // Valid, one expression each: an "or true" stays inside the engine's parentheses.
    await db.q(`select retention.set_policy('pb', 'app.pb', 'delete', 'created_at', p_predicate => $1)`, [`note = $x$ ) or (true $x$`]);
    expect((await db.q(`select predicate from retention.policies where name = 'pb'`))[0]!.predicate).toBe(`(note = ' ) or (true '::text)`);
    await db.q(`select retention.set_policy('pb', 'app.pb', 'delete', 'created_at', p_retain => '50 days',
                  p_subject_column => 'user_id', p_predicate => $1)`, [`note = $$)$$ or true /* ) or (true */`]);
    const [p] = await db.q(`select predicate from retention.policies where name = 'pb'`);
    expect(p!.predicate).toBe(`((note = ')'::text) OR true)`);
    await db.q(`select retention.place_hold('subject', '3', 'Dispute')`);
    const [pv] = await db.q(`select eligible::int, held_back::int from retention.preview('pb')`);
    expect(pv).toEqual({ eligible: 50, held_back: 5 });
    await db.call(`call retention.run('pb')`);
    expect(await count(db, 'app.pb')).toBe(55);
    expect(await count(db, `app.pb where created_at > now() - interval '50 days'`)).toBe(50);
    expect(await count(db, `app.pb where user_id = 3`)).toBe(10);
  });

  it('the stored predicate is PostgreSQL\'s deparsed form, and re-applying it changes nothing', async () => {
    await table('pc');
    const [p] = await db.q(`select (retention.set_policy('pc', 'app.pc', 'delete', 'created_at', p_predicate => $1)).predicate`,
      [`note like '%;--%' and created_at < now() - interval '1 day'`]);
    expect(p!.predicate).toBe(`((note ~~ '%;--%'::text) AND (created_at < (now() - '1 day'::interval)))`);
    const audit = await count(db, 'retention.audit_log');
    await db.q(`select retention.set_policy('pc', 'app.pc', 'delete', 'created_at', p_predicate => $1)`, [p!.predicate]);
    expect(await count(db, 'retention.audit_log')).toBe(audit);
  });

  it('writing the predicate column directly goes through the same check as the owner; an admin may not write it at all', async () => {
    await table('pd');
    await db.q(`select retention.set_policy('pd', 'app.pd', 'delete', 'created_at', p_retain => '50 days', p_predicate => 'user_id > 2')`);
    expect(await sqlState(db.q(`update retention.policies set predicate = 'true) or (true' where name = 'pd'`))).toBe('RT005');
    expect(await sqlState(db.q(`update retention.policies set predicate = 'random() < 1' where name = 'pd'`))).toBe('RT005');
    const role = `adm_${randomBytes(3).toString('hex')}`;
    const c = await loginAs(db, role, 'retention_admin');
    await db.q(`grant usage on schema app to ${role}`);
    await db.q(`grant select on app.pd to ${role}`);
    expect(await sqlState(c.query(`update retention.policies set predicate = $1 where name = 'pd'`, [`note <> E'\\'' ) or true or ( note <> E'\\''`]))).toBe('42501');
    expect(await sqlState(c.query(`update retention.policies set predicate = 'user_id in (1, 2)' where name = 'pd'`))).toBe('42501');
    await c.end();
    await db.q(`update retention.policies set predicate = 'user_id in (1, 2)' where name = 'pd'`);
    const [p] = await db.q(`select predicate from retention.policies where name = 'pd'`);
    expect(p!.predicate).toBe(`(user_id = ANY (ARRAY[(1)::bigint, (2)::bigint]))`);
  });

  it('a function of a schema an admin trusted may be called, audited; distrusted, it is refused again', async () => {
    await table('pe');
    await db.q(`create schema if not exists fns`);
    await db.q(`create function fns.is_test(text) returns boolean language sql immutable as $$select $1 like 'n1%'$$`);
    await db.q(`create function fns.noisy(text) returns boolean language sql volatile as $$select true$$`);
    expect(await sqlState(db.q(`select retention.set_policy('pe', 'app.pe', 'delete', 'created_at', p_predicate => 'fns.is_test(note)')`))).toBe('RT005');
    expect(await sqlState(db.q(`select retention.trust_schema('fns', ' ')`))).toBe('RT005');
    expect(await sqlState(db.q(`select retention.trust_schema('nope', 'x')`))).toBe('RT005');
    expect(await sqlState(db.q(`select retention.trust_schema('pg_toast', 'x')`))).toBe('RT005');
    await db.q(`select retention.trust_schema('fns', 'Test-data helpers of the app team')`);
    const [p] = await db.q(`select (retention.set_policy('pe', 'app.pe', 'delete', 'created_at', p_retain => '50 days', p_predicate => 'fns.is_test(note)')).predicate`);
    expect(p!.predicate).toBe('fns.is_test(note)');
    // Volatile stays refused, trusted schema or not.
    expect(await sqlState(db.q(`select retention.set_policy('pe2', 'app.pe', 'delete', 'created_at', p_predicate => 'fns.noisy(note)')`))).toBe('RT005');
    await db.call(`call retention.run('pe')`);
    expect(await count(db, `app.pe where note like 'n1%' and created_at < now() - interval '50 days'`)).toBe(0);
    expect(await count(db, 'app.pe')).toBe(100 - (await count(db, `generate_series(51, 100) i where 'n' || i like 'n1%'`)));
    await db.q(`select retention.distrust_schema('fns', 'Helpers retired')`);
    expect(await sqlState(db.q(`select retention.set_policy('pe3', 'app.pe', 'delete', 'created_at', p_predicate => 'fns.is_test(note)')`))).toBe('RT005');
    const audit = await db.q(`select action from retention.audit_log where object_type = 'schema' order by audit_id`);
    expect(audit.map((a) => a.action)).toEqual(['schema.trusted', 'schema.distrusted']);
  });

  it('a function on the caller\'s search_path that shadows a built-in never runs inside a batch', async () => {
    await table('pf');
    await db.q(`create schema if not exists evil`);
    await db.q(`create table evil.calls (n int)`);
    // lower(varchar) matches a varchar argument better than pg_catalog.lower(text).
    await db.q(`alter table app.pf add column tag varchar(10) default 'X'`);
    await db.q(`create function evil.lower(varchar) returns text language plpgsql as $$begin insert into evil.calls values (1); return 'x'; end$$`);
    await db.q(`select retention.set_policy('pf', 'app.pf', 'delete', 'created_at', p_retain => '50 days', p_predicate => $$lower(tag) = 'x'$$)`);
    const c = await db.connect();
    await c.query(`set search_path = evil, public, pg_catalog`);
    await c.query(`call retention.run('pf')`);
    await c.query(`select * from retention.preview('pf')`);
    await c.end();
    expect(await count(db, 'evil.calls')).toBe(0);
    expect(await count(db, 'app.pf')).toBe(50);
  });

  it('migrate parses stored predicates again: one PostgreSQL refuses acts on nothing, its policy disabled and audited', async () => {
    await table('pg');
    await db.q(`select retention.set_policy('pg', 'app.pg', 'delete', 'created_at', p_retain => '50 days', p_predicate => 'user_id > 2')`);
    // As an older version could have stored it (the owner bypassing the check).
    await db.q(`alter table retention.policies disable trigger policies_predicate_check`);
    await db.q(`update retention.policies set predicate = $1 where name = 'pg'`, [`user_id > 2 ) or true or ( true`]);
    await db.q(`alter table retention.policies enable trigger policies_predicate_check`);
    await migrate(db.url);
    const [p] = await db.q(`select predicate, enabled from retention.policies where name = 'pg'`);
    expect(p).toEqual({ predicate: 'false', enabled: false });
    const [a] = await db.q(`select details from retention.audit_log where action = 'policy.predicate_refused' and object_name = 'pg'`);
    expect(a!.details).toMatchObject({ predicate: 'user_id > 2 ) or true or ( true' });
    await db.call(`call retention.run('pg')`);
    expect(await count(db, 'app.pg')).toBe(100);
  });
});
