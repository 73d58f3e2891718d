// pg-retention archive list | offload | verify | restore | export | prune: the archive in
// cold storage (docs/operator-guide.md, Archive storage).
import { archiveSetup, ARCHIVE_ENV, requireRing } from '../archive/config.ts';
import { exportFiles, objectRecord, offload, prepareExport, prune, readObject, restore, type ObjectRecord } from '../archive/archive.ts';
import { writeNew } from '../new-file.ts';
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { type Command, output, str } from './types.ts';

export const archive: Command = {
  name: 'archive',
  arity: { list: 1, offload: 1, verify: 2, restore: 2, export: 2, prune: 1 },
  summary: 'archived rows in cold storage: list, offload, verify, restore, export, prune',
  usage: `pg-retention archive list [--json]
       pg-retention archive offload
       pg-retention archive verify [OBJECT]
       pg-retention archive restore OBJECT [--into SCHEMA | --live [--despite-erasures]]
       pg-retention archive export OBJECT --format jsonl|csv [--out DIR]
       pg-retention archive prune`,
  help: `Policies that archive copy each row they remove (and the rows its cascade removes) into
retention.archived_rows in the same transaction. 'offload' (the worker does it after each
run) moves them into objects: NDJSON, gzip, AES-256-GCM under a data key wrapped by your
key-encryption key, written to the storage target, read back and verified before the rows
leave the database. OBJECT is an object id or key from 'list'.

  list     the manifest: objects, rows per table, key id, status, expiry
  offload  move archived rows into verified objects now
  verify   read objects back (all, or one) and check sha256, key and rows; exit 1 on a bad one
  restore  put an object's rows into tables with the originals' columns, in plain types,
           in SCHEMA (default restored: new, or yours alone), for inspection; --live
           inserts into the original tables instead (their triggers run as you), refused
           where erasures reached those tables since the rows were archived (they may
           bring erased people back) unless --despite-erasures; every restore is audited
  export   write an object's rows as NDJSON, or CSV files per table, into DIR (default .)
  prune    delete expired objects that no legal hold keeps

${ARCHIVE_ENV}

Examples:
  PG_RETENTION_ARCHIVE_KEYS="k2026:$(cat /run/secrets/archive-key)" pg-retention archive offload
  pg-retention archive list
  pg-retention archive restore 12 --into restored
  pg-retention archive export 12 --format csv --out /tmp/export`,
  options: {
    into: { type: 'string' },
    live: { type: 'boolean' },
    'despite-erasures': { type: 'boolean' },
    format: { type: 'string' },
    out: { type: 'string' },
  },
  run: async (values, [sub, object]) => {
    const known = ['list', 'offload', 'verify', 'restore', 'export', 'prune'];
    if (!sub || !known.includes(sub)) throw new UsageError(`unknown archive command '${sub ?? ''}'`, `use archive ${known.join(', ')}`);
    if ((sub === 'restore' || sub === 'export') && !object) throw new UsageError(`archive ${sub} needs an object id or key`, 'pg-retention archive list shows them');
    if (sub === 'restore' && values.live && values.into) throw new UsageError('give --into SCHEMA or --live, not both', 'pg-retention archive restore 12 --into restored');
    if (values['despite-erasures'] && !(sub === 'restore' && values.live)) {
      throw new UsageError('--despite-erasures goes with archive restore --live', 'pg-retention archive restore 12 --live --despite-erasures');
    }
    const format = str(values.format) ?? (sub === 'export' ? undefined : 'jsonl');
    if (sub === 'export' && format !== 'jsonl' && format !== 'csv') throw new UsageError('archive export needs --format jsonl or --format csv', 'pg-retention archive export 12 --format csv --out /tmp/export');
    const into = str(values.into) ?? 'restored';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(into)) throw new UsageError(`--into takes a schema name, got ${JSON.stringify(into)}`, 'e.g. --into restored');
    const setup = archiveSetup();
    const db = await connect(str(values['database-url']));
    try {
      if (sub === 'list') {
        // The rows per table: an object in --json, "table: n, ..." in the table.
        const tables = values.json ? 'tables'
          : `(select string_agg(x.k || ': ' || x.v, ', ' order by x.k) from jsonb_each_text(tables) x(k, v)) as tables`;
        const rows = (await db.query(`select object_id, object_key, status, rows, ${tables}, key_id, bytes, created_at, verified_at, expires_at, target
                                        from retention.archive_objects order by object_id`)).rows;
        const waiting = (await db.query(`select count(*)::int as n from retention.archived_rows`).catch(() => ({ rows: [{ n: null }] }))).rows[0].n;
        await output(values, rows);
        if (!values.json && waiting !== null) console.log(`${waiting} archived row(s) in the database wait for offload`);
        return 0;
      }
      const ring = requireRing(setup);
      if (sub === 'offload') {
        const r = await offload(db, setup.target, ring, { onObject: (key, n) => console.log(`wrote and verified ${key} (${n} rows)`) });
        console.log(`${r.objects} object(s), ${r.rows} row(s) moved to ${setup.target.url}${r.abandoned.length ? `; ${r.abandoned.length} unfinished object(s) from ended sessions cleared` : ''}${r.undeleted.length ? `; ${r.undeleted.length} unfinished object(s) could not be deleted from storage (tried again next time): ${r.undeleted.join(', ')}` : ''}`);
        return 0;
      }
      if (sub === 'prune') {
        const r = await prune(db, setup.target, ring);
        console.log(`${r.deleted.length} expired object(s) deleted${r.kept.length ? `, ${r.kept.length} kept by a subject hold` : ''}`);
        return 0;
      }
      if (sub === 'verify') {
        const recs = object ? [await objectRecord(db, object)]
          : (await db.query(`select * from retention.archive_objects where status = 'verified' order by object_id`)).rows as ObjectRecord[];
        let bad = 0;
        for (const rec of recs) {
          try {
            const rows = await readObject(rec, setup.target, ring);
            await db.query(`select retention.archive_object_checked($1, true, $2)`, [rec.object_id, `${rows.length} rows`]);
            console.log(`ok   ${rec.object_key} (${rows.length} rows)`);
          } catch (err) {
            bad++;
            await db.query(`select retention.archive_object_checked($1, false, $2)`, [rec.object_id, (err as Error).message]);
            console.log(`BAD  ${rec.object_key}: ${(err as Error).message}`);
          }
        }
        console.log(`${recs.length - bad} of ${recs.length} object(s) verified`);
        return bad ? 1 : 0;
      }
      const rec = await objectRecord(db, object!);
      const rows = await readObject(rec, setup.target, ring);
      if (sub === 'restore') {
        const counts = await restore(db, rows, values.live ? { objects: [rec.object_id], live: true, despiteErasures: values['despite-erasures'] === true }
                                                           : { objects: [rec.object_id], into });
        for (const [t, n] of Object.entries(counts)) console.log(`${n} row(s) of ${t} restored ${values.live ? 'into the live table' : `into ${into}`}`);
        return 0;
      }
      // Audited before a file is written (archive.exported), with the erasures that reached
      // the object's tables since its rows were archived: the files may hold those people.
      // The directory and the files' names are checked first (no record for an export
      // that could not be written: round atk147 F1).
      const out = str(values.out) ?? '.';
      const files = exportFiles(rows, format as 'jsonl' | 'csv', out, `archive-${rec.object_id}`);
      await prepareExport(files, out);
      const since = (await db.query<{ r: string[] | null }>(`select retention.archive_exporting($1, $2) as r`, [rec.object_id, format])).rows[0]!.r;
      if (since) console.error(`warning: erasure request(s) ${since.join(', ')} reached tables of ${rec.object_key} after its rows were archived: the files may hold people since erased`);
      for (const f of files) {
        await writeNew(f.file, f.text);
        console.log(`wrote ${f.file}`);
      }
      return 0;
    } finally {
      await db.end();
    }
  },
};
