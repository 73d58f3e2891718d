-- What keeps an erasure from completing: the first step of its plan (p_plan, _erasure_steps
-- as jsonb) with rows the one hold rule (_held_sql) holds — the subject's own rows under a
-- subject hold, rows of a table under a table hold, another person's rows under their
-- subject hold, or rows a delete would cascade into that are held — with the number of
-- such rows and the hold to name: one on the request's subject or on that table when
-- there is one (hold_id NULL otherwise). No row when nothing is held.
create or replace function retention_internal._erasure_hold(p_plan jsonb, p_subject_table regclass, p_subject_id text)
returns table (hold_id bigint, reason text, target text, held bigint)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  s      record;
  v_type text := (select k.key_type from retention_internal._single_key(p_subject_table) k);
begin
  -- Deepest first: the held rows themselves before the rows whose delete would reach them.
  for s in select * from jsonb_to_recordset(p_plan) as x(step int, depth int, target text, rule text, cond text, scrub jsonb)
            where x.rule <> 'keep' order by x.depth desc nulls last, x.step loop
    execute format('select count(*) from only %s t where (%s) and %s', s.target, s.cond,
                   retention_internal._held_sql(s.target::regclass, 't', null, s.rule = 'delete',
                                       p_changes => array(select k::name from jsonb_object_keys(coalesce(s.scrub, '{}')) k)))
      into held;
    continue when held = 0;
    target := s.target;
    select h.hold_id, format('legal hold %s (%s): %s', h.hold_id, h.scope, h.reason)
      into hold_id, reason
      from retention_internal._open_holds h
     where (h.scope = 'subject'
            and retention_internal._subject_value(h.subject_id, v_type) = retention_internal._subject_value(p_subject_id, v_type))
        or (h.scope = 'table' and h.held_oids && retention_internal._hold_ancestors(s.target::regclass))
     order by h.scope = 'subject' desc, h.hold_id
     limit 1;
    if hold_id is null then
      reason := format('legal holds cover %s row(s) of %s (another person''s rows, or rows a delete would cascade into)',
                       held, s.target);
    end if;
    return next;
    return;
  end loop;
end
$$;
comment on function retention_internal._erasure_hold(jsonb, regclass, text) is
  'Internal. The first step of an erasure plan with held rows (by _held_sql), their count and the hold to name, or no row.';
