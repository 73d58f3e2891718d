// Attack round atk32 (F5, F5b): a subject hold kept only rows whose subject columns, or a
// single-column foreign key to a subject table's key, named the person, while an erasure
// of that person takes every row that reaches them through foreign keys. Rows linked by a
// composite key (tenant_id, user_id), by a key to a unique column other than the primary
// key (users.email), or two keys away (order_notes -> orders -> users) were deleted and
// scrubbed under an open hold (preview said held back 0), partitions holding them were
// dropped, archived copies were pruned, and another person's erasure deleted them instead
// of ending blocked_by_hold.
// A subject hold now covers what the erasure would take (_subject_held_sql).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

async function heldBack(policy: string): Promise<number> {
  const [p] = await q<{ held_back: number }>(`select held_back::int from retention.preview($1)`, [policy]);
  return p!.held_back;
}

async function scrubThenDelete(table: string, column: string): Promise<void> {
  await q(`select retention.set_policy($1, $2, 'scrub', 'created_at', p_retain => '1 year', p_scrub => jsonb_build_object($3::text, null))`,
          [`${table}-scrub`, table, column]);
  await q(`select retention.set_policy($1, $2, 'delete', 'created_at', p_retain => '1 year')`, [`${table}-delete`, table]);
}

async function eraseOther(table: string, id: string): Promise<string> {
  const [r] = await q<{ request_id: number }>(`select request_id::int from retention.request_erasure($1, $2, 'ticket')`, [table, id]);
  await db.call(`call retention.process_erasure($1)`, [r!.request_id]);
  const [s] = await q<{ status: string }>(`select status from retention.erasure_requests where request_id = $1`, [r!.request_id]);
  return s!.status;
}

/** archive_rows_held for one row of an archive object (the prune's check). */
async function archiveHeld(table: string, row: Record<string, unknown>): Promise<boolean> {
  const [r] = await q<{ held: boolean }>(`select retention.archive_rows_held(0, $1::jsonb) as held`, [JSON.stringify([{ table, row }])]);
  return r!.held;
}

