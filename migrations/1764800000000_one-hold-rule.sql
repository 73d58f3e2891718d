-- Up Migration
-- One hold rule (sql/029_held_sql.sql): the erasure hold check reads the plan and the
-- block records a reason instead of a hold row, so the old signatures go; sql/ creates
-- the new ones.
drop function if exists retention._erasure_hold(text, text[]);
drop procedure if exists retention._block_erasure(bigint, text, retention.legal_holds);

-- Down Migration
-- (sql/ of the older version re-creates them)
