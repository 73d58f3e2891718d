// One definition of a policy's settings (runner/settings.ts), and every layer held to it:
// set_policy's parameters and types, alter_policy's, the retention.policies columns, the
// policy file's schema, the committed JSON Schema, the DBA guide (each parameter) and the
// operator guide (each file key). drift() names each layer that disagrees; a throwaway
// setting added to the definition alone shows which layers still need it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { schemaPath } from '../runner/json-schema.ts';
import { policySchema } from '../runner/policy-file.ts';
import { policyShape, type Setting, SETTINGS } from '../runner/settings.ts';
import { type TestDb, useTestDatabase } from './support/db.ts';

const db = useTestDatabase();

async function drift(d: TestDb, settings: Record<string, Setting>): Promise<string[]> {
  const problems: string[] = [];
  const args = async (fn: string) => (await d.q<{ name: string; type: string }>(
    `select a.name, format_type(a.typ, null) as type
       from pg_proc p cross join lateral unnest(p.proargnames, p.proargtypes::oid[]) a(name, typ)
      where p.oid = (select max(oid) from pg_proc where proname = $1 and pronamespace = 'retention'::regnamespace)`, [fn]));
  const setPolicy = new Map((await args('set_policy')).map((a) => [a.name, a.type]));
  const alterPolicy = new Map((await args('alter_policy')).map((a) => [a.name, a.type]));
  const columns = new Set((await d.q<{ c: string }>(
    `select attname as c from pg_attribute where attrelid = 'retention.policies'::regclass and attnum > 0 and not attisdropped`)).map((r) => r.c));
  const json = JSON.parse(readFileSync(schemaPath, 'utf8')) as { properties: { policies: { items: { properties: Record<string, unknown> } } } };
  const jsonKeys = new Set(Object.keys(json.properties.policies.items.properties));
  const fileKeys = new Set(Object.keys(policySchema.shape));
  const dba = readFileSync('docs/dba-guide.md', 'utf8');
  const ops = readFileSync('docs/operator-guide.md', 'utf8');

  for (const [key, s] of Object.entries(settings)) {
    if (setPolicy.get(s.param) !== s.sqlType) problems.push(`set_policy: ${s.param} ${setPolicy.get(s.param) ?? 'missing'}, the definition says ${s.sqlType} (${key})`);
    if (key !== 'name' && alterPolicy.get(s.param) !== s.sqlType) problems.push(`alter_policy: ${s.param} ${alterPolicy.get(s.param) ?? 'missing'} (${key})`);
    if (!columns.has(s.column)) problems.push(`retention.policies: no column ${s.column} (${key})`);
    if (!fileKeys.has(key)) problems.push(`policy file schema: no key ${key}`);
    if (!jsonKeys.has(key)) problems.push(`retention.schema.json: no key ${key} (run node runner/json-schema.ts)`);
    if (!dba.includes(`\`${s.param}\``)) problems.push(`docs/dba-guide.md: ${s.param} not documented (${key})`);
    if (!new RegExp(`^\\s*(- )?${key}:`, 'm').test(ops)) problems.push(`docs/operator-guide.md: file key ${key} not in the policy file example`);
  }
  // The actions a setting applies to: set_policy refuses it for the others (retention_internal._setting_actions).
  const sqlActions = (await d.q<{ a: Record<string, string[]> }>(`select retention_internal._setting_actions() as a`))[0]!.a;
  for (const [key, s] of Object.entries(settings)) {
    const sql = sqlActions[key] ? [...sqlActions[key]].sort().join(',') : 'all';
    const def = s.actions === 'all' ? 'all' : [...s.actions].sort().join(',');
    if (sql !== def) problems.push(`set_policy: ${key} applies to ${sql} in SQL, to ${def} in the definition`);
  }
  // And nothing in a layer that the definition lacks.
  const params = new Set(Object.values(settings).map((s) => s.param));
  for (const p of setPolicy.keys()) if (!params.has(p)) problems.push(`set_policy: ${p} is not in the definition`);
  for (const p of alterPolicy.keys()) if (!params.has(p) && p !== 'p_reset') problems.push(`alter_policy: ${p} is not in the definition`);
  const bookkeeping = new Set(['policy_id', 'created_at', 'created_by', 'updated_at', 'updated_by', 'subject_family', 'target_name', 'subject_attnum', 'schema_oid']);
  const cols = new Set(Object.values(settings).map((s) => s.column));
  for (const c of columns) if (!cols.has(c) && !bookkeeping.has(c)) problems.push(`retention.policies: column ${c} is not in the definition`);
  for (const k of jsonKeys) if (!(k in settings)) problems.push(`retention.schema.json: key ${k} is not in the definition`);
  return problems;
}

