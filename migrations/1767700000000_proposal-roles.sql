-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1767700000000_proposal-roles') then
    raise exception 'migration 1767700000000_proposal-roles is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;

-- Four eyes compared the proposer's and the approver's login names: a login renamed since
-- it proposed approved its own proposal, and so did a login that could SET ROLE to the
-- proposer's (round atk120 F1). The proposer's role is recorded by OID, and a decision
-- is refused to the same role and to roles either is a member of.
alter table retention.proposals add column proposed_role oid;
update retention.proposals p set proposed_role = r.oid from pg_catalog.pg_roles r where r.rolname = p.proposed_login;
comment on column retention.proposals.proposed_role is
  'The role (OID) of the login that proposed it: no decision by that role, by a role it is a member of, or by one that is a member of it (four eyes).';

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
