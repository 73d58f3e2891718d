// The zones an application may write timestamp (without time zone) columns in, set where
// only a server of its own can set them (round atk95):
//  - F4: the server started with `-c timezone=America/Los_Angeles` (as containers start it),
//    after installation: every session writes Los Angeles wall times, but the zone was
//    read from the configuration files only, so a 20-hour-old row went under a 1-day
//    period. The command line (postmaster.opts) is read now;
//  - F3: ALTER ROLE ALL SET timezone (every role, every database) was not read;
//  - a role with a zone of its own, whether or not it may write the table (round atk98
//    F2: logins write through views and SECURITY DEFINER functions);
//  - atk98 F3: the command line's `-ctimezone=…` (the option and its value in one argument).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Embedded, freePort, startEmbedded } from '../runner/embedded.ts';
import { migrate } from '../runner/migrate.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, '.test-data', `zones-${process.pid}`);
let server: Embedded | null = null;
let url = '';
let port = 0;

async function query(text: string, values?: unknown[]) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  port = await freePort();
  server = await startEmbedded(dataDir, { persistent: true, port });
  url = server.url();
  await migrate(url);
  await server.stop();
  server = await startEmbedded(dataDir, { persistent: true, port, settings: ['timezone=America/Los_Angeles'] });
}, 120_000);

afterAll(async () => {
  await server?.stop().catch(() => {});
  await rm(dataDir, { recursive: true, force: true });
});

/** app.<name> with a row written `young` ago and one two days ago, as wall times in `zone`; a 1-day delete policy naming no zone. */
async function table(name: string, zone: string, young: string) {
  await query(`create schema if not exists app`);
  await query(`create table app.${name} (id int primary key, created_at timestamp not null)`);
  await query(`insert into app.${name} values (1, (now() - $1::interval) at time zone $2), (2, (now() - interval '2 days') at time zone $2)`,
              [young, zone]);
  await query(`select retention.set_policy($1, $2, 'delete', 'created_at', '1 day')`, [name, `app.${name}`]);
}

describe('zones set on the server and for every role', () => {
  it('the server\'s command line (F4): its zone is read, and the 20-hour-old row stays', async () => {
    expect(await query(`select setting from pg_settings where name = 'TimeZone'`)).toEqual([{ setting: 'America/Los_Angeles' }]);
    await table('cmdline', 'America/Los_Angeles', '20 hours');
    const [z] = await query(`select value from retention.policy_settings('cmdline') where setting = 'timestamp_zone'`);
    expect(z!.value).toContain('America/Los_Angeles');
    await query(`call retention.run('cmdline')`);
    expect(await query(`select id from app.cmdline`)).toEqual([{ id: 1 }]);
  });

  it('ALTER ROLE ALL SET timezone (F3): read, and a row written in that zone 23 hours ago stays', async () => {
    await query(`alter role all set timezone = 'Pacific/Honolulu'`);
    await table('allroles', 'Pacific/Honolulu', '23 hours');
    await query(`call retention.run('allroles')`);
    expect(await query(`select id from app.allroles`)).toEqual([{ id: 1 }]);
  });

  it('a role with a zone of its own, without a right to the table (it may write through a view): its zone is read', async () => {
    await query(`create role writer login`);
    await query(`alter role writer set timezone = 'Pacific/Pago_Pago'`);
    await table('writers', 'Pacific/Pago_Pago', '23 hours 30 minutes');
    const [z] = await query(`select value from retention.policy_settings('writers') where setting = 'timestamp_zone'`);
    expect(z!.value).toContain('Pacific/Pago_Pago');
    await query(`call retention.run('writers')`);
    expect(await query(`select id from app.writers`)).toEqual([{ id: 1 }]);
  });

  it('the command line\'s zone in one argument, -ctimezone=… (atk98 F3): read', async () => {
    await query(`alter role all reset timezone`);
    await query(`alter role writer reset timezone`);
    await server!.stop();
    server = await startEmbedded(dataDir, { persistent: true, port, flags: ['-ctimezone=America/New_York'] });
    expect(await query(`select setting from pg_settings where name = 'TimeZone'`)).toEqual([{ setting: 'America/New_York' }]);
    await table('onearg', 'America/New_York', '20 hours');
    const [z] = await query(`select value from retention.policy_settings('onearg') where setting = 'timestamp_zone'`);
    expect(z!.value).toContain('America/New_York');
    await query(`call retention.run('onearg')`);
    expect(await query(`select id from app.onearg`)).toEqual([{ id: 1 }]);
  });
});
