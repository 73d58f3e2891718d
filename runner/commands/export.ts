// pg-retention export <subject-table> <subject-id>: a person's data (GDPR Art. 15 access,
// Art. 20 portability) through retention.export_subject — every row an erasure of them
// would touch, grouped by table — as one JSON document, or as CSV files (one per table)
// with a manifest.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { csvCell } from '../archive/archive.ts';
import { ARCHIVE_ENV, archiveSetup, requireRing } from '../archive/config.ts';
import { open as openSealed, seal } from '../archive/envelope.ts';
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { StorageError } from '../archive/storage.ts';
import { writeNew } from '../new-file.ts';
import { type Command, str } from './types.ts';

interface TableCells {
  table: string;
  rule: string;
  reason: string | null;
  row_count: number;
  columns: string[];
  cells: (string | null)[][];
}

// The document export_subject returns, taken apart in SQL: each row's values as the text
// json_each_text gives (a number with every digit, a json column's value as written),
// columns in table order. One statement, so the export (and its audit entry) happens once.
const CELLS = `
  with d as (select retention.export_subject($1, $2) as doc)
  select d.doc ->> 'subject_table' as subject_table, d.doc ->> 'exported_at' as exported_at,
         coalesce((select json_agg(json_build_object(
                    'table', e ->> 'table', 'rule', e ->> 'rule', 'reason', e ->> 'reason',
                    'row_count', (e ->> 'row_count')::bigint,
                    'columns', coalesce((select json_agg(k) from json_each(e -> 'rows' -> 0) x(k, v)), '[]'::json),
                    'cells', coalesce((select json_agg((select json_agg(v) from json_each_text(r) x(k, v)))
                                         from json_array_elements(e -> 'rows') r), '[]'::json)) order by o)
                     from json_array_elements(d.doc -> 'tables') with ordinality t(e, o)), '[]'::json) as tables
    from d`;

/** A table's name as a safe file name (it may hold anything, "/../" included). */
const fileName = (table: string) => table.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');

/** --out: a new or empty directory, made readable by its owner only; anything else is a
 * usage error that names it (a file there gave Node's EEXIST: round atk152 F2). */
async function emptyDir(out: string): Promise<string | undefined> {
  let made: string | undefined;
  try {
    made = await mkdir(out, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'EEXIST' || code === 'ENOTDIR' ? `${out} is a file, not a directory` : `cannot make the directory ${out}: ${(err as Error).message}`,
      'give --out an empty or new directory');
  }
  if ((await readdir(out)).length > 0) throw new UsageError(`${out} is not empty`, 'give --out an empty or new directory');
  return made;
}

/** Runs fn; if it fails, removes the directories emptyDir made (and what fn wrote there):
 * a refused export left them behind (round atk159 F6), a failed one part of a person's data. */
async function inMade<T>(made: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (made) await rm(made, { recursive: true, force: true });
    throw err;
  }
}

