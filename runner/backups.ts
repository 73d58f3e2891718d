// Backup pruning: the worker (or `pg-retention backups prune`) lists a backup store, the
// database decides which base backups a backup policy keeps (retention.backup_plan,
// grandfather-father-son, legal holds), and each backup that goes is deleted in the steps
// sql/103_backups.sql describes, so that the ledger (retention.backup_prunings) records
// every deletion even when the pruner dies mid-way.
//
// A store is a directory or an S3 prefix whose first-level entries are base backups made
// by pg_basebackup (plain or tar format): an entry is a backup when it holds a
// backup_manifest (written last, so a backup still being taken is never one) and its time
// is known, from a timestamp in its name (20261101T020000Z, 2026-11-01_02-00-00, …) or
// else from the START TIME of its backup_label. pgBackRest repositories and WAL-G storage
// are refused: their own expiry commands know their backups' dependencies (docs).
import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { lstat, open as openFile, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { ConfigError, namedPairs } from './config.ts';
import { fileUrlPath } from './file-url.ts';
import { LazyS3 } from './s3.ts';

export const BACKUP_ENV = `Backup pruning (the worker and pg-retention backups):
  PG_RETENTION_BACKUP_STORES    backup stores by name, "main=/var/lib/pg-backups,offsite=s3://bucket/prefix"
                                (the names set_backup_policy uses; S3 endpoint and region as for archives)
  PG_RETENTION_BACKUP_INTERVAL  how often the worker prunes them (1h)
  PG_RETENTION_BACKUP_SETTLE    a backup whose files changed more recently is not finished (1h)`;

/** PG_RETENTION_BACKUP_SETTLE in milliseconds (a number and ms, s, m or h). */
export function settleMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PG_RETENTION_BACKUP_SETTLE;
  if (raw === undefined || raw === '') return DEFAULT_SETTLE_MS;
  const m = /^(\d{1,9})(ms|s|m|h)$/.exec(raw);
  if (!m) throw new ConfigError([`PG_RETENTION_BACKUP_SETTLE: expected a duration such as 30m or 1h, got ${JSON.stringify(raw)}`]);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/** How long a backup's files must be unchanged before it counts as finished (1 hour). */
export const DEFAULT_SETTLE_MS = 3_600_000;

export class BackupStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupStoreError';
  }
}

export interface Backup {
  name: string;
  /** As found: an ISO time from the name, or the backup_label's START TIME as written
   * (the database parses it, time zone abbreviations included). */
  takenAt: string;
  timeFrom: 'name' | 'backup_label';
  /** Size and file count; null until measured (a directory is measured when it is pruned). */
  bytes: number | null;
  files: number | null;
}

export interface Listing { backups: Backup[]; ignored: { name: string; why: string }[] }

export interface BackupStore {
  readonly url: string;
  list(): Promise<Listing>;
  /** Deletes one backup (an entry list() returned) and everything in it; false when it
   * was not there any more. */
  remove(name: string): Promise<boolean>;
  /** Size and file count of one backup. */
  measure(name: string): Promise<{ bytes: number; files: number }>;
  /** Whether a backup is finished: no file changed for settleMs, and (plain format) every
   * file its backup_manifest lists there with its size; why not otherwise. */
  finished(name: string, settleMs: number): Promise<string | null>;
}

interface FileInfo { path: string; size: number; mtimeMs: number; endsClean?: boolean }

/** Why the backup's files do not look finished, or null. */
function unfinished(files: FileInfo[], manifest: string | null, settleMs: number, now = Date.now()): string | null {
  const newest = Math.max(0, ...files.map((f) => f.mtimeMs));
  if (now - newest < settleMs) return `a file changed ${Math.round((now - newest) / 1000)} s ago: still being written or copied?`;
  const names = new Set(files.map((f) => f.path));
  const plain = names.has('global/pg_control') || names.has('PG_VERSION');
  if (!plain) {
    const tar = files.find((f) => /^base\.tar(\.(gz|lz4|zst))?$/.test(f.path));
    if (!tar) return 'neither a data directory nor base.tar: incomplete';
    if (tar.path === 'base.tar' && tar.endsClean === false) return 'base.tar does not end with the end-of-archive blocks: incomplete';
    return null;
  }
  let listed: { Path?: string; Size?: number }[];
  try {
    listed = (JSON.parse(manifest ?? '') as { Files?: { Path?: string; Size?: number }[] }).Files ?? [];
  } catch {
    return 'its backup_manifest is not JSON';
  }
  const sizes = new Map(files.map((f) => [f.path, f.size]));
  for (const f of listed) {
    if (typeof f.Path !== 'string') continue;
    if (sizes.get(f.Path) !== f.Size) return `${f.Path} is ${sizes.has(f.Path) ? `${sizes.get(f.Path)} bytes, the manifest says ${f.Size}` : 'missing'}: incomplete`;
  }
  return null;
}

