// The guides' examples as steps a test can run: the psql sessions of the DBA guide
// (`=# ` statements with their output, and ```sql blocks) and the `$ pg-retention`
// commands of the operator guide. test/docs-dba.test.ts and docs-operator.test.ts run
// them, in the order the guide gives them, on the demo's schema.
import pg from 'pg';

export interface SqlStep {
  kind: 'sql';
  /** Where the statement starts (file:line), for failures. */
  at: string;
  sql: string;
  /** The ERROR: the guide shows after it (it must fail with that message). */
  error?: string;
  /** The NOTICE: and WARNING: lines the guide shows after it (each must be raised). */
  messages: { severity: string; text: string }[];
  /** The column names of the result the guide shows (a psql header over a ---+--- rule). */
  columns?: string[];
}
export interface ConnectStep {
  kind: 'connect';
  at: string;
  /** The login psql's `\c - ROLE` switches to. */
  role: string;
}
export type Step = SqlStep | ConnectStep;

export interface Block {
  lang: string;
  line: number;
  lines: string[];
  /** Why the guide says not to run it: `<!-- not run: REASON -->` on the line before. */
  notRun?: string;
}

export function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let open: Block | null = null;
  let before = '';
  markdown.split('\n').forEach((text, i) => {
    const fence = /^\s*```(\S*)\s*$/.exec(text);
    if (fence && !open) {
      open = { lang: fence[1]!, line: i + 2, lines: [] };
      const skip = /^<!-- not run: (.+) -->$/.exec(before.trim());
      if (skip) open.notRun = skip[1]!;
    } else if (fence && open) {
      blocks.push(open);
      open = null;
    } else if (open) open.lines.push(text);
    if (!open && text.trim()) before = text;
  });
  return blocks;
}

/** Whether a line ends a statement: a semicolon, then at most a comment. */
const ends = (line: string) => /;\s*(--[^']*)?$/.test(line);
const isRule = (line: string | undefined) => line !== undefined && /^-+(\+-+)*$/.test(line.trim());

/** The psql steps of a guide: every `=# ` statement of an unlabelled block and every
 * statement of a ```sql block, with what the guide shows after each. */
export function sqlSteps(markdown: string, file: string): Step[] {
  const steps: Step[] = [];
  for (const b of fencedBlocks(markdown)) {
    const prompt = b.lang === '' && b.lines.some((l) => l.startsWith('=# '));
    if ((!prompt && b.lang !== 'sql') || b.notRun) continue;
    let cur: SqlStep | null = null; // the statement being read, or the last one (output follows)
    let reading = false;
    b.lines.forEach((raw, i) => {
      const at = `${file}:${b.line + i}`;
      const line = prompt && raw.startsWith('=# ') ? raw.slice(3) : raw;
      const isStatementLine = prompt ? raw.startsWith('=# ') : true;
      if (reading && cur) {
        cur.sql += '\n' + raw;
        if (ends(raw)) reading = false;
        return;
      }
      if (isStatementLine) {
        const t = line.trim();
        if (t === '' || t.startsWith('--')) return;
        const c = /^\\c(?:onnect)?\s+-\s+(\S+)\s*$/.exec(t);
        if (c) {
          steps.push({ kind: 'connect', at, role: c[1]! });
          cur = null;
          return;
        }
        // psql's \copy (query) TO 'file': the query is what the server runs.
        const copy = /^\\copy \((.*)\) to /i.exec(t);
        cur = { kind: 'sql', at, sql: copy ? copy[1]! : line, messages: [] };
        steps.push(cur);
        reading = !copy && !ends(line);
        return;
      }
      // Output of the statement before.
      if (!cur) return;
      const m = /^(ERROR|NOTICE|WARNING|INFO):\s+(.*)$/.exec(raw);
      if (m && m[1] === 'ERROR') cur.error = m[2]!;
      else if (m) cur.messages.push({ severity: m[1]!, text: m[2]! });
      else if (isRule(b.lines[i + 1]) && !cur.columns) cur.columns = raw.split('|').map((s) => s.trim());
    });
  }
  return steps;
}

/** A pattern for a message as the guide shows it: its numbers and dates stand for any,
 * and a trailing "..." or "…" for the rest of the line. */
export function messagePattern(text: string): RegExp {
  let t = text.trim();
  const open = /(\.\.\.|…)$/.test(t);
  if (open) t = t.replace(/\s*(\.\.\.|…)$/, '');
  const body = t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\d+/g, '\\d+');
  return new RegExp(`^${body}${open ? '' : '$'}`);
}

export interface Command {
  at: string;
  env: Record<string, string>;
  args: string[];
  /** The exit status the guide gives (a comment that starts `# exit N`), else 0. */
  exit: number;
  /** The header the guide shows under it, as words (a table's column names). */
  header?: string[];
}

/** Splits a shell line into words: single and double quotes, no expansions. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let any = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (any || cur) words.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (quote) throw new Error(`unclosed quote in: ${line}`);
  if (any || cur) words.push(cur);
  return words;
}

/** The `$ pg-retention ...` commands of a guide (with VAR=value prefixes), in order. */
export function commands(markdown: string, file: string): Command[] {
  const out: Command[] = [];
  for (const b of fencedBlocks(markdown)) {
    if (b.notRun) continue;
    let last: Command | null = null;
    b.lines.forEach((raw, i) => {
      if (raw.startsWith('$ ')) {
        last = null;
        const hash = raw.indexOf(' #');
        const comment = hash >= 0 ? raw.slice(hash + 2) : '';
        const words = shellWords(hash >= 0 ? raw.slice(2, hash) : raw.slice(2));
        const env: Record<string, string> = {};
        while (words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) {
          const w = words.shift()!;
          env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
        }
        if (words[0] !== 'pg-retention') return;
        last = { at: `${file}:${b.line + i}`, env, args: words.slice(1), exit: Number(/^\s*exit (\d+)\b/.exec(comment)?.[1] ?? 0) };
        out.push(last);
      } else if (last && !last.header) {
        const words = raw.trim().split(/\s+/).filter((w) => w !== '…');
        if (words.length >= 3 && words.every((w) => /^[a-z_]+$/.test(w))) last.header = words;
        else last = null;
      }
    });
  }
  return out;
}

/** What went wrong with one step, or null. */
async function check(c: pg.Client, step: SqlStep, notices: { severity: string; text: string }[]): Promise<string | null> {
  notices.length = 0;
  let res: pg.QueryResult | pg.QueryResult[];
  try {
    res = await c.query(step.sql);
  } catch (err) {
    const message = (err as Error).message;
    if (!step.error) return `${step.at}: failed: ${message}\n${step.sql}`;
    return messagePattern(step.error).test(message) ? null : `${step.at}: failed with "${message}", the guide shows "${step.error}"`;
  }
  if (step.error) return `${step.at}: succeeded, the guide shows ERROR: ${step.error}`;
  for (const m of step.messages) {
    const p = messagePattern(m.text);
    if (!notices.some((n) => n.severity === m.severity && p.test(n.text))) {
      return `${step.at}: no ${m.severity} like "${m.text}"; raised: ${JSON.stringify(notices)}`;
    }
  }
  if (step.columns) {
    const last: pg.QueryResult = Array.isArray(res) ? (res as pg.QueryResult[]).at(-1)! : res;
    const got = last.fields.map((f: pg.FieldDef) => f.name);
    if (JSON.stringify(got) !== JSON.stringify(step.columns)) return `${step.at}: columns ${got.join(', ')}, the guide shows ${step.columns.join(', ')}`;
  }
  return null;
}

/** Runs the steps in order, starting as the login of `start`; `\c - ROLE` switches to
 * the URL `logins` gives for ROLE. Returns what went wrong, one line per step. */
export async function runSqlSteps(steps: Step[], logins: Map<string, string>, start: string): Promise<string[]> {
  const notices: { severity: string; text: string }[] = [];
  const connect = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    c.on('notice', (n) => notices.push({ severity: n.severity ?? '', text: n.message ?? '' }));
    await c.connect();
    return c;
  };
  let c = await connect(start);
  const problems: string[] = [];
  try {
    for (const step of steps) {
      if (step.kind === 'connect') {
        const url = logins.get(step.role);
        if (!url) {
          problems.push(`${step.at}: \\c to ${step.role}, a login the demo does not have`);
          continue;
        }
        await c.end();
        c = await connect(url);
        continue;
      }
      const problem = await check(c, step, notices);
      if (problem) problems.push(problem);
    }
  } finally {
    await c.end();
  }
  return problems;
}
