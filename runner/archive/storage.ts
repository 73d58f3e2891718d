// Storage targets for archive objects: a local directory (file:///path, the default) or
// any S3-compatible store (s3://bucket/prefix; endpoint, region and credentials from the
// AWS SDK's usual sources, or PG_RETENTION_S3_ENDPOINT for MinIO and the like). Writes are
// whole objects; a local write goes to a temporary name, is flushed and renamed, and the
// directories it changed are flushed too, so a crash never leaves half an object under the
// real key, and an object reported written survives a power loss.
import { mkdir, open as openFile, readdir, readFile, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileUrlPath } from '../file-url.ts';
import { LazyS3 } from '../s3.ts';

export interface StorageTarget {
  /** The target as recorded in the manifest (no credentials). */
  readonly url: string;
  put(key: string, body: Buffer): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Deletes an object; deleting one that is not there is not an error. */
  delete(key: string): Promise<void>;
}

export class StorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageError';
  }
}

// The same rule as the database's (retention_internal._object_key): no key leads out of its target.
function checkKey(key: string): void {
  // eslint-disable-next-line no-control-regex
  if (key.length === 0 || key.length > 1024 || /[\u0000-\u001f\u007f]/.test(key)
      || key.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new StorageError(`refusing object key ${JSON.stringify(key)}: 1 to 1024 characters, no control characters, no empty, . or .. segment`);
  }
}

/** Flushes a directory's entries to disk (fsync on the directory). */
async function syncDir(dir: string): Promise<void> {
  const h = await openFile(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export class LocalDirTarget implements StorageTarget {
  readonly url: string;
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
    this.url = `file://${path.resolve(dir)}`;
  }
  private file(key: string): string {
    checkKey(key);
    return path.join(this.dir, key);
  }
  async put(key: string, body: Buffer): Promise<void> {
    const f = this.file(key);
    // The directories made for it, flushed after the rename with the one that holds it.
    const made = await mkdir(path.dirname(f), { recursive: true });
    const tmp = `${f}.tmp-${process.pid}`;
    try {
      const h = await openFile(tmp, 'w');
      try {
        await h.writeFile(body);
        await h.sync();
      } finally {
        await h.close();
      }
      await rename(tmp, f);
      // The rename is in the directory, not in the file: until the directory is flushed a
      // power loss can take it back after the object was marked verified and its rows
      // left the database (round atk121 F1). So is each directory mkdir made, in its parent.
      const dirs = [path.dirname(f)];
      if (made !== undefined) {
        for (let d = path.dirname(f); d.length >= made.length && d !== path.dirname(d); d = path.dirname(d)) dirs.push(path.dirname(d));
      }
      for (const d of new Set(dirs)) await syncDir(d);
    } catch (err) {
      // A partial write (a full volume) is a sealed part of personal data: not left behind.
      await rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
  }
  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.file(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageError(`object ${key} is not in ${this.url}`);
      throw err;
    }
  }
  async delete(key: string): Promise<void> {
    const f = this.file(key);
    // A target directory that is not there (an unmounted volume) is an error, not a sign
    // that its objects are gone; a symlinked directory on the way must not lead out of it.
    let root: string;
    try {
      root = await realpath(this.dir);
    } catch {
      throw new StorageError(`storage directory ${this.dir} is not there`);
    }
    let parent: string;
    try {
      parent = await realpath(path.dirname(f));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Its directory is not there: the object is gone, unless the whole target is empty
      // (a volume not mounted over its mount point).
      if ((await readdir(root)).length === 0) throw new StorageError(`storage directory ${this.dir} is empty (not mounted?)`);
      return;
    }
    if (parent !== root && !parent.startsWith(root + path.sep)) {
      throw new StorageError(`refusing ${key}: its directory leads out of ${this.dir} (a symbolic link)`);
    }
    const base = path.basename(f);
    await rm(path.join(parent, base), { force: true });
    // And what a writer killed before its rename left under the key (put's temporary
    // names): a sealed part of the same rows (rounds atk45, atk49).
    for (const name of await readdir(parent)) {
      if (name.startsWith(`${base}.tmp-`)) await rm(path.join(parent, name), { force: true });
    }
  }
}

export class S3Target implements StorageTarget {
  readonly url: string;
  private readonly client: LazyS3;
  readonly bucket: string;
  readonly prefix: string;
  constructor(bucket: string, prefix: string, opts: { endpoint?: string; region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } = {}) {
    this.bucket = bucket;
    this.prefix = prefix;
    this.url = `s3://${bucket}/${prefix}`;
    this.client = new LazyS3({
      region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    });
  }
  private key(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix.replace(/\/+$/, '')}/${key}` : key;
  }
  async put(key: string, body: Buffer): Promise<void> {
    await this.client.use((s3, c) => c.send(new s3.PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: body, ContentType: 'application/octet-stream' })));
  }
  async get(key: string): Promise<Buffer> {
    try {
      return await this.client.use(async (s3, c) => {
        const r = await c.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
        return Buffer.from(await r.Body!.transformToByteArray());
      });
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') throw new StorageError(`object ${key} is not in ${this.url}`);
      throw err;
    }
  }
  async delete(key: string): Promise<void> {
    await this.client.use((s3, c) => c.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) })));
  }
  destroy(): void {
    this.client.destroy();
  }
}

/** A target from its URL: file:///dir, a plain path, or s3://bucket/prefix. */
export function storageTarget(url: string, opts: { s3Endpoint?: string; s3Region?: string } = {}): StorageTarget {
  if (url.startsWith('s3://')) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
    if (!m) throw new StorageError(`expected s3://bucket/prefix, got ${JSON.stringify(url)}`);
    return new S3Target(m[1]!, m[2] ?? '', { endpoint: opts.s3Endpoint, region: opts.s3Region });
  }
  if (url.startsWith('file://')) return new LocalDirTarget(fileUrlPath(url, (m) => new StorageError(m)));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new StorageError(`unsupported storage ${JSON.stringify(url)}: use file:///path or s3://bucket/prefix`);
  return new LocalDirTarget(url);
}
