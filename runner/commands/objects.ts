// pg-retention objects columns | list | drain | retry: files deleted with their rows
// (docs/operator-guide.md, Objects of removed rows).
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { drainObjects, OBJECT_ENV, objectSetup } from '../objects.ts';
import { type Command, output, str } from './types.ts';

const STATUSES = ['pending', 'deleted', 'kept', 'dead'];

export const objects: Command = {
  name: 'objects',
  arity: { columns: 1, list: 1, drain: 1, retry: Infinity },
  summary: 'objects of removed rows (files in a storage target): columns, list, drain, retry',
  usage: `pg-retention objects columns [--json]
       pg-retention objects list [--status pending|deleted|kept|dead] [--limit N] [--json]
       pg-retention objects drain
       pg-retention objects retry [ID...]`,
  help: `A column registered with retention.set_object_column holds references (keys or URLs)
to objects in a named storage target. When a batch of pg-retention deletes a row (a
policy, an erasure, their cascades, a dropped partition) or scrubs the column, the
reference is queued in retention.object_deletions in the same transaction; the worker
deletes the objects, retrying with backoff and giving up (dead, notified as
object_deletion_failed) after PG_RETENTION_OBJECT_ATTEMPTS. An object a remaining row
still references is kept. The application's own deletes queue nothing.

  columns  the registered object columns
  list     queued and settled deletions, newest first (default: pending and dead)
  drain    delete the due objects now (needs retention_archiver)
  retry    queue dead deletions again (all, or the given ids), after fixing the cause

${OBJECT_ENV}

Examples:
  psql -c "SELECT retention.set_object_column('media.recordings', 'storage_key', 'recordings')"
  PG_RETENTION_OBJECT_TARGETS=recordings=/var/lib/app/recordings pg-retention objects drain
  pg-retention objects list --status dead
  pg-retention objects retry 41 42`,
  options: {
    status: { type: 'string' },
    limit: { type: 'string' },
  },
  run: async (values, [sub, ...ids]) => {
    const known = ['columns', 'list', 'drain', 'retry'];
    if (!sub || !known.includes(sub)) throw new UsageError(`unknown objects command '${sub ?? ''}'`, `use objects ${known.join(', ')}`);
    const status = str(values.status);
    if (status !== undefined && !STATUSES.includes(status)) throw new UsageError(`--status takes ${STATUSES.join(', ')}, got ${JSON.stringify(status)}`, 'e.g. --status dead');
    const limit = str(values.limit) === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError(`--limit takes a whole number from 1 to 100000, got ${JSON.stringify(values.limit)}`, 'e.g. --limit 500');
    if (sub !== 'retry' && ids.length) throw new UsageError(`objects ${sub} takes no arguments`, `pg-retention objects ${sub}`);
    if (ids.some((i) => !/^[1-9][0-9]{0,17}$/.test(i))) throw new UsageError(`objects retry takes deletion ids (numbers), got ${ids.join(' ')}`, 'pg-retention objects list --status dead shows them');
    const setup = sub === 'drain' ? objectSetup() : null;
    if (setup && setup.targets.size === 0) throw new UsageError('PG_RETENTION_OBJECT_TARGETS is not set: no storage target to delete from', 'e.g. PG_RETENTION_OBJECT_TARGETS=recordings=/var/lib/app/recordings');
    const db = await connect(str(values['database-url']));
    try {
      if (sub === 'columns') {
        await output(values, (await db.query(`select retention.qualified_name(rel) as "table", column_name as "column", target, url_prefix, reason, updated_at, updated_by
                                                from retention.object_columns order by 1, 2`)).rows);
        return 0;
      }
      if (sub === 'list') {
        const rows = (await db.query(`select deletion_id, status, target, rel_name as "table", column_name as "column", object_key, attempts,
                                             enqueued_at, coalesce(settled_at, next_attempt_at) as "settled/next", last_error, run_id
                                        from retention.object_deletions
                                       where case when $1::text is null then status in ('pending', 'dead') else status = $1 end
                                       order by deletion_id desc limit $2`, [status ?? null, limit])).rows;
        await output(values, rows);
        return 0;
      }
      if (sub === 'retry') {
        const n = (await db.query(`select retention.retry_object_deletions($1::bigint[]) as n`, [ids.length ? ids : null])).rows[0].n as number;
        console.log(`${n} dead object deletion(s) queued again`);
        return 0;
      }
      const r = await drainObjects(db, setup!);
      console.log(`${r.deleted} object(s) deleted, ${r.kept} kept (still referenced), ${r.failed} failed (retried later), ${r.dead} dead`);
      return r.dead > 0 ? 1 : 0;
    } finally {
      await db.end();
    }
  },
};
