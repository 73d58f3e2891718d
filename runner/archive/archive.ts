// Moving archived rows to cold storage and back. An object is newline-delimited JSON (one
// line per row: table, depth, run, batch, archived_at, row), gzip-compressed and sealed
// (envelope.ts). offload() writes it, reads it back and verifies it (sha256 of the stored
// bytes, decryption, row count) before the database records it and lets go of the rows.
import { createHash } from 'node:crypto';
import { lstat, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type pg from 'pg';
import { type KeyRing, open, readHeader, seal } from './envelope.ts';
import type { StorageTarget } from './storage.ts';
import { writeNew } from '../new-file.ts';
import { UsageError } from '../errors.ts';

export interface ArchivedRow {
  table: string;
  depth: number;
  run_id: number;
  batch_no: number;
  policy: string;
  archived_at: string;
  row: Record<string, unknown>;
}

/** What an offload did: objects written, rows moved, keys of failed objects deleted from
 * storage, and keys whose delete failed (handed out again by the next claim). */
export interface OffloadResult { objects: number; rows: number; abandoned: string[]; undeleted: string[] }

type Queryable = Pick<pg.Client, 'query'>;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// Numbers keep their exact digits through JavaScript (a numeric(38, 15) or 2.50 is not a
// double): one a double would change is kept as raw JSON text and written back as it was.
type RawJSON = { rawJSON: (text: string) => unknown };
const exactNumbers = (_key: string, value: unknown, context?: { source?: string }): unknown =>
  typeof value === 'number' && context?.source !== undefined && String(value) !== context.source
    ? (JSON as unknown as RawJSON).rawJSON(context.source) : value;
/** JSON.parse that keeps every number's digits (JSON.stringify writes them back unchanged). */
export const parseExact = (text: string): unknown => JSON.parse(text, exactNumbers as (k: string, v: unknown) => unknown);

/** Encodes rows as an object's plain bytes (gzip of NDJSON). */
export function encodeRows(rows: ArchivedRow[]): Buffer {
  return gzipSync(Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '')));
}

export function decodeRows(plain: Buffer): ArchivedRow[] {
  return gunzipSync(plain).toString('utf8').split('\n').filter(Boolean).map((l) => parseExact(l) as ArchivedRow);
}

/**
 * Moves archived rows into objects until none is left (or maxObjects were written). Each
 * object: claim (the database assigns rows), write, read back, verify, complete (the
 * manifest and the deletion of the rows commit together). Anything that fails abandons
 * the object: its rows stay in the database for the next offload; the stored object is
 * deleted once the abandon is recorded, and kept when it could not be (the completion may
 * have committed). Returns what moved.
 */
export async function offload(db: pg.Client, target: StorageTarget, ring: KeyRing,
                              opts: { maxRowsPerObject?: number; maxObjects?: number; onObject?: (key: string, rows: number) => void } = {}): Promise<OffloadResult> {
  const result: OffloadResult = { objects: 0, rows: 0, abandoned: [], undeleted: [] };
  for (;;) {
    if (opts.maxObjects !== undefined && result.objects >= opts.maxObjects) return result;
    const claim = (await db.query(`select * from retention.archive_claim($1, $2)`, [target.url, opts.maxRowsPerObject ?? 100_000])).rows[0] as
      { object_id: string | null; object_key: string | null; rows: string | null; abandoned_keys: string[] } | undefined;
    // Whatever a failed object may have stored there is not in the manifest: remove it, and
    // say so (archive_cleared). A key whose delete fails, or whose object failed too
    // recently to count as cleared, is handed out again by a later claim.
    const deleted: string[] = [];
    for (const key of claim?.abandoned_keys ?? []) {
      if (result.abandoned.includes(key)) continue;  // deleted by this offload already
      try {
        await target.delete(key);
        deleted.push(key);
        result.abandoned.push(key);
      } catch {
        if (!result.undeleted.includes(key)) result.undeleted.push(key);
      }
    }
    if (deleted.length) await db.query(`select retention.archive_cleared($1, $2)`, [target.url, deleted]);
    if (!claim?.object_id) return result;
    const id = claim.object_id;
    const key = claim.object_key!;
    try {
      // row_data as text, parsed here without rounding its numbers.
      const rows: ArchivedRow[] = (await db.query(
        `select archive_id, run_id, batch_no, policy_name, rel_name, depth, archived_at, row_data::text as row_data
           from retention.archive_object_rows($1)`, [id])).rows.map((r) => ({
        table: r.rel_name, depth: r.depth, run_id: Number(r.run_id), batch_no: r.batch_no, policy: r.policy_name,
        archived_at: (r.archived_at as Date).toISOString(), row: parseExact(r.row_data) as Record<string, unknown>,
      }));
      const { sealed, header } = seal(encodeRows(rows), ring);
      await target.put(key, sealed);
      // Read back what the store holds and check it before anything leaves the database.
      const back = await target.get(key);
      if (sha256(back) !== sha256(sealed)) throw new Error(`object ${key} read back differs from what was written`);
      const n = decodeRows(open(back, ring)).length;
      if (n !== rows.length) throw new Error(`object ${key} read back holds ${n} rows, ${rows.length} were written`);
      await db.query(`select retention.archive_complete($1, $2, $3, $4, $5, $6)`,
        [id, sha256(back), back.length, rows.length, header.kid, header.wrapped]);
      result.objects++;
      result.rows += rows.length;
      opts.onObject?.(key, rows.length);
    } catch (err) {
      // The stored object goes only once the database has recorded it abandoned. When that
      // cannot be said (the connection broke, perhaps after archive_complete committed and
      // before its answer came: the object is then verified and its rows are gone from the
      // database), it stays in storage: the next offload deletes it if the manifest left it
      // unfinished (archive_claim's abandoned keys), and keeps it if it was verified.
      const abandoned = await db.query(`select retention.archive_abandon($1, $2)`, [id, (err as Error).message])
        .then(() => true, () => false);
      // Also when another offloader found this session gone and failed the object meanwhile
      // (it may have deleted the key before this put landed): the object is not ours to
      // keep. A later claim deletes the key again either way.
      const failed = abandoned || await db.query(`select status from retention.archive_objects where object_id = $1`, [id])
        .then((r) => r.rows[0]?.status === 'failed', () => false);
      if (failed) await target.delete(key).catch(() => {});
      throw err;
    }
  }
}

