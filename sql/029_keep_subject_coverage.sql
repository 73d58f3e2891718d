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
begin
  if p_old.policy_id is null or p_old.subject_column is null
     or (p_old.target = p_target and p_old.subject_column = p_column) then
    return;
  end if;
  -- A table dropped since has no rows left to cover.
  if not exists (select from pg_catalog.pg_class c where c.oid = p_old.target) then
    return;
  end if;
  if not exists (select from retention_internal._open_holds h where h.scope = 'subject') then
    return;
  end if;
  if exists (select from retention.policies p
              where p.policy_id <> p_old.policy_id and p.target = p_old.target
                and p.subject_column = p_old.subject_column)
     or exists (select from retention.erasure_requests r
                 where r.subject_table = p_old.target
                   and (retention_internal._single_key(p_old.target)).key_column = p_old.subject_column) then
    return;  -- still covered by another policy, or as the key of an erasure subject table
  end if;
  raise exception 'policy %: open subject holds rely on its subject column % of %', p_old.name,
        p_old.subject_column, retention.qualified_name(p_old.target)
    using errcode = 'RT024',
          hint = format('Keep p_subject_column => %L (set_policy declares the whole policy), or release the subject holds first (SELECT * FROM retention.active_holds WHERE scope = ''subject'').', p_old.subject_column);
end
$$;
comment on function retention_internal._keep_subject_coverage(retention.policies, regclass, name) is
  'Internal. Refuses (RT024) a policy change or drop that would stop open subject holds from covering a table''s subject column.';
