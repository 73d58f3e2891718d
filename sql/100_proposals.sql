-- Approval-gated policies (approval = 'required'): a live run removes or changes only the
-- rows of a proposal a second person approved.
--  * propose: a frozen dry run — the exact rows (primary key and a keyed md5 of the row), the
--    rows each foreign-key cascade would take per table, the cutoff, the policy's version,
--    who proposed (actor and login), when it expires. An earlier open proposal of the
--    policy is superseded.
--  * approve_proposal / reject_proposal: a member of retention_approver whose login and
--    actor are not the proposer's (four eyes), with a comment; audited.
--  * open_run (every path: worker, run, run_all, CLI, forced or not) refuses a live run of
--    such a policy without an approved, unexpired proposal of its current version (RT034,
--    RT035), or when more than the proposal's max_drift of its rows left the eligible set
--    (RT035); otherwise the run acts on the proposal's rows that are still eligible,
--    unchanged and unheld (_proposal_cond), the rest skipped and reported.

-- A policy's version: sha256 over its settings (description aside), its effective period
-- (a changed schema default changes what it deletes) and the foreign keys its changes set
-- off (_cascade_tree: a key added or changed after approval changes what a delete takes).
create or replace function retention_internal._policy_version(p retention.policies)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
-- The period's text in one style whoever asks (a session in iso_8601 would change it).
set intervalstyle = 'postgres'
set datestyle = 'ISO, YMD'
as $$
  select pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
           -- What does not decide which rows go (the description, throttling, the batch target)
           -- is left out.
           ((retention_internal._policy_args(p) - array['description', 'pause_between_batches', 'max_replication_lag', 'batch_target', 'count',
                                                         'timestamp_zone'])
            -- The zones a timestamp or date age column is read in (the policy's, or UTC and
            -- the installation's default), where they are not UTC alone: what they are
            -- decides which rows go, and a changed default changes them.
            || case when retention_internal._column_type(p.target, p.age_column) in ('timestamp'::regtype, 'date'::regtype)
                         and retention_internal._timestamp_zones(p) <> array['UTC']
                    then pg_catalog.jsonb_build_object('timestamp_zones', retention_internal._timestamp_zones(p))
                    else '{}'::jsonb end
            || pg_catalog.jsonb_build_object('effective_retain', (retention.effective_retain(p)).retain::text,
                 'reach', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(t.rel::oid, t.fk, t.ref, t.action, t.referenced::oid, t.cycle)
                                                       order by t.n)
                             from retention_internal._cascade_tree(p.target) t)))::text,
           'UTF8')), 'hex')
$$;
comment on function retention_internal._policy_version(retention.policies) is
  'Internal. sha256 of a policy''s settings (those that do not decide which rows go aside: description, throttling, batch target, count), its effective period and the zones a timestamp or date age column is read in: a proposal is for this version only.';

-- The same, or NULL where it cannot be computed (a table gone): for the ledger's record
-- of the version a run used.
create or replace function retention_internal._policy_version_or_null(p retention.policies)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  return retention_internal._policy_version(p);
exception when others then
  return null;
end
$$;
comment on function retention_internal._policy_version_or_null(retention.policies) is
  'Internal. _policy_version, or NULL where it cannot be computed (the policy''s table is gone): the version a run records in its spec.';

