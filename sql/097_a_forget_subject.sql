-- What the retention schema itself knows of a person, forgotten when their erasure
-- completes (erasure_step calls this last, in the transaction that completes the request).
-- The audit log never held their values, only tokens (_subject_token); this removes the
-- rest and deletes the links from the tokens back to them:
--   * released or expired subject holds on them: the id goes (subject_token stays, so the
--     hold still matches its audit entries), reason and release reason too;
--   * exemptions and flags of their row (policies on the subject table): the key becomes
--     the token, the reasons go, an exemption in force is revoked and an open flag closed
--     ('erased');
--   * notifications: their key in rows_flagged lists, who asked and why the request waited
--     in the request's own notifications, and quoted occurrences in any message;
--   * failed rows of their row (runs on their table): key and error; quoted occurrences of
--     their key in any other error;
--   * who asked, in the request;
--   * the token links of their key and of every hold id that named them.
-- Holds still in force are left as they are (the erasure was not blocked by them, so they
-- were placed after its last step). Returns what it changed, for the audit entry.
create or replace function retention._forget_subject(p_request bigint)
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  v_req      retention.erasure_requests;
  v_type     text;
  v_value    text;
  v_token    text;
  v_erased   text := format('erased with erasure request %s', p_request);
  v_values   text[];
  v_reasons  text[];
  v_rels     regclass[];
  v_policies bigint[];
  v_names    text[];
  n_holds    bigint;
  n_ex       bigint;
  n_flags    bigint;
  n_notes    bigint;
  n_fail     bigint;
  n_runs     bigint;
  v_n        bigint;
