// Connections for the CLI: URL from --database-url, DATABASE_URL, or the libpq PG*
// variables (which pg reads itself); the actor recorded in the ledger and audit log.
import os from 'node:os';
import pg from 'pg';
import { UsageError } from './errors.ts';

/** Every connection pg-retention opens resolves names in pg_catalog first and in no schema
 * another login can create objects in. Otherwise an operator or function planted in a
 * schema on the role's own search_path (`public` on databases made before PostgreSQL 15)
 * captures the catalog queries of node-pg-migrate, pg-boss or a command: a `public.=` for
 * `information_schema.sql_identifier` runs as whoever migrates (atk57 F2). Our own SQL
 * qualifies every retention name, so it needs nothing else on the path. */
export const PINNED_SEARCH_PATH = 'pg_catalog, pg_temp';
// Zone names read as zones, not as the abbreviations of a set a database or role setting
// chose (round atk98 F1): what the SQL routines refuse in any other set. Dates and
// intervals written as pg reads them back (ISO, postgres), whatever style a database or
// role setting chose: `SQL, DMY` output read as ISO would give the runner other times, and
// a time's text the CLI passes on is ISO 8601 with its offset (commands/types.ts instant).
const PIN = '-c search_path=pg_catalog,pg_temp -c timezone_abbreviations=Default -c datestyle=ISO,MDY -c intervalstyle=postgres';

/** The config with the search path pinned in the startup packet, after any options the
 * operator gave (PGOPTIONS, or `options=` in the URL, which pg would otherwise let win). */
export function pinned<T extends pg.ClientConfig>(config: T): T {
  let operator = config.options ?? process.env.PGOPTIONS ?? '';
  let connectionString = config.connectionString;
  // The query of a postgres:// URL read as pg reads it, whatever WHATWG's URL makes of the
  // rest: `postgres://user@/db?host=/socket&options=...` has no host for URL(), and its
  // options replaced the pins (round atk156 F1).
  const q = connectionString && /^postgres(ql)?:\/\//i.test(connectionString) ? connectionString.indexOf('?') : -1;
  if (connectionString && q >= 0) {
    const params = new URLSearchParams(connectionString.slice(q + 1));
    const fromUrl = params.getAll('options');
    if (fromUrl.length > 0) {
      operator = [operator, ...fromUrl].join(' ').trim();
      params.delete('options');
      const rest = params.toString();
      connectionString = connectionString.slice(0, q) + (rest ? `?${rest}` : '');
    }
  }
  return { ...config, connectionString, options: `${operator} ${PIN}`.trim() };
}

export function connectionConfig(flag: string | undefined): pg.ClientConfig {
  const url = flag ?? process.env.DATABASE_URL;
  // Neither a URL nor libpq's key=value form: pg would read it as a host name and answer
  // with the resolver's error ('getaddrinfo ENOTFOUND base'; round atk97 F10c).
  if (url && !/^postgres(ql)?:\/\//i.test(url) && !url.includes('=') && !url.startsWith('/')) {
    throw new UsageError(`${flag !== undefined ? '--database-url' : 'DATABASE_URL'} ${JSON.stringify(url)} is not a PostgreSQL connection URL`,
      'give postgres://USER@HOST:PORT/DATABASE (or leave it out and set PGHOST, PGUSER, PGDATABASE)');
  }
  return pinned(url ? { connectionString: url } : {}); // no URL: pg uses PGHOST, PGUSER, ...
}

export function actor(): string {
  return process.env.PG_RETENTION_ACTOR ?? `${os.userInfo().username}@${os.hostname()} (cli)`;
}

export async function connect(flag: string | undefined): Promise<pg.Client> {
  const client = new pg.Client({ ...connectionConfig(flag), application_name: 'pg-retention' });
  // A connection that breaks fails the query in flight (which the command reports); an
  // 'error' event without a listener would end the process before it can clean up.
  client.on('error', () => {});
  await client.connect();
  await client.query(`select pg_catalog.set_config('search_path', $2, false), pg_catalog.set_config('retention.actor', $1, false)`,
    [actor(), PINNED_SEARCH_PATH]);
  return client;
}
