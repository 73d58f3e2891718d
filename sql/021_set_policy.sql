-- Creates or replaces a policy (declarative: arguments not given take their defaults;
-- retention.alter_policy changes only the settings it is given).
-- Everything is validated before anything is written, each failure with its own
-- SQLSTATE and a hint; the change is audit-logged with the fields that changed.
create or replace function retention.set_policy(
  p_name              text,
  p_target            text,
  p_action            text,
  p_age_column        text,
  p_retain            interval default null,
  p_predicate         text     default null,
  p_subject_column    text     default null,
  p_deleted_at_column text     default null,
  p_batch_size        integer  default null,
  p_max_rows_per_run  bigint   default 10000,
  p_time_budget       interval default '10 minutes',
  p_lock_timeout      interval default '2 seconds',
  p_schedule          text     default null,
  p_time_zone         text     default 'UTC',
  p_enabled           boolean  default true,
  p_description       text     default null,
  p_category          text     default null,
  p_notify_over_rows  bigint   default null,
  p_archive_schema    text     default null,
  p_scrub             jsonb    default null,
  p_scrubbed_at_column text    default null,
  p_revoke            text[]   default null,
  p_run_cap           bigint   default null,
  p_notice_period     interval default null,
  p_tenant_column     text     default null,
  p_approval          text     default 'none',
  p_archive           boolean  default null,
  p_archive_retain    interval default null,
  p_pause_between_batches interval default null,
  p_max_replication_lag   interval default null,
  p_batch_target      interval default null,
  p_count             text     default null,
  p_timestamp_zone    text     default null
)
returns retention.policies
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_target   regclass;
  v_cover    oid[];
  v_relkind  "char";
  v_schema   text;
  v_old      retention.policies;
  v_new      retention.policies;
  v_changes  jsonb;
  v_scrub    jsonb;
  v_revoke   regclass[];
  v_name     text;
  v_predicate text;
