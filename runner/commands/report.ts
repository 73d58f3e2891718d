// pg-retention report: the compliance report of a month (or any period up to a year) as
// Markdown, HTML, JSON or CSV (runner/report.ts renders retention.compliance_report).
import { constants } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { FORMATS, type Format, render, type Report } from '../report.ts';
import { type Command, str, instant } from './types.ts';

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The period [from, to) of --month YYYY-MM (UTC), or of --from/--to. */
export function period(values: Record<string, string | boolean | undefined>, now = new Date()): { from: string; to: string; month: string | null } {
  const m = str(values.month);
  const from = instant(values, 'from'), to = instant(values, 'to');
  if (m !== undefined && (from !== undefined || to !== undefined)) {
    throw new UsageError('give --month or --from/--to, not both', 'pg-retention report --month 2026-11');
  }
  if (from !== undefined || to !== undefined) {
    if (from === undefined || to === undefined) throw new UsageError('--from and --to go together', "pg-retention report --from '2026-11-01Z' --to '2026-12-01Z'");
    return { from, to, month: null };
  }
  let year: number, mon: number;
  if (m === undefined) {
    // Last month: the one a stored report covers.
    year = now.getUTCMonth() === 0 ? now.getUTCFullYear() - 1 : now.getUTCFullYear();
    mon = now.getUTCMonth() === 0 ? 12 : now.getUTCMonth();
  } else {
    const x = MONTH.exec(m);
    if (!x || Number(x[1]) < 1970) throw new UsageError(`--month takes YYYY-MM from 1970 on, got ${JSON.stringify(m)}`, 'pg-retention report --month 2026-11');
    year = Number(x[1]);
    mon = Number(x[2]);
  }
  const start = new Date(Date.UTC(year, mon - 1, 1));
  // A month not begun has nothing to report: its zeros would read as a month without
  // deletions (round atk97 F10a).
  if (start > now) throw new UsageError(`--month ${start.toISOString().slice(0, 7)} has not begun`, 'pg-retention report --month 2026-11 (a month that has begun; the current one reports so far)');
  const end = new Date(Date.UTC(year, mon, 1));
  return { from: start.toISOString(), to: end.toISOString(), month: start.toISOString().slice(0, 7) };
}

/** --out names a file that can be written: not empty, not a directory, in a directory that
 * exists and may be written. */
async function checkOutFile(out: string): Promise<void> {
  const hint = 'give --out a file in a directory that exists, e.g. --out report-2026-11.md';
  if (out.trim() === '') throw new UsageError('--out is empty', hint);
  const st = await stat(out).catch(() => null);
  if (st?.isDirectory()) throw new UsageError(`${out} is a directory`, hint);
  try {
    await access(path.dirname(path.resolve(out)), constants.W_OK);
  } catch (err) {
    throw new UsageError(`cannot write ${out}: ${(err as Error).message}`, hint);
  }
}

function formatOf(values: Record<string, string | boolean | undefined>): Format {
  const f = str(values.format);
  const out = str(values.out);
  if (f === undefined) {
    const ext = out && /\.(md|html|json|csv)$/i.exec(out)?.[1]?.toLowerCase();
    return (ext as Format | undefined) ?? 'md';
  }
  if (!FORMATS.includes(f as Format)) throw new UsageError(`--format takes ${FORMATS.join(', ')}, got ${JSON.stringify(f)}`, 'pg-retention report --format html --out report.html');
  return f as Format;
}

export const report: Command = {
  name: 'report',
  arity: { '*': 0 },
  summary: 'the compliance report of a month: deletions, holds, erasures, approvals, failures',
  usage: 'pg-retention report [--month YYYY-MM | --from TS --to TS] [--format md|html|json|csv] [--out FILE] [--store] [--fresh]',
  help: `The compliance report of a calendar month in UTC (default: last month), or of the period
[--from, --to) (at most a year): per policy the rows deleted, soft-deleted, scrubbed,
archived and held back with the policy versions in force; inactive accounts flagged and
acted on; erasure requests received, completed on time, overdue; legal holds placed,
released and active; approvals; runs that failed, were refused or interrupted; failed
rows; cold storage, file and backup deletions; the audit chain's head and newest signed
checkpoint. Counts, ids and hashes only: no personal data.

A month the worker (or --store) has stored is shown as stored, with its sha256, unless
--fresh asks for it to be computed again. The worker stores last month's report on the
first of each month and notifies report_ready.

  --format   md (default, or from --out's extension), html (one self-contained file with
             charts, printable), json (as retention.compliance_report returns it), csv (one
             row per figure: section, subject, figure, value)
  --out      write to FILE instead of standard output
  --store    store the month's report in the database (once; the month must have ended)
  --fresh    compute the report now even if the month is stored

Examples:
  pg-retention report
  pg-retention report --month 2026-11 --format html --out report-2026-11.html
  pg-retention report --from '2026-10-01Z' --to '2027-01-01Z' --format csv`,
  options: {
    month: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    store: { type: 'boolean' },
    fresh: { type: 'boolean' },
  },
  run: async (values, positionals) => {
    if (positionals.length) throw new UsageError(`report takes no arguments, got ${JSON.stringify(positionals.join(' '))}`, 'pg-retention report --month 2026-11');
    const format = formatOf(values);
    const p = period(values);
    if (values.store && !p.month) throw new UsageError('--store stores a calendar month', 'pg-retention report --month 2026-11 --store');
    if (values.store && values.fresh) throw new UsageError('--store and --fresh go separately: a stored report does not change', 'pg-retention report --month 2026-11 --store');
    // --out checked before anything is stored: a report stored (once, audited, announced)
    // and then not written was a usage error after the fact (round atk159 F1).
    const out = str(values.out);
    if (out !== undefined) await checkOutFile(out);
    const db = await connect(str(values['database-url']));
    let rep: Report;
    try {
      if (values.store) {
        const { rows: [s] } = await db.query<{ report_id: string; sha256: string; stored: boolean }>(
          'select * from retention.store_compliance_report($1::date)', [`${p.month}-01`]);
        console.error(s!.stored ? `stored report ${s!.report_id} for ${p.month} (sha256 ${s!.sha256})`
          : `report ${s!.report_id} for ${p.month} was already stored (sha256 ${s!.sha256})`);
      }
      const stored = values.fresh ? undefined : (await db.query<{ report_id: string; sha256: string; storage_key: string | null; report: Report }>(
        `select report_id, sha256, storage_key, report from retention.compliance_reports
          where period_from = $1::timestamptz and period_to = $2::timestamptz`, [p.from, p.to])).rows[0];
      if (stored) {
        rep = { ...stored.report, stored: { report_id: Number(stored.report_id), sha256: stored.sha256, storage_key: stored.storage_key } };
      } else {
        rep = (await db.query<{ r: Report }>('select retention.compliance_report($1::timestamptz, $2::timestamptz) as r', [p.from, p.to])).rows[0]!.r;
      }
    } finally {
      await db.end();
    }
    const text = render(rep, format);
    if (out) {
      await writeFile(out, text);
      console.error(`wrote ${out}`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  },
};
