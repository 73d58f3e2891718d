// Writes retention.schema.json, the JSON Schema of the policy file generated from the
// zod schema, so editors complete and check retention.yaml. `node runner/json-schema.ts`.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { fileSchema } from './policy-file.ts';

export const schemaPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'retention.schema.json');

export function policyFileJsonSchema(): string {
  const schema = z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'pg-retention policy file' }, null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFile(schemaPath, policyFileJsonSchema());
  console.log(`wrote ${schemaPath}`);
}