/** A date, a time of day and an offset in a name, as timeInName reads them. */
const NAME_TIME = /(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?:[T_ -]?(\d{2})[:-]?(\d{2})(?:[:-]?(\d{2}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?(?!\d)/;

/** Whether a name's time is a date alone (no time of day, no offset): then a backup_label
 * says more exactly when it was taken. */
export function dateAloneInName(name: string): boolean {
  const m = NAME_TIME.exec(name);
  return !!m && m[4] === undefined && m[7] === undefined;
}

/** A time in a backup's name: 20261101T020000Z, 2026-11-01T02:00:00Z, 2026-11-01_02-00-00,
 * 20261101-020000, 2026-11-01 (its last second); UTC unless an offset follows. */
export function timeInName(name: string): string | null {
  const m = NAME_TIME.exec(name);
  if (!m) return null;
  // A date alone names a whole (UTC) day: read as its last second, so that a backup taken
  // late that day is never read as older than it is (round atk132 F4: read as midnight,
  // one taken at 23:59:30 was pruned a day early).
  const dateAlone = m[4] === undefined;
  const [y, mo, d, h = dateAlone ? '23' : '00', mi = dateAlone ? '59' : '00', s = dateAlone ? '59' : '00'] = m.slice(1, 7) as string[];
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const back = new Date(t);
  if (back.getUTCFullYear() !== Number(y) || back.getUTCMonth() !== Number(mo) - 1 || back.getUTCDate() !== Number(d)
      || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  let zone = m[7] ?? 'Z';
  // An offset no clock has (beyond ±14:00) is no time.
  const off = /^[+-](\d{2}):?(\d{2})?$/.exec(zone);
  if (off && (Number(off[1]) > 14 || Number(off[2] ?? 0) > 59 || (Number(off[1]) === 14 && Number(off[2] ?? 0) > 0))) return null;
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${zone}`;
}

/** The START TIME line of a backup_label as an ISO time ("2026-11-01 02:00:03 UTC" ->
 * 2026-11-01T02:00:03Z). Only UTC, GMT or a numeric offset: an abbreviation's meaning
 * depends on settings (EST, IST), and words like epoch or BC are not times of a backup. */
export function labelTime(label: string): string | null {
  const m = /^START TIME: (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (UTC|GMT|[+-]\d{2}(?::?\d{2})?)\s*$/m.exec(label);
  if (!m) return null;
  let zone = m[3]!;
  if (zone === 'UTC' || zone === 'GMT') zone = 'Z';
  else if (/^[+-]\d{2}$/.test(zone)) zone += ':00';
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const iso = `${m[1]}T${m[2]}${zone}`;
  return Number.isNaN(Date.parse(iso)) ? null : iso;
}

function checkName(name: string): void {
  // eslint-disable-next-line no-control-regex
  if (!name || name.length > 255 || /[/\\\u0000-\u001f\u007f-\u009f]/.test(name) || name === '.' || name === '..') {
    throw new BackupStoreError(`refusing backup name ${JSON.stringify(name)}`);
  }
}

export class LocalBackupStore implements BackupStore {
  readonly url: string;
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
    this.url = `file://${path.resolve(dir)}`;
  }

  async list(): Promise<Listing> {
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      throw new BackupStoreError(`backup store ${this.dir} cannot be read: ${(err as Error).message}`);
    }
    const names = new Set(entries.map((e) => e.name));
    refuseToolLayout(names);
    if (names.has('backup') && (await hasPgBackRestInfo(path.join(this.dir, 'backup')))) throw pgBackRest();
    const out: Listing = { backups: [], ignored: [] };
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isSymbolicLink()) { out.ignored.push({ name: e.name, why: 'a symbolic link' }); continue; }
      if (!e.isDirectory()) { out.ignored.push({ name: e.name, why: 'not a directory' }); continue; }
      const dir = path.join(this.dir, e.name);
      let inside: Set<string>;
      try {
        inside = new Set(await readdir(dir));
      } catch (err) {
        out.ignored.push({ name: e.name, why: `cannot be read: ${(err as Error).message}` });
        continue;
      }
      if (!inside.has('backup_manifest')) {
        out.ignored.push({ name: e.name, why: 'no backup_manifest: not a base backup, or one still being taken' });
        continue;
      }
      let takenAt = timeInName(e.name);
      let timeFrom: Backup['timeFrom'] = 'name';
      // No time in the name, or a date alone: the label's START TIME, where it has one
      // (and, for a date, one on that day: the name is read as its last second otherwise).
      if ((!takenAt || dateAloneInName(e.name)) && inside.has('backup_label')) {
        const label = labelTime(await readFile(path.join(dir, 'backup_label'), 'utf8'));
        const end = takenAt ? Date.parse(takenAt) : null;
        if (label && (end === null || (Date.parse(label) <= end && Date.parse(label) > end - 86_400_000))) {
          takenAt = label;
          timeFrom = 'backup_label';
        }
      }
      if (!takenAt) {
        out.ignored.push({ name: e.name, why: 'no time in its name or backup_label' });
        continue;
      }
      try {
        checkName(e.name);
      } catch (err) {
        out.ignored.push({ name: e.name, why: (err as Error).message });
        continue;
      }
      out.backups.push({ name: e.name, takenAt, timeFrom, bytes: null, files: null });
    }
    return out;
  }

  async measure(name: string): Promise<{ bytes: number; files: number }> {
    checkName(name);
    return sizeOf(path.join(this.dir, name));
  }

  async finished(name: string, settleMs: number): Promise<string | null> {
    checkName(name);
    const dir = path.join(this.dir, name);
    const files: FileInfo[] = [];
    for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
      if (e.isDirectory()) continue;
      const st = await lstat(path.join(e.parentPath, e.name));
      files.push({ path: path.relative(dir, path.join(e.parentPath, e.name)), size: st.size, mtimeMs: st.mtimeMs });
    }
    const tar = files.find((f) => f.path === 'base.tar');
    if (tar) tar.endsClean = await tarEndsClean(path.join(dir, 'base.tar'), tar.size);
    const manifest = await readFile(path.join(dir, 'backup_manifest'), 'utf8').catch(() => null);
    return unfinished(files, manifest, settleMs);
  }

  async remove(name: string): Promise<boolean> {
    checkName(name);
    const p = path.join(this.dir, name);
    const st = await lstat(p).catch(() => null);
    if (!st) return false;   // already gone
    if (!st.isDirectory()) throw new BackupStoreError(`${p} is not a directory (a symbolic link?): not deleted`);
    if (process.platform === 'linux') {
      // GNU rm walks the tree by file descriptors (openat), so a directory swapped for a
      // link while it works cannot lead it out of the backup; --one-file-system keeps it
      // off other mounts. Node's recursive rm walks by path names.
      await new Promise<void>((resolve, reject) => execFile('rm', ['-rf', '--one-file-system', '--', p], (err, _o, stderr) =>
        err ? reject(new BackupStoreError(`rm ${p}: ${stderr.trim() || err.message}`)) : resolve()));
    } else {
      await rm(p, { recursive: true });
    }
    return true;
  }
}

