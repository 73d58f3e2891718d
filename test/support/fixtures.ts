import type { TestDb } from './db.ts';

/** An application table with n rows whose created_at ages are spread over `days` days
 * before as_of (row i is i*days/n days old), a user_id cycling 1..10, and a status. */
export async function makeEvents(db: TestDb, table: string, n: number, days = 100): Promise<void> {
  await db.q(`create schema if not exists app`);
  await db.q(`drop table if exists ${table} cascade`);
  await db.q(`create table ${table} (
      id bigint generated always as identity primary key,
      user_id bigint,
      status text not null default 'processed',
      created_at timestamptz not null,
      deleted_at timestamptz,
      payload text)`);
  await db.q(`create index on ${table} (created_at)`);
  await db.q(
    `insert into ${table} (user_id, status, created_at, payload)
     select 1 + i % 10, case when i % 4 = 0 then 'failed' else 'processed' end,
            timestamptz '2026-01-01 00:00Z' - make_interval(secs => (i::float8 * $2 / $1) * 86400),
            md5(i::text)
       from generate_series(1, $1) i`,
    [n, days],
  );
}

export const AS_OF = '2026-01-01 00:00Z';

export async function count(db: TestDb, sql: string, values?: unknown[]): Promise<number> {
  const rows = await db.q<{ n: string }>(`select count(*) as n from ${sql}`, values);
  return Number(rows[0]?.n);
}

/** Makes every row a statement deletes, updates or both on `table` cost about `ms`
 * milliseconds (a row trigger that sleeps), so a run takes long enough to act on mid-way. */
export async function slowRows(db: TestDb, table: string, ms: number): Promise<void> {
  await db.q(`create schema if not exists app`);
  await db.q(`create or replace function app.slow_row() returns trigger language plpgsql as $$
                begin perform pg_sleep(tg_argv[0]::float8 / 1000); return coalesce(new, old); end $$`);
  await db.q(`create trigger slow_row before delete or update on ${table} for each row execute function app.slow_row('${ms}')`);
}

/** Polls `check` until it holds (fails the test after `ms`). */
export async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
