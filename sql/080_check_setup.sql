-- Setup checks for DBAs: what would make purges slow or fail, and policies that are
-- declared but not enforced (disabled, or never run).
create or replace function retention.check_setup()
returns table (policy text, problem text, fix text)
language plpgsql
stable
as $$
declare
  p retention.policies;
  v_tbl text;
  v_priv text;
begin
  for p in select * from retention.policies order by name loop
    v_tbl := retention._qualified_name(p.target);
    policy := p.name;
    if v_tbl is null then
      problem := 'the policy''s table no longer exists';
      fix := format('SELECT retention.drop_policy(%L);', p.name);
      return next; continue;
    end if;
    if retention._column_type(p.target, p.age_column) is null then
      problem := format('column %s no longer exists', p.age_column);
      fix := format('SELECT retention.drop_policy(%L); -- or set_policy with the new column', p.name);
      return next; continue;
    end if;
    if not exists (
      select from pg_catalog.pg_index i
       where i.indrelid = p.target and i.indisvalid
         and i.indkey[0] = (select attnum from pg_catalog.pg_attribute
                             where attrelid = p.target and attname = p.age_column)) then
      problem := format('no index leads with the age column %s: every batch scans the table', p.age_column);
      fix := format('CREATE INDEX CONCURRENTLY ON %s (%I)%s;', v_tbl, p.age_column,
                    case when p.action = 'soft_delete' then format(' WHERE %I IS NULL', p.deleted_at_column) else '' end);
      return next;
    end if;
    -- DELETE (or UPDATE for soft_delete) to act; SELECT to find rows; and because batches
    -- lock rows with FOR UPDATE SKIP LOCKED, PostgreSQL also asks for UPDATE on at least
    -- one column: the age column is granted for that (it is never written).
    v_priv := case when p.action = 'soft_delete'
                   then format('SELECT, UPDATE (%I, %I)', p.age_column, p.deleted_at_column)
                   else format('SELECT, DELETE, UPDATE (%I)', p.age_column) end;
    if not has_table_privilege('retention_runner', p.target, 'SELECT')
       or not has_column_privilege('retention_runner', p.target, p.age_column, 'UPDATE')
       or (p.action = 'soft_delete' and not has_column_privilege('retention_runner', p.target, p.deleted_at_column, 'UPDATE'))
       or (p.action <> 'soft_delete' and not has_table_privilege('retention_runner', p.target, 'DELETE')) then
      problem := format('role retention_runner lacks privileges on %s', v_tbl);
      fix := format('GRANT %s ON %s TO retention_runner;', v_priv, v_tbl);
      return next;
    end if;
    if not p.enabled then
      problem := 'policy is disabled';
      fix := format('SELECT retention.set_policy(...) for %L with p_enabled => true, or drop it', p.name);
      return next;
    elsif not exists (select from retention.runs r where r.policy_id = p.policy_id) then
      problem := 'policy has never run';
      fix := format('CALL retention.run(%L, p_dry_run => true); -- then without p_dry_run', p.name);
      return next;
    end if;
  end loop;
end
$$;
comment on function retention.check_setup() is
  'Lists setup problems per policy with the statement that fixes each: missing age-column index, missing runner privileges, dropped tables or columns, disabled or never-run policies.';
