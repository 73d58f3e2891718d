-- Why a function that acting on a table would call runs code the retention owner must not
-- run for someone else, or NULL when it may run. Runs act as the owner, so PostgreSQL calls
-- what a table's triggers (their WHEN clauses too), rules, row security, constraints,
-- defaults, index expressions, domains, partition keys and operator classes name — as the
-- owner. p_owner is the role that owns the object naming it (the table's owner): the
-- author of that code. Refused:
--  * pg-retention's own routines (but trigger functions, which only run as triggers): the
--    owner's EXECUTE would let a table's WHEN clause release a hold or change a policy,
--    audited in the running login's name; and the job schema's (pg-boss), which run SQL;
--  * built-in and extension functions (owned by a superuser) that run SQL, reach other
--    sessions or the server, or hand values out: the *_to_xml family, ts_stat, ts_rewrite,
--    pg_input_*, dblink*, set_config, advisory locks, large objects, pg_notify, signals to
--    backends, configuration reloads, WAL and replication functions;
--  * any function p_owner may not EXECUTE itself (pg_read_file, lo_export and other
--    superuser-only ones; pg-retention's routines it holds no grant on);
--  * built-ins that change or read sequences, indexes or slots with the caller's rights;
--  * a function that neither a superuser nor the retention owner owns, SECURITY DEFINER
--    or not (one that is runs as its owner, but inside the owner's session and transaction).
create or replace function retention_internal._untrusted_call(p_fn oid, p_owner oid)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select case
    when n.nspname in ('retention', 'retention_internal') and p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype
      then 'a pg-retention routine'
    -- The job schema's (pg-boss's, installed by migrate as the owner): job_table_run runs
    -- the SQL it is given, create_queue creates tables; a role that may execute them, as
    -- the retention runner (and so an admin) may, put them in a table's WHEN clause and had
    -- a run execute 'ALTER ROLE … SUPERUSER' as the owner (round atk77 F4).
    -- A scheduler's or partition manager's (pg_cron's cron.schedule runs the SQL it is given
    -- later, as the role that scheduled it: the owner; pg_partman's maintenance drops
    -- partitions, held ones too; round atk80 F4), or one that reaches another database.
    when exists (select from pg_catalog.pg_depend d join pg_catalog.pg_extension e on e.oid = d.refobjid
                  where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.objid = p.oid and d.deptype = 'e'
                    and e.extname in ('pg_cron', 'pg_partman', 'dblink', 'postgres_fdw', 'pg_background', 'pg_later', 'pgagent'))
      then 'a function of a scheduler, partition manager or remote-access extension, which runs SQL of its own'
    -- contrib's refint (check_foreign_key, check_primary_key): a trigger that deletes or
    -- updates the rows of other tables its arguments name, by SQL of its own, unseen by
    -- the hold check (round atk94 F1). Installed as an extension or from its library.
    when exists (select from pg_catalog.pg_depend d join pg_catalog.pg_extension e on e.oid = d.refobjid
                  where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.objid = p.oid and d.deptype = 'e'
                    and e.extname = 'refint')
         or (p.prolang = (select l.oid from pg_catalog.pg_language l where l.lanname = 'c') and p.probin ~ '(^|/)refint(\.so)?$')
      then 'refint''s trigger function, which changes the rows of other tables by SQL of its own'
    when exists (select from pg_catalog.pg_proc j where j.proname = 'job_table_run' and j.pronamespace = p.pronamespace)
         and exists (select from pg_catalog.pg_class v where v.relname = 'version' and v.relnamespace = p.pronamespace)
      then 'a function of pg-retention''s job schema (pg-boss), which runs SQL it is given'
    when o.rolsuper
         and (p.proname ~ '_to_xml' or p.proname ~ '^(pg_input_|dblink|pg_advisory|pg_try_advisory|lo_|pg_logical_|pg_replication_|pg_create_|pg_drop_)'
              or p.proname in ('ts_rewrite', 'ts_stat', 'set_config', 'pg_notify', 'pg_terminate_backend', 'pg_cancel_backend',
                               'pg_reload_conf', 'pg_rotate_logfile', 'pg_switch_wal', 'pg_promote', 'loread', 'lowrite',
                               'pg_log_backend_memory_contexts', 'pg_import_system_collations', 'pg_stat_reset',
                               'pg_stat_reset_shared', 'pg_stat_reset_single_table_counters', 'pg_stat_reset_single_function_counters',
                               'pg_stat_reset_slru', 'pg_stat_reset_replication_slot', 'pg_backup_start', 'pg_backup_stop',
                               'pg_start_backup', 'pg_stop_backup', 'pg_create_restore_point'))
      then 'it runs SQL or reaches other sessions or the server'
    -- Built-ins that act on a sequence with the caller's rights: the owner's, in a run
    -- (setval on retention.legal_holds' ids from a WHEN clause broke the next place_hold;
    -- round atk43). A column default that calls them is not refused (_foreign_code): our
    -- statements never evaluate a default, and a key's SET DEFAULT action evaluates it as
    -- the referencing table's owner.
    when o.rolsuper and p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace
         and p.proname in ('setval', 'nextval', 'currval', 'lastval', 'pg_sequence_last_value')
      then 'it changes or reads a sequence with the caller''s rights'
    when o.rolsuper and p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace
         and (p.proname ~ '^(brin_summarize|brin_desummarize|pg_copy_)' or p.proname in ('gin_clean_pending_list', 'pg_stat_reset_subscription_stats'))
      then 'it changes an index, a slot or statistics with the caller''s rights'
    when p_owner is not null and not pg_catalog.has_function_privilege(p_owner, p.oid, 'EXECUTE')
      then pg_catalog.format('which %s may not execute itself', p_owner::pg_catalog.regrole)
    -- SECURITY DEFINER or not: a function of another role runs inside the retention
    -- owner's session and transaction. As SECURITY DEFINER it runs as its owner, but a
    -- plain SET in it outlives it (the rest of the batch would resolve names on its
    -- search_path, as the retention owner), and DDL in it (CREATE OR REPLACE of another
    -- trigger's function) takes effect within the batch's own statement (rounds atk43,
    -- atk49). Only the retention owner's and superusers' functions are trusted.
    when p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace and not o.rolsuper and o.rolname <> current_user
      then case when p.prosecdef
                then pg_catalog.format('owned by %I (SECURITY DEFINER, it would still run inside the retention owner''s session and transaction)', o.rolname)
                else pg_catalog.format('owned by %I', o.rolname) end
  end
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    join pg_catalog.pg_roles o on o.oid = p.proowner
   where p.oid = p_fn
$$;
comment on function retention_internal._untrusted_call(oid, oid) is
  'Internal. Why calling the function as the retention owner, for code p_owner wrote, is refused (a pg-retention routine, a built-in that runs SQL or reaches the server, one p_owner may not execute, another role''s function), or NULL.';
