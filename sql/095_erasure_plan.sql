-- What an erasure request would do (see _erasure_steps): the steps without their SQL, and
-- for a delete that a foreign key would refuse (or cascade into rows that should stay)
-- the warning process_erasure would stop on (_erasure_conflicts).
create or replace function retention.erasure_plan(p_request bigint)
returns table (
  step        integer,
  depth       integer,
  target      text,
  via         text,
  rule        text,
  rule_source text,
  reason      text,
  scrub       jsonb,
  rows        bigint,
  warning     text
)
language plpgsql
security definer
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_target text;
  v_rows   jsonb;
begin
  -- In a subtransaction rolled back once the plan is read: the planner locks its checks
  -- take (_check_planner_code) do not last to the end of the caller's transaction, which
  -- stopped runs and the application's DDL for as long as it stayed open (round atk130 F3).
  begin
  -- Row counts of tables the login may not read are not its to see (this runs as the owner).
  for v_target in select x.target from retention_internal._erasure_steps(p_request) x loop
    perform retention_internal._check_can_read(v_target::regclass);
  end loop;
  v_rows := (select coalesce(jsonb_agg(to_jsonb(y) order by y.step), '[]') from (
  with s as materialized (select * from retention_internal._erasure_steps(p_request)),
  plan as (
    select s.step, s.depth, s.target, s.via, s.rule, s.rule_source, s.reason, s.scrub, s.rows,
           coalesce(w.warning, n.warning) as warning
      from s
      left join retention_internal._erasure_conflicts((select jsonb_agg(to_jsonb(s)) from s)) w on w.step = s.step
      -- Kept rows whose key to a table the erasure deletes from is ON DELETE SET NULL or SET
      -- DEFAULT: PostgreSQL cuts them loose from the person (round atk46). Not a conflict:
      -- said here, not refused.
      left join lateral (
        select format('kept, but deleting the rows of %s sets the key of these rows to %s (%s, ON DELETE %s): they stay, no longer linked to the person',
                      string_agg(distinct c.confrelid::regclass::text, ', '),
                      case when bool_and(c.confdeltype = 'n') then 'NULL' else 'NULL or its default' end,
                      string_agg(distinct c.conname, ', '),
                      string_agg(distinct case c.confdeltype when 'n' then 'SET NULL' else 'SET DEFAULT' end, '/')) as warning
          from pg_catalog.pg_constraint c
         where s.rule = 'keep' and c.contype = 'f' and c.conrelid = to_regclass(s.target) and c.confdeltype in ('n', 'd')
           and exists (select from s d where d.rule = 'delete' and to_regclass(d.target) = c.confrelid)
        having count(*) > 0) n on true),
  -- Scrub steps whose rows keep the person's text key (an e-mail address) in a key
  -- column, which no scrub can change (_kept_keys): listed for a decision.
  kept as (
    select s.target, format('key column(s) %s keep the person''s key', k.cols) as via, s.rows, k.warning
      from retention_internal._kept_keys((select jsonb_agg(to_jsonb(s)) from s),
             (select r.subject_table from retention.erasure_requests r where r.request_id = p_request),
             (select r.subject_id from retention.erasure_requests r where r.request_id = p_request)) k
      join s on s.step = k.step),
  -- Columns that look like the subject's key but no step covers: listed after the
  -- steps, without a rule, for a decision (an erasure rule's p_subject_column, a
  -- policy's subject column, or a keep rule).
  gaps as (
    select (select max(p.step) from plan p) + (row_number() over (order by l.rel::text, l.col))::int as step,
           null::integer as depth, retention.qualified_name(l.rel) as target,
           format('column %I looks like the subject''s key', l.col) as via, null::text as rule, null::text as rule_source,
           null::text as reason, null::jsonb as scrub, l.rows,
           format('not in the plan: if %s.%I names the person, say so (retention.set_erasure_rule(%L, ''delete'', p_subject_column => %L, p_subject_table => %L), or a keep rule with the legal reason)',
                  retention.qualified_name(l.rel), l.col, retention.qualified_name(l.rel), l.col,
                  retention.qualified_name((select r.subject_table from retention.erasure_requests r where r.request_id = p_request))) as warning
      from retention_internal._subject_lookalikes(p_request,
             array(select s.target::regclass from s
                   union select pg_catalog.pg_partition_root(s.target::regclass) from s
                          where pg_catalog.pg_partition_root(s.target::regclass) is not null)) l),
  -- A policy's subject column whose name no table owns (no <table>_id, no foreign key so
  -- named: _subject_orphans): whose people it names is not known, so no erasure takes
  -- it. Listed for a decision rather than passed over.
  orphans as (
    select (select coalesce(max(g.step), max(p.step)) from plan p left join gaps g on true)
             + (row_number() over (order by o.rel::text, o.col))::int as step,
           null::integer as depth, retention.qualified_name(o.rel) as target,
           format('subject column %I of policy %s', o.col, o.policy) as via, null::text as rule,
           null::text as rule_source, null::text as reason, null::jsonb as scrub, o.rows,
           format('not in the plan: policy %s says %s.%I names people, but no table is named for it (<table>_id) and no foreign key says whose; if it names this person, say so (retention.set_erasure_rule(%L, ''delete'', p_subject_column => %L, p_subject_table => %L), or a keep rule with the legal reason)',
                  o.policy, retention.qualified_name(o.rel), o.col, retention.qualified_name(o.rel), o.col,
                  retention.qualified_name((select r.subject_table from retention.erasure_requests r where r.request_id = p_request))) as warning
      from retention_internal._subject_orphans(p_request,
             array(select s.target::regclass from s
                   union select pg_catalog.pg_partition_root(s.target::regclass) from s
                          where pg_catalog.pg_partition_root(s.target::regclass) is not null)) o
     where not exists (select from gaps g where g.target = retention.qualified_name(o.rel)
                                            and g.via = format('column %I looks like the subject''s key', o.col))),
  -- Rows the person's own row points at (an address, a phone number): about the person
  -- perhaps, but an erasure follows keys to the row, not from it. Listed for a decision.
  refs as (
    select (select coalesce(max(x.step), 0) from (select p.step from plan p union all select g.step from gaps g
                                                  union all select o.step from orphans o) x)
             + (row_number() over (order by r.rel::text, r.via))::int as step,
           null::integer as depth, retention.qualified_name(r.rel) as target, r.via, null::text as rule,
           null::text as rule_source, null::text as reason, null::jsonb as scrub, r.rows,
           format('not in the plan: the person''s row points at these rows; if they are about the person, remove or scrub them once the erasure is done (the erasure does not follow keys from the person''s row)') as warning
      from retention_internal._subject_references(p_request) r
     where not r.rel::text = any (array(select s.target from s))),
  -- Row triggers that fire for what a step does (other than pg-retention's own): one that
  -- copies the row (an audit or history table) writes the person's data out again, in the
  -- erasure's own transaction. Listed for a decision; not refused (most such triggers
  -- keep no personal data, and an audit trail may be kept on purpose).
  trig as (
    select (select coalesce(max(x.step), 0) from (select p.step from plan p union all select g.step from gaps g
                                                  union all select o.step from orphans o
                                                  union all select r.step from refs r) x)
             + (row_number() over (order by s.target, t.tgname))::int as step,
           null::integer as depth, s.target, format('trigger %I', t.tgname) as via, null::text as rule,
           null::text as rule_source, null::text as reason, null::jsonb as scrub, null::bigint as rows,
           format('trigger %I on %s runs %s each row this step %s (function %s): if it copies rows elsewhere (an audit or history table), the erasure writes the person''s data there; scrub or delete it there too, or set an erasure rule for that table',
                  t.tgname, s.target, case when t.tgtype & 2 <> 0 then 'before' else 'after' end,
                  case s.rule when 'delete' then 'deletes' else 'scrubs' end, t.tgfoid::regproc) as warning
      from s
      join pg_catalog.pg_trigger t on t.tgrelid = to_regclass(s.target) and not t.tgisinternal and t.tgenabled <> 'D'
      join pg_catalog.pg_proc f on f.oid = t.tgfoid
     where s.rule in ('delete', 'scrub') and t.tgtype & 1 <> 0
       and t.tgtype & (case s.rule when 'delete' then 8 else 16 end) <> 0
       and not retention_internal._system_namespace(f.pronamespace))
  select * from plan
  union all
  select (select coalesce(max(x.step), 0) from (select p.step from plan p union all select g.step from gaps g
                                                union all select o.step from orphans o union all select r.step from refs r
                                                union all select t.step from trig t) x)
           + (row_number() over (order by k.target))::int,
         null::integer, k.target, k.via, null::text, null::text, null::text, null::jsonb, k.rows, k.warning
    from kept k
  union all
  select * from gaps
  union all
  select * from orphans
  union all
  select * from refs
  union all
  select * from trig) y);
    raise exception using errcode = 'RTREL';
  exception when sqlstate 'RTREL' then
    null;
  end;
  return query
    select y.step, y.depth, y.target, y.via, y.rule, y.rule_source, y.reason, y.scrub, y.rows, y.warning
      from jsonb_to_recordset(v_rows) as y(step integer, depth integer, target text, via text, rule text, rule_source text,
                                           reason text, scrub jsonb, rows bigint, warning text);