/** Whether an uncompressed tar file ends as tar files do: two 512-byte blocks of zeros. */
async function tarEndsClean(file: string, size: number): Promise<boolean> {
  if (size < 1024 || size % 512 !== 0) return false;
  const fh = await openFile(file, 'r');
  try {
    const buf = Buffer.alloc(1024);
    await fh.read(buf, 0, 1024, size - 1024);
    return buf.every((b) => b === 0);
  } finally {
    await fh.close();
  }
}

async function sizeOf(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files += 1;
    bytes += (await lstat(path.join(e.parentPath, e.name))).size;
  }
  return { bytes, files };
}

const pgBackRest = () => new BackupStoreError('this is a pgBackRest repository: prune it with pgbackrest expire (its backups depend on each other); pg-retention backups plan can decide which sets go (docs/operator-guide.md, Backup pruning)');
const walG = () => new BackupStoreError('this is WAL-G storage: prune it with wal-g delete (its backups depend on each other); pg-retention backups plan can decide which go (docs/operator-guide.md, Backup pruning)');

function refuseToolLayout(names: Set<string>): void {
  if (names.has('backup.info') || names.has('backup.info.copy')) throw pgBackRest();
  if (names.has('basebackups_005') || names.has('wal_005')) throw walG();
}

async function hasPgBackRestInfo(backupDir: string): Promise<boolean> {
  try {
    for (const e of await readdir(backupDir, { withFileTypes: true })) {
      if (e.isDirectory() && (await readdir(path.join(backupDir, e.name))).includes('backup.info')) return true;
    }
  } catch {
    return false;
  }
  return false;
}

