// Attack round atk155 (no held row removed while its hold is in force). F1 (critical): a
// row policy on a partition declared the subject column; drop_partitions dropped that
// partition; its siblings kept the declaration (subject_family, atk44), but a subject
// hold's key chains no longer started from them (_hold_reach began at the declaring
// tables alone), and a note referencing the held person's event in a sibling was deleted.
// F2 (critical with a precondition): a partition detached under a hold, its parent (the
// declaring table) rebuilt under its name and its policy saved again: the detached
// partition's former parent was followed by its dead OID only, so it lost the subject
// column and its held row was deleted.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const q = db.q;

const heldBack = async (policy: string) =>
  Number((await q<{ h: string }>(`select held_back::text as h from retention.preview($1)`, [policy]))[0]!.h);

describe('subject holds after the declaring table is dropped or rebuilt (atk155)', () => {
  it('F1: a key chain into the siblings of a dropped declaring partition is still followed', async () => {
    await q(`create schema h155`);
    await q(`create table h155.events (id bigint, at timestamptz not null, user_id bigint, primary key (id, at)) partition by range (at)`);
    await q(`create table h155.events_2020 partition of h155.events for values from ('2020-01-01') to ('2021-01-01')`);
    await q(`create table h155.events_2026 partition of h155.events for values from ('2026-01-01') to ('2027-01-01')`);
    await q(`create table h155.notes (id bigint primary key, event_id bigint, event_at timestamptz, created_at timestamptz not null,
                                      foreign key (event_id, event_at) references h155.events (id, at))`);
    await q(`insert into h155.events values (1, '2020-06-01', 7), (2, '2026-06-01', 42)`);
    await q(`insert into h155.notes values (1, 2, '2026-06-01', now() - interval '400 days'), (2, null, null, now() - interval '400 days')`);
    await q(`select retention.set_policy('h155-e2020', 'h155.events_2020', 'delete', 'at', p_retain => '20 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h155-parts', 'h155.events', 'drop_partitions', 'at', p_retain => '3 years')`);
    await q(`select retention.set_policy('h155-notes', 'h155.notes', 'delete', 'created_at', p_retain => '30 days')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    expect(await heldBack('h155-notes')).toBe(1);
    await db.call(`call retention.run('h155-parts')`);
    expect(await q(`select count(*)::int as n from pg_class where relname = 'events_2020' and relnamespace = 'h155'::regnamespace`)).toEqual([{ n: 0 }]);
    expect(await heldBack('h155-notes')).toBe(1);
    await db.call(`call retention.run('h155-notes')`);
    expect(await q(`select id::int from h155.notes order by id`)).toEqual([{ id: 1 }]);
  });

  it('F2: a detached partition keeps the subject column of its former parent rebuilt under its name and declared again', async () => {
    await q(`create schema h155b`);
    await q(`create table h155b.events (id bigint, user_id bigint, at timestamptz not null) partition by range (at)`);
    await q(`create table h155b.events_old partition of h155b.events for values from ('2000-01-01') to ('2026-01-01')`);
    await q(`create table h155b.events_new partition of h155b.events for values from ('2026-01-01') to ('2100-01-01')`);
    await q(`insert into h155b.events values (1, 42, '2025-01-01'), (2, 7, '2025-01-01')`);
    await q(`select retention.set_policy('h155b-events', 'h155b.events', 'drop_partitions', 'at', p_retain => '10 years', p_subject_column => 'user_id')`);
    await q(`select retention.set_policy('h155b-old', 'h155b.events_old', 'delete', 'at', p_retain => '30 days')`);
    await q(`select retention.place_hold('subject', '42', 'litigation')`);
    await q(`alter table h155b.events detach partition h155b.events_old`);
    await q(`create table h155b.events2 (id bigint, user_id bigint, at timestamptz not null) partition by range (at)`);
    await q(`alter table h155b.events detach partition h155b.events_new`);
    await q(`alter table h155b.events2 attach partition h155b.events_new for values from ('2026-01-01') to ('2100-01-01')`);
    await q(`drop table h155b.events`);
    await q(`alter table h155b.events2 rename to events`);
    expect(await heldBack('h155b-old')).toBe(1);
    await q(`select retention.set_policy('h155b-events', 'h155b.events', 'drop_partitions', 'at', p_retain => '10 years', p_subject_column => 'user_id')`);
    expect(await q(`select retention_internal._subject_columns('h155b.events_old'::regclass)::text[] as c`)).toEqual([{ c: ['user_id'] }]);
    expect(await heldBack('h155b-old')).toBe(1);
    await db.call(`call retention.run('h155b-old')`);
    expect(await q(`select id::int, user_id::int from h155b.events_old order by id`)).toEqual([{ id: 1, user_id: 42 }]);
  });
});
