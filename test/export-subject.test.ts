// A person's data export (GDPR Art. 15, 20): retention.export_subject and
// `pg-retention export`. The export holds exactly the rows an erasure of the same person
// touches (checked against what the erasure then removes), every column type round trips
// (JSON and CSV, big numbers to the digit), the login must be able to read every table,
// and the audit log records the export without the person's key or data.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { S3Target } from '../runner/archive/storage.ts';
import { runCli } from './support/cli.ts';
import { sqlState, useLogins, useTestDatabase } from './support/db.ts';
import { startS3 } from './support/s3.ts';
import { count } from './support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;
const logins = useLogins(db);

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { url: db.url, env });

async function shop(): Promise<void> {
  await q(`drop schema if exists ex cascade`);
  await q(`create schema ex`);
  await q(`create table ex.users (id bigint primary key, email text, name text)`);
  await q(`create table ex.orders (id int primary key, user_id bigint references ex.users, total numeric, at timestamptz not null default now())`);
  await q(`create table ex.order_lines (id int primary key, order_id int references ex.orders, sku text)`);
  await q(`create table ex.invoices (id int primary key, order_id int references ex.orders, amount numeric)`);
  await q(`create table ex.app_logs (id int primary key, user_id bigint, msg text, at timestamptz not null default now())`);
  // Every kind of column, in a table that references the person.
  await q(`create table ex.profile (id int primary key, user_id bigint references ex.users, big bigint, num numeric, flt double precision,
             doc json, docb jsonb, tags text[], nums int[], raw bytea, at timestamptz, day date, span interval, uni text, nothing text, ok boolean)`);
  await q(`insert into ex.users values (7, 'seven@example.com', 'Zoë Seven'), (8, 'eight@example.com', 'Eight')`);
  await q(`insert into ex.orders (id, user_id, total) values (1, 7, 10.50), (2, 7, 3), (3, 8, 1)`);
  await q(`insert into ex.order_lines values (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c'), (13, 3, 'd')`);
  await q(`insert into ex.invoices values (100, 1, 10.50), (101, 3, 1)`);
  await q(`insert into ex.app_logs (id, user_id, msg) values (1, 7, 'login'), (2, 8, 'login'), (3, 7, 'logout')`);
  await q(`insert into ex.profile values
             (1, 7, 9007199254740993, 123456789012345678901234567890.123456789, 0.1, '{"b": 1, "a": [1, 2]}', '{"k": "v"}',
              '{"x", "y z", null}', '{1,2,3}', '\\xdeadbeef', '2026-01-02 03:04:05.678+00', '2026-01-02', '1 day 02:03:04',
              'Grüße, 日本, "quotes", comma, new
line', null, true),
             (2, 8, 1, 1, 1, '{}', '{}', '{}', '{}', '\\x00', now(), now(), '1 hour', 'other', null, false)`);
  await q(`select retention.set_policy('ex.app_logs', 'ex.app_logs', 'delete', 'at', p_retain => '1 year', p_subject_column => 'user_id')`);
  await q(`select retention.set_erasure_rule('ex.invoices', 'keep', p_reason => 'Invoices: 10 years, HGB § 257')`);
  await q(`select retention.set_erasure_rule('ex.orders', 'scrub', p_scrub => '{"total": "null"}')`);
  await q(`select retention.set_erasure_rule('ex.users', 'scrub', p_scrub => '{"email": "sha256", "name": "null"}')`);
}

interface Doc { subject_table: string; tables: { table: string; rule: string; reason: string | null; row_count: number; rows: Record<string, unknown>[] }[] }

