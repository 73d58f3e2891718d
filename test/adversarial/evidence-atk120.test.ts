// Attack round atk120 (evidence cannot be forged, changed or erased; four eyes stay four):
//  F4 the application made up a "person" in a table of its own whose row held the words it
//     wanted gone ('REJECTED', 'litigation', 'requires', 'approved' …) and filed an erasure
//     request for it: processing it rewrote an approver's rejection comment and another
//     policy's ledger error to '[erased]', and no audit entry said so. Messages concerning
//     other tables keep a value unless it identifies on its own, a value made of
//     pg-retention's own words is kept everywhere, and each message changed is named in an
//     audit entry (erasure.messages_erased).
//  F2 the application's function, run by a row security policy as an approver reviewed the
//     proposal's rows, approved the proposal in the approver's name; as an admin read the
//     table, it switched the approval gate off and released a legal hold. Decisions are
//     refused (42501) from inside any function but pg-retention's own.
//     (Round atk123: F1 a SQL function the planner inlines left no frame: the client's
//     statement must name the routine too; F3 the same for other decisions: erasure rules,
//     holds placed, exemptions, trusted schemas, defaults, backup policies.)
//  F1 four eyes compared login names: a login that could SET ROLE to the proposer's, and
//     the proposer renamed since, approved the proposal. The proposer's role is recorded
//     by OID; the same role, or one either is a member of, may not decide.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;
const { login, tag } = useLogins(db);
const { file, processed } = erasureHelpers(db);

