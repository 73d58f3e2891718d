// The policy file (retention.yaml): parsed with positions kept, validated with zod before
// anything touches the database, every error naming file, line, field path and the fix.
import { open } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Node } from 'yaml';
import { z } from 'zod';
import { actionIssues, duration, policyShape } from './settings.ts';
import { PolicyFileError } from './errors.ts';

// One policy: built from the settings' definitions (runner/settings.ts).
export const policySchema = z.strictObject(policyShape()).check((ctx) => {
  for (const i of actionIssues(ctx.value)) ctx.issues.push({ code: 'custom', input: ctx.value[i.key as keyof typeof ctx.value], path: [i.key], message: i.message });
});

export const fileSchema = z.strictObject({
  defaults: z.strictObject({
    global: duration.optional(),
    // 'global' names the global default in retention.set_default: a schema of that name
    // would set (and overwrite) the global one (round atk64 F1).
    schemas: z.record(z.string(), duration).optional(),
  }).check((ctx) => {
    if (ctx.value.schemas && Object.hasOwn(ctx.value.schemas, 'global')) {
      ctx.issues.push({ code: 'custom', input: ctx.value.schemas, path: ['schemas', 'global'],
        message: 'a schema named "global" cannot have a default of its own: the name means the global default (set that with defaults.global)' });
    }
  }).optional(),
  policies: z.array(policySchema).default([]),
});

export type PolicyFile = z.infer<typeof fileSchema>;
export type PolicySpec = z.infer<typeof policySchema>;

// Defined with the other errors (the command line tells it apart without loading the YAML parser).
export { PolicyFileError };

export interface LoadedFile {
  path: string;
  /** The file as read (a saved plan keeps it, so apply --plan applies what was planned). */
  text: string;
  spec: PolicyFile;
  /** The line of a field path (e.g. ['policies', 3, 'retain']), for errors found later. */
  lineOf: (path: (string | number)[]) => number;
}

function pathText(path: PropertyKey[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), '');
}

export async function loadPolicyFile(path: string): Promise<LoadedFile> {
  let text: string;
  let bytes: Buffer;
  try {
    bytes = await readAtMost(path, MAX_FILE_BYTES + 1);
  } catch (err) {
    throw new PolicyFileError([`${path}: cannot read the file: ${(err as Error).message}`]);
  }
  // Read no further than the limit: -f /dev/zero, or a file of gigabytes, was read whole
  // before its size was refused (round atk159 F5).
  if (bytes.length > MAX_FILE_BYTES) {
    throw new PolicyFileError([`${path}:1: (file): more than the ${MAX_FILE_BYTES / 1048576} MiB pg-retention reads in a policy file — set periods by schema (defaults.schemas) rather than a policy per table`]);
  }
  // Not read with replacement: bytes that are not UTF-8 would be saved as U+FFFD (round
  // atk83 F5).
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const loose = new TextDecoder('utf-8').decode(bytes);
    const line = loose.slice(0, loose.indexOf('\uFFFD')).split('\n').length;
    throw new PolicyFileError([`${path}:${line}: is not valid UTF-8 (save the file as UTF-8)`]);
  }
  return parsePolicyFile(text, path);
}

/** Up to max bytes of a file (a pipe or a device too), never more. */
export async function readAtMost(path: string, max: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(max);
    let n = 0;
    while (n < max) {
      const { bytesRead } = await handle.read(buf, n, max - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n);
  } finally {
    await handle.close();
  }
}

/** The largest policy file read (4 MiB). */
export const MAX_FILE_BYTES = 4 * 1048576;