export class S3BackupStore implements BackupStore {
  readonly url: string;
  private readonly client: LazyS3;
  private readonly base: string;
  readonly bucket: string;
  constructor(bucket: string, prefix: string, opts: { endpoint?: string; region?: string } = {}) {
    this.bucket = bucket;
    this.base = prefix.replace(/\/+$/, '');
    this.url = `s3://${bucket}/${this.base}`;
    this.client = new LazyS3({
      region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
    });
  }

  private async *objects(prefix: string): AsyncGenerator<{ key: string; size: number; mtimeMs: number }> {
    let token: string | undefined;
    do {
      const r = await this.client.use((s3, c) => c.send(new s3.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })));
      for (const o of r.Contents ?? []) yield { key: o.Key!, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? Date.now() };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async list(): Promise<Listing> {
    const root = this.base ? `${this.base}/` : '';
    const groups = new Map<string, { bytes: number; files: number; manifest: boolean }>();
    const top = new Set<string>();
    for await (const o of this.objects(root)) {
      const rest = o.key.slice(root.length);
      const i = rest.indexOf('/');
      if (i < 0) { top.add(rest); continue; }
      const name = rest.slice(0, i);
      top.add(name);
      const g = groups.get(name) ?? { bytes: 0, files: 0, manifest: false };
      if (o.key.includes('\u0000')) continue;
      g.bytes += o.size;
      g.files += 1;
      if (rest.slice(i + 1) === 'backup_manifest') g.manifest = true;
      groups.set(name, g);
    }
    refuseToolLayout(top);
    const out: Listing = { backups: [], ignored: [] };
    for (const name of [...top].sort()) {
      const g = groups.get(name);
      if (!g) { out.ignored.push({ name, why: 'an object, not a prefix' }); continue; }
      try {
        checkName(name);
      } catch (err) {
        out.ignored.push({ name, why: (err as Error).message });
        continue;
      }
      if (!g.manifest) { out.ignored.push({ name, why: 'no backup_manifest: not a base backup, or one still being uploaded' }); continue; }
      const takenAt = timeInName(name);
      if (!takenAt) { out.ignored.push({ name, why: 'no time in its name' }); continue; }
      out.backups.push({ name, takenAt, timeFrom: 'name', bytes: g.bytes, files: g.files });
    }
    return out;
  }

  async measure(name: string): Promise<{ bytes: number; files: number }> {
    checkName(name);
    let bytes = 0;
    let files = 0;
    for await (const o of this.objects(`${this.base ? `${this.base}/` : ''}${name}/`)) {
      bytes += o.size;
      files += 1;
    }
    return { bytes, files };
  }

