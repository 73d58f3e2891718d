// The owner's `pg-retention migrate` must run nothing another role wrote (atk57). Two ways
// a login became superuser through it: pg-boss's background-migration poller, started by
// the migrate as the owner, ran the `command` of rows the runner could insert into the job
// schema's `bam` table (F1); and node-pg-migrate's catalog queries resolved `=` on
// information_schema.sql_identifier through the owner's own search_path, where a login
// with CREATE on public had planted an operator (F2).
import { getRollbackPlans } from 'pg-boss';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { sqlState, useLogins, useTestDatabase } from '../support/db.ts';

const db = useTestDatabase();
const { login, tag } = useLogins(db);

const superuser = async (role: string) =>
  (await db.q<{ s: boolean }>(`select rolsuper as s from pg_roles where rolname = $1`, [role]))[0]!.s;

describe('migrate runs nothing another role wrote', () => {
  it('the runner cannot write the job schema\'s command queue, its version stamps or a queue\'s table name', async () => {
    expect((await runCli(['migrate'], { url: db.url })).code).toBe(0);
    const runner = await login('jobs_runner', 'retention_runner');
    expect(await sqlState(runner.query(`update retention_jobs.version set bam_on = null`))).toBe('42501');
    expect(await sqlState(runner.query(`update retention_jobs.version set version = version`))).toBe('42501');
    expect(await sqlState(runner.query(
      `insert into retention_jobs.bam (name, version, table_name, command) values ('x', 43, 'job_common', 'select 1')`))).toBe('42501');
    expect(await sqlState(runner.query(`update retention_jobs.bam set command = 'select 1'`))).toBe('42501');
    expect(await sqlState(runner.query(`update retention_jobs.queue set table_name = 'x'`))).toBe('42501');
    // A queue row it adds (the worker's pg-boss adds its cron queue) names only the table
    // pg-boss would: the upgrade functions format it into DDL as the owner.
    expect(await sqlState(runner.query(
      `insert into retention_jobs.queue (name, policy, partition, table_name) values ('evil', 'standard', true, 'job_common_i1 on x; alter role x superuser; --')`))).toBe('42501');
    expect(await sqlState(runner.query(
      `insert into retention_jobs.queue (name, policy, partition, table_name) values ('evil2', 'standard', false, 'jfoo')`))).toBe('42501');
    await runner.query(`select retention_jobs.create_queue('plain', '{"policy": "standard"}'::jsonb)`);
    await db.q(`delete from retention_jobs.queue where name = 'plain'`);
    expect(await sqlState(runner.query(`select retention_jobs.job_table_run_async('x', 43, 'select 1', 'job_common')`))).toBe('42501');
    // What the worker does stays allowed: its jobs, schedules and stamps.
    await runner.query(`update retention_jobs.version set cron_on = cron_on`);
    await runner.query(`update retention_jobs.queue set monitor_on = monitor_on`);
    await runner.query(`select count(*) from retention_jobs.job`);
  });

  it('a pending background-migration command, written before this version, is not run by the owner\'s migrate', async () => {
    const mallory = `mallory_${tag}`;
    await login('mallory', 'retention_runner');
    // As F1 left it: a row the runner wrote while it still could, the poll stamp cleared.
    await db.q(`update retention_jobs.version set bam_on = null`);
    await db.q(`insert into retention_jobs.bam (name, version, table_name, command)
                select 'x', version, 'job_common', 'alter role ${mallory} superuser' from retention_jobs.version`);
    // The run queue's row held for a while, so a background poller the migrate started
    // would have its time to run the command (F1's reproduction did the same).
    const holder = await db.connect();
    await holder.query(`begin; select 1 from retention_jobs.queue for update`);
    const migrating = runCli(['migrate'], { url: db.url });
    await new Promise((r) => setTimeout(r, 3000));
    await holder.query('commit');
    await holder.end();
    const res = await migrating;
    expect(res.code, res.stderr).toBe(0);
    expect(await superuser(mallory)).toBe(false);
    expect((await db.q(`select status from retention_jobs.bam where name = 'x'`))[0]!.status).toBe('pending');
    await db.q(`delete from retention_jobs.bam where name = 'x'`);
  });

  it('operators planted in public do not capture the catalog queries of migrate or of a command', async () => {
    const eve = `eve_${tag}`;
    const c = await login('eve');
    await db.q(`grant create on schema public to ${eve}`);
    await db.q(`create table public.captured_${tag} (who text); grant insert on public.captured_${tag} to public`);
    await c.query(`
      create function public.evil_eq(information_schema.sql_identifier, information_schema.sql_identifier) returns boolean
      language plpgsql as $$ begin
        insert into public.captured_${tag} values (current_user);
        if (select rolsuper from pg_roles where rolname = current_user) then execute 'alter role ${eve} superuser'; end if;
        return $1::name = $2::name;
      end $$;
      create operator public.= (leftarg = information_schema.sql_identifier, rightarg = information_schema.sql_identifier,
                                function = public.evil_eq);`);
    // The owner's role as it often is: public on its path (the default "$user", public).
    const res = await runCli(['migrate'], { url: db.url });
    expect(res.code, res.stderr).toBe(0);
    for (const args of [['policies'], ['holds', 'list'], ['runs'], ['doctor'], ['report', '--month', '2026-11']]) {
      await runCli(args, { url: db.url });
    }
    expect(await db.q(`select who from public.captured_${tag}`)).toEqual([]);
    expect(await superuser(eve)).toBe(false);
    await db.q(`drop operator public.= (information_schema.sql_identifier, information_schema.sql_identifier);
                drop function public.evil_eq;
                revoke create on schema public from ${eve}`);
  });

  it('an upgrade of the job schema refuses queue rows whose table pg-boss would not name (written before the guard)', async () => {
    await db.q(getRollbackPlans('retention_jobs', 43));
    await db.q(`alter table retention_jobs.queue disable trigger retention_queue_guard`);
    await db.q(`insert into retention_jobs.queue (name, policy, retry_limit, retry_delay, retry_backoff, expire_seconds, retention_seconds,
                                                  deletion_seconds, partition, table_name)
                select 'evil', policy, retry_limit, retry_delay, retry_backoff, expire_seconds, retention_seconds, deletion_seconds,
                       true, 'x on y; alter role z superuser; --'
                  from retention_jobs.queue where name = 'retention-run'`);
    await db.q(`alter table retention_jobs.queue enable trigger retention_queue_guard`);
    const refused = await runCli(['migrate'], { url: db.url });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/queues whose table is not the one pg-boss names: evil\n.*nothing was upgraded/);
    expect((await db.q(`select version from retention_jobs.version`))[0]!.version).toBe(42);
    await db.q(`delete from retention_jobs.queue where name = 'evil'`);
    const res = await runCli(['migrate'], { url: db.url });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('upgraded the job schema retention_jobs from pg-boss schema version 42 to 43');
    expect((await db.q(`select version from retention_jobs.version`))[0]!.version).toBe(43);
  });

  it('an operator\'s options in the connection URL are kept, and the search path is still pinned', async () => {
    const u = new URL(db.url);
    u.searchParams.set('options', '-c search_path=public');
    const res = await runCli(['migrate'], { url: u.toString() });
    expect(res.code, res.stderr).toBe(0);
  });

  it('a job schema made by another role is refused, and nothing is installed into it', async () => {
    const c = await login('squatter');
    await db.q(`grant create on database ${db.name} to squatter_${tag}`);
    await c.query(`create schema squat_jobs_${tag}`);
    const res = await runCli(['migrate'], { url: db.url, env: { PG_RETENTION_JOB_SCHEMA: `squat_jobs_${tag}` } });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/belongs to squatter_.*\n.*hint: drop it/);
    expect((await db.q(`select count(*)::int as n from pg_class where relnamespace = 'squat_jobs_${tag}'::regnamespace`))[0]!.n).toBe(0);
    await c.query(`drop schema squat_jobs_${tag}`);
    await db.q(`revoke create on database ${db.name} from squatter_${tag}`);
  });
});
