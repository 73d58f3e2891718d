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
import { describe, exitCodeFor, EXIT, UsageError } from './errors.ts';
import { PolicyFileError } from './policy-file.ts';

const commands: Command[] = [migrate, plan, apply, policies, preview, run, holds, approvals, erasure, exportSubject, accounts, archive, objects, backups, report, runs, audit, doctor, worker];

const COMMON = `Common options:
  --database-url URL   connection (default: DATABASE_URL, else the libpq PG* variables)
  --json               machine-readable output (read commands)
  --verbose            show the underlying error on failure
  -h, --help           help for the command

Exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 refused by a safety rule,
130 stopped by Ctrl-C.`;

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `pg-retention — database-native data retention for PostgreSQL

Usage: pg-retention <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

${COMMON}
Run 'pg-retention <command> --help' for a command's options and an example.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    console.log(mainHelp());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command '${name}'`, "'pg-retention --help' lists the commands");
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
    throw new UsageError((err as Error).message, `pg-retention ${name} --help`);
  }
  if (parsed.values.help) {
    console.log(`Usage: ${command.usage}\n\n${command.help}\n\n${COMMON}`);
    return EXIT.ok;
  }
  return command.run(parsed.values, parsed.positionals);
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
