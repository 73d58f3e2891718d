-- Places a legal hold. p_scope 'table' (p_value = table name), 'subject' (p_value = the
-- subject's id as given; compared with every subject column in that column's type, so
-- '042' holds 42; a warning says when no row of any subject column has it), 'policy'
-- (p_value = policy name) or 'backups' (p_value = a backup policy: every backup of its
-- store, whichever policy prunes it; or policy/backup: that one backup; backup pruners
-- hold the lock too). Takes the holds lock exclusively, which waits for batches in
-- flight (they hold it shared) and makes later batches see the hold: once this function's
-- transaction has committed, no run deletes a row the hold covers.
create or replace function retention.place_hold(
  p_scope          text,
  p_value          text,
  p_reason         text,
  p_case_reference text default null,
  p_expires_at     timestamptz default null,
  p_placed_by      text default null
)
returns retention.legal_holds
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_target regclass;
  v_hold   retention.legal_holds;
  v_value  text := p_value;
  v_col    record;
  v_found  boolean := false;
  v_seen   int := 0;
  v_try    int;
  v_msg    text;
  v_bpol   text;
  v_bname  text;
begin
  perform retention_internal._check_called_directly('place a legal hold');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  if p_scope is null or p_scope not in ('table', 'subject', 'policy', 'backups') then
    raise exception 'unknown hold scope %', coalesce(quote_literal(p_scope), 'NULL')
      using errcode = 'RT010', hint = 'Scopes: table (value = table name), subject (value = subject id), policy (value = policy name), backups (value = backup policy name, or name/backup for one backup).';
  end if;
  if p_value is null or btrim(p_value) = '' then
    raise exception 'a % hold needs a value', p_scope
      using errcode = 'RT010', hint = 'Give the table name, subject id or policy name the hold covers.';
  end if;
  -- A value is a name or an id; a megabyte of it would fail the index on open holds with
  -- PostgreSQL's own error (54000) instead of this one.
  if octet_length(p_value) > 2000 then
    raise exception 'a % hold''s value is % bytes long (at most 2000)', p_scope, octet_length(p_value)
      using errcode = 'RT010', hint = 'Give the table name, subject id or policy name itself.';
  end if;
  -- A value that reads as another (direction-changing or invisible characters) would make
  -- active_holds and the audit log say something else than what is held (round atk47).
  if p_value ~ '[[:cntrl:]]' or p_value ~ retention_internal._hidden_chars() then
    raise exception 'a % hold''s value holds control, invisible or direction-changing characters', p_scope
      using errcode = 'RT010', hint = 'Give the table name, subject id or policy name as it is stored, in plain characters.';
  end if;
  if p_reason is null or btrim(p_reason) = '' then
    raise exception 'a legal hold needs a reason'
      using errcode = 'RT010', hint = 'Say why, e.g. ''Litigation: supplier dispute''; add p_case_reference for the case number.';
  end if;
  perform retention_internal._check_note(p_reason, 2000, 'a hold''s reason', 'RT010');
  if p_case_reference is not null and not retention_internal._printable(p_case_reference, 200) then
    raise exception 'the case reference must be 1 to 200 printable characters'
      using errcode = 'RT010', hint = 'Give the case or matter number (e.g. ''REG-7''), or leave it NULL.';
  end if;
  if p_placed_by is not null and not retention_internal._printable(p_placed_by, 200) then
    raise exception 'placed by must be 1 to 200 printable characters'
      using errcode = 'RT010', hint = 'Give a role or a person''s account name, without control, invisible or direction-changing characters; or leave it NULL for retention.actor or the login.';
  end if;
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'hold expiry % is not in the future', p_expires_at
      using errcode = 'RT010', hint = 'Give a future timestamp, or NULL for a hold that lasts until released.';
  end if;
  if p_scope = 'table' then
    v_target := retention_internal._resolve_table(p_value, 'Give an existing table, schema-qualified, e.g. app.users.');
    -- A view, a sequence, a foreign table holds no rows a run removes: a hold on it would
    -- keep nothing while seeming to.
    if (select c.relkind from pg_catalog.pg_class c where c.oid = v_target) not in ('r', 'p') then
      raise exception '% is not a table: a hold on it would keep nothing', v_target
        using errcode = 'RT010', hint = 'Hold the table the rows live in (for a view, its base table), e.g. app.users.';
    end if;
    if retention_internal._system_namespace((select c.relnamespace from pg_catalog.pg_class c where c.oid = v_target)) then
      raise exception '% is not an application table: no policy acts on it', v_target
        using errcode = 'RT010', hint = 'Hold an application table, e.g. app.users; the system''s and pg-retention''s own tables are never purged.';
    end if;
  elsif p_scope = 'policy' then
    perform retention_internal._get_policy(p_value);
  elsif p_scope = 'backups' then
    -- 'policy' freezes every backup of its store; 'policy/backup' one backup.
    v_bpol := split_part(p_value, '/', 1);
    v_bname := nullif(substr(p_value, length(v_bpol) + 2), '');
    -- The hold is on the policy's store: another policy given that store later (or this
    -- one given another) does not get past it.
    v_bpol := (retention_internal._get_backup_policy(v_bpol)).store;
    if strpos(p_value, '/') > 0 and (v_bname is null or length(v_bname) > 255 or v_bname ~ '[/[:cntrl:]]' or v_bname in ('.', '..')) then
      raise exception 'invalid backup name in %', quote_literal(left(p_value, 80))
        using errcode = 'RT010', hint = 'Give the backup policy (every backup of its store), or policy/backup for one backup as pg-retention backups list shows it.';
    end if;
  end if;

  perform retention_internal._lock_holds_exclusive();
  -- Subject columns declared on tables attached below others since are recorded for those
  -- (subject_family), before the hold relies on them.
  perform retention_internal._note_subject_families();
  if p_scope = 'subject' then
    perform retention_internal._note_subject_links();
    perform retention_internal._note_held_collations();
  end if;
  insert into retention.legal_holds
    (scope, target, target_name, policy_name, subject_id, subject_token, reason, case_reference, placed_by, expires_at,
     backup_store, backup_name, placed_at)
  values
    (p_scope, v_target, case when p_scope = 'table' then retention.qualified_name(v_target) end,
     case when p_scope = 'policy' then p_value end,
     case when p_scope = 'subject' then v_value end,
     case when p_scope = 'subject' then retention_internal._subject_token('subject:' || v_value) end,
     p_reason, p_case_reference, coalesce(p_placed_by, retention_internal._actor()), p_expires_at,
     -- The time it is placed, not its transaction's start: a transaction held open would
     -- otherwise date it back (round atk82 F2, atk84 F4).
     v_bpol, v_bname, clock_timestamp())
  returning * into v_hold;
  -- The audit log is kept for good: a subject hold is in it by its subject's token, and
  -- its reason and case reference (which may name the person) only in legal_holds, where
  -- the subject's erasure removes them.
  perform retention_internal._append_audit('hold.placed', 'legal_hold', v_hold.hold_id::text,
    jsonb_strip_nulls(jsonb_build_object(
      'scope', p_scope,
      'value', case when p_scope = 'subject' then null else v_value end,
      'subject_token', v_hold.subject_token,
      'reason', case when p_scope = 'subject' then null else p_reason end,
      'case_reference', case when p_scope = 'subject' then null else p_case_reference end,
      'expires_at', p_expires_at,
      'placed_by', v_hold.placed_by)));
  if p_scope = 'subject' then
    -- Does any row carry this subject? Every subject column (policies', erasure rules',
    -- erasure subject tables' keys) of every table holding rows (a partition, an
    -- inheritance child: each read ONLY, as the hold covers it), compared as the hold
    -- rule compares it (_held_sql).
    begin
      -- This session holds the holds lock: the tables' locks are taken without waiting
      -- (a batch that holds one waits for the holds lock), a table it cannot lock at once
      -- is not scanned (_check_planner_code).
      perform pg_catalog.set_config('retention.plan_lock_nowait', 'on', true);
      for v_col in
        select distinct f.rel::regclass as rel, c.col, retention_internal._base_type(a.atttypid, a.atttypmod) as typ,
               retention_internal._text_like(a.atttypid) as txt, retention_internal._hold_kind(a.atttypid) as kind,
               a.atttypid as typid
          from unnest(retention_internal._declaring_tables()) t(rel)
          cross join unnest(retention_internal._hold_family(t.rel::regclass)) f(rel)
          join pg_catalog.pg_class k on k.oid = f.rel and k.relkind = 'r'
          cross join unnest(retention_internal._subject_columns(f.rel::regclass)) c(col)
          join pg_catalog.pg_attribute a on a.attrelid = f.rel and a.attname = c.col
      loop
        v_seen := v_seen + 1;
        -- A column the hold holds every row of while it is open (_hold_kind 'opaque').
        if v_col.kind = 'opaque' then
          v_found := true;
          exit;
        end if;
        continue when v_col.kind not in ('pieces', 'typed+pieces') and retention_internal._subject_value(v_value, v_col.typ) is null;
        -- Read as the owner: not a table whose planning would run another role's code
        -- (round atk90 F2), nor one whose row security applies to the owner (its policies
        -- are another role's expressions).
        -- Its lock is taken without waiting; a lock held for a moment (autovacuum on a
        -- table just written) is tried again for up to a second before the scan gives up.
        for v_try in 1 .. 20 loop
          begin
            perform retention_internal._check_planner_code(v_col.rel);
            exit;
          exception when lock_not_available then
            if v_try = 20 then
              raise;
            end if;
            perform pg_catalog.pg_sleep(0.05);
          end;
        end loop;
        if pg_catalog.row_security_active(v_col.rel) then
          raise exception 'cannot read % to look for the subject: row-level security applies to %', v_col.rel, current_user
            using errcode = 'RT023';
        end if;
        -- A value with text in it (a composite, an array, json, jsonb, xml, bytea:
        -- _hold_kind 'pieces' or 'typed+pieces'), piece by piece as the hold rule compares
        -- it, reading the whole table; such a column has no equality the scan could use
        -- (xml, json) or one that misses the held value in its pieces (round atk107 F1).
        if v_col.kind in ('pieces', 'typed+pieces') then
          execute format('select exists (select from only %s t where %s)', retention.qualified_name(v_col.rel),
                         retention_internal._held_pieces_sql(format('t.%I', v_col.col), v_col.typid, '(select $1::text as subject_id)'))
            into v_found using v_value;
          exit when v_found;
          continue;
        end if;
        execute format('select exists (select from only %s t where t.%I::%s = any ($1::%s[]))',
                       retention.qualified_name(v_col.rel), v_col.col, v_col.typ, v_col.typ)
          into v_found
          using array_remove(array[retention_internal._subject_value(v_value, v_col.typ)]
                             || case when v_col.txt then array[retention_internal._subject_value(v_value, 'bigint'),
                                                               retention_internal._subject_value(v_value, 'numeric')]
                                                         -- The spellings the hold rule takes in a text
                                                         -- column (a uuid in braces, an e-mail in
                                                         -- capitals), as values an index finds.
                                                         || array(select x from unnest(retention_internal._subject_forms(v_value)) f(f)
                                                                   cross join unnest(array[f.f, pg_catalog.lower(f.f), pg_catalog.upper(f.f)]) x(x))
                                     else '{}'::text[] end, null);
        exit when v_found;
      end loop;
      perform pg_catalog.set_config('retention.plan_lock_nowait', 'off', true);
    exception when sqlstate 'RT002' or sqlstate 'RT025' or sqlstate 'RT023' or lock_not_available then
      -- A policy whose subject column is gone, a type with another role's cast, a table
      -- whose planning would run another role's code or whose row security applies to the
      -- owner: the hold is placed all the same (runs fail until it is fixed); the scan
      -- just cannot say more.
      get stacked diagnostics v_msg = message_text;
      raise warning 'subject hold %: %', v_hold.hold_id, v_msg;
      v_found := true;
    end;
    if not v_found then
      -- Not the value: a warning goes to the server's log too, where no erasure reaches it
      -- (round atk104 F7).
      raise warning 'subject hold %: no row of any subject column (% checked) holds the held value', v_hold.hold_id, v_seen
        using hint = 'The hold is in force all the same; check the id (a typo holds nobody), or give the policy on that person''s table a subject column.';
    end if;
  end if;
  raise notice 'legal hold % placed on % %', v_hold.hold_id, p_scope, coalesce(v_value, p_value);
  return v_hold;
end
$$;
comment on function retention.place_hold(text, text, text, text, timestamptz, text) is
  'Places a legal hold on a table, a data subject, a policy or backups (a backup policy''s store, or one backup). Waits for in-flight batches; once committed, no run touches the covered rows. Audit-logged.';
