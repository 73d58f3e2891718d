import { loadConfig } from '../config.ts';
import { installJobSchema, migrate as migrateSchema } from '../migrate.ts';
import { type Command, str } from './types.ts';

export const migrate: Command = {
  name: 'migrate',
  arity: { '*': 0 },
  summary: 'install or upgrade the retention schema',
  usage: 'pg-retention migrate [--database-url URL]',
  help: `Applies the append-only migrations in migrations/, then re-applies every routine and
view in sql/, in one transaction. Idempotent; two at once are safe (the second waits, then
finds nothing to do). Refuses when the database holds a newer schema than this version.
Then installs (or upgrades) the worker's job schema (PG_RETENTION_JOB_SCHEMA, default
retention_jobs) with its run queue and lets retention_runner use it, so the worker needs
nothing but a login in retention_runner. Run it as the schema's owner.

Example:
  DATABASE_URL=postgres://admin@db/app pg-retention migrate`,
  run: async (values) => {
    const url = str(values['database-url']) ?? process.env.DATABASE_URL ?? '';
    // The job schema's configuration is checked before anything is migrated: a setting it
    // refuses after the migrations were in left the job schema behind (round atk156 F2).
    // The URL is migrate's own (any form the other commands take, or the PG* variables:
    // round atk159 F3); its connection checks it.
    const config = loadConfig({ ...process.env, DATABASE_URL: 'postgres://localhost/' });
    const res = await migrateSchema(url, (l) => console.log(l));
    await installJobSchema(url, config, (l) => console.log(l));
    console.log(
      res.applied.length === 0
        ? `schema up to date; ${res.routines} routine files re-applied`
        : `applied ${res.applied.length} migration(s); ${res.routines} routine files re-applied`,
    );
    return 0;
  },
};
