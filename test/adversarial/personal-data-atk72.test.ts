// Attack round atk72 (personal data left behind, the atk66 fixes attacked), each finding a test:
//  F1 a request's reference naming the person (a citext e-mail, a short id as a word, a
//     phone number kept as bigint, a name with two blanks, an unhyphenated uuid) was accepted;
//  F2 a released hold on the person's e-mail was kept when the key referencing it was
//     composite ((tenant, to_email) -> users (tenant, email));
//  F3 a failed row keyed by the e-mail, and a flag, were kept once the table was rebuilt
//     under its name (a new oid);
//  F4 a policy's jsonb subject column was neither a step nor a gap, and no rule could name it;
//  F5 a message quoting the e-mail in capitals kept it (values were erased case-sensitively);
//  F6 a duplicate request filed on an inheritance child stayed open with the id;
//  F7 an exemption's token link under the table's former name survived a rename;
//  F8 a rows_flagged notice kept the key and tenant once the policy was dropped and the
//     table renamed.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

const { file, processed, mentions } = erasureHelpers(db);

describe('a completed erasure leaves nothing of the person behind (atk72)', () => {
  it('F1: a reference holding the person\'s e-mail (citext), id as a word, phone number, name or uuid in another spelling is refused', async () => {
    await q(`create schema b1`);
    const citext = await q(`create extension if not exists citext`).then(() => true, () => false);
    await q(`create table b1.users (id bigint primary key, email ${citext ? 'citext' : 'text'} not null unique, name text, phone bigint)`);
    await q(`insert into b1.users values (42, 'Alice.Qwerty@Example.com', 'Alice Qwertyuiop', 4915112345678)`);
    for (const ref of ['ALICE.QWERTY@EXAMPLE.COM', 'ticket for user 42', 'call back +4915112345678', 'Alice  Qwertyuiop', '42']) {
      expect(await sqlState(file('b1.users', '42', ref)), ref).toBe('RT029');
    }
    await q(`create table b1.people (id uuid primary key, name text)`);
    await q(`insert into b1.people values ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'Dora')`);
    expect(await sqlState(file('b1.people', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'T-A0EEBC999C0B4EF8BB6D6BB9BD380A11'))).toBe('RT029');
    expect(await count(db, `retention.erasure_requests where subject_table in ('b1.users'::regclass, 'b1.people'::regclass)`)).toBe(0);
    // Opaque ticket ids are taken.
    for (const ref of ['ZD-4211', 'T-2026-0042']) {
      expect(await file('b1.users', '42', ref), ref).toBeGreaterThan(0);
    }
  });

  it('F2: a released hold on the e-mail a composite key references is forgotten', async () => {
    await q(`create schema b2`);
    await q(`create table b2.users (id bigint primary key, tenant int not null, email text not null, unique (tenant, email))`);
    await q(`create table b2.mails (id bigint primary key, tenant int not null, to_email text not null, sent_at timestamptz not null,
               foreign key (tenant, to_email) references b2.users (tenant, email) on delete cascade)`);
    await q(`insert into b2.users values (42, 1, 'alice.qwerty@b2.example')`);
    await q(`select retention.set_policy('b2.mails', 'b2.mails', 'delete', 'sent_at', interval '30 days', p_subject_column => 'to_email')`);
    const [h] = await q<{ id: number }>(`select hold_id::int as id from retention.place_hold('subject', 'alice.qwerty@b2.example', 'dispute with Alice Qwertyuiop', 'CASE-B2')`);
    await q(`select retention.release_hold($1, 'settled with Alice Qwertyuiop')`, [h!.id]);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('b2.users', '42'))).toBe('completed');
    expect(await mentions('alice.qwerty@b2.example')).toEqual([]);
    expect(await mentions('Qwertyuiop')).toEqual([]);
  });

  it('F3: a failed row keyed by the e-mail, and a flag, go with the person though the table was rebuilt under its name', async () => {
    await q(`create schema b3`);
    await q(`create table b3.users (email text primary key, org text, created_at timestamptz not null, last_login_at timestamptz, deleted_at timestamptz)`);
    await q(`create table b3.notes (id bigint primary key, user_email text references b3.users (email))`);
    await q(`insert into b3.users values ('alice.qwerty@b3.example', 'alice-family-org', now() - interval '3 years', now() - interval '3 years', null),
                                        ('bob.zxcvbn@b3.example', 'acme', now(), now(), null)`);
    await q(`insert into b3.notes values (1, 'alice.qwerty@b3.example')`);
    await q(`select retention.set_policy('b3.users', 'b3.users', 'delete', 'created_at', interval '2 years')`);
    await db.call(`call retention.run('b3.users')`).catch(() => {});
    await q(`select retention.set_inactive_accounts_policy('b3.inactive', 'b3.users', p_tenant_column => 'org')`);
    await db.call(`call retention.run('b3.inactive')`);
    expect(await mentions('alice.qwerty@b3.example')).not.toEqual([]);
    await q(`alter table b3.notes drop constraint notes_user_email_fkey`);
    await q(`create table b3.users_new (like b3.users including all)`);
    await q(`insert into b3.users_new select * from b3.users`);
    await q(`drop table b3.users`);
    await q(`alter table b3.users_new rename to users`);
    await q(`alter table b3.notes add foreign key (user_email) references b3.users (email) on delete cascade`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('b3.users', 'alice.qwerty@b3.example'))).toBe('completed');
    expect(await mentions('alice.qwerty@b3.example')).toEqual([]);
    expect(await mentions('alice-family-org')).toEqual([]);
  });

  it('F4: a policy\'s jsonb subject column is a gap the plan lists, an erasure rule can name it, and the erasure takes the key as a number or a string', async () => {
    await q(`create schema b4`);
    await q(`create table b4.users (id bigint primary key, email text)`);
    await q(`create table b4.events (id bigint primary key, user_id jsonb, at timestamptz not null default now(), what text)`);
    await q(`insert into b4.users values (42, 'alice@b4.example'), (7, 'bob@b4.example')`);
    await q(`insert into b4.events values (1, '42', now(), 'a'), (2, '"42"', now(), 'b'), (3, '7', now(), 'c'), (4, '"420"', now(), 'd')`);
    await q(`select retention.set_policy('b4.events', 'b4.events', 'delete', 'at', interval '1 year', p_subject_column => 'user_id')`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    const id = await file('b4.users', '42');
    expect(await q(`select rows::int, warning from retention.erasure_plan($1) where target = 'b4.events'`, [id]))
      .toEqual([{ rows: 2, warning: expect.stringMatching(/^not in the plan/) }]);
    await q(`select retention.set_erasure_rule('b4.events', 'delete', p_subject_column => 'user_id', p_subject_table => 'b4.users')`);
    expect(await processed(id)).toBe('completed');
    expect(await q(`select id::int from b4.events order by id`)).toEqual([{ id: 3 }, { id: 4 }]);
  });

  it('F5: a message quoting the e-mail in another case loses it', async () => {
    await q(`create schema b5`);
    await q(`create table b5.users (id bigint primary key, email text not null, disputed boolean not null default false, created_at timestamptz not null)`);
    await q(`insert into b5.users values (42, 'Alice.Qwerty@B5.example', true, now() - interval '3 years'), (43, 'Bob.Zxcvbnm@B5.example', true, now() - interval '3 years')`);
    await q(`create function b5.guard() returns trigger language plpgsql as $f$
             begin if old.disputed then raise exception 'account % is in a payment dispute', upper(old.email); end if; return old; end $f$`);
    await q(`create trigger users_dispute before delete on b5.users for each row execute function b5.guard()`);
    await q(`select retention.set_policy('b5.users', 'b5.users', 'delete', 'created_at', interval '2 years')`);
    await db.call(`call retention.run('b5.users')`).catch(() => {});
    expect(await mentions('bob.zxcvbnm@b5.example')).not.toEqual([]);
    await q(`update b5.users set disputed = false where id = 43`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    expect(await processed(await file('b5.users', '43'))).toBe('completed');
    expect(await mentions('bob.zxcvbnm@b5.example')).toEqual([]);
  });

  it('F6: a duplicate request filed on an inheritance child of the subject table completes with it', async () => {
    await q(`create schema b6`);
    await q(`create table b6.users (id bigint primary key, email text)`);
    await q(`create table b6.users_legacy (primary key (id)) inherits (b6.users)`);
    await q(`insert into b6.users values (42, 'alice@b6.example')`);
    await q(`insert into b6.users_legacy values (42, 'alice@b6.example')`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    // A row only the child holds is not the parent's: the hint says where it is.
    await q(`insert into b6.users_legacy values (43, 'carol@b6.example')`);
    const missing = await file('b6.users', '43').then(() => null, (e: { code?: string; hint?: string }) => e);
    expect(missing).toMatchObject({ code: 'RT030', hint: expect.stringMatching(/inheriting from b6\.users is that table's/) });
    const first = await file('b6.users', '42');
    const second = await file('b6.users_legacy', '42');
    expect(await processed(first)).toBe('completed');
    expect(await count(db, `b6.users where id = 42`)).toBe(0);
    expect(await q(`select status, subject_id from retention.erasure_requests where request_id = $1`, [second]))
      .toEqual([{ status: 'completed', subject_id: null }]);
  });

  it('F7, F8: token links, flags and notices of a renamed table (its policy dropped) go with the person', async () => {
    await q(`create schema b7`);
    await q(`create table b7.users (email text primary key, org text, last_login_at timestamptz not null, deleted_at timestamptz)`);
    await q(`insert into b7.users values ('alice.qwerty@b7.example', 'alice-family-org', now() - interval '3 years', null),
                                        ('carol.uiop@b7.example', 'carol-family-org', now() - interval '3 years', null)`);
    await q(`select retention.set_inactive_accounts_policy('b7.inactive', 'b7.users', p_tenant_column => 'org')`);
    await db.call(`call retention.run('b7.inactive')`);
    await q(`select retention.exempt_row('b7.inactive', 'carol.uiop@b7.example', 'VIP')`);
    expect(await count(db, `retention.subject_tokens where subject = 'b7.users:carol.uiop@b7.example'`)).toBe(1);
    expect(await count(db, `retention.notifications where kind = 'rows_flagged' and payload::text like '%alice-family-org%'`)).toBe(1);
    await q(`select retention.drop_policy('b7.inactive')`);
    await q(`alter table b7.users rename to members`);
    await q(`select retention.set_erasure_rule(null, 'delete')`);
    for (const who of ['alice.qwerty@b7.example', 'carol.uiop@b7.example']) {
      expect(await processed(await file('b7.members', who)), who).toBe('completed');
      expect(await mentions(who), who).toEqual([]);
    }
    expect(await mentions('alice-family-org')).toEqual([]);
  });
});
