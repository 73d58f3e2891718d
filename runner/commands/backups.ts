// pg-retention backups policies | list | prune | plan: base backups kept
// grandfather-father-son (docs/operator-guide.md, Backup pruning).
import { BACKUP_ENV, backupStores, pruneBackups, settleMs } from '../backups.ts';
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { readAtMost } from '../policy-file.ts';
import { type Command, output, str, instant } from './types.ts';

export const backups: Command = {
  name: 'backups',
  arity: { policies: 1, list: 2, prune: 2, plan: 2 },
  summary: 'base backups kept grandfather-father-son: policies, list, prune, plan',
  usage: `pg-retention backups policies [--json]
       pg-retention backups list POLICY [--as-of T] [--json]
       pg-retention backups prune POLICY [--execute] [--as-of T]
       pg-retention backups plan POLICY --listing FILE|- [--as-of T] [--json | --names]`,
  help: `A backup policy (retention.set_backup_policy) keeps the base backups of a store the worker
knows by name: every backup younger than keep_daily (30 days), the last of each week
younger than keep_weekly (90 days), of each month younger than keep_monthly, always the
newest keep_last (1), and every backup a legal hold freezes (scope backups). A store is a
directory or an S3 prefix of pg_basebackup backups, one per directory, each with its
backup_manifest and a time in its name (20261101T020000Z) or its backup_label. The newest
backups count only once finished: no file changed for PG_RETENTION_BACKUP_SETTLE, and in
plain format every file the manifest lists present with its size.

  policies  the backup policies
  list      the store's backups with what the policy does to each and why (nothing changes)
  prune     without --execute the same preview; with it, deletes what the policy lets go,
            each deletion in retention.backup_prunings and the audit log; exit 1 if one failed
  plan      the decision over a listing you give (a JSON array of {"name", "taken_at"}),
            e.g. from pgbackrest info or wal-g backup-list, to drive their own expiry;
            --names prints only the backups to delete, one per line (refused if a
            name has blanks, quotes, backslashes or control characters, or starts with -)

${BACKUP_ENV}

Examples:
  psql -c "SELECT retention.set_backup_policy('main', 'main')"
  PG_RETENTION_BACKUP_STORES=main=/var/lib/pg-backups pg-retention backups list main
  PG_RETENTION_BACKUP_STORES=main=/var/lib/pg-backups pg-retention backups prune main --execute
  wal-g backup-list --json | jq '[.[] | {name: .backup_name, taken_at: .time}]' \\
    | pg-retention backups plan main --listing - --names | xargs -r -n1 wal-g delete target --confirm`,
  options: {
    execute: { type: 'boolean' },
    'as-of': { type: 'string' },
    listing: { type: 'string' },
    names: { type: 'boolean' },
  },
  run: async (values, [sub, policy, ...rest]) => {
    const known = ['policies', 'list', 'prune', 'plan'];
    if (!sub || !known.includes(sub)) throw new UsageError(`unknown backups command '${sub ?? ''}'`, `use backups ${known.join(', ')}`);
    if (sub !== 'policies' && !policy) throw new UsageError(`backups ${sub} needs a backup policy`, 'pg-retention backups policies lists them');
    if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`, `pg-retention backups ${sub} ${policy ?? ''}`.trim());
    if (sub === 'plan' && !str(values.listing)) throw new UsageError('backups plan needs --listing FILE (or - for standard input)', 'a JSON array of {"name", "taken_at"}');
    if (values.execute && sub !== 'prune') throw new UsageError('--execute belongs to backups prune', 'pg-retention backups prune main --execute');
    const asOf = instant(values, 'as-of') ?? null;
    let listing: string | null = null;
    if (sub === 'plan') {
      const file = str(values.listing)!;
      // Read no further than 16 MiB: --listing /dev/zero read half a gigabyte before it
      // failed (round atk168).
      const bytes = file === '-' ? await readStdin(MAX_LISTING + 1) : await readAtMost(file, MAX_LISTING + 1).catch((err: Error) => {
        throw new UsageError(`cannot read ${file}: ${err.message}`, 'give a file with a JSON array of {"name", "taken_at"}, or - for standard input');
      });
      if (bytes.length > MAX_LISTING) {
        throw new UsageError(`the listing is more than ${MAX_LISTING / 1048576} MiB`, 'a JSON array of {"name", "taken_at"}, one entry a backup');
      }
      listing = bytes.toString('utf8');
      try {
        JSON.parse(listing);
      } catch (err) {
        throw new UsageError(`the listing is not JSON: ${(err as Error).message}`, 'a JSON array of {"name", "taken_at"}');
      }
    }
    const stores = sub === 'list' || sub === 'prune' ? backupStores() : null;
    const db = await connect(str(values['database-url']));
    try {
      if (sub === 'policies') {
        await output(values, (await db.query(`select name, store, keep_daily::text, keep_weekly::text, keep_monthly::text, keep_last, enabled, reason
                                                from retention.backup_policies order by name`)).rows);
        return 0;
      }
      if (sub === 'plan') {
        const rows = (await db.query(`select backup_name, taken_at, keep, reason from retention.backup_plan($1, $2, $3)`, [policy, listing, asOf])).rows;
        if (values.names) {
          // One name a line, read by xargs: a name with a blank, a quote or a backslash would
          // be read as other names (one of them a held backup), one starting with - as an
          // option of the tool deleting (round atk159 F8). Refused whole, before any is printed.
          const unsafe = rows.find((r) => !r.keep && (/[\s'"\\\p{Cc}\p{Cf}]/u.test(r.backup_name) || r.backup_name.startsWith('-') || r.backup_name === ''));
          if (unsafe) {
            throw new UsageError(`backup name ${JSON.stringify(unsafe.backup_name)} cannot be printed one per line for xargs (blanks, quotes, backslashes, control characters or a leading -)`,
              'use --json and pass the names to the tool by other means');
          }
          for (const r of rows) if (!r.keep) console.log(r.backup_name);
          return 0;
        }
        await output(values, rows);
        return 0;
      }
      const { rows: [p] } = await db.query(`select store from retention.backup_policies where name = $1`, [policy]);
      if (!p) throw new UsageError(`backup policy ${policy} does not exist`, 'pg-retention backups policies lists them');
      const store = stores!.get(p.store);
      if (!store) throw new UsageError(`backup store ${p.store} is not in PG_RETENTION_BACKUP_STORES`, `e.g. PG_RETENTION_BACKUP_STORES=${p.store}=/var/lib/pg-backups`);
      const execute = sub === 'prune' && Boolean(values.execute);
      const r = await pruneBackups(db, policy!, store, { execute, asOf, settleMs: settleMs() });
      if (!execute) {
        await output(values, r.plan.map((x) => ({ backup: x.backup_name, taken_at: x.taken_at, action: x.keep ? 'keep' : 'prune', reason: x.reason })));
        if (!values.json) {
          for (const i of r.ignored) console.log(`ignored ${i.name}: ${i.why}`);
          if (sub === 'prune') console.log(`${r.plan.filter((x) => !x.keep).length} backup(s) would be pruned; nothing was deleted (add --execute)`);
        }
        return 0;
      }
      for (const n of r.deleted) console.log(`deleted ${n}`);
      for (const f of r.failed) console.log(`FAILED ${f.name}: ${f.error}`);
      for (const c of r.cancelled) console.log(`kept ${c.name}: ${c.reason}`);
      console.log(`${r.deleted.length} backup(s) pruned, ${r.plan.filter((x) => x.keep).length} kept${r.failed.length ? `, ${r.failed.length} failed` : ''}${r.reconciled ? `; ${r.reconciled} unfinished pruning(s) settled` : ''}`);
      return r.failed.length ? 1 : 0;
    } finally {
      await db.end();
    }
  },
};

/** The largest listing read (16 MiB: a listing of years of backups is kilobytes). */
const MAX_LISTING = 16 * 1048576;

/** Standard input, up to max bytes. */
async function readStdin(max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    if (n >= max) break;
  }
  return Buffer.concat(chunks).subarray(0, max);
}
