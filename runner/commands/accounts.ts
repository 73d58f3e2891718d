// pg-retention accounts inactive | exempt | unexempt: the inactive-accounts lifecycle
// (notice policies: retention.set_inactive_accounts_policy). Each subcommand calls one routine.
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { type Command, output, str, instant } from './types.ts';

export const accounts: Command = {
  name: 'accounts',
  arity: { inactive: 1, exempt: 3, unexempt: 3 },
  summary: 'inactive accounts: flagged ones with days left, exemptions',
  usage: `pg-retention accounts inactive [--policy P] [--all] [--as-of T] [--json]
       pg-retention accounts exempt <policy> <account-id> --reason TEXT [--until T]
       pg-retention accounts unexempt <policy> <account-id> --reason TEXT`,
  help: `A policy with a notice period (retention.set_inactive_accounts_policy: no login for
2 years, 30 days' notice) flags accounts when its runs find them inactive, announces
them to each tenant through the outbox (rows_flagged), and soft-deletes those still
inactive after the notice. 'inactive' lists the flagged accounts by tenant with the days
left (--all adds closed flags: acted, cancelled by a login, exempted); 'exempt' keeps an
account (closes its flag; until --until or 'unexempt').

Examples:
  pg-retention accounts inactive
  pg-retention accounts inactive --policy accounts.inactive --all --as-of 2027-01-15
  pg-retention accounts exempt accounts.inactive 4711 --reason 'billing integration service account'
  pg-retention accounts unexempt accounts.inactive 4711 --reason 'integration retired'`,
  options: {
    policy: { type: 'string' },
    all: { type: 'boolean' },
    'as-of': { type: 'string' },
    reason: { type: 'string' },
    until: { type: 'string' },
  },
  run: async (values, [sub, ...args]) => {
    const db = await connect(str(values['database-url']));
    try {
      if (sub === 'inactive') {
        const { rows } = await db.query(
          `select policy, tenant, row_key as account, last_activity_at as last_login_at, flagged_at,
                  act_after, days_left, status, close_reason
             from retention.flags($1, coalesce($2::timestamptz, now()), $3)`,
          [str(values.policy) ?? null, instant(values, 'as-of') ?? null, values.all === true]);
        await output(values, rows);
        return 0;
      }
      if (sub === 'exempt' || sub === 'unexempt') {
        const [policy, key] = args;
        if (!policy || !key) throw new UsageError(`accounts ${sub} needs the policy and the account id`, `pg-retention accounts ${sub} accounts.inactive 4711 --reason '...'`);
        const { rows } = sub === 'exempt'
          ? await db.query('select * from retention.exempt_row($1, $2, $3, $4::timestamptz)',
              [policy, key, str(values.reason) ?? null, instant(values, 'until') ?? null])
          : await db.query('select * from retention.revoke_exemption($1, $2, $3)', [policy, key, str(values.reason) ?? null]);
        await output(values, rows);
        return 0;
      }
      throw new UsageError(`unknown accounts command '${sub ?? ''}'`, 'use accounts inactive, exempt or unexempt');
    } finally {
      await db.end();
    }
  },
};
