-- The one definition of an open legal hold: not released and not expired, judged on the
-- real clock (now()), never on a run's p_as_of. Every check of holds reads this view;
-- _held_sql builds "the open holds covering this row" on it.
-- A table hold whose table is gone (dropped; a table rebuilt as a copy under its name)
-- covers the table under the name it had when the hold was placed (round atk44), and
-- still the tables that were below it (held_oids keeps its own oid too).
create or replace view retention_internal._open_holds as
select h.hold_id, h.scope,
       case when h.scope = 'table' and not exists (select from pg_catalog.pg_class c where c.oid = h.target)
            then pg_catalog.to_regclass(h.target_name) else h.target end as target,
       h.policy_name, h.subject_id, h.reason, h.case_reference, h.placed_at, h.placed_by, h.expires_at,
       h.released_at, h.released_by, h.release_reason, h.subject_token, h.placed_xid, h.backup_store, h.backup_name,
       h.target_name,
       -- Every table a table hold names: the one it was placed on, by the oid it had (a
       -- partition detached from it still lists that oid among its former parents after
       -- the table is dropped, atk62 F1), and the table now under its name when that one
       -- is gone. Hold checks match on this.
       case when h.scope = 'table'
            then pg_catalog.array_remove(array[h.target::oid,
                   case when not exists (select from pg_catalog.pg_class c where c.oid = h.target)
                        then pg_catalog.to_regclass(h.target_name)::oid end], null) end as held_oids
  from retention.legal_holds h
 where h.released_at is null
   and (h.expires_at is null or h.expires_at > pg_catalog.now());
comment on view retention_internal._open_holds is
  'Internal. Legal holds in force now (not released, not expired): the one definition every hold check reads.';
