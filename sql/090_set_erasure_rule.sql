-- Says what an erasure does to the subject's rows in one table: 'delete' them, 'scrub'
-- columns (a scrub map as for scrub policies), or 'keep' them for a stated legal reason
-- (e.g. 'Invoices: 10 years, German Commercial Code § 257'). p_table NULL sets the default
-- for tables no rule names ('delete' or 'keep'). Audit-logged.
create or replace function retention.set_erasure_rule(
  p_table  text,
  p_rule   text,
  p_scrub  jsonb default null,
  p_reason text default null
)
returns retention.erasure_rules
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'
as $$
declare
  v_target regclass;
  v_scrub  jsonb;
  v_row    retention.erasure_rules;
begin
  perform retention._routine_write();  -- audited below, not as a direct write
  if p_table is not null then
    v_target := retention._resolve_table(p_table,
      'Give an existing table, schema-qualified, or NULL for the default rule.');
    perform retention._check_can_read(v_target);
  end if;
  if p_rule is null or p_rule not in ('delete', 'scrub', 'keep') then
    raise exception 'unknown erasure rule %', coalesce(quote_literal(p_rule), 'NULL')
      using errcode = 'RT020', hint = 'Rules: delete, scrub (with p_scrub), keep (with p_reason, the legal ground).';
  end if;
  if p_rule = 'keep' and (p_reason is null or btrim(p_reason) = '') then
    raise exception 'a keep rule needs the legal reason'
      using errcode = 'RT020', hint = 'E.g. p_reason => ''Invoices: 10 years, German Commercial Code § 257''.';
  end if;
  if p_rule = 'scrub' then
    if v_target is null then
      raise exception 'the default rule cannot scrub: columns differ per table'
        using errcode = 'RT020', hint = 'Give the default as delete or keep, and scrub rules per table.';
    end if;
    v_scrub := retention._validate_scrub(v_target, p_scrub, null, null);
  elsif p_scrub is not null then
    raise exception 'p_scrub is only used by the scrub rule'
      using errcode = 'RT020', hint = 'Leave it NULL for delete and keep.';
  end if;

  delete from retention.erasure_rules r where r.target is not distinct from v_target;
  insert into retention.erasure_rules (target, rule, scrub_columns, reason, updated_by)
  values (v_target, p_rule, v_scrub, nullif(btrim(p_reason), ''), retention._actor())
  returning * into v_row;
  perform retention._append_audit('erasure_rule.set', 'erasure_rule',
    coalesce(retention.qualified_name(v_target), '(default)'),
    jsonb_strip_nulls(jsonb_build_object('rule', p_rule, 'scrub', v_scrub, 'reason', v_row.reason)));
  return v_row;
end
$$;
comment on function retention.set_erasure_rule(text, text, jsonb, text) is
  'Sets what an erasure does to a table''s rows of the subject: delete, scrub (columns) or keep (with the legal reason); NULL table = the default for tables no rule names. Audit-logged.';
