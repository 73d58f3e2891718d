// An upgrade from earlier releases (the first, every third, the last five) ends in the
// same schema as a fresh install. Each such release (test/releases.txt: the landed states
// that changed migrations/) is taken from
// git (its migrations/ and sql/), installed with its own files, then upgraded with today's migrate;
// its catalog (tables, columns, constraints, indexes, triggers, views, routines with their
// code, security and settings, privileges) must equal a fresh install's.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate } from '../runner/migrate.ts';
import { useTestDatabase } from './support/db.ts';

const db = useTestDatabase();

const SNAPSHOT = `
  select 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || case when a.attnotnull then ' not null' else '' end
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') as item
    from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
   where c.relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and c.relkind in ('r', 'v', 'p')
  union all
  select 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    from pg_constraint where connamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace)
  union all
  select 'index ' || pg_get_indexdef(indexrelid) from pg_index i join pg_class c on c.oid = i.indexrelid
   where c.relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace)
  union all
  select 'trigger ' || pg_get_triggerdef(t.oid) from pg_trigger t join pg_class c on c.oid = t.tgrelid
   where c.relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and not t.tgisinternal
  union all
  select 'view ' || c.relname || ' ' || md5(pg_get_viewdef(c.oid)) from pg_class c
   where c.relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and c.relkind = 'v'
  union all
  select 'routine ' || p.oid::regprocedure || ' ' || md5(p.prosrc) || ' definer=' || p.prosecdef || ' '
         || p.provolatile::text || ' ' || coalesce(array_to_string(p.proconfig, ','), '') || ' owner='
         || pg_get_userbyid(p.proowner) || ' acl=' || coalesce(p.proacl::text, '')
    from pg_proc p where p.pronamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace)
  union all
  select 'acl ' || c.relname || ' ' || coalesce(c.relacl::text, '') from pg_class c
   where c.relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and c.relkind in ('r', 'v', 'p', 'S')
  union all
  select 'comment ' || c.relname || ' ' || md5(coalesce(obj_description(c.oid, 'pg_class'), '')) from pg_class c
   where c.relnamespace in ('retention'::regnamespace, 'retention_internal'::regnamespace) and c.relkind in ('r', 'v', 'p')
  order by 1`;

async function withDb<T>(name: string, fn: (url: string) => Promise<T>): Promise<T> {
  await db.q(`create database ${name}`);
  const u = new URL(db.url);
  u.pathname = '/' + name;
  try {
    return await fn(u.toString());
  } finally {
    await db.q(`drop database ${name} with (force)`);
  }
}

async function snapshot(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ item: string }>(SNAPSHOT)).rows.map((r) => r.item);
  } finally {
    await c.end();
  }
}

/** Every earlier release, from test/releases.txt (commit, number of migrations). */
function releases(): { commit: string; migrations: number }[] {
  return readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'releases.txt'), 'utf8')
    .split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const [commit, n] = l.split(/\s+/);
      return { commit: execFileSync('git', ['rev-parse', commit!], { encoding: 'utf8' }).trim(), migrations: Number(n) };
    });
}

describe('upgrades', () => {
  it('from earlier releases (the first, every third, the last five) end in the schema of a fresh install', async () => {
    const fresh = await withDb(`retention_up_fresh_${process.pid}`, async (url) => {
      await migrate(url);
      return snapshot(url);
    });
    expect(fresh.length).toBeGreaterThan(300);
    const work = mkdtempSync(path.join(tmpdir(), 'retention-releases-'));
    // The first release, every third, and the last five: each release upgraded to the
    // next ended in that one's fresh schema when it landed (this test, then), so a
    // release's upgrade today passes through states already compared.
    const all = releases();
    const list = all.filter((_, i) => i === 0 || i % 3 === 0 || i >= all.length - 5);
    expect(list.length).toBeGreaterThanOrEqual(10);
    const diffs: Record<string, { missing: string[]; extra: string[] }> = {};
    for (const r of list) {
      const dir = path.join(work, r.commit.slice(0, 12));
      mkdirSync(dir);
      execFileSync('sh', ['-c', `git archive ${r.commit} migrations sql | tar -x -C ${dir}`]);
      const diff = await withDb(`retention_up_${r.migrations}_${process.pid}`, async (url) => {
        const old = await migrate(url, () => {}, { migrations: path.join(dir, 'migrations'), sql: path.join(dir, 'sql') });
        expect(old.applied, `release ${r.commit}`).toHaveLength(r.migrations);
        await migrate(url);
        const up = await snapshot(url);
        return { missing: fresh.filter((x) => !up.includes(x)), extra: up.filter((x) => !fresh.includes(x)) };
      });
      if (diff.missing.length || diff.extra.length) diffs[`${r.commit.slice(0, 12)} (${r.migrations} migrations)`] = diff;
    }
    expect(diffs).toEqual({});
  }, 300_000);

  it('archived rows waiting in the database at release 19 are the same rows after the upgrade (one tuple per batch)', async () => {
    const r19 = releases().find((r) => r.migrations === 19)!;
    const dir = mkdtempSync(path.join(tmpdir(), 'retention-r19-'));
    execFileSync('sh', ['-c', `git archive ${r19.commit} migrations sql | tar -x -C ${dir}`]);
    await withDb(`retention_up_rows_${process.pid}`, async (url) => {
      await migrate(url, () => {}, { migrations: path.join(dir, 'migrations'), sql: path.join(dir, 'sql') });
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`create schema up`);
        await c.query(`create table up.o (id int primary key, at timestamptz not null, doc json, n numeric)`);
        await c.query(`create table up.l (id int primary key, o_id int references up.o on delete cascade, tags text[])`);
        await c.query(`insert into up.o select g, now() - make_interval(days => g) + interval '1 hour', '{"a": 1, "a": 2}', 1.50 from generate_series(1, 40) g`);
        await c.query(`insert into up.l select g, g, array['x', 'ü'] from generate_series(1, 40) g`);
        await c.query(`select retention.set_policy('up.o', 'up.o', 'delete', 'at', interval '10 days', p_archive => true, p_batch_size => 7)`);
        await c.query(`call retention.run('up.o')`);
        const rows = `select rel_name, depth, run_id, batch_no, row_data from retention.archived_rows order by rel_name, row_data->>'id'`;
        const before = (await c.query(rows)).rows;
        expect(before).toHaveLength(60);
        await c.end();
        await migrate(url);
        const d = new pg.Client({ connectionString: url });
        await d.connect();
        try {
          expect((await d.query(rows)).rows).toEqual(before);
          // One tuple per batch and table: 30 rows of up.o and 30 of up.l in batches of 7.
          expect((await d.query(`select count(*)::int as n, sum(row_count)::int as rows from retention.archived_batches`)).rows)
            .toEqual([{ n: 10, rows: 60 }]);
        } finally {
          await d.end();
        }
      } finally {
        await c.end().catch(() => {});
      }
    });
  }, 120_000);
});
