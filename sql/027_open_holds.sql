-- The one definition of an open legal hold: not released and not expired, judged on the
-- real clock (now()), never on a run's p_as_of. Every check of holds reads this view;
-- _held_sql builds "the open holds covering this row" on it.
create or replace view retention_internal._open_holds as
select h.*
  from retention.legal_holds h
 where h.released_at is null
   and (h.expires_at is null or h.expires_at > pg_catalog.now());
comment on view retention_internal._open_holds is
  'Internal. Legal holds in force now (not released, not expired): the one definition every hold check reads.';
