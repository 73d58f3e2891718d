create or replace view retention.run_ledger as
select r.run_id, r.policy_name as policy, r.mode, r.status, r.action, r.cutoff,
       r.eligible, r.held_back, r.affected, r.batches,
       r.started_at, r.finished_at, r.finished_at - r.started_at as duration,
       (select max(b.duration_ms) from retention.run_batches b where b.run_id = r.run_id) as max_batch_ms,
       r.started_by, r.forced, r.error_code, r.error, r.job_id, r.failed_rows,
       r.flagged, r.flags_cancelled, r.kind, r.request_id, r.erasure_step, r.throttled,
       r.estimated
  from retention.runs r;
comment on view retention.run_ledger is
  'The run ledger: one row per run with counts, status, timing, the longest batch, who started it, the rows it could not act on (failed_rows; their keys are in run_row_failures), for notice policies the rows flagged and flags cancelled (retention.flagged_rows), for erasure steps (kind erasure) the request and plan step, how long the run waited for lagging standbys (throttled), and whether its counts include estimates from the statistics (estimated: partitions dropped by a policy with count estimate).';
