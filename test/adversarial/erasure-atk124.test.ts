// Attack round atk124 (erasure and the evidence it rewrites):
//  F6 at completion an erasure replaced the person's key wherever any run's error or any
//     failed row's error quoted it ('42', "42", (42)): erasing user 42 rewrote an unrelated
//     table's failure 'parent (42) has open orders' to the request's token, and no
//     erasure.messages_erased entry named it; nor did one name the messages rewritten when
//     the erasure completed, the short values taken out as words or the reasons taken out
//     of status reasons. Now the key is replaced in messages that may concern the person
//     (runs of policies on the plan's tables, the request's runs) and, elsewhere, only a
//     key that identifies on its own (an e-mail address); every rewrite is audited.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';
import { erasureHelpers } from '../support/erasure.ts';

const db = useTestDatabase();
const q = db.q;
const { file, processed } = erasureHelpers(db);

/** Every message the request's erasure.messages_erased entries name. */
async function erased(req: number): Promise<{ table: string; column: string; id: unknown; sha256_before: string }[]> {
  const rows = await q(`select details from retention.audit_log where action = 'erasure.messages_erased' and object_name = $1 order by audit_id`,
    [String(req)]);
  return rows.flatMap((r) => r.details.messages);
}

// The audit log's digest of a message: sha256 under the owner's secret key (atk150 F1).
const sha256 = async (text: string): Promise<string> =>
  (await q(`select retention_internal._keyed_digest($1) as h`, [text]))[0]!.h;

/** A table whose rows refuse deletion with `message` (a trigger), one failed run of a policy on it. */
async function refusing(s: string, table: string, message: string): Promise<string> {
  await q(`create table ${s}.${table} (id int primary key, created_at timestamptz not null default now() - interval '3 years')`);
  await q(`create function ${s}.refuse_${table}() returns trigger language plpgsql as $$
           begin raise exception '${message}', old.id; end $$`);
  await q(`create trigger refuse before delete on ${s}.${table} for each row execute function ${s}.refuse_${table}()`);
  await q(`select retention.set_policy('${s}.${table}', '${s}.${table}', 'delete', 'created_at', '1 year')`);
  return `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = '${s}.${table}'`;
}

