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

// The regression files of single attack rounds (test/adversarial/*-atkNN*.test.ts) each pin
// one finding of the engine's logic: the second leg leaves them out too. What PostgreSQL 15
// could do otherwise is checked there by test/plpgsql-check.test.ts (every PL/pgSQL
// routine's statements against 15's catalog), by the engine's own files and the attack
// files by theme (holds, evidence, locks, faults, personal data), and by the rounds whose
// subject changed between versions, which it keeps: roles and privileges (membership rules
// changed in 16), time (the server's zone data), statistics (pg_stats; clearing them
// differs before 18) and the evidence a login without pg_read_all_stats sees.
const keptRounds = /\/(privileges-|time-|erasure-atk134|erasure-atk141|planner-code-atk73|evidence-atk84)/;
const singleRounds = readdirSync('test/adversarial')
  .filter((f) => /-atk\d+/.test(f) && f.endsWith('.test.ts'))
  .map((f) => `test/adversarial/${f}`)
  .filter((f) => !keptRounds.test(f));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: process.env.RETENTION_TEST_SERVER_ONLY === '1' ? [...runnerSide, ...versionFree, ...singleRounds] : [],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: true,
    // Two on this 2-core machine; CI's second leg runs three, as its pg_cron test mostly
    // waits for the next minute (RETENTION_TEST_WORKERS).
    maxWorkers: Number(process.env.RETENTION_TEST_WORKERS ?? 2),
  },
});
