-- What an erasure request would do (see _erasure_steps): the steps without their SQL.
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
  rows        bigint
)
language sql
stable
as $$
  select s.step, s.depth, s.target, s.via, s.rule, s.rule_source, s.reason, s.scrub, s.rows
    from retention._erasure_steps(p_request) s
$$;
comment on function retention.erasure_plan(bigint) is
  'What an erasure request would do, per table reached through the foreign-key graph from the subject''s row: depth, foreign key, rule (delete, scrub, keep with reason) and where it came from, and the rows it concerns now. Read-only.';