begin
  perform retention_internal._check_called_directly('set a policy');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  if p_name is null or p_name !~ '^[a-z0-9][a-z0-9_.-]{0,62}$' then
    raise exception 'invalid policy name %', coalesce(quote_literal(p_name), 'NULL')
      using errcode = 'RT009',
            hint = 'Use 1-63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, e.g. sessions.expired.';
  end if;

  v_target := retention_internal._resolve_table(p_target,
    'Give an existing table, schema-qualified, e.g. app.sessions (\dt *.* lists them).');
  -- This runs as the owner: the login must be able to read the table itself (a policy's
  -- preview would otherwise tell it about rows it cannot see).
  perform retention_internal._check_can_read(v_target);
  select c.relkind, n.nspname into v_relkind, v_schema
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = v_target;
  if retention_internal._citus_table(v_target) then
    raise exception '% is a Citus distributed table', v_target
      using errcode = 'RT013',
            hint = 'A batch addresses the rows it picked by ctid, which is unique within one shard only; pg-retention does not act on distributed tables yet (docs/scaling.md).';
  end if;
  if retention_internal._system_namespace((select c.relnamespace from pg_catalog.pg_class c where c.oid = v_target))
     or v_relkind not in ('r', 'p')
     or (v_relkind = 'p') <> (p_action is not distinct from 'drop_partitions') then
    raise exception '% is not %', v_target,
          case when v_relkind = 'p' then 'an ordinary application table'
               when p_action = 'drop_partitions' then 'a partitioned table'
               else 'an ordinary application table' end
      using errcode = 'RT013',
            hint = case when retention_internal._system_namespace((select c.relnamespace from pg_catalog.pg_class c where c.oid = v_target))
                        then 'Policies apply to tables outside the retention, job queue, temporary and system schemas.'
                        when v_relkind = 'p'
                        then 'For a range-partitioned table use action drop_partitions (whole partitions go), or declare a row policy per partition.'
                        when p_action = 'drop_partitions'
                        then 'drop_partitions needs a table partitioned by range on its age column; use delete for an ordinary table.'
                        else 'Policies apply to ordinary and partitioned tables, not views or foreign tables.' end;
  end if;

  if p_action is null or p_action not in ('delete', 'soft_delete', 'purge_soft_deleted', 'drop_partitions', 'scrub') then
    raise exception 'unknown action %', coalesce(quote_literal(p_action), 'NULL')
      using errcode = 'RT007', hint = 'Actions: delete, soft_delete, purge_soft_deleted, drop_partitions, scrub.';
  end if;

  perform retention_internal._check_timestamp_column(v_target, p_age_column, 'age',
    'Name the timestamp column that ages rows (\d ' || v_target::text || ' lists the columns).');

  -- Settings of some actions only (retention_internal._setting_actions; runner/settings.ts agrees).
  select string_agg(format('p_%s is only used by %s', k.key,
                           (select string_agg(x, ', ') from jsonb_array_elements_text(k.value) x)), '; ')
    into v_name
    from jsonb_each(retention_internal._setting_actions()) k
   where retention_internal._strip_top_nulls(jsonb_build_object(
           'deleted_at_column', p_deleted_at_column, 'archive_schema', p_archive_schema, 'scrub', p_scrub,
           'scrubbed_at_column', p_scrubbed_at_column, 'revoke', p_revoke, 'notice_period', p_notice_period,
           'tenant_column', p_tenant_column, 'approval', nullif(p_approval, 'none'),
           'archive', case when p_archive then true end, 'archive_retain', p_archive_retain,
           'count', p_count)) ? k.key
     and not (k.value ? p_action);
  if v_name is not null then
    raise exception '%', v_name
      using errcode = 'RT007',
            hint = case when p_action = 'purge_soft_deleted' and p_deleted_at_column is not null
                        then 'For purge_soft_deleted, name the deleted-at column as p_age_column: rows soft-deleted longer than the period are removed.'
                        else format('Leave them NULL for %s.', p_action) end;
  end if;
  v_name := null;


  if p_subject_column is not null and retention_internal._column_type(v_target, p_subject_column) is null then
    raise exception 'subject column % does not exist in %', quote_literal(p_subject_column), v_target
      using errcode = 'RT002', hint = 'Name the column that identifies the data subject (e.g. user_id), or leave it NULL.';
  end if;
  -- Subject holds compare it with a person's id: a type without equality (json, point,
  -- xml) would make every subject hold fail to be placed, anywhere (round atk64 F8).
  if p_subject_column is not null then
    begin
      execute format('select array[null]::%1$s[] = array[null]::%1$s[]', retention_internal._column_type(v_target, p_subject_column));
    exception when undefined_function or undefined_object then
      raise exception 'subject column % of % is of type %, which has no equality to match a person''s id with',
            quote_literal(p_subject_column), v_target, retention_internal._column_type(v_target, p_subject_column)
        using errcode = 'RT002', hint = 'Name a column holding the subject''s id as text, a number or a uuid (or a key referencing the person), or leave it NULL.';
    end;
  end if;

  -- What each action needs of its own, in its own routine.
  case p_action
    when 'drop_partitions' then
      perform retention_internal._validate_drop_partitions(v_target, p_age_column, p_predicate, p_archive_schema);
    when 'soft_delete' then
      perform retention_internal._validate_soft_delete(v_target, p_age_column, p_deleted_at_column);
    when 'scrub' then
      select x.scrub, x.revoke into v_scrub, v_revoke
        from retention_internal._validate_scrub_policy(v_target, p_age_column, p_subject_column, p_scrub, p_scrubbed_at_column, p_revoke) x;
    else
      null;  -- delete, purge_soft_deleted: nothing of their own
  end case;

  if p_enabled is null then
    raise exception 'p_enabled must be true or false'
      using errcode = 'RT006', hint = 'Leave it out for an enabled policy, or pass false to keep it from running.';
  end if;
  perform retention_internal._check_note(p_description, 2000, 'a policy''s description', 'RT006');
  if p_retain is not null and not retention_internal._period_positive(p_retain) then
    raise exception 'retention period must be positive, got %', p_retain
      using errcode = 'RT004', hint = 'Give a positive interval such as ''30 days'', or NULL to inherit the schema or global default.';
  end if;
  -- A cutoff is now() minus the period: beyond PostgreSQL's timestamps it cannot be
  -- computed (and no law keeps data for a thousand years).
  if p_retain > interval '1000 years' or p_archive_retain > interval '1000 years' or p_notice_period > interval '1000 years' then
    raise exception 'periods must be at most 1000 years, got %', greatest(p_retain, p_archive_retain, p_notice_period)
      using errcode = 'RT004', hint = 'Give the period the law or your policy sets, e.g. ''10 years''; a table kept for good needs no policy.';
  end if;
  -- Valid, but shorter than any law or notice asks for: said, not refused (tests and
  -- queues of short-lived rows use them; atk97 F11).
  if p_retain < interval '1 hour' and retention_internal._period_positive(p_retain) then
    raise warning 'retention period % is shorter than an hour: rows go almost as soon as they are written', p_retain
      using hint = 'Periods are usually days or years, e.g. ''30 days''; alter_policy changes it.';
  end if;
  -- (A period that is not positive is refused below, without the warning: atk121 F3.)
  if p_notice_period < interval '1 day' and retention_internal._period_positive(p_notice_period) then
    raise warning 'notice period % is shorter than a day: the people it warns have next to no time to act', p_notice_period
      using hint = 'Notice is usually weeks, e.g. ''30 days''; alter_policy changes it.';
  end if;
  if p_archive_retain < interval '1 day' and retention_internal._period_positive(p_archive_retain) then
    raise warning 'archive_retain % is shorter than a day: archive objects are deleted almost as soon as they are written', p_archive_retain
      using hint = 'Archives are usually kept years, e.g. ''10 years''; alter_policy changes it.';
  end if;
  if p_batch_target is not null and not retention_internal._interval_between(p_batch_target, interval '5 milliseconds', interval '10 seconds') then
    raise exception 'batch target must be between 5 milliseconds and 10 seconds, got %', p_batch_target
      using errcode = 'RT006', hint = 'E.g. ''50 milliseconds'' (the default): how long each batch should take; batches size themselves to it.';
  end if;
  if p_count is not null and p_count not in ('exact', 'estimate') then
    raise exception 'count must be exact or estimate, got %', quote_literal(p_count)
      using errcode = 'RT007', hint = 'estimate (the default) takes the rows of a dropped partition from PostgreSQL''s statistics; exact counts every row.';
  end if;
  if p_batch_target is not null and p_batch_size is not null then
    raise exception 'batch_size and batch_target exclude each other'
      using errcode = 'RT006', hint = 'Give batch_size for batches of a fixed number of rows, or batch_target (or neither: 50 ms) for batches that size themselves.';
  end if;
  if p_batch_size is not null and p_batch_size not between 1 and 50000 then
    raise exception 'batch size must be between 1 and 50000, got %', p_batch_size
      using errcode = 'RT006', hint = 'The default of 1000 rows keeps each batch''s locks short.';
  end if;
  if p_max_rows_per_run is null or p_max_rows_per_run not between 1 and 1000000000 then
    raise exception 'max rows per run must be between 1 and 1000000000, got %', p_max_rows_per_run
      using errcode = 'RT006', hint = 'The ceiling stops a run that would affect more rows than expected; the default is 10000.';
  end if;
  if not retention_internal._interval_between(p_time_budget, interval '1 millisecond', interval '24 hours') then
    raise exception 'time budget must be between 0 and 24 hours, got %', p_time_budget
      using errcode = 'RT006', hint = 'E.g. ''10 minutes''. A run stops between batches when its budget is spent.';
  end if;
  if p_pause_between_batches is not null
     and not retention_internal._interval_between(p_pause_between_batches, interval '1 millisecond', interval '1 minute') then
    raise exception 'pause between batches must be between 1 millisecond and 1 minute, got %', p_pause_between_batches
      using errcode = 'RT006', hint = 'E.g. ''100 milliseconds''; leave it NULL for no pause.';
  end if;
  if p_max_replication_lag is not null
     and not retention_internal._interval_between(p_max_replication_lag, interval '1 millisecond', interval '1 day') then
    raise exception 'max replication lag must be between 0 and 1 day, got %', p_max_replication_lag
      using errcode = 'RT006', hint = 'E.g. ''10 seconds'': between batches the run waits while a standby''s replay lags more; NULL: no throttle.';
  end if;
  -- Set in whole milliseconds: under one it would be 0, which PostgreSQL takes for no
  -- timeout at all (round atk64 F9).
  if not retention_internal._interval_between(p_lock_timeout, interval '1 millisecond', interval '1 minute') then
    raise exception 'lock timeout must be between 1 millisecond and 1 minute, got %', p_lock_timeout
      using errcode = 'RT006', hint = 'E.g. ''2 seconds''. A batch that cannot get its locks in time stops the run; the next run carries on.';
  end if;
  if retention_internal._cron_error(p_schedule) is not null then
    raise exception 'schedule % is not a cron expression: %', quote_literal(p_schedule), retention_internal._cron_error(p_schedule)
      using errcode = 'RT016', hint = 'Use five cron fields (minute hour day-of-month month day-of-week), e.g. ''0 2 * * *'' for 02:00 daily, or @daily, @weekly, @monthly.';
  end if;
  if p_category is not null and p_category not in ('tokens', 'logs', 'accounts', 'audit', 'metrics') then
    raise exception 'unknown category %', quote_literal(p_category)
      using errcode = 'RT016',
            hint = 'Categories pick a default schedule: tokens and logs daily 02:00, accounts Sundays 03:00, audit and metrics on the 1st at 04:00. Or give p_schedule.';
  end if;
  if p_run_cap is not null and p_run_cap not between 1 and p_max_rows_per_run then
    raise exception 'run cap must be between 1 and the ceiling (%), got %', p_max_rows_per_run, p_run_cap
      using errcode = 'RT006', hint = 'A run stops after p_run_cap rows and the next run carries on; above the ceiling every run would be refused.';
  end if;
  if p_notify_over_rows is not null and p_notify_over_rows < 1 then
    raise exception 'notify_over_rows must be at least 1, got %', p_notify_over_rows
      using errcode = 'RT006', hint = 'A run affecting at least this many rows is announced as a large deletion; NULL means 100000.';
  end if;
  if p_timestamp_zone is not null and not retention_internal._time_zone_ok(p_timestamp_zone) then
    raise exception 'unknown time zone % for the age column', quote_literal(p_timestamp_zone)
      using errcode = 'RT016', hint = 'Name the zone the application writes the column in, an IANA name such as America/Los_Angeles or UTC (SELECT name FROM pg_timezone_names, without the posix/ and right/ copies); NULL reads it in the installation''s default (retention.settings), UTC and the database''s TimeZone.';
  end if;
  if p_timestamp_zone is not null
     and retention_internal._column_type(v_target, p_age_column) not in ('timestamp'::regtype, 'date'::regtype) then
    raise exception 'p_timestamp_zone applies to a timestamp or date age column; %.% is %', v_target, p_age_column,
          retention_internal._column_type(v_target, p_age_column)
      using errcode = 'RT016', hint = 'A timestamptz value is a point in time already: leave p_timestamp_zone NULL.';
  end if;
  if not retention_internal._time_zone_ok(p_time_zone) then
    raise exception 'unknown time zone %', coalesce(quote_literal(p_time_zone), 'NULL')
      using errcode = 'RT016', hint = 'Use an IANA name such as UTC or Europe/Berlin (SELECT name FROM pg_timezone_names, without the posix/ and right/ copies).';
  end if;

  if p_notice_period is not null then
    if not retention_internal._period_positive(p_notice_period) then
      raise exception 'notice period must be positive, got %', p_notice_period
        using errcode = 'RT004', hint = 'E.g. ''30 days'': rows are flagged and announced this long before the action touches them.';
    end if;
    if (retention_internal._single_key(v_target)).key_column is null then
      raise exception '% has no single-column primary key', v_target
        using errcode = 'RT021', hint = 'Flagged rows are remembered by their key (e.g. accounts.id); add a primary key of one column.';
    end if;
  end if;
  if p_tenant_column is not null then
    if p_notice_period is null then
      raise exception 'p_tenant_column is only used with p_notice_period'
        using errcode = 'RT007', hint = 'It groups the notifications of flagged rows per tenant; give p_notice_period too, or leave it NULL.';
    end if;
    if retention_internal._column_type(v_target, p_tenant_column) is null then
      raise exception 'tenant column % does not exist in %', quote_literal(p_tenant_column), v_target
        using errcode = 'RT002', hint = 'Name the column that says which tenant a row belongs to (e.g. org_id), or leave it NULL for one notification per run.';
    end if;
  end if;

  if p_approval is null or p_approval not in ('none', 'required') then
    raise exception 'approval must be none or required, got %', coalesce(quote_literal(p_approval), 'NULL')
      using errcode = 'RT007', hint = '''required'': runs remove only the rows of a proposal a second person approved (retention.propose, retention.approve_proposal).';
  end if;
  if p_archive_retain is not null and not retention_internal._period_positive(p_archive_retain) then
    raise exception 'archive_retain must be positive, got %', p_archive_retain
      using errcode = 'RT004', hint = 'E.g. ''10 years'': archive objects are deleted this long after they were written, unless a hold keeps them.';
  end if;
  -- Whether the policy archives as set (p_archive, else the approval-gated delete's
  -- default: _archives): an archive_retain on one that does not archive promised a period
  -- for objects never written (round atk97 F8).
  if p_archive_retain is not null
     and not coalesce(p_archive, p_approval = 'required' and p_action in ('delete', 'purge_soft_deleted')) then
    raise exception 'archive_retain is only used when the policy archives'
      using errcode = 'RT007', hint = 'Give p_archive => true (or approval => required on a delete, which archives by default), or leave p_archive_retain NULL.';
  end if;
  if p_approval = 'required' or coalesce(p_archive, false) then
    perform retention_internal._check_delete_triggers(v_target);
    if p_action in ('delete', 'purge_soft_deleted') then
      perform retention_internal._check_cascade_keys(v_target);
    end if;
  end if;
  if p_approval = 'required' and p_revoke is not null then
    raise exception 'approval does not cover a scrub''s revoke tables yet'
      using errcode = 'RT007', hint = 'Their rows would be deleted without being part of the approved proposal: leave p_revoke out of an approval-gated scrub (delete those rows by their own policy), or leave approval off.';
  end if;
  if coalesce(p_archive, p_approval = 'required' and p_action in ('delete', 'purge_soft_deleted')) then
    -- Archiving copies whole rows (as JSON) of the table and of every table its delete cascades into.
    perform retention_internal._check_archivable(v_target, p_action = 'drop_partitions');
    if p_archive_schema is not null then
      raise exception 'p_archive and p_archive_schema both say where dropped partitions go'
        using errcode = 'RT007', hint = 'Archive (rows to cold storage, then the partition is dropped) or move partitions to p_archive_schema; not both.';
    end if;
  end if;

  -- Stored as PostgreSQL parsed and deparsed it (the trigger on policies does so too).
  v_predicate := retention_internal._validate_predicate(v_target, p_predicate);

  select * into v_old from retention.policies where name = p_name for update;
  -- What the old subject column covered, judged again after the change (RT024).
  if v_old.subject_column is not null then
    perform retention_internal._lock_for_coverage();
    v_cover := retention_internal._subject_coverage(v_old.subject_column, v_old.target, v_old.subject_family, v_old.target_name, v_old.subject_attnum);
  elsif p_subject_column is not null then
    perform retention_internal._lock_for_coverage();
  end if;
  insert into retention.policies as p
    (name, target, action, age_column, retain, predicate, subject_column, deleted_at_column,
     batch_size, max_rows_per_run, time_budget, lock_timeout, schedule, time_zone, enabled,
     description, category, notify_over_rows, archive_schema, scrub_columns, scrubbed_at_column,
     revoke_tables, run_cap, notice_period, tenant_column, approval, archive, archive_retain,
     pause_between_batches, max_replication_lag, batch_target, count, timestamp_zone, created_by, updated_by)
  values
    (p_name, v_target, p_action, p_age_column, p_retain, v_predicate, p_subject_column,
     p_deleted_at_column, p_batch_size, p_max_rows_per_run, p_time_budget, p_lock_timeout,
     p_schedule, p_time_zone, p_enabled, p_description, p_category, p_notify_over_rows,
     p_archive_schema, v_scrub, p_scrubbed_at_column, v_revoke, p_run_cap, p_notice_period,
     p_tenant_column, p_approval, p_archive, p_archive_retain, p_pause_between_batches, p_max_replication_lag,
     p_batch_target, p_count, p_timestamp_zone, retention_internal._actor(), retention_internal._actor())
  on conflict (name) do update set
     target = excluded.target, action = excluded.action, age_column = excluded.age_column,
     retain = excluded.retain, predicate = excluded.predicate,
     subject_column = excluded.subject_column, deleted_at_column = excluded.deleted_at_column,
     batch_size = excluded.batch_size, max_rows_per_run = excluded.max_rows_per_run,
     time_budget = excluded.time_budget, lock_timeout = excluded.lock_timeout,
     schedule = excluded.schedule, time_zone = excluded.time_zone, enabled = excluded.enabled,
     description = excluded.description, category = excluded.category,
     notify_over_rows = excluded.notify_over_rows, archive_schema = excluded.archive_schema,
     scrub_columns = excluded.scrub_columns, scrubbed_at_column = excluded.scrubbed_at_column,
     revoke_tables = excluded.revoke_tables, run_cap = excluded.run_cap,
     notice_period = excluded.notice_period, tenant_column = excluded.tenant_column,
     approval = excluded.approval, archive = excluded.archive, archive_retain = excluded.archive_retain,
     pause_between_batches = excluded.pause_between_batches, max_replication_lag = excluded.max_replication_lag,
     batch_target = excluded.batch_target, count = excluded.count, timestamp_zone = excluded.timestamp_zone,
     updated_at = now(), updated_by = excluded.updated_by
  where (p.target, p.action, p.age_column, p.retain, p.predicate, p.subject_column,
         p.deleted_at_column, p.batch_size, p.max_rows_per_run, p.time_budget, p.lock_timeout,
         p.schedule, p.time_zone, p.enabled, p.description, p.category, p.notify_over_rows,
         p.archive_schema, p.scrub_columns, p.scrubbed_at_column, p.revoke_tables, p.run_cap,
         p.notice_period, p.tenant_column, p.approval, p.archive, p.archive_retain,
         p.pause_between_batches, p.max_replication_lag, p.batch_target, p.count, p.timestamp_zone)
        is distinct from
        (excluded.target, excluded.action, excluded.age_column, excluded.retain, excluded.predicate,
         excluded.subject_column, excluded.deleted_at_column, excluded.batch_size,
         excluded.max_rows_per_run, excluded.time_budget, excluded.lock_timeout, excluded.schedule,
         excluded.time_zone, excluded.enabled, excluded.description, excluded.category,
         excluded.notify_over_rows, excluded.archive_schema, excluded.scrub_columns,
         excluded.scrubbed_at_column, excluded.revoke_tables, excluded.run_cap,
         excluded.notice_period, excluded.tenant_column, excluded.approval, excluded.archive,
         excluded.archive_retain, excluded.pause_between_batches, excluded.max_replication_lag, excluded.batch_target, excluded.count,
         excluded.timestamp_zone)
  returning * into v_new;
  -- A mark it stamps: read in UTC too for good, by policies aging rows by it (round atk132 F5).
  if v_new.action in ('soft_delete', 'scrub') then
    perform retention_internal._note_stamped_marks();
  end if;
  -- A column it declares now: the keys to it recorded while a subject hold is open.
  if v_new.subject_column is not null and exists (select from retention_internal._open_holds h where h.scope = 'subject') then
    perform retention_internal._note_subject_links();
  end if;
  perform retention_internal._check_subject_coverage(v_cover,
    retention_internal._subject_column_now(v_old.target, v_old.subject_column, v_old.subject_attnum), format('policy %s', p_name));
  if v_new.policy_id is null then
    -- Nothing differs: leave the row (and its updated_at) alone, so re-applying is a no-op.
    raise notice 'policy % unchanged', p_name;
    return v_old;
  end if;

  if v_old.policy_id is null then
    perform retention_internal._append_audit('policy.created', 'policy', p_name,
      jsonb_strip_nulls(to_jsonb(v_new) - array['created_at', 'updated_at', 'created_by', 'updated_by', 'subject_family', 'target_name', 'subject_attnum', 'schema_oid']));
    raise notice 'policy % created', p_name;
  else
    select jsonb_object_agg(n.key, jsonb_build_object('old', o.value, 'new', n.value))
      into v_changes
      from jsonb_each(to_jsonb(v_new)) n
      join jsonb_each(to_jsonb(v_old)) o using (key)
     where n.value is distinct from o.value
       and n.key not in ('updated_at', 'updated_by', 'subject_family', 'target_name', 'subject_attnum', 'schema_oid');  -- kept by the engine
    perform retention_internal._append_audit('policy.updated', 'policy', p_name, v_changes);
    raise notice 'policy % updated: %', p_name, (select string_agg(k, ', ') from jsonb_object_keys(v_changes) k);
    -- Disabled: no run of it comes to close its runs whose session was killed, so they
    -- are closed now (interrupted, audited), as dropping it does, unless one is alive
    -- (round atk85 F3).
    if v_old.enabled and not v_new.enabled and retention_internal._try_lock_run(p_name) then
      perform retention_internal._close_dead_policy_runs(p_name);
      perform retention_internal._unlock_run(p_name);
    end if;
  end if;
  return v_new;
end
$$;
comment on function retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint, interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text, boolean, interval, interval, interval, interval, text, text) is
  'Creates or replaces a retention policy as a whole — declarative, as a policy file gives it: settings not given take their defaults (alter_policy changes some and keeps the rest) — after validating table, columns, types, period, bounds, schedule, category, predicate, partitioning, scrub columns and notice period, approval and archive, the zone a timestamp or date age column is read in (RT001-RT021). Audit-logged with the changed fields.';
