// Row-level security that binds the retention owner. Runs act as the owner of the
// retention routines; when that owner is not a superuser, FORCE ROW LEVEL SECURITY on a
// table it owns (or a table it does not own, without BYPASSRLS) hides rows from what the
// run reads as it: the hold check and the count. A dropped partition takes every row
// whatever the owner sees, so a held row a policy hides would go with it; a delete would
// leave expired rows behind and call the run completed. Both are refused (RT023), with a
// hint, and nothing changes. The owner here is a role that is not a superuser: every
// routine, table and view of the retention schemas is given to it, as an installation by
// that role would have them.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loginAs, sqlState, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const owner = `np_owner_${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  await q(`create role ${owner} nologin`);
  await q(`do $$
    declare r record;
    begin
      for r in select n.nspname from pg_namespace n where n.nspname in ('retention', 'retention_internal') loop
        execute format('alter schema %I owner to ${owner}', r.nspname);
      end loop;
      for r in select p.oid::regprocedure as f, p.prokind from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname in ('retention', 'retention_internal') loop
        execute format('alter %s %s owner to ${owner}', case r.prokind when 'p' then 'procedure' else 'function' end, r.f);
      end loop;
      for r in select c.oid::regclass as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname in ('retention', 'retention_internal') and c.relkind in ('r', 'v', 'p', 'm') loop
        execute format('alter table %s owner to ${owner}', r.t);
      end loop;
    end $$`);
  await q(`create schema app`);
  await q(`grant usage on schema app to ${owner}`);
  expect(await q(`select rolsuper, rolbypassrls from pg_roles where rolname = $1`, [owner])).toEqual([{ rolsuper: false, rolbypassrls: false }]);
});

/** app.<name>, partitioned by month (Jan–Mar 2025, 10 rows a day), owned by the retention owner; user_id 1–10, tenant 'a' or 'b'. */
async function partitioned(name: string): Promise<void> {
  await q(`create table app.${name} (id bigint, user_id int not null, created_at timestamptz not null, tenant text not null)
             partition by range (created_at)`);
  for (const m of ['01', '02', '03']) {
    const next = m === '03' ? '2025-04-01' : `2025-${String(Number(m) + 1).padStart(2, '0')}-01`;
    await q(`create table app.${name}_2025_${m} partition of app.${name} for values from ('2025-${m}-01Z') to ('${next}Z')`);
  }
  await q(`insert into app.${name} select i, 1 + i % 10, timestamptz '2025-01-01Z' + i * interval '2.4 hours',
             case when i % 2 = 0 then 'a' else 'b' end from generate_series(0, 899) i`);
  for (const t of [name, `${name}_2025_01`, `${name}_2025_02`, `${name}_2025_03`]) await q(`alter table app.${t} owner to ${owner}`);
  await q(`analyze app.${name}`);
}

/** Row security on app.<table> that shows the owner tenant 'a' only, forced on it (the owner owns it). */
async function forceTenantA(table: string): Promise<void> {
  await q(`alter table app.${table} enable row level security`);
  await q(`alter table app.${table} force row level security`);
  await q(`create policy tenant_a on app.${table} using (tenant = 'a')`);
}

