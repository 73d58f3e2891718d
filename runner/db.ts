// Connections for the CLI: URL from --database-url, DATABASE_URL, or the libpq PG*
// variables (which pg reads itself); the actor recorded in the ledger and audit log.
import os from 'node:os';
import pg from 'pg';

export function connectionConfig(flag: string | undefined): pg.ClientConfig {
  const url = flag ?? process.env.DATABASE_URL;
  return url ? { connectionString: url } : {}; // empty: pg uses PGHOST, PGUSER, ...
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
  await client.query(`select set_config('retention.actor', $1, false)`, [actor()]);
  return client;
}
