-- Validation per action: set_policy checks what every policy has, refuses the settings of
-- other actions (_setting_actions, the SQL side of runner/settings.ts' "actions", which
-- test/settings.test.ts holds to it), and calls the action's own validator for the rest.
-- delete and purge_soft_deleted have nothing of their own.

create or replace function retention_internal._setting_actions()
returns jsonb
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select '{"deleted_at_column": ["soft_delete"],
           "archive_schema": ["drop_partitions"],
           "scrub": ["scrub"], "scrubbed_at_column": ["scrub"], "revoke": ["scrub"],
           "notice_period": ["delete", "soft_delete", "scrub"],
           "tenant_column": ["delete", "soft_delete", "scrub"],
           "approval": ["delete", "purge_soft_deleted", "soft_delete", "scrub"],
           "archive": ["delete", "purge_soft_deleted", "drop_partitions"],
           "archive_retain": ["delete", "purge_soft_deleted", "drop_partitions"],
           "count": ["drop_partitions"]}'::jsonb
$$;
comment on function retention_internal._setting_actions() is
  'Internal. The settings only some actions take, and which (every other setting applies to every action).';

-- drop_partitions: a table partitioned by range on its age column alone, no predicate
-- (whole partitions go), an archive schema that exists and is not the table's own.
create or replace function retention_internal._validate_drop_partitions(p_target regclass, p_age_column text, p_predicate text,
                                                               p_archive_schema text)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_strat  "char";
  v_keys   int2vector;
  v_schema text := (select n.nspname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                     where c.oid = p_target);
begin
  select pt.partstrat, pt.partattrs into v_strat, v_keys
    from pg_catalog.pg_partitioned_table pt where pt.partrelid = p_target;
  if v_strat <> 'r' or array_length(v_keys::int2[], 1) <> 1
     or v_keys[0] <> (select attnum from pg_catalog.pg_attribute
                       where attrelid = p_target and attname = p_age_column) then
    raise exception '% is not partitioned by range on %', p_target, quote_ident(p_age_column)
      using errcode = 'RT013',
            hint = format('drop_partitions needs PARTITION BY RANGE (%I): the partition bounds say how old each partition''s rows are. Its key is: %s.',
                          p_age_column, pg_catalog.pg_get_partkeydef(p_target));
  end if;
  if p_predicate is not null then
    raise exception 'drop_partitions takes no predicate'
      using errcode = 'RT007', hint = 'Whole partitions go; to filter rows use a delete policy per partition instead.';
  end if;
  if p_archive_schema is not null
     and (not exists (select from pg_catalog.pg_namespace where nspname = p_archive_schema)
          or p_archive_schema in ('retention', 'retention_internal', 'pg_catalog', 'information_schema', v_schema)) then
    raise exception 'archive schema % %', quote_literal(p_archive_schema),
          case when p_archive_schema = v_schema then 'is the table''s own schema' else 'is not usable' end
      using errcode = 'RT018',
            hint = 'Create a schema for detached partitions first (CREATE SCHEMA archive;), other than the table''s own and the system schemas.';
  end if;
end
$$;
comment on function retention_internal._validate_drop_partitions(regclass, text, text, text) is
  'Internal. set_policy''s checks of a drop_partitions policy: range partitioning on the age column, no predicate, a usable archive schema (RT013, RT007, RT018).';

-- soft_delete: a deleted-at timestamp column other than the age column.
create or replace function retention_internal._validate_soft_delete(p_target regclass, p_age_column text, p_deleted_at_column text)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if p_deleted_at_column is null then
    raise exception 'action soft_delete needs p_deleted_at_column'
      using errcode = 'RT007', hint = 'Name the column that marks a row deleted, e.g. p_deleted_at_column => ''deleted_at''.';
  end if;
  perform retention_internal._check_timestamp_column(p_target, p_deleted_at_column, 'deleted-at',
    'Name the column that marks a row deleted, e.g. deleted_at.');
  if p_deleted_at_column = p_age_column then
    raise exception 'the deleted-at column cannot also be the age column'
      using errcode = 'RT007', hint = 'soft_delete ages rows by one column (e.g. last_seen_at) and marks them in another (deleted_at).';
  end if;
end
$$;
comment on function retention_internal._validate_soft_delete(regclass, text, text) is
  'Internal. set_policy''s checks of a soft_delete policy: its deleted-at column (RT007, RT002, RT003).';

-- scrub: the column map (_validate_scrub), a scrubbed-at column of its own, and revoke
-- tables that reference the table through exactly one foreign key. Returns the map
-- normalised and the revoke tables resolved.
create or replace function retention_internal._validate_scrub_policy(p_target regclass, p_age_column text, p_subject_column text,
                                                            p_scrub jsonb, p_scrubbed_at_column text, p_revoke text[],
                                                            out scrub jsonb, out revoke regclass[])
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_name text;
  v_rel  regclass;
begin
  scrub := retention_internal._validate_scrub(p_target, p_scrub, p_age_column, p_subject_column);
  if p_scrubbed_at_column is not null then
    perform retention_internal._check_timestamp_column(p_target, p_scrubbed_at_column, 'scrubbed-at',
      'Name the column that records when a row was scrubbed, e.g. scrubbed_at, or leave it NULL.');
    if scrub ? p_scrubbed_at_column or p_scrubbed_at_column = p_age_column then
      raise exception 'the scrubbed-at column % cannot also be scrubbed or age rows', quote_ident(p_scrubbed_at_column)
        using errcode = 'RT019', hint = 'It marks scrubbed rows; name a column of its own.';
    end if;
  end if;
  -- Tables whose rows pointing at a scrubbed row go with it (sessions, tokens): each
  -- must reference the policy's table through exactly one foreign key.
  foreach v_name in array coalesce(p_revoke, '{}') loop
    v_rel := retention_internal._resolve_table(v_name,
      'p_revoke lists tables whose rows reference the scrubbed rows, e.g. {auth.sessions,auth.refresh_tokens}.');
    -- A revoke deletes from the table itself (ONLY): a partitioned one has no rows of its
    -- own, and its partitions' rows would stay (round atk87 F5).
    if (select c.relkind from pg_catalog.pg_class c where c.oid = v_rel) = 'p' then
      raise exception '% is partitioned: a revoke would reach none of its partitions'' rows', v_rel
        using errcode = 'RT019', hint = 'Name its partitions in p_revoke instead, or point a foreign key with ON DELETE CASCADE from it at the scrubbed table and revoke nothing.';
    end if;
    if (select count(*) from pg_catalog.pg_constraint c
         where c.contype = 'f' and c.conrelid = v_rel and c.confrelid = p_target) <> 1 then
      raise exception '% does not reference % through exactly one foreign key', v_rel, p_target
        using errcode = 'RT019', hint = 'Revoked rows are found through their foreign key to the scrubbed table; add one (or name another table).';
    end if;
    revoke := revoke || v_rel;
  end loop;
end
$$;
comment on function retention_internal._validate_scrub_policy(regclass, text, text, jsonb, text, text[]) is
  'Internal. set_policy''s checks of a scrub policy: the column map, the scrubbed-at column and the revoke tables (RT019, RT002, RT003, RT001); returns the map normalised and the tables resolved.';
