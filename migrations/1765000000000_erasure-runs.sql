-- Up Migration
-- Erasure steps run through the one executor (_batch_loop) and are runs in the ledger:
-- kind 'erasure', the request and the plan step. Erasure evidence reads its counts from
-- them. The executor's building blocks take a work condition for that (a new trailing
-- argument), so their old signatures go; sql/ creates the new ones.
alter table retention.runs
  add column kind text not null default 'policy' check (kind in ('policy', 'erasure')),
  add column request_id bigint references retention.erasure_requests (request_id),
  add column erasure_step integer,
  add column erasure_table text,
  add constraint runs_erasure_check check ((kind = 'erasure') = (request_id is not null and erasure_step is not null));
create index runs_request_idx on retention.runs (request_id, erasure_step) where request_id is not null;
-- process_erasure upserts evidence per step and, on completion, clears the keys and
-- messages of rows that failed in its runs (they can name the person).
grant update on retention.erasure_evidence to retention_admin;
grant update (row_key, error) on retention.run_row_failures to retention_admin;
comment on column retention.runs.kind is 'policy: a run of a retention policy; erasure: one step of an erasure request (request_id, erasure_step).';

drop function if exists retention._policy_sql(retention.policies);
drop function if exists retention._batch_sql(retention.policies);
drop procedure if exists retention._batch_loop(retention.policies, bigint, oid, timestamptz, timestamptz, bigint,
  interval, timestamptz, text, bigint, integer, text, text, text, text);

-- Down Migration
drop index if exists retention.runs_request_idx;
alter table retention.runs drop constraint runs_erasure_check,
  drop column erasure_table, drop column erasure_step, drop column request_id, drop column kind;
revoke update on retention.erasure_evidence from retention_admin;
revoke update (row_key, error) on retention.run_row_failures from retention_admin;
