-- Says what an erasure does to the subject's rows in one table: 'delete' them, 'scrub'
-- columns (a scrub map as for scrub policies), or 'keep' them for a stated legal reason
-- (e.g. 'Invoices: 10 years, German Commercial Code § 257'). p_table NULL sets the default
-- for tables no rule names ('delete' or 'keep'). A table that holds the person's key
-- without a foreign key (a log with a user_id) is reached through p_subject_column, the
-- column that holds the key of a row of p_subject_table: an erasure of such a row acts on
-- the table's rows whose column equals that key (compared in the column's type). Tables
-- with a policy's subject column are reached without a rule (_erasure_steps).
-- Audit-logged.
create or replace function retention.set_erasure_rule(
  p_table  text,
  p_rule   text,
  p_scrub  jsonb default null,
  p_reason text default null,
  p_subject_column text default null,
  p_subject_table  text default null
)
returns retention.erasure_rules
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_target regclass;
  v_scrub  jsonb;
  v_row    retention.erasure_rules;
  v_old    retention.erasure_rules;
  v_cover  oid[];
  v_subj   regclass;
  v_key    record;
  v_coltyp oid;
begin
  perform retention_internal._check_called_directly('set an erasure rule');
  perform retention_internal._routine_write();  -- audited below, not as a direct write
  if p_table is not null then
    v_target := retention_internal._resolve_table(p_table,
      'Give an existing table, schema-qualified, or NULL for the default rule.');
    perform retention_internal._check_can_read(v_target);
  end if;
  -- Not pg-retention's own tables nor the system's: an erasure acts on application data.
  if retention_internal._system_namespace((select c.relnamespace from pg_catalog.pg_class c where c.oid = v_target))
     or (select c.relkind from pg_catalog.pg_class c where c.oid = v_target) not in ('r', 'p') then
    raise exception '% is not an application table', retention.qualified_name(v_target)
      using errcode = 'RT013', hint = 'Erasure rules apply to tables (not views) outside the retention, job queue, temporary and system schemas; what pg-retention keeps of a person is forgotten by the erasure itself.';
  end if;
  if p_rule is null or p_rule not in ('delete', 'scrub', 'keep') then
    raise exception 'unknown erasure rule %', coalesce(quote_literal(p_rule), 'NULL')
      using errcode = 'RT020', hint = 'Rules: delete, scrub (with p_scrub), keep (with p_reason, the legal ground).';
  end if;
  if p_rule = 'keep' and (p_reason is null or btrim(p_reason) = '') then
    raise exception 'a keep rule needs the legal reason'
      using errcode = 'RT020', hint = 'E.g. p_reason => ''Invoices: 10 years, German Commercial Code § 257''.';
  end if;
  perform retention_internal._check_note(p_reason, 2000, 'a rule''s reason', 'RT020');
  -- (Processing refuses them too; a keep rule acts on nothing.)
  if v_target is not null and p_rule in ('delete', 'scrub') and retention_internal._citus_table(v_target) then
    raise exception '% is a Citus distributed table', retention.qualified_name(v_target)
      using errcode = 'RT013',
            hint = 'A batch addresses the rows it picked by ctid, which is unique within one shard only; pg-retention does not act on distributed tables yet (docs/scaling.md). A keep rule is accepted.';
  end if;
  if p_rule = 'scrub' then
    if v_target is null then
      raise exception 'the default rule cannot scrub: columns differ per table'
        using errcode = 'RT020', hint = 'Give the default as delete or keep, and scrub rules per table.';
    end if;
    v_scrub := retention_internal._validate_scrub(v_target, p_scrub, null, null);
  elsif p_scrub is not null then
    raise exception 'p_scrub is only used by the scrub rule'
      using errcode = 'RT020', hint = 'Leave it NULL for delete and keep.';
  end if;

  if (p_subject_column is null) <> (p_subject_table is null) then
    raise exception 'p_subject_column and p_subject_table go together'
      using errcode = 'RT020', hint = 'E.g. p_subject_column => ''user_id'', p_subject_table => ''auth.users'': the column holds a users row''s key.';
  end if;
  if p_subject_column is not null then
    if v_target is null then
      raise exception 'the default rule cannot name a subject column: columns differ per table'
        using errcode = 'RT020', hint = 'Give the subject column in a rule for its table.';
    end if;
    if (select k.relkind from pg_catalog.pg_class k where k.oid = v_target) not in ('r', 'p') then
      raise exception '% is not a table', retention.qualified_name(v_target)
        using errcode = 'RT020', hint = 'Name the table (or partitioned table) whose column holds the person''s key.';
    end if;
    select a.atttypid into v_coltyp
      from pg_catalog.pg_attribute a
     where a.attrelid = v_target and a.attname = p_subject_column and a.attnum > 0 and not a.attisdropped;
    if not found then
      raise exception 'column % does not exist in %', quote_ident(p_subject_column), retention.qualified_name(v_target)
        using errcode = 'RT002', hint = format('Name the column of %s that holds the person''s key.', retention.qualified_name(v_target));
    end if;
    v_subj := retention_internal._resolve_table(p_subject_table,
      'Name the table whose row is the data subject, e.g. auth.users.');
    -- As request_erasure judges its table: no request could name people there (atk64 F10).
    if retention_internal._system_namespace((select c.relnamespace from pg_catalog.pg_class c where c.oid = v_subj))
       or (select c.relkind from pg_catalog.pg_class c where c.oid = v_subj) not in ('r', 'p') then
      raise exception '% is not an application table', retention.qualified_name(v_subj)
        using errcode = 'RT013', hint = 'Name the table that holds the people, outside the system, retention, job queue and temporary schemas (e.g. auth.users).';
    end if;
    select k.key_column, k.key_type into v_key from retention_internal._single_key(v_subj) k;
    if v_key.key_column is null then
      raise exception '% has no single-column primary key', retention.qualified_name(v_subj)
        using errcode = 'RT020', hint = 'Erasure requests name the subject by its primary key; give the table that holds the people (e.g. auth.users).';
    end if;
    if v_subj = v_target then
      raise exception '% is the subject table itself', retention.qualified_name(v_subj)
        using errcode = 'RT020', hint = 'The subject''s own row is reached by its key; name the column in another table.';
    end if;
    if not (retention_internal._same_key_type(v_coltyp, v_key.key_type::regtype::oid)
            or retention_internal._text_holds_key(v_coltyp, v_key.key_type::regtype::oid)) then
      raise exception 'column % of % (%) cannot hold the key of % (%)', quote_ident(p_subject_column),
            retention.qualified_name(v_target), format_type(v_coltyp, null), retention.qualified_name(v_subj), v_key.key_type
        using errcode = 'RT020', hint = 'The column must have the key''s type (integer types count as one; a text column may hold an integer or uuid key as its text).';
    end if;
  end if;

  -- The rule it replaces may name a subject column open subject holds match on (through
  -- _subject_columns): it must not quietly stop doing so (as set_policy, RT024). What it
  -- covered is judged again after the change. The rule is updated in place, so that the
  -- tables recorded above its table (subject_family) stay with it while its column does
  -- (round atk53: deleted and inserted again, a detached partition's rule lost them).
  select * into v_old from retention.erasure_rules r where r.target is not distinct from v_target for update;
  -- Every rule's table is a subject table: any change waits for the batches in flight.
  perform retention_internal._lock_for_coverage();
  if v_old.subject_column is not null then
    v_cover := retention_internal._subject_coverage(v_old.subject_column, v_old.target, v_old.subject_family, v_old.target_name, v_old.subject_attnum);
  end if;
  update retention.erasure_rules r
     set rule = p_rule, scrub_columns = v_scrub, reason = nullif(btrim(p_reason), ''), updated_by = retention_internal._actor(),
         updated_at = now(), subject_column = p_subject_column, subject_table = v_subj
   where r.target is not distinct from v_target
  returning * into v_row;
  if not found then
    insert into retention.erasure_rules (target, rule, scrub_columns, reason, updated_by, subject_column, subject_table)
    values (v_target, p_rule, v_scrub, nullif(btrim(p_reason), ''), retention_internal._actor(), p_subject_column, v_subj)
    returning * into v_row;
  end if;
  -- A column it declares now: the keys to it recorded while a subject hold is open
  -- (round atk126 F2).
  if exists (select from retention_internal._open_holds h where h.scope = 'subject') then
    perform retention_internal._note_subject_links();
  end if;
  perform retention_internal._check_subject_coverage(v_cover,
    retention_internal._subject_column_now(v_old.target, v_old.subject_column, v_old.subject_attnum),
    format('the erasure rule on %s', coalesce(retention.qualified_name(v_target), '(default)')));
  perform retention_internal._append_audit('erasure_rule.set', 'erasure_rule',
    coalesce(retention.qualified_name(v_target), '(default)'),
    jsonb_strip_nulls(jsonb_build_object('rule', p_rule, 'scrub', v_scrub, 'reason', v_row.reason,
                                         'subject_column', p_subject_column,
                                         'subject_table', retention.qualified_name(v_subj))));
  return v_row;
end
$$;
comment on function retention.set_erasure_rule(text, text, jsonb, text, text, text) is
  'Sets what an erasure does to a table''s rows of the subject: delete, scrub (columns) or keep (with the legal reason); NULL table = the default for tables no rule names; p_subject_column and p_subject_table: the table holds the key of a subject table''s row in that column without a foreign key, and is reached through it. Audit-logged.';

-- Whether a column of type p_col can hold a key of type p_key, as erasures compare them:
-- the same type once domains are resolved, both integer (smallint, integer, bigint,
-- numeric: subject 7 is 7 in each), or both text (text, varchar).
create or replace function retention_internal._same_key_type(p_col oid, p_key oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select b.c = b.k
         or (b.c in ('smallint', 'integer', 'bigint', 'numeric') and b.k in ('smallint', 'integer', 'bigint', 'numeric'))
         or (b.c in ('text', 'character varying') and b.k in ('text', 'character varying'))
    from (select retention_internal._base_type(p_col, -1) as c, retention_internal._base_type(p_key, -1) as k) b
$$;
comment on function retention_internal._same_key_type(oid, oid) is
  'Internal. Whether a column of the first type can hold a subject key of the second (same base type, both integer/numeric, or both text/varchar).';

-- Whether a text column can hold an integer key as its digits (user_id text holding '7')
-- or a uuid key as its text (round atk66 F5): an erasure rule may say so
-- (p_subject_column), and the plan lists such a column named like the key as a gap; the
-- key is compared as its canonical text ('7', not '007'; a uuid in lower or upper case,
-- _key_cond_sql).
create or replace function retention_internal._text_holds_key(p_col oid, p_key oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select (b.c in ('text', 'character varying') and b.k in ('smallint', 'integer', 'bigint', 'numeric', 'uuid'))
         -- A JSON column holding the key as a number or a string (round atk72 F4).
         or (b.c in ('json', 'jsonb') and b.k in ('smallint', 'integer', 'bigint', 'numeric', 'uuid', 'text', 'character varying'))
    from (select retention_internal._base_type(p_col, -1) as c, retention_internal._base_type(p_key, -1) as k) b
$$;
comment on function retention_internal._text_holds_key(oid, oid) is
  'Internal. Whether a text or varchar column can hold an integer or uuid subject key as its canonical text, or a JSON column any such key as a JSON number or string (an erasure rule''s subject column; a gap erasure_plan lists).';

-- The condition (over alias t) that a column of type p_type holds the subject key p_key,
-- as erasures and exports compare them: in the column's type without its modifier (a
-- varchar(5) column must not see 'alicebob' cut to 'alice', nor numeric(5,0) see 7.5 as
-- 8), text byte for byte (collate "C": a case-insensitive collation must not make 'bob'
-- match 'Bob'). NULL when the type cannot hold the key (it selects nothing).
create or replace function retention_internal._key_match_sql(p_col name, p_type oid, p_key text)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select format('t.%I = %L::%s%s', p_col, v.v, b.base,
                case when b.base in ('text', 'character varying', 'bpchar') then ' collate "C"' else '' end)
    from (select retention_internal._base_type(p_type, -1) as base) b
   cross join lateral (select retention_internal._subject_value(p_key, b.base) as v) v
   where v.v is not null
$$;
comment on function retention_internal._key_match_sql(name, oid, text) is
  'Internal. SQL over alias t: the column holds the subject key, compared in its type without modifier and text byte for byte; NULL when the type cannot hold the key.';

-- _key_match_sql for a key of type p_key_type: a text column holding a uuid key holds it
-- as uuid's own output (lower case, hyphens) or as another system wrote it: upper case,
-- without hyphens, in braces. Each spelling is compared as a value (an index serves it).
create or replace function retention_internal._key_cond_sql(p_col name, p_type oid, p_key_type oid, p_key text)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select case when retention_internal._base_type(p_type, -1) in ('json', 'jsonb')
              -- A JSON scalar: the key as a number (an integer key) and as a string, a
              -- uuid's in each spelling a text column takes.
              -- (json through _jsonb_of: a cast of any row's \u0000 failed the statement.)
              then (select format('%s = any (%L::jsonb[])',
                                  case when retention_internal._base_type(p_type, -1) = 'json'
                                       then format('retention_internal._jsonb_of(t.%I::pg_catalog.json)', p_col)
                                       else format('t.%I::pg_catalog.jsonb', p_col) end,
                                  array(select pg_catalog.to_jsonb(x) from unnest(
                                          case when retention_internal._base_type(p_key_type, -1) = 'uuid'
                                               then array[u.u, pg_catalog.upper(u.u), pg_catalog.replace(u.u, '-', ''),
                                                          pg_catalog.upper(pg_catalog.replace(u.u, '-', '')), '{' || u.u || '}',
                                                          '{' || pg_catalog.upper(u.u) || '}']
                                               else array[u.u] end) x)
                                  || case when retention_internal._base_type(p_key_type, -1) in ('smallint', 'integer', 'bigint', 'numeric')
                                          then array[u.u::jsonb] else '{}'::jsonb[] end)
                      from (select coalesce(retention_internal._subject_value(p_key, retention_internal._base_type(p_key_type, -1)), p_key) as u) u
                     where u.u is not null)
              when retention_internal._base_type(p_key_type, -1) = 'uuid'
                   and retention_internal._base_type(p_type, -1) in ('text', 'character varying')
              then (select format('t.%I collate "C" = any (%L::text[])', p_col,
                                  array(select x from unnest(array[u.u, pg_catalog.replace(u.u, '-', ''), '{' || u.u || '}']) f(f)
                                         cross join unnest(array[f.f, pg_catalog.upper(f.f)]) x(x)))
                      from (select retention_internal._subject_value(p_key, 'uuid') as u) u
                     where u.u is not null)
              else retention_internal._key_match_sql(p_col, p_type, p_key) end
$$;
comment on function retention_internal._key_cond_sql(name, oid, oid, text) is
  'Internal. SQL over alias t: the column holds the subject key of the given key type (_key_match_sql; a uuid in a text column in lower or upper case, with or without hyphens, in braces or not).';
