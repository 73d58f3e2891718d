// Attack round atk132 (time: no row goes before its period).
// F1: a policy without a period of its own took its schema's default by the schema's
// current name: the application renaming its schema (and making a new one under the old
// name) or moving the table to another schema cut a 10-year default to 30 days, and the
// run deleted every row older than that. A schema's default now follows the schema by
// OID, and a policy keeps the default of the schema its table was in when it was made.
import { describe, expect, it } from 'vitest';
import { useLogins, useTestDatabase } from '../support/db.ts';
import { count } from '../support/fixtures.ts';

const db = useTestDatabase();
const q = db.q;

describe('a schema default through a rename or a move of the table (atk132 F1)', () => {
  const { login } = useLogins(db);

  it('renaming the schema, moving the table, then dropping the old schema keep the 10-year default; nothing is deleted', async () => {
    const app = await login('t132_app');
    const role = (await app.query(`select current_user as u`)).rows[0].u as string;
    await q(`grant create on database ${(await q(`select current_database() as d`))[0]!.d} to ${role}`);
    await app.query(`create schema t132`);
    await app.query(`create table t132.events (id int primary key, created_at timestamptz not null)`);
    await app.query(`insert into t132.events select g, now() - g * interval '1 day' from generate_series(1, 400) g`);
    await app.query(`grant usage on schema t132 to public; grant select on t132.events to public`);
    await q(`select retention.set_default('t132', '10 years')`);
    await q(`select retention.set_policy('t132.events', 't132.events', 'delete', 'created_at')`);
    const effective = async () => (await q(`select retain::text, retain_source from retention.effective_policies where name = 't132.events'`))[0];
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });

    await app.query(`alter schema t132 rename to t132_old`);
    await app.query(`create schema t132`);
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });
    await db.call(`call retention.run('t132.events')`);
    expect(await count(db, `t132_old.events`)).toBe(400);

    await app.query(`create schema t132_scratch`);
    await app.query(`alter table t132_old.events set schema t132_scratch`);
    await app.query(`drop schema t132_old`);
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });
    await db.call(`call retention.run('t132.events')`);
    expect(await count(db, `t132_scratch.events`)).toBe(400);
    expect(await q(`select affected::int as n from retention.runs where policy_name = 't132.events' order by run_id`))
      .toEqual([{ n: 0 }, { n: 0 }]);

    // The longest default applies: a shorter one for the new schema does not cut it.
    await q(`select retention.set_default('t132_scratch', '30 days')`);
    expect(await effective()).toEqual({ retain: '10 years', retain_source: 'schema' });
    // A policy made on the table where it is now takes that schema's default.
    await q(`select retention.drop_policy('t132.events')`);
    await q(`select retention.set_policy('t132.events', 't132_scratch.events', 'delete', 'created_at')`);
    expect(await effective()).toEqual({ retain: '30 days', retain_source: 'schema' });
    // The records are the engine's: no direct write was audited.
    expect(await count(db, `retention.audit_log where action like 'direct.%'`)).toBe(0);
  });
});