  async finished(name: string, settleMs: number): Promise<string | null> {
    checkName(name);
    const prefix = `${this.base ? `${this.base}/` : ''}${name}/`;
    const files: FileInfo[] = [];
    for await (const o of this.objects(prefix)) files.push({ path: o.key.slice(prefix.length), size: o.size, mtimeMs: o.mtimeMs });
    let manifest: string | null = null;
    if (files.some((f) => f.path === 'global/pg_control' || f.path === 'PG_VERSION')) {
      manifest = await this.client.use(async (s3, c) => {
        const r = await c.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: `${prefix}backup_manifest` }));
        return r.Body!.transformToString('utf8');
      });
    }
    return unfinished(files, manifest, settleMs);
  }

  async remove(name: string): Promise<boolean> {
    checkName(name);
    const prefix = `${this.base ? `${this.base}/` : ''}${name}/`;
    let found = false;
    let batch: { Key: string }[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const r = await this.client.use((s3, c) => c.send(new s3.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } })));
      if (r.Errors?.length) throw new BackupStoreError(`${r.Errors.length} object(s) of ${name} not deleted: ${r.Errors[0]!.Code} ${r.Errors[0]!.Message}`);
      batch = [];
    };
    for await (const o of this.objects(prefix)) {
      found = true;
      batch.push({ Key: o.key });
      if (batch.length === 1000) await flush();
    }
    await flush();
    return found;
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** A store from its URL: a directory (or file:///dir) or s3://bucket/prefix. */
export function backupStore(url: string, opts: { s3Endpoint?: string; s3Region?: string } = {}): BackupStore {
  if (url.startsWith('s3://')) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
    if (!m) throw new BackupStoreError(`expected s3://bucket/prefix, got ${JSON.stringify(url)}`);
    return new S3BackupStore(m[1]!, m[2] ?? '', { endpoint: opts.s3Endpoint, region: opts.s3Region });
  }
  if (url.startsWith('file://')) return new LocalBackupStore(fileUrlPath(url, (m) => new BackupStoreError(m)));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new BackupStoreError(`unsupported backup store ${JSON.stringify(url)}: use a directory or s3://bucket/prefix`);
  return new LocalBackupStore(url);
}

/** Where a store is, one spelling per place: a directory's real path, s3://bucket/prefix. */
function storePlace(store: BackupStore): string {
  if (store instanceof LocalBackupStore) {
    const p = path.resolve(store.dir);
    try {
      return `file://${realpathSync(p)}`;
    } catch {
      return `file://${p}`;
    }
  }
  return store.url.replace(/\/+$/, '');
}

