-- The holds lock. Every purge batch takes it shared for its transaction; placing a hold
-- takes it exclusively. So a hold waits for the batches in flight to commit, and every
-- batch that starts later reads the hold in the same statement that deletes.
create or replace function retention._lock_holds_shared()
returns void
language sql
as $$ select pg_advisory_xact_lock_shared(20250101, 1) $$;
comment on function retention._lock_holds_shared() is
  'Internal. Taken by each purge batch: serialises batches with place_hold.';

create or replace function retention._lock_holds_exclusive()
returns void
language sql
as $$ select pg_advisory_xact_lock(20250101, 1) $$;
comment on function retention._lock_holds_exclusive() is
  'Internal. Taken by place_hold: waits for in-flight batches to commit.';
