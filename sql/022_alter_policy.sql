-- A JSON object without its keys whose value is null (one level: nested nulls stay).
create or replace function retention_internal._strip_top_nulls(p jsonb)
returns jsonb
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
    from pg_catalog.jsonb_each(p) e where pg_catalog.jsonb_typeof(e.value) <> 'null'
$$;
comment on function retention_internal._strip_top_nulls(jsonb) is
  'Internal. A JSON object without its top-level null values (nested ones stay).';

-- Changes the settings of a policy that are given and keeps every other one (set_policy is
-- declarative: it takes the whole policy, as a file gives it, and resets what is left
-- out). A NULL argument means "not given"; p_reset names settings to return to
-- set_policy's default (retain: inherit the schema's or category's default period;
-- subject_column, schedule, predicate, …: none). The merged policy goes through
-- set_policy, so it is validated and audited exactly as a new one would be, and each
-- setting's default lives in set_policy's signature alone.
create or replace function retention.alter_policy(
  p_name               text,
  p_target             text     default null,
  p_action             text     default null,
  p_age_column         text     default null,
  p_retain             interval default null,
  p_predicate          text     default null,
  p_subject_column     text     default null,
  p_deleted_at_column  text     default null,
  p_batch_size         integer  default null,
  p_max_rows_per_run   bigint   default null,
  p_time_budget        interval default null,
  p_lock_timeout       interval default null,
  p_schedule           text     default null,
  p_time_zone          text     default null,
  p_enabled            boolean  default null,
  p_description        text     default null,
  p_category           text     default null,
  p_notify_over_rows   bigint   default null,
  p_archive_schema     text     default null,
  p_scrub              jsonb    default null,
  p_scrubbed_at_column text     default null,
  p_revoke             text[]   default null,
  p_run_cap            bigint   default null,
  p_notice_period      interval default null,
  p_tenant_column      text     default null,
  p_approval           text     default null,
  p_archive            boolean  default null,
  p_archive_retain     interval default null,
  p_pause_between_batches interval default null,
  p_max_replication_lag   interval default null,
  p_batch_target       interval default null,
  p_count              text     default null,
  p_timestamp_zone     text     default null,
  p_reset              text[]   default null
)
returns retention.policies
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_old      retention.policies := retention_internal._get_policy(p_name);
  v_new      retention.policies;
  v_current  jsonb;
  v_given    jsonb;
  v_merged   jsonb;
  v_settable text[];
  v_bad      text;
  v_args     text;
