-- Marks an erasure request blocked by a legal hold, with the reason (the hold's, or how
-- many rows of which table are held), audit-logged without naming the subject; commits.
create or replace procedure retention._block_erasure(
  p_request      bigint,
  p_subject_hash text,
  p_hold_id      bigint,
  p_reason       text
)
language plpgsql
as $$
begin
  update retention.erasure_requests
     set status = 'blocked_by_hold', status_reason = p_reason
   where request_id = p_request;
  perform retention._append_audit('erasure.blocked', 'erasure_request', p_request::text,
    jsonb_strip_nulls(jsonb_build_object('subject_hash', p_subject_hash, 'hold_id', p_hold_id)));
  commit;
  raise notice 'erasure request % blocked: %', p_request, p_reason;
end
$$;
comment on procedure retention._block_erasure(bigint, text, bigint, text) is
  'Internal. Records that a legal hold blocks an erasure request (status blocked_by_hold, with the reason).';