end
$$;
comment on function retention.erasure_plan(bigint) is
  'What an erasure request would do, per table reached through the foreign-key graph and subject columns from the subject''s row: depth, foreign key or column, rule (delete, scrub, keep with reason) and where it came from, the rows it concerns now, and a warning where a foreign key would refuse a delete; then, without a rule, columns that look like the subject''s key that no step covers, policies'' subject columns whose name says nobody''s key, scrubbed rows that keep the person''s text key in a key column, rows the subject''s row points at, and row triggers that fire for a step (they may copy the person''s data elsewhere). Read-only.';

-- Columns that look like a request's subject key and that no step of its plan covers:
-- on an ordinary table (a partition: reported for its partitioned table) outside p_targets, of a type that can hold the key
-- (_same_key_type; or text holding an integer key, _text_holds_key), named like a column that references the subject table by a foreign
-- key elsewhere (user_id, author_id), or <table>_id / <table in the singular>_id
-- (users: user_id), or ending in _<such a name> (owner_user_id). Not a table's own
-- primary key, not a column of a foreign key (the graph follows those, or stops at a kept
-- row on purpose). rows: how many hold the key now, when the session's login may read the
-- table (else NULL).
create or replace function retention_internal._subject_lookalikes(p_request bigint, p_targets regclass[])
returns table (rel regclass, col name, rows bigint)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_req   retention.erasure_requests;
  v_key   record;
  v_names text[];
  v_cond  text;
  c       record;
