#!/usr/bin/env node
// pg-retention command line. Thin: parse, call one routine, report.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { Command } from './commands/types.ts';
import { closest, describe, exitCodeFor, EXIT, PolicyFileError, UsageError } from './errors.ts';
import { connect } from './db.ts';

// Each command's module is loaded when it runs (the main help loads them all): the worker
// does not carry the YAML parser, node-pg-migrate or the other commands.
const read = () => import('./commands/read.ts');
const plans = () => import('./commands/plan.ts');
const COMMANDS: Record<string, () => Promise<Command>> = {
  migrate: async () => (await import('./commands/migrate.ts')).migrate,
  plan: async () => (await plans()).plan,
  apply: async () => (await plans()).apply,
  policies: async () => (await read()).policies,
  preview: async () => (await read()).preview,
  run: async () => (await import('./commands/run.ts')).run,
  holds: async () => (await import('./commands/holds.ts')).holds,
  approvals: async () => (await import('./commands/approvals.ts')).approvals,
  erasure: async () => (await import('./commands/erasure.ts')).erasure,
  export: async () => (await import('./commands/export.ts')).exportSubject,
  accounts: async () => (await import('./commands/accounts.ts')).accounts,
  archive: async () => (await import('./commands/archive.ts')).archive,
  objects: async () => (await import('./commands/objects.ts')).objects,
  backups: async () => (await import('./commands/backups.ts')).backups,
  report: async () => (await import('./commands/report.ts')).report,
  runs: async () => (await read()).runs,
  audit: async () => (await read()).audit,
  doctor: async () => (await read()).doctor,
  worker: async () => (await import('./commands/worker.ts')).worker,
};
const NAMES = Object.keys(COMMANDS);

async function command(name: string): Promise<Command> {
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) throw unknownCommand(name);
  const c = await load();
  if (c.name !== name) throw new Error(`command ${name} loaded ${c.name}`);
  return c;
}

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
  const guess = closest(name, NAMES);
  return new UsageError(`unknown command '${name}'${guess ? `; did you mean '${guess}'?` : ''}`, "'pg-retention --help' lists the commands");
}

async function mainHelp(): Promise<string> {
  const commands = await Promise.all(NAMES.map(command));
  const width = Math.max(...commands.map((c) => c.name.length));
  return `pg-retention — database-native data retention for PostgreSQL

Usage: pg-retention <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

${COMMON}
Run 'pg-retention help <command>' (or '<command> --help') for its options and an example;
'pg-retention --version' for the version.`;
}

async function main(args: string[]): Promise<number> {
  // Global options may come before the command too: pg-retention --verbose runs.
  const lead: string[] = [];
  let i = 0;
  while (i < args.length && /^--(database-url|json|verbose)(=|$)/.test(args[i]!)) {
    lead.push(args[i]!);
    if (args[i] === '--database-url' && i + 1 < args.length) lead.push(args[++i]!);
    i++;
  }
  const argv = i < args.length ? [args[i]!, ...args.slice(i + 1), ...lead] : [];
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`pg-retention ${version()}`);
    return EXIT.ok;
  }
  if (name === 'help' && rest[0]) {
    console.log(commandHelp(await command(rest[0])));
    return EXIT.ok;
  }
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    console.log(await mainHelp());
    return name ? EXIT.ok : EXIT.usage;
  }
  const cmd = await command(name);
  // Node reads the command line as UTF-8 and puts U+FFFD where the bytes are not: a hold
  // on an id an operator meant would hold a value no row has (round atk83 F5).
  const bad = rest.findIndex((a) => a.includes('\uFFFD'));
  if (bad >= 0) {
    throw new UsageError(`argument ${JSON.stringify(rest[bad])} is not valid UTF-8 (U+FFFD stands for bytes that are not)`,
      'Give ids, reasons and names in UTF-8 (check the terminal\'s or the script\'s encoding).');
  }
  // The same for who acts: the name goes into the ledger and the append-only audit log
  // for good (round atk97 F3).
  if (process.env.PG_RETENTION_ACTOR?.includes('\uFFFD')) {
    throw new UsageError(`PG_RETENTION_ACTOR ${JSON.stringify(process.env.PG_RETENTION_ACTOR)} is not valid UTF-8 (U+FFFD stands for bytes that are not)`,
      'Name who acts in UTF-8 (it is recorded in the ledger and the audit log for good).');
  }
  // A blank name would be recorded as who acted, for good (round atk159 F9).
  if (process.env.PG_RETENTION_ACTOR !== undefined && !/[^\s\p{Cc}\p{Cf}]/u.test(process.env.PG_RETENTION_ACTOR)) {
    throw new UsageError(`PG_RETENTION_ACTOR ${JSON.stringify(process.env.PG_RETENTION_ACTOR)} names nobody`,
      'Name who acts (it is recorded in the ledger and the audit log for good), or unset it to be recorded as user@host.');
  }
  // Nor one with a line break or another control character, which the database's writers
  // strip or keep (a name recorded otherwise than given: round atk168).
  if (process.env.PG_RETENTION_ACTOR !== undefined && /\p{Cc}/u.test(process.env.PG_RETENTION_ACTOR)) {
    throw new UsageError(`PG_RETENTION_ACTOR ${JSON.stringify(process.env.PG_RETENTION_ACTOR)} has a control character`,
      'Name who acts on one line, without tabs or control characters (it is recorded in the ledger and the audit log for good).');
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      tokens: true,
      options: {
        ...cmd.options,
        'database-url': { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // An unknown option: name the closest one this command has.
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec((err as Error).message);
    const guess = unknown && closest(unknown[2]!, [...Object.keys(cmd.options ?? {}), ...GLOBAL_OPTIONS]);
    throw new UsageError(`${(err as Error).message}${guess ? `; did you mean '--${guess}'?` : ''}`, `pg-retention help ${name}`);
  }
  if (parsed.values.help) {
    console.log(commandHelp(cmd));
    return EXIT.ok;
  }
  // A word or an option more than the command takes is refused, never ignored: a shell
  // variable that expanded to two tables would otherwise hold one (round atk97 F2).
  const sub = parsed.positionals[0] ?? '';
  const max = cmd.arity && Object.hasOwn(cmd.arity, sub) ? cmd.arity[sub] : cmd.arity?.['*'];
  if (max !== undefined && parsed.positionals.length > max) {
    throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`,
      `${cmd.usage.split('\n').map((l) => l.trim()).find((l) => l.includes(` ${parsed.positionals[0]} `)) ?? `pg-retention help ${name}`}`);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new UsageError(`option --${t.name} given twice`, 'Give each option once (quote a value that has blanks).');
    seen.add(t.name);
    // An empty value is a shell variable that expanded to nothing, not a choice: --out ''
    // saved nothing without a word (round atk159 F7), --database-url '' connected to the
    // PG* default.
    if (typeof t.value === 'string' && t.value.trim() === '') {
      throw new UsageError(`option --${t.name} is empty`, 'Give it a value, or leave the option out.');
    }
  }
  try {
    return await cmd.run(parsed.values, parsed.positionals);
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