describe('a person\'s data export', () => {
  it('holds exactly the rows the erasure of the same person touches, grouped by table with its rule', async () => {
    await shop();
    const [{ doc }] = (await q(`select retention.export_subject('ex.users', '7')::text as doc`)) as [{ doc: string }];
    const exported = JSON.parse(doc) as Doc;
    expect(exported.subject_table).toBe('ex.users');
    const byTable = Object.fromEntries(exported.tables.map((t) => [t.table, t]));
    expect(Object.keys(byTable).sort()).toEqual(['ex.app_logs', 'ex.invoices', 'ex.order_lines', 'ex.orders', 'ex.profile', 'ex.users']);
    expect(byTable['ex.invoices']).toMatchObject({ rule: 'keep', reason: 'Invoices: 10 years, HGB § 257', row_count: 1 });
    expect(byTable['ex.orders']?.rule).toBe('scrub');
    const ids = (t: string) => (byTable[t]?.rows ?? []).map((r) => Number(r.id)).sort();
    // The erasure of the same person, after the export: what it deletes is what was
    // exported for the deleting tables; the scrubbed and kept rows are the exported ones.
    const before: Record<string, number[]> = {};
    for (const t of Object.keys(byTable)) before[t] = (await q(`select id from ${t} order by id`)).map((r) => Number(r.id));
    const [req] = await q(`select request_id from retention.request_erasure('ex.users', '7', 'privacy form')`);
    await db.call(`call retention.process_erasure($1)`, [req?.request_id]);
    for (const t of Object.keys(byTable)) {
      const after = new Set((await q(`select id from ${t}`)).map((r) => Number(r.id)));
      const gone = before[t]!.filter((id) => !after.has(id));
      if (byTable[t]!.rule === 'delete') expect(gone, t).toEqual(ids(t));
      else expect(gone, t).toEqual([]);
    }
    expect(ids('ex.orders')).toEqual([1, 2]);
    expect(await count(db, `ex.orders where id in (1, 2) and total is null`)).toBe(2);
    const evidence = await q(`select target, rows::int from retention.erasure_evidence where request_id = $1`, [req?.request_id]);
    for (const e of evidence) expect(e.rows, e.target).toBe(byTable[e.target]?.row_count);
  });

  it('every column type round trips: JSON as to_json writes the row, CSV with every digit', async () => {
    await shop();
    const [{ doc }] = (await q(`select retention.export_subject('ex.users', '7')::text as doc`)) as [{ doc: string }];
    // The row's JSON as written, columns in table order.
    const [{ row }] = (await q(`select to_json(p)::text as row from ex.profile p where id = 1`)) as [{ row: string }];
    const profile = (JSON.parse(doc) as Doc).tables.find((t) => t.table === 'ex.profile')!;
    expect(profile.rows).toEqual([JSON.parse(row)]);
    expect(Object.keys(profile.rows[0]!)).toEqual(['id', 'user_id', 'big', 'num', 'flt', 'doc', 'docb', 'tags', 'nums', 'raw', 'at', 'day', 'span', 'uni', 'nothing', 'ok']);
    const dir = await mkdtemp(path.join(tmpdir(), 'export-'));
    const r = await cli(['export', 'ex.users', '7', '--format', 'csv', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.tables.map((t: { table: string }) => t.table).sort()).toEqual(['ex.app_logs', 'ex.invoices', 'ex.order_lines', 'ex.orders', 'ex.profile', 'ex.users']);
    expect((await readdir(dir)).sort()).toEqual(['ex.app_logs.csv', 'ex.invoices.csv', 'ex.order_lines.csv', 'ex.orders.csv', 'ex.profile.csv', 'ex.users.csv', 'manifest.json']);
    const csv = await readFile(path.join(dir, 'ex.profile.csv'), 'utf8');
    expect(csv.split('\n')[0]).toBe('id,user_id,big,num,flt,doc,docb,tags,nums,raw,at,day,span,uni,nothing,ok');
    // Numbers to the digit (beyond 2^53 and 30 digits), text with quotes, commas and a newline.
    expect(csv).toContain('9007199254740993');
    expect(csv).toContain('123456789012345678901234567890.123456789');
    expect(csv).toContain('"Grüße, 日本, ""quotes"", comma, new\nline"');
    // A json column as written (its numbers stay numbers), an array as PostgreSQL writes it.
    expect(csv).toContain('"{""b"": 1, ""a"": [1, 2]}"');
    expect(csv).toContain('"[""x"",""y z"",null]"');
    // JSON to standard output is the document export_subject returns.
    const json = await cli(['export', 'ex.users', '7']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).tables).toEqual((JSON.parse(doc) as Doc).tables);
  });

  it('--to-storage seals the document into the storage target (a directory, a real S3 API), read back before it counts; --open gives it back', async () => {
    await shop();
    const [{ doc }] = (await q(`select retention.export_subject('ex.users', '7')::text as doc`)) as [{ doc: string }];
    const keys = `k1:${randomBytes(32).toString('base64')},k2:${randomBytes(32).toString('base64')}`;
    const s3 = await startS3('exports');
    try {
      for (const storage of [await mkdtemp(path.join(tmpdir(), 'export-store-')), `s3://${s3.bucket}/subject`]) {
        const env = { PG_RETENTION_STORAGE: storage, PG_RETENTION_ARCHIVE_KEYS: keys, PG_RETENTION_S3_ENDPOINT: s3.endpoint };
        const w = await cli(['export', 'ex.users', '7', '--to-storage'], env);
        expect(w.code, w.stderr).toBe(0);
        const key = /^wrote (exports\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]{36}\.json\.gz\.sealed) to /.exec(w.stdout)?.[1];
        expect(key, w.stdout).toBeDefined();
        expect(w.stdout).not.toContain('seven');
        // Sealed: the stored bytes hold no personal data in the clear.
        const stored = storage.startsWith('s3://')
          ? await new S3Target(s3.bucket, 'subject', { endpoint: s3.endpoint, region: 'us-east-1' }).get(key!)
          : await readFile(path.join(storage, key!));
        expect(stored.includes(Buffer.from('seven@example.com'))).toBe(false);
        const back = await cli(['export', '--open', key!], env);
        expect(back.code, back.stderr).toBe(0);
        expect(JSON.parse(back.stdout).tables).toEqual((JSON.parse(doc) as Doc).tables);
        // Without the key it does not open.
        const other = await cli(['export', '--open', key!], { ...env, PG_RETENTION_ARCHIVE_KEYS: `k9:${randomBytes(32).toString('base64')}` });
        expect(other.code).not.toBe(0);
        expect(other.stderr).toMatch(/key id k2/);
      }
      // Without keys nothing is exported (and nothing audited).
      const before = await count(db, `retention.audit_log where action = 'subject.exported'`);
      const nokey = await cli(['export', 'ex.users', '7', '--to-storage'], { PG_RETENTION_STORAGE: await mkdtemp(path.join(tmpdir(), 'export-store-')), PG_RETENTION_ARCHIVE_KEYS: '' });
      expect(nokey.code).toBe(2);
      expect(nokey.stderr).toMatch(/PG_RETENTION_ARCHIVE_KEYS/);
      expect(await count(db, `retention.audit_log where action = 'subject.exported'`)).toBe(before);
      for (const args of [['export', 'ex.users', '7', '--to-storage', '--format', 'csv'], ['export', 'ex.users', '7', '--to-storage', '--out', '/tmp/x'],
                          ['export', 'ex.users', '--open', 'k']]) {
        expect([args.join(' '), (await cli(args)).code]).toEqual([args.join(' '), 2]);
      }
    } finally {
      await s3.stop();
    }
  }, 120_000);

  it('a partitioned table\'s rows are exported from its partitions', async () => {
    await shop();
    await q(`create table ex.events (id int, user_id bigint references ex.users, at timestamptz not null) partition by range (at)`);
    await q(`create table ex.events_1 partition of ex.events for values from ('2000-01-01') to ('2100-01-01')`);
    await q(`insert into ex.events values (1, 7, now()), (2, 8, now())`);
    const [{ doc }] = (await q(`select retention.export_subject('ex.users', '7')::text as doc`)) as [{ doc: string }];
    const events = (JSON.parse(doc) as Doc).tables.find((t) => t.table === 'ex.events');
    expect(events?.rows.map((r) => r.id)).toEqual([1]);
  });

  it('a partitioned table of people: its person is found and exported', async () => {
    await shop();
    await q(`create table ex.accounts (id bigint primary key, name text) partition by range (id)`);
    await q(`create table ex.accounts_1 partition of ex.accounts for values from (0) to (1000)`);
    await q(`insert into ex.accounts values (5, 'Five'), (6, 'Six')`);
    const [{ doc }] = (await q(`select retention.export_subject('ex.accounts', '5')::text as doc`)) as [{ doc: string }];
    expect((JSON.parse(doc) as Doc).tables[0]).toMatchObject({ table: 'ex.accounts', row_count: 1, rows: [{ id: 5, name: 'Five' }] });
    expect(await sqlState(q(`select retention.export_subject('ex.accounts', '7')`))).toBe('RT030');
  });

  it('bad input is refused with a hint; the command line says how to call it', async () => {
    await shop();
    for (const [args, code] of [
      [['ex.nope', '7'], 'RT001'],
      [['ex.users', '9'], 'RT030'],
      [['ex.users', `7' or '1'='1`], 'RT030'],
      [['ex.users', ''], 'RT030'],
    ] as const) {
      expect(await sqlState(q(`select retention.export_subject($1, $2)`, [...args])), args.join(' ')).toBe(code);
    }
    await q(`create table ex.nokey (v text)`);
    expect(await sqlState(q(`select retention.export_subject('ex.nokey', 'x')`))).toBe('RT029');
    for (const args of [['export'], ['export', 'ex.users'], ['export', 'ex.users', '7', '--format', 'xml'], ['export', 'ex.users', '7', '--format', 'csv']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
    }
    // An output directory with anything in it (a file, a link someone laid out) is refused
    // before anything is exported or written.
    const dir = await mkdtemp(path.join(tmpdir(), 'export-'));
    await symlink('/tmp/elsewhere.csv', path.join(dir, 'ex.users.csv'));
    const audit = await count(db, `retention.audit_log where action = 'subject.exported'`);
    const busy = await cli(['export', 'ex.users', '7', '--format', 'csv', '--out', dir]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/not empty/);
    expect(await readdir(dir)).toEqual(['ex.users.csv']);
    expect(await count(db, `retention.audit_log where action = 'subject.exported'`)).toBe(audit);
    const help = await cli(['export', '--help']);
    expect(help.stdout).toMatch(/Example/);
  });

  it('the login must read every table it exports; the audit log names no one', async () => {
    await shop();
    const c = await logins.login('ex_reader', 'retention_admin');
    const role = `ex_reader_${logins.tag}`;
    {
      // SELECT on every table but no USAGE on their schema: it could not read the rows.
      await q(`grant select on all tables in schema ex to ${role}`);
      const noUsage = await c.query(`select retention.export_subject('ex.users', '7')`).then(() => null, (e: Error & { code?: string }) => e);
      expect(noUsage?.code).toBe('42501');
      expect(noUsage?.message).toMatch(/permission denied for schema ex/);
      // USAGE but not SELECT on a table of the plan.
      await q(`grant usage on schema ex to ${role}`);
      await q(`revoke select on ex.order_lines from ${role}`);
      expect(await sqlState(c.query(`select retention.export_subject('ex.users', '7')`))).toBe('42501');
      await q(`grant select on ex.order_lines to ${role}`);
      await q(`alter table ex.app_logs enable row level security`);
      expect(await sqlState(c.query(`select retention.export_subject('ex.users', '7')`))).toBe('RT023');
      await q(`alter table ex.app_logs disable row level security`);
      // Row security on the subject table: the same refusal for a hidden person and for
      // one that does not exist (an error must not tell which).
      await q(`alter table ex.users enable row level security`);
      expect(await sqlState(c.query(`select retention.export_subject('ex.users', '7')`))).toBe('RT023');
      expect(await sqlState(c.query(`select retention.export_subject('ex.users', '999')`))).toBe('RT023');
      await q(`alter table ex.users disable row level security`);
      const audit = await count(db, `retention.audit_log where action = 'subject.exported'`);
      await c.query(`select retention.export_subject('ex.users', '7')`);
      expect(await count(db, `retention.audit_log where action = 'subject.exported'`)).toBe(audit + 1);
      const [entry] = await q(`select object_name, details::text as details from retention.audit_log where action = 'subject.exported' order by audit_id desc limit 1`);
      expect(entry?.object_name).toMatch(/^subj_[0-9a-f]{32}$/);
      expect(entry?.details).not.toMatch(/seven|Zoë|"7"|: 7[,}]/);
    }
  });
});
