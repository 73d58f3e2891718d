// Files deleted with their rows: the worker drains retention.object_deletions (the object
// outbox that batches fill through the triggers of object columns, sql/102). For each
// claimed entry it deletes the object from the named storage target and reports back; the
// database settles, retries with backoff or dead-letters it (object_deletion_done). An
// entry whose object a remaining row still references never reaches this code: the claim
// settles it as kept.
import type pg from 'pg';
import { ConfigError, namedPairs } from './config.ts';
import { StorageError, storageTarget, type StorageTarget } from './archive/storage.ts';

export const OBJECT_ENV = `Object deletion (files deleted with their rows; the worker and pg-retention objects):
  PG_RETENTION_OBJECT_TARGETS   storage targets by name, "recordings=file:///var/rec,uploads=s3://bucket/prefix"
                                (the names set_object_column uses; S3 endpoint and region as for archives)
  PG_RETENTION_OBJECT_ATTEMPTS  attempts before an object deletion is dead and notified (default 8)`;

export interface ObjectSetup { targets: Map<string, StorageTarget>; maxAttempts: number }

/** The named object targets and the attempt limit from the environment. */
export function objectSetup(env: NodeJS.ProcessEnv = process.env): ObjectSetup {
  const problems: string[] = [];
  const targets = new Map<string, StorageTarget>();
  const named = namedPairs('PG_RETENTION_OBJECT_TARGETS', env.PG_RETENTION_OBJECT_TARGETS, 'name=url');
  problems.push(...named.problems);
  for (const [name, url] of named.pairs) {
    try {
      targets.set(name, storageTarget(url, { s3Endpoint: env.PG_RETENTION_S3_ENDPOINT || undefined, s3Region: env.PG_RETENTION_S3_REGION || undefined }));
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      problems.push(`PG_RETENTION_OBJECT_TARGETS: ${name}: ${err.message}`);
    }
  }
  const raw = env.PG_RETENTION_OBJECT_ATTEMPTS;
  const maxAttempts = raw === undefined || raw === '' ? 8 : Number(raw);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    problems.push(`PG_RETENTION_OBJECT_ATTEMPTS: expected a whole number from 1 to 100, got ${JSON.stringify(raw)}`);
  }
  if (problems.length) throw new ConfigError(problems);
  return { targets, maxAttempts };
}

export interface DrainResult { deleted: number; failed: number; dead: number; kept: number }

/** Claims and deletes due objects of the configured targets until none is due (or limit
 * entries were claimed). Each object's outcome is reported as soon as it is known. */
export async function drainObjects(db: pg.Pool | pg.Client, setup: ObjectSetup,
                                   opts: { limit?: number; batch?: number; concurrency?: number } = {}): Promise<DrainResult> {
  const r: DrainResult = { deleted: 0, failed: 0, dead: 0, kept: 0 };
  const names = [...setup.targets.keys()];
  if (names.length === 0) return r;
  const limit = opts.limit ?? 100_000;
  const batch = Math.min(opts.batch ?? 100, limit);
  let claimed = 0;
  while (claimed < limit) {
    const all = (await db.query(`select deletion_id, target, object_key, kept from retention.claim_object_deletions($1, $2)`,
                                [names, Math.min(batch, limit - claimed)])).rows as { deletion_id: string; target: string; object_key: string; kept: boolean }[];
    if (all.length === 0) break;
    claimed += all.length;
    const rows = all.filter((x) => !x.kept);
    r.kept += all.length - rows.length;
    // The store's deletions side by side; the outcomes reported one by one on the one
    // connection. A crash in between leaves the claims to expire and be retried (deleting
    // an object twice is harmless).
    const errors = new Map<string, string | null>();
    await inParallel(rows, opts.concurrency ?? 8, async (row) => {
      try {
        await setup.targets.get(row.target)!.delete(row.object_key);
        errors.set(row.deletion_id, null);
      } catch (err) {
        errors.set(row.deletion_id, withoutKey((err as Error).message || String(err), row.object_key));
      }
    });
    for (const row of rows) {
      const outcome = (await db.query(`select retention.object_deletion_done($1, $2, $3) as o`,
                                      [row.deletion_id, errors.get(row.deletion_id), setup.maxAttempts])).rows[0].o as string;
      if (outcome === 'deleted') r.deleted += 1;
      else if (outcome === 'dead') r.dead += 1;
      else r.failed += 1;
    }
  }
  return r;
}

async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

/** A store's error without the object's key in any form a store quotes it (as given, URI-
 * or path-encoded): the key may name a person (a path of their upload), and the error is
 * kept in the outbox and notified. */
export function withoutKey(message: string, key: string): string {
  let m = message;
  for (const form of new Set([key, encodeURIComponent(key), encodeURI(key), key.split('/').map(encodeURIComponent).join('/')])) {
    if (form) m = m.split(form).join('<key>');
  }
  return m;
}