-- A row's text as SQL over its alias: record_out, as a cast to text would give it by I/O
-- conversion, called by name: the table's owner owns its row type and may create a cast
-- from it to text, which (t.*)::text would call as the retention owner (round atk73 F1).
create or replace function retention_internal._row_text_sql(p_alias text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select format('pg_catalog.textin(pg_catalog.record_out(%s.*))', p_alias)
$$;
comment on function retention_internal._row_text_sql(text) is
  'Internal. SQL: a row''s text through record_out by name (never a cast from the table''s row type, which its owner may create).';

-- A proposal row's hash as SQL over a row alias: 'k' and the md5 of the table's row text
-- under the secret key (retention_internal.row_hash_key, readable by the owner only:
-- whoever reads proposal_rows cannot try values against it; round atk66 F12). The key is
-- read by the statement, never written into its text (pg_stat_activity shows that).
create or replace function retention_internal._row_hash_sql(p_alias text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select format('(''k'' || pg_catalog.md5((select x.k from retention_internal.row_hash_key x) || %s))',
                retention_internal._row_text_sql(p_alias))
$$;
comment on function retention_internal._row_hash_sql(text) is
  'Internal. SQL: a row''s keyed hash for proposal_rows (''k'' || md5(secret key || row text)).';

-- Whether a stored proposal row hash (p_stored, SQL) is the row's (alias p_alias), keyed or,
-- for proposals made before the key, plain md5 (32 hex digits).
create or replace function retention_internal._row_hash_matches_sql(p_stored text, p_alias text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select format('%1$s = case when pg_catalog.length(%1$s) = 32 then pg_catalog.md5(%2$s) else %3$s end',
                p_stored, retention_internal._row_text_sql(p_alias), retention_internal._row_hash_sql(p_alias))
$$;
comment on function retention_internal._row_hash_matches_sql(text, text) is
  'Internal. SQL: a stored proposal row hash is the row''s (keyed, or plain md5 for proposals made before the key).';

-- The condition (SQL over alias t) that a row is one of the proposal's, unchanged, and that
-- every row its delete would remove or change through foreign keys (ON DELETE CASCADE,
-- SET NULL, SET DEFAULT, at any depth) is one of the proposal's too, unchanged: a row
-- that gained a cascaded row since the approval, or whose cascaded rows changed, is not
-- executed (it counts as drift). Where the cascade loops back (a self-reference, a
-- cycle) or goes deeper than 8, a row with any such referencing row is not executed.
-- Rows are hashed as md5 of their text under a secret key (_row_hash_sql; t.*: a column
-- named t cannot stand in for it),
-- under the output settings propose, open_run and run_step pin (extra_float_digits,
-- DateStyle, IntervalStyle, bytea_output), so the session cannot change a row's text; the
-- archive's JSON copies are made under the same settings.
create or replace function retention_internal._proposal_cond(p_proposal_id bigint, p_rel regclass)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_ok   text[] := '{}';
  v_kids text[] := '{}';
  c      record;
  v_n    integer;
  v_frozen text;
begin
  -- Nodes deepest first (a node's children have larger numbers): ok[n] over alias c<n>.
  for c in select * from retention_internal._cascade_tree(p_rel) t order by t.n desc loop
    v_n := c.n;
    v_ok[v_n] := case when c.cycle then 'false' else
      format('exists (select from retention.proposal_rows pr where pr.proposal_id = %s and pr.rel = %s and pr.row_key = %s
                        and %s)%s',
             p_proposal_id, c.rel::oid, retention_internal._row_key_expr(c.rel, 'c' || v_n),
             retention_internal._row_hash_matches_sql('pr.row_hash', 'c' || v_n), coalesce(v_kids[v_n + 1], '')) end;
    -- This node, seen from its parent: no row of it outside the proposal.
    v_kids[c.parent + 1] := coalesce(v_kids[c.parent + 1], '') || format(
      ' and not exists (select from %s c%s where (%s) = (%s) and not (%s))',
      retention_internal._reach_scan(c.rel), v_n, retention_internal._column_list('c' || v_n, c.fk),
      retention_internal._column_list(case when c.parent = 0 then 't' else 'c' || c.parent end, c.ref), v_ok[v_n]);
  end loop;
  -- v_kids[n + 1]: the conditions on node n's children (v_kids[1]: the root's).
  v_frozen := format('exists (select from retention.proposal_rows pr where pr.proposal_id = %s and pr.rel = %s and pr.row_key = %s
                               and %s)',
                     p_proposal_id, p_rel::oid, retention_internal._row_key_sql(p_rel),
                     retention_internal._row_hash_matches_sql('pr.row_hash', 't'));
  return v_frozen || coalesce(v_kids[1], '');
end
$$;
comment on function retention_internal._proposal_cond(bigint, regclass) is
  'Internal. SQL over alias t: the row is one of the proposal''s rows, unchanged, and so is every row its delete reaches through foreign keys (same keys, same md5 of the whole row).';

-- Proposals past their expiry become 'expired' (with an audit entry each).
create or replace function retention_internal._expire_proposals(p_policy text default null)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v record;
begin
  for v in
    update retention.proposals set status = 'expired', closed_at = clock_timestamp(),
           closed_reason = 'expired before it was executed'
     where status in ('pending', 'approved') and expires_at <= pg_catalog.clock_timestamp()
       and (p_policy is null or policy_name = p_policy)
    returning proposal_id, policy_name
  loop
    perform retention_internal._append_audit('proposal.expired', 'policy', v.policy_name,
                                    jsonb_build_object('proposal_id', v.proposal_id));
  end loop;
end
$$;
comment on function retention_internal._expire_proposals(text) is
  'Internal. Marks pending and approved proposals past their expiry expired, audited.';

create or replace function retention.propose(
  p_policy     text,
  p_expires_in interval default '7 days',
  p_max_drift  numeric  default 0.1,
  p_note       text     default null
)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
-- Short statements over the catalog and a batch's rows: JIT compiling them costs more than
-- it saves (milliseconds on every call, per batch).
set jit = off
set standard_conforming_strings = on
set timezone = 'UTC'
set extra_float_digits = 1
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set bytea_output = 'hex'
as $$
declare
  v_pol     retention.policies := retention_internal._get_policy(p_policy);
  v_ret     record;
  v_sql     record;
  v_cutoff  timestamptz;
  v_id      bigint;
  v_rows    bigint;
  v_held    bigint;
  v_gap     text;
  v_cascade jsonb := '[]';
  v_nodes   text[] := '{}';
  v_from    text;
  v_count   bigint;
  c         record;
  v_old     record;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('propose a purge');
  perform retention_internal._check_fresh_clock();
  if v_pol.approval <> 'required' then
    raise exception 'policy % does not require approval', p_policy
      using errcode = 'RT034', hint = 'Its runs act on their own. To gate them: retention.alter_policy(''' || p_policy || ''', p_approval => ''required'').';
  end if;
  if not v_pol.enabled then
    raise exception 'policy % is disabled', p_policy
      using errcode = 'RT034', hint = 'Enable it first (retention.alter_policy(..., p_enabled => true)); a disabled policy runs nothing.';
  end if;
  perform retention_internal._check_note(p_note, 2000, 'a proposal''s note', 'RT006');
  if not retention_internal._interval_between(p_expires_in, interval '1 second', interval '90 days') then
    raise exception 'p_expires_in must be more than 0 and at most 90 days, got %', p_expires_in
      using errcode = 'RT006', hint = 'The default is 7 days: an approval is for the rows as they were, not for months later.';
  end if;
  if p_max_drift is null or p_max_drift < 0 or p_max_drift > 1 then
    raise exception 'p_max_drift must be between 0 and 1, got %', p_max_drift
      using errcode = 'RT006', hint = 'The share of the proposal''s rows that may change or go before execution stops, e.g. 0.1 for 10%.';
  end if;
  v_gap := retention_internal._privilege_gap(v_pol, session_user);
  if v_gap is not null then
    raise exception 'role % may not propose for policy %: it lacks privileges on %', session_user, v_pol.name,
      retention.qualified_name(v_pol.target)
      using errcode = '42501', hint = 'A DBA grants them: ' || v_gap;
  end if;
  -- Rows' keys are written as JSON, which looks a cast to json up as the statement runs:
  -- none made after the check (the kind of round atk113 F9).
  perform retention_internal._freeze_casts();
  perform retention_internal._check_foreign_code(v_pol);
  perform retention_internal._check_rls(v_pol.target, v_pol.action in ('soft_delete', 'scrub'));
  perform retention_internal._expire_proposals(v_pol.name);
  perform set_config('lock_timeout', (extract(epoch from v_pol.lock_timeout) * 1000)::bigint::text, true);

  v_ret := retention.effective_retain(v_pol);
  v_cutoff := retention_internal._policy_cutoff(v_pol, now(), v_ret.retain);
  v_sql := retention_internal._policy_sql(v_pol);
  -- One open proposal per policy: earlier ones are superseded.
  for v_old in
    update retention.proposals set status = 'superseded', closed_at = clock_timestamp(),
           closed_reason = 'a new proposal was made'
     where policy_name = v_pol.name and status in ('pending', 'approved')
    returning proposal_id
  loop
    perform retention_internal._append_audit('proposal.superseded', 'policy', v_pol.name,
                                    jsonb_build_object('proposal_id', v_old.proposal_id));
  end loop;
  insert into retention.proposals (policy_id, policy_name, policy_version, action, cutoff, rows, held_back,
                                   max_drift, note, proposed_by, proposed_login, proposed_role, expires_at)
  values (v_pol.policy_id, v_pol.name, retention_internal._policy_version(v_pol), v_pol.action, v_cutoff, 0, 0,
          p_max_drift, p_note, retention_internal._actor(), session_user,
          (select r.oid from pg_catalog.pg_roles r where r.rolname = session_user), now() + p_expires_in)
  returning proposal_id into v_id;
  execute format('insert into retention.proposal_rows (proposal_id, rel, row_key, row_hash)
                  select $5, $6, %s, %s from only %s t where %s and not (%s)
                  on conflict do nothing',
                 retention_internal._row_key_sql(v_pol.target), retention_internal._row_hash_sql('t'), v_sql.tbl, v_sql.eligible, v_sql.held)
    using v_cutoff, now(), v_pol.name, v_pol.target::oid, v_id, v_pol.target::oid;
  get diagnostics v_rows = row_count;
  execute format('select count(*) from only %s t where %s and (%s)', v_sql.tbl, v_sql.eligible, v_sql.held)
    into v_held using v_cutoff, now(), v_pol.name, v_pol.target::oid;
  -- Every row their delete would remove or change through foreign keys, frozen with them
  -- (level by level), and counted per table.
  if v_pol.action in ('delete', 'purge_soft_deleted') then
    for c in select * from retention_internal._cascade_tree(v_pol.target) t order by t.n loop
      v_from := format('from %s c%s where (%s) in (select %s from (%s) p)',
        retention_internal._reach_scan(c.rel), c.n, retention_internal._column_list('c' || c.n, c.fk), retention_internal._column_list('p', c.ref),
        case when c.parent = 0
             then format('select t.* from only %s t where exists (select from retention.proposal_rows pr
                                                                  where pr.proposal_id = %s and pr.rel = %s and pr.row_key = %s)',
                         v_sql.tbl, v_id, v_pol.target::oid, retention_internal._row_key_sql(v_pol.target))
             else v_nodes[c.parent] end);
      v_nodes[c.n] := format('select c%s.* %s', c.n, v_from);
      execute format('select count(*) %s', v_from) into v_count;
      if not c.cycle then
        execute format('insert into retention.proposal_rows (proposal_id, rel, row_key, row_hash)
                        select $1, $2, %s, %s %s on conflict do nothing',
                       retention_internal._row_key_expr(c.rel, 'c' || c.n), retention_internal._row_hash_sql('c' || c.n), v_from)
          using v_id, c.rel::oid;
      end if;
      v_cascade := v_cascade || jsonb_build_array(
        jsonb_build_object('table', retention.qualified_name(c.rel), 'action', c.action, 'depth', c.depth, 'rows', v_count)
        || case when c.cycle then jsonb_build_object('loops', true) else '{}' end);
    end loop;
  end if;
  update retention.proposals set rows = v_rows, held_back = v_held, cascade = v_cascade where proposal_id = v_id;
  perform retention_internal._append_audit('proposal.created', 'policy', v_pol.name,
    jsonb_build_object('proposal_id', v_id, 'version', retention_internal._policy_version(v_pol), 'cutoff', v_cutoff,
                       'rows', v_rows, 'held_back', v_held, 'cascade', v_cascade, 'max_drift', p_max_drift,
                       'expires_at', now() + p_expires_in));
  insert into retention.notifications (kind, policy_name, dedupe_key, payload)
  values ('approval_requested', v_pol.name, 'approval_requested:' || v_id,
          jsonb_build_object('kind', 'approval_requested', 'proposal_id', v_id, 'policy', v_pol.name,
                             'table', retention.qualified_name(v_pol.target), 'action', v_pol.action,
                             'cutoff', v_cutoff, 'rows', v_rows, 'held_back', v_held, 'cascade', v_cascade,
                             'proposed_by', retention_internal._actor(), 'expires_at', now() + p_expires_in));
  raise notice 'policy %: proposal % of % rows (% held back), expires %; a member of retention_approver other than % approves it: SELECT retention.approve_proposal(%, ''comment'');',
    v_pol.name, v_id, v_rows, v_held, now() + p_expires_in, session_user, v_id;
  return v_id;
end
$$;
comment on function retention.propose(text, interval, numeric, text) is
  'Proposes the next purge of an approval-gated policy: a frozen dry run of the exact rows (keys and row hashes), the cascade''s rows per table, the cutoff and the policy''s version, expiring after p_expires_in (7 days); notifies approval_requested and returns the proposal''s id. RT034 for a policy without approval.';

-- Approves or rejects (p_approve false) a pending proposal. The deciding login must be a
-- member of retention_approver, and neither its login nor its actor may be the
-- proposer's (RT036). A proposal of an older version of the policy becomes stale, an
-- expired one expired (RT035).
-- Whether role p_a is a member of role p_b, directly or through other roles (pg_auth_members:
-- not pg_has_role, under which a superuser is a member of every role). False for NULLs.
create or replace function retention_internal._member_of(p_a oid, p_b oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  with recursive up(r) as (
    select m.roleid from pg_catalog.pg_auth_members m where m.member = p_a
    union
    select m.roleid from pg_catalog.pg_auth_members m join up on m.member = up.r)
  select coalesce(p_b = any (array(select r from up)), false)
$$;
comment on function retention_internal._member_of(oid, oid) is
  'Internal. Whether the first role is a member of the second, directly or through other roles (explicit memberships only: a superuser is not a member of every role here).';
revoke all on function retention_internal._member_of(oid, oid) from public;

create or replace function retention_internal._decide_proposal(p_proposal_id bigint, p_approve boolean, p_comment text)
returns retention.proposals
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v   retention.proposals;
  v_pol retention.policies;
  v_verb text := case when p_approve then 'approve' else 'reject' end;
  v_me   oid := (select r.oid from pg_catalog.pg_roles r where r.rolname = session_user);
begin
  perform retention_internal._check_fresh_clock();
  if not pg_catalog.pg_has_role(session_user, 'retention_approver', 'MEMBER') then
    raise exception 'role % may not % proposals', session_user, v_verb
      using errcode = '42501', hint = 'Approvals are for members of retention_approver: GRANT retention_approver TO <login>; (a DBA).';
  end if;
  if p_comment is null or length(btrim(p_comment)) = 0 then
    raise exception 'a comment is required to % a proposal', v_verb
      using errcode = 'RT006', hint = 'Say why, e.g. ''checked the counts against the monthly report''.';
  end if;
  perform retention_internal._check_note(p_comment, 2000, 'a decision''s comment', 'RT006');
  perform retention_internal._expire_proposals();
  select * into v from retention.proposals where proposal_id = p_proposal_id for update;
  if not found then
    raise exception 'proposal % does not exist', p_proposal_id
      using errcode = 'RT008', hint = 'SELECT * FROM retention.proposals ORDER BY proposal_id DESC lists them.';
  end if;
  if v.status <> 'pending' then
    raise exception 'proposal % is %, not pending', p_proposal_id, v.status
      using errcode = 'RT035',
            hint = case when v.status in ('expired', 'stale', 'superseded') then 'Propose again: retention.propose(''' || v.policy_name || ''').'
                        else 'Only a pending proposal can be approved or rejected.' end;
  end if;
  -- The same login by name or by role (renamed since: round atk120 F1), or a role either
  -- is a member of (one may SET ROLE to the other), directly or through other roles: one
  -- person, two names.
  if v.proposed_login = session_user::text or v.proposed_by = retention_internal._actor()
     or v.proposed_role = v_me
     or retention_internal._member_of(v_me, v.proposed_role) or retention_internal._member_of(v.proposed_role, v_me) then
    raise exception 'proposal % was made by %: a second person must % it', p_proposal_id, v.proposed_by, v_verb
      using errcode = 'RT036', hint = 'Four eyes: another member of retention_approver, on their own login (not one that is, or can become, the proposer''s role), decides.';
  end if;
  select * into v_pol from retention.policies where policy_id = v.policy_id;
  if p_approve and (v_pol.policy_id is null or retention_internal._policy_version(v_pol) <> v.policy_version) then
    update retention.proposals set status = 'stale', closed_at = clock_timestamp(),
           closed_reason = 'the policy changed after the proposal'
     where proposal_id = p_proposal_id;
    perform retention_internal._append_audit('proposal.stale', 'policy', v.policy_name,
                                    jsonb_build_object('proposal_id', p_proposal_id, 'reason', 'policy changed'));
    return null;  -- approve_proposal warns: an error would undo the record of it
  end if;
  update retention.proposals
     set status = case when p_approve then 'approved' else 'rejected' end,
         decided_at = clock_timestamp(), decided_by = retention_internal._actor(), decided_login = session_user,
         decision_comment = p_comment,
         closed_at = case when p_approve then null else clock_timestamp() end
   where proposal_id = p_proposal_id
  returning * into v;
  perform retention_internal._append_audit('proposal.' || case when p_approve then 'approved' else 'rejected' end,
    'policy', v.policy_name,
    -- Not the comment itself: the audit log is kept for good, and an approver names the
    -- people whose rows they approve. It stays in proposals.decision_comment, where a
    -- person's erasure reaches it (round atk100 F2).
    jsonb_build_object('proposal_id', p_proposal_id, 'rows', v.rows, 'version', v.policy_version,
                       'comment_chars', pg_catalog.length(p_comment), 'proposed_by', v.proposed_by));
  raise notice 'proposal % of policy % %', p_proposal_id, v.policy_name,
    case when p_approve then 'approved: the next run of the policy removes its rows' else 'rejected' end;
  return v;
end
$$;
comment on function retention_internal._decide_proposal(bigint, boolean, text) is
  'Internal. Approves or rejects a pending proposal (four eyes, a comment, audited); NULL when it turned out stale.';

create or replace function retention.approve_proposal(p_proposal_id bigint, p_comment text)
returns retention.proposals
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v retention.proposals;
begin
  perform retention_internal._check_called_directly('approve a proposal');
  v := retention_internal._decide_proposal(p_proposal_id, true, p_comment);
  if v.proposal_id is null then
    -- Stale: recorded as such (a warning, not an error, so that the record stays).
    raise warning 'proposal % is stale: policy % changed after it was made; nothing approved',
      p_proposal_id, (select policy_name from retention.proposals where proposal_id = p_proposal_id)
      using hint = 'Propose again for the policy as it is now: retention.propose(policy).';
  end if;
  return v;
end
$$;
comment on function retention.approve_proposal(bigint, text) is
  'Approves a pending proposal: the next live run of its policy removes its rows that are still eligible, unchanged and unheld. For members of retention_approver other than the proposer (RT036), with a comment; audited. A proposal whose policy changed becomes stale (a warning, NULL returned); an expired one RT035.';

create or replace function retention.reject_proposal(p_proposal_id bigint, p_comment text)
returns retention.proposals
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  perform retention_internal._check_called_directly('reject a proposal');
  return retention_internal._decide_proposal(p_proposal_id, false, p_comment);
end
$$;
comment on function retention.reject_proposal(bigint, text) is
  'Rejects a pending proposal: nothing of it is removed. For members of retention_approver other than the proposer (RT036), with a comment; audited.';

-- open_run's gate for a live run of an approval-gated policy: the approved proposal it
-- may execute, or why not (code, error, hint) — the run is then refused. Marks an expired
-- proposal expired and one of an older policy version, or drifted past its max_drift,
-- stale (audited). p_eligible: the proposal's rows still eligible and unchanged now.
create or replace function retention_internal._proposal_gate(p_pol retention.policies,
                                                    out proposal retention.proposals,
                                                    out code text, out err text, out hint text)
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  perform retention_internal._expire_proposals(p_pol.name);
  select * into proposal from retention.proposals
   where policy_name = p_pol.name and policy_id = p_pol.policy_id and status = 'approved'
   order by proposal_id desc limit 1;
  if proposal.proposal_id is null then
    code := 'RT034';
    select format('policy %s requires an approved proposal; %s', p_pol.name,
                  case when x.proposal_id is null then 'none was made'
                       else format('proposal %s is %s', x.proposal_id, x.status) end)
      into err
      from (select null) d left join lateral (select * from retention.proposals p where p.policy_name = p_pol.name
                                               order by p.proposal_id desc limit 1) x on true;
    hint := format('Propose (SELECT retention.propose(%L)), have a member of retention_approver approve it, then run again.', p_pol.name);
    return;
  end if;
  if retention_internal._policy_version(p_pol) <> proposal.policy_version then
    update retention.proposals set status = 'stale', closed_at = clock_timestamp(),
           closed_reason = 'the policy changed after approval'
     where proposal_id = proposal.proposal_id;
    perform retention_internal._append_audit('proposal.stale', 'policy', p_pol.name,
                                    jsonb_build_object('proposal_id', proposal.proposal_id, 'reason', 'policy changed'));
    code := 'RT035';
    err := format('policy %s changed after proposal %s was approved', p_pol.name, proposal.proposal_id);
    hint := format('Propose again for the policy as it is now (SELECT retention.propose(%L)) and have it approved.', p_pol.name);
    proposal := null;
  end if;
end
$$;
comment on function retention_internal._proposal_gate(retention.policies) is
  'Internal. The approved proposal a live run of an approval-gated policy may execute, or the refusal (RT034 none, RT035 stale).';

-- Why a proposal may no longer be executed (NULL while it may): not approved any more,
-- expired, its policy dropped or changed since. run_step asks before every step.
create or replace function retention_internal._proposal_lapsed(p_proposal_id bigint, p_policy_id bigint)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
set extra_float_digits = 1
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
as $$
declare
  v   retention.proposals;
  pol retention.policies;
begin
  select * into v from retention.proposals where proposal_id = p_proposal_id;
  select * into pol from retention.policies where policy_id = p_policy_id;
  return case
    when v.status is distinct from 'approved' then format('proposal %s is %s, no longer approved', p_proposal_id, coalesce(v.status, 'gone'))
    when v.expires_at <= pg_catalog.clock_timestamp() then format('proposal %s expired at %s', p_proposal_id, v.expires_at)
    when pol.policy_id is null or v.policy_id is distinct from pol.policy_id then format('the policy of proposal %s was dropped', p_proposal_id)
    when retention_internal._policy_version(pol) <> v.policy_version then format('policy %s changed after proposal %s was approved', pol.name, p_proposal_id)
  end;
end
$$;
comment on function retention_internal._proposal_lapsed(bigint, bigint) is
  'Internal. Why a proposal may no longer be executed (not approved, expired, policy dropped or changed); NULL while it may.';

-- At the end of a run that executed a proposal: its counts, and 'executed' once the run
-- completed (a run stopped by its budget leaves it approved: the next run carries on).
create or replace function retention_internal._proposal_run_closed(r retention.runs, p_status text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v     retention.proposals;
  v_rel oid;
begin
  select * into r from retention.runs x where x.run_id = r.run_id;
  update retention.proposals
     set run_id = r.run_id, executed_rows = coalesce(executed_rows, 0) + r.affected,
         skipped_held = r.held_back,
         skipped_gone = greatest(rows - r.eligible - coalesce(executed_rows, 0), 0),
         status = case when p_status = 'completed' and status = 'approved' then 'executed' else status end,
         closed_at = case when p_status = 'completed' and status = 'approved' then clock_timestamp() else closed_at end,
         closed_reason = case when p_status = 'completed' and status = 'approved' then 'executed by run ' || r.run_id
                              else closed_reason end
   where proposal_id = (r.spec ->> 'proposal')::bigint
  returning * into v;
  if v.status = 'executed' then
    -- The keys of rows the purge removed name people (an e-mail as a key) the database no
    -- longer holds: they go, the row's hash stays for the evidence (round atk55: an
    -- erasure completed later could not tell them the person's). Rows still there (held,
    -- changed, not eligible any more) keep theirs.
    for v_rel in select distinct pr.rel from retention.proposal_rows pr
                  where pr.proposal_id = v.proposal_id
                    and exists (select from pg_catalog.pg_class c where c.oid = pr.rel) loop
      execute format(
        'update retention.proposal_rows pr
            set row_key = pg_catalog.jsonb_build_object(''deleted'', true, ''row_hash'', pr.row_hash,
                                                         ''n'', pg_catalog.gen_random_uuid())
          where pr.proposal_id = $1 and pr.rel = $2
            and not pr.row_key ? ''erased'' and not pr.row_key ? ''deleted''
            and not exists (select from %s t where %s = pr.row_key)',
        retention_internal._reach_scan(v_rel::regclass), retention_internal._row_key_sql(v_rel::regclass))
        using v.proposal_id, v_rel;
    end loop;
    -- A table dropped since holds none of them.
    update retention.proposal_rows pr
       set row_key = pg_catalog.jsonb_build_object('deleted', true, 'row_hash', pr.row_hash, 'n', pg_catalog.gen_random_uuid())
     where pr.proposal_id = v.proposal_id
       and not pr.row_key ? 'erased' and not pr.row_key ? 'deleted'
       and not exists (select from pg_catalog.pg_class c where c.oid = pr.rel);
    perform retention_internal._append_audit('proposal.executed', 'policy', v.policy_name,
      jsonb_build_object('proposal_id', v.proposal_id, 'run_id', r.run_id, 'rows', v.rows,
                         'executed_rows', v.executed_rows, 'skipped_held', v.skipped_held,
                         'skipped_gone', v.skipped_gone));
  end if;
end
$$;
comment on function retention_internal._proposal_run_closed(retention.runs, text) is
  'Internal. Records what a run did of its proposal; executed once the run completed.';
