import { createInterface } from 'node:readline/promises';
import type { ParseArgsConfig } from 'node:util';
import { formatTable } from '../table.ts';

export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  help: string;
  options?: ParseArgsConfig['options'];
  /** The most positional arguments it takes, by subcommand (its first argument), or '*'
   * for a command without subcommands: a word more is refused (exit 2), never ignored
   * (`holds place table A B` held only A: round atk97 F2). */
  arity?: Record<string, number>;
  run: (values: Values, positionals: string[]) => Promise<number>;
}

/** Prints rows as a table, or as JSON with --json. */
export async function output(values: Values, rows: Record<string, unknown>[], columns?: string[]): Promise<void> {
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log(formatTable(rows, columns));
}

export const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** Asks before something that cannot be undone, when a person is at a terminal: true with
 * --yes, or when stdin or stdout is not a terminal (scripts and CI run unattended, as
 * before), else the answer to the question (y or yes). */
export async function confirm(values: Values, question: string): Promise<boolean> {
  if (values.yes || !process.stdin.isTTY || !process.stdout.isTTY) return true;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
