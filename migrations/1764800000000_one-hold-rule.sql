-- Up Migration
-- One hold rule (sql/029_held_sql.sql): the erasure hold check reads the plan and the
-- block records a reason instead of a hold row, so the old signatures go; sql/ creates
-- the new ones.
drop function if exists retention._erasure_hold(text, text[]);
drop procedure if exists retention._block_erasure(bigint, text, retention.legal_holds);
-- A detached partition found under a hold before it is dropped is attached again.
alter table retention.run_batches drop constraint if exists run_batches_disposition_check;
alter table retention.run_batches add constraint run_batches_disposition_check
  check (disposition in ('detached', 'dropped', 'archived', 'rows_deleted', 'reattached'));
-- (Earlier development signatures of the hold rule, should a database carry them.)
drop function if exists retention._held_sql(regclass, text, text, boolean, integer, oid[], oid);
drop function if exists retention._held_refs_sql(oid, text, integer, oid[]);
drop function if exists retention._subject_value(text, regtype);

-- Down Migration
-- (sql/ of the older version re-creates them)
