// For the privilege tests: an application role that owns a schema, with esc(), which makes
// the role superuser when a superuser runs it. A test puts esc() where the retention
// owner might run it (an IMMUTABLE evil() in an index, a domain's CHECK …) and checks
// that the role never becomes superuser.
import type pg from 'pg';
import type { TestDb } from './db.ts';

/** Whether the role is a superuser now. */
export async function isSuperuser(db: TestDb, role: string): Promise<boolean> {
  return (await db.q<{ s: boolean }>(`select rolsuper as s from pg_roles where rolname = $1`, [role]))[0]!.s;
}

/** Connects as `c` (a login of the test's), makes schema `<name>_s` owned by its role and
 * `<name>_s.esc()` in it; returns the role and the schema. */
export async function escalatingApp(db: TestDb, c: pg.Client, name: string): Promise<{ role: string; s: string }> {
  const role = (await c.query<{ r: string }>(`select current_user as r`)).rows[0]!.r;
  const s = `${name}_s`;
  await db.q(`create schema ${s} authorization ${role}`);
  await c.query(`create function ${s}.esc() returns int language plpgsql volatile as $$
                   begin
                     if (select rolsuper from pg_roles where rolname = current_user) then
                       execute format('alter role %I superuser', '${role}');
                     end if;
                     return 1;
                   end $$`);
  return { role, s };
}
