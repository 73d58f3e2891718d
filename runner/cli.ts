#!/usr/bin/env node
// pg-retention command line. Thin: parse, call one routine, report.
import { parseArgs } from 'node:util';
import { accounts } from './commands/accounts.ts';
import { approvals } from './commands/approvals.ts';
import { archive } from './commands/archive.ts';
import { objects } from './commands/objects.ts';
import { backups } from './commands/backups.ts';
import { audit, doctor, policies, preview, runs } from './commands/read.ts';
import { erasure } from './commands/erasure.ts';
import { exportSubject } from './commands/export.ts';
import { holds } from './commands/holds.ts';
import { migrate } from './commands/migrate.ts';
import { apply, plan } from './commands/plan.ts';
import { report } from './commands/report.ts';
import { run } from './commands/run.ts';
import type { Command } from './commands/types.ts';
import { worker } from './commands/worker.ts';
import { readFileSync } from 'node:fs';
import { closest, describe, exitCodeFor, EXIT, UsageError } from './errors.ts';
import { connect } from './db.ts';
import { PolicyFileError } from './policy-file.ts';

const commands: Command[] = [migrate, plan, apply, policies, preview, run, holds, approvals, erasure, exportSubject, accounts, archive, objects, backups, report, runs, audit, doctor, worker];

const COMMON = `Common options:
  --database-url URL   connection (default: DATABASE_URL, else the libpq PG* variables)
  --json               machine-readable output (read commands)
  --verbose            show the underlying error on failure
  -h, --help           help for the command

Exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 refused by a safety rule,
130 stopped by Ctrl-C.`;

const GLOBAL_OPTIONS = ['database-url', 'json', 'verbose', 'help'];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function commandHelp(command: Command): string {
  return `Usage: ${command.usage}\n\n${command.help}\n\n${COMMON}`;
}

function unknownCommand(name: string): UsageError {
  const guess = closest(name, commands.map((c) => c.name));
  return new UsageError(`unknown command '${name}'${guess ? `; did you mean '${guess}'?` : ''}`, "'pg-retention --help' lists the commands");
}

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `pg-retention — database-native data retention for PostgreSQL

Usage: pg-retention <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

${COMMON}
Run 'pg-retention help <command>' (or '<command> --help') for its options and an example;
'pg-retention --version' for the version.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`pg-retention ${version()}`);
    return EXIT.ok;
  }
  if (name === 'help' && rest[0]) {
    const command = commands.find((c) => c.name === rest[0]);
    if (!command) throw unknownCommand(rest[0]);
    console.log(commandHelp(command));
    return EXIT.ok;
  }
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    console.log(mainHelp());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw unknownCommand(name);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        ...command.options,
        'database-url': { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // An unknown option: name the closest one this command has.
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec((err as Error).message);
    const guess = unknown && closest(unknown[2]!, [...Object.keys(command.options ?? {}), ...GLOBAL_OPTIONS]);
    throw new UsageError(`${(err as Error).message}${guess ? `; did you mean '--${guess}'?` : ''}`, `pg-retention help ${name}`);
  }
  if (parsed.values.help) {
    console.log(commandHelp(command));
    return EXIT.ok;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
  } catch (err) {
    throw await withPolicySuggestion(err, parsed.values['database-url'] as string | undefined);
  }
}

/** An unknown policy (RT008): the closest policy name the database has, in the hint. */
async function withPolicySuggestion(err: unknown, url: string | undefined): Promise<unknown> {
  const e = err as { code?: string; message: string; hint?: string };
  const m = e.code === 'RT008' ? /^policy '([^']+)' does not exist/.exec(e.message) : null;
  if (!m) return err;
  try {
    const db = await connect(url);
    try {
      const names = (await db.query<{ name: string }>('select name from retention.policies')).rows.map((r) => r.name);
      const guess = closest(m[1]!, names);
      if (guess) e.hint = `did you mean '${guess}'? ${e.hint ?? ''}`.trim();
    } finally {
      await db.end();
    }
  } catch {
    // No suggestion then (the login may not read the policies).
  }
  return err;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof PolicyFileError) {
      console.error(`pg-retention: the policy file is not valid:\n${err.problems.map((p) => `  ${p}`).join('\n')}`);
      process.exit(EXIT.usage);
    }
    console.error(`pg-retention: ${describe(err)}`);
    if (process.argv.includes('--verbose')) console.error((err as Error).stack);
    process.exit(exitCodeFor(err));
  },
);
