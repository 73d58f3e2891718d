// Envelope encryption of archive objects: each object is encrypted with its own random
// 256-bit data key (AES-256-GCM); the data key is wrapped (AES-256-GCM too) by a key-
// encryption key from the configuration, named by an id. The object records the key id
// and the wrapped key in a header that is itself authenticated (the GCM additional data),
// so a changed header, a wrong key or a changed byte fails to open with a clear error.
// Keys rotate by adding a new id and making it current: older objects name their key
// and open as long as it stays configured.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('PGRA1\n');

export interface KeyRing {
  /** The key new objects are written with. */
  current: string;
  keys: Map<string, Buffer>;
}

export interface Header {
  v: 1;
  alg: 'AES-256-GCM';
  kid: string;
  /** The data key wrapped by the key kid: base64 of iv(12) | ciphertext(32) | tag(16). */
  wrapped: string;
  iv: string;
}

export class ArchiveKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveKeyError';
  }
}

/** Parses "id:base64key,id2:base64key" (each key 32 bytes). */
export function parseKeyRing(spec: string, current?: string): KeyRing {
  const keys = new Map<string, Buffer>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9+/=_-]+)$/.exec(part);
    // Never the key itself: a value without "id:" may be the key alone.
    if (!m) {
      throw new ArchiveKeyError(part.includes(':')
        ? `a key is "id:base64", got ${JSON.stringify(part.replace(/:.*/, ':…'))}`
        : `a key is "id:base64", got a value of ${part.length} characters without an id (the key alone?)`);
    }
    const key = Buffer.from(m[2]!, 'base64');
    if (key.length !== 32) throw new ArchiveKeyError(`key ${m[1]} is ${key.length} bytes; AES-256 needs 32 (openssl rand -base64 32)`);
    if (keys.has(m[1]!)) throw new ArchiveKeyError(`key id ${m[1]} is given twice`);
    keys.set(m[1]!, key);
  }
  if (keys.size === 0) throw new ArchiveKeyError('no key given: "id:base64key" (openssl rand -base64 32)');
  const cur = current ?? [...keys.keys()].at(-1)!;
  if (!keys.has(cur)) throw new ArchiveKeyError(`the current key id ${cur} is not among the keys (${[...keys.keys()].join(', ')})`);
  return { current: cur, keys };
}

function gcm(key: Buffer, iv: Buffer, data: Buffer, aad?: Buffer): { out: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, iv);
  if (aad) c.setAAD(aad);
  const out = Buffer.concat([c.update(data), c.final()]);
  return { out, tag: c.getAuthTag() };
}

/** Encrypts plain bytes under a fresh data key wrapped by the ring's current key. */
export function seal(plain: Buffer, ring: KeyRing): { sealed: Buffer; header: Header } {
  const dataKey = randomBytes(32);
  const wrapIv = randomBytes(12);
  const w = gcm(ring.keys.get(ring.current)!, wrapIv, dataKey, Buffer.from(`pg-retention data key ${ring.current}`));
  const header: Header = {
    v: 1, alg: 'AES-256-GCM', kid: ring.current,
    wrapped: Buffer.concat([wrapIv, w.out, w.tag]).toString('base64'), iv: randomBytes(12).toString('base64'),
  };
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(h.length);
  const body = gcm(dataKey, Buffer.from(header.iv, 'base64'), plain, h);
  return { sealed: Buffer.concat([MAGIC, len, h, body.out, body.tag]), header };
}

/** The header of a sealed object (not yet authenticated: open() checks it). */
export function readHeader(sealed: Buffer): Header {
  if (sealed.length < MAGIC.length + 4 || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ArchiveKeyError('not a pg-retention archive object (no PGRA1 header)');
  }
  const n = sealed.readUInt32BE(MAGIC.length);
  try {
    return JSON.parse(sealed.subarray(MAGIC.length + 4, MAGIC.length + 4 + n).toString('utf8')) as Header;
  } catch {
    throw new ArchiveKeyError('the archive object\'s header is damaged');
  }
}

/** Decrypts a sealed object; a missing or wrong key, or any changed byte, is an ArchiveKeyError. */
export function open(sealed: Buffer, ring: Pick<KeyRing, 'keys'>): Buffer {
  const header = readHeader(sealed);
  const n = sealed.readUInt32BE(MAGIC.length);
  const h = sealed.subarray(MAGIC.length + 4, MAGIC.length + 4 + n);
  const kek = ring.keys.get(header.kid);
  if (!kek) {
    throw new ArchiveKeyError(`the object was encrypted under key id ${header.kid}, which is not configured (configured: ${[...ring.keys.keys()].join(', ') || 'none'}) — add it to PG_RETENTION_ARCHIVE_KEYS`);
  }
  const wrapped = Buffer.from(header.wrapped, 'base64');
  let dataKey: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, 12));
    d.setAAD(Buffer.from(`pg-retention data key ${header.kid}`));
    d.setAuthTag(wrapped.subarray(44, 60));
    dataKey = Buffer.concat([d.update(wrapped.subarray(12, 44)), d.final()]);
  } catch {
    throw new ArchiveKeyError(`key ${header.kid} does not open this object's data key: the configured key with that id is not the one it was written with`);
  }
  try {
    const body = sealed.subarray(MAGIC.length + 4 + n);
    const d = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(header.iv, 'base64'));
    d.setAAD(h);
    d.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
  } catch {
    throw new ArchiveKeyError('the object does not authenticate: it was changed or damaged after it was written');
  }
}
