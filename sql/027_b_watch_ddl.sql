-- What a hold relies on, recorded the moment the application changes it: a foreign key
-- into a person's table, a partition attached below a held table, a table made to
-- inherit, a subject column's nondeterministic collation. Recorded only when a hold was
-- placed or a run opened, a key created after the
-- hold and dropped before the next run, or a partition attached and detached in between,
-- never was, and the rows it had made held went (round atk76 F1, F2). While a hold is open,
-- every CREATE TABLE and ALTER TABLE of another schema records them at its end, in its
-- transaction (a change rolled back records nothing); so do CREATE SCHEMA (the tables it
-- creates) and the foreign-table commands. PostgreSQL lets only a superuser
-- create an event trigger: where the retention owner is not one, migrate leaves it out and
-- retention.check_setup says so; the records are then made when holds are placed and runs
-- open, as before.
create or replace function retention_internal._watch_ddl()
returns event_trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- pg-retention's own schemas change only under migrate (or the owner), whose routines
  -- may be half replaced then. A command on a schema itself (ALTER SCHEMA ... RENAME) has
  -- no schema_name: it counts (round atk167 F1).
  if not exists (select from pg_catalog.pg_event_trigger_ddl_commands() c
                  where c.schema_name is distinct from 'retention' and c.schema_name is distinct from 'retention_internal'
                    and c.schema_name is distinct from 'pg_temp' and coalesce(c.schema_name !~ '^pg_temp_', true)) then
    return;
  end if;
  if not exists (select from retention_internal._open_holds) then
    -- No hold open: the names a declared subject column's tree is recorded under still
    -- follow renames and moves (past_parents, target_name), so that a hold placed after
    -- the application renamed the declaring partition's parent and rebuilt it under its new
    -- name covers the rebuilt tree (round atk164 F1). A failure here (a lock wait the
    -- application's lock_timeout cut short, a deadlock) refuses the change too: passed
    -- over, the rename would go unrecorded and a hold placed later lose the rebuilt tree
    -- (round atk169).
    if exists (select from retention.policies p where p.subject_column is not null)
       or exists (select from retention.erasure_rules r where r.subject_column is not null) then
      begin
        perform retention_internal._note_subject_families(true);
      exception when others then
        raise exception 'pg-retention could not record the names of tables subject columns are declared on after this change: %', sqlerrm
          using errcode = 'RT043', hint = 'The change is rolled back. Retry it; if it fails again, ask the retention owner (see retention.check_setup()).';
      end;
    end if;
    return;
  end if;
  begin
    perform retention_internal._note_subject_families(true);
    if exists (select from retention_internal._open_holds h where h.scope = 'subject') then
      perform retention_internal._note_subject_links();
      -- A nondeterministic collation given to a subject column and taken away again
      -- between two runs (stop 43 left that open): noted as it is given.
      perform retention_internal._note_held_collations();
    end if;
  exception when others then
    -- A change under an open hold that pg-retention cannot account for is refused: the
    -- hold must not lose rows to it.
    raise exception 'pg-retention could not record what the open legal holds rely on after this change: %', sqlerrm
      using errcode = 'RT043', hint = 'The change is rolled back. Retry it; if it fails again, ask the retention owner (see retention.check_setup()).';
  end;
end
$$;
comment on function retention_internal._watch_ddl() is
  'Internal. Event trigger function (ddl_command_end of CREATE TABLE, ALTER TABLE, ALTER INDEX and ALTER SCHEMA outside pg-retention''s schemas): while a hold is open, records the partition and inheritance edges, the foreign keys and the subject columns'' nondeterministic collations the holds rely on (past_parents, subject_links, held_keys, held_collations); with none open, the edges and names of the trees subject columns are declared in (a failure refuses the change).';
revoke all on function retention_internal._watch_ddl() from public;

do $$
begin
  -- CREATE SCHEMA runs the CREATE TABLEs it holds as its own (round atk79 F2); a foreign
  -- table can be a partition or an inheritance child.
  if (select r.rolsuper from pg_catalog.pg_roles r where r.rolname = current_user) then
    drop event trigger if exists retention_watch_ddl;
    create event trigger retention_watch_ddl on ddl_command_end
      -- ALTER INDEX renames a table too, and ALTER SCHEMA renames every table of the
      -- schema: a tree renamed so and rebuilt under its new name lost its holds, the names
      -- recorded naming nothing (round atk167 F1).
      when tag in ('CREATE TABLE', 'ALTER TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE SCHEMA',
                   'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'IMPORT FOREIGN SCHEMA',
                   'ALTER INDEX', 'ALTER SCHEMA')
      execute function retention_internal._watch_ddl();
  end if;
end
$$;