const partitionsOf = async (table: string) =>
  (await q(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::regclass order by 1`, [table]))
    .map((r) => r.relname as string);

describe('drop_partitions when row security binds the retention owner', () => {
  it('a held row the owner cannot see keeps its partition: the plan and the run refuse (RT023), nothing is detached or dropped', async () => {
    await partitioned('ev');
    await q(`select retention.set_policy('ev', 'app.ev', 'drop_partitions', 'created_at', p_retain => '1 day',
               p_subject_column => 'user_id', p_max_rows_per_run => 1000000)`);
    // user 4's rows all have odd ids: tenant 'b', which row security hides from the owner.
    await q(`select retention.place_hold('subject', '4', 'Litigation')`);
    await forceTenantA('ev_2025_01');
    const jan = await count(db, 'app.ev_2025_01');
    const err = await q(`select * from retention.partitions('ev', '2025-04-15Z')`).then(() => null, (e: { code?: string; message: string; hint?: string }) => e);
    expect(err).toMatchObject({ code: 'RT023', message: expect.stringContaining(`row-level security on app.ev_2025_01 applies to the retention owner ${owner}`) });
    expect(err!.hint).toContain(`ALTER ROLE ${owner} BYPASSRLS`);
    // preview() counts no policy it cannot read whole: it warns and gives no figures.
    const pv = await db.call(`select eligible, held_back from retention.preview('ev', '2025-04-15Z')`);
    expect(pv.rows).toEqual([{ eligible: null, held_back: null }]);
    expect(pv.notices).toEqual([expect.stringContaining('policy ev: not counted: row-level security policy tenant_a on app.ev_2025_01')]);
    expect(await sqlState(db.call(`call retention.run('ev', p_as_of => '2025-04-15Z')`))).toBe('RT023');
    expect(await partitionsOf('app.ev')).toEqual(['ev_2025_01', 'ev_2025_02', 'ev_2025_03']);
    expect(await count(db, 'app.ev_2025_01')).toBe(jan);
    expect(await q(`select status from retention.runs where policy_name = 'ev'`)).toEqual([{ status: 'failed' }]);
    expect(await count(db, `retention.run_batches b join retention.runs r using (run_id) where r.policy_name = 'ev'`)).toBe(0);

    // Without FORCE the owner sees every row again: the partition with the held rows
    // stays, its other rows go row by row (so do February's, with held rows too).
    await q(`alter table app.ev_2025_01 no force row level security`);
    await db.call(`call retention.run('ev', p_as_of => '2025-04-15Z')`);
    expect(await partitionsOf('app.ev')).toEqual(['ev_2025_01', 'ev_2025_02', 'ev_2025_03']);
    expect(await q(`select distinct user_id from app.ev where created_at < '2025-03-01Z'`)).toEqual([{ user_id: 4 }]);
    expect(await count(db, 'app.ev_2025_01')).toBe(jan / 10);
  });

  it('row security on a sub-partition is seen too', async () => {
    await q(`create table app.sp (id bigint, user_id int not null, created_at timestamptz not null, tenant text not null) partition by range (created_at)`);
    await q(`create table app.sp_2025_01 partition of app.sp for values from ('2025-01-01Z') to ('2025-02-01Z') partition by list (tenant)`);
    await q(`create table app.sp_2025_01_a partition of app.sp_2025_01 for values in ('a')`);
    await q(`create table app.sp_2025_01_b partition of app.sp_2025_01 for values in ('b')`);
    await q(`create table app.sp_2025_02 partition of app.sp for values from ('2025-02-01Z') to ('2025-03-01Z')`);
    await q(`insert into app.sp select i, 1 + i % 10, timestamptz '2025-01-01Z' + i * interval '1 hour', case when i % 2 = 0 then 'a' else 'b' end
               from generate_series(0, 1000) i`);
    for (const t of ['sp', 'sp_2025_01', 'sp_2025_01_a', 'sp_2025_01_b', 'sp_2025_02']) await q(`alter table app.${t} owner to ${owner}`);
    await q(`select retention.set_policy('sp', 'app.sp', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    const hidden = await count(db, 'app.sp_2025_01_b');
    await q(`alter table app.sp_2025_01_b enable row level security`);
    await q(`alter table app.sp_2025_01_b force row level security`);   // no policy: the owner sees none of it
    expect(await sqlState(db.call(`call retention.run('sp', p_as_of => '2025-04-15Z')`))).toBe('RT023');
    const pv = await db.call(`select eligible from retention.preview('sp', '2025-04-15Z')`);
    expect(pv.rows).toEqual([{ eligible: null }]);
    expect(pv.notices).toEqual([expect.stringContaining('policy sp: not counted: row-level security on app.sp_2025_01_b applies to the retention owner')]);
    expect(await q(`select problem, fix from retention.check_setup() where policy = 'sp' and problem like 'row-level%'`)).toEqual([{
      problem: `row-level security on app.sp_2025_01_b applies to the retention owner ${owner}: runs are refused (RT023), since they would not see every row`,
      fix: `ALTER ROLE ${owner} BYPASSRLS; -- or take FORCE ROW LEVEL SECURITY off app.sp_2025_01_b`,
    }]);
    expect(await partitionsOf('app.sp')).toEqual(['sp_2025_01', 'sp_2025_02']);
    expect(await count(db, 'app.sp_2025_01_b')).toBe(hidden);
  });

  it('a partition a dead run detached is not finished once row security binds the owner on it', async () => {
    await partitioned('dd');
    await q(`select retention.set_policy('dd', 'app.dd', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    // Row security forced on January, which the owner bypasses while the run detaches it.
    await forceTenantA('dd_2025_01');
    await q(`alter role ${owner} bypassrls`);
    const c = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('dd', p_as_of => '2025-04-15Z') as id`)).rows[0].id;
      for (let i = 0; i < 5; i++) {
        await c.query(`select retention.run_step($1)`, [id]);
        if (await count(db, `retention.run_batches where run_id = $1 and disposition = 'detached'`, [id]) > 0) break;
      }
    } finally {
      await c.end();   // the run dies with January detached
      await q(`alter role ${owner} nobypassrls`);   // (no change to the table: it stays ready to finish)
    }
    expect(await partitionsOf('app.dd')).toEqual(['dd_2025_02', 'dd_2025_03']);
    const jan = await count(db, 'app.dd_2025_01');
    expect(await sqlState(db.call(`call retention.run('dd', p_as_of => '2025-04-15Z')`))).toBe('RT023');
    expect(await count(db, 'app.dd_2025_01')).toBe(jan);
    expect(await partitionsOf('app.dd')).toEqual(['dd_2025_02', 'dd_2025_03']);
    expect((await q(`select error from retention.runs where policy_name = 'dd' order by run_id desc limit 1`))[0]!.error)
      .toContain(`row-level security on app.dd_2025_01 applies to the retention owner ${owner}`);
  });
});

