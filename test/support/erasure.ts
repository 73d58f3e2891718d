// Helpers for tests of what a completed erasure leaves behind: file a request, process it,
// and list every place in the retention schema whose text still holds a value.
import { expect } from 'vitest';
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

export interface Person { email: string; name: string; phone: string; bio?: string }

/** The person (id 4242424) and one failed row per message (an application's trigger
 * raises it when a policy's run deletes another row), of a run on their own table
 * (mine) and of a run on another table; the person erased. */
export async function personQuotedInMessages(db: TestDb, schema: string, person: Person, messages: string[]): Promise<{ e: string; mine: boolean }[]> {
  const q = db.q;
  await q(`create schema ${schema}`);
  await q(`create table ${schema}.users (id bigint primary key, email text, name text, phone text, bio text, created_at timestamptz)`);
  await q(`create table ${schema}.mailq (id bigint primary key, created_at timestamptz)`);
  await q(`create table ${schema}.msgs (id bigint primary key, m text)`);
  await q(`insert into ${schema}.msgs select i, m from unnest($1::text[]) with ordinality x(m, i)`, [messages]);
  await q(`insert into ${schema}.users values (4242424, $1, $2, $3, $4, now())`, [person.email, person.name, person.phone, person.bio ?? null]);
  await q(`insert into ${schema}.users select id, 'other' || id || '@example.com', 'Other Person', '+1 555 0100', null, now() - interval '3 years' from ${schema}.msgs`);
  await q(`insert into ${schema}.mailq select id, now() - interval '3 years' from ${schema}.msgs`);
  await q(`create function ${schema}.refuse() returns trigger language plpgsql as $$
             declare v text := (select m from ${schema}.msgs where id = old.id);
             begin
               if v is not null then raise exception '%', v; end if;
               return old;
             end $$`);
  for (const t of ['users', 'mailq']) {
    await q(`create trigger refuse before delete on ${schema}.${t} for each row execute function ${schema}.refuse()`);
    await q(`select retention.set_policy('${schema}-${t}', '${schema}.${t}', 'delete', 'created_at', '1 year')`);
    await db.call(`call retention.run('${schema}-${t}')`).catch(() => undefined);
  }
  await q(`select retention.set_erasure_rule('${schema}.users', 'delete')`);
  const [r] = await q<{ id: number }>(`select request_id::int as id from retention.request_erasure('${schema}.users', '4242424', 'ticket')`);
  await db.call(`call retention.process_erasure($1)`, [r!.id]);
  expect(await q(`select status from retention.erasure_requests where request_id = $1`, [r!.id])).toEqual([{ status: 'completed' }]);
  return q<{ e: string; mine: boolean }>(
    `select f.error as e, r.policy_name = '${schema}-users' as mine
       from retention.run_row_failures f join retention.runs r using (run_id)
      where r.policy_name like '${schema}-%' order by f.run_id, f.error`);
}
