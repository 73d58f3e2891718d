// Approval-gated policies: nothing is removed without a proposal a second person
// approved, by any path; execution removes only the proposal's rows that are still
// eligible, unchanged and unheld; a changed policy, drift past the threshold and expiry
// stop it. Outcomes are read from the tables, the ledger and the audit log.
import { spawn } from 'node:child_process';
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { sqlState, useLogins, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';

const db = useTestDatabase();
const { tag, login } = useLogins(db);

/** orders (100 rows, row i is i days old) with lines and notes cascading from them. */
async function tables(): Promise<void> {
  await db.q(`update retention.legal_holds set released_at = now(), released_by = 'test', release_reason = 'test' where released_at is null`);
  await db.q(`select retention.drop_policy(name) from retention.policies`);
  await db.q(`drop schema if exists ap cascade`);
  await db.q(`delete from retention.archived_batches`);
  await db.q(`delete from retention.proposals`);
  await db.q(`delete from retention.defaults where scope <> 'global'`).catch(() => {});
  await db.q(`create schema ap`);
  await db.q(`create table ap.orders (id bigint primary key, customer_id bigint, created_at timestamptz not null,
                                      deleted_at timestamptz, note text)`);
  await db.q(`create index on ap.orders (created_at)`);
  await db.q(`create table ap.lines (id bigint primary key, order_id bigint not null references ap.orders on delete cascade, qty int)`);
  await db.q(`create table ap.line_notes (id bigint primary key, line_id bigint references ap.lines on delete cascade, body text)`);
  await db.q(`insert into ap.orders select g, g % 7, now() - make_interval(days => g) + interval '1 hour', null, 'n' || g from generate_series(1, 100) g`);
  await db.q(`insert into ap.lines select g, g, 1 from generate_series(1, 100) g`);
  await db.q(`insert into ap.lines select 1000 + g, g, 2 from generate_series(1, 100) g`);
  await db.q(`insert into ap.line_notes select g, g, 'b' from generate_series(1, 100) g`);
  await db.q(`select retention.set_policy('ap.orders', 'ap.orders', 'delete', 'created_at', interval '30 days',
                p_subject_column => 'customer_id', p_approval => 'required', p_max_rows_per_run => 10)`);
}

const orders = () => count(db, 'ap.orders');
const proposal = async (id: number) => (await db.q(`select * from retention.proposals where proposal_id = $1`, [id]))[0]!;
const propose = async (extra = '') => Number((await db.q(`select retention.propose('ap.orders'${extra}) as id`))[0]!.id);

describe('approval-gated policies', () => {
  let approver: pg.Client;
  beforeEach(async () => {
    await tables();
    if (!approver) approver = await login('appr', 'retention_approver');
  });

  it('a proposal freezes the rows, the cascade per table, the cutoff and the version', async () => {
    const id = await propose();
    const p = await proposal(id);
    expect(p.status).toBe('pending');
    expect(Number(p.rows)).toBe(70); // 31..100 days old
    expect(p.cascade).toEqual([
      { table: 'ap.lines', action: 'delete', depth: 1, rows: 140 },
      { table: 'ap.line_notes', action: 'delete', depth: 2, rows: 70 },
    ]);
    // Frozen with them: every row their delete removes in the other tables.
    expect(await db.q(`select rel::regclass::text as t, count(*)::int as n from retention.proposal_rows where proposal_id = $1 group by 1 order by 2 desc, 1`, [id]))
      .toEqual([{ t: 'ap.lines', n: 140 }, { t: 'ap.line_notes', n: 70 }, { t: 'ap.orders', n: 70 }]);
    expect(await count(db, `retention.notifications where kind = 'approval_requested' and (payload->>'proposal_id')::int = $1`, [id])).toBe(1);
    expect(await count(db, `retention.audit_log where action = 'proposal.created'`)).toBe(1);
    expect(await orders()).toBe(100); // a proposal removes nothing
  });

  it('the proposer cannot approve: not by login, not by claiming another actor', async () => {
    const id = await propose();
    expect(await sqlState(db.q(`select retention.approve_proposal($1, 'mine')`, [id]))).toBe('RT036');
    // An approver that names itself as the proposer's actor is the proposer too.
    const c = await db.connect();
    await c.query(`set retention.actor = 'alice'`);
    const id2 = Number((await c.query(`select retention.propose('ap.orders') as id`)).rows[0].id);
    await c.end();
    await approver.query(`set retention.actor = 'alice'`);
    expect(await sqlState(approver.query(`select retention.approve_proposal($1, 'looks fine')`, [id2]))).toBe('RT036');
    await approver.query(`reset retention.actor`);
    // A login that is not an approver, and a missing comment.
    const admin = await login('adm', 'retention_admin');
    expect(await sqlState(admin.query(`select retention.approve_proposal($1, 'ok')`, [id2]))).toBe('42501');
    expect(await sqlState(approver.query(`select retention.approve_proposal($1, '  ')`, [id2]))).toBe('RT006');
    expect((await proposal(id2)).status).toBe('pending');
    expect((await proposal(id)).status).toBe('superseded');
    await approver.query(`select retention.approve_proposal($1, 'counts checked')`, [id2]);
    const p = await proposal(id2);
    expect([p.status, p.decided_login, p.decision_comment]).toEqual(['approved', `appr_${tag}`, 'counts checked']);
    expect(await count(db, `retention.audit_log where action = 'proposal.approved'`)).toBe(1);
  });

  it('without an approved proposal no path deletes: run, forced run, run_all, open_run, the CLI', async () => {
    const refused = async () => {
      expect(await sqlState(db.call(`call retention.run('ap.orders')`))).toBe('RT034');
      expect(await sqlState(db.call(`call retention.run('ap.orders', p_force => true)`))).toBe('RT034');
      expect(await sqlState(db.call(`call retention.run('ap.orders', p_force => true, p_max_rows => 5)`))).toBe('RT034');
      await db.call(`call retention.run_all()`);
      const c = await db.connect();
      const run = (await c.query(`select retention.open_run('ap.orders', p_force => true) as id`)).rows[0].id;
      expect((await c.query(`select retention.run_step($1) as s`, [run])).rows[0].s).toBe('refused');
      await c.end();
      const cli = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, ['runner/cli.ts', 'run', 'ap.orders', '--execute', '--force'],
          { env: { ...process.env, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('close', (code) => resolve({ code, out }));
      });
      expect(cli.code).not.toBe(0);
      expect(cli.out).toMatch(/approved proposal/);
      expect(await orders()).toBe(100);
      expect(await count(db, 'ap.lines')).toBe(200);
    };
    await refused(); // no proposal at all
    const id = await propose();
    await refused(); // pending
    await approver.query(`select retention.reject_proposal($1, 'too many')`, [id]);
    await refused(); // rejected
    expect(await count(db, `retention.runs where policy_name = 'ap.orders' and status = 'refused' and error_code = 'RT034'`)).toBe(3 * 6);
    expect(await count(db, `retention.runs where policy_name = 'ap.orders' and status <> 'refused'`)).toBe(0);
  });

  it('an approved proposal runs (past the ceiling) and removes only its rows still eligible, unchanged and unheld', async () => {
    const id = await propose();
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id]);
    // After approval: one row changed, one deleted by the application, a subject hold on
    // customer 3, and rows that became eligible since (not in the proposal).
    await db.q(`update ap.orders set note = 'edited' where id = 40`);
    await db.q(`delete from ap.orders where id = 41`);
    await db.q(`select retention.place_hold('subject', '3', 'litigation')`);
    await db.q(`update ap.orders set created_at = now() - interval '60 days' where id between 1 and 5`);
    const held = await count(db, 'ap.orders where id > 30 and customer_id = 3 and id not in (40, 41)');
    await db.call(`call retention.run('ap.orders')`);
    const left = (await db.q(`select id from ap.orders order by id`)).map((r) => Number(r.id));
    const expected = [...Array(30).keys()].map((i) => i + 1).concat(
      [...Array(70).keys()].map((i) => i + 31).filter((i) => i === 40 || (i !== 41 && i % 7 === 3)));
    expect(left).toEqual(expected);
    const p = await proposal(id);
    expect(p.status).toBe('executed');
    expect(Number(p.executed_rows)).toBe(70 - 2 - held);
    expect(Number(p.skipped_held)).toBe(held);
    expect(Number(p.skipped_gone)).toBe(2);
    // Executed once: a second run has nothing approved.
    expect(await sqlState(db.call(`call retention.run('ap.orders')`))).toBe('RT034');
  });

  it('a table without a primary key: the proposal freezes every row (by its ctid) and execution removes them all', async () => {
    // Every row had one key, {}, so a proposal of 40 rows froze 1 (found in round atk167).
    await db.q(`create table ap.events (id bigint, created_at timestamptz not null)`);
    await db.q(`insert into ap.events select g, now() - make_interval(days => g + 30) from generate_series(1, 40) g`);
    await db.q(`insert into ap.events select 100 + g, now() from generate_series(1, 5) g`);
    await db.q(`select retention.set_policy('ap.events', 'ap.events', 'delete', 'created_at', '30 days', p_approval => 'required')`);
    const id = (await db.q<{ id: string }>(`select retention.propose('ap.events') as id`))[0]!.id;
    expect(await db.q(`select rows::int as rows from retention.proposals where proposal_id = $1`, [id])).toEqual([{ rows: 40 }]);
    expect(await count(db, `retention.proposal_rows where proposal_id = ${Number(id)} and row_key ? 'ctid'`)).toBe(40);
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id]);
    await db.call(`call retention.run('ap.events')`);
    expect((await db.q(`select id from ap.events order by id`)).map((r) => Number(r.id))).toEqual([101, 102, 103, 104, 105]);
  });

  it('a policy changed after approval stops execution and needs a new proposal', async () => {
    const id = await propose();
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id]);
    await db.q(`select retention.alter_policy('ap.orders', p_retain => '20 days')`);
    expect(await sqlState(db.call(`call retention.run('ap.orders')`))).toBe('RT035');
    expect((await proposal(id)).status).toBe('stale');
    expect(await orders()).toBe(100);
    // Changing the inherited period (a schema default) changes the version too.
    await db.q(`select retention.alter_policy('ap.orders', p_reset => array['retain'])`);
    const id2 = await propose();
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id2]);
    await db.q(`select retention.set_default('ap', interval '10 days')`);
    expect(await sqlState(db.call(`call retention.run('ap.orders')`))).toBe('RT035');
    expect(await orders()).toBe(100);
    // A proposal made stale before approval cannot be approved.
    const id3 = await propose();
    await db.q(`select retention.alter_policy('ap.orders', p_batch_size => 7)`);
    const r = await approver.query(`select retention.approve_proposal($1, 'ok') as p`, [id3]);
    expect(r.rows[0].p).toBeNull();
    expect((await proposal(id3)).status).toBe('stale');
  });

  it('drift past the threshold stops execution; within it the rest runs', async () => {
    const id = await propose(`, p_max_drift => 0.1`);
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id]);
    await db.q(`update ap.orders set note = 'x' where id between 31 and 39`); // 9 of 70: within 10%
    await db.q(`update ap.orders set note = 'x' where id = 42`); // 10 of 70: over 7
    expect(await sqlState(db.call(`call retention.run('ap.orders')`))).toBe('RT035');
    expect((await proposal(id)).status).toBe('stale');
    expect(await orders()).toBe(100);
    const id2 = await propose(`, p_max_drift => 0.1`);
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id2]);
    await db.q(`update ap.orders set note = 'y' where id between 31 and 35`); // 5 of 70
    await db.call(`call retention.run('ap.orders')`);
    expect(await orders()).toBe(30 + 5);
    expect((await proposal(id2)).status).toBe('executed');
  });

  it('an expired proposal can be neither approved nor executed', async () => {
    // Time passes by moving the expiry (as the owner), not by sleeping: a loaded machine
    // must not decide the outcome.
    const expire = (id: number) => db.q(`update retention.proposals set expires_at = clock_timestamp() where proposal_id = $1`, [id]);
    const id = await propose();
    await expire(id);
    expect(await sqlState(approver.query(`select retention.approve_proposal($1, 'late')`, [id]))).toBe('RT035');
    const id2 = await propose();
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id2]);
    await expire(id2);
    expect(await sqlState(db.call(`call retention.run('ap.orders')`))).toBe('RT034');
    expect((await proposal(id2)).status).toBe('expired');
    expect(await orders()).toBe(100);
    expect(await sqlState(db.q(`select retention.propose('ap.orders', p_expires_in => interval '91 days')`))).toBe('RT006');
  });

  it('a run stopped by its budget leaves the proposal approved; the next run finishes it', async () => {
    await db.q(`select retention.alter_policy('ap.orders', p_batch_size => 10)`);
    const id = await propose();
    await approver.query(`select retention.approve_proposal($1, 'ok')`, [id]);
    await db.call(`call retention.run('ap.orders', p_max_rows => 25)`);
    expect(await orders()).toBe(75);
    expect((await proposal(id)).status).toBe('approved');
    await db.call(`call retention.run('ap.orders')`);
    expect(await orders()).toBe(30);
    const p = await proposal(id);
    expect([p.status, Number(p.executed_rows), Number(p.skipped_gone)]).toEqual(['executed', 70, 0]);
  });

  it('the CLI: propose, list, show with rows, approve as the proposer refused (exit 3), as a second person approved', async () => {
    const run = (args: string[], url = db.url, actor = 'cli-test') => new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, ['runner/cli.ts', 'approvals', ...args],
        { env: { ...process.env, DATABASE_URL: url, PG_RETENTION_ACTOR: actor }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('close', (code) => resolve({ code, out }));
    });
    const made = await run(['propose', 'ap.orders', '--note', 'monthly']);
    expect(made.code, made.out).toBe(0);
    const id = /proposal (\d+) made/.exec(made.out)![1]!;
    expect((await run(['list'])).out).toMatch(new RegExp(`${id} +ap\\.orders +pending +70`));
    const shown = await run(['show', id, '--rows']);
    expect(shown.out).toMatch(/ap\.lines +delete +1 +140/);
    expect(shown.out.match(/\{"id": \d+\}/g)!.length).toBe(70 + 140 + 70);
    const self = await run(['approve', id, '--comment', 'mine']);
    expect([self.code, /a second person must approve it \[RT036\]/.test(self.out)]).toEqual([3, true]);
    expect((await run(['approve', id])).code).toBe(2); // no --comment
    const u = new URL(db.url);
    u.username = `appr_${tag}`;
    u.password = 'pw';
    const ok = await run(['approve', id, '--comment', 'checked'], u.toString(), 'dana');
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(/: approved/);
    expect((await proposal(Number(id))).decided_by).toBe('dana');
  });

  it('bad input changes nothing and says what to do', async () => {
    const audit = await count(db, 'retention.audit_log');
    expect(await sqlState(db.q(`select retention.propose('nope')`))).toBe('RT008');
    expect(await sqlState(db.q(`select retention.propose('ap.orders', p_max_drift => 2)`))).toBe('RT006');
    expect(await sqlState(db.q(`select retention.propose('ap.orders', p_expires_in => interval '-1 day')`))).toBe('RT006');
    expect(await sqlState(approver.query(`select retention.approve_proposal(424242, 'ok')`))).toBe('RT008');
    expect(await sqlState(db.q(`select retention.set_policy('ap.x', 'ap.orders', 'delete', 'created_at', p_approval => 'maybe')`))).toBe('RT007');
    expect(await sqlState(db.q(`select retention.set_policy('ap.x', 'ap.orders', 'delete', 'created_at', p_archive_retain => interval '-1 year')`))).toBe('RT004');
    expect(await sqlState(db.q(`select retention.set_policy('ap.x', 'ap.orders', 'delete', 'created_at', p_archive => false, p_archive_retain => interval '1 year')`))).toBe('RT007');
    // Nor with archive left out on a policy that does not archive by default (atk97 F8).
    expect(await sqlState(db.q(`select retention.set_policy('ap.x', 'ap.orders', 'delete', 'created_at', p_archive_retain => interval '1 year')`))).toBe('RT007');
    expect(await db.q(`select count(*)::int as n from retention.policies where name = 'ap.x'`)).toEqual([{ n: 0 }]);
    expect(await sqlState(db.q(`select retention.set_policy('ap.x', 'ap.orders', 'soft_delete', 'created_at', p_deleted_at_column => 'deleted_at', p_archive => true)`))).toBe('RT007');
    await db.q(`select retention.set_policy('ap.plain', 'ap.lines', 'delete', 'qty', p_retain => '1 day')`).catch(() => {});
    await db.q(`create table ap.tree (id bigint primary key, parent bigint references ap.tree on delete cascade, at timestamptz not null)`);
    expect(await sqlState(db.q(`select retention.set_policy('ap.tree', 'ap.tree', 'delete', 'at', p_archive => true)`))).toBe('RT033');
    expect(await count(db, 'retention.audit_log')).toBe(audit);
    expect(await count(db, 'retention.proposals')).toBe(0);
    expect(await count(db, `retention.policies where name <> 'ap.orders'`)).toBe(0);
  });
});