export interface ObjectRecord {
  object_id: string;
  object_key: string;
  target: string;
  status: string;
  sha256: string;
  rows: string;
  key_id: string;
  tables: Record<string, number>;
}

export async function objectRecord(db: Queryable, id: string): Promise<ObjectRecord> {
  const where = /^\d+$/.test(id) ? 'object_id = $1::bigint' : 'object_key = $1';
  const r = (await db.query(`select * from retention.archive_objects where ${where}`, [id])).rows[0] as ObjectRecord | undefined;
  if (!r) throw new UsageError(`archive object ${id} does not exist`, 'pg-retention archive list shows the objects, by id and by key');
  if (r.status !== 'verified') {
    throw new UsageError(`archive object ${id} is ${r.status}, not verified: it holds nothing to read`,
      'Only a verified object can be read: pg-retention archive list shows each object\'s status.');
  }
  return r;
}

/** Reads an object and checks it against the manifest: sha256, key id, rows, decryption. */
export async function readObject(rec: ObjectRecord, target: StorageTarget, ring: Pick<KeyRing, 'keys'>): Promise<ArchivedRow[]> {
  const bytes = await target.get(rec.object_key);
  if (sha256(bytes) !== rec.sha256) throw new Error(`object ${rec.object_key}: sha256 ${sha256(bytes)} is not the manifest's ${rec.sha256} — it was changed or replaced`);
  if (readHeader(bytes).kid !== rec.key_id) throw new Error(`object ${rec.object_key}: its header names key ${readHeader(bytes).kid}, the manifest ${rec.key_id}`);
  const rows = decodeRows(open(bytes, ring));
  if (rows.length !== Number(rec.rows)) throw new Error(`object ${rec.object_key}: ${rows.length} rows, the manifest says ${rec.rows}`);
  return rows;
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Puts objects' rows back: into tables of schema `into` with the originals' columns, in
 * plain types (for inspection), or with live: true into the original tables. Runs with
 * the login's own rights, in one transaction; only a live restore runs the tables' own
 * code (triggers, domains). Each object (`objects`: the ids the rows came from) is
 * audited; a live restore after erasures of its tables needs despiteErasures. Returns
 * rows per table.
 */
export async function restore(db: pg.Client, rows: ArchivedRow[],
                              opts: { objects: Array<number | string>; into?: string; live?: boolean; despiteErasures?: boolean }): Promise<Record<string, number>> {
  const byTable = new Map<string, ArchivedRow[]>();
  for (const r of rows) byTable.set(r.table, [...(byTable.get(r.table) ?? []), r]);
  const counts: Record<string, number> = {};
  await db.query('begin');
  try {
    // Audited in the restore's transaction; a live restore of tables that erasures reached
    // since the rows were archived is refused unless asked (RT044; round atk134 F4).
    for (const o of opts.objects) {
      await db.query(`select retention.archive_restoring($1, $2, $3, $4)`,
                     [o, opts.live === true, opts.live ? null : opts.into, opts.despiteErasures === true]);
    }
    if (!opts.live) {
      // A schema another role made, or may create in, could hold a table of theirs under
      // the name restore uses, with a trigger that runs as the login restoring and reads
      // the archived rows (round atk90 F3b): restore only into its own schema.
      const { rows: [sch] } = await db.query(
        `select n.nspowner <> (select oid from pg_roles where rolname = current_user) as foreign_owner,
                (select string_agg(r.rolname, ', ') from pg_roles r
                  where r.rolname <> current_user and not r.rolsuper and has_schema_privilege(r.oid, n.oid, 'CREATE')) as creators,
                has_schema_privilege('public', n.oid, 'CREATE') as public_create
           from pg_namespace n where n.nspname = $1`, [opts.into]);
      if (sch && (sch.foreign_owner || sch.creators || sch.public_create)) {
        throw new Error(`refusing to restore into ${opts.into}: ${sch.foreign_owner ? 'another role owns it' : `${sch.public_create ? 'PUBLIC' : sch.creators} may create in it`}` +
          ' (restore into a new schema, which it creates, or one only this login owns and creates in)');
      }
      await db.query(`create schema if not exists ${ident(opts.into!)}`);
    }
    // Parents before children (depth order), so foreign keys hold when restoring live.
    const order = [...byTable.keys()].sort((a, b) => Math.min(...byTable.get(a)!.map((r) => r.depth)) - Math.min(...byTable.get(b)!.map((r) => r.depth)));
    for (const table of order) {
      const orig = (await db.query(`select to_regclass($1)::oid as oid`, [table])).rows[0].oid as number | null;
      if (!orig) throw new Error(`table ${table} no longer exists: use pg-retention archive export to read its rows`);
      let dest: string;
      if (opts.live) {
        dest = (await db.query(`select $1::oid::regclass::text as t`, [orig])).rows[0].t;
      } else {
        const name = table.replace(/^[^.]*\./, '').replace(/"/g, '');
        dest = `${ident(opts.into!)}.${ident(name)}`;
        // Never the live table (or any table of its schema) unless asked with live: true.
        const { rows: [same] } = await db.query(
          `select n.nspname as schema, to_regclass($2) = $1::oid as is_original
             from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = $1`, [orig, dest]);
        if (same.is_original || same.schema === opts.into) {
          throw new Error(`refusing to restore into ${opts.into}: it is the schema of the live table ${table} (use another schema, or --live to put rows back into the live table)`);
        }
        // A table left by an earlier restore takes more rows; one with a trigger, rule or
        // row security (someone's code, run as this login) is refused.
        const { rows: [ex] } = await db.query(
          `select c.relowner <> (select oid from pg_roles where rolname = current_user) as foreign_owner,
                  c.relhastriggers or c.relhasrules or c.relrowsecurity or c.relkind <> 'r' as code
             from pg_class c where c.oid = to_regclass($1)`, [dest]);
        if (ex && (ex.foreign_owner || ex.code)) {
          throw new Error(`refusing to restore into ${dest}: it is ${ex.foreign_owner ? 'another role\'s' : 'not a plain table (a trigger, rule or row security)'}; restore into a new schema`);
        }
        // Columns of plain types, never the application's: its domain's CHECK, a composite's
        // fields or a range would run its code as this login as the rows go in (round atk90
        // F3). A domain becomes its base type; another role's composite type jsonb, any
        // other type of its text; built-in types and enums stay as they are.
        const { rows: [def] } = await db.query(
          `with recursive a as (
             select a.attnum, a.attname, a.atttypid as t, a.atttypmod as m, 0 as d
               from pg_attribute a where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
             union all
             select a.attnum, a.attname, y.typbasetype, y.typtypmod, a.d + 1
               from a join pg_type y on y.oid = a.t where y.typtype = 'd' and a.d < 32),
           base as (select distinct on (attnum) attnum, attname, t, m from a order by attnum, d desc)
           select string_agg(format('%I %s', b.attname,
                    case when b.t < 16384 or y.typtype = 'e' then format_type(b.t, b.m)
                         when y.typcategory = 'A' and (e.oid < 16384 or e.typtype = 'e') then format_type(b.t, b.m)
                         when y.typtype = 'c' or y.typcategory = 'A' then 'jsonb'
                         else 'text' end), ', ' order by b.attnum) as cols
             from base b join pg_type y on y.oid = b.t left join pg_type e on e.oid = y.typelem and y.typcategory = 'A'`, [orig]);
        await db.query(`create table if not exists ${dest} (${def.cols})`);
      }
      const cols = (await db.query(`select string_agg(quote_ident(attname), ', ' order by attnum) as c from pg_attribute
                                     where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = ''`, [dest])).rows[0].c as string;
      const r = await db.query(
        `insert into ${dest} (${cols}) overriding system value
         select ${cols} from jsonb_populate_recordset(null::${dest}, $1::jsonb)`,
        [JSON.stringify(byTable.get(table)!.map((x) => x.row))]);
      counts[table] = r.rowCount ?? 0;
    }
    await db.query('commit');
  } catch (err) {
    await db.query('rollback');
    throw err;
  }
  return counts;
}

export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The files an export of an object's rows makes in dir: one NDJSON file, or one CSV file per table; nothing written. */
export function exportFiles(rows: ArchivedRow[], format: 'jsonl' | 'csv', dir: string, base: string): { file: string; text: string }[] {
  if (format === 'jsonl') return [{ file: path.join(dir, `${base}.jsonl`), text: rows.map((r) => JSON.stringify(r)).join('\n') + '\n' }];
  return [...new Set(rows.map((r) => r.table))].map((t) => {
    const rs = rows.filter((r) => r.table === t).map((r) => r.row);
    const cols = [...new Set(rs.flatMap((r) => Object.keys(r)))];
    // The table's name, made a safe file name (it may hold anything, "/../" included).
    return { file: path.join(dir, `${base}.${t.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_')}.csv`),
             text: [cols.map(csvCell).join(','), ...rs.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n' };
  });
}

/**
 * Makes dir for an export (a new directory is the owner's alone) and refuses one whose
 * files exist already or that is not a directory: before the export is recorded, so a
 * record is not left for an export that could not be written (round atk147 F1).
 */
export async function prepareExport(files: { file: string }[], dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UsageError(`cannot make ${dir} a directory for the export: ${(err as Error).message}`, 'give --out an empty or new directory');
  }
  if (!(await stat(dir)).isDirectory()) throw new UsageError(`${dir} is not a directory`, 'give --out an empty or new directory');
  for (const f of files) {
    if (await lstat(f.file).then(() => true, () => false)) {
      throw new UsageError(`${f.file} exists: an export writes only new files`, 'give --out an empty or new directory');
    }
  }
}

/** Writes an object's rows as one NDJSON file, or one CSV file per table, into dir. */
export async function exportRows(rows: ArchivedRow[], format: 'jsonl' | 'csv', dir: string, base: string): Promise<string[]> {
  // Archived personal data: a new directory is the owner's alone, and every file is new
  // and owner-only; an existing file or a link laid out in a shared directory is refused,
  // never overwritten or followed (round atk97 F5).
  const files = exportFiles(rows, format, dir, base);
  await prepareExport(files, dir);
  for (const f of files) await writeNew(f.file, f.text);
  return files.map((f) => f.file);
}

/**
 * Deletes expired objects from storage that no hold keeps (table and policy holds by the
 * manifest; subject holds by reading the rows), recording each deletion. Returns the keys.
 */
export async function prune(db: pg.Client, target: StorageTarget, ring: Pick<KeyRing, 'keys'>): Promise<{ deleted: string[]; kept: string[] }> {
  const out = { deleted: [] as string[], kept: [] as string[] };
  const objects = (await db.query(`select * from retention.archive_prunable() where target = $1`, [target.url])).rows as ObjectRecord[];
  for (const o of objects) {
    const rows = await readObject(o, target, ring);
    // The snapshot the check ran under: a hold whose transaction it did not see committed
    // (placed before the check, committed after it) still stops the deletion. Check and
    // record in one transaction: the check holds still what could widen a hold's reach (a
    // key added to the object's tables, a subject column declared) until the record
    // commits (round atk128 F1).
    await db.query('begin');
    try {
      const { rows: [check] } = await db.query(`select retention.archive_rows_held($1, $2::jsonb) as held, now() as at,
                                                       pg_current_snapshot()::text as snap`,
        [o.object_id, JSON.stringify(rows.map((r) => ({ table: r.table, row: r.row })))]);
      if (check.held) {
        await db.query('rollback');
        out.kept.push(o.object_key);
        continue;
      }
      // Recorded first (refused if a hold came meanwhile), then deleted from storage: a
      // failed delete leaves an object marked deleted that is still there, never the reverse.
      await db.query(`select retention.archive_object_deleted($1, 'expired', $2, $3::pg_snapshot)`, [o.object_id, check.at, check.snap]);
      await db.query('commit');
    } catch (e) {
      await db.query('rollback').catch(() => {});
      throw e;
    }
    await target.delete(o.object_key);
    out.deleted.push(o.object_key);
  }
  return out;
}
