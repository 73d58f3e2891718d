// An erasure reaches tables that hold the person's key without a foreign key: the column
// an erasure rule names (p_subject_column, p_subject_table) and every policy's subject
// column that can hold the key — not a column that references another table (a tenant),
// not one of another type. Rows referencing those rows follow through their foreign keys.
// The request carries the application's own reference back in erasure_completed.
import { describe, expect, it } from 'vitest';
import { sqlState, useTestDatabase } from './support/db.ts';
import { count } from './support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

async function app(): Promise<void> {
  await q(`drop schema if exists sc cascade`);
  await q(`create schema sc`);
  await q(`create table sc.users (id bigint primary key, email text)`);
  await q(`create table sc.tenants (id bigint primary key)`);
  await q(`create table sc.orders (id int primary key, user_id bigint references sc.users, at timestamptz not null default now())`);
  // Logs name the user without a foreign key; their policies say so (subject_column).
  await q(`create table sc.app_logs (id int primary key, user_id bigint, msg text, at timestamptz not null default now())`);
  await q(`create table sc.log_tags (id int primary key, log_id int references sc.app_logs on delete cascade, tag text)`);
  await q(`create table sc.kept_logs (id int primary key, user_id integer, at timestamptz not null default now())`);
  // A subject column that names a tenant (it references sc.tenants), one of another type.
  await q(`create table sc.tenant_data (id int primary key, tenant_id bigint references sc.tenants, at timestamptz not null default now())`);
  await q(`create table sc.labels (id int primary key, user_id text, at timestamptz not null default now())`);
  // Rows that are subjects of their own kind (the subject column is the table's key).
  await q(`create table sc.devices (id bigint primary key, at timestamptz not null default now())`);
  await q(`insert into sc.devices (id) values (7), (8)`);
  // A column that looks like the key (named like orders.user_id), no rule or policy: a gap.
  await q(`create table sc.notes (id int primary key, author_user_id bigint)`);
  await q(`insert into sc.notes values (1, 7), (2, 7), (3, 8)`);
  // A table no policy covers, named by an erasure rule.
  await q(`create table sc.chat (id int primary key, uid int, body text)`);
  await q(`insert into sc.users values (7, 'seven@example.com'), (8, 'eight@example.com')`);
  await q(`insert into sc.tenants values (7), (8)`);
  await q(`insert into sc.orders (id, user_id) values (1, 7), (2, 8)`);
  await q(`insert into sc.app_logs (id, user_id, msg) values (1, 7, 'login'), (2, 7, 'logout'), (3, 8, 'login'), (4, null, 'boot')`);
  await q(`insert into sc.log_tags values (1, 1, 'a'), (2, 3, 'b')`);
  await q(`insert into sc.kept_logs (id, user_id) values (1, 7), (2, 8)`);
  await q(`insert into sc.tenant_data (id, tenant_id) values (1, 7), (2, 8)`);
  await q(`insert into sc.labels (id, user_id) values (1, '7'), (2, '8')`);
  await q(`insert into sc.chat values (1, 7, 'hi'), (2, 8, 'yo')`);
  for (const [t, col] of [['app_logs', 'user_id'], ['kept_logs', 'user_id'], ['tenant_data', 'tenant_id'], ['labels', 'user_id'],
                          ['devices', 'id']]) {
    await q(`select retention.set_policy('sc.${t}', 'sc.${t}', 'delete', 'at', p_retain => '1 year', p_subject_column => '${col}')`);
  }
  await q(`select retention.set_policy('sc.orders', 'sc.orders', 'delete', 'at', p_retain => '1 year')`);
  await q(`select retention.set_erasure_rule('sc.chat', 'delete', p_subject_column => 'uid', p_subject_table => 'sc.users')`);
  await q(`select retention.set_erasure_rule('sc.kept_logs', 'keep', p_reason => 'Security logs: 1 year, BSI baseline')`);
}

