-- Marks this transaction as a plan: changes made in it can be looked at (previews count
-- with them) but never committed — the commit fails with RT027 and everything rolls
-- back — and the audit log, which it never reaches, is not locked meanwhile (so holds
-- can be placed and runs can end while a plan counts). pg-retention plan uses it.
create or replace function retention.begin_plan()
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  insert into retention.plan_marks (xid) values (pg_current_xact_id()) on conflict (xid) do nothing;
end
$$;
comment on function retention.begin_plan() is
  'Marks the current transaction as a plan: its changes can be previewed but never committed (RT027 at commit), and it appends nothing to the audit log, so it holds no lock on it.';

create or replace function retention_internal._in_plan()
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$ select exists (select from retention.plan_marks m where m.xid = pg_catalog.pg_current_xact_id_if_assigned()) $$;
comment on function retention_internal._in_plan() is
  'Internal. Whether begin_plan marked the current transaction.';

create or replace function retention_internal._refuse_plan_commit()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  raise exception 'a plan cannot be committed: retention.begin_plan() marked this transaction'
    using errcode = 'RT027', hint = 'Roll it back; apply the changes in a transaction of their own (pg-retention apply).';
end
$$;
comment on function retention_internal._refuse_plan_commit() is
  'Internal. Deferred constraint trigger function: a transaction begin_plan marked fails at commit.';

do $$ begin
  if not exists (select from pg_catalog.pg_trigger where tgname = 'plan_marks_never_commit'
                   and tgrelid = 'retention.plan_marks'::regclass) then
    create constraint trigger plan_marks_never_commit after insert on retention.plan_marks
      deferrable initially deferred for each row execute function retention_internal._refuse_plan_commit();
  end if;
end $$;
