// Once per test run: a PostgreSQL server and a template database migrated once.
// Each test file then works in its own clone (see db.ts).
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../runner/config.ts';
import { installJobSchema, migrate } from '../../runner/migrate.ts';
import { startTestServer } from './server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  const server = await startTestServer();
  const templateDb = `retention_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  const version = await admin.query<{ server_version: string }>('show server_version');
  console.log(`[tests] PostgreSQL ${version.rows[0]?.server_version} from ${server.kind}`);
  await admin.query(`drop database if exists ${templateDb}`);
  await admin.query(`create database ${templateDb}`);
  await admin.end();
  // As `pg-retention migrate` does: the schema, then the worker's job schema (a worker
  // started by a test finds it; the worker installs nothing itself).
  await migrate(withDatabase(server.adminUrl, templateDb));
  await installJobSchema(withDatabase(server.adminUrl, templateDb), loadConfig({ DATABASE_URL: withDatabase(server.adminUrl, templateDb) }));
  project.provide('adminUrl', server.adminUrl);
  project.provide('templateDb', templateDb);
  return async () => {
    const c = new pg.Client({ connectionString: server.adminUrl });
    await c.connect();
    await c.query(`select pg_terminate_backend(pid) from pg_stat_activity
                    where datname like $1 and pid <> pg_backend_pid()`, [`retention_%_${process.pid}%`]);
    await c.query(`drop database if exists ${templateDb}`);
    await c.end();
    await server.stop();
  };
}