describe('erasure beyond foreign keys', () => {
  it('the plan reaches subject columns and erasure-rule columns, and processing leaves no row of the person there', async () => {
    await app();
    const [req] = await q(`select request_id, reference from retention.request_erasure('sc.users', '7', 'privacy form', p_reference => 'T-4711')`);
    expect(req?.reference).toBe('T-4711');
    const plan = await q(`select target, depth, via, rule, rows::int from retention.erasure_plan($1) order by step`, [req?.request_id]);
    expect(plan).toEqual([
      { target: 'sc.users', depth: 0, via: null, rule: 'delete', rows: 1 },
      { target: 'sc.app_logs', depth: 1, via: 'subject column user_id of policy sc.app_logs', rule: 'delete', rows: 2 },
      { target: 'sc.chat', depth: 1, via: 'erasure rule: column uid', rule: 'delete', rows: 1 },
      { target: 'sc.kept_logs', depth: 1, via: 'subject column user_id of policy sc.kept_logs', rule: 'keep', rows: 1 },
      { target: 'sc.orders', depth: 1, via: 'orders_user_id_fkey', rule: 'delete', rows: 1 },
      { target: 'sc.log_tags', depth: 2, via: 'log_tags_log_id_fkey', rule: 'delete', rows: 1 },
      // Listed for a decision, with no rule: columns that look like the key (a text one
      // holding it as its digits too; a policy's subject column of another type is no step).
      { target: 'sc.labels', depth: null, via: 'column user_id looks like the subject\'s key', rule: null, rows: 1 },
      { target: 'sc.notes', depth: null, via: 'column author_user_id looks like the subject\'s key', rule: null, rows: 2 },
    ]);
    const [gap] = await q(`select warning from retention.erasure_plan($1) where target = 'sc.notes'`, [req?.request_id]);
    expect(gap?.warning).toMatch(/^not in the plan: .*p_subject_column => 'author_user_id'/);
    await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
    const [done] = await q(`select status from retention.erasure_requests where request_id = $1`, [req?.request_id]);
    expect(done?.status).toBe('completed');
    // The person's rows are gone from every table that named them, but the kept one.
    expect(await count(db, `sc.app_logs where user_id = 7`)).toBe(0);
    expect(await count(db, `sc.chat where uid = 7`)).toBe(0);
    expect(await count(db, `sc.log_tags where log_id in (1, 2)`)).toBe(0);
    expect(await count(db, `sc.kept_logs where user_id = 7`)).toBe(1);
    // Nobody else's: user 8, the log without a user, tenant 7, the text column's '7',
    // device 7.
    expect(await count(db, `sc.app_logs`)).toBe(2);
    expect(await count(db, `sc.log_tags`)).toBe(1);
    expect(await count(db, `sc.tenant_data`)).toBe(2);
    expect(await count(db, `sc.labels`)).toBe(2);
    expect(await count(db, `sc.chat`)).toBe(1);
    expect(await count(db, `sc.devices`)).toBe(2);
    // The gap was only listed: its rows stay until a rule says what they are.
    expect(await count(db, `sc.notes`)).toBe(3);
    // The evidence names each location and its rows.
    const evidence = await q(`select target, rule, rows::int from retention.erasure_evidence where request_id = $1 order by target`, [req?.request_id]);
    expect(evidence.map((e) => e.target)).toEqual(['sc.app_logs', 'sc.chat', 'sc.kept_logs', 'sc.log_tags', 'sc.orders', 'sc.users']);
    // The confirmation carries the application's reference.
    const [note] = await q(`select payload from retention.notifications where kind = 'erasure_completed' and payload ->> 'request_id' = $1::text`,
      [req?.request_id]);
    expect(note?.payload.reference).toBe('T-4711');
  });

  it('a subject column another table\'s key reaches too gets the rows of both', async () => {
    await app();
    // sc.orders names a buyer without a foreign key, beside its user_id key.
    await q(`alter table sc.orders add column buyer_id bigint`);
    await q(`update sc.orders set buyer_id = 7 where id = 2`);
    await q(`select retention.set_erasure_rule('sc.orders', 'delete', p_subject_column => 'buyer_id', p_subject_table => 'sc.users')`);
    const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
    const [orders] = await q(`select via, rows::int from retention.erasure_plan($1) where target = 'sc.orders'`, [req?.request_id]);
    expect(orders).toEqual({ via: 'erasure rule: column buyer_id, orders_user_id_fkey', rows: 2 });
  });

  it('bad erasure rule columns and references are refused with a hint and change nothing', async () => {
    await app();
    const rules = await count(db, 'retention.erasure_rules');
    for (const [sql, args, code] of [
      [`select retention.set_erasure_rule($1, 'delete', p_subject_column => $2, p_subject_table => $3)`, ['sc.chat', 'nope', 'sc.users'], 'RT002'],
      [`select retention.set_erasure_rule($1, 'delete', p_subject_column => $2)`, ['sc.chat', 'uid'], 'RT020'],
      [`select retention.set_erasure_rule($1, 'delete', p_subject_table => $2)`, ['sc.chat', 'sc.users'], 'RT020'],
      [`select retention.set_erasure_rule(null, 'delete', p_subject_column => $1, p_subject_table => $2)`, ['uid', 'sc.users'], 'RT020'],
      [`select retention.set_erasure_rule($1, 'delete', p_subject_column => $2, p_subject_table => $3)`, ['sc.chat', 'uid', 'sc.nope'], 'RT001'],
      [`select retention.set_erasure_rule($1, 'delete', p_subject_column => $2, p_subject_table => $3)`, ['sc.orders', 'at', 'sc.users'], 'RT020'],
      [`select retention.set_erasure_rule($1, 'delete', p_subject_column => $2, p_subject_table => $3)`, ['sc.users', 'id', 'sc.users'], 'RT020'],
      [`select retention.set_erasure_rule($1, 'delete', p_subject_column => $2, p_subject_table => $3)`, ['sc.chat', 'uid; drop table sc.users', 'sc.users'], 'RT002'],
    ] as const) {
      expect(await sqlState(q(sql, [...args])), `${sql} ${args.join(' ')}`).toBe(code);
    }
    expect(await count(db, 'retention.erasure_rules')).toBe(rules);
    const requests = await count(db, 'retention.erasure_requests');
    for (const ref of ['', ' ', 'x'.repeat(201), 'a\nb']) {
      expect(await sqlState(q(`select retention.request_erasure('sc.users', '7', 'privacy form', p_reference => $1)`, [ref]))).toBe('RT029');
    }
    expect(await count(db, 'retention.erasure_requests')).toBe(requests);
    expect(await count(db, 'sc.users')).toBe(2);
  });

  it('a partitioned table is one location: a key on one partition, or a subject column, reaches the rows of all of them', async () => {
    await app();
    // Requests: a policy's subject column on the partitioned table.
    await q(`create table sc.requests (id int, user_id bigint, at timestamptz not null) partition by range (at)`);
    await q(`create table sc.requests_old partition of sc.requests for values from ('2000-01-01') to ('2025-01-01')`);
    await q(`create table sc.requests_new partition of sc.requests for values from ('2025-01-01') to ('2100-01-01')`);
    await q(`insert into sc.requests values (1, 7, '2024-06-01'), (2, 7, now()), (3, 8, now())`);
    await q(`select retention.set_policy('sc.requests', 'sc.requests', 'drop_partitions', 'at', p_retain => '1 year', p_subject_column => 'user_id')`);
    // Events: the foreign key is declared on one partition only, as real schemas do.
    await q(`create table sc.events (id int, user_id bigint, at timestamptz not null) partition by range (at)`);
    await q(`create table sc.events_old partition of sc.events for values from ('2000-01-01') to ('2025-01-01')`);
    await q(`create table sc.events_new partition of sc.events for values from ('2025-01-01') to ('2100-01-01')`);
    await q(`alter table sc.events_new add foreign key (user_id) references sc.users`);
    await q(`insert into sc.events values (1, 7, '2024-06-01'), (2, 7, now()), (3, 8, now())`);
    const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
    const plan = await q(`select target, depth, rule, rows::int, warning from retention.erasure_plan($1)
                           where target like 'sc.requests%' or target like 'sc.events%' order by target`, [req?.request_id]);
    expect(plan).toEqual([
      { target: 'sc.events_new', depth: 1, rule: 'delete', rows: 1, warning: null },
      { target: 'sc.events_old', depth: 1, rule: 'delete', rows: 1, warning: null },
      { target: 'sc.requests_new', depth: 1, rule: 'delete', rows: 1, warning: null },
      { target: 'sc.requests_old', depth: 1, rule: 'delete', rows: 1, warning: null },
    ]);
    // A hold on the partitioned table holds its partitions' rows: nothing changes.
    const [hold] = await q(`select hold_id from retention.place_hold('table', 'sc.events', 'audit')`);
    await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req?.request_id]))[0]?.status).toBe('blocked_by_hold');
    expect([await count(db, 'sc.events'), await count(db, 'sc.requests'), await count(db, 'sc.users')]).toEqual([3, 3, 2]);
    await q(`select retention.release_hold($1, 'audit done')`, [hold?.hold_id]);
    await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
    expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req?.request_id]))[0]?.status).toBe('completed');
    expect((await q(`select id from sc.requests order by id`)).map((r) => r.id)).toEqual([3]);
    expect((await q(`select id from sc.events order by id`)).map((r) => r.id)).toEqual([3]);
  });

  describe('partitioned tables, as an attacker tried them', () => {
    it('a subject column a sibling partition\'s policy declares holds rows in every partition', async () => {
      await app();
      await q(`create table sc.ev (id int, user_id bigint references sc.users, owner_id bigint, at timestamptz not null) partition by range (at)`);
      await q(`create table sc.ev_old partition of sc.ev for values from ('2000-01-01') to ('2025-01-01')`);
      await q(`create table sc.ev_new partition of sc.ev for values from ('2025-01-01') to ('2100-01-01')`);
      // A row policy on the old partition says owner_id names a person; user 9 is held.
      await q(`select retention.set_policy('sc.ev-old', 'sc.ev_old', 'delete', 'at', p_retain => '10 years', p_subject_column => 'owner_id')`);
      await q(`insert into sc.users values (9, 'nine@example.com')`);
      await q(`insert into sc.ev values (1, 7, 9, now()), (2, 7, null, now()), (3, 8, null, now())`);
      const [hold] = await q(`select hold_id from retention.place_hold('subject', '9', 'litigation about 9')`);
      try {
        const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
        await db.call(`call retention.process_erasure($1)`, [req?.request_id]).catch(() => undefined);
        // Row 1 (user 7's, but held through owner 9) stays: the request is blocked by the hold.
        expect((await q(`select id from sc.ev where id = 1`))).toHaveLength(1);
        expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req?.request_id]))[0]?.status).toBe('blocked_by_hold');
      } finally {
        await q(`select retention.release_hold($1, 'done')`, [hold?.hold_id]);
      }
    });

    it('a partition whose column references another table is not reached through it; a key within the family is not followed', async () => {
      await app();
      await q(`create table sc.acts (id int, user_id bigint, parent_id int, at timestamptz not null) partition by range (at)`);
      await q(`create table sc.acts_users partition of sc.acts for values from ('2000-01-01') to ('2025-01-01')`);
      await q(`create table sc.acts_tenants partition of sc.acts for values from ('2025-01-01') to ('2100-01-01')`);
      await q(`alter table sc.acts_users add foreign key (user_id) references sc.users`);
      // In this partition user_id names a tenant (tenant 7 is not user 7).
      await q(`alter table sc.acts_tenants add foreign key (user_id) references sc.tenants`);
      await q(`insert into sc.acts values (1, 7, null, '2024-01-01'), (2, 8, null, '2024-01-01'), (3, 7, null, now())`);
      const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
      const plan = await q(`select target, rows::int from retention.erasure_plan($1) where target like 'sc.acts%'`, [req?.request_id]);
      expect(plan).toEqual([{ target: 'sc.acts_users', rows: 1 }]);
      await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
      expect((await q(`select id from sc.acts order by id`)).map((r) => r.id)).toEqual([2, 3]);
    });

    it('a key into the partitioned table from rows that stay is a conflict; a foreign partition is refused', async () => {
      await app();
      await q(`create table sc.posts (id int, user_id bigint references sc.users, body text, at timestamptz not null, primary key (id, at)) partition by range (at)`);
      await q(`create table sc.posts_1 partition of sc.posts for values from ('2000-01-01') to ('2100-01-01')`);
      await q(`create table sc.replies (id int primary key, post_id int, post_at timestamptz, user_id bigint, foreign key (post_id, post_at) references sc.posts)`);
      await q(`insert into sc.posts values (1, 7, 'mine', '2024-01-01'), (2, 8, 'theirs', '2024-01-01')`);
      await q(`insert into sc.replies values (1, 1, '2024-01-01', 8)`);   // user 8 replied to user 7's post
      const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
      const plan = await q(`select target, warning from retention.erasure_plan($1) where target in ('sc.posts_1', 'sc.replies')`, [req?.request_id]);
      expect(plan.find((p) => p.target === 'sc.replies')).toBeDefined();
      // The replies step deletes user 8's reply to the person's post: it references the
      // person's rows. Scrubbing instead: the key columns referenced by replies may not be scrubbed.
      await q(`select retention.set_erasure_rule('sc.replies', 'keep', p_reason => 'discussion kept')`);
      const kept = await q(`select warning from retention.erasure_plan($1) where target = 'sc.posts_1'`, [req?.request_id]);
      expect(kept[0]?.warning).toMatch(/replies/);
      await expect(db.call(`call retention.process_erasure($1)`, [req?.request_id])).rejects.toThrow(/cannot be carried out/);
      expect(await count(db, 'sc.posts')).toBe(2);
      // A partitioned table with a foreign table among its partitions: refused.
      const has = await q(`select 1 from pg_available_extensions where name = 'postgres_fdw'`);
      if (has.length) {
        await q(`create table sc.marks (id int, user_id bigint, at timestamptz not null) partition by range (at)`);
        await q(`create table sc.marks_1 partition of sc.marks for values from ('2000-01-01') to ('2100-01-01')`);
        await q(`select retention.set_erasure_rule('sc.marks', 'delete', p_subject_column => 'user_id', p_subject_table => 'sc.users')`);
        await q(`create extension if not exists postgres_fdw`);
        await q(`create server if not exists sc_remote foreign data wrapper postgres_fdw options (dbname 'nowhere')`);
        await q(`create foreign table sc.marks_remote partition of sc.marks for values from ('1900-01-01') to ('2000-01-01') server sc_remote`);
        await q(`select retention.set_erasure_rule('sc.replies', 'delete')`);
        const warn = await q(`select warning from retention.erasure_plan($1) where target = 'sc.marks_1'`, [req?.request_id]);
        expect(warn[0]?.warning).toMatch(/marks_remote of sc\.marks is a foreign table/);
        await expect(db.call(`call retention.process_erasure($1)`, [req?.request_id])).rejects.toThrow(/cannot be carried out/);
        await q(`select retention.set_erasure_rule('sc.marks', 'delete')`);
        await q(`drop table sc.marks`);
      }
    });

    it('second round: a partition as subject table, keys per partition, a keep rule on one partition, foreign partitions only, a second key, a composite tenant key', async () => {
      await app();
      const erase = async (table: string, id: string) => {
        const [r] = await q(`select request_id from retention.request_erasure($1, $2, 'privacy form')`, [table, id]);
        return r!.request_id as string;
      };
      const status = async (id: string) => (await q(`select status from retention.erasure_requests where request_id = $1`, [id]))[0]?.status;
      // F1: the subject table is a partition with its own key: only that partition.
      await q(`create table sc.people (id bigint not null, region text not null, email text) partition by list (region)`);
      await q(`create table sc.people_eu partition of sc.people for values in ('eu')`);
      await q(`create table sc.people_us partition of sc.people for values in ('us')`);
      await q(`alter table sc.people_eu add primary key (id)`);
      await q(`alter table sc.people_us add primary key (id)`);
      await q(`insert into sc.people values (7, 'eu', 'alice@eu'), (7, 'us', 'bob@us'), (8, 'eu', 'c')`);
      const doc = (await q(`select retention.export_subject('sc.people_eu', '7')::text as d`))[0]!.d as string;
      expect(doc).not.toContain('bob@us');
      const r1 = await erase('sc.people_eu', '7');
      await db.call(`call retention.process_erasure($1)`, [r1]);
      expect(await q(`select id::int, region from sc.people order by region, id`)).toEqual([{ id: 8, region: 'eu' }, { id: 7, region: 'us' }]);

      // F2: each partition's key names its own partition of the referenced table.
      await q(`create table sc.accts (id bigint not null, region text not null, user_id bigint references sc.users) partition by list (region)`);
      await q(`create table sc.accts_eu partition of sc.accts for values in ('eu')`);
      await q(`create table sc.accts_us partition of sc.accts for values in ('us')`);
      await q(`alter table sc.accts_eu add primary key (id)`);
      await q(`alter table sc.accts_us add primary key (id)`);
      await q(`insert into sc.accts values (5, 'eu', 7), (5, 'us', 8)`);
      await q(`create table sc.cards (id int, region text not null, account_id bigint) partition by list (region)`);
      await q(`create table sc.cards_eu partition of sc.cards for values in ('eu')`);
      await q(`create table sc.cards_us partition of sc.cards for values in ('us')`);
      await q(`alter table sc.cards_eu add foreign key (account_id) references sc.accts_eu (id)`);
      await q(`alter table sc.cards_us add foreign key (account_id) references sc.accts_us (id)`);
      await q(`insert into sc.cards values (100, 'eu', 5), (200, 'us', 5)`);
      // F5: a partition whose key column also references another table keeps the parent's key too.
      await q(`create table sc.legacy (id bigint primary key)`);
      await q(`insert into sc.legacy values (7), (8)`);
      await q(`create table sc.notes2 (id int, user_id bigint references sc.users on delete set null, note text, at date not null) partition by range (at)`);
      await q(`create table sc.notes2_a partition of sc.notes2 for values from ('2020-01-01') to ('2024-01-01')`);
      await q(`create table sc.notes2_b partition of sc.notes2 for values from ('2024-01-01') to ('2030-01-01')`);
      await q(`alter table sc.notes2_b add foreign key (user_id) references sc.legacy`);
      await q(`insert into sc.notes2 values (1, 7, 'secret a', '2021-01-01'), (2, 7, 'secret b', '2025-01-01'), (3, 8, 'bob', '2025-01-01')`);
      // F6: a composite key with the tenant (an ordinary table).
      await q(`create table sc.taccts (tenant_id bigint references sc.tenants, id bigint, user_id bigint references sc.users, primary key (tenant_id, id))`);
      await q(`create table sc.tcards (id int primary key, tenant_id bigint references sc.tenants, account_id bigint,
                 foreign key (tenant_id, account_id) references sc.taccts on delete cascade)`);
      await q(`insert into sc.taccts values (7, 1, 7), (8, 1, 8)`);
      await q(`insert into sc.tcards values (1, 7, 1), (2, 8, 1)`);
      const r2 = await erase('sc.users', '7');
      const plan = await q(`select target, rows::int from retention.erasure_plan($1) where target like 'sc.cards%' or target like 'sc.notes2%' or target = 'sc.tcards' order by target`, [r2]);
      // cards_us is reached only from the person's accounts in accts_us (none).
      expect(plan).toEqual([{ target: 'sc.cards_eu', rows: 1 }, { target: 'sc.cards_us', rows: 0 }, { target: 'sc.notes2_a', rows: 1 },
                            { target: 'sc.notes2_b', rows: 1 }, { target: 'sc.tcards', rows: 1 }]);
      await db.call(`call retention.process_erasure($1)`, [r2]);
      expect(await status(r2)).toBe('completed');
      expect((await q(`select id from sc.cards order by id`)).map((r) => r.id)).toEqual([200]);
      expect((await q(`select id from sc.notes2 order by id`)).map((r) => r.id)).toEqual([3]);
      expect((await q(`select id from sc.tcards order by id`)).map((r) => r.id)).toEqual([2]);
    });

    it('second round: a keep rule on one partition is not bypassed by a cascade; a family of foreign partitions only is refused', async () => {
      await app();
      await q(`create table sc.ev2 (id int, user_id bigint references sc.users on delete cascade, at date not null) partition by range (at)`);
      await q(`create table sc.ev2_a partition of sc.ev2 for values from ('2020-01-01') to ('2024-01-01')`);
      await q(`create table sc.ev2_b partition of sc.ev2 for values from ('2024-01-01') to ('2030-01-01')`);
      await q(`insert into sc.ev2 values (1, 7, '2021-01-01'), (2, 7, '2025-01-01'), (3, 8, '2025-01-01')`);
      await q(`select retention.set_erasure_rule('sc.ev2_b', 'keep', p_reason => 'tax law 10 years')`);
      const [r] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
      const w = await q(`select warning from retention.erasure_plan($1) where target = 'sc.users'`, [r?.request_id]);
      expect(w[0]?.warning).toMatch(/cascade to 1 row\(s\) of sc\.ev2_b, which the plan keeps/);
      await expect(db.call(`call retention.process_erasure($1)`, [r?.request_id])).rejects.toThrow(/cannot be carried out/);
      expect(await count(db, 'sc.ev2')).toBe(3);
      await q(`select retention.set_erasure_rule('sc.ev2_b', 'delete')`);
      await q(`drop table sc.ev2`);
      const has = await q(`select 1 from pg_available_extensions where name = 'postgres_fdw'`);
      if (has.length) {
        await q(`create extension if not exists postgres_fdw`);
        await q(`create server if not exists sc_remote2 foreign data wrapper postgres_fdw options (dbname 'nowhere')`);
        await q(`create table sc.rev (id int, user_id bigint, at date not null) partition by range (at)`);
        await q(`create foreign table sc.rev_old partition of sc.rev for values from ('2020-01-01') to ('2024-01-01') server sc_remote2`);
        await q(`select retention.set_erasure_rule('sc.rev', 'delete', p_subject_column => 'user_id', p_subject_table => 'sc.users')`);
        const [r2] = await q(`select request_id from retention.request_erasure('sc.users', '8', 'privacy form')`);
        const warn = await q(`select warning from retention.erasure_plan($1) where target = 'sc.rev'`, [r2?.request_id]);
        expect(warn[0]?.warning).toMatch(/rev_old of sc\.rev is a foreign table/);
        await expect(db.call(`call retention.process_erasure($1)`, [r2?.request_id])).rejects.toThrow(/cannot be carried out/);
        await q(`select retention.set_erasure_rule('sc.rev', 'delete')`);
        await q(`drop table sc.rev`);
      }
    });

    it('third round: a partition attached mid-processing under a SET NULL key, or a foreign one, fails the request', async () => {
      await app();
      await q(`create table sc.memos (id int, user_id bigint references sc.users on delete set null, body text, region text) partition by list (region)`);
      await q(`create table sc.memos_eu partition of sc.memos for values in ('eu')`);
      await q(`insert into sc.memos values (1, 7, 'alice eu', 'eu'), (2, 8, 'bob eu', 'eu')`);
      const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
      const c = await db.connect();
      try {
        expect((await c.query(`select retention.open_erasure($1) as s`, [req!.request_id])).rows[0].s).toBe('in_progress');
        await q(`create table sc.memos_us (like sc.memos)`);
        await q(`insert into sc.memos_us values (3, 7, 'alice us secret', 'us')`);
        await q(`alter table sc.memos attach partition sc.memos_us for values in ('us')`);
        let step = (await c.query(`select * from retention.erasure_step($1)`, [req!.request_id])).rows[0];
        while (step.run_id) {
          while ((await c.query(`select retention.run_step($1) as s`, [step.run_id])).rows[0].s === 'running');
          step = (await c.query(`select * from retention.erasure_step($1)`, [req!.request_id])).rows[0];
        }
        expect(step).toMatchObject({ status: 'failed', code: 'RT032', message: expect.stringMatching(/partition sc\.memos_us was attached to sc\.memos after processing began/) });
      } finally {
        await c.end();
      }
      expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req?.request_id]))[0]?.status).toBe('failed');
    });

    it('a partition attached after processing began fails the request; processing again takes its rows', async () => {
      await app();
      // Logs name the user without a foreign key (an erasure rule's subject column).
      await q(`create table sc.logs (id int, user_id bigint, at timestamptz not null) partition by range (at)`);
      await q(`create table sc.logs_1 partition of sc.logs for values from ('2000-01-01') to ('2025-01-01')`);
      await q(`select retention.set_erasure_rule('sc.logs', 'delete', p_subject_column => 'user_id', p_subject_table => 'sc.users')`);
      await q(`insert into sc.logs values (1, 7, '2024-01-01'), (2, 8, '2024-01-01')`);
      const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
      const c = await db.connect();
      try {
        expect((await c.query(`select retention.open_erasure($1) as s`, [req!.request_id])).rows[0].s).toBe('in_progress');
        // Attached now, with a row of the person.
        await q(`create table sc.logs_2 (id int, user_id bigint, at timestamptz not null)`);
        await q(`insert into sc.logs_2 values (3, 7, now())`);
        await q(`alter table sc.logs attach partition sc.logs_2 for values from ('2025-01-01') to ('2100-01-01')`);
        let step = (await c.query(`select * from retention.erasure_step($1)`, [req!.request_id])).rows[0];
        while (step.run_id) {
          while ((await c.query(`select retention.run_step($1) as s`, [step.run_id])).rows[0].s === 'running');
          step = (await c.query(`select * from retention.erasure_step($1)`, [req!.request_id])).rows[0];
        }
        expect(step).toMatchObject({ status: 'failed', code: 'RT032', message: expect.stringMatching(/partition sc\.logs_2 was attached to sc\.logs after processing began/) });
      } finally {
        await c.end();
      }
      expect(await count(db, 'sc.logs where user_id = 7')).toBe(1);
      await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
      expect((await q(`select status from retention.erasure_requests where request_id = $1`, [req?.request_id]))[0]?.status).toBe('completed');
      expect(await count(db, 'sc.logs where user_id = 7')).toBe(0);
    });
  });

  it('rows the person\'s own row points at are listed for a decision, and left alone', async () => {
    await app();
    await q(`create table sc.addresses (id int primary key, street text)`);
    await q(`insert into sc.addresses values (1, 'Main St 7'), (2, 'Main St 8')`);
    await q(`alter table sc.users add column address_id int references sc.addresses`);
    await q(`update sc.users set address_id = id - 6`);
    const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
    const [ref] = await q(`select depth, via, rule, rows::int, warning from retention.erasure_plan($1) where target = 'sc.addresses'`,
      [req?.request_id]);
    expect(ref).toMatchObject({ depth: null, via: 'referenced by the person\'s row through users_address_id_fkey', rule: null, rows: 1 });
    expect(ref?.warning).toMatch(/^not in the plan: the person's row points at these rows/);
    await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
    expect(await count(db, 'sc.addresses')).toBe(2);
  });

  it('a request that cannot be carried out leaves the caller\'s session settings as they were', async () => {
    await app();
    // Orders are kept, and their key refuses the user's delete: the plan fails (RT032).
    await q(`select retention.set_erasure_rule('sc.orders', 'keep', p_reason => 'Tax records: 10 years')`);
    const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
    const c = await db.connect();
    try {
      await c.query(`set search_path = sc, public`);
      await c.query(`set timezone = 'Europe/Berlin'`);
      await expect(c.query(`call retention.process_erasure($1)`, [req?.request_id])).rejects.toThrow(/cannot be carried out/);
      expect((await c.query(`show search_path`)).rows[0].search_path).toBe('sc, public');
      expect((await c.query(`show timezone`)).rows[0].TimeZone).toBe('Europe/Berlin');
      // Unqualified names work as before.
      expect((await c.query(`select count(*)::int as n from users`)).rows[0].n).toBe(2);
    } finally {
      await c.end();
    }
  });

  // A review of this feature found these; each failed before its fix.
  describe('what a review found', () => {
    it('a policy\'s subject column counts only for the subject table its name belongs to', async () => {
      await app();
      await q(`create table sc.customers (id bigint primary key)`);
      await q(`insert into sc.customers values (7)`);
      const [req] = await q(`select request_id from retention.request_erasure('sc.customers', '7', 'privacy form')`);
      const plan = await q(`select target from retention.erasure_plan($1) where rule is not null`, [req?.request_id]);
      expect(plan.map((p) => p.target)).toEqual(['sc.customers']);
      await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
      // User 7's logs are not customer 7's.
      expect(await count(db, `sc.app_logs where user_id = 7`)).toBe(2);
    });

    it('the key is compared without the column\'s length or scale, and byte for byte', async () => {
      await q(`drop schema if exists tm cascade`);
      await q(`create schema tm`);
      await q(`create table tm.users (id text primary key)`);
      await q(`insert into tm.users values ('alice'), ('alicebob')`);
      await q(`create table tm.short_log (id serial primary key, uname varchar(5))`);
      await q(`insert into tm.short_log (uname) values ('alice'), ('alice')`);
      await q(`select retention.set_erasure_rule('tm.short_log', 'delete', p_subject_column => 'uname', p_subject_table => 'tm.users')`);
      await q(`create table tm.nums (id numeric primary key)`);
      await q(`insert into tm.nums values (7.5), (8)`);
      await q(`create table tm.num_log (id serial primary key, uid numeric(5, 0))`);
      await q(`insert into tm.num_log (uid) values (8), (8)`);
      await q(`select retention.set_erasure_rule('tm.num_log', 'delete', p_subject_column => 'uid', p_subject_table => 'tm.nums')`);
      for (const [table, key] of [['tm.users', 'alicebob'], ['tm.nums', '7.5']]) {
        const [req] = await q(`select request_id from retention.request_erasure($1, $2, 'privacy form')`, [table, key]);
        await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
      }
      // 'alicebob' is not 'alice' cut to five characters; 7.5 is not 8 rounded.
      expect(await count(db, 'tm.short_log')).toBe(2);
      expect(await count(db, 'tm.num_log')).toBe(2);
      const icu = await q(`create collation tm.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`).then(() => true, () => false);
      if (icu) {
        await q(`insert into tm.users values ('Bob'), ('bob')`);
        await q(`create table tm.ci_log (id serial primary key, uname text collate tm.ci)`);
        await q(`insert into tm.ci_log (uname) values ('Bob'), ('bob'), ('BOB')`);
        await q(`select retention.set_erasure_rule('tm.ci_log', 'delete', p_subject_column => 'uname', p_subject_table => 'tm.users')`);
        const [req] = await q(`select request_id from retention.request_erasure('tm.users', 'Bob', 'privacy form')`);
        await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
        expect((await q(`select uname from tm.ci_log order by uname collate "C"`)).map((r) => r.uname)).toEqual(['BOB', 'bob']);
      }
    });

    it('a subject hold keeps the rows an erasure rule\'s column names, for erasures and for policies', async () => {
      await app();
      await q(`select retention.set_erasure_rule('sc.users', 'keep', p_reason => 'Customer ledger: 10 years')`);
      const [hold] = await q(`select hold_id from retention.place_hold('subject', '7', 'litigation')`);
      const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
      await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
      const [r] = await q(`select status from retention.erasure_requests where request_id = $1`, [req?.request_id]);
      expect(r?.status).toBe('blocked_by_hold');
      expect(await count(db, `sc.chat where uid = 7`)).toBe(1);
      // A policy on the table, knowing nothing of subjects, keeps them too.
      await q(`alter table sc.chat add column at timestamptz not null default now() - interval '2 years'`);
      await q(`select retention.set_policy('sc.chat', 'sc.chat', 'delete', 'at', p_retain => '1 year')`);
      await db.call(`call retention.run('sc.chat')`);
      expect((await q(`select uid from sc.chat`)).map((x) => x.uid)).toEqual([7]);
      await q(`select retention.release_hold($1, 'settled')`, [hold?.hold_id]);
    });

    it('an erasure rule whose column went away fails the plan; a view is refused', async () => {
      await app();
      await q(`alter table sc.chat rename column uid to user_ref`);
      const [req] = await q(`select request_id from retention.request_erasure('sc.users', '7', 'privacy form')`);
      expect(await sqlState(q(`select * from retention.erasure_plan($1)`, [req?.request_id]))).toBe('RT002');
      await expect(db.call(`call retention.process_erasure($1)`, [req?.request_id])).rejects.toThrow(/no longer holds a key/);
      expect(await count(db, `sc.app_logs where user_id = 7`)).toBe(2);
      await q(`create view sc.chat_view as select * from sc.chat`);
      expect(await sqlState(q(`select retention.set_erasure_rule('sc.chat_view', 'delete', p_subject_column => 'user_ref', p_subject_table => 'sc.users')`))).toBe('RT013');
    });

    it('a reference that changes the text direction, or repeats who asked, is refused', async () => {
      await app();
      const before = await count(db, 'retention.erasure_requests');
      for (const [ref, by] of [['T-\u202E1174', 'privacy form'], ['ann@example.com', 'Ann@Example.com']]) {
        expect(await sqlState(q(`select retention.request_erasure('sc.users', '7', $2, p_reference => $1)`, [ref, by]))).toBe('RT029');
      }
      expect(await count(db, 'retention.erasure_requests')).toBe(before);
    });
  });
});
