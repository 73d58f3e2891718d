-- Up Migration
-- retention_requester: for the application (its privacy form, its support tooling) to file
-- erasure requests and follow their deadlines, and nothing else: no policies, no holds, no
-- processing. Routine grants are in sql/990_grants.sql. request_erasure checks that the
-- subject exists, so the requester also needs SELECT on the subject tables (granted by
-- the DBA per table, like the runner's grants).

do $$
begin
  if not exists (select from pg_roles where rolname = 'retention_requester') then
    create role retention_requester nologin;
  end if;
end
$$;
grant usage on schema retention to retention_requester;
grant retention_requester to retention_admin;
grant select, insert on retention.erasure_requests to retention_requester;

-- Down Migration
revoke all on retention.erasure_requests from retention_requester;
revoke usage on schema retention from retention_requester;