describe('the key replaced at completion is limited to what may concern the person, and audited (atk124 F6)', () => {
  it('an unrelated table\'s failure quoting the same number is kept; nothing is audited, nothing counted', async () => {
    await q(`create schema f6a`);
    await q(`create table f6a.users (id int primary key, name text)`);
    const failures = await refusing('f6a', 'parents', 'parent (%) has open orders');
    await q(`insert into f6a.parents (id) values (42)`);
    await db.call(`call retention.run('f6a.parents')`).catch(() => {});
    expect(await q(failures)).toEqual([{ error: 'parent (42) has open orders' }]);
    await q(`insert into f6a.users values (42, 'Someone Else')`);
    await q(`select retention.set_erasure_rule('f6a.users', 'delete')`);
    const req = await file('f6a.users', '42');
    expect(await processed(req)).toBe('completed');
    expect(await q(failures)).toEqual([{ error: 'parent (42) has open orders' }]);
    expect(await q(`select row_key from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'f6a.parents'`))
      .toEqual([{ row_key: { id: 42 } }]);
    expect(await erased(req)).toEqual([]);
    const [done] = await q(`select details -> 'forgotten' as f from retention.audit_log where action = 'erasure.completed' and object_name = $1`, [String(req)]);
    expect(done!.f).toMatchObject({ notifications: 0, run_errors: 0, failed_rows: 0 });
  });

  it('a failure of a policy on a table keyed to the person loses the quoted key, and the audit names it with its hash', async () => {
    await q(`create schema f6b`);
    await q(`create table f6b.users (id int primary key, name text)`);
    await q(`create table f6b.orders (id int primary key, user_id int references f6b.users on delete cascade,
                                      created_at timestamptz not null default now() - interval '3 years')`);
    await q(`create function f6b.refuse() returns trigger language plpgsql as $$
             begin raise exception 'order % blocked: user (%) disputes it', old.id, old.user_id; end $$`);
    await q(`create trigger refuse before delete on f6b.orders for each row execute function f6b.refuse()`);
    await q(`select retention.set_policy('f6b.orders', 'f6b.orders', 'delete', 'created_at', '1 year')`);
    await q(`insert into f6b.users values (42, 'Someone'), (43, 'Other')`);
    await q(`insert into f6b.orders (id, user_id) values (5, 42), (6, 43)`);
    await db.call(`call retention.run('f6b.orders')`).catch(() => {});
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'f6b.orders' order by 1`;
    expect(await q(failures)).toEqual([{ error: 'order 5 blocked: user (42) disputes it' }, { error: 'order 6 blocked: user (43) disputes it' }]);
    await q(`drop trigger refuse on f6b.orders`);
    await q(`select retention.set_erasure_rule('f6b.users', 'delete')`);
    await q(`select retention.set_erasure_rule('f6b.orders', 'delete')`);
    const req = await file('f6b.users', '42');
    expect(await processed(req)).toBe('completed');
    const after = (await q(failures)).map((r) => r.error);
    expect(after).toContain('order 6 blocked: user (43) disputes it');
    expect(after.join(' ')).not.toMatch(/\(42\)/);
    const entries = (await erased(req)).filter((m) => m.table === 'run_row_failures');
    expect(entries.map((m) => m.sha256_before)).toContain(await sha256('order 5 blocked: user (42) disputes it'));
    expect(entries.map((m) => m.sha256_before)).not.toContain(await sha256('order 6 blocked: user (43) disputes it'));
    expect(await q(`select ok from retention.verify_audit_log()`)).toEqual([{ ok: true }]);
  });

  it('a key that is an e-mail address goes from every failure, and each change is audited', async () => {
    await q(`create schema f6c`);
    await q(`create table f6c.users (email text primary key, name text)`);
    const failures = await refusing('f6c', 'contacts', "contact % refused: owner ''mira.f6c@example.com''");
    await q(`insert into f6c.contacts (id) values (1)`);
    await db.call(`call retention.run('f6c.contacts')`).catch(() => {});
    const before = (await q(failures))[0]!.error;
    expect(before).toContain('mira.f6c@example.com');
    await q(`insert into f6c.users values ('mira.f6c@example.com', 'M')`);
    await q(`select retention.set_erasure_rule('f6c.users', 'delete')`);
    const req = await file('f6c.users', 'mira.f6c@example.com');
    expect(await processed(req)).toBe('completed');
    expect((await q(failures))[0]!.error).not.toContain('mira.f6c@example.com');
    expect((await erased(req)).map((m) => m.sha256_before)).toContain(await sha256(before));
  });

  it('a short value taken out of a message about the person\'s table as a word is audited', async () => {
    await q(`create schema f6d`);
    await q(`create table f6d.users (id int primary key, name text, created_at timestamptz not null default now() - interval '3 years')`);
    await q(`create function f6d.refuse() returns trigger language plpgsql as $$
             begin if old.id = 8 then raise exception 'user 8 kept: referred by Qi'; end if; return old; end $$`);
    await q(`create trigger refuse before delete on f6d.users for each row execute function f6d.refuse()`);
    // Qi's row is recent: the run tries the other's alone, which fails naming her.
    await q(`insert into f6d.users (id, name, created_at) values (7, 'Qi', now()), (8, 'Other', now() - interval '3 years')`);
    await q(`select retention.set_policy('f6d.users', 'f6d.users', 'delete', 'created_at', '1 year')`);
    await db.call(`call retention.run('f6d.users')`).catch(() => {});
    const failures = `select f.error from retention.run_row_failures f join retention.runs r using (run_id) where r.policy_name = 'f6d.users'`;
    expect(await q(failures)).toEqual([{ error: 'user 8 kept: referred by Qi' }]);
    await q(`select retention.set_erasure_rule('f6d.users', 'delete')`);
    const req = await file('f6d.users', '7');
    expect(await processed(req)).toBe('completed');
    expect(await q(failures)).toEqual([{ error: 'user 8 kept: referred by [erased]' }]);
    expect((await erased(req)).map((m) => m.sha256_before)).toContain(await sha256('user 8 kept: referred by Qi'));
  });
});