begin
  select * into strict v_req from retention.erasure_requests r where r.request_id = p_request;
  v_type := (select k.key_type from retention._single_key(v_req.subject_table) k);
  v_value := coalesce(retention._subject_value(v_req.subject_id, v_type), v_req.subject_id);
  if v_value is null then
    return '{}';
  end if;
  -- Requests filed before tokens have a sha256 there: their subject gets a token now.
  v_token := case when v_req.subject_hash like 'subj\_%' then v_req.subject_hash
                  else retention._subject_token(v_value) end;

  -- Subject holds that named them, in whatever spelling ('042' for 42).
  select coalesce(array_agg(distinct h.subject_id), '{}'), coalesce(array_agg(distinct h.reason), '{}')
    into v_values, v_reasons
    from retention.legal_holds h
   where h.scope = 'subject' and h.subject_id is not null
     and retention._subject_value(h.subject_id, v_type) = v_value;
  v_values := array(select distinct v from unnest(v_values || v_value) v);
  update retention.legal_holds h
     set subject_token = coalesce(h.subject_token, v_token), subject_id = null, reason = v_erased,
         release_reason = case when h.release_reason is not null then v_erased end
   where h.scope = 'subject' and h.subject_id = any (v_values)
     and not exists (select from retention._open_holds o where o.hold_id = h.hold_id);
  get diagnostics n_holds = row_count;

  -- Their row's exemptions and flags: policies on the subject table, its partitions and
  -- the tables it is a partition of.
  v_rels := array(select t.relid from pg_catalog.pg_partition_tree(
                    coalesce(pg_catalog.pg_partition_root(v_req.subject_table), v_req.subject_table)) t)
            || v_req.subject_table;
  select coalesce(array_agg(p.policy_id), '{}'), coalesce(array_agg(p.name), '{}') into v_policies, v_names
    from retention.policies p where p.target = any (v_rels);
  select v_reasons || coalesce(array_agg(e.reason) || array_agg(e.revoke_reason), '{}') into v_reasons
    from retention.row_exemptions e where e.policy_id = any (v_policies) and e.row_key = v_value;
  update retention.row_exemptions e
     set row_key = v_token, reason = v_erased,
         revoke_reason = case when e.revoked_at is null or e.revoke_reason is not null then v_erased end,
         revoked_by = coalesce(e.revoked_by, format('erasure request %s', p_request)),
         revoked_at = coalesce(e.revoked_at, now())
   where e.policy_id = any (v_policies) and e.row_key = v_value;
  get diagnostics n_ex = row_count;
  update retention.flagged_rows f
     set row_key = v_token,
         status = case when f.status = 'flagged' then 'erased' else f.status end,
         closed_at = coalesce(f.closed_at, now()),
         close_reason = case when f.status = 'flagged' or f.close_reason is not null then v_erased end
   where f.policy_id = any (v_policies) and f.row_key = v_value;
  get diagnostics n_flags = row_count;
  v_reasons := array(select distinct r from unnest(v_reasons) r where r is not null and btrim(r) <> '');

  -- Notifications: rows_flagged of those policies list the key; the request's own name who
  -- asked and why it waited (a hold's reason); any may quote a value in a message.
  update retention.notifications n
     set payload = retention._redact_jsonb(
           case when n.payload ->> 'request_id' = p_request::text
                then n.payload - 'requested_by' - 'status_reason' else n.payload end,
           case when n.payload ->> 'request_id' = p_request::text then v_values || v_reasons || v_req.requested_by
                when n.kind = 'rows_flagged' and n.policy_name = any (v_names) then v_values
                else '{}' end,
           v_values, v_token)
   where n.payload ->> 'request_id' = p_request::text
      or (n.kind = 'rows_flagged' and n.policy_name = any (v_names))
      or n.payload::text like any (array(select '%' || v || '%' from unnest(v_values) v));
  get diagnostics n_notes = row_count;

  -- Failed rows of their row, in runs on their table (policies dropped since too): the key
  -- becomes the token and the error goes (it may quote any column of the row). Elsewhere,
  -- quoted occurrences in errors.
  update retention.run_row_failures f
     set row_key = retention._redact_jsonb(f.row_key, v_values, '{}', v_token),
         error = 'removed when the erasure completed'
   where f.run_id in (select r.run_id from retention.runs r
                       where r.policy_name = any (v_names) or to_regclass(r.spec #>> '{policy,target}') = any (v_rels))
     and exists (select from jsonb_each_text(f.row_key) k where k.value = any (v_values));
  get diagnostics n_fail = row_count;
  update retention.run_row_failures f
     set error = retention._redact_text(f.error, v_values, v_token)
   where f.error like any (array(select '%' || v || '%' from unnest(v_values) v))
     and f.error is distinct from retention._redact_text(f.error, v_values, v_token);
  -- The request's own runs worked on the person's rows only: their messages go.
  update retention.runs r
     set error = case when r.error is not null then 'removed when the erasure completed' end,
         error_hint = null
   where r.request_id = p_request and (r.error is not null or r.error_hint is not null);
  get diagnostics n_runs = row_count;
  update retention.runs r
     set error = retention._redact_text(r.error, v_values, v_token),
         error_hint = retention._redact_text(r.error_hint, v_values, v_token)
   where (r.error like any (array(select '%' || v || '%' from unnest(v_values) v))
          or r.error_hint like any (array(select '%' || v || '%' from unnest(v_values) v)))
     and (r.error, r.error_hint) is distinct from
         (retention._redact_text(r.error, v_values, v_token), retention._redact_text(r.error_hint, v_values, v_token));
  get diagnostics v_n = row_count;
  n_runs := n_runs + v_n;

  update retention.erasure_requests set requested_by = '(' || v_erased || ')' where request_id = p_request;
  delete from retention.subject_tokens t where t.subject = any (v_values);
  return jsonb_build_object('holds', n_holds, 'exemptions', n_ex, 'flags', n_flags, 'notifications', n_notes,
                            'failed_rows', n_fail, 'run_errors', n_runs);
end
$$;
comment on function retention._forget_subject(bigint) is
  'Internal. At an erasure''s completion: removes the subject''s id, key and reasons from released holds, exemptions, flags, notifications, failed rows and run errors (the token stays), and deletes the links from their tokens.';