begin
  select * into v_req from retention.erasure_requests r where r.request_id = p_request;
  if v_req.subject_id is null then
    return;
  end if;
  select k.key_column, k.key_type into v_key from retention_internal._single_key(v_req.subject_table) k;
  v_names := retention_internal._subject_key_names(v_req.subject_table);
  -- A partition's column is reported once, for its partitioned table.
  for c in
    select distinct on (1, 2) coalesce(pg_catalog.pg_partition_root(a.attrelid), a.attrelid)::regclass as rel,
           a.attname as col, a.atttypid
      from pg_catalog.pg_attribute a
      join pg_catalog.pg_class k on k.oid = a.attrelid and k.relkind = 'r'
      join pg_catalog.pg_namespace n on n.oid = k.relnamespace
     where a.attnum > 0 and not a.attisdropped
       and n.nspname not in ('pg_catalog', 'information_schema', 'retention', 'retention_internal') and n.nspname !~ '^pg_'
       and a.attrelid <> v_req.subject_table
       and not a.attrelid = any (coalesce(p_targets, '{}'))
       and not coalesce(pg_catalog.pg_partition_root(a.attrelid), a.attrelid) = any (coalesce(p_targets, '{}'))
       and (a.attname = any (v_names) or exists (select from unnest(v_names) x where a.attname like '%\_' || x))
       and a.attname is distinct from (select y.key_column from retention_internal._single_key(a.attrelid) y)
       -- A key column is the graph's business: followed, or stopped at a kept row.
       and not exists (select from pg_catalog.pg_constraint f
                        where f.contype = 'f' and f.conrelid = a.attrelid and a.attnum = any (f.conkey))
       and (retention_internal._same_key_type(a.atttypid, v_key.key_type::regtype::oid)
            or retention_internal._text_holds_key(a.atttypid, v_key.key_type::regtype::oid))
     order by 1, 2
  loop
    rel := c.rel;
    col := c.col;
    rows := null;
    if has_table_privilege(session_user, c.rel, 'SELECT') then
      v_cond := retention_internal._key_cond_sql(c.col, c.atttypid, v_key.key_type::regtype::oid,
                  coalesce(retention_internal._subject_value(v_req.subject_id, v_key.key_type), v_req.subject_id));
      if v_cond is not null then
        execute format('select count(*) from %s t where %s', retention_internal._reach_scan(c.rel), v_cond) into rows;
      end if;
    end if;
    return next;
  end loop;
end
$$;
comment on function retention_internal._subject_lookalikes(bigint, regclass[]) is
  'Internal. Columns outside a request''s plan that look like its subject''s key (named like the keys that reference the subject table, or <table>_id), with how many rows hold the key: erasure_plan lists them for a decision.';

-- Policies' subject columns no name rule ties to any table (not <table>_id of a table
-- anywhere, _table_key_names, nor the name of a foreign key's column: _key_name_elsewhere
-- and _subject_key_names) and no erasure rule names: a policy says they hold people's
-- keys, but not whose. On a table outside p_targets, of the request's key's type
-- (_same_key_type: a text column, an e-mail address, is not listed for an integer key),
-- not the table's own primary key, not a foreign key's column. rows: how many hold the
-- key now, when the session's login may read the table (else NULL). erasure_plan lists them
-- as gaps, so that an erasure does not pass over them in silence.
create or replace function retention_internal._subject_orphans(p_request bigint, p_targets regclass[])
returns table (rel regclass, col name, policy text, rows bigint)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_req  retention.erasure_requests;
  v_key  record;
  v_cond text;
  c      record;
