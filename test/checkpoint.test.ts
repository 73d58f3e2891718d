// Signed checkpoints of the audit chain: an owner who rewrites a row and re-chains every
// hash after it passes verify_audit_log, and is caught by the checkpoints signed outside
// the database (`pg-retention audit verify --checkpoints --public-key`).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointMessage } from '../runner/checkpoint.ts';
import { loginAs, sqlState, useTestDatabase } from './support/db.ts';
import { startWorker } from './support/worker.ts';

const db = useTestDatabase();
const dir = mkdtempSync(path.join(tmpdir(), 'retention-checkpoints-'));
const keys = generateKeyPairSync('ed25519');
const keyFile = path.join(dir, 'audit.key');
const pubFile = path.join(dir, 'audit.pub');
writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
const cpFile = path.join(dir, 'checkpoints.jsonl');

function cli(...args: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(process.execPath, ['runner/cli.ts', ...args, '--database-url', db.url], { encoding: 'utf8' }) };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: e.stdout + e.stderr };
  }
}

/** As an owner bent on it: change one audit row and recompute every hash from it on. */
async function rechain(auditId: number, details: string): Promise<void> {
  const c = await db.connect();
  await c.query('begin');
  await c.query('alter table retention.audit_log disable trigger audit_log_append_only');
  await c.query(`update retention.audit_log set details = $2 where audit_id = $1`, [auditId, details]);
  await c.query(`do $$ declare r record; v_prev bytea; begin
    select coalesce((select row_hash from retention.audit_log where audit_id = ${auditId} - 1), decode(repeat('00', 32), 'hex')) into v_prev;
    for r in select * from retention.audit_log where audit_id >= ${auditId} order by audit_id loop
      update retention.audit_log
         set prev_hash = v_prev,
             row_hash = retention_internal._audit_hash(v_prev, r.audit_id, r.occurred_at, r.actor, r.db_user, r.action, r.object_type, r.object_name, r.details)
       where audit_id = r.audit_id returning row_hash into v_prev;
    end loop;
    update retention.audit_chain set last_hash = v_prev;
  end $$`);
  await c.query('alter table retention.audit_log enable trigger audit_log_append_only');
  await c.query('commit');
  await c.end();
}

