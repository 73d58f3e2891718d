import type { ParseArgsConfig } from 'node:util';
import { formatTable } from '../table.ts';

export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  help: string;
  options?: ParseArgsConfig['options'];
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