describe('row security on a table that references a partitioned table (attack round atk113 F4)', () => {
  it('binds the owner: the detach is refused (RT023), since PostgreSQL\'s check of the referencing rows would read them through its policies; nothing detached', async () => {
    await partitioned('pref');
    await q(`alter table app.pref add primary key (id, created_at)`);
    await q(`create table app.pref_refs (id bigint, created_at timestamptz, tenant text not null,
               foreign key (id, created_at) references app.pref)`);
    await q(`insert into app.pref_refs select id, created_at, 'b' from app.pref where created_at >= '2025-03-01Z' limit 5`);
    await q(`alter table app.pref_refs owner to ${owner}`);
    await forceTenantA('pref_refs');
    await q(`select retention.set_policy('pref', 'app.pref', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    expect(await sqlState(db.call(`call retention.run('pref', p_as_of => '2025-03-15Z')`))).toBe('RT023');
    expect((await q(`select error from retention.runs where policy_name = 'pref' order by run_id desc limit 1`))[0]!.error)
      .toContain(`row-level security on app.pref_refs applies to the retention owner ${owner}`);
    expect(await partitionsOf('app.pref')).toEqual(['pref_2025_01', 'pref_2025_02', 'pref_2025_03']);
    // Bypassed by the owner, the run detaches and drops what is due.
    await q(`alter role ${owner} bypassrls`);
    try {
      await db.call(`call retention.run('pref', p_as_of => '2025-03-15Z')`);
    } finally {
      await q(`alter role ${owner} nobypassrls`);
    }
    expect(await partitionsOf('app.pref')).toEqual(['pref_2025_03']);
  });
});

describe('row security that binds the owner after the run opened (attack round atk23)', () => {
  it('is refused by the next batch: of a delete policy, and of a partition a hold keeps; the rows stay', async () => {
    await q(`create table app.mid (id int primary key, at timestamptz not null, tenant text not null)`);
    await q(`insert into app.mid select i, now() - interval '2 years', case when i % 2 = 0 then 'a' else 'b' end from generate_series(1, 100) i`);
    await q(`alter table app.mid owner to ${owner}`);
    await q(`select retention.set_policy('mid', 'app.mid', 'delete', 'at', p_retain => '1 year', p_batch_size => 10)`);
    const c = await db.connect();
    try {
      const id = (await c.query(`select retention.open_run('mid') as id`)).rows[0].id;
      expect((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s).toBe('running');
      expect(await count(db, 'app.mid')).toBe(90);
      await forceTenantA('mid');
      expect((await c.query(`select retention.run_step($1) as s`, [id])).rows[0].s).toBe('failed');
      expect(await count(db, 'app.mid')).toBe(90);
      expect((await q(`select error_code from retention.runs where run_id = $1`, [id]))[0]!.error_code).toBe('RT023');

      // A partition a subject hold keeps has its other rows deleted by batches: those check too.
      await partitioned('lv');
      await q(`select retention.set_policy('lv', 'app.lv', 'drop_partitions', 'created_at', p_retain => '1 day',
                 p_subject_column => 'user_id', p_max_rows_per_run => 1000000, p_batch_size => 10)`);
      await q(`select retention.place_hold('subject', '7', 'Audit')`);
      const id2 = (await c.query(`select retention.open_run('lv', p_as_of => '2025-04-15Z') as id`)).rows[0].id;
      await forceTenantA('lv_2025_01');
      const jan = await count(db, 'app.lv_2025_01');
      let s = 'running';
      for (let i = 0; i < 20 && s === 'running'; i++) s = (await c.query(`select retention.run_step($1) as s`, [id2])).rows[0].s;
      expect(s).toBe('failed');
      expect((await q(`select error_code from retention.runs where run_id = $1`, [id2]))[0]!.error_code).toBe('RT023');
      expect(await count(db, 'app.lv_2025_01')).toBe(jan);
    } finally {
      await c.end();
    }
  });

  it('row security on the partitioned table itself binds nothing a drop reads: check_setup does not name it, runs drop', async () => {
    await partitioned('pp');
    await q(`select retention.set_policy('pp', 'app.pp', 'drop_partitions', 'created_at', p_retain => '1 day', p_max_rows_per_run => 1000000)`);
    await forceTenantA('pp');
    expect(await q(`select problem from retention.check_setup() where policy = 'pp' and problem like 'row-level%'`)).toEqual([]);
    await db.call(`call retention.run('pp', p_as_of => '2025-04-15Z')`);
    expect(await partitionsOf('app.pp')).toEqual(['pp_2025_03']);
  });
});

describe('deletes when row security binds the retention owner', () => {
  it('a delete policy on a table whose expired rows the owner cannot all see is refused, and nothing goes', async () => {
    await q(`create table app.del (id int primary key, at timestamptz not null, tenant text not null)`);
    await q(`insert into app.del select i, now() - interval '2 years', case when i % 2 = 0 then 'a' else 'b' end from generate_series(1, 100) i`);
    await q(`alter table app.del owner to ${owner}`);
    await forceTenantA('del');
    await q(`select retention.set_policy('del', 'app.del', 'delete', 'at', p_retain => '1 year')`);
    const err = await db.call(`call retention.run('del')`).then(() => null, (e: { code?: string; message: string }) => e);
    expect(err).toMatchObject({ code: 'RT023', message: expect.stringContaining('row-level security on app.del applies to the retention owner') });
    expect(await count(db, 'app.del')).toBe(100);
    // A cascade child bound the same way is refused too.
    await q(`alter table app.del no force row level security`);
    await q(`create table app.del_child (id int primary key, del_id int references app.del on delete cascade, tenant text not null)`);
    await q(`insert into app.del_child select i, i, 'b' from generate_series(1, 100) i`);
    await q(`alter table app.del_child owner to ${owner}`);
    await forceTenantA('del_child');
    expect(await sqlState(db.call(`call retention.run('del')`))).toBe('RT023');
    expect(await count(db, 'app.del')).toBe(100);
    expect(await count(db, 'app.del_child')).toBe(100);
    // With BYPASSRLS the owner sees every row: the run deletes them all.
    await q(`alter role ${owner} bypassrls`);
    try {
      await db.call(`call retention.run('del')`);
      expect(await count(db, 'app.del')).toBe(0);
      expect(await count(db, 'app.del_child')).toBe(0);
    } finally {
      await q(`alter role ${owner} nobypassrls`);
    }
  });
});

describe('an owner that cannot see other roles\' sessions (atk82 F1, atk84 F2)', () => {
  it('stores no monthly report while another role is connected, says why, and check_setup names the grant', async () => {
    const other = await loginAs(db, `np_other_${randomBytes(3).toString('hex')}`);
    try {
      await other.query(`begin`);
      await other.query(`select 1`);
      const err = await db.q(`select * from retention.store_compliance_report()`).then(() => null, (e: unknown) => e as { code: string; message: string; hint: string });
      expect(err).toMatchObject({ code: 'RT040', message: expect.stringMatching(/cannot tell whether sessions of other roles/) });
      expect(err!.hint).toContain(`GRANT pg_read_all_stats TO ${owner}`);
      expect(await count(db, `retention.compliance_reports`)).toBe(0);
      expect(await count(db, `retention.check_setup() where policy is null and fix = 'GRANT pg_read_all_stats TO ${owner};'`)).toBe(1);
      // Granted, it sees the open transaction and waits for it, as a superuser owner does.
      await q(`grant pg_read_all_stats to ${owner}`);
      await other.query(`rollback`);
      await other.query(`begin`);
      await other.query(`select pg_sleep(0)`);
      expect(await count(db, `retention.check_setup() where policy is null and fix like 'GRANT pg_read_all_stats%'`)).toBe(0);
    } finally {
      await q(`revoke pg_read_all_stats from ${owner}`);
      await other.end();
    }
  });

  it('check_setup says when it cannot read the server\'s configuration for a timestamp age column', async () => {
    await q(`create table app.tz_events (id int primary key, at timestamp not null)`);
    await q(`alter table app.tz_events owner to ${owner}`);
    await q(`select retention.set_policy('tz_events', 'app.tz_events', 'delete', 'at', interval '1 year')`);
    const rows = await q(`select problem, fix from retention.check_setup() where policy is null and problem like '%pg_file_settings%'`);
    expect(rows).toEqual([{ problem: expect.stringContaining(`the retention owner ${owner} cannot read the server's configuration`),
                            fix: expect.stringContaining(`GRANT SELECT ON pg_catalog.pg_file_settings TO ${owner}`) }]);
  });
});

