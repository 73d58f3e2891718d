// pg-retention plan / apply: policies as code.
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { formatPlan, planOrApply } from '../plan.ts';
import { loadPolicyFile } from '../policy-file.ts';
import { type Command, str, type Values } from './types.ts';

const FILE_HELP = `The file (YAML) holds defaults and policies; see docs/operator-guide.md and the JSON
Schema in retention.schema.json. It is checked before the database is touched, then
every policy goes through the database's own validation; each error names the file,
line and field. With --prune, policies (and defaults) absent from the file are removed.`;

async function planCommand(values: Values, apply: boolean): Promise<number> {
  const path = str(values.file);
  if (!path) throw new UsageError('name the policy file with -f', `pg-retention ${apply ? 'apply' : 'plan'} -f retention.yaml`);
  const file = await loadPolicyFile(path);
  const db = await connect(str(values['database-url']));
  try {
    const changes = await planOrApply(db, file, { apply, prune: Boolean(values.prune) });
    if (values.json) console.log(JSON.stringify(changes, null, 2));
    else console.log(formatPlan(changes, apply));
    return !apply && changes.length > 0 ? 2 : 0;
  } finally {
    await db.end();
  }
}

const options = { file: { type: 'string' as const, short: 'f' }, prune: { type: 'boolean' as const } };

export const plan: Command = {
  name: 'plan',
  summary: 'show how the database differs from a policy file (changes nothing)',
  usage: 'pg-retention plan -f retention.yaml [--prune] [--json]',
  help: `${FILE_HELP}

Exit codes: 0 no changes, 2 changes (or an invalid file: the message says which), 1 error.

Example:
  pg-retention plan -f examples/retention.yaml`,
  options,
  run: (values) => planCommand(values, false),
};

export const apply: Command = {
  name: 'apply',
  summary: 'apply a policy file in one transaction (audit-logged)',
  usage: 'pg-retention apply -f retention.yaml [--prune] [--json]',
  help: `${FILE_HELP}

Applies exactly what 'plan' shows, in one transaction; applying again changes nothing.

Example:
  PG_RETENTION_ACTOR=ci:deploy#42 pg-retention apply -f examples/retention.yaml --prune`,
  options,
  run: (values) => planCommand(values, true),
};