begin
  perform retention_internal._check_called_directly('change a policy');
  -- Locked until commit: two alters at once would each keep the other's old values.
  select * into v_old from retention.policies p where p.policy_id = v_old.policy_id for update;
  -- The policy as set_policy's arguments (their names without p_).
  v_current := retention_internal._policy_args(v_old);
  -- Only the arguments' own NULLs mean "not given": jsonb_strip_nulls would also reach
  -- into p_scrub, where a JSON null is the "null" strategy.
  v_given := retention_internal._strip_top_nulls(jsonb_build_object(
    'target', p_target, 'action', p_action, 'age_column', p_age_column, 'retain', p_retain,
    'predicate', p_predicate, 'subject_column', p_subject_column, 'deleted_at_column', p_deleted_at_column,
    'batch_size', p_batch_size, 'max_rows_per_run', p_max_rows_per_run, 'time_budget', p_time_budget,
    'lock_timeout', p_lock_timeout, 'schedule', p_schedule, 'time_zone', p_time_zone, 'enabled', p_enabled,
    'description', p_description, 'category', p_category, 'notify_over_rows', p_notify_over_rows,
    'archive_schema', p_archive_schema, 'scrub', p_scrub, 'scrubbed_at_column', p_scrubbed_at_column,
    'revoke', to_jsonb(p_revoke), 'run_cap', p_run_cap, 'notice_period', p_notice_period,
    'tenant_column', p_tenant_column, 'approval', p_approval, 'archive', p_archive,
    'archive_retain', p_archive_retain, 'pause_between_batches', p_pause_between_batches,
    'max_replication_lag', p_max_replication_lag, 'batch_target', p_batch_target,
    'count', p_count, 'timestamp_zone', p_timestamp_zone));

  -- What may be reset: every setting set_policy has a default for.
  select array_agg(substr(a.name, 3) order by a.n) into v_settable
    from pg_catalog.pg_proc p
   cross join lateral unnest(p.proargnames) with ordinality a(name, n)
   where p.oid = 'retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint, interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text, boolean, interval, interval, interval, interval, text, text)'::regprocedure
     and a.n > p.pronargs - p.pronargdefaults;
  -- The first five, each cut to 64 characters: 100,000 unknown names made a message of a
  -- megabyte (atk97 F10h).
  select array_to_string((array_agg(coalesce(quote_literal(case when length(r) > 64 then left(r, 64) || '…' else r end), 'NULL')
                                     order by n))[1:5], ', ')
         || case when count(*) > 5 then format(' and %s more', count(*) - 5) else '' end
    into v_bad
    from unnest(coalesce(p_reset, '{}')) with ordinality u(r, n) where r is null or not (r = any (v_settable));
  if v_bad is not null then
    raise exception 'alter_policy: cannot reset %', v_bad
      using errcode = 'RT028',
            hint = format('Settings that can be reset to their default: %s. target, action and age_column have none: give a new value instead.',
                          array_to_string(v_settable, ', '));
  end if;
  select string_agg(distinct r, ', ') into v_bad from unnest(coalesce(p_reset, '{}')) r where v_given ? r;
  if v_bad is not null then
    raise exception 'alter_policy: % both given and reset', v_bad
      using errcode = 'RT028', hint = 'Give a new value, or reset the setting to its default; not both.';
  end if;
  if v_given = '{}' and coalesce(cardinality(p_reset), 0) = 0 then
    raise exception 'alter_policy: no setting given for policy %', p_name
      using errcode = 'RT028', hint = 'Name the settings to change, e.g. retention.alter_policy(''' || p_name || ''', p_retain => ''90 days''), or p_reset => array[''schedule''].';
  end if;

  v_merged := retention_internal._strip_top_nulls(v_current || v_given) - coalesce(p_reset, '{}');
  if v_old.subject_column is not null and (v_merged ->> 'subject_column') is distinct from v_old.subject_column::text then
    raise warning 'policy %: subject holds no longer protect rows of % through its column %', p_name,
          retention.qualified_name(v_old.target), quote_ident(v_old.subject_column)
      using hint = 'A legal hold on a person then keeps their rows of this table only through another policy''s subject column or a table hold.';
  end if;

  -- set_policy with the merged settings, each cast to its parameter's type.
  select string_agg(format('%I => %L::%s', a.name, case when jsonb_typeof(v_merged -> substr(a.name, 3)) = 'array'
                                                         and t.typ = 'text[]'::regtype
                                                        then array(select jsonb_array_elements_text(v_merged -> substr(a.name, 3)))::text
                                                        when t.typ = 'jsonb'::regtype then (v_merged -> substr(a.name, 3))::text
                                                        else v_merged ->> substr(a.name, 3) end, t.typ), ', ' order by a.n)
    into v_args
    from pg_catalog.pg_proc p
   cross join lateral unnest(p.proargnames, p.proargtypes::oid[]) with ordinality a(name, typ, n)
   cross join lateral (select a.typ::regtype as typ) t
   where p.oid = 'retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint, interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text, boolean, interval, interval, interval, interval, text, text)'::regprocedure
     and a.name <> 'p_name' and v_merged ? substr(a.name, 3);
  execute format('select * from retention.set_policy(p_name => %L, %s)', p_name, v_args) into v_new;
  return v_new;
end
$$;
comment on function retention.alter_policy(text, text, text, text, interval, text, text, text, integer, bigint, interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text, boolean, interval, interval, interval, interval, text, text, text[]) is
  'Changes only the settings given (NULL = not given; p_reset returns settings to their defaults) and keeps every other one; validated and audit-logged by set_policy. RT028 for a setting that cannot be reset, one both given and reset, or nothing given. Warns when the subject column goes (subject holds no longer cover the table through it).';
