#!/usr/bin/env node
// pg-retention command line. Thin: parse, call one routine, report.
import { parseArgs } from 'node:util';
import { migrate } from './migrate.ts';

const HELP = `pg-retention — database-native data retention for PostgreSQL

Usage: pg-retention <command> [options]

Commands:
  migrate     apply migrations/ and re-apply sql/ to the database

Connection: --database-url URL, else DATABASE_URL, else the libpq PG* variables.
Run 'pg-retention <command> --help' for a command's options.`;

const MIGRATE_HELP = `pg-retention migrate — install or upgrade the retention schema

Applies the append-only migrations in migrations/, then re-applies every routine and
view in sql/. Idempotent; two at once are safe (the second waits, then finds nothing to
do). Refuses when the database holds a newer schema than this version.

Options:
  --database-url URL   connection string (default: DATABASE_URL, then PG* variables)
  -h, --help           this help

Example:
  DATABASE_URL=postgres://admin@db/app pg-retention migrate`;

function databaseUrl(flag: string | undefined): string {
  const url = flag ?? process.env.DATABASE_URL;
  if (url) return url;
  const host = process.env.PGHOST ?? 'localhost';
  const port = process.env.PGPORT ?? '5432';
  const user = encodeURIComponent(process.env.PGUSER ?? process.env.USER ?? 'postgres');
  const db = encodeURIComponent(process.env.PGDATABASE ?? process.env.PGUSER ?? 'postgres');
  return `postgres://${user}@${host}:${port}/${db}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    console.log(HELP);
    return command ? 0 : 2;
  }
  if (command === 'migrate') {
    const { values } = parseArgs({
      args: rest,
      options: { 'database-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(MIGRATE_HELP);
      return 0;
    }
    const res = await migrate(databaseUrl(values['database-url']), (l) => console.log(l));
    console.log(
      res.applied.length === 0
        ? `schema up to date; ${res.routines} routine files re-applied`
        : `applied ${res.applied.length} migration(s); ${res.routines} routine files re-applied`,
    );
    return 0;
  }
  console.error(`pg-retention: unknown command '${command}'\nhint: pg-retention --help lists the commands`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as Error;
    console.error(`pg-retention: ${e.message}`);
    if (process.env.PG_RETENTION_VERBOSE) console.error(e.cause ?? e.stack);
    process.exit(1);
  },
);
