// Attack round atk120 (evidence cannot be forged, changed or erased; four eyes stay four):
//  F4 the application made up a "person" in a table of its own whose row held the words it
//     wanted gone ('REJECTED', 'litigation', 'requires', 'approved' …) and filed an erasure
//     request for it: processing it rewrote an approver's rejection comment and another
//     policy's ledger error to '[erased]', and no audit entry said so. Messages concerning
//     other tables keep a value unless it identifies on its own, a value made of
//     pg-retention's own words is kept everywhere, and each message changed is named in an
//     audit entry (erasure.messages_erased).
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;
const { login } = useLogins(db);
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
    await q(`insert into e4.people values (7, 'zoe.k4@example.com', '["litigation", "REJECTED", "escalate", "legal", "rejected", "requires", "approved", "approved proposal", "accounts under litigation"]')`);
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