describe('an erasure of a made-up person rewrites other evidence (atk120 F4)', () => {
  it('another policy\'s ledger error and an approver\'s comment stay; the person\'s own e-mail in them goes; changes are audited', async () => {
    await q(`create schema e4`);
    await q(`create table e4.ev (id int primary key, created_at timestamptz not null)`);
    await q(`insert into e4.ev select g, now() - interval '3 years' from generate_series(1, 3) g`);
    await q(`select retention.set_policy('e4.ev', 'e4.ev', 'delete', 'created_at', '1 year', p_approval => 'required')`);
    const id = Number((await q(`select retention.propose('e4.ev') as id`))[0]!.id);
    const bob = await login('bob4', 'retention_approver');
    const comment = 'REJECTED: the batch includes accounts under litigation hold; escalate to legal. Ask zoe.k4@example.com';
    await bob.query(`select retention.reject_proposal($1, $2)`, [id, comment]);
    await db.call(`call retention.run('e4.ev')`).catch(() => {});
    const error = (await q(`select error from retention.runs where policy_name = 'e4.ev' and error is not null order by run_id desc limit 1`))[0]!.error;
    expect(error).toMatch(/approved proposal/);
    // The made-up person, in another table: the words of the evidence, and an e-mail.
    await q(`create table e4.people (id bigint primary key, name text, tags jsonb)`);
    await q(`insert into e4.people values (7, 'zoe.k4@example.com', '["litigation", "REJECTED", "escalate", "legal", "rejected", "requires", "approved", "approved proposal", "accounts under litigation", "proposal ${id}", "${id}"]')`);
    await q(`select retention.set_erasure_rule('e4.people', 'delete')`);
    const req = await file('e4.people', '7');
    expect(await processed(req)).toBe('completed');
    // The comment keeps every word but the address, which identifies on its own.
    expect(await q(`select decision_comment from retention.proposals where proposal_id = $1`, [id]))
      .toEqual([{ decision_comment: comment.replace('zoe.k4@example.com', '[erased]') }]);
    expect(await q(`select error from retention.runs where policy_name = 'e4.ev' and error is not null order by run_id desc limit 1`))
      .toEqual([{ error }]);
    // Named in the audit log, with a hash of what it said, and the chain verifies.
    const [entry] = await q(`select details from retention.audit_log where action = 'erasure.messages_erased' and object_name = $1`, [String(req)]);
    expect(entry!.details.messages).toEqual([
      { table: 'proposals', column: 'decision_comment', id, sha256_before: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(await q(`select ok from retention.verify_audit_log()`)).toEqual([{ ok: true }]);
  });

  it('in a message about the person\'s own table, pg-retention\'s words stay and the person\'s name goes', async () => {
    await q(`create schema e5`);
    await q(`create table e5.people (id bigint primary key, name text, tags jsonb, created_at timestamptz not null default now() - interval '3 years')`);
    await q(`insert into e5.people values (7, 'Quennell Varga', '["rejected", "requires", "proposal", "approved proposal"]'), (8, 'Other Person', '[]')`);
    await q(`select retention.set_policy('e5.people', 'e5.people', 'delete', 'created_at', '1 year', p_approval => 'required')`);
    const id = Number((await q(`select retention.propose('e5.people') as id`))[0]!.id);
    const bob = await login('bob5', 'retention_approver');
    await bob.query(`select retention.reject_proposal($1, $2)`, [id, 'rejected: the proposal requires a hold for Quennell Varga']);
    await q(`select retention.set_erasure_rule('e5.people', 'delete')`);
    const req = await file('e5.people', '7');
    expect(await processed(req)).toBe('completed');
    expect(await q(`select decision_comment from retention.proposals where proposal_id = $1`, [id]))
      .toEqual([{ decision_comment: 'rejected: the proposal requires a hold for [erased]' }]);
    expect(await q(`select ok from retention.verify_audit_log()`)).toEqual([{ ok: true }]);
  });
});

describe('decisions made by the application\'s code in a person\'s session (atk120 F2)', () => {
  it('a row security policy\'s function approving, releasing a hold, switching the gate off: refused, nothing changes', async () => {
    await q(`create role e2_app nologin`);
    await q(`create schema e2 authorization e2_app`);
    await q(`create table e2.ev (id int primary key, created_at timestamptz not null)`);
    await q(`insert into e2.ev select g, now() - interval '3 years' from generate_series(1, 3) g`);
    await q(`alter table e2.ev owner to e2_app`);
    await q(`select retention.set_policy('e2.ev', 'e2.ev', 'delete', 'created_at', '1 year', p_approval => 'required')`);
    const id = Number((await q(`select retention.propose('e2.ev') as id`))[0]!.id);
    const hold = (await q(`select hold_id from retention.place_hold('table', 'e2.ev', 'litigation')`))[0]!.hold_id;
    await q(`set role e2_app;
             create function e2.vis(int) returns boolean language plpgsql as $f$
             begin
               if pg_has_role(session_user, 'retention_approver', 'member') then
                 perform retention.approve_proposal(${id}, 'checked the rows');
               end if;
               if pg_has_role(session_user, 'retention_admin', 'member') then
                 perform retention.alter_policy('e2.ev', p_approval => 'none');
                 perform retention.release_hold(${hold}, 'case closed');
               end if;
               return true;
             end $f$;
             alter table e2.ev enable row level security;
             create policy look on e2.ev using (e2.vis(id));
             grant usage on schema e2 to public;
             grant select on e2.ev to public;
             reset role`);
    const bob = await login('bob2', 'retention_approver');
    const alice = await login('alice2', 'retention_admin');
    for (const c of [bob, alice]) {
      await expect(c.query(`select count(*) from e2.ev`)).rejects.toThrow(/from inside another function \(PL\/pgSQL function e2\.vis/);
    }
    expect(await q(`select status from retention.proposals where proposal_id = $1`, [id])).toEqual([{ status: 'pending' }]);
    expect(await q(`select approval from retention.policies where name = 'e2.ev'`)).toEqual([{ approval: 'required' }]);
    expect(await q(`select released_at from retention.legal_holds where hold_id = $1`, [hold])).toEqual([{ released_at: null }]);
    // A SQL function of one SELECT, which the planner inlines into the reader's query (no
    // frame of its own on the call stack): refused too, since the reader's statement does
    // not name the routine (round atk123 F1); and routines of other decisions (atk123 F3).
    await q(`set role e2_app;
             set check_function_bodies = off;
             create function e2.vis2(int) returns boolean language sql volatile as
               'select (retention.approve_proposal(${id}, ''looks fine'')).proposal_id is not null';
             create function e2.vis3(int) returns boolean language sql volatile as
               'select (retention.set_erasure_rule(null, ''keep'', p_reason => ''x'')).rule is not null
                   and (retention.place_hold(''table'', ''e2.ev'', ''made up'')).hold_id is not null';
             drop policy look on e2.ev;
             create policy look_appr on e2.ev to retention_approver using (e2.vis2(id));
             create policy look_adm on e2.ev to retention_admin using (e2.vis3(id));
             reset role`);
    await expect(bob.query(`select count(*) from e2.ev`)).rejects.toThrow(/from inside a statement that does not call retention\.approve_proposal/);
    await expect(alice.query(`select count(*) from e2.ev`)).rejects.toThrow(/from inside a statement that does not call retention\.(set_erasure_rule|place_hold)/);
    expect(await q(`select status from retention.proposals where proposal_id = $1`, [id])).toEqual([{ status: 'pending' }]);
    expect(await q(`select count(*)::int as n from retention.erasure_rules where target is null`)).toEqual([{ n: 0 }]);
    expect(await q(`select count(*)::int as n from retention.legal_holds where reason = 'made up'`)).toEqual([{ n: 0 }]);
    // In a statement of their own, the same people decide.
    await bob.query(`select retention.approve_proposal($1, 'reviewed')`, [id]);
    expect(await q(`select status from retention.proposals where proposal_id = $1`, [id])).toEqual([{ status: 'approved' }]);
    await q(`drop schema e2 cascade`);
    await q(`drop role e2_app`);
  });
});

describe('one person under two names (atk120 F1)', () => {
  it('a login that can SET ROLE to the proposer\'s, the proposer\'s own login renamed, the proposer a member of the approver: refused (RT036)', async () => {
    await q(`create schema e1`);
    await q(`create table e1.ev (id int primary key, created_at timestamptz not null)`);
    await q(`insert into e1.ev select g, now() - interval '3 years' from generate_series(1, 3) g`);
    await q(`select retention.set_policy('e1.ev', 'e1.ev', 'delete', 'created_at', '1 year', p_approval => 'required')`);
    const worker = await login('wk1', 'retention_runner', 'retention_approver');
    await q(`grant usage on schema e1 to wk1_${tag}; grant all on e1.ev to wk1_${tag}`);
    const propose = async () => Number((await worker.query(`select retention.propose('e1.ev') as id`)).rows[0].id);
    const status = async (id: number) => (await q(`select status from retention.proposals where proposal_id = $1`, [id]))[0]!.status;
    // A login granted the proposer's role.
    const twin = await login('twin1', 'retention_approver', `wk1_${tag}`);
    const id = await propose();
    await expect(twin.query(`select retention.approve_proposal($1, 'ok')`, [id])).rejects.toMatchObject({ code: 'RT036' });
    expect(await status(id)).toBe('pending');
    // The proposer a member of the approver's role.
    const boss = await login('boss1', 'retention_approver');
    await q(`grant boss1_${tag} to wk1_${tag}`);
    await expect(boss.query(`select retention.approve_proposal($1, 'ok')`, [id])).rejects.toMatchObject({ code: 'RT036' });
    await q(`revoke boss1_${tag} from wk1_${tag}`);
    // The proposer renamed since (a DBA's rename): still the proposer.
    await worker.end();
    await q(`alter role wk1_${tag} rename to wk1b_${tag}`);
    await q(`alter role wk1b_${tag} password 'pw'`);
    const u = new URL(db.url);
    u.username = `wk1b_${tag}`;
    u.password = 'pw';
    const renamed = new pg.Client({ connectionString: u.toString() });
    await renamed.connect();
    try {
      await expect(renamed.query(`select retention.approve_proposal($1, 'ok')`, [id])).rejects.toMatchObject({ code: 'RT036' });
      expect(await status(id)).toBe('pending');
    } finally {
      await renamed.end();
      await q(`alter role wk1b_${tag} rename to wk1_${tag}`);
    }
    // A second person decides.
    await boss.query(`select retention.approve_proposal($1, 'counts checked')`, [id]);
    expect(await status(id)).toBe('approved');
    await q(`drop schema e1 cascade`);
  });
});

describe('another policy\'s messages, round atk124', () => {
  it('a phone number in groups goes (F1); a made-up person\'s five-digit numbers do not rewrite a case number (F3); each failed row changed is its own audit entry (F2)', async () => {
    await q(`create schema e7`);
    await q(`create table e7.people (id bigint primary key, name text, phone text, tags jsonb)`);
    await q(`insert into e7.people values (7, 'Yvaine Quorra', '+44 20 7946 0958', '["12345", "54321", 67890]')`);
    await q(`create table e7.orders (id int primary key, note text, created_at timestamptz not null default now() - interval '3 years')`);
    await q(`insert into e7.orders values (1, 'call +44 20 7946 0958'), (2, 'under case 12345'), (3, 'call +44 20 7946 0958 again')`);
    await q(`create function e7.guard() returns trigger language plpgsql as $f$ begin raise exception 'order %: %', old.id, old.note; end $f$`);
    await q(`create trigger guard before delete on e7.orders for each row execute function e7.guard()`);
    await q(`select retention.set_policy('e7.orders', 'e7.orders', 'delete', 'created_at', '1 year')`);
    await db.call(`call retention.run('e7.orders')`).catch(() => {});
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'e7.orders' order by 1`;
    expect(await q(failures)).toHaveLength(3);
    await q(`select retention.set_erasure_rule('e7.people', 'delete')`);
    const req = await file('e7.people', '7');
    expect(await processed(req)).toBe('completed');
    expect((await q(failures)).map((r) => r.error)).toEqual([
      expect.stringMatching(/^order 1: call \[erased\]$/), expect.stringMatching(/^order 2: under case 12345$/),
      expect.stringMatching(/^order 3: call \[erased\] again$/)]);
    const [entry] = await q(`select details from retention.audit_log where action = 'erasure.messages_erased' and object_name = $1`, [String(req)]);
    const rows = (entry!.details.messages as { table: string; id: unknown }[]).filter((m) => m.table === 'run_row_failures');
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((m) => JSON.stringify(m.id))).size).toBe(2);
  });
});
