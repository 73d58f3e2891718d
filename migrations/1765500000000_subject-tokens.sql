-- Up Migration
-- Not for psql -f: run pg-retention migrate. Run by hand on a database that has this
-- migration already, the guard below fails inside one transaction, so nothing in this
-- file happens (under migrate the BEGIN only warns: the migration is one transaction).
begin;
do $$ begin
  if to_regclass('retention.schema_migrations') is not null
     and exists (select from retention.schema_migrations where name = '1765500000000_subject-tokens') then
    raise exception 'migration 1765500000000_subject-tokens is already applied'
      using hint = 'Run pg-retention migrate; it applies what is missing and re-applies sql/.';
  end if;
end $$;
-- Subject tokens: the audit log (kept for good) and the notifications name a data subject
-- or a row key by a random token, never by the value. This table is the only link from a
-- token back to its value; the erasure of the subject deletes the link, after which the
-- token names nobody. Readable by those who may read the holds (admins, auditors).
create table retention.subject_tokens (
  subject    text primary key,
  token      text not null unique check (token ~ '^subj_[0-9a-f]{32}$'),
  created_at timestamptz not null default clock_timestamp()
);
comment on table retention.subject_tokens is
  'The link from a subject id or row key to the random token the audit log and notifications use instead An erasure deletes its subject''s link: the token then names nobody. Admins and auditors may read it, as they may read the holds.';
comment on column retention.subject_tokens.subject is 'What the token names: ''subject:<id>'' (a request''s subject as its key column reads it, a subject hold''s id as given) or ''<schema.table>:<key>'' (an exempted row).';
comment on column retention.subject_tokens.token is '''subj_'' and 32 random hex digits.';

-- A subject hold keeps its id while it can be in force; once its subject is erased, a
-- released hold keeps only the token its audit entries name.
alter table retention.legal_holds add column subject_token text;
comment on column retention.legal_holds.subject_token is 'The token the audit log names this hold''s subject by; after the subject''s erasure the only trace of it (subject_id is then NULL).';
alter table retention.legal_holds drop constraint legal_holds_check2;
alter table retention.legal_holds add constraint legal_holds_subject_check
  check (case when scope = 'subject' then coalesce(subject_id, subject_token) is not null
              else subject_id is null and subject_token is null end);

-- Why an exemption was revoked (the audit entry names the row by token only).
alter table retention.row_exemptions add column revoke_reason text;
comment on column retention.row_exemptions.revoke_reason is 'Why the exemption was revoked (revoke_exemption''s reason).';

-- Flags closed because their row's subject was erased.
alter table retention.flagged_rows drop constraint flagged_rows_status_check;
alter table retention.flagged_rows add constraint flagged_rows_status_check
  check (status in ('flagged', 'cancelled', 'exempted', 'acted', 'erased'));

-- Down Migration
-- pg-retention does not migrate down: the schema holds the audit log and the ledger. A
-- DBA who runs this file with psql -f on an installed database gets errors from the Up
-- section (everything exists) and nothing dropped.
do $$ begin
  raise exception 'pg-retention does not migrate down'
    using hint = 'Restore a backup taken before the upgrade; a live retention schema only moves forward.';
end $$;
