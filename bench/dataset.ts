// The benchmark's dataset, built once into two template databases that every strategy
// copies: app.events (rows parent rows: primary key, two secondary indexes) and
// app.event_items (one item per event, ON DELETE CASCADE, indexed foreign key) as plain
// tables in one, and range-partitioned by month in the other (items carry their event's
// timestamp so both tables partition alike; the foreign key includes it).
//
// Half the events are eligible under a 365-day policy: they lie before B, the first of the
// month that contains now() - 365 days; the other half lie after now() - 364 days. No row
// falls in between, so a run at any moment of the next day deletes exactly the older half,
// and the partitions ending at or before B hold exactly those rows.
import type pg from 'pg';

export const RETAIN = '365 days';

export interface Dataset {
  rows: number;
  eligible: number;
  /** Ids of the rows no strategy deletes (the OLTP workload's rows). */
  liveIds: [number, number];
}

const EVENTS = `(
  id          bigint not null,
  account_id  bigint not null,
  kind        text not null,
  created_at  timestamptz not null,
  payload     text not null)`;

// Row i of n: the first half spread over the year before B, the second half over the 364
// days before now().
const FILL = `
  insert into app.events (id, account_id, kind, created_at, payload)
  select i, i % 50000, (array['view', 'click', 'buy'])[1 + i % 3],
         case when i <= $1 / 2
              then $2::timestamptz - interval '365 days' + (interval '364 days 23 hours') * (i::float8 / ($1 / 2))
              else now() - interval '364 days' + (interval '363 days 23 hours') * ((i - $1 / 2)::float8 / ($1 / 2)) end,
         repeat(md5(i::text), 3)
    from generate_series(1, $1) i`;

export async function buildPlain(db: pg.ClientBase, rows: number, b: Date): Promise<void> {
  await db.query('create schema app');
  await db.query(`create table app.events ${EVENTS}`);
  await db.query(FILL, [rows, b]);
  await db.query(`create table app.event_items (id bigint not null, event_id bigint not null, sku text not null, qty int not null)`);
  await db.query(`insert into app.event_items select id, id, 'sku-' || (id % 1000), 1 + id % 5 from app.events`);
  await db.query('alter table app.events add primary key (id)');
  await db.query('create index on app.events (created_at)');
  await db.query('create index on app.events (account_id)');
  await db.query('alter table app.event_items add primary key (id)');
  await db.query('create index on app.event_items (event_id)');
  await db.query('alter table app.event_items add foreign key (event_id) references app.events on delete cascade');
  await db.query('vacuum (analyze) app.events, app.event_items');
}

export async function buildPartitioned(db: pg.ClientBase, rows: number, b: Date): Promise<void> {
  await db.query('create schema app');
  await db.query(`create table app.events ${EVENTS} partition by range (created_at)`);
  await db.query(`create table app.event_items (id bigint not null, event_id bigint not null, event_created_at timestamptz not null,
                    sku text not null, qty int not null) partition by range (event_created_at)`);
  // Monthly partitions from the month of the oldest row to the month after now().
  await db.query(`
    do $$
    declare m timestamptz;
    begin
      for m in select generate_series(date_trunc('month', $b$${b.toISOString()}$b$::timestamptz - interval '366 days'),
                                      date_trunc('month', now() + interval '1 month'), interval '1 month') loop
        execute format('create table app.%I partition of app.events for values from (%L) to (%L)',
                       'events_' || to_char(m, 'YYYY_MM'), m, m + interval '1 month');
        execute format('create table app.%I partition of app.event_items for values from (%L) to (%L)',
                       'event_items_' || to_char(m, 'YYYY_MM'), m, m + interval '1 month');
      end loop;
    end $$`);
  await db.query(FILL, [rows, b]);
  await db.query(`insert into app.event_items select id, id, created_at, 'sku-' || (id % 1000), 1 + id % 5 from app.events`);
  await db.query('alter table app.events add primary key (id, created_at)');
  await db.query('create index on app.events (created_at)');
  await db.query('create index on app.events (account_id)');
  await db.query('alter table app.event_items add primary key (id, event_created_at)');
  await db.query('create index on app.event_items (event_id, event_created_at)');
  await db.query(`alter table app.event_items add foreign key (event_id, event_created_at)
                    references app.events (id, created_at) on delete cascade`);
  await db.query('vacuum (analyze) app.events, app.event_items');
}

/** The month boundary B before which the eligible half lies (see the header). */
export async function boundary(db: pg.ClientBase): Promise<Date> {
  const { rows } = await db.query<{ b: Date }>(`select date_trunc('month', now() - interval '${RETAIN}') as b`);
  return rows[0]!.b;
}

export function describeDataset(rows: number): Dataset {
  const eligible = Math.floor(rows / 2);
  return { rows, eligible, liveIds: [eligible + 1, rows] };
}
