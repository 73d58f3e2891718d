// pg-retention holds list | place | release: legal holds are placed by people, here or in psql.
import { connect } from '../db.ts';
import { UsageError } from '../errors.ts';
import { type Command, output, str, instant } from './types.ts';

export const holds: Command = {
  name: 'holds',
  arity: { list: 1, place: 3, release: 2 },
  summary: 'legal holds: list, place, release',
  usage: `pg-retention holds list [--all] [--json]
       pg-retention holds place <table|subject|policy> <value> --reason TEXT [--case REF] [--expires-at T]
       pg-retention holds release <hold-id> --reason TEXT`,
  help: `A hold blocks deletion regardless of age: a whole table, one data subject (matched on
each policy's subject column), or one policy. Once 'place' returns, no run touches the
rows it covers, including runs already in progress.

Examples:
  pg-retention holds place subject 42 --reason 'Litigation Doe v. Example' --case CASE-117
  pg-retention holds place table ops.audit_logs --reason 'Regulator inquiry' --expires-at 2027-03-01
  pg-retention holds list
  pg-retention holds release 3 --reason 'Case closed'`,
  options: {
    all: { type: 'boolean' },
    reason: { type: 'string' },
    case: { type: 'string' },
    'expires-at': { type: 'string' },
  },
  run: async (values, [sub, ...args]) => {
    const db = await connect(str(values['database-url']));
    try {
      if (sub === 'list') {
        const rows = values.all
          ? (await db.query(`select hold_id, scope, coalesce(target::text, subject_id, policy_name, 'store ' || backup_store || coalesce('/' || backup_name, '')) as covers, reason,
                                    case_reference, placed_at, placed_by, expires_at, released_at, released_by
                               from retention.legal_holds order by hold_id`)).rows
          : (await db.query('select * from retention.active_holds order by hold_id')).rows;
        await output(values, rows);
        return 0;
      }
      if (sub === 'place') {
        const [scope, value] = args;
        if (!scope || !value) throw new UsageError('holds place needs a scope and a value', "pg-retention holds place subject 42 --reason '...'");
        const [row] = (await db.query(
          'select * from retention.place_hold($1, $2, $3, $4, $5::timestamptz)',
          [scope, value, str(values.reason) ?? null, str(values.case) ?? null, instant(values, 'expires-at') ?? null])).rows;
        await output(values, [row]);
        return 0;
      }
      if (sub === 'release') {
        const id = args[0];
        if (!id || !/^\d+$/.test(id)) throw new UsageError('holds release needs the numeric hold id', "pg-retention holds release 3 --reason 'Case closed'");
        const [row] = (await db.query('select * from retention.release_hold($1, $2)', [id, str(values.reason) ?? null])).rows;
        await output(values, [row]);
        return 0;
      }
      throw new UsageError(`unknown holds command '${sub ?? ''}'`, 'use holds list, holds place or holds release');
    } finally {
      await db.end();
    }
  },
};
