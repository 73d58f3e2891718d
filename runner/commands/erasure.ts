// pg-retention erasure request | plan | list: erasure requests (GDPR Art. 17, CCPA) from
// the command line. Each subcommand calls one routine.
import { connect } from '../db.ts';
import { EXIT, UsageError } from '../errors.ts';
import { type Command, confirm, output, str, instant } from './types.ts';

export const erasure: Command = {
  name: 'erasure',
  arity: { request: 3, plan: 2, process: 2, list: 1 },
  summary: 'erasure requests: file, plan, process, list with deadlines',
  usage: `pg-retention erasure request <subject-table> <subject-id> --requested-by TEXT [--due T] [--reference REF]
       pg-retention erasure plan <request-id> [--json]
       pg-retention erasure process <request-id> [--yes] [--json]
       pg-retention erasure list [--as-of T] [--json]`,
  help: `A person's data is erased on request within a deadline (30 days unless --due).
'request' files it for the row of <subject-table> whose primary key is <subject-id>
(--reference: your own id for the request, e.g. a ticket number, handed back in the
erasure_completed notification); 'plan' shows what erasing it does to each table reached
through foreign keys or a subject column (delete, scrub or keep with the legal reason,
from retention.set_erasure_rule); 'process' carries
it out and prints the evidence per table (a legal hold on the person blocks it: exit 3);
at a terminal it first asks (the rows it deletes or scrubs cannot come back), --yes does
not; scripts and CI, without a terminal, are not asked;
'list' shows every request with its due date and whether it is overdue.

Examples:
  pg-retention erasure request shop.customers cust-7731 --requested-by 'privacy form' --reference T-4711
  pg-retention erasure plan 12
  pg-retention erasure process 12
  pg-retention erasure list --as-of 2027-01-15`,
  options: { 'requested-by': { type: 'string' }, due: { type: 'string' }, reference: { type: 'string' }, 'as-of': { type: 'string' }, yes: { type: 'boolean', short: 'y' } },
  run: async (values, [sub, ...args]) => {
    const db = await connect(str(values['database-url']));
    try {
      if (sub === 'request') {
        const [table, id] = args;
        if (!table || !id) throw new UsageError('erasure request needs the subject table and id', "pg-retention erasure request shop.customers cust-7731 --requested-by '...'");
        const { rows } = await db.query(
          `select request_id, subject_table::text, subject_hash, requested_by, due_at, status, reference
             from retention.request_erasure($1, $2, $3, $4::timestamptz, $5)`,
          [table, id, str(values['requested-by']) ?? null, instant(values, 'due') ?? null, str(values.reference) ?? null]);
        await output(values, rows);
        return 0;
      }
      if (sub === 'plan') {
        const id = args[0];
        if (!id || !/^\d+$/.test(id)) throw new UsageError('erasure plan needs the numeric request id', 'pg-retention erasure plan 12');
        const { rows } = await db.query(
          `select step, depth, target, via, rule, rule_source, reason, scrub, rows::text as rows, warning
             from retention.erasure_plan($1)`, [id]);
        await output(values, rows);
        return 0;
      }
      if (sub === 'process') {
        const id = args[0];
        if (!id || !/^\d+$/.test(id)) throw new UsageError('erasure process needs the numeric request id', 'pg-retention erasure process 12');
        if (process.stdin.isTTY && process.stdout.isTTY && !values.yes) {
          const [plan] = (await db.query<{ steps: number; rows: string }>(
            `select count(*)::int as steps, coalesce(sum(rows), 0)::text as rows from retention.erasure_plan($1) where rule <> 'keep'`, [id])).rows;
          if (!(await confirm(values, `Process erasure request ${id}: delete or scrub ${plan?.rows ?? '?'} rows in ${plan?.steps ?? '?'} steps? This cannot be undone.`))) {
            console.error('not processed');
            return EXIT.refused;
          }
        }
        await db.query('call retention.process_erasure($1)', [id]);
        const [req] = (await db.query('select status, status_reason from retention.erasure_requests where request_id = $1', [id])).rows;
        const evidence = (await db.query(
          'select target, rule, reason, rows::text as rows from retention.erasure_evidence where request_id = $1 order by step', [id])).rows;
        if (values.json) console.log(JSON.stringify({ ...req, evidence }, null, 2));
        else {
          console.log(`erasure request ${id}: ${req?.status}${req?.status_reason ? ` — ${req.status_reason}` : ''}`);
          if (evidence.length > 0) await output(values, evidence);
        }
        return req?.status === 'completed' ? 0 : EXIT.refused;
      }
      if (sub === 'list') {
        const { rows } = await db.query(
          `select request_id, subject_table, requested_by, requested_at, due_at, status, overdue, days_left
             from retention.erasure_requests_as_of(coalesce($1::timestamptz, now()))`, [instant(values, 'as-of') ?? null]);
        await output(values, rows);
        return 0;
      }
      throw new UsageError(`unknown erasure command '${sub ?? ''}'`, 'use erasure request, plan, process or list');
    } finally {
      await db.end();
    }
  },
};
