// Attack round atk141 (personal data left behind), on the column statistics an erasure
// leaves. F2: the completion took the retention tables' statistics again before it removed
// the person's key from the plan's work conditions (so erasure_requests' statistics got
// it), and left proposal_rows, subject_tokens, row_exemptions and the step values out; a
// table it empties keeps its old statistics whatever ANALYZE does (PostgreSQL writes none
// from an empty sample): cleared. F1: the advice (analyze_tables) left out the partitioned
// parents of the plan's partitions, whose inherited statistics hold the person's values.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

const inStats = async (schemas: string, pattern: string) => (await q<{ t: string }>(
  `select distinct schemaname || '.' || tablename || '.' || attname || case when inherited then ' (inherited)' else '' end as t
     from pg_stats where schemaname ~ $1
      and (coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, '')) ~* $2 order by 1`, [schemas, pattern])).map((r) => r.t);

describe('the column statistics an erasure leaves (atk141)', () => {
  it('F2: no retention table keeps the person\'s values in its statistics once the erasure completes', async () => {
    await q(`create schema s41`);
    await q(`create table s41.members (email text primary key, name text, created_at timestamptz not null default now())`);
    await q(`create table s41.logins (id serial primary key, member_email text references s41.members (email), at timestamptz not null)`);
    await q(`insert into s41.members values ('erin.zylberstein@example.net', 'Erin Zylberstein', now() - interval '2 years'),
                                            ('frank@example.net', 'Frank Other', now() - interval '2 years')`);
    await q(`insert into s41.logins (member_email, at) select 'erin.zylberstein@example.net', now() - i * interval '1 hour' from generate_series(1, 100) i`);
    await q(`create index on s41.members (created_at)`);
    await q(`select retention.set_policy('s41.members', 's41.members', 'delete', 'created_at', p_retain => '1 year', p_approval => 'required')`);
    await q(`select retention.propose('s41.members')`);
    const [{ id }] = await q(`select (retention.request_erasure('s41.members', 'erin.zylberstein@example.net', 'ticket 41')).request_id::int as id`) as [{ id: number }];
    // Autovacuum's ANALYZE of the retention tables while the request is open.
    for (const t of ['retention.proposal_rows', 'retention.subject_tokens', 'retention.erasure_requests', 'retention.runs']) await q(`analyze ${t}`);
    expect(await inStats('^retention', 'zylberstein')).not.toEqual([]);
    await db.call(`call retention.process_erasure(${id})`);
    expect(await q(`select status from retention.erasure_requests where request_id = $1`, [id])).toEqual([{ status: 'completed' }]);
    expect(await inStats('^retention', 'zylberstein')).toEqual([]);
    expect(await q(`select details -> 'statistics_not_refreshed' as s from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(id)]))
      .toEqual([{ s: null }]);
  });

  it('F1: the advice names the partitioned parents of the plan\'s partitions that have statistics', async () => {
    await q(`create schema p41`);
    await q(`create table p41.users (id bigint primary key, email text)`);
    await q(`create table p41.visits (id int, user_id bigint references p41.users, email text, at timestamptz not null) partition by range (at)`);
    await q(`create table p41.visits_old partition of p41.visits for values from ('2000-01-01') to ('2020-01-01')`);
    await q(`create table p41.visits_new partition of p41.visits for values from ('2020-01-01') to ('2100-01-01')`);
    await q(`insert into p41.users values (5151, 'carol.kowalczyk@example.org'), (6, 'dave@example.org')`);
    await q(`insert into p41.visits select g, 5151, 'carol.kowalczyk@example.org', '2010-01-01'::timestamptz + g * interval '1 day' from generate_series(1, 50) g`);
    await q(`insert into p41.visits select g, 6, 'dave@example.org', now() from generate_series(51, 60) g`);
    await q(`analyze p41.visits`);
    await q(`analyze p41.users`);
    const [{ id }] = await q(`select (retention.request_erasure('p41.users', '5151', 'ticket p41')).request_id::int as id`) as [{ id: number }];
    await db.call(`call retention.process_erasure(${id})`);
    const [{ a }] = await q(`select details -> 'analyze_tables' as a from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(id)]) as [{ a: string[] }];
    expect(a).toEqual(['p41.users', 'p41.visits', 'p41.visits_new', 'p41.visits_old']);
    // Taken again as advised, only the emptied partition keeps her values (PostgreSQL
    // writes no statistics from an empty sample: the guide says how to clear them).
    for (const t of a) await q(`analyze ${t}`);
    expect(await inStats('^p41$', 'kowalczyk')).toEqual(['p41.visits_old.email']);
  });

  it('F1 (atk143 F3): a table whose values stand only in an expression index\'s statistics is named too', async () => {
    await q(`create schema x41`);
    await q(`create table x41.users (id bigint primary key, email text)`);
    await q(`alter table x41.users alter column email set statistics 0`);
    await q(`alter table x41.users alter column id set statistics 0`);
    await q(`create index on x41.users (lower(email))`);
    await q(`insert into x41.users select g, 'user' || g || '@example.org' from generate_series(1, 20) g`);
    await q(`insert into x41.users values (777, 'Zed.Quist@example.org')`);
    await q(`analyze x41.users`);
    expect(await inStats('^x41$', 'quist')).toEqual(['x41.users_lower_idx.lower']);
    const [{ id }] = await q(`select (retention.request_erasure('x41.users', '777', 'ticket x41')).request_id::int as id`) as [{ id: number }];
    await db.call(`call retention.process_erasure(${id})`);
    expect(await q(`select details -> 'analyze_tables' as a from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(id)]))
      .toEqual([{ a: ['x41.users'] }]);
    await q(`analyze x41.users`);
    expect(await inStats('^x41$', 'quist')).toEqual([]);
  });
});