describe('signed audit checkpoints', () => {
  it('the signed text is the same in the database and in the verifier', async () => {
    const [r] = await db.q(`select retention.checkpoint_message(42, '\\xabcd'::bytea, '2026-12-01 08:00:00.123Z') as m`);
    expect(r!.m).toBe(checkpointMessage('42', 'abcd', '2026-12-01T08:00:00.123000Z'));
  });

  it('an owner who re-chains the log passes verify_audit_log and is caught by the checkpoints', async () => {
    await db.q(`select retention.set_default('global', '2 years')`);
    await db.q(`select retention.place_hold('table', 'retention.policies', 'Case 12')`).catch(() => null);
    await db.q(`select retention.set_default('global', '3 years')`);
    let r = cli('audit', 'checkpoint', '--signing-key-file', keyFile, '--checkpoint-dir', dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/checkpoint \d+: audit row \d+ signed by key [0-9a-f]{16}/);
    // Nothing new: no second checkpoint of the same head.
    expect(cli('audit', 'checkpoint', '--signing-key-file', keyFile, '--checkpoint-dir', dir).out).toMatch(/already covers/);
    await db.q(`select retention.set_default('global', '4 years')`);
    expect(cli('audit', 'checkpoint', '--signing-key-file', keyFile, '--checkpoint-dir', dir).code).toBe(0);
    const lines = readFileSync(cpFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    // Published through the outbox too, and audited.
    expect((await db.q(`select count(*)::int as n from retention.notifications where kind = 'audit_checkpoint'`))[0]!.n).toBe(2);
    expect((await db.q(`select count(*)::int as n from retention.audit_log where action = 'audit.checkpoint'`))[0]!.n).toBe(2);

    r = cli('audit', 'verify', '--checkpoints', cpFile, '--public-key', pubFile);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('2 signed checkpoint(s) match the log');

    // The owner rewrites the first row and re-chains: the chain alone cannot tell.
    await rechain(1, '{"scope": "global", "new": "1 day"}');
    expect((await db.q(`select ok from retention.verify_audit_log()`))[0]!.ok).toBe(true);
    expect(cli('audit', 'verify').code).toBe(0);
    r = cli('audit', 'verify', '--checkpoints', cpFile, '--public-key', pubFile);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/checkpoint of audit row \d+ signed .*: the audit row no longer has the hash signed then/);

    // A checkpoint file someone edited (the hash of the rewritten chain put in) fails its signature.
    const first = JSON.parse(lines[0]!) as { audit_id: string; row_hash: string };
    const [now] = await db.q(`select encode(row_hash, 'hex') as h from retention.audit_log where audit_id = $1`, [first.audit_id]);
    const forged = path.join(dir, 'forged.jsonl');
    writeFileSync(forged, JSON.stringify({ ...first, row_hash: now!.h }) + '\n');
    r = cli('audit', 'verify', '--checkpoints', forged, '--public-key', pubFile);
    expect(r.code).toBe(1);
    expect(r.out).toContain('the signature does not verify');
    // Another key's public half does not vouch for them either.
    const other = generateKeyPairSync('ed25519');
    const otherPub = path.join(dir, 'other.pub');
    writeFileSync(otherPub, other.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(cli('audit', 'verify', '--checkpoints', cpFile, '--public-key', otherPub).out).toMatch(/signed by key [0-9a-f]{16}, not by/);
  });

  it('record_checkpoint refuses a hash that is not the row\'s (RT026); only the runner and admin may record', async () => {
    await db.q(`select retention.set_default('global', '5 years')`);
    const [head] = await db.q(`select audit_id, row_hash from retention.audit_head()`);
    const sig = Buffer.alloc(64, 1);
    expect(await sqlState(db.q(`select retention.record_checkpoint($1, '\\x00'::bytea, now(), 'k', $2)`, [head!.audit_id, sig]))).toBe('RT026');
    expect(await sqlState(db.q(`select retention.record_checkpoint($1, $2, now(), 'k', '\\x00'::bytea)`, [head!.audit_id, head!.row_hash]))).toBe('RT026');
    const aud = await loginAs(db, `cp_aud_${randomBytes(3).toString('hex')}`, 'retention_auditor');
    expect(await sqlState(aud.query(`select retention.record_checkpoint($1, $2, now(), 'k', $3)`, [head!.audit_id, head!.row_hash, sig]))).toBe('42501');
    // The auditor reads the head and every hash (what a verifier needs), not the rest.
    expect((await aud.query(`select count(*)::int as n from retention.audit_hashes(1)`)).rows[0].n).toBeGreaterThan(3);
    await aud.end();
  });

  it('the worker signs the head on its interval and writes each checkpoint to its directory', async () => {
    const wdir = mkdtempSync(path.join(tmpdir(), 'retention-worker-cp-'));
    await db.q(`select retention.set_default('global', '6 years')`);
    const w = startWorker({ DATABASE_URL: db.url, PG_RETENTION_SIGNING_KEY_FILE: keyFile, PG_RETENTION_CHECKPOINT_DIR: wdir,
      PG_RETENTION_CHECKPOINT_INTERVAL: '1s' });
    try {
      await w.waitFor((l) => l.msg === 'audit checkpoint signed', 30_000);
      expect(readFileSync(path.join(wdir, 'checkpoints.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(1);
    } finally {
      w.proc.kill('SIGTERM');
      await w.exited;
    }
    // A key that is not Ed25519 is refused at start (exit 2).
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaFile = path.join(wdir, 'rsa.key');
    writeFileSync(rsaFile, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const bad = startWorker({ DATABASE_URL: db.url, PG_RETENTION_SIGNING_KEY_FILE: rsaFile });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/PG_RETENTION_SIGNING_KEY_FILE: .* not Ed25519/);
  }, 60_000);
});

describe('what a second attacker found against the checkpoints', () => {
  it('verify recomputes the chain itself: an owner who replaces audit_hashes() or shifts fields across a separator is caught', async () => {
    await db.q(`select retention.set_default('global', '7 years')`);
    const dir2 = mkdtempSync(path.join(tmpdir(), 'retention-cp2-'));
    expect(cli('audit', 'checkpoint', '--signing-key-file', keyFile, '--checkpoint-dir', dir2).code).toBe(0);
    const file = path.join(dir2, 'checkpoints.jsonl');
    const [cp] = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { audit_id: string; row_hash: string });
    // The owner rewrites the row, re-chains, and serves the old hashes from audit_hashes().
    await rechain(Number(cp!.audit_id), '{"forged": true}');
    await db.q(`create or replace function retention.audit_hashes(p_from bigint default 1) returns table (audit_id bigint, row_hash bytea)
                  language sql stable as $$ select ${cp!.audit_id}::bigint, decode('${cp!.row_hash}', 'hex') $$`);
    const r = cli('audit', 'verify', '--checkpoints', file, '--public-key', pubFile);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/no longer has the hash signed then/);
    // A separator written into a field by hand (the append refuses it; the actor drops it).
    const c = await db.connect();
    await c.query(`set retention.actor = E'alice\\x1fbob'`);
    await c.query(`select retention.set_default('global', '8 years')`);
    await c.end();
    expect((await db.q(`select actor from retention.audit_log order by audit_id desc limit 1`))[0]!.actor).toBe('alicebob');
  });

  it('the worker signs again after a checkpoint someone else recorded (a runner cannot freeze signing)', async () => {
    await db.q(`select retention.set_default('global', '9 years')`);
    const [head] = await db.q(`select audit_id, row_hash from retention.audit_head()`);
    const [k] = await db.q(`select key_id from retention.audit_checkpoints order by checkpoint_id desc limit 1`);
    await db.q(`select retention.record_checkpoint($1, $2, now(), $3, $4)`, [head!.audit_id, head!.row_hash, k!.key_id, Buffer.alloc(64)]);
    const r = cli('audit', 'checkpoint', '--signing-key-file', keyFile);
    expect(r.out).toMatch(/checkpoint \d+: audit row \d+ signed/);
  });
});

describe('bad input to audit checkpoint and verify', () => {
  it('a missing or non-Ed25519 key, a lone --checkpoints and a malformed file are refused, naming the problem, and record nothing', async () => {
    const before = (await db.q(`select count(*)::int as n from retention.audit_checkpoints`))[0]!.n;
    let r = cli('audit', 'checkpoint');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/needs --signing-key-file/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaFile = path.join(dir, 'rsa-cli.key');
    writeFileSync(rsaFile, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    r = cli('audit', 'checkpoint', '--signing-key-file', rsaFile);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/not an Ed25519 private key/);
    r = cli('audit', 'verify', '--checkpoints', cpFile);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/--checkpoints and --public-key go together/);
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"audit_id": "1"\n');
    r = cli('audit', 'verify', '--checkpoints', bad, '--public-key', pubFile);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/bad\.jsonl:1: not a checkpoint/);
    // A line that is JSON but no checkpoint is named as such, by its line (atk83 F8).
    writeFileSync(bad, '\n{"audit_id": "x"}\n');
    r = cli('audit', 'verify', '--checkpoints', bad, '--public-key', pubFile);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/bad\.jsonl:2: not a checkpoint \(no row_hash, signed_at, key_id, signature\)/);
    // The public key given as the private one, a text file, a file not there: named, exit 2.
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'not a key\n');
    for (const [args, message] of [
      [['audit', 'checkpoint', '--signing-key-file', pubFile], /audit\.pub is not an Ed25519 private key in PEM form/],
      [['audit', 'checkpoint', '--signing-key-file', text], /notes\.txt is not an Ed25519 private key in PEM form/],
      [['audit', 'checkpoint', '--signing-key-file', path.join(dir, 'nowhere.key')], /cannot read .*nowhere\.key/],
      [['audit', 'verify', '--checkpoints', cpFile, '--public-key', text], /notes\.txt is not an Ed25519 public key in PEM form/],
    ] as [string[], RegExp][]) {
      r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toMatch(message);
      expect(r.out).not.toMatch(/DECODER|ERR_OSSL/);
    }
    r = cli('audit', 'sign');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/unknown audit command 'sign'/);
    expect((await db.q(`select count(*)::int as n from retention.audit_checkpoints`))[0]!.n).toBe(before);
  });
});
