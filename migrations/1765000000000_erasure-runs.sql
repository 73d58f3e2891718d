-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765000000000_erasure-runs') then
    raise exception 'migration 1765000000000_erasure-runs is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
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
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
