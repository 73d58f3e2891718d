-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1766300000000_batch-pacing') then
    raise exception 'migration 1766300000000_batch-pacing is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- Batches that size themselves: a policy without a fixed batch_size (now the default)
-- sizes each batch to take about batch_target (NULL: 50 ms). Policies made before keep
-- the batch_size they have (1000 unless set); a policy file that leaves batch_size out
-- makes them adaptive at its next apply, which plan shows.
alter table retention.policies alter column batch_size drop not null, alter column batch_size drop default;
alter table retention.policies
  add column batch_target interval
    check (batch_target >= interval '5 milliseconds' and batch_target <= interval '10 seconds');
comment on column retention.policies.batch_size is 'A fixed number of rows per batch; NULL: batches size themselves to take about batch_target.';
comment on column retention.policies.batch_target is 'How long a batch should take when batch_size is NULL (NULL: 50 ms): the run grows its batches while they are faster and shrinks them at once after a slower one, between 10 and 50,000 rows.';

-- Throttling between batches: a plain pause, and waiting while a standby's replay lags
-- (pg_stat_replication.replay_lag) more than the policy allows. The run records the time
-- it waited for standbys.
alter table retention.policies
  add column pause_between_batches interval
    check (pause_between_batches > interval '0' and pause_between_batches <= interval '1 minute'),
  add column max_replication_lag interval
    check (max_replication_lag > interval '0' and max_replication_lag <= interval '1 day');
comment on column retention.policies.pause_between_batches is 'A pause after each batch, so the application gets the disk and the standbys catch up (NULL: none; at most 1 minute).';
comment on column retention.policies.max_replication_lag is 'Between batches the run waits while a streaming standby''s replay lag (pg_stat_replication.replay_lag) exceeds this (NULL: no throttle); the wait counts against the time budget and is recorded in runs.throttled.';

alter table retention.runs add column throttled interval not null default interval '0';
comment on column retention.runs.throttled is 'How long the run waited between batches for standbys whose replay lagged more than the policy''s max_replication_lag.';

-- set_policy and alter_policy take the new settings (sql/ creates them again).
drop function if exists retention.alter_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text,
  boolean, interval, text[]);
drop function if exists retention.set_policy(text, text, text, text, interval, text, text, text, integer, bigint,
  interval, interval, text, text, boolean, text, text, bigint, text, jsonb, text, text[], bigint, interval, text, text,
  boolean, interval);

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
