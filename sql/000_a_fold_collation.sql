-- retention_internal.fold: the collation pg-retention lowers text under when it compares
-- values without case (holds, the erasure's sweep of messages), whatever the database's
-- own collation. Under a database collation of "C" (initdb --locale=C, --no-locale),
-- lower() folds ASCII letters only: a hold on 'жанна' did not hold 'ЖАННА', which a run
-- deleted (round atk104 F2). A copy of the first of these the server has that lowers
-- every script: libc's C.UTF-8 (the simple case mapping glibc locales use), the builtin
-- provider's (PostgreSQL 17 and later), ICU's root locale. A database that is not UTF-8
-- has none of them and gets a copy of "C" (its text is compared as before).
-- Re-applied by every migrate: made once.
do $$
declare
  v_from text;
begin
  if exists (select from pg_catalog.pg_collation c
              where c.collname = 'fold' and c.collnamespace = 'retention_internal'::pg_catalog.regnamespace) then
    return;
  end if;
  foreach v_from in array array['C.utf8', 'C.UTF-8', 'pg_c_utf8', 'und-x-icu'] loop
    begin
      execute pg_catalog.format('create collation retention_internal.fold from pg_catalog.%I', v_from);
      execute 'select pg_catalog.lower(''ЖÉΣ'' collate retention_internal.fold) = ''жéσ''' into strict v_from;
      if v_from::boolean then
        return;
      end if;
      execute 'drop collation retention_internal.fold';
    exception when others then
      null;  -- not on this server, or not for this database's encoding
    end;
  end loop;
  execute 'create collation retention_internal.fold from pg_catalog."C"';
end
$$;
comment on collation retention_internal.fold is
  'Internal. The collation pg-retention lowers text under when it compares values without case, whatever the database''s collation: one that folds every script (C.UTF-8, pg_c_utf8 or ICU''s root), else "C" in a database that is not UTF-8.';
