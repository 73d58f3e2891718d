// Signed checkpoints of the audit chain's head. The chain (retention.audit_log) shows any
// change made by someone who cannot recompute every later hash; its owner can. A checkpoint
// is the head's id and hash signed with an Ed25519 key kept outside the database
// (PG_RETENTION_SIGNING_KEY_FILE) and published outside it too (a JSON-lines file, and the
// outbox's audit_checkpoint notification). `pg-retention audit verify --checkpoints FILE
// --public-key FILE` then checks every checkpoint's signature and that the audit row it
// names still has the hash it signed: a re-chained log fails at the first checkpoint past
// the rewritten row.
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

export interface Checkpoint {
  checkpoint_id?: string;
  audit_id: string;
  row_hash: string; // hex
  signed_at: string; // ISO 8601, UTC, microseconds
  key_id: string;
  signature: string; // base64
}

/** The exact text a checkpoint's signature covers (= retention.checkpoint_message). */
export function checkpointMessage(auditId: string, rowHashHex: string, signedAt: string): string {
  return `pg-retention audit checkpoint v1\n${auditId}\n${rowHashHex}\n${signedAt}`;
}

/** A key's id: the first 16 hex digits of the sha256 of its public key (SPKI, DER). */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** ISO 8601 with microseconds, as PostgreSQL's to_char(... 'US') writes it. */
function isoMicros(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Signs the chain's head unless nothing was logged since the last checkpoint; records it in the
 * database (which checks the hash and queues the outbox notification) and appends it to
 * dir/checkpoints.jsonl when a directory is given. Returns the checkpoint, or null. */
export async function signCheckpoint(db: pg.ClientBase | pg.Pool, key: KeyObject, dir: string | null): Promise<Checkpoint | null> {
  const { rows: [head] } = await db.query<{ audit_id: string; row_hash: Buffer; action: string | null }>(
    'select audit_id::text, row_hash, action from retention.audit_head()');
  if (!head || head.audit_id === '0') return null;
  // Nothing logged since our last checkpoint (whose own audit entry is the head): only when
  // that checkpoint is one this key signed — another role may record checkpoints too.
  if (head.action === 'audit.checkpoint') {
    const { rows: [last] } = await db.query<{ audit_id: string; row_hash: Buffer; signed_at: Date; key_id: string; signature: Buffer }>(
      `select audit_id::text, row_hash, signed_at, key_id, signature from retention.audit_checkpoints
        order by checkpoint_id desc limit 1`);
    const pub = createPublicKey(key);
    if (last && BigInt(last.audit_id) === BigInt(head.audit_id) - 1n && last.key_id === keyId(key)
        && verify(null, Buffer.from(checkpointMessage(last.audit_id, last.row_hash.toString('hex'), isoMicros(last.signed_at))), pub, last.signature)) {
      return null;
    }
  }
  const signedAt = isoMicros(new Date());
  const hex = head.row_hash.toString('hex');
  const signature = sign(null, Buffer.from(checkpointMessage(head.audit_id, hex, signedAt)), key);
  const id = keyId(key);
  const { rows: [rec] } = await db.query<{ checkpoint_id: string }>(
    'select checkpoint_id::text from retention.record_checkpoint($1, $2, $3, $4, $5)',
    [head.audit_id, head.row_hash, signedAt, id, signature]);
  const cp: Checkpoint = { checkpoint_id: rec!.checkpoint_id, audit_id: head.audit_id, row_hash: hex, signed_at: signedAt,
    key_id: id, signature: signature.toString('base64') };
  if (dir) {
    await mkdir(dir, { recursive: true });
    await appendFile(path.join(dir, 'checkpoints.jsonl'), JSON.stringify(cp) + '\n');
  }
  return cp;
}

export async function readCheckpoints(file: string): Promise<Checkpoint[]> {
  const text = await readFile(file, 'utf8');
  // Numbered as in the file (blank lines count), each line checked for the fields a
  // checkpoint has: a malformed one is named, not reported as a bad signature (atk83 F8).
  return text.split('\n').flatMap((l, i) => {
    if (l.trim() === '') return [];
    let cp: Partial<Record<keyof Checkpoint, unknown>>;
    try {
      cp = JSON.parse(l) as Partial<Record<keyof Checkpoint, unknown>>;
    } catch {
      throw new Error(`${file}:${i + 1}: not a checkpoint (one JSON object per line)`);
    }
    const missing = (['audit_id', 'row_hash', 'signed_at', 'key_id', 'signature'] as const)
      .filter((k) => typeof cp?.[k] !== 'string' || cp[k] === '');
    if (cp === null || typeof cp !== 'object' || missing.length || !/^\d+$/.test(String(cp.audit_id))) {
      throw new Error(`${file}:${i + 1}: not a checkpoint (${missing.length ? `no ${missing.join(', ')}` : 'audit_id is not a row number'})`);
    }
    return [cp as Checkpoint];
  });
}

export interface CheckpointProblem { audit_id: string; signed_at: string; problem: string }

/** Every audit row's hash, recomputed here from the rows themselves (as _audit_hash does:
 * sha256 of the previous hash and the fields joined by \x1f), not taken from any routine
 * of the schema, which its owner could replace. A row whose stored hash or link differs
 * from the recomputed one is reported; the map holds the recomputed hashes. */
export async function recomputeChain(db: pg.ClientBase | pg.Pool): Promise<{ hashes: Map<string, string>; problem: string | null }> {
  const { rows } = await db.query<{ audit_id: string; at: string; actor: string; db_user: string; action: string;
    object_type: string; object_name: string | null; details: string; prev_hash: Buffer; row_hash: Buffer }>(
    `select a.audit_id::text, pg_catalog.to_char(a.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
            a.actor, a.db_user, a.action, a.object_type, a.object_name, a.details::text as details, a.prev_hash, a.row_hash
       from retention.audit_log a order by a.audit_id`);
  const hashes = new Map<string, string>();
  let prev = Buffer.alloc(32);
  let expect = 1n;
  for (const r of rows) {
    if (BigInt(r.audit_id) !== expect) return { hashes, problem: `audit rows ${expect} to ${BigInt(r.audit_id) - 1n} are missing` };
    const fields = [r.audit_id, r.at, r.actor, r.db_user, r.action, r.object_type, r.object_name ?? '\x1e', r.details];
    const h = createHash('sha256').update(prev).update(Buffer.from(fields.join('\x1f'), 'utf8')).digest();
    // The append never writes a separator into a field: one there shifted fields around it.
    const text = [r.actor, r.db_user, r.action, r.object_type, r.object_name ?? ''].join('');
    const separator = text.includes('\x1e') || text.includes('\x1f');
    if (!r.prev_hash.equals(prev) || !r.row_hash.equals(h) || separator) {
      return { hashes, problem: `audit row ${r.audit_id} does not match its hash: it was changed after it was written` };
    }
    hashes.set(r.audit_id, h.toString('hex'));
    prev = h;
    expect += 1n;
  }
  return { hashes, problem: null };
}

/** Each checkpoint's signature under the public key, and the audit row it names still
 * carrying the hash it signed (recomputed from the rows, recomputeChain). */
export async function verifyCheckpoints(db: pg.ClientBase, checkpoints: Checkpoint[], publicKey: KeyObject): Promise<CheckpointProblem[]> {
  const problems: CheckpointProblem[] = [];
  const id = keyId(publicKey);
  const { hashes } = await recomputeChain(db);
  for (const cp of checkpoints) {
    const ok = cp.key_id === id && verify(null, Buffer.from(checkpointMessage(cp.audit_id, cp.row_hash, cp.signed_at)),
      publicKey, Buffer.from(cp.signature, 'base64'));
    if (!ok) {
      problems.push({ audit_id: cp.audit_id, signed_at: cp.signed_at,
        problem: cp.key_id === id ? 'the signature does not verify: the checkpoint was altered' : `signed by key ${cp.key_id}, not by ${id}` });
      continue;
    }
    const now = hashes.get(cp.audit_id);
    if (now === undefined) {
      problems.push({ audit_id: cp.audit_id, signed_at: cp.signed_at, problem: 'the audit row it signed is gone' });
    } else if (now !== cp.row_hash) {
      problems.push({ audit_id: cp.audit_id, signed_at: cp.signed_at,
        problem: 'the audit row no longer has the hash signed then: the log was rewritten and re-chained after it was signed' });
    }
  }
  return problems;
}
