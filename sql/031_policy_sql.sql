-- The SQL fragments that define which rows of a policy's table are eligible and which of
-- those are held, built in this one place for preview, dry runs and live batches alike.
-- Conventions of the statements built from them: alias t for the target table and the
-- bind parameters $1 cutoff, $2 as_of, $3 policy name, $4 target oid (the hold condition
-- takes none: it is judged at now(), with the table and policy spelt out).
-- A stored predicate runs as the retention owner in every statement built from it, and
-- what its names resolve to may have changed since it was saved: each time it is used, the
-- schemas it names (it is PostgreSQL's deparsed text: outside pg_catalog every function,
-- operator and type is written schema-qualified) are checked again. A function or operator
-- of a schema that is not trusted any more, or no longer only the owner's
-- (_schema_untrusted), stops the statement (RT025); so does a type of an untrusted schema
-- that is not an enum (a domain of another role's would run its check). Round atk77 F1.
create or replace function retention_internal._check_predicate_code(p_policy retention.policies)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_text text;
  r      record;
  v_why  text;
begin
  -- The policy's own predicate, as stored (a run's carries the conditions pg-retention adds
  -- for an approved run's rows after it; a run stops when the stored one changes).
  select p.predicate into v_text from retention.policies p where p.policy_id = p_policy.policy_id;
  if not found then
    v_text := p_policy.predicate;
  end if;
  if v_text is null then
    return;
  end if;
  -- String constants out first (their text cannot name anything).
  v_text := pg_catalog.regexp_replace(v_text, $re$'(?:[^']|'')*'$re$, '''''', 'g');
  -- The table's columns it names: a built-in that derives its result type from a column
  -- (json_populate_record(col, …)) writes a value of the column's type, and a column
  -- retyped to the application's composite with a domain field runs that domain's check
  -- as the owner (round atk80 F2).
  select pg_catalog.format('column %s is of type %s: %s', a.attname, a.atttypid::regtype, w.why) into v_why
    from pg_catalog.pg_attribute a
    join pg_catalog.pg_class k on k.oid = a.attrelid
    -- (And a range type whose subtype_diff is another role's: the planner's rangesel
    -- calls it to estimate the predicate; round atk105 F2.)
    cross join lateral (select coalesce(retention_internal._type_code(a.atttypid, k.relowner),
                                        retention_internal._range_code(a.atttypid, k.relowner)) as why) w
   where a.attrelid = p_policy.target and a.attnum > 0 and not a.attisdropped and a.atttypid >= 16384
     and v_text ~ ('(^|[^A-Za-z0-9_$])' || pg_catalog.regexp_replace(pg_catalog.quote_ident(a.attname), '([.*+?^${}()|\[\]\\])', '\\\1', 'g') || '($|[^A-Za-z0-9_$])')
     and w.why is not null
   limit 1;
  if v_why is not null then
    raise exception 'policy %: its predicate would run code as the retention owner that is not the owner''s: %', p_policy.name, v_why
      using errcode = 'RT025',
            hint = 'Have the retention owner (or a superuser) own the function, or set the predicate anew without that column.';
  end if;
  if v_text !~ '[A-Za-z_"][A-Za-z0-9_$"]*\.' then
    return;  -- nothing qualified: pg_catalog's alone
  end if;
  for r in
    select m[1] as before, m[2] as nsp, m[3] as obj
      from pg_catalog.regexp_matches(v_text,
             '(::|COLLATE |OPERATOR\(|[^A-Za-z0-9_$".]|^)("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\.("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*|[^A-Za-z0-9_$" (]+)', 'g') m
  loop
    -- pg_catalog's; pg-retention's own, which only the conditions it adds name (an approved
    -- run's rows: retention_internal.row_hash_key), never a predicate (the checker that
    -- parses predicates may not use those schemas).
    continue when pg_catalog.to_regnamespace(r.nsp) is null
               or pg_catalog.to_regnamespace(r.nsp) in ('pg_catalog'::regnamespace, 'retention'::regnamespace, 'retention_internal'::regnamespace);
    if r.before = 'COLLATE ' then
      continue;  -- a collation runs no code
    end if;
    if r.before = '::' and not exists (select from retention.trusted_schemas s where s.schema_name = (select n.nspname from pg_catalog.pg_namespace n where n.oid = pg_catalog.to_regnamespace(r.nsp))) then
      -- A type of the application's (an enum column's, compared to a constant).
      continue when exists (select from pg_catalog.pg_type t
                             where t.oid = pg_catalog.to_regtype(r.nsp || '.' || r.obj)
                               and (t.typtype = 'e' or (t.typelem <> 0 and exists (select from pg_catalog.pg_type e where e.oid = t.typelem and e.typtype = 'e'))));
      v_why := format('type %s.%s is no built-in type, enum or type of a trusted schema', r.nsp, r.obj);
    elsif not exists (select from retention.trusted_schemas s
                       where s.schema_name = (select n.nspname from pg_catalog.pg_namespace n where n.oid = pg_catalog.to_regnamespace(r.nsp))) then
      v_why := format('schema %s is not trusted (any more)', r.nsp);
    else
      v_why := retention_internal._schema_untrusted(pg_catalog.to_regnamespace(r.nsp)::oid);
      if v_why is not null then
        v_why := format('schema %s cannot be trusted: %s', r.nsp, v_why);
      end if;
    end if;
    if v_why is not null then
      raise exception 'policy %: its predicate would run code as the retention owner that is not the owner''s: %', p_policy.name, v_why
        using errcode = 'RT025',
              hint = 'A predicate may call functions of pg_catalog and of trusted schemas that are the retention owner''s alone (retention.trust_schema says what that takes); set the policy''s predicate again, or have the owner take the schema over.';
    end if;
  end loop;
end
$$;
comment on function retention_internal._check_predicate_code(retention.policies) is
  'Internal. RT025 when a policy''s stored predicate names a function, operator or type that would run code as the retention owner that is not the owner''s: a schema no longer trusted, or not the owner''s alone, or an untrusted schema''s type that is not an enum.';
revoke all on function retention_internal._check_predicate_code(retention.policies) from public;

-- The columns a policy's statements write, checked each time a batch's statement is built
-- (_batch_sql):
-- a time stamped into a soft-delete or scrub marker (clock_timestamp()::<type>) and a scrub's
-- value (('sha256:' || …)::<type>, '{}'::<type>, a constant) are cast into the column's
-- type, so a column retyped since the policy was saved to a type of the application's with
-- a cast into it ran that cast's function as the retention owner (round atk77 F2, F3). A
-- marker must be a timestamp, timestamptz or date column, a sha256 scrub a text one, an
-- empty_json scrub a json one (through domains: RT019 otherwise), and no domain check on
-- the way may be another role's code (_type_code: RT025).
create or replace function retention_internal._check_written_code(p_policy retention.policies)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  r     record;
  v_why text;
begin
  for r in
    select w.col, w.kind, a.atttypid, k.relowner,
           (with recursive d(oid, depth) as (
              select a.atttypid, 0
              union all
              select t.typbasetype, d.depth + 1 from d join pg_catalog.pg_type t on t.oid = d.oid
               where t.typtype = 'd' and d.depth < 1000)
            select d.oid from d order by d.depth desc limit 1) as base
      from (select p_policy.deleted_at_column as col, 'marker' as kind where p_policy.action = 'soft_delete'
            union all
            select p_policy.scrubbed_at_column, 'marker' where p_policy.action = 'scrub'
            union all
            select e.key, case when jsonb_typeof(e.value) = 'object' then 'constant' else e.value #>> '{}' end
              from jsonb_each(case when p_policy.action = 'scrub' then p_policy.scrub_columns end) e) w
      join pg_catalog.pg_attribute a on a.attrelid = p_policy.target and a.attname = w.col and a.attnum > 0 and not a.attisdropped
      join pg_catalog.pg_class k on k.oid = p_policy.target
     where w.col is not null
  loop
    if r.kind = 'marker' and r.base not in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) then
      raise exception '%: column % of % is % now, not a timestamp: pg-retention stamps the time there',
            coalesce('policy ' || p_policy.name, 'erasure step'), quote_ident(r.col), p_policy.target, format_type(r.atttypid, null)
        using errcode = 'RT001', hint = 'Give the marker column a timestamptz (or timestamp or date) type again, or change the policy.';
    elsif r.kind = 'sha256' and r.base not in ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)
          and format_type(r.base, null) <> 'citext' then
      raise exception '%: column % of % is % now: it cannot hold a sha256 digest',
            coalesce('policy ' || p_policy.name, 'erasure step'), quote_ident(r.col), p_policy.target, format_type(r.atttypid, null)
        using errcode = 'RT019', hint = 'sha256 writes into a text column; scrub this one to null or a constant, or give it a text type again.';
    elsif r.kind = 'empty_json' and r.base not in ('json'::regtype, 'jsonb'::regtype) then
      raise exception '%: column % of % is % now, not json or jsonb',
            coalesce('policy ' || p_policy.name, 'erasure step'), quote_ident(r.col), p_policy.target, format_type(r.atttypid, null)
        using errcode = 'RT019', hint = 'empty_json is for json and jsonb columns.';
    end if;
    -- A domain another role owns is refused whatever its checks are now: its owner may add
    -- one (NOT VALID takes no lock a batch holds) between this check and the write, which
    -- runs it as the owner (round atk103).
    v_why := coalesce(retention_internal._untrusted_domain(r.atttypid), retention_internal._type_code(r.atttypid, r.relowner));
    if v_why is not null then
      raise exception '%: writing column % of % would run %: pg-retention would run it with the retention owner''s rights',
            coalesce('policy ' || p_policy.name, 'erasure step'), quote_ident(r.col), p_policy.target, v_why
        using errcode = 'RT025', hint = 'Have the retention owner (or a superuser) own the function or domain (ALTER DOMAIN ... OWNER TO), or write the column no more.';
    end if;
  end loop;
end
$$;
comment on function retention_internal._check_written_code(retention.policies) is
  'Internal. RT001/RT019 when a column a policy''s statements write (a soft-delete or scrub marker, a scrubbed column) no longer has a type they write, RT025 when it is of a domain another role owns or writing it would run another role''s domain check as the owner.';
revoke all on function retention_internal._check_written_code(retention.policies) from public;

create or replace function retention_internal._policy_sql(
  p_policy retention.policies,
  p_cond   text default null,
  out tbl text,
  out age_expr text,
  out eligible text,
  out held text
)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_age_type text := format_type(retention_internal._column_type(p_policy.target, p_policy.age_column), null);
begin
  if p_cond is not null then
    -- A work condition instead of a policy's eligibility (an erasure step: the rows its plan
    -- found, SQL over alias t built by _erasure_steps): no age, no keyset, no policy hold.
    tbl := retention.qualified_name(p_policy.target);
    perform retention_internal._check_planner_code(p_policy.target);
    eligible := '(' || p_cond || ')';
    if p_policy.action = 'scrub' then
      eligible := eligible || format(' and not (%s)', (retention_internal._scrub_sql(p_policy)).scrubbed);
    end if;
    held := retention_internal._held_sql(p_policy.target, 't', null, p_policy.action = 'delete',
                                p_changes => array(select k::name from jsonb_object_keys(coalesce(p_policy.scrub_columns, '{}')) k));
    return;
  end if;
  tbl := retention.qualified_name(p_policy.target);
  if tbl is null or v_age_type is null then
    raise exception 'policy %: table or column % no longer exists', p_policy.name, p_policy.age_column
      using errcode = 'RT001', hint = 'The table was dropped or altered after the policy was saved: fix or drop the policy.';
  end if;
  -- Every statement built from these fragments is planned as the owner (round atk73 F2).
  perform retention_internal._check_planner_code(p_policy.target);
  age_expr := format('t.%I', p_policy.age_column);
  -- A timestamp or date column is compared on its own wall clock, in the policy's zones
  -- (_cutoff_sql), never in the session's.
  eligible := format('%s < %s', age_expr, retention_internal._cutoff_sql(p_policy, '$1'));
  if p_policy.action = 'soft_delete' then
    eligible := eligible || format(' and t.%I is null', p_policy.deleted_at_column);
  elsif p_policy.action = 'scrub' then
    -- Rows already scrubbed are not eligible again: the marker says so when there is one,
    -- else every scrubbed column already holds its scrubbed value.
    eligible := eligible || case when p_policy.scrubbed_at_column is not null
                                 then format(' and t.%I is null', p_policy.scrubbed_at_column)
                                 else format(' and not (%s)', (retention_internal._scrub_sql(p_policy)).scrubbed) end;
  end if;
  if p_policy.predicate is not null then
    perform retention_internal._check_predicate_code(p_policy);
    eligible := eligible || format(' and (%s)', p_policy.predicate);
  end if;
  if p_policy.notice_period is not null then
    -- Only rows flagged (and announced) at least the notice period ago, unchanged since
    -- and not exempted; _flag_rows flags them. Without the period, eligible as above.
    select eligible || format(' and %s and not %s', n.due, n.exempted) into eligible
      from retention_internal._notice_sql(p_policy) n;
  end if;
  -- Held: _held_sql, the one rule. A delete removes the row (so what its foreign keys
  -- cascade into counts); soft-delete and scrub change columns in place (so what those
  -- columns' ON UPDATE actions reach counts), and a scrub deletes the rows of its revoke
  -- tables that reference it, so those (and what they reach) count.
  held := retention_internal._held_sql(p_policy.target, 't', p_policy.name,
                              p_policy.action in ('delete', 'purge_soft_deleted', 'drop_partitions'),
                              p_changes => retention_internal._changed_columns(p_policy));
  if p_policy.action = 'scrub' and cardinality(p_policy.revoke_tables) > 0 then
    select format('(%s or (exists (select from retention_internal._open_holds) and (%s)))', held,
                  string_agg(retention_internal._held_refs_sql(c.oid, 't', 1, array[p_policy.target::oid], 'remove'), ' or ' order by c.conname))
      into held
      from unnest(p_policy.revoke_tables) x(rel)
      join pg_catalog.pg_constraint c on c.contype = 'f' and c.conrelid = x.rel and c.confrelid = p_policy.target;
  end if;
end
$$;
comment on function retention_internal._policy_sql(retention.policies, text) is
  'Internal. Eligibility and hold conditions of a policy (or of a work condition p_cond: an erasure step) as SQL over alias t with $1 cutoff, $2 as_of, $3 policy name, $4 target oid; age_expr is NULL for a work condition.';