describe('a subject hold keeps every row an erasure of the person would take (atk32)', () => {
  it('through a composite foreign key (tenant_id, user_id)', async () => {
    await q(`create schema rc`);
    await q(`create table rc.users (id bigint primary key, tenant_id int not null, created_at timestamptz not null default now(), unique (tenant_id, id))`);
    await q(`create table rc.orders (id bigint primary key, tenant_id int, user_id bigint, note text, created_at timestamptz not null,
               foreign key (tenant_id, user_id) references rc.users (tenant_id, id))`);
    await q(`create table rc.messages (id bigint primary key, sender_id bigint references rc.users on delete cascade,
               tenant_id int, recipient_id bigint, body text, created_at timestamptz not null default now(),
               foreign key (tenant_id, recipient_id) references rc.users (tenant_id, id))`);
    await q(`insert into rc.users (id, tenant_id) values (1, 7), (2, 7)`);
    await q(`insert into rc.orders select i, 7, 1 + i % 2, 'n', now() - interval '3 years' from generate_series(1, 8) i`);
    await q(`insert into rc.messages (id, sender_id, tenant_id, recipient_id, body) values (1, 2, 7, 1, 'Bob to Alice')`);
    await q(`select retention.set_policy('rc.users', 'rc.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'id', p_enabled => false)`);
    await scrubThenDelete('rc.orders', 'note');
    await q(`select retention.place_hold('subject', '1', 'litigation: Alice')`);

    expect(await heldBack('rc.orders-scrub')).toBe(4);
    await db.call(`call retention.run('rc.orders-scrub')`);
    expect(await count(db, `rc.orders where note is not null`)).toBe(4);
    expect(await heldBack('rc.orders-delete')).toBe(4);
    await db.call(`call retention.run('rc.orders-delete')`);
    expect(await q(`select distinct user_id::int from rc.orders`)).toEqual([{ user_id: 1 }]);
    // Bob's message to Alice is Alice's too: Bob's erasure stops at it.
    expect(await eraseOther('rc.users', '2')).toBe('blocked_by_hold');
    expect(await count(db, `rc.messages`)).toBe(1);
    // An archived order of Alice's is kept past its expiry, one of Bob's is not.
    expect(await archiveHeld('rc.orders', { id: 1, tenant_id: 7, user_id: 1 })).toBe(true);
    expect(await archiveHeld('rc.orders', { id: 2, tenant_id: 7, user_id: 2 })).toBe(false);
  });

  it('through a foreign key to a unique column other than the key (users.email)', async () => {
    await q(`create schema ru`);
    await q(`create table ru.users (id bigint primary key, email text not null unique, created_at timestamptz not null default now())`);
    await q(`create table ru.mails (id bigint primary key, sender_id bigint references ru.users on delete cascade,
               to_email text references ru.users (email), body text, created_at timestamptz not null)`);
    await q(`insert into ru.users (id, email) values (1, 'alice@example.com'), (2, 'bob@example.com'), (3, 'carol@example.com')`);
    await q(`insert into ru.mails select i, 3, case when i % 2 = 0 then 'alice@example.com' else 'bob@example.com' end, 'b',
               now() - interval '3 years' from generate_series(1, 6) i`);
    await q(`insert into ru.mails values (7, 2, 'alice@example.com', 'Bob to Alice', now())`);
    await q(`select retention.set_policy('ru.users', 'ru.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'id', p_enabled => false)`);
    await scrubThenDelete('ru.mails', 'body');
    await q(`select retention.place_hold('subject', '1', 'litigation: Alice')`);

    expect(await heldBack('ru.mails-scrub')).toBe(3);
    await db.call(`call retention.run('ru.mails-scrub')`);
    expect(await count(db, `ru.mails where body is not null and created_at < now() - interval '1 year'`)).toBe(3);
    expect(await heldBack('ru.mails-delete')).toBe(3);
    await db.call(`call retention.run('ru.mails-delete')`);
    expect(await q(`select distinct to_email from ru.mails`)).toEqual([{ to_email: 'alice@example.com' }]);
    expect(await count(db, `ru.mails`)).toBe(4);
    expect(await eraseOther('ru.users', '2')).toBe('blocked_by_hold');
    expect(await count(db, `ru.mails where id = 7`)).toBe(1);
  });

  it('two foreign keys away (order_notes -> orders -> users), partitions included', async () => {
    await q(`create schema rt`);
    await q(`create table rt.users (id bigint primary key, created_at timestamptz not null default now())`);
    await q(`create table rt.orders (id bigint primary key, user_id bigint references rt.users, created_at timestamptz not null default now())`);
    await q(`create table rt.order_notes (id bigint primary key, order_id bigint references rt.orders, body text, created_at timestamptz not null)`);
    await q(`create table rt.shares (id bigint primary key, order_id bigint references rt.orders, sharer_id bigint references rt.users on delete cascade)`);
    await q(`create table rt.note_log (id bigint, order_id bigint references rt.orders, created_at timestamptz not null) partition by range (created_at)`);
    await q(`create table rt.note_log_2023 partition of rt.note_log for values from ('2023-01-01') to ('2024-01-01')`);
    await q(`create table rt.note_log_2024 partition of rt.note_log for values from ('2024-01-01') to ('2025-01-01')`);
    await q(`create table rt.note_log_rest partition of rt.note_log for values from ('2025-01-01') to ('2100-01-01')`);
    await q(`insert into rt.users (id) values (1), (2)`);
    await q(`insert into rt.orders (id, user_id) values (10, 1), (20, 2)`);
    await q(`insert into rt.order_notes select i, case when i <= 3 then 10 else 20 end, 'b', now() - interval '3 years' from generate_series(1, 6) i`);
    await q(`insert into rt.note_log values (1, 20, '2023-06-01'), (2, 10, '2024-06-01'), (3, 20, '2024-06-01')`);
    await q(`insert into rt.shares values (1, 10, 2)`);  // Bob shared Alice's order
    await q(`select retention.set_policy('rt.users', 'rt.users', 'delete', 'created_at', p_retain => '10 years', p_subject_column => 'id', p_enabled => false)`);
    await scrubThenDelete('rt.order_notes', 'body');
    await q(`select retention.set_policy('rt.note_log', 'rt.note_log', 'drop_partitions', 'created_at', p_retain => '1 year')`);
    await q(`select retention.place_hold('subject', '1', 'litigation: Alice')`);

    expect(await heldBack('rt.order_notes-scrub')).toBe(3);
    await db.call(`call retention.run('rt.order_notes-scrub')`);
    expect(await count(db, `rt.order_notes where body is not null`)).toBe(3);
    expect(await heldBack('rt.order_notes-delete')).toBe(3);
    await db.call(`call retention.run('rt.order_notes-delete')`);
    expect(await q(`select distinct order_id::int from rt.order_notes`)).toEqual([{ order_id: 10 }]);
    // 2023 holds only Bob's order's row and goes; 2024 holds one of Alice's and stays.
    await db.call(`call retention.run('rt.note_log')`);
    expect(await q(`select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
                     where i.inhparent = 'rt.note_log'::regclass order by 1`))
      .toEqual([{ relname: 'note_log_2024' }, { relname: 'note_log_rest' }]);
    expect(await eraseOther('rt.users', '2')).toBe('blocked_by_hold');
    expect(await count(db, `rt.shares`)).toBe(1);
    // An archived note on Alice's order is kept past its expiry (the order is live), one on Bob's is not.
    expect(await archiveHeld('rt.order_notes', { id: 1, order_id: 10, body: 'b' })).toBe(true);
    expect(await archiveHeld('rt.order_notes', { id: 4, order_id: 20, body: 'b' })).toBe(false);
  });
});
