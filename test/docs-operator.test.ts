// Every `$ pg-retention` command of the operator guide runs as written, in the guide's
// order, on the demo's schema (in a directory holding the demo's retention.yaml): it
// exits as the guide says (0 unless it says `# exit N`), and a table the guide shows
// under it has the columns shown. The policy file reference names every setting.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fileSchema, policySchema } from '../runner/policy-file.ts';
import { runCli } from './support/cli.ts';
import { loadDemo } from './support/demo-db.ts';
import { useTestDatabase } from './support/db.ts';
import { commands, fencedBlocks } from './support/snippets.ts';

const db = useTestDatabase();
const GUIDE = 'docs/operator-guide.md';
const text = readFileSync(GUIDE, 'utf8');

const run = (args: string[], env: Record<string, string>, cwd: string) =>
  runCli(args, { url: db.url, actor: 'ops@example.com', env, cwd });

describe(GUIDE, () => {
  let dir: string;
  beforeAll(async () => {
    await loadDemo(db.url);
    dir = await mkdtemp(path.join(tmpdir(), 'retention-ops-guide-'));
    await copyFile('examples/retention.yaml', path.join(dir, 'retention.yaml'));
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('every pg-retention command runs as written on the demo, exits as the guide says, with the columns it shows', async () => {
    const cmds = commands(text, GUIDE);
    expect(cmds.length).toBeGreaterThan(15);
    const problems: string[] = [];
    for (const c of cmds) {
      // A DATABASE_URL the guide gives names the demo's server: the same login, on this
      // test's database.
      const env = { ...c.env };
      if (env.DATABASE_URL) {
        const given = new URL(env.DATABASE_URL);
        const here = new URL(db.url);
        here.username = given.username;
        here.password = given.password;
        env.DATABASE_URL = here.toString();
      }
      const r = await run(c.args, env, dir);
      if (r.code !== c.exit) {
        problems.push(`${c.at}: pg-retention ${c.args.join(' ')}: exit ${r.code}, the guide says ${c.exit}\n${r.stderr.trim()}`);
        continue;
      }
      if (c.header) {
        const lines = r.stdout.split('\n').map((l) => l.trim().split(/\s+/));
        if (!lines.some((words) => c.header!.every((w, i) => words[i] === w))) {
          problems.push(`${c.at}: pg-retention ${c.args.join(' ')}: no line starts with the columns ${c.header.join(' ')}:\n${r.stdout}`);
        }
      }
    }
    expect(problems).toEqual([]);
  }, 300_000);

  it('the policy file reference names every setting a policy file takes, and no other', () => {
    const [ref] = fencedBlocks(text).filter((b) => b.lang === 'yaml');
    const doc = parse(ref!.lines.join('\n')) as { defaults: object; policies: Record<string, unknown>[] };
    expect(Object.keys(doc.policies[0]!).sort()).toEqual(Object.keys(policySchema.shape).sort());
    expect(Object.keys(doc).sort()).toEqual(Object.keys(fileSchema.shape).sort());
    expect(Object.keys(doc.defaults).sort()).toEqual(Object.keys(fileSchema.shape.defaults.unwrap().shape).sort());
  });
});
