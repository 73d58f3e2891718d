-- Backup pruning. A backup policy (set_backup_policy) names a store the worker knows
-- (PG_RETENTION_BACKUP_STORES maps the name to a directory or an S3 prefix) and how long
-- its base backups are kept, grandfather-father-son. The worker lists the store and asks
-- the database which backups go (backup_plan); each one is pruned in steps that leave a
-- record whatever happens:
--  1. backup_prune_intent: the plan made again, the pruning recorded as 'deleting'
--     (committed before anything is deleted);
--  2. in one transaction: backup_prune_check (the holds lock, shared, so no hold can be
--     placed until the commit; the plan made again: a hold or a newer listing may keep
--     the backup now), the deletion in the store, backup_prune_done;
--  3. a failed deletion is settled by backup_prune_done with the error (after a rollback),
--     a kept one by backup_prune_cancel; a pruner that ended mid-way leaves 'deleting',
--     which the next pruning of the policy settles (backup_prune_reconcile).
-- Audit-logged: backup_policy.set / .dropped, backup.pruned, backup.prune_failed.

-- Creates or replaces a backup policy. Periods must be positive; keep_last at least 1
-- (the newest backup is never pruned).
create or replace function retention.set_backup_policy(
  p_name         text,
  p_store        text,
  p_keep_daily   interval default interval '30 days',
  p_keep_weekly  interval default interval '90 days',
  p_keep_monthly interval default null,
  p_keep_last    integer default 1,
  p_enabled      boolean default true,
  p_reason       text default null
)
returns retention.backup_policies
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_row retention.backup_policies;
  v_old retention.backup_policies;
  v_per record;
  v_hold bigint;
begin
  perform retention_internal._check_called_directly('set a backup policy');
  perform retention_internal._routine_write();
  -- Kept in the audit log for good (round atk83 F4).
  perform retention_internal._check_note(p_reason, 2000, 'a backup policy''s reason', 'RT039');
  if p_name is null or p_name !~ '^[a-z][a-z0-9_.-]{0,62}$' then
    raise exception 'invalid backup policy name %', coalesce(quote_literal(p_name), 'NULL')
      using errcode = 'RT009', hint = 'Lower-case letters, digits, _ . and -, starting with a letter, e.g. main-backups.';
  end if;
  if p_store is null or p_store !~ '^[a-z][a-z0-9_-]{0,62}$' then
    raise exception 'invalid backup store name %', coalesce(quote_literal(p_store), 'NULL')
      using errcode = 'RT039',
            hint = 'A name (lower-case letters, digits, _ and -) that the worker''s PG_RETENTION_BACKUP_STORES maps to a directory or s3://bucket/prefix; paths and credentials stay out of the database.';
  end if;
  for v_per in select * from (values ('p_keep_daily', p_keep_daily, false), ('p_keep_weekly', p_keep_weekly, false),
                                     ('p_keep_monthly', p_keep_monthly, true)) v(arg, val, nullable) loop
    if v_per.val is null and not v_per.nullable then
      raise exception '% may not be NULL', v_per.arg
        using errcode = 'RT004', hint = 'Give a period such as interval ''30 days''.';
    end if;
    if v_per.val is not null and (not retention_internal._period_positive(v_per.val) or v_per.val > interval '100 years') then
      raise exception '% must be positive in every part and at most 100 years, got %', v_per.arg, v_per.val
        using errcode = 'RT004', hint = 'E.g. interval ''30 days'' for dailies, ''90 days'' for weeklies, ''1 year'' for monthlies.';
    end if;
  end loop;
  if p_keep_last is null or p_keep_last not between 1 and 1000 then
    raise exception 'p_keep_last must be between 1 and 1000, got %', p_keep_last
      using errcode = 'RT006', hint = 'The newest backups always kept; at least 1, so the newest is never pruned.';
  end if;
  if p_enabled is null then
    raise exception 'p_enabled may not be NULL'
      using errcode = 'RT006', hint = 'true (the worker prunes) or false.';
  end if;
  select * into v_old from retention.backup_policies b where b.name = p_name;
  if v_old.name is not null and v_old.store <> p_store then
    perform retention_internal._check_no_pruning(p_name);
    -- A hold is on the store by name: the policy must not walk away from it (the same
    -- backups under a new store name would be free).
    select h.hold_id into v_hold from retention_internal._open_holds h where h.scope = 'backups' and h.backup_store = v_old.store limit 1;
    if v_hold is not null then
      raise exception 'legal hold % freezes store % of %: its store cannot change while the hold is open', v_hold, v_old.store, p_name
        using errcode = 'RT024', hint = 'Release the hold first (retention.release_hold), if the case allows.';
    end if;
  end if;
  if exists (select from retention.backup_policies b where b.store = p_store and b.name <> p_name) then
    raise exception 'backup store % has a policy already: %', p_store,
                    (select b.name from retention.backup_policies b where b.store = p_store and b.name <> p_name)
      using errcode = 'RT039', hint = 'One policy per store: two would decide differently over the same backups. Change that policy instead.';
  end if;
  insert into retention.backup_policies as b (name, store, keep_daily, keep_weekly, keep_monthly, keep_last, enabled, reason, updated_by)
  values (p_name, p_store, p_keep_daily, p_keep_weekly, p_keep_monthly, p_keep_last, p_enabled, nullif(btrim(p_reason), ''), session_user)
  on conflict (name) do update
     set store = excluded.store, keep_daily = excluded.keep_daily, keep_weekly = excluded.keep_weekly,
         keep_monthly = excluded.keep_monthly, keep_last = excluded.keep_last, enabled = excluded.enabled,
         reason = excluded.reason, updated_at = now(), updated_by = excluded.updated_by
  returning b.* into v_row;
  perform retention_internal._append_audit('backup_policy.set', 'backup_policy', p_name,
    jsonb_build_object('old', case when v_old.name is not null then to_jsonb(v_old) - 'updated_at' - 'updated_by' end,
                       'new', to_jsonb(v_row) - 'updated_at' - 'updated_by'));
  return v_row;
