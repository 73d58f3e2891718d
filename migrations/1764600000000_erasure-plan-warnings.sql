-- Up Migration
-- retention.erasure_plan gains a warning column (a delete a foreign key would refuse, or
-- cascade into rows that stay); a function's result columns cannot change in place, so
-- the old one is dropped here and sql/094_erasure_plan.sql creates the new one.
drop function if exists retention.erasure_plan(bigint);

-- Down Migration
-- (sql/ of the older version re-creates it)