/** A policy file's text, checked as loadPolicyFile checks it (path names it in errors). */
export function parsePolicyFile(text: string, path: string): LoadedFile {
  // A file of hundreds of thousands of policies took minutes and gigabytes to plan, with no
  // word (round atk152 F6); a real one is kilobytes.
  const size = Buffer.byteLength(text);
  if (size > MAX_FILE_BYTES) {
    throw new PolicyFileError([`${path}:1: (file): ${size} bytes, more than the ${MAX_FILE_BYTES / 1048576} MiB pg-retention reads in a policy file — set periods by schema (defaults.schemas) rather than a policy per table`]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new PolicyFileError(doc.errors.map((e) => `${path}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`));
  }
  // A tag the parser does not know (`retain: !whatever 30 days`) is a warning to it, and
  // the value was read as if untagged: refused, as the file may not mean what it says.
  if (doc.warnings.length > 0) {
    throw new PolicyFileError(doc.warnings.map((e) => `${path}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]} — remove the tag (policy files use plain YAML values)`));
  }
  const lineOf = (p: (string | number)[]): number => {
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return lines.linePos(node.range[0]).line;
    }
    return 1;
  };
  const keyLineOf = (p: (string | number)[], key: string): number => {
    const parent = doc.getIn(p, true);
    if (isMap(parent)) {
      const pair = parent.items.find((i) => (i.key as { value?: unknown })?.value === key);
      const k = pair?.key as Node | undefined;
      if (k?.range) return lines.linePos(k.range[0]).line;
    }
    return lineOf(p);
  };
  // JavaScript reads a key "__proto__" as the object's prototype, not as a key: a schema
  // or column of that name would drop out of the file without a word (a schema's default
  // not applied, then pruned; round atk83 F2). Refused, naming the line.
  const proto: string[] = [];
  visit(doc, {
    Scalar(_, node) {
      // PostgreSQL text cannot hold a NUL ("\0" in a double-quoted value): refused at its
      // line, not as the database's encoding error on the policy (round atk152 F4).
      if (typeof node.value === 'string' && node.value.includes('\u0000')) {
        const at = node.range ? lines.linePos(node.range[0]).line : 1;
        proto.push(`${path}:${at}: a value holds a NUL character (\\0) — PostgreSQL text cannot store it; remove it`);
      }
    },
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === '__proto__') {
        const at = pair.key.range ? lines.linePos(pair.key.range[0]).line : 1;
        proto.push(`${path}:${at}: "__proto__" cannot be a key in a policy file — set that schema's default or that column's scrub with SQL (retention.set_default, retention.set_policy)`);
      }
    },
  });
  if (proto.length > 0) throw new PolicyFileError(proto);
  // The parser refuses aliases that expand past a limit (a "billion laughs" file): said
  // as the file's problem, not as a crash (round atk152 F4).
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw new PolicyFileError([`${path}:1: (file): ${(err as Error).message} — write the values out instead of nesting aliases (*name) of aliases`]);
  }
  // An empty file (or one of comments only) is a mistake, not a file that declares no
  // policies: applied with --prune it would drop every policy.
  if (value == null) {
    throw new PolicyFileError([`${path}:1: (file): the file is empty — declare the policies (write "policies: []" to declare none)`]);
  }
  const parsed = fileSchema.safeParse(value);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const p = issue.path.filter((x): x is string | number => typeof x !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          problems.push(`${path}:${keyLineOf(p, key)}: ${pathText([...p, key])}: unknown key — remove it or check its spelling (see docs/operator-guide.md)`);
        }
        continue;
      }
      problems.push(`${path}:${lineOf(p)}: ${pathText(p) || '(file)'}: ${issue.message}`);
    }
    throw new PolicyFileError(problems);
  }
  const seen = new Map<string, number>();
  parsed.data.policies.forEach((pol, i) => {
    const first = seen.get(pol.name);
    if (first !== undefined) {
      problems.push(`${path}:${lineOf(['policies', i, 'name'])}: policies[${i}].name: "${pol.name}" is already the name of policies[${first}] — names must be unique`);
    } else seen.set(pol.name, i);
  });
  if (problems.length > 0) throw new PolicyFileError(problems);
  return { path, text, spec: parsed.data, lineOf };
}