describe('archive before permanent deletion', () => {
  beforeEach(tables);

  it('every row a batch removes, cascade included, is in archived_rows from the same transaction', async () => {
    await db.q(`select retention.alter_policy('ap.orders', p_approval => 'none', p_archive => true, p_batch_size => 7, p_max_rows_per_run => 1000)`);
    await db.call(`call retention.run('ap.orders')`);
    expect(await orders()).toBe(30);
    const per = await db.q(`select rel_name, depth, count(*)::int as n from retention.archived_rows group by 1, 2 order by 2`);
    expect(per).toEqual([
      { rel_name: 'ap.orders', depth: 0, n: 70 },
      { rel_name: 'ap.lines', depth: 1, n: 140 },
      { rel_name: 'ap.line_notes', depth: 2, n: 70 },
    ]);
    // Every batch archived what its ledger row counts (the same transaction).
    const batches = await db.q(`select b.batch_no, b.rows, b.related_rows,
                                       (select count(*) from retention.archived_rows a where a.run_id = b.run_id and a.batch_no = b.batch_no and a.depth = 0)::int as a0,
                                       (select count(*) from retention.archived_rows a where a.run_id = b.run_id and a.batch_no = b.batch_no and a.depth > 0)::int as a1
                                  from retention.run_batches b where b.run_id = (select max(run_id) from retention.runs)
                                 order by b.batch_no`);
    expect(batches.length).toBe(10);
    for (const b of batches) expect([b.a0, b.a1]).toEqual([b.rows, b.related_rows]);
    // The copies are the rows: put back, they equal what was there.
    await db.q(`create table ap.back (like ap.orders)`);
    await db.q(`insert into ap.back select (jsonb_populate_record(null::ap.orders, row_data)).* from retention.archived_rows where depth = 0`);
    expect(await count(db, `ap.back b where b.note = 'n' || b.id and b.created_at < now() - interval '30 days'`)).toBe(70);
  });

  it('drop_partitions with archive copies each partition\'s rows in the transaction that drops it', async () => {
    await db.q(`create table ap.logs (id bigint, at timestamptz not null, msg text) partition by range (at)`);
    for (const [name, from, to] of [['ap.logs_a', '2025-01-01', '2025-02-01'], ['ap.logs_b', '2025-02-01', '2025-03-01'], ['ap.logs_c', '2099-01-01', '2099-02-01']]) {
      await db.q(`create table ${name} partition of ap.logs for values from ('${from}') to ('${to}')`);
    }
    await db.q(`insert into ap.logs select g, timestamptz '2025-01-01' + make_interval(hours => g), 'm' || g from generate_series(1, 1000) g`);
    await db.q(`insert into ap.logs values (5000, '2099-01-02', 'future')`);
    await db.q(`select retention.set_policy('ap.logs', 'ap.logs', 'drop_partitions', 'at', interval '30 days', p_archive => true, p_max_rows_per_run => 100000)`);
    await db.call(`call retention.run('ap.logs')`);
    expect(await db.q(`select relname from pg_class where relname like 'logs\\_%' and relnamespace = 'ap'::regnamespace order by 1`)).toEqual([{ relname: 'logs_c' }]);
    expect(await db.q(`select rel_name, count(*)::int as n, count(distinct row_data->>'id')::int as ids from retention.archived_rows group by 1`))
      .toEqual([{ rel_name: 'ap.logs', n: 1000, ids: 1000 }]);
    const [b] = await db.q(`select sum(rows)::int as rows from retention.run_batches where run_id = (select max(run_id) from retention.runs)`);
    expect(b!.rows).toBe(1000);
  });

  it('a row that comes to reference a picked row while its batch runs is copied with it, or its parent waits', async () => {
    await db.q(`select retention.alter_policy('ap.orders', p_approval => 'none', p_archive => true, p_batch_size => 100, p_max_rows_per_run => 1000)`);
    // Another session adds a line to order 95 (eligible) and has not committed: the
    // line's key check holds order 95, so the batch passes over it.
    const other = await db.connect();
    try {
      await other.query(`begin`);
      await other.query(`insert into ap.lines values (5000, 95, 9)`);
      await db.call(`call retention.run('ap.orders')`);
      expect(await count(db, `ap.orders where id = 95`)).toBe(1);
      await other.query(`commit`);
    } finally {
      await other.end();
    }
    await db.call(`call retention.run('ap.orders')`);
    expect(await orders()).toBe(30);
    // Every line that went is in the archive, the late one too, each once.
    expect(await db.q(`select count(*)::int as n, count(distinct row_data->>'id')::int as ids,
                              count(*) filter (where row_data->>'id' = '5000')::int as late
                         from retention.archived_rows where rel_name = 'ap.lines'`)).toEqual([{ n: 141, ids: 141, late: 1 }]);
    expect(await count(db, `ap.lines`)).toBe(60);
  });

  it('a cascaded table under row security is locked and read, not deleted by the copying statement; nothing is missed', async () => {
    await db.q(`alter table ap.line_notes enable row level security`);
    await db.q(`create policy none_visible on ap.line_notes using (false)`);
    await db.q(`select retention.alter_policy('ap.orders', p_approval => 'none', p_archive => true, p_batch_size => 9, p_max_rows_per_run => 1000)`);
    const sql = (await db.q(`select x.final from retention.policies p, retention_internal._two_phase_sql(p, true) x where p.name = 'ap.orders'`))[0]!.final as string;
    expect(sql).not.toMatch(/delete from only ap\.line_notes/);
    await db.call(`call retention.run('ap.orders')`);
    expect(await orders()).toBe(30);
    expect(await db.q(`select rel_name, count(*)::int as n from retention.archived_rows group by 1 order by 1`))
      .toEqual([{ rel_name: 'ap.line_notes', n: 70 }, { rel_name: 'ap.lines', n: 140 }, { rel_name: 'ap.orders', n: 70 }]);
    // Without row security the last level is deleted by the statement that copies it.
    await db.q(`alter table ap.line_notes disable row level security`);
    const plain = (await db.q(`select x.final from retention.policies p, retention_internal._two_phase_sql(p, true) x where p.name = 'ap.orders'`))[0]!.final as string;
    expect(plain).toMatch(/delete from only ap\.line_notes/);
  });

  it('an object takes whole batches: at least one, however many rows it holds', async () => {
    await db.q(`select retention.alter_policy('ap.orders', p_approval => 'none', p_archive => true, p_batch_size => 7, p_max_rows_per_run => 1000)`);
    await db.call(`call retention.run('ap.orders')`);
    const c = await db.connect();
    try {
      const [first] = await db.q(`select row_count from retention.archived_batches order by archive_id limit 1`);
      expect(first!.row_count).toBeGreaterThan(3);
      const [claim] = (await c.query(`select * from retention.archive_claim('file:///nowhere', 3)`)).rows;
      expect(Number(claim.rows)).toBe(first!.row_count);
      expect((await c.query(`select count(*)::int as n from retention.archive_object_rows($1)`, [claim.object_id])).rows[0].n)
        .toBe(first!.row_count);
      await c.query(`select retention.archive_abandon($1, 'test')`, [claim.object_id]);
    } finally {
      await c.end();
    }
    expect(await count(db, `retention.archived_batches where object_id is not null`)).toBe(0);
  });

  it('drop_partitions with archive copies a partition partitioned in turn, leaf by leaf', async () => {
    await db.q(`create table ap.logs (id bigint, at timestamptz not null, msg text) partition by range (at)`);
    await db.q(`create table ap.logs_a partition of ap.logs for values from ('2025-01-01') to ('2025-02-01') partition by hash (id)`);
    await db.q(`create table ap.logs_a0 partition of ap.logs_a for values with (modulus 2, remainder 0)`);
    await db.q(`create table ap.logs_a1 partition of ap.logs_a for values with (modulus 2, remainder 1)`);
    await db.q(`create table ap.logs_c partition of ap.logs for values from ('2099-01-01') to ('2099-02-01')`);
    await db.q(`insert into ap.logs select g, timestamptz '2025-01-01' + make_interval(mins => g), repeat('m', 200) || g from generate_series(1, 30000) g`);
    await db.q(`select retention.set_policy('ap.logs', 'ap.logs', 'drop_partitions', 'at', interval '30 days', p_archive => true, p_max_rows_per_run => 100000)`);
    await db.call(`call retention.run('ap.logs')`);
    expect(await count(db, `pg_class where relname like 'logs\\_a%' and relnamespace = 'ap'::regnamespace`)).toBe(0);
    expect(await db.q(`select count(*)::int as n, count(distinct row_data->>'id')::int as ids from retention.archived_rows`))
      .toEqual([{ n: 30000, ids: 30000 }]);
    // Ranges of about 10,000 rows of each leaf, not one value for the whole partition.
    expect(await count(db, `retention.archived_batches`)).toBeGreaterThanOrEqual(4);
  });

  it('a failing batch archives nothing and deletes nothing', async () => {
    await db.q(`select retention.alter_policy('ap.orders', p_approval => 'none', p_archive => true, p_max_rows_per_run => 1000)`);
    await db.q(`create function ap.no() returns trigger language plpgsql as $$ begin raise exception 'no' using errcode = '42501'; end $$`);
    await db.q(`create trigger no before delete on ap.line_notes for each row execute function ap.no()`);
    await sqlState(db.call(`call retention.run('ap.orders')`));
    expect(await orders()).toBe(100);
    expect(await count(db, 'retention.archived_rows')).toBe(0);
  });
});
