import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Files that test the runner's own TypeScript (the command line, the policy file, the
// worker's scheduling and delivery, backup pruning over listings, the docs' commands, the
// build, the deploy files, the browser report). What they ask of PostgreSQL the other
// files test on every server version, so CI's second leg (PostgreSQL 15, after the
// embedded 18) leaves them out: RETENTION_TEST_SERVER_ONLY=1. `make test` runs them all.
const runnerSide = [
  'test/worker.test.ts', 'test/policy-file.test.ts', 'test/backup-pruning.test.ts', 'test/cli.test.ts',
  'test/docs-operator.test.ts', 'test/compliance-report.test.ts', 'test/notifications.test.ts',
  'test/build.test.ts', 'test/deploy.test.ts', 'test/demo-port.test.ts', 'test/exit-code.test.ts', 'test/config.test.ts',
];

// Files whose subject is the same on every server version, which the second leg leaves out
// too: the hold race (the engine's locks and snapshots; 4 x 150 trials on the first leg),
// the upgrade from earlier releases (its SQL ran on both versions when it landed), and the
// server-wide time zones (a server of its own, embedded PostgreSQL 18 on either leg).
const versionFree = ['test/adversarial/hold-race.test.ts', 'test/upgrade.test.ts', 'test/server-zones.test.ts'];

// The attack files (test/adversarial) test the engine's own logic: holds, evidence,
// personal data, archives, erasures. The second leg runs those whose outcome can differ on
// PostgreSQL 15 — roles and privileges (membership rules changed in 16), time (the
// server's zone data), locale, locks, faults, predicates (the grammar), statistics (pg_stats;
// clearing them differs before 18), the owner's and the evidence a login without
// pg_read_all_stats sees — and the attack files by theme on holds and evidence (the tool's
// first promises), and leaves out the others, which run on the first leg. What else
// PostgreSQL 15 could do otherwise is checked there by test/plpgsql-check.test.ts (every
// PL/pgSQL routine's statements against 15's catalog) and by the engine's own files.
const versionSensitive = /\/(privileges-|time|owner-|migrate-as-owner|locale-|locks|faults|predicates|erasure-atk134|erasure-atk141|planner-code-atk73|evidence-atk84|holds\.|holds-everywhere|hold-new-rows|hold-reach|holds-schema-changes|evidence\.)/;
const engineLogic = readdirSync('test/adversarial')
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/adversarial/${f}`)
  .filter((f) => !versionSensitive.test(f));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: process.env.RETENTION_TEST_SERVER_ONLY === '1' ? [...runnerSide, ...versionFree, ...engineLogic] : [],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: true,
    // Two on this 2-core machine; CI's second leg runs three, as its pg_cron test mostly
    // waits for the next minute (RETENTION_TEST_WORKERS).
    maxWorkers: Number(process.env.RETENTION_TEST_WORKERS ?? 2),
  },
});
