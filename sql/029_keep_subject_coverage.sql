-- A subject hold covers the rows of a table through its subject columns (_subject_columns),
-- which come from policies. Changing or dropping a policy could quietly take a column away
-- and with it a hold's protection ("only meant to shorten the period" with set_policy's
-- declarative arguments). So while any subject hold is open, a change that would leave
-- the old table and column covered by nothing else is refused (RT024).
create or replace function retention_internal._keep_subject_coverage(
  p_old      retention.policies,
  p_target   regclass,
  p_column   name
)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_gone boolean;
  v_fam  oid[];
begin
  if p_old.policy_id is null or p_old.subject_column is null
     or (p_old.target = p_target and p_old.subject_column = p_column) then
    return;
  end if;
  v_gone := not exists (select from pg_catalog.pg_class c where c.oid = p_old.target);
  -- A table dropped since has no rows left to cover, unless the column is declared for the
  -- tables that were above it (subject_family: its siblings' rows), and one of those is left.
  if v_gone and not exists (select from pg_catalog.pg_class c where c.oid = any (p_old.subject_family)) then
    return;
  end if;
  if not exists (select from retention_internal._open_holds h where h.scope = 'subject') then
    return;
  end if;
  if v_gone then
    v_fam := retention_internal._hold_family((select c.oid from pg_catalog.pg_class c
                                               where c.oid = any (p_old.subject_family) order by c.oid limit 1)::regclass);
    -- A column no table of the family has any more covers nothing (runs there fail with
    -- RT002 until it is declared under its new name): the policy may go.
    if not exists (select from pg_catalog.pg_attribute a
                    where a.attrelid = any (v_fam) and a.attname = p_old.subject_column and a.attnum > 0 and not a.attisdropped) then
      return;
    end if;
    if exists (select from retention.policies p
                where p.policy_id <> p_old.policy_id and p.subject_column = p_old.subject_column
                  and (p.target = any (v_fam) or p.subject_family operator(pg_catalog.&&) v_fam))
       or exists (select from retention.erasure_rules r
                   where r.subject_column = p_old.subject_column
                     and (r.target = any (v_fam) or r.subject_family operator(pg_catalog.&&) v_fam)) then
      return;  -- the family is still covered by another policy or rule
    end if;
  elsif exists (select from retention.policies p
                 where p.policy_id <> p_old.policy_id and p.target = p_old.target
                   and p.subject_column = p_old.subject_column)
     or exists (select from retention.erasure_requests r
                 where r.subject_table = p_old.target
                   and (retention_internal._single_key(p_old.target)).key_column = p_old.subject_column) then
    return;  -- still covered by another policy, or as the key of an erasure subject table
  end if;
  if v_gone then
    raise exception 'policy %: open subject holds rely on its subject column % in the tables that were above its dropped table (%)',
          p_old.name, p_old.subject_column,
          (select string_agg(retention.qualified_name(c.oid::regclass), ', ' order by c.oid)
             from pg_catalog.pg_class c where c.oid = any (p_old.subject_family))
      using errcode = 'RT024',
            hint = format('Declare %L as a subject column on the partitioned (or parent) table first (a policy''s p_subject_column, or retention.set_erasure_rule), or release the subject holds first (SELECT * FROM retention.active_holds WHERE scope = ''subject'').', p_old.subject_column);
  end if;
  raise exception 'policy %: open subject holds rely on its subject column % of %', p_old.name,
        p_old.subject_column, retention.qualified_name(p_old.target)
    using errcode = 'RT024',
          hint = format('Keep p_subject_column => %L (set_policy declares the whole policy), or release the subject holds first (SELECT * FROM retention.active_holds WHERE scope = ''subject'').', p_old.subject_column);
end
$$;
comment on function retention_internal._keep_subject_coverage(retention.policies, regclass, name) is
  'Internal. Refuses (RT024) a policy change or drop that would stop open subject holds from covering a table''s subject column.';