export const exportSubject: Command = {
  name: 'export',
  arity: { '*': 2 },
  summary: "a person's data: every row about them, as JSON or CSV (GDPR Art. 15, 20)",
  usage: `pg-retention export <subject-table> <subject-id> [--format json|csv] [--out DIR | --to-storage]
       pg-retention export --open OBJECT [--out DIR]`,
  help: `Exports every row about the person whose row in <subject-table> has primary key
<subject-id>: the rows an erasure of them would touch, found the same way (foreign keys
from their row, subject columns without one), grouped by table with the rule an erasure
would apply (delete, scrub, keep with its legal reason). The login must be able to read
every one of those tables. The export is audit-logged by the person's token, never their
key or data.

--format json (the default) writes one document: to standard output, or to
DIR/subject-export.json with --out. --format csv needs --out: a file per table
(DIR/<schema.table>.csv, columns in table order, each value as its text: numbers with
every digit, json values as written) and DIR/manifest.json (the tables, their rule and
row count, the files). --out must be a new or empty directory; the files are readable by
their owner only. Cells are written as they are (a value starting with = stays so: open
the files in a spreadsheet with care).

--to-storage writes the JSON document, gzip-compressed and sealed like archive objects
(AES-256-GCM under a data key wrapped by PG_RETENTION_ARCHIVE_KEYS' current key), to the
storage target PG_RETENTION_STORAGE as exports/<date>/<random id>.json.gz.sealed (no
personal data in the name), reads it back and checks it, and prints its key and sha256.
--open OBJECT reads such an object back (any configured key opens it) and writes the
document to standard output or DIR/subject-export.json.

${ARCHIVE_ENV}

Examples:
  pg-retention export auth.users 7 > user-7.json
  pg-retention export auth.users 7 --format csv --out /tmp/user-7
  pg-retention export auth.users 7 --to-storage
  pg-retention export --open exports/2026-12-01/5f0c….json.gz.sealed --out /tmp/user-7`,
  options: { format: { type: 'string' }, out: { type: 'string' }, 'to-storage': { type: 'boolean' }, open: { type: 'string' } },
  run: async (values, [table, id, ...rest]) => {
    const openKey = str(values.open);
    if (openKey !== undefined) {
      if (table || values['to-storage'] || (values.format && values.format !== 'json')) {
        throw new UsageError('--open takes no table, id, --format csv or --to-storage', 'pg-retention export --open OBJECT [--out DIR]');
      }
      const setup = archiveSetup();
      const sealed = await setup.target.get(openKey).catch((err: unknown) => {
        // A key that names nothing there is the caller's mistake (a store that fails is not).
        if (err instanceof StorageError && /is not in/.test(err.message)) {
          throw new UsageError(err.message, 'give the key export --to-storage printed (exports/<date>/<id>.json.gz.sealed), in the storage target it was written to (PG_RETENTION_STORAGE)');
        }
        throw err;
      });
      const doc = gunzipSync(openSealed(sealed, requireRing(setup))).toString('utf8');
      const out = str(values.out);
      if (!out) {
        console.log(doc);
        return 0;
      }
      await inMade(await emptyDir(out), () => writeNew(path.join(out, 'subject-export.json'), doc + '\n'));
      console.log(`wrote ${path.join(out, 'subject-export.json')}`);
      return 0;
    }
    if (values['to-storage'] && (str(values.out) || (values.format && values.format !== 'json'))) {
      throw new UsageError('--to-storage writes the JSON document to the storage target: no --out, no --format csv', 'pg-retention export auth.users 7 --to-storage');
    }
    if (!table || !id || rest.length > 0) {
      throw new UsageError('export needs the subject table and id', 'pg-retention export auth.users 7 [--format json|csv] [--out DIR]');
    }
    const format = str(values.format) ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new UsageError(`unknown format '${format}'`, 'use --format json or --format csv');
    const out = str(values.out);
    if (format === 'csv' && !out) throw new UsageError('CSV export writes a file per table: give --out DIR', 'pg-retention export auth.users 7 --format csv --out /tmp/user-7');
    // The storage target and keys first: a configuration error exports nothing.
    const storage = values['to-storage'] ? archiveSetup() : null;
    const ring = storage ? requireRing(storage) : null;
    // A new or empty directory: an export never writes through files or links already
    // there (another user could have laid them out), and leaves no mix with older files.
    const made = out ? await emptyDir(out) : undefined;
    return inMade(made, async () => {
      const db = await connect(str(values['database-url']));
      try {
        if (storage) {
          const text = (await db.query('select retention.export_subject($1, $2)::text as doc', [table, id])).rows[0].doc as string;
          const { sealed } = seal(gzipSync(Buffer.from(text)), ring!);
          const key = `exports/${new Date().toISOString().slice(0, 10)}/${randomUUID()}.json.gz.sealed`;
          await storage.target.put(key, sealed);
          // Read back and opened before it counts as written.
          const back = await storage.target.get(key);
          if (!back.equals(sealed) || gunzipSync(openSealed(back, ring!)).toString('utf8') !== text) {
            throw new Error(`the export written to ${storage.target.url} as ${key} did not read back the same`);
          }
          console.log(`wrote ${key} to ${storage.target.url} (sha256 ${createHash('sha256').update(sealed).digest('hex')}, key id ${ring!.current})`);
          return 0;
        }
        if (format === 'json') {
          const text = (await db.query('select retention.export_subject($1, $2)::text as doc', [table, id])).rows[0].doc as string;
          if (!out) {
            console.log(text);
            return 0;
          }
          const f = path.join(out, 'subject-export.json');
          await writeNew(f, text + '\n');
          console.log(`wrote ${f}`);
          return 0;
        }
        const [doc] = (await db.query(CELLS, [table, id])).rows as [{ subject_table: string; exported_at: string; tables: TableCells[] }];
        const files: { table: string; rule: string; reason: string | null; row_count: number; file: string }[] = [];
        const used = new Set<string>();
        for (const t of doc.tables) {
          // Two names made safe alike ("a b" and "a_b") get their own files.
          let name = fileName(t.table);
          for (let i = 2; used.has(name); i++) name = `${fileName(t.table)}-${i}`;
          used.add(name);
          const f = path.join(out!, `${name}.csv`);
          await writeNew(f, [t.columns.map(csvCell).join(','), ...t.cells.map((r) => r.map(csvCell).join(','))].join('\n') + '\n');
          files.push({ table: t.table, rule: t.rule, reason: t.reason, row_count: Number(t.row_count), file: path.basename(f) });
        }
        const manifest = path.join(out!, 'manifest.json');
        await writeNew(manifest, JSON.stringify({ subject_table: doc.subject_table, exported_at: doc.exported_at, tables: files }, null, 2) + '\n');
        console.log(`wrote ${files.length} CSV file(s) and ${manifest}`);
        return 0;
      } finally {
        await db.end();
      }
    });
  },
};
