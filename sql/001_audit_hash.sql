-- The hash of one audit row: sha256 over the previous row's hash and the row's fields in a
-- fixed, time-zone independent text form. verify_audit_log() recomputes exactly this.
create or replace function retention_internal._audit_hash(
  p_prev_hash   bytea,
  p_audit_id    bigint,
  p_occurred_at timestamptz,
  p_actor       text,
  p_db_user     text,
  p_action      text,
  p_object_type text,
  p_object_name text,
  p_details     jsonb
)
returns bytea
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select sha256(
    p_prev_hash
    || convert_to(
         concat_ws(E'\x1f',
           p_audit_id::text,
           to_char(p_occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           p_actor, p_db_user, p_action, p_object_type,
           coalesce(p_object_name, E'\x1e'),
           p_details::text),
         'UTF8'))
$$;
comment on function retention_internal._audit_hash(bytea, bigint, timestamptz, text, text, text, text, text, jsonb) is
  'Internal. sha256 of the previous hash and an audit row''s fields; the chain link verify_audit_log() checks.';