/** The named backup stores from PG_RETENTION_BACKUP_STORES. */
export function backupStores(env: NodeJS.ProcessEnv = process.env): Map<string, BackupStore> {
  const problems: string[] = [];
  const stores = new Map<string, BackupStore>();
  const named = namedPairs('PG_RETENTION_BACKUP_STORES', env.PG_RETENTION_BACKUP_STORES, 'name=directory or name=s3://bucket/prefix');
  problems.push(...named.problems);
  for (const [name, url] of named.pairs) {
    try {
      const store = backupStore(url, { s3Endpoint: env.PG_RETENTION_S3_ENDPOINT || undefined, s3Region: env.PG_RETENTION_S3_REGION || undefined });
      // Two names for one place would let a hold on one name be pruned through the other.
      const place = storePlace(store);
      const same = [...stores.entries()].find(([, o]) => storePlace(o) === place);
      if (same) {
        problems.push(`PG_RETENTION_BACKUP_STORES: ${name} and ${same[0]} are the same place (${place}): give it one name`);
        continue;
      }
      stores.set(name, store);
    } catch (err) {
      if (!(err instanceof BackupStoreError)) throw err;
      problems.push(`PG_RETENTION_BACKUP_STORES: ${name}: ${err.message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return stores;
}

export interface PlanRow { backup_name: string; taken_at: Date; keep: boolean; reason: string; rule: string }
export interface PruneResult {
  plan: PlanRow[];
  ignored: Listing['ignored'];
  deleted: string[];
  failed: { name: string; error: string }[];
  cancelled: { name: string; reason: string }[];
  reconciled: number;
}

const listingJson = (l: Listing) => JSON.stringify(l.backups.map((b) => ({ name: b.name, taken_at: b.takenAt })));

/** The plan for a policy over its store (execute false), or the plan carried out. One
 * pruner per policy at a time (an advisory lock; another gets an error). */
export async function pruneBackups(db: pg.Client, policy: string, store: BackupStore,
                                   opts: { execute: boolean; asOf?: string | Date | null; settleMs?: number }): Promise<PruneResult> {
  const { rows: [lock] } = await db.query(`select pg_try_advisory_lock(x'52540002'::int, hashtext($1)) as ok`, [policy]);
  if (!lock.ok) throw new BackupStoreError(`another pruner is pruning ${policy} right now`);
  const settle = opts.settleMs ?? DEFAULT_SETTLE_MS;
  const checked = new Map<string, string | null>();
  const finished = async (name: string): Promise<string | null> => {
    if (!checked.has(name)) {
      let why: string | null;
      try {
        why = await store.finished(name, settle);
      } catch (err) {
        why = `cannot be checked: ${(err as Error).message}`;
      }
      checked.set(name, why);
    }
    return checked.get(name)!;
  };
  // The store as it is now, and the plan over it: every backup the plan keeps as one of
  // the newest must be finished (a backup still being written or copied counts as none);
  // one that is not is set aside and the plan made again, as the database orders them.
  const plan = async (): Promise<{ listing: Listing; json: string; rows: PlanRow[] }> => {
    const listing = await store.list();
    for (;;) {
      const json = listingJson(listing);
      const rows = (await db.query(`select * from retention.backup_plan($1, $2, $3)`, [policy, json, opts.asOf ?? null])).rows as PlanRow[];
      let setAside = false;
      for (const r of rows.filter((x) => x.rule === 'newest')) {
        const why = await finished(r.backup_name);
        if (why) {
          listing.backups = listing.backups.filter((b) => b.name !== r.backup_name);
          listing.ignored.push({ name: r.backup_name, why });
          setAside = true;
        }
      }
      if (!setAside) return { listing, json, rows };
    }
  };
  try {
    const first = await plan();
    const result: PruneResult = { plan: first.rows, ignored: first.listing.ignored, deleted: [], failed: [], cancelled: [], reconciled: 0 };
    if (!opts.execute) return result;
    const present = [...first.listing.backups.map((b) => b.name), ...first.listing.ignored.map((i) => i.name)];
    result.reconciled = (await db.query(`select retention.backup_prune_reconcile($1, $2, $3) as n`, [policy, first.json, present])).rows[0].n;
    for (const candidate of first.rows.filter((r) => !r.keep)) {
      // Measured first (it takes a while); then the store is read again, right before the
      // deletion: a backup gone meanwhile (the newest, moved away) must not leave this one
      // as the last.
      const size: { bytes: number | null; files: number | null } =
        await store.measure(candidate.backup_name).catch(() => ({ bytes: null, files: null }));
      const now = await plan();
      const row = now.rows.find((r) => r.backup_name === candidate.backup_name);
      if (!row || row.keep) {
        result.cancelled.push({ name: candidate.backup_name, reason: row ? `kept now: ${row.reason}` : 'not in the store any more' });
        continue;
      }
      const b = now.listing.backups.find((x) => x.name === row.backup_name)!;
      const id = (await db.query(`select retention.backup_prune_intent($1, $2, $3, $4, $5, $6) as id`,
                                 [policy, now.json, b.name, opts.asOf ?? null, size.bytes, size.files])).rows[0].id as string;
      await db.query('begin isolation level read committed');
      try {
        await db.query(`select retention.backup_prune_check($1, $2)`, [id, now.json]);
      } catch (err) {
        await db.query('rollback');
        if ((err as { code?: string }).code !== 'RT039') throw err;
        await db.query(`select retention.backup_prune_cancel($1, $2)`, [id, (err as Error).message]);
        result.cancelled.push({ name: b.name, reason: (err as Error).message });
        continue;
      }
      let existed = true;
      try {
        existed = await store.remove(b.name);
      } catch (err) {
        await db.query('rollback');
        const error = (err as Error).message || String(err);
        await db.query(`select retention.backup_prune_done($1, $2)`, [id, error]);
        result.failed.push({ name: b.name, error });
        continue;
      }
      await db.query(`select retention.backup_prune_done($1, null, $2)`, [id, existed ? null : 'it was not there any more: deleted by someone else']);
      await db.query('commit');
      result.deleted.push(b.name);
    }
    return result;
  } finally {
    await db.query(`select pg_advisory_unlock(x'52540002'::int, hashtext($1))`, [policy]).catch(() => {});
  }
}
