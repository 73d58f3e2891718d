-- Locks a table ACCESS EXCLUSIVE for partition DDL, with every table linked to it by a
-- foreign key first (detaching or dropping a partition also takes strong locks on the
-- referenced and referencing tables and all their partitions). Waiting in short attempts
-- (each shorter than half the deadlock_timeout, at most 100 ms), releasing everything
-- between attempts, until p_timeout is spent: so an application transaction that waits
-- for one of these tables never waits long enough for PostgreSQL's deadlock check to
-- pick it as the victim: if our locks form a cycle with its, our attempt gives up first.
-- Raises lock_not_available (55P03) when p_timeout passes without getting them all.
create or replace function retention_internal._lock_for_ddl(p_table regclass, p_timeout interval)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_tables   text[];
  v_attempt  int;
  v_deadline timestamptz := clock_timestamp() + p_timeout;
  v_t        text;
begin
  v_tables := array(
    select retention.qualified_name(x.rel)
      from (select c.confrelid::regclass as rel from pg_catalog.pg_constraint c
             where c.contype = 'f' and c.conrelid = p_table and c.conparentid = 0
            union
            select c.conrelid::regclass from pg_catalog.pg_constraint c
             where c.contype = 'f' and c.confrelid = p_table and c.conparentid = 0) x
     where x.rel <> p_table
     order by x.rel::oid)
    || retention.qualified_name(p_table);
  v_attempt := greatest(1, least(100, extract(epoch from p_timeout) * 1000,
                                 extract(epoch from pg_catalog.current_setting('deadlock_timeout')::interval) * 1000 / 2))::int;
  loop
    begin
      perform set_config('lock_timeout', v_attempt::text, true);
      foreach v_t in array v_tables loop
        execute format('lock table %s in access exclusive mode', v_t);
      end loop;
      return;
    exception when lock_not_available then
      if clock_timestamp() >= v_deadline then
        raise exception 'could not lock % within %', array_to_string(v_tables, ', '), p_timeout
          using errcode = 'lock_not_available',
                hint = 'Other sessions were using the table; the next run tries again (lock_timeout is the policy''s).';
      end if;
    end;
    perform pg_sleep(0.005 + random() * 0.02);
  end loop;
end
$$;
comment on function retention_internal._lock_for_ddl(regclass, interval) is
  'Internal. ACCESS EXCLUSIVE locks for partition DDL on a table and its foreign-key neighbours, taken in short attempts so that any deadlock resolves against this session; 55P03 after p_timeout.';
