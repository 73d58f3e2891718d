// pg-retention approvals list | show | propose | approve | reject: the four-eyes gate of
// approval-gated policies (docs/dba-guide.md, Approval-gated purges).
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { type Command, output, str } from './types.ts';

const ID = /^\d+$/;

export const approvals: Command = {
  name: 'approvals',
  arity: { list: 1, show: 2, propose: 2, approve: 2, reject: 2 },
  summary: 'proposals of approval-gated policies: list, show, propose, approve, reject',
  usage: `pg-retention approvals list [--all] [--json]
       pg-retention approvals show <proposal-id> [--rows] [--json]
       pg-retention approvals propose <policy> [--expires-in INTERVAL] [--max-drift SHARE] [--note TEXT]
       pg-retention approvals approve <proposal-id> --comment TEXT
       pg-retention approvals reject <proposal-id> --comment TEXT`,
  help: `A policy with approval: required removes nothing until a proposal — a frozen dry run of
the exact rows, what their deletion takes in other tables, the cutoff and the policy's
version — is approved by a member of retention_approver who did not propose it (another
login, another actor). The worker proposes on the policy's schedule and runs an approved
proposal at its next sync. Execution removes only the proposal's rows that are still
eligible, unchanged and unheld.

  list     open proposals (pending and approved); --all for every one
  show     one proposal: counts per table, who proposed and decided; --rows lists its
           rows by key (no other column)
  propose  make a proposal now (as the worker would)
  approve  approve a pending proposal (members of retention_approver only, not the proposer)
  reject   reject it

Examples:
  pg-retention approvals list
  pg-retention approvals show 7
  PG_RETENTION_ACTOR=dana@example.com pg-retention approvals approve 7 --comment 'Checked against the register'`,
  options: {
    all: { type: 'boolean' },
    rows: { type: 'boolean' },
    comment: { type: 'string' },
    note: { type: 'string' },
    'expires-in': { type: 'string' },
    'max-drift': { type: 'string' },
  },
  run: async (values, [sub, arg]) => {
    const known = ['list', 'show', 'propose', 'approve', 'reject'];
    if (!sub || !known.includes(sub)) throw new UsageError(`unknown approvals command '${sub ?? ''}'`, `use approvals ${known.join(', ')}`);
    if (['show', 'approve', 'reject'].includes(sub) && !(arg && ID.test(arg))) {
      throw new UsageError(`approvals ${sub} needs the numeric proposal id`, 'pg-retention approvals list shows them');
    }
    if (sub === 'propose' && !arg) throw new UsageError('approvals propose needs a policy name', 'pg-retention approvals propose realty.properties');
    if ((sub === 'approve' || sub === 'reject') && !str(values.comment)) {
      throw new UsageError(`approvals ${sub} needs --comment`, `pg-retention approvals ${sub} ${arg} --comment 'why'`);
    }
    const drift = str(values['max-drift']);
    if (drift !== undefined && !/^(0(\.\d+)?|1(\.0+)?)$/.test(drift)) throw new UsageError(`--max-drift takes a share from 0 to 1, got ${JSON.stringify(drift)}`, 'e.g. --max-drift 0.1');
    const db = await connect(str(values['database-url']));
    try {
      if (sub === 'list') {
        const rows = (await db.query(
          `select proposal_id, policy_name as policy, status, rows, held_back, cutoff, proposed_by, proposed_at, expires_at,
                  decided_by, decided_at
             from retention.proposals ${values.all ? '' : `where status in ('pending', 'approved') and expires_at > now()`}
            order by proposal_id`)).rows;
        await output(values, rows);
        return 0;
      }
      if (sub === 'show') {
        const [p] = (await db.query(`select * from retention.proposals where proposal_id = $1`, [arg])).rows;
        if (!p) throw new UsageError(`proposal ${arg} does not exist`, 'pg-retention approvals list --all shows them');
        if (values.json) {
          const rows = values.rows ? (await db.query(`select rel::regclass::text as table, row_key from retention.proposal_rows where proposal_id = $1 order by 1, 2`, [arg])).rows : undefined;
          console.log(JSON.stringify({ ...p, ...(rows ? { proposal_rows: rows } : {}) }, null, 2));
          return 0;
        }
        await output(values, [{ proposal: p.proposal_id, policy: p.policy_name, status: p.status, action: p.action, cutoff: p.cutoff,
          rows: p.rows, held_back: p.held_back, max_drift: p.max_drift, proposed_by: p.proposed_by, proposed_login: p.proposed_login,
          expires_at: p.expires_at, decided_by: p.decided_by, comment: p.decision_comment, executed_rows: p.executed_rows,
          skipped_held: p.skipped_held, skipped_gone: p.skipped_gone }]);
        console.log('\nwhat the deletion takes in other tables:');
        await output(values, (p.cascade as Record<string, unknown>[]).length ? p.cascade : [{ table: '(none)' }], ['table', 'action', 'depth', 'rows']);
        if (values.rows) {
          console.log('\nrows (by key):');
          await output(values, (await db.query(`select rel::regclass::text as table, row_key::text as key from retention.proposal_rows where proposal_id = $1 order by 1, 2`, [arg])).rows);
        }
        return 0;
      }
      if (sub === 'propose') {
        const [r] = (await db.query(`select retention.propose($1, coalesce($2::interval, '7 days'), coalesce($3::numeric, 0.1), $4) as id`,
          [arg, str(values['expires-in']) ?? null, drift ?? null, str(values.note) ?? null])).rows;
        console.log(`proposal ${r.id} made; a member of retention_approver other than you approves it: pg-retention approvals approve ${r.id} --comment '...'`);
        return 0;
      }
      const fn = sub === 'approve' ? 'approve_proposal' : 'reject_proposal';
      // FROM, not (f()).*: that would call the function once per column.
      const [r] = (await db.query(`select * from retention.${fn}($1, $2)`, [arg, str(values.comment)])).rows;
      if (!r?.proposal_id) {
        console.error(`proposal ${arg} is stale: its policy changed after it was made; nothing approved (propose again)`);
        return 3;
      }
      console.log(`proposal ${r.proposal_id} of ${r.policy_name}: ${r.status}`);
      return 0;
    } finally {
      await db.end();
    }
  },
};
