import { connectionConfig } from '../db.ts';
import { migrate as migrateSchema } from '../migrate.ts';
import { type Command, str } from './types.ts';

export const migrate: Command = {
  name: 'migrate',
  summary: 'install or upgrade the retention schema',
  usage: 'pg-retention migrate [--database-url URL]',
  help: `Applies the append-only migrations in migrations/, then re-applies every routine and
view in sql/. Idempotent; two at once are safe (the second waits, then finds nothing to
do). Refuses when the database holds a newer schema than this version.

Example:
  DATABASE_URL=postgres://admin@db/app pg-retention migrate`,
  run: async (values) => {
    const config = connectionConfig(str(values['database-url']));
    const res = await migrateSchema(config.connectionString ?? '', (l) => console.log(l));
    console.log(
      res.applied.length === 0
        ? `schema up to date; ${res.routines} routine files re-applied`
        : `applied ${res.applied.length} migration(s); ${res.routines} routine files re-applied`,
    );
    return 0;
  },
};
