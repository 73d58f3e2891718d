-- Marks an erasure request blocked by a legal hold, with the hold's reason, audit-logged
-- without naming the subject; commits.
create or replace procedure retention._block_erasure(
  p_request      bigint,
  p_subject_hash text,
  p_hold         retention.legal_holds
)
language plpgsql
as $$
begin
  update retention.erasure_requests
     set status = 'blocked_by_hold',
         status_reason = format('legal hold %s (%s): %s', p_hold.hold_id, p_hold.scope, p_hold.reason)
   where request_id = p_request;
  perform retention._append_audit('erasure.blocked', 'erasure_request', p_request::text,
    jsonb_build_object('subject_hash', p_subject_hash, 'hold_id', p_hold.hold_id));
  commit;
  raise notice 'erasure request % blocked by legal hold %: %', p_request, p_hold.hold_id, p_hold.reason;
end
$$;
comment on procedure retention._block_erasure(bigint, text, retention.legal_holds) is
  'Internal. Records that a legal hold blocks an erasure request (status blocked_by_hold, with the reason).';