begin
  select * into v_req from retention.erasure_requests r where r.request_id = p_request;
  if v_req.subject_id is null then
    return;
  end if;
  select k.key_column, k.key_type into v_key from retention_internal._single_key(v_req.subject_table) k;
  for c in
    select distinct on (p.target::text, p.subject_column) p.target as rel, p.subject_column as col, p.name, a.atttypid
      from retention.policies p
      join pg_catalog.pg_class k on k.oid = p.target and k.relkind in ('r', 'p')
      join pg_catalog.pg_attribute a on a.attrelid = p.target and a.attname = p.subject_column and a.attnum > 0 and not a.attisdropped
     where p.subject_column is not null
       and not p.target::oid = any (retention_internal._family(v_req.subject_table))
       and not p.target = any (coalesce(p_targets, '{}'))
       and not coalesce(pg_catalog.pg_partition_root(p.target), p.target) = any (coalesce(p_targets, '{}'))
       and p.subject_column is distinct from (select y.key_column from retention_internal._single_key(p.target) y)
       and not exists (select from pg_catalog.pg_constraint f
                        where f.contype = 'f' and f.conrelid = p.target and a.attnum = any (f.conkey))
       and not exists (select from retention.erasure_rules r where r.target = p.target and r.subject_column = p.subject_column)
       and not p.subject_column::text = any (retention_internal._subject_key_names(v_req.subject_table))
       and not retention_internal._key_name_elsewhere(v_req.subject_table, p.subject_column, null)
       -- Of the key's own type: a text column (an e-mail address) is not taken for a
       -- holder of an integer key by its type alone.
       and retention_internal._same_key_type(a.atttypid, v_key.key_type::regtype::oid)
     order by p.target::text, p.subject_column, p.name
  loop
    rel := c.rel;
    col := c.col;
    policy := c.name;
    rows := null;
    if has_table_privilege(session_user, c.rel, 'SELECT') then
      v_cond := retention_internal._key_cond_sql(c.col, c.atttypid, v_key.key_type::regtype::oid,
                  coalesce(retention_internal._subject_value(v_req.subject_id, v_key.key_type), v_req.subject_id));
      if v_cond is not null then
        execute format('select count(*) from %s t where %s', retention_internal._reach_scan(c.rel), v_cond) into rows;
      end if;
    end if;
    return next;
  end loop;
end
$$;
comment on function retention_internal._subject_orphans(bigint, regclass[]) is
  'Internal. Policies'' subject columns outside a request''s plan whose name ties them to no table and that no erasure rule names, with how many rows hold the key: erasure_plan lists them for a decision.';

-- The rows a request's subject row references through its own foreign keys (an address
-- the person's row points at): per key, the referenced table, the key (via) and how many
-- rows it references (NULL when the login may not read that table).
create or replace function retention_internal._subject_references(p_request bigint)
returns table (rel regclass, via text, rows bigint)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_req  retention.erasure_requests;
  v_key  record;
  c      record;
begin
  select * into v_req from retention.erasure_requests r where r.request_id = p_request;
  if v_req.subject_id is null then
    return;
  end if;
  select k.key_column, k.key_type into v_key from retention_internal._single_key(v_req.subject_table) k;
  for c in
    select k.conname, k.confrelid::regclass as ref,
           (select string_agg(format('t.%I', a.attname), ', ' order by u.o)
              from unnest(k.conkey) with ordinality u(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.att) as fk,
           (select string_agg(format('t.%I', a.attname), ', ' order by u.o)
              from unnest(k.confkey) with ordinality u(att, o)
              join pg_catalog.pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.att) as pk
      from pg_catalog.pg_constraint k
     where k.contype = 'f' and k.conrelid = v_req.subject_table and k.confrelid <> v_req.subject_table
     order by k.confrelid::regclass::text, k.conname
  loop
    rel := c.ref;
    via := format('referenced by the person''s row through %s', c.conname);
    rows := null;
    if has_table_privilege(session_user, c.ref, 'SELECT') then
      execute format('select count(*) from %s t where (%s) in (select %s from only %s t where t.%I::%s = %L::%s)',
                     retention_internal._reach_scan(c.ref), c.pk, c.fk, retention.qualified_name(v_req.subject_table),
                     v_key.key_column, v_key.key_type, v_req.subject_id, v_key.key_type)
        into rows;
    end if;
    return next;
  end loop;
end
$$;
comment on function retention_internal._subject_references(bigint) is
  'Internal. The rows a request''s subject row points at through its own foreign keys (per key: table, key, row count): erasure_plan lists them for a decision.';
