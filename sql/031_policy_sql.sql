-- The SQL fragments that define which rows of a policy's table are eligible and which of
-- those are held, built in this one place for preview, dry runs and live batches alike.
-- Conventions of the statements built from them: alias t for the target table and the
-- bind parameters $1 cutoff, $2 as_of, $3 policy name, $4 target oid (the hold condition
-- takes none: it is judged at now(), with the table and policy spelt out).
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
                              p_changes => case p_policy.action
                                when 'scrub' then array(select k::name from jsonb_object_keys(p_policy.scrub_columns) k)
                                                  || p_policy.scrubbed_at_column
                                when 'soft_delete' then array[p_policy.deleted_at_column] end);
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
