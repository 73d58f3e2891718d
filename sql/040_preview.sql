-- What a run would do, per policy, without writing anything (the function is STABLE,
-- so PostgreSQL itself rejects any write from it). eligible counts rows past the cutoff
-- that match the policy; held_back counts those protected by a legal hold;
-- would_affect = eligible - held_back is what a live run at the same time would touch.
-- For drop_partitions the rows are those of the partitions past the cutoff that a run
-- would drop or keep for a hold; retention.partitions() lists them one by one.
create or replace function retention.preview(
  p_policy text default null,
  p_as_of  timestamptz default now()
)
returns table (
  policy          text,
  target          text,
  action          text,
  retain          interval,
  retain_source   text,
  cutoff          timestamptz,
  eligible        bigint,
  held_back       bigint,
  would_affect    bigint,
  oldest_eligible timestamptz,
  max_rows_per_run bigint,
  exceeds_ceiling boolean,
  enabled         boolean
)
language plpgsql
security definer
stable
set search_path = pg_catalog, pg_temp
-- Short statements over the catalog and a batch's rows: JIT compiling them costs more than
-- it saves (milliseconds on every call, per batch).
set jit = off
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  p   retention.policies;
  s   record;
  e   record;
  v_ctx text;
begin
  perform retention_internal._check_moment(p_as_of, 'p_as_of');
  if p_policy is not null then
    perform retention_internal._check_can_read((retention_internal._get_policy(p_policy)).target);
  end if;
  -- Only tables the login can read itself (this runs as the owner); a dropped one is listed.
  for p in select * from retention.policies x
            where (p_policy is null or x.name = p_policy)
              and coalesce(has_table_privilege(session_user, x.target::oid, 'SELECT'), true)
            order by x.name loop
   -- In a subtransaction rolled back once the policy is counted: the table's planner lock
   -- (_check_planner_code) lasts for the check and the count only, not to the end of the
   -- caller's transaction, which stopped runs and the application's DDL for as long as a
   -- reader kept it open (round atk130 F3).
   begin
    e := retention.effective_retain(p);
    s := retention_internal._policy_sql(p);
    policy := p.name; target := s.tbl; action := p.action;
    retain := e.retain; retain_source := e.source; enabled := p.enabled;
    cutoff := retention_internal._policy_cutoff(p, p_as_of, e.retain);
    max_rows_per_run := p.max_rows_per_run;
    if retention_internal._read_hazard(p) is not null then
      -- Counting would run another role's code as the owner: no figures (a run refuses it).
      raise warning 'policy %: not counted: %', p.name, retention_internal._read_hazard(p);
      eligible := null; held_back := null; oldest_eligible := null; would_affect := null; exceeds_ceiling := null;
    else
      if p.action = 'drop_partitions' then
        -- Rows of the partitions that would go or stay for a hold (see partitions()).
        select coalesce(sum(x.rows), 0), coalesce(sum(x.held_rows), 0), min(x.oldest_at)
          into eligible, held_back, oldest_eligible
          from retention_internal._partition_plan(p, p_as_of, cutoff) x
         where x.disposition in ('drop', 'archive', 'rows', 'held');
      else
        execute format(
          'select count(*), count(*) filter (where held), min(age)
             from (select %s as age, (%s) as held from only %s t where %s) x',
          retention_internal._age_at_sql(p, s.age_expr), s.held, s.tbl, s.eligible)
          into eligible, held_back, oldest_eligible
          using cutoff, p_as_of, p.name, p.target::oid;
      end if;
      would_affect := eligible - held_back;
      exceeds_ceiling := would_affect > p.max_rows_per_run;
    end if;
    raise exception using errcode = 'RTREL';
   exception
    when sqlstate 'RTREL' then
      null;
    when others then
      -- Asked for every policy, one that cannot be counted (a subject column renamed since:
      -- RT002) is listed without figures and named in a warning; asked for alone, it fails.
      if p_policy is not null then
        raise;
      end if;
      get stacked diagnostics v_ctx = pg_exception_context;
      raise warning 'policy %: not counted: %', p.name,
        retention_internal._warned_error(sqlstate, sqlerrm, v_ctx, format('retention.preview(%L) alone', p.name));
      policy := p.name; target := retention.qualified_name(p.target); action := p.action; enabled := p.enabled;
      retain := null; retain_source := null; cutoff := null; max_rows_per_run := p.max_rows_per_run;
      eligible := null; held_back := null; oldest_eligible := null; would_affect := null; exceeds_ceiling := null;
   end;
   return next;
  end loop;
end
$$;
comment on function retention.preview(text, timestamptz) is
  'Read-only forecast per policy (or one policy): cutoff, rows eligible, rows held back by legal holds, rows a run would affect, oldest eligible timestamp, and whether the ceiling would refuse the run. For every policy, one that cannot be counted (a subject column renamed since) is listed without figures, with a warning.';
