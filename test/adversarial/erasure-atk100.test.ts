// Attack round atk100 (a completed erasure leaves none of the person, and touches nobody
// else), the findings where her erasure changed other people's records:
//  - F5: the message sweep cut her values out of bob's failed-row message wherever they
//    stood: a city they share ('Leeds'), and her key's digits inside his phone number;
//  - F7: every JSON number or string equal to her key in a rows_flagged notice became her
//    token: the notice's count, its run id, and bob's tenant.
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);

describe('other people\'s messages (atk100 F5)', () => {
  it('bob\'s failed-row message keeps the city he shares with alice and his phone number that ends in her key', async () => {
    await q(`create schema f5`);
    await q(`create table f5.users (id int primary key, email text, city text)`);
    await q(`create table f5.orders (id int primary key, user_id int references f5.users, addr text, created_at timestamptz default now())`);
    await q(`insert into f5.users values (1234, 'alice.smith@acme-corp.example', 'Leeds'), (2, 'bob.smith@acme-corp.example', 'Leeds')`);
    await q(`insert into f5.orders values (20, 2, '221 Oak Road, Leeds, tel 0113 4961234', now() - interval '400 days'),
                                          (21, 1234, '12 Baker Street, Leeds', now())`);
    await q(`create function f5.guard() returns trigger language plpgsql as $$
               begin if old.id = 20 then raise exception 'cannot remove order shipped to %', old.addr; end if; return old; end $$`);
    await q(`create trigger guard before delete on f5.orders for each row execute function f5.guard()`);
    // Her own message, quoting her e-mail, for contrast.
    await q(`select retention.set_policy('f5.orders', 'f5.orders', 'delete', 'created_at', interval '1 year')`);
    await db.call(`call retention.run('f5.orders')`);
    const before = await q(`select error from retention.run_row_failures where row_key ->> 'id' = '20'`);
    expect(before).toEqual([{ error: expect.stringContaining('221 Oak Road, Leeds, tel 0113 4961234') }]);
    await q(`update retention.runs set error = 'a message naming alice.smith@acme-corp.example and Leeds' where policy_name = 'f5.orders'`);
    await q(`select retention.set_erasure_rule('f5.orders', 'delete')`);
    const [{ request_id: id }] = await q(`select request_id from retention.request_erasure('f5.users', '1234', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [id]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
    expect(await q(`select error from retention.run_row_failures where row_key ->> 'id' = '20'`)).toEqual(before);
    // Her own address goes; the city they share stays.
    expect(await q(`select error from retention.runs where policy_name = 'f5.orders'`))
      .toEqual([{ error: 'a message naming [erased] and Leeds' }]);
  });
});

describe('a rows_flagged notice listing her and others (atk100 F7)', () => {
  it('only her row\'s key becomes her token: the count, the run id, bob\'s key and the tenant stay', async () => {
    await q(`create schema f7`);
    await q(`create table f7.users (id int primary key, email text, last_login_at timestamptz, deleted_at timestamptz, tenant int)`);
    await q(`insert into f7.users values (1, 'bob@x.example', now() - interval '3 years', null, 2),
                                         (2, 'alice@x.example', now() - interval '3 years', null, 2),
                                         (3, 'carol@x.example', now(), null, 2)`);
    await q(`select retention.set_inactive_accounts_policy('f7.inactive', 'f7.users', p_inactive_after => '2 years',
                                                           p_grace => '30 days', p_tenant_column => 'tenant')`);
    await db.call(`call retention.run('f7.inactive')`);
    const [before] = await q(`select payload from retention.notifications where kind = 'rows_flagged'`);
    expect(before!.payload).toMatchObject({ count: 2, tenant: '2' });
    const runId = before!.payload.run_id as number;
    const [{ request_id: id }] = await q(`select request_id from retention.request_erasure('f7.users', '2', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [id]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
    const [after] = await q(`select payload from retention.notifications where kind = 'rows_flagged'`);
    const keys = (after!.payload.rows as { key: string }[]).map((r) => r.key).sort();
    expect(keys).toEqual(['1', expect.stringMatching(/^subj_/)]);
    expect(after!.payload).toMatchObject({ count: 2, run_id: runId, tenant: '2' });
    expect(JSON.stringify(after!.payload)).not.toContain('alice@x.example');
  });
});

describe('a text key another person has in other case (atk100 F8)', () => {
  it('erasing anna.k leaves the hold, token links, flag and notice entry of the person ANNA.K', async () => {
    await q(`create schema f8`);
    await q(`create table f8.members (handle text primary key, email text, last_login_at timestamptz, deleted_at timestamptz)`);
    await q(`insert into f8.members values ('anna.k', 'anna@x.example', now() - interval '3 years'),
                                           ('ANNA.K', 'other@y.example', now() - interval '3 years'),
                                           ('anna.kb', 'third@z.example', now() - interval '3 years')`);
    await q(`select retention.set_inactive_accounts_policy('f8.inactive', 'f8.members', p_inactive_after => '2 years', p_grace => '30 days')`);
    await db.call(`call retention.run('f8.inactive')`);
    const holds: Record<string, number> = {};
    for (const v of ['ANNA.K', 'anna.kb']) {
      holds[v] = (await q(`select hold_id from retention.place_hold('subject', $1, 'litigation')`, [v]))[0]!.hold_id as number;
      await q(`select retention.release_hold($1, 'case closed')`, [holds[v]]);
    }
    const tokensBefore = await q(`select subject from retention.subject_tokens where subject in ('subject:ANNA.K', 'subject:anna.kb') order by 1`);
    expect(tokensBefore).toHaveLength(2);
    const [{ request_id: id }] = await q(`select request_id from retention.request_erasure('f8.members', 'anna.k', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [id]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
    expect(await q(`select subject_id, reason, release_reason from retention.legal_holds where hold_id = any ($1) order by subject_id`,
                   [Object.values(holds)]))
      .toEqual([{ subject_id: 'ANNA.K', reason: 'litigation', release_reason: 'case closed' },
                { subject_id: 'anna.kb', reason: 'litigation', release_reason: 'case closed' }]);
    expect(await q(`select subject from retention.subject_tokens where subject in ('subject:ANNA.K', 'subject:anna.kb') order by 1`)).toEqual(tokensBefore);
    const [n] = await q(`select payload from retention.notifications where kind = 'rows_flagged' and policy_name = 'f8.inactive'`);
    const keys = (n!.payload.rows as { key: string }[]).map((r) => r.key);
    expect(keys.filter((k) => k === 'ANNA.K' || k === 'anna.kb').sort()).toEqual(['ANNA.K', 'anna.kb']);
    expect(keys).not.toContain('anna.k');
    expect(await q(`select row_key from retention.flagged_rows where row_key in ('ANNA.K', 'anna.kb') order by 1`))
      .toEqual([{ row_key: 'ANNA.K' }, { row_key: 'anna.kb' }]);
  });
});

describe('what a proposer and an approver wrote (atk100 F2)', () => {
  it('an approval comment naming her is not in the audit log, and her erasure erases it from the proposal', async () => {
    await q(`create schema f2`);
    await q(`create table f2.users (id int primary key, email text, phone text, created_at timestamptz not null)`);
    await q(`insert into f2.users values (1, 'alicia.smith@acme.example', '+44 20 7946 0958', now() - interval '3 years'),
                                         (2, 'bob.jones@acme.example', '+44 20 7946 0001', now())`);
    await q(`select retention.set_policy('f2.users', 'f2.users', 'delete', 'created_at', '1 year', p_approval => 'required')`);
    const id = Number((await q(`select retention.propose('f2.users', p_note => 'alicia.smith@acme.example asked us to wait') as id`))[0]!.id);
    const approver = await login('f2appr', 'retention_approver');
    await approver.query(`select retention.approve_proposal($1, 'ok - alicia.smith@acme.example (+44 20 7946 0958) confirmed by phone')`, [id]);
    const audit = JSON.stringify(await q(`select details from retention.audit_log where action = 'proposal.approved'`));
    expect(audit).not.toContain('alicia');
    expect(audit).toContain('comment_chars');
    const [{ request_id: rid }] = await q(`select request_id from retention.request_erasure('f2.users', '1', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [rid]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [rid])).toEqual([{ status: 'completed' }]);
    const [p] = await q(`select note, decision_comment from retention.proposals where proposal_id = $1`, [id]);
    expect(JSON.stringify(p)).not.toMatch(/alicia|7946 0958/);
    expect(p!.decision_comment).toContain('confirmed by phone');
  });
});

describe('released holds on spellings of her address and number (atk100 F4)', () => {
  it('mailto:, a display name, tel:, a +tag sub-address and base64 are forgotten; values bob shares stay', async () => {
    await q(`create schema f4`);
    await q(`create table f4.users (id int primary key, name text)`);
    await q(`create table f4.contacts (id int primary key, user_id int references f4.users, email text, phone text)`);
    await q(`insert into f4.users values (1, 'Alicia Smith'), (2, 'Robert Smith')`);
    await q(`insert into f4.contacts values (1, 1, 'alice.smith@acme-corp.example', '+44 20 7946 0958'),
                                            (2, 2, 'bob.smith@acme-corp.example', '+44 20 7946 0111'),
                                            (3, 1, 'shared-desk@acme-corp.example', '+44 20 7946 0000'),
                                            (4, 2, 'shared-desk@acme-corp.example', '+44 20 7946 0000')`);
    await q(`select retention.set_erasure_rule('f4.contacts', 'delete')`);
    const hers = ['mailto:alice.smith@acme-corp.example', 'Alicia Smith <alice.smith@acme-corp.example>', 'tel:+44-20-7946-0958',
                  'alice.smith+news@acme-corp.example', Buffer.from('alice.smith@acme-corp.example').toString('base64')];
    const shared = ['shared-desk@acme-corp.example', 'mailto:shared-desk@acme-corp.example', 'bob.smith+news@acme-corp.example'];
    const ids: Record<string, number> = {};
    for (const v of [...hers, ...shared]) {
      ids[v] = (await q(`select hold_id from retention.place_hold('subject', $1, 'litigation')`, [v]))[0]!.hold_id as number;
      await q(`select retention.release_hold($1, 'case closed')`, [ids[v]]);
    }
    const [{ request_id: rid }] = await q(`select request_id from retention.request_erasure('f4.users', '1', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [rid]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [rid])).toEqual([{ status: 'completed' }]);
    for (const v of hers) {
      expect((await q(`select subject_id, reason from retention.legal_holds where hold_id = $1`, [ids[v]]))[0], v)
        .toEqual({ subject_id: null, reason: `erased with erasure request ${rid}` });
    }
    for (const v of shared) {
      expect((await q(`select subject_id from retention.legal_holds where hold_id = $1`, [ids[v]]))[0], v).toEqual({ subject_id: v });
    }
  });
});

describe('round atk104, against these fixes', () => {
  it('F1: her name and address are not erased from inside bob\'s (Mary-Ann Smith, mary.ann@…)', async () => {
    await q(`create schema b1`);
    await q(`create table b1.users (id int primary key, name text, email text)`);
    await q(`create table b1.invoices (id int primary key, note text, created_at timestamptz not null default now() - interval '3 years')`);
    await q(`insert into b1.users values (2024, 'Ann Smith', 'ann@example.com'), (7, 'Mary-Ann Smith', 'mary.ann@example.com')`);
    await q(`insert into b1.invoices values (1, 'x')`);
    await q(`create function b1.guard() returns trigger language plpgsql as $$
               begin raise exception 'invoice of Mary-Ann Smith <mary.ann@example.com> is locked; Ann Smith''s was not'; end $$`);
    await q(`create trigger guard before delete on b1.invoices for each row execute function b1.guard()`);
    await q(`select retention.set_policy('b1.invoices', 'b1.invoices', 'delete', 'created_at', '1 year')`);
    await db.call(`call retention.run('b1.invoices')`);
    const [{ request_id: rid }] = await q(`select request_id from retention.request_erasure('b1.users', '2024', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [rid]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [rid])).toEqual([{ status: 'completed' }]);
    expect(await q(`select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'b1.invoices'`))
      .toEqual([{ error: expect.stringContaining('invoice of Mary-Ann Smith <mary.ann@example.com> is locked; [erased]\'s was not') }]);
  });

  it('F6: a hold spelt as another person\'s key (ａｎｎａ beside anna) stays with that person; F8: her hold\'s reason stays in others\' messages', async () => {
    await q(`create schema b6`);
    await q(`create table b6.members (handle text primary key, email text)`);
    await q(`insert into b6.members values ('anna', 'anna@b6.example'), ('ａｎｎａ', 'other@b6.example')`);
    await q(`select retention.set_erasure_rule('b6.members', 'delete')`);
    const [{ hold_id: bobs }] = await q(`select hold_id from retention.place_hold('subject', 'ａｎｎａ', 'litigation on the other anna')`) as [{ hold_id: number }];
    await q(`select retention.release_hold($1, 'case closed')`, [bobs]);
    const [{ hold_id: hers }] = await q(`select hold_id from retention.place_hold('subject', 'anna', 'fraud investigation')`) as [{ hold_id: number }];
    await q(`select retention.release_hold($1, 'case closed')`, [hers]);
    // Somebody else's message that uses the same words (a run of another table).
    await q(`create table b6.jobs (id int primary key, created_at timestamptz not null default now())`);
    await q(`select retention.set_policy('b6.jobs', 'b6.jobs', 'delete', 'created_at', '1 day')`);
    await db.call(`call retention.run('b6.jobs')`);
    await q(`update retention.runs set error = 'job 1 (fraud investigation billing-sync) is frozen' where policy_name = 'b6.jobs'`);
    const before = await q(`select run_id, error from retention.runs where policy_name = 'b6.jobs'`);
    expect(before).toHaveLength(1);
    const [{ request_id: rid }] = await q(`select request_id from retention.request_erasure('b6.members', 'anna', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [rid]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [rid])).toEqual([{ status: 'completed' }]);
    expect(await q(`select subject_id, reason from retention.legal_holds where hold_id = $1`, [bobs]))
      .toEqual([{ subject_id: 'ａｎｎａ', reason: 'litigation on the other anna' }]);
    expect((await q(`select subject_id from retention.legal_holds where hold_id = $1`, [hers]))[0]!.subject_id).toBeNull();
    expect(await q(`select run_id, error from retention.runs where policy_name = 'b6.jobs'`)).toEqual(before);
  });

  it('F4: a notice\'s ids, counts and days stay numbers whatever the key equals; the key itself goes', async () => {
    const [r] = await q(`select retention_internal._redact_notice(
                           '{"kind": "erasure_overdue", "request_id": 1, "days_overdue": 1, "subject_id": "1", "note": "key 1"}'::jsonb,
                           array['1'], '{}', 'subj_x') as p`);
    expect(r!.p).toEqual({ kind: 'erasure_overdue', request_id: 1, days_overdue: 1, subject_id: 'subj_x', note: 'key 1' });
  });
});

describe('warnings, which reach the server\'s log (atk104)', () => {
  it('preview() and run_all() name a failing policy\'s error by its SQLSTATE, not by a message quoting a row', async () => {
    await q(`create schema w7`);
    await q(`create table w7.notes (id int primary key, created_at timestamptz not null default now() - interval '40 days', memo text)`);
    await q(`insert into w7.notes values (1, default, 'alice.w7@example.com')`);
    // Counting casts the memo to an integer: PostgreSQL's message quotes the value.
    await q(`select retention.set_policy('w7.n', 'w7.notes', 'delete', 'created_at', '30 days', p_predicate => 'memo::int > 0')`);
    const pv = await db.call(`select policy, eligible from retention.preview() where policy = 'w7.n'`);
    expect(pv.rows).toEqual([{ policy: 'w7.n', eligible: null }]);
    const w = pv.notices.filter((n) => n.includes('w7.n'));
    expect(w).toEqual([`policy w7.n: not counted: SQLSTATE 22P02: message withheld (it may quote a row's values; retention.preview('w7.n') alone raises it)`]);
    // Alone, its caller sees the message whole.
    await expect(q(`select * from retention.preview('w7.n')`)).rejects.toThrow(/alice\.w7@example\.com/);
    // run_all, as a login that may not run the policy: its warning names the refusal.
    const runner = await login('w7run', 'retention_runner');
    const notices: string[] = [];
    runner.on('notice', (n) => notices.push(n.message ?? ''));
    await runner.query(`call retention.run_policies(array['w7.n'])`);
    expect(notices.filter((n) => n.startsWith('policy w7.n: not run'))).toEqual([expect.stringMatching(/^policy w7\.n: not run: .+ \((42501|RT\d{3})\)$/)]);
    // run_all's warning for a policy it could not open, by the same rule: a data error's
    // message withheld, an error the application's code raised under pg-retention's code
    // cut where it quotes the application, pg-retention's own whole.
    expect(await q(`select retention_internal._warned_error('22P02', 'invalid input syntax for type integer: "alice.w7@example.com"', null,
                                                            'CALL retention.run(''w7.n'') alone') as w`))
      .toEqual([{ w: `SQLSTATE 22P02: message withheld (it may quote a row's values; CALL retention.run('w7.n') alone raises it)` }]);
    expect(await q(`select retention_internal._warned_error('RT025', 'alice.w7@example.com', 'PL/pgSQL function w7.trg() line 3 at RAISE', 'x') as w`))
      .toEqual([{ w: `the application's code raised an error (SQLSTATE RT025) (RT025)` }]);
    expect(await q(`select retention_internal._warned_error('RT002', 'column id of w7.gone does not exist', null, 'x') as w`))
      .toEqual([{ w: 'column id of w7.gone does not exist (RT002)' }]);
    // pg-retention's own errors are named whole.
    await q(`select retention.set_policy('w7.n', 'w7.notes', 'delete', 'created_at', '30 days', p_predicate => 'memo is not null')`);
    await q(`create table w7.gone (id int primary key, created_at timestamptz not null default now())`);
    await q(`select retention.set_policy('w7.g', 'w7.gone', 'delete', 'created_at', '30 days', p_predicate => 'id > 0')`);
    await q(`alter table w7.gone rename column id to gone_id`);
    const pv2 = await db.call(`select policy, eligible from retention.preview() where policy = 'w7.g'`);
    expect(pv2.notices.filter((n) => n.includes('w7.g'))).toEqual(['policy w7.g: not counted: column "id" does not exist (42703)']);
  });
});

describe('released holds on her key in another spelling (atk100 F1)', () => {
  it('an integer key in fullwidth or Arabic-Indic digits, a uuid as a URN, a number with a decimal comma: forgotten with her', async () => {
    await q(`create schema k1`);
    await q(`create table k1.users (id int primary key, name text)`);
    await q(`create table k1.devices (id uuid primary key, label text)`);
    await q(`create table k1.prices (id numeric primary key, label text)`);
    await q(`insert into k1.users values (42, 'Ada'), (7, 'Bob')`);
    await q(`insert into k1.devices values ('6f1c2a8e-5b7d-4c1e-9a3f-2d4e6b8c0a1f', 'phone'), ('00000000-0000-4000-8000-000000000007', 'other')`);
    await q(`insert into k1.prices values (7.5, 'x'), (8, 'y')`);
    const spellings: [string, string, string][] = [
      ['k1.users', '42', '４２'], ['k1.users', '42', '٤٢'],
      ['k1.devices', '6f1c2a8e-5b7d-4c1e-9a3f-2d4e6b8c0a1f', 'urn:uuid:6F1C2A8E-5B7D-4C1E-9A3F-2D4E6B8C0A1F'],
      ['k1.prices', '7.5', '7,5'],
    ];
    const holds: number[] = [];
    for (const [, , v] of spellings) {
      const [{ hold_id }] = await q(`select hold_id from retention.place_hold('subject', $1, 'a case about her')`, [v]) as [{ hold_id: number }];
      await q(`select retention.release_hold($1, 'closed')`, [hold_id]);
      holds.push(hold_id);
    }
    // Bob's hold, on his own key in Arabic-Indic digits, stays.
    const [{ hold_id: bobs }] = await q(`select hold_id from retention.place_hold('subject', '٧', 'a case about bob')`) as [{ hold_id: number }];
    await q(`select retention.release_hold($1, 'closed')`, [bobs]);
    for (const [table, key] of [['k1.users', '42'], ['k1.devices', '6f1c2a8e-5b7d-4c1e-9a3f-2d4e6b8c0a1f'], ['k1.prices', '7.5']]) {
      await q(`select retention.set_erasure_rule($1, 'delete')`, [table]);
      const [{ request_id: rid }] = await q(`select request_id from retention.request_erasure($1, $2, 'privacy desk')`, [table, key]) as [{ request_id: string }];
      await db.call(`call retention.process_erasure($1)`, [rid]);
      expect(await q(`select status from retention.erasure_requests where request_id = $1`, [rid])).toEqual([{ status: 'completed' }]);
    }
    expect(await q(`select hold_id, subject_id, reason from retention.legal_holds where hold_id = any ($1) order by hold_id`, [holds]))
      .toEqual(holds.map((hold_id) => ({ hold_id, subject_id: null, reason: expect.not.stringContaining('her') })));
    expect(await q(`select subject_id, reason from retention.legal_holds where hold_id = $1`, [bobs])).toEqual([{ subject_id: '٧', reason: 'a case about bob' }]);
  });
});

describe('another person\'s holds on values her row names (atk104 F3)', () => {
  it('bob\'s released holds on his key and phone, named in alice\'s row as her emergency contact, stay his', async () => {
    await q(`create schema b3`);
    await q(`create table b3.users (id int primary key, name text, email text, emergency_contact text, emergency_phone text)`);
    await q(`insert into b3.users values (7, 'Alice Adams', 'alice@b3.example', 'bob.baker@b3.example', '+44 7700 900456'),
                                         (8, 'Carol Cole', 'carol@b3.example', null, null)`);
    await q(`create table b3.contacts (email text primary key, name text, phone text)`);
    await q(`insert into b3.contacts values ('bob.baker@b3.example', 'Bob Baker', '07700 900456')`);
    await q(`create table b3.tickets (id int primary key, contact_email text references b3.contacts, body text, created_at timestamptz)`);
    await q(`insert into b3.tickets values (1, 'bob.baker@b3.example', 'printer broken', now() - interval '400 days')`);
    await q(`select retention.set_policy('b3.tickets', 'b3.tickets', 'delete', 'created_at', p_retain => '1 year', p_subject_column => 'contact_email')`);
    const ids: number[] = [];
    for (const [v, r] of [['bob.baker@b3.example', 'Baker v. Acme: tickets'], ['07700 900456', 'Baker v. Acme: phone records']]) {
      const [{ hold_id }] = await q(`select hold_id from retention.place_hold('subject', $1, $2, 'CASE-BAKER')`, [v, r]) as [{ hold_id: number }];
      await q(`select retention.release_hold($1, 'settled')`, [hold_id]);
      ids.push(hold_id);
    }
    await q(`select retention.set_erasure_rule('b3.users', 'delete')`);
    const [{ request_id: rid }] = await q(`select request_id from retention.request_erasure('b3.users', '7', 'privacy desk')`) as [{ request_id: string }];
    await db.call(`call retention.process_erasure($1)`, [rid]);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [rid])).toEqual([{ status: 'completed' }]);
    expect(await q(`select subject_id, reason, case_reference from retention.legal_holds where hold_id = any ($1) order by hold_id`, [ids]))
      .toEqual([{ subject_id: 'bob.baker@b3.example', reason: 'Baker v. Acme: tickets', case_reference: 'CASE-BAKER' },
                { subject_id: '07700 900456', reason: 'Baker v. Acme: phone records', case_reference: 'CASE-BAKER' }]);
    // Her own row is gone.
    expect(await q(`select id from b3.users order by id`)).toEqual([{ id: 8 }]);
  });
});
