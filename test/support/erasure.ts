// Helpers for tests of what a completed erasure leaves behind: file a request, process it,
// and list every place in the retention schema whose text still holds a value.
import type { TestDb } from './db.ts';

export function erasureHelpers(db: TestDb): {
  file: (table: string, id: string, reference?: string) => Promise<number>;
  processed: (id: number) => Promise<string>;
  mentions: (value: string) => Promise<string[]>;
} {
  const q = db.q;
  return {
    /** Files a request (who asked: 'ticket 1'); its id. */
    file: async (table, id, reference) => {
      const [r] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure($1, $2, 'ticket 1', p_reference => $3)`,
        [table, id, reference ?? null]);
      return r!.id;
    },
    /** Processes a request; its status after. */
    processed: async (id) => {
      await db.call(`call retention.process_erasure($1)`, [id]);
      const [r] = await q<{ status: string }>(`select status from retention.erasure_requests where request_id = $1`, [id]);
      return r!.status;
    },
    /** Where the retention schema still holds the value as text (without case). */
    mentions: async (value) => {
      const rows = await q<{ src: string }>(`
        select 'legal_holds ' || h.hold_id as src from retention.legal_holds h where h::text ilike '%' || $1 || '%'
        union all select 'subject_tokens' from retention.subject_tokens t where t.subject ilike '%' || $1 || '%'
        union all select 'erasure_requests ' || r.request_id from retention.erasure_requests r where r::text ilike '%' || $1 || '%'
        union all select 'notifications ' || n.notification_id from retention.notifications n
          where n.payload::text ilike '%' || $1 || '%' or n.dedupe_key ilike '%' || $1 || '%'
        union all select 'audit_log ' || a.audit_id from retention.audit_log a where a.details::text ilike '%' || $1 || '%'
        union all select 'runs ' || r.run_id from retention.runs r where concat_ws(' ', r.error, r.error_hint, r.spec::text) ilike '%' || $1 || '%'
        union all select 'run_row_failures ' || f.run_id from retention.run_row_failures f where f::text ilike '%' || $1 || '%'
        union all select 'flagged_rows' from retention.flagged_rows f where f::text ilike '%' || $1 || '%'
        union all select 'row_exemptions' from retention.row_exemptions e where e::text ilike '%' || $1 || '%'
        union all select 'object_deletions ' || d.deletion_id from retention.object_deletions d where d::text ilike '%' || $1 || '%'`, [value]);
      return rows.map((r) => r.src);
    },
  };
}
