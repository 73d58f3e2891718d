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
  // Nothing logged yet, or nothing since the last checkpoint (whose own entry is the head).
  if (!head || head.audit_id === '0' || head.action === 'audit.checkpoint') return null;
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
  return text.split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    try {
      return JSON.parse(l) as Checkpoint;
    } catch {
      throw new Error(`${file}:${i + 1}: not a checkpoint (one JSON object per line)`);
    }
  });
}

export interface CheckpointProblem { audit_id: string; signed_at: string; problem: string }

/** Each checkpoint's signature under the public key, and the audit row it names still
 * carrying the hash it signed. */
export async function verifyCheckpoints(db: pg.ClientBase, checkpoints: Checkpoint[], publicKey: KeyObject): Promise<CheckpointProblem[]> {
  const problems: CheckpointProblem[] = [];
  const id = keyId(publicKey);
  const { rows } = await db.query<{ audit_id: string; row_hash: Buffer }>('select audit_id::text, row_hash from retention.audit_hashes(1)');
  const hashes = new Map(rows.map((r) => [r.audit_id, r.row_hash.toString('hex')]));
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
