-- The order an erasure plan's steps run in: rows that reference others before the rows
-- they reference, across the whole plan — not only by depth, since two tables at one depth
-- may reference each other (orders referencing notes, both of the subject). A step's level
-- is 0 when no other table of the plan references it, else one more than the highest
-- level of those that do; steps run by level (then depth, deepest first). Cycles among
-- plan tables are cut after as many rounds as there are steps. p_plan: _erasure_steps as
-- jsonb; the result is the same array in running order.
create or replace function retention_internal._erasure_order(p_plan jsonb)
returns jsonb
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_level  jsonb := '{}';
  v_n      int := jsonb_array_length(coalesce(p_plan, '[]'));
  v_changed boolean := true;
  v_round  int := 0;
  e        record;
  v_new    int;
begin
  for e in select x->>'target' as target from jsonb_array_elements(coalesce(p_plan, '[]')) x loop
    v_level := v_level || jsonb_build_object(e.target, 0);
  end loop;
  while v_changed and v_round < v_n loop
    v_changed := false;
    v_round := v_round + 1;
    for e in
      select t.x->>'target' as target,
             coalesce(max((v_level ->> (r.x->>'target'))::int) + 1, 0) as lvl
        from jsonb_array_elements(p_plan) t(x)
        left join jsonb_array_elements(p_plan) r(x)
          on r.x->>'target' <> t.x->>'target'
         and exists (select from pg_catalog.pg_constraint c
                      where c.contype = 'f' and c.conrelid = (r.x->>'target')::regclass
                        and c.confrelid = any (retention_internal._rel_and_ancestors((t.x->>'target')::regclass)))
       group by t.x->>'target'
    loop
      v_new := e.lvl;
      if v_new > (v_level ->> e.target)::int then
        v_level := v_level || jsonb_build_object(e.target, v_new);
        v_changed := true;
      end if;
    end loop;
  end loop;
  return (select jsonb_agg(x order by (v_level ->> (x->>'target'))::int, (x->>'depth')::int desc, (x->>'step')::int desc)
            from jsonb_array_elements(coalesce(p_plan, '[]')) x);
end
$$;
comment on function retention_internal._erasure_order(jsonb) is
  'Internal. An erasure plan''s steps in running order: every table after the plan tables that reference it.';