describe('one definition of the policy settings', () => {
  it('every layer agrees with it: SQL, the file schema, the JSON Schema and both guides', async () => {
    expect(await drift(db, SETTINGS)).toEqual([]);
    expect(Object.keys(SETTINGS).length).toBe(33);
  });

  it('a setting added to the definition alone: the file schema has it, and the drift test names every other layer', async () => {
    const throwaway: Setting = {
      column: 'throwaway', param: 'p_throwaway', sqlType: 'integer', actions: 'all', codes: [],
      schema: z.number().int().min(1), doc: 'a setting for this test only',
    };
    const extended = { ...SETTINGS, throwaway };
    // The file's schema follows from the definition: the key is known and validated.
    const schema = z.strictObject(policyShape(extended));
    const policy = { name: 'x', table: 'app.x', action: 'delete', age_column: 'created_at' };
    expect(schema.safeParse({ ...policy, throwaway: 3 }).success).toBe(true);
    expect(schema.safeParse({ ...policy, throwaway: 0 }).success).toBe(false);
    expect(policySchema.safeParse({ ...policy, throwaway: 3 }).success).toBe(false);
    expect(await drift(db, extended)).toEqual([
      'set_policy: p_throwaway missing, the definition says integer (throwaway)',
      'alter_policy: p_throwaway missing (throwaway)',
      'retention.policies: no column throwaway (throwaway)',
      'policy file schema: no key throwaway',
      'retention.schema.json: no key throwaway (run node runner/json-schema.ts)',
      'docs/dba-guide.md: p_throwaway not documented (throwaway)',
      'docs/operator-guide.md: file key throwaway not in the policy file example',
    ]);
  });

  it('set_policy refuses each setting given to an action it does not apply to (RT007), naming it, and saves nothing', async () => {
    await db.q(`create schema st`);
    await db.q(`create table st.t (id bigint primary key, org text, email text, created_at timestamptz not null, deleted_at timestamptz)`);
    await db.q(`create table st.p (id bigint, created_at timestamptz not null) partition by range (created_at)`);
    const values: Record<string, string> = {
      deleted_at_column: `'deleted_at'`, archive_schema: `'public'`, scrub: `'{"email": "null"}'::jsonb`, scrubbed_at_column: `'deleted_at'`,
      revoke: `array['st.t']`, notice_period: `interval '30 days'`, tenant_column: `'org'`, approval: `'required'`,
      archive: 'true', archive_retain: `interval '1 year'`, count: `'exact'`,
    };
    // Each setting is given to an action it does not apply to.
    const base: Record<string, string> = {
      purge_soft_deleted: `'st.t', 'st.t', 'purge_soft_deleted', 'deleted_at'`,
      soft_delete: `'st.t', 'st.t', 'soft_delete', 'created_at', p_deleted_at_column => 'deleted_at'`,
      drop_partitions: `'st.p', 'st.p', 'drop_partitions', 'created_at'`,
    };
    const limited = Object.entries(SETTINGS as Record<string, Setting>).filter(([, s]) => s.actions !== 'all');
    expect(limited.map(([k]) => k).sort()).toEqual(Object.keys(values).sort());
    for (const [key, s] of limited) {
      const action = Object.keys(base).find((a) => !(s.actions as readonly string[]).includes(a))!;
      const sql = `select retention.set_policy(${base[action]}, p_retain => interval '1 day', ${s.param} => ${values[key]})`;
      const err = await db.q(sql).then(() => null, (e: { code: string; message: string }) => `${e.code} ${e.message}`);
      expect([key, err]).toEqual([key, `RT007 p_${key} is only used by ${(s.actions as readonly string[]).join(', ')}`]);
    }
    expect(await db.q(`select count(*)::int as n from retention.policies where name in ('st.t', 'st.p')`)).toEqual([{ n: 0 }]);
  });

  it('a column or parameter the definition lacks is named too', async () => {
    const fewer: Record<string, Setting> = Object.fromEntries(Object.entries(SETTINGS).filter(([k]) => k !== 'tenant_column'));
    expect(await drift(db, fewer)).toEqual([
      'set_policy: p_tenant_column is not in the definition',
      'alter_policy: p_tenant_column is not in the definition',
      'retention.policies: column tenant_column is not in the definition',
      'retention.schema.json: key tenant_column is not in the definition',
    ]);
  });
});
