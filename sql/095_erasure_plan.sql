-- What an erasure request would do (see _erasure_steps): the steps without their SQL, and
-- for a delete that a foreign key would refuse (or cascade into rows that should stay)
-- the warning process_erasure would stop on (_erasure_conflicts).
create or replace function retention.erasure_plan(p_request bigint)
returns table (
  step        integer,
  depth       integer,
  target      text,
  via         text,
  rule        text,
  rule_source text,
  reason      text,
  scrub       jsonb,
  rows        bigint,
  warning     text
)
language plpgsql
security definer
stable
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  v_target text;
begin
  -- Row counts of tables the login may not read are not its to see (this runs as the owner).
  for v_target in select x.target from retention._erasure_steps(p_request) x loop
    perform retention._check_can_read(v_target::regclass);
  end loop;
  return query
  with s as materialized (select * from retention._erasure_steps(p_request))
  select s.step, s.depth, s.target, s.via, s.rule, s.rule_source, s.reason, s.scrub, s.rows, w.warning
    from s
    left join retention._erasure_conflicts((select jsonb_agg(to_jsonb(s)) from s)) w on w.step = s.step
   order by s.step;
end
$$;
comment on function retention.erasure_plan(bigint) is
  'What an erasure request would do, per table reached through the foreign-key graph from the subject''s row: depth, foreign key, rule (delete, scrub, keep with reason) and where it came from, the rows it concerns now, and a warning where a foreign key would refuse a delete. Read-only.';
