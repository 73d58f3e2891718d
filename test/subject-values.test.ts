// The hold rule's inline spellings of a subject id (_subject_value_sql, _subject_forms_sql:
// written into every batch statement so that a batch under hundreds of holds does not call
// PL/pgSQL per hold) give what the functions give, for every kind of id a hold may name.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db.ts';

const db = useTestDatabase();

const IDS = [
  '42', '042', '+42', '-42', '-0', '0', ' 42', '42 ', '4 2', '32767', '32768', '-32768', '2147483647', '2147483648',
  '999999999', '9999999999', '999999999999999999', '9223372036854775807', '9223372036854775808', '12345678901234567890',
  '1e3', '1.50', '.5', '7.0', 'NaN', 'Infinity', '٤٢', '４２',
  'alice@example.com', 'ALICE@Example.COM ', ' Alice ', 'Jose\u0301', 'José', 'İstanbul', 'straße', '', ' ', '\t', 'x\ty\n',
  'a1b2c3d4-e5f6-4789-9abc-def012345678', 'A1B2C3D4E5F64789ABCDEF0123456789', '{a1b2c3d4-e5f6-4789-9abc-def012345678}',
  '192.168.0.1', '2001:0db8::0001', '10.0.0.0/8', '08-00-2B-01-02-03', '0800.2b01.0203', 'dead:beef', 'abc', 'ABC-DEF',
  'O\'Brien', 'x\'); drop table t; --', '{}', '+-', '--', '/', 'a'.repeat(300),
];

describe('subject ids written inline in batch statements', () => {
  it('_subject_value_sql gives _subject_value for integer, numeric and text columns', async () => {
    for (const type of ['smallint', 'integer', 'bigint', 'numeric', 'text', 'uuid', 'character varying(5)']) {
      const { s } = (await db.q<{ s: string }>(`select retention_internal._subject_value_sql('$1::text', $1) as s`, [type]))[0]!;
      for (const id of IDS) {
        const [row] = await db.q(`select retention_internal._subject_value($1, $2) as f, (${s}) as i`, [id, type]);
        expect(row!.i, `${type} ${JSON.stringify(id)}`).toBe(row!.f);
      }
    }
  });

  it('_subject_forms_sql gives _subject_forms', async () => {
    const { s } = (await db.q<{ s: string }>(`select retention_internal._subject_forms_sql('$1::text') as s`))[0]!;
    for (const id of [...IDS, null]) {
      const [row] = await db.q(`select retention_internal._subject_forms($1) as f, (${s}) as i`, [id]);
      expect(row!.i, JSON.stringify(id)).toEqual(row!.f);
    }
  });
});
