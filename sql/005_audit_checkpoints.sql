-- The audit chain's head, for signing: the newest row's id, hash, time and action (a head
-- that is a checkpoint's own audit entry has nothing new to sign).
create or replace function retention.audit_head(out audit_id bigint, out row_hash bytea, out occurred_at timestamptz,
                                                out action text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select c.last_id, c.last_hash, a.occurred_at, a.action
    from retention.audit_chain c left join retention.audit_log a on a.audit_id = c.last_id
$$;
comment on function retention.audit_head() is
  'The audit chain''s head (newest audit_id, its row_hash, time and action), which the worker signs into checkpoints.';

-- The text a checkpoint's Ed25519 signature covers. Fixed: verifiers outside the database
-- rebuild it byte for byte (runner/checkpoint.ts).
create or replace function retention.checkpoint_message(p_audit_id bigint, p_row_hash bytea, p_signed_at timestamptz)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select format(E'pg-retention audit checkpoint v1\n%s\n%s\n%s', p_audit_id, encode(p_row_hash, 'hex'),
                to_char(p_signed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
$$;
comment on function retention.checkpoint_message(bigint, bytea, timestamptz) is
  'The exact text an audit checkpoint''s Ed25519 signature covers.';

-- Records a signed checkpoint: the hash must be that of the audit row it names (so nobody
-- records a checkpoint of a chain that is not this one), the signature 64 bytes (Ed25519;
-- verified outside the database, where the public key is). Audited, and queued in the
-- outbox (audit_checkpoint) so a copy leaves the database.
create or replace function retention.record_checkpoint(p_audit_id bigint, p_row_hash bytea, p_signed_at timestamptz,
                                                       p_key_id text, p_signature bytea)
returns retention.audit_checkpoints
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_row retention.audit_checkpoints;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('record a checkpoint');
  if not exists (select from retention.audit_log a where a.audit_id = p_audit_id and a.row_hash = p_row_hash) then
    raise exception 'audit row % does not have that hash', p_audit_id
      using errcode = 'RT026', hint = 'Sign the head that retention.audit_head() returns.';
  end if;
  -- The key id is a plain name (the worker's: 16 hex digits of the public key's sha256): it
  -- is printed in reports and logs. The signing time is recent: a checkpoint says when
  -- the head was signed, not when someone chose to say so.
  if p_signature is null or length(p_signature) <> 64 or p_key_id is null
     or p_key_id !~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'
     or p_signed_at is null or p_signed_at > now() + interval '5 minutes' or p_signed_at < now() - interval '1 day' then
    raise exception 'a checkpoint needs a key id (letters, digits, . _ : -, at most 64), a 64-byte Ed25519 signature and a signing time within the last day'
      using errcode = 'RT026', hint = 'The worker signs checkpoints with PG_RETENTION_SIGNING_KEY_FILE.';
  end if;
  -- Nor does it sign a row before the row was written (round atk95 F1: a clock a day behind
  -- signed "23 hours before"): five minutes' skew between the signer's clock and the
  -- database's are allowed, as above.
  if p_signed_at < (select a.occurred_at from retention.audit_log a where a.audit_id = p_audit_id) - interval '5 minutes' then
    raise exception 'a checkpoint of audit row % cannot be signed at %, before the row was written (%)', p_audit_id, p_signed_at,
                    (select a.occurred_at from retention.audit_log a where a.audit_id = p_audit_id)
      using errcode = 'RT026', hint = 'The signer''s clock is behind the database''s: set it right (NTP), then sign the head again.';
  end if;
  insert into retention.audit_checkpoints (audit_id, row_hash, signed_at, key_id, signature)
  values (p_audit_id, p_row_hash, p_signed_at, p_key_id, p_signature)
  returning * into v_row;
  perform retention_internal._append_audit('audit.checkpoint', 'audit_log', p_audit_id::text,
    jsonb_build_object('checkpoint_id', v_row.checkpoint_id, 'row_hash', encode(p_row_hash, 'hex'), 'key_id', p_key_id));
  insert into retention.notifications (kind, dedupe_key, payload)
  values ('audit_checkpoint', 'audit_checkpoint:' || v_row.checkpoint_id,
          jsonb_build_object('kind', 'audit_checkpoint', 'checkpoint_id', v_row.checkpoint_id, 'audit_id', p_audit_id,
                             'row_hash', encode(p_row_hash, 'hex'), 'signed_at', p_signed_at, 'key_id', p_key_id,
                             'signature', encode(p_signature, 'base64')));
  return v_row;
end
$$;
comment on function retention.record_checkpoint(bigint, bytea, timestamptz, text, bytea) is
  'Records a signed checkpoint of the audit chain (the hash must be the named row''s), audits it and queues audit_checkpoint in the outbox.';

-- Every audit row's id and hash, for verifiers outside the database.
create or replace function retention.audit_hashes(p_from bigint default 1)
returns table (audit_id bigint, row_hash bytea)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select a.audit_id, a.row_hash from retention.audit_log a where a.audit_id >= p_from order by a.audit_id
$$;
comment on function retention.audit_hashes(bigint) is
  'Every audit row''s id and hash from p_from on: what audit verify compares with signed checkpoints.';