end
$$;
comment on function retention.set_backup_policy(text, text, interval, interval, interval, integer, boolean, text) is
  'Creates or replaces a backup policy: the named store''s base backups kept grandfather-father-son (every one younger than p_keep_daily, the last of each week younger than p_keep_weekly, of each month younger than p_keep_monthly, always the newest p_keep_last). Audit-logged.';

-- Drops a backup policy (its ledger rows stay). Refused while a legal hold freezes it.
create or replace function retention.drop_backup_policy(p_name text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_hold bigint;
  v_pol  retention.backup_policies;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('drop a backup policy');
  perform retention_internal._routine_write();
  v_pol := retention_internal._get_backup_policy(p_name);
  perform retention_internal._lock_holds_exclusive();
  select h.hold_id into v_hold from retention_internal._open_holds h where h.scope = 'backups' and h.backup_store = v_pol.store limit 1;
  if v_hold is not null then
    raise exception 'legal hold % freezes the backups of %', v_hold, p_name
      using errcode = 'RT024', hint = 'Release the hold first (retention.release_hold), if the case allows.';
  end if;
  perform retention_internal._check_no_pruning(p_name);
  delete from retention.backup_policies b where b.name = p_name;
  perform retention_internal._append_audit('backup_policy.dropped', 'backup_policy', p_name, '{}');
end
$$;
comment on function retention.drop_backup_policy(text) is
  'Drops a backup policy (refused while a legal hold freezes its backups). Audit-logged.';

-- RT039 while a pruning of the policy is under way (status deleting): its store or its
-- existence must not change before the pruning is settled.
create or replace function retention_internal._check_no_pruning(p_name text)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if exists (select from retention.backup_prunings x where x.policy_name = p_name and x.status = 'deleting') then
    raise exception 'a pruning of % is under way', p_name
      using errcode = 'RT039', hint = 'Let it finish; a pruner that ended mid-way is settled by the next pruning (pg-retention backups prune).';
  end if;
end
$$;
comment on function retention_internal._check_no_pruning(text) is
  'Internal. RT039 while a pruning of the backup policy is under way.';

create or replace function retention_internal._get_backup_policy(p_name text)
returns retention.backup_policies
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v retention.backup_policies;
begin
  select * into v from retention.backup_policies b where b.name = p_name;
  if not found then
    raise exception 'backup policy % does not exist', coalesce(quote_literal(p_name), 'NULL')
      using errcode = 'RT008', hint = 'SELECT name FROM retention.backup_policies lists them.';
  end if;
  return v;
end
$$;
comment on function retention_internal._get_backup_policy(text) is
  'Internal. The backup policy of that name, or RT008.';

-- A store's listing as the worker read it: a JSON array of {"name", "taken_at"}. RT039
-- when it is not one, a name is empty, too long, holds '/', control characters or is . or
-- .., a time does not parse, or a name comes twice.
create or replace function retention_internal._backup_listing(p_backups jsonb)
returns table (name text, taken_at timestamptz)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bad text;
begin
  if p_backups is null or jsonb_typeof(p_backups) <> 'array' then
    raise exception 'the backup listing must be a JSON array of {"name", "taken_at"}'
      using errcode = 'RT039', hint = 'E.g. ''[{"name": "20261101T020000Z", "taken_at": "2026-11-01T02:00:00Z"}]''.';
  end if;
  select x::text into v_bad from jsonb_array_elements(p_backups) x
   where jsonb_typeof(x) <> 'object' or jsonb_typeof(x -> 'name') is distinct from 'string'
      or jsonb_typeof(x -> 'taken_at') is distinct from 'string'
      or length(x ->> 'name') not between 1 and 255 or (x ->> 'name') ~ '[/[:cntrl:]]' or (x ->> 'name') in ('.', '..')
      or (x ->> 'name') ~ retention_internal._hidden_chars()
   limit 1;
  if v_bad is not null then
    raise exception 'not a backup in the listing: %', left(v_bad, 200)
      using errcode = 'RT039', hint = 'Each backup is {"name": <its directory or prefix, no />, "taken_at": <an ISO 8601 time>}.';
  end if;
  -- ISO 8601 with an explicit offset only: no zone abbreviation (their meaning depends on
  -- the session's timezone_abbreviations), no 'epoch', 'infinity' or BC.
  select x ->> 'taken_at' into v_bad from jsonb_array_elements(p_backups) x
   where (x ->> 'taken_at') !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$'
   limit 1;
  if v_bad is not null then
    raise exception 'a backup''s taken_at is not an ISO 8601 time with an offset: %', quote_literal(left(v_bad, 60))
      using errcode = 'RT039', hint = 'E.g. 2026-11-01T02:00:00Z or 2026-11-01T03:00:00+01:00.';
  end if;
  begin
    return query
      select x ->> 'name', (x ->> 'taken_at')::timestamptz from jsonb_array_elements(p_backups) x;
  exception when data_exception then
    raise exception 'a backup''s taken_at is not a time: %', sqlerrm
      using errcode = 'RT039', hint = 'Give ISO 8601 times with their offset, e.g. 2026-11-01T02:00:00Z.';
  end;
  select b.n into v_bad from (select x ->> 'name' as n from jsonb_array_elements(p_backups) x) b group by b.n having count(*) > 1 limit 1;
  if v_bad is not null then
    raise exception 'backup % is in the listing twice', quote_literal(v_bad)
      using errcode = 'RT039', hint = 'Each backup once, by its name in the store.';
  end if;
end
$$;
comment on function retention_internal._backup_listing(jsonb) is
  'Internal. The backups of a listing ([{"name", "taken_at"}]) as rows, or RT039.';

-- Which backups of the listing the policy keeps at p_as_of and why; the rest go. Kept:
-- taken after p_as_of (a clock ahead of ours); frozen by an open 'backups' legal hold;
-- the newest keep_last; younger than keep_daily; the last of its week (Monday to Sunday,
-- UTC) younger than keep_weekly; the last of its month younger than keep_monthly.
-- p_as_of defaults to now() and may not be later (RT022): an earlier time only keeps more.
create or replace function retention.backup_plan(p_policy text, p_backups jsonb, p_as_of timestamptz default null)
returns table (backup_name text, taken_at timestamptz, keep boolean, reason text, rule text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  p      retention.backup_policies := retention_internal._get_backup_policy(p_policy);
  v_asof timestamptz := coalesce(p_as_of, now());
begin
  if v_asof > now() then
    raise exception 'p_as_of % is in the future', p_as_of
      using errcode = 'RT022', hint = 'Backups are judged at now() or earlier (an earlier time only keeps more).';
  end if;
  return query
    with b as (select * from retention_internal._backup_listing(p_backups)),
    r as (
      select b.name, b.taken_at,
             row_number() over (order by b.taken_at desc, b.name collate "C" desc) as newest,
             row_number() over (partition by date_trunc('week', b.taken_at) order by b.taken_at desc, b.name collate "C" desc) = 1 as week_last,
             row_number() over (partition by date_trunc('month', b.taken_at) order by b.taken_at desc, b.name collate "C" desc) = 1 as month_last
        from b where b.taken_at <= v_asof)
    select b.name, b.taken_at, d.reason is not null,
           coalesce(d.reason, format('older than %s (daily), not the last of its week within %s (weekly)%s',
                                     p.keep_daily, p.keep_weekly,
                                     case when p.keep_monthly is not null then format(' or of its month within %s (monthly)', p.keep_monthly) else '' end)),
           coalesce(d.rule, 'prune')
      from b
      left join r on r.name = b.name
      cross join lateral (
        select case
          when b.taken_at > v_asof then 'taken after the time judged at'
          when h.hold_id is not null then format('legal hold %s: %s', h.hold_id, h.reason)
          when r.newest <= p.keep_last then case when r.newest = 1 then 'the newest backup' else format('one of the newest %s', p.keep_last) end
          when b.taken_at > v_asof - p.keep_daily then format('daily: younger than %s', p.keep_daily)
          when r.week_last and b.taken_at > v_asof - p.keep_weekly
            then format('weekly: the last of week %s, younger than %s', to_char(b.taken_at, 'IYYY-"W"IW'), p.keep_weekly)
          when r.month_last and p.keep_monthly is not null and b.taken_at > v_asof - p.keep_monthly
            then format('monthly: the last of %s, younger than %s', to_char(b.taken_at, 'YYYY-MM'), p.keep_monthly)
        end as reason,
        case
          when b.taken_at > v_asof then 'later'
          when h.hold_id is not null then 'held'
          when r.newest <= p.keep_last then 'newest'
          when b.taken_at > v_asof - p.keep_daily then 'daily'
          when r.week_last and b.taken_at > v_asof - p.keep_weekly then 'weekly'
          when r.month_last and p.keep_monthly is not null and b.taken_at > v_asof - p.keep_monthly then 'monthly'
        end as rule
          from (select null) x
          left join lateral (select h.hold_id, h.reason from retention_internal._open_holds h
                              where h.scope = 'backups' and h.backup_store = p.store
                                and (h.backup_name is null or h.backup_name = b.name)
                              order by h.hold_id limit 1) h on true) d
     order by b.taken_at, b.name;
end
$$;
comment on function retention.backup_plan(text, jsonb, timestamptz) is
  'Which backups of a store''s listing ([{"name", "taken_at"}]) the backup policy keeps at p_as_of (default now; never later), why, and by which rule (later, held, newest, daily, weekly, monthly; prune for the rest). Changes nothing.';

-- Step 1 of pruning one backup: the plan made again over the listing (the backup must be
-- one that goes), the pruning recorded as 'deleting'. Returns its id.
create or replace function retention.backup_prune_intent(p_policy text, p_backups jsonb, p_name text,
                                                        p_as_of timestamptz default null,
                                                        p_bytes bigint default null, p_files integer default null)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  p     retention.backup_policies := retention_internal._get_backup_policy(p_policy);
  v     record;
  v_id  bigint;
begin
  select * into v from retention.backup_plan(p_policy, p_backups, p_as_of) x where x.backup_name = p_name;
  if not found then
    raise exception 'backup % is not in the listing', coalesce(quote_literal(p_name), 'NULL')
      using errcode = 'RT039', hint = 'Prune only a backup of the listing the plan was made over.';
  end if;
  if v.keep then
    raise exception 'backup % of % is kept: %', p_name, p_policy, v.reason
      using errcode = 'RT039', hint = 'retention.backup_plan says which backups go.';
  end if;
  if p_bytes is not null and p_bytes < 0 or p_files is not null and p_files < 0 then
    raise exception 'a backup''s size and file count are not negative'
      using errcode = 'RT039', hint = 'Give them as listed, or NULL.';
  end if;
  -- One pruning of a backup at a time: each would settle as its deletion, and the
  -- evidence would say it was deleted as often (round atk97 F9).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('retention.backup_prune:' || p.store || ':' || p_name));
  select x.pruning_id into v_id from retention.backup_prunings x
   where x.store = p.store and x.backup_name = p_name and x.status = 'deleting'
   limit 1;
  if v_id is not null then
    raise exception 'backup % of % is already being pruned (pruning %)', p_name, p_policy, v_id
      using errcode = 'RT039', hint = 'Settle that pruning first (backup_prune_done or backup_prune_cancel); a pruner that ended mid-way is settled by the next pg-retention backups prune.';
  end if;
  insert into retention.backup_prunings (policy_name, store, backup_name, taken_at, bytes, files, as_of, reason, pruned_by)
  values (p.name, p.store, p_name, v.taken_at, p_bytes, p_files, coalesce(p_as_of, now()), v.reason, retention_internal._actor())
  returning pruning_id into v_id;
  return v_id;
end
$$;
comment on function retention.backup_prune_intent(text, jsonb, text, timestamptz, bigint, integer) is
  'Backup pruning, step 1: records that a backup the plan lets go is about to be deleted (status deleting); returns the pruning id.';

-- Step 2, in the transaction that deletes the backup: takes the holds lock (shared, to
-- the commit: a hold placed now waits) and makes the plan again over the listing at the
-- intent's time; RT039 when the backup is kept now (cancel it).
create or replace function retention.backup_prune_check(p_pruning_id bigint, p_backups jsonb)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  d retention.backup_prunings;
  v record;
begin
  -- At read committed, the re-check reads holds placed while it waited for the lock.
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'backup_prune_check runs at read committed, not %', current_setting('transaction_isolation')
      using errcode = '25001', hint = 'BEGIN ISOLATION LEVEL READ COMMITTED before it; pg-retention backups prune does.';
  end if;
  perform retention_internal._lock_holds_shared();
  select * into d from retention.backup_prunings x where x.pruning_id = p_pruning_id;
  if not found or d.status <> 'deleting' then
    raise exception 'pruning % is not under way', p_pruning_id
      using errcode = '55000', hint = 'Check only a pruning backup_prune_intent returned.';
  end if;
  select * into v from retention.backup_plan(d.policy_name, p_backups, d.as_of) x where x.backup_name = d.backup_name;
  if not found or v.keep then
    raise exception 'backup % is kept now: %', d.backup_name, coalesce(v.reason, 'not in the listing')
      using errcode = 'RT039', hint = 'Cancel the pruning (retention.backup_prune_cancel); nothing was deleted.';
  end if;
end
$$;
comment on function retention.backup_prune_check(bigint, jsonb) is
  'Backup pruning, step 2: in the deleting transaction, holds the holds lock and checks the backup still goes (RT039 if a hold or the listing keeps it now).';

-- The audit entry of a pruned backup (p_extra: a note, or that it was settled late).
create or replace function retention_internal._audit_pruned(d retention.backup_prunings, p_extra jsonb)
returns void
language sql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select retention_internal._append_audit('backup.pruned', 'backup_policy', d.policy_name,
    jsonb_build_object('pruning_id', d.pruning_id, 'store', d.store, 'backup', d.backup_name, 'taken_at', d.taken_at,
                       'bytes', d.bytes, 'files', d.files, 'as_of', d.as_of, 'reason', d.reason) || p_extra);
$$;
comment on function retention_internal._audit_pruned(retention.backup_prunings, jsonb) is
  'Internal. The backup.pruned audit entry of a pruning.';

-- Step 3: the deletion's outcome (p_error NULL: deleted). A failure is notified.
create or replace function retention.backup_prune_done(p_pruning_id bigint, p_error text default null, p_note text default null)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  d retention.backup_prunings;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('record a backup''s deletion');
  select * into d from retention.backup_prunings x where x.pruning_id = p_pruning_id for update;
  if not found or d.status <> 'deleting' then
    raise exception 'pruning % is not under way', p_pruning_id
      using errcode = '55000', hint = 'Settle only a pruning backup_prune_intent returned.';
  end if;
  -- A note is the archiver's own words (checked as every note is); an error is the store's,
  -- kept plain (_plain_text: refused, the pruning would stay unsettled).
  perform retention_internal._check_note(p_note, 2000, 'a pruning''s note', 'RT039');
  p_error := retention_internal._plain_text(p_error, 2000);
  update retention.backup_prunings x
     set status = case when p_error is null then 'deleted' else 'failed' end, error = left(coalesce(p_error, p_note), 2000), finished_at = now()
   where x.pruning_id = p_pruning_id;
  if p_error is null then
    perform retention_internal._audit_pruned(d, jsonb_strip_nulls(jsonb_build_object('note', p_note)));
  else
    perform retention_internal._append_audit('backup.prune_failed', 'backup_policy', d.policy_name,
      jsonb_build_object('pruning_id', d.pruning_id, 'store', d.store, 'backup', d.backup_name, 'error', left(p_error, 500)));
    insert into retention.notifications (kind, dedupe_key, payload)
    values ('backup_prune_failed', 'backup_prune_failed:' || d.pruning_id,
            jsonb_build_object('kind', 'backup_prune_failed', 'pruning_id', d.pruning_id, 'policy', d.policy_name,
                               'store', d.store, 'backup', d.backup_name, 'error', left(p_error, 500)))
    on conflict do nothing;
  end if;
end
$$;
comment on function retention.backup_prune_done(bigint, text, text) is
  'Backup pruning, step 3: settles a pruning as deleted (audit backup.pruned; p_note, e.g. that it was gone already) or failed with the error (audit, backup_prune_failed notified).';

-- A pruning the check refused (a hold or the listing keeps the backup now): nothing was
-- deleted.
create or replace function retention.backup_prune_cancel(p_pruning_id bigint, p_reason text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  perform retention_internal._check_note(p_reason, 2000, 'a cancellation''s reason', 'RT039');
  update retention.backup_prunings x
     set status = 'cancelled', error = left(coalesce(p_reason, 'cancelled'), 2000), finished_at = now()
   where x.pruning_id = p_pruning_id and x.status = 'deleting';
  if not found then
    raise exception 'pruning % is not under way', p_pruning_id
      using errcode = '55000', hint = 'Cancel only a pruning backup_prune_intent returned.';
  end if;
end
$$;
comment on function retention.backup_prune_cancel(bigint, text) is
  'Backup pruning: settles a pruning whose backup is kept after all (nothing deleted) as cancelled.';

-- Prunings a pruner left 'deleting' (it ended mid-way): the backup is gone from the store
-- (neither in the listing nor among p_present, the store's other entries) -> deleted
-- (audited); still there -> interrupted (the next plan decides again).
-- The caller holds the policy's pruning lock (one pruner per policy). Returns how many.
create or replace function retention.backup_prune_reconcile(p_policy text, p_backups jsonb, p_present text[] default null)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  d   retention.backup_prunings;
  v_n integer := 0;
begin
  perform retention_internal._get_backup_policy(p_policy);
  perform count(*) from retention_internal._backup_listing(p_backups);   -- a listing, or RT039
  for d in select * from retention.backup_prunings x
            where x.policy_name = p_policy and x.status = 'deleting' order by x.pruning_id for update loop
    if exists (select from retention_internal._backup_listing(p_backups) b where b.name = d.backup_name)
       or d.backup_name = any (coalesce(p_present, '{}')) then
      update retention.backup_prunings x set status = 'interrupted', finished_at = now(),
             error = 'the pruner ended before the deletion finished; the backup was still listed'
       where x.pruning_id = d.pruning_id;
    else
      update retention.backup_prunings x set status = 'deleted', finished_at = now(),
             error = 'settled after the pruner ended: the backup was no longer listed'
       where x.pruning_id = d.pruning_id;
      perform retention_internal._audit_pruned(d, '{"settled_late": true}');
    end if;
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$$;
comment on function retention.backup_prune_reconcile(text, jsonb, text[]) is
  'Backup pruning: settles prunings a pruner left under way (gone from the store — not in the listing nor among p_present, the other names there —: deleted; else interrupted).';
