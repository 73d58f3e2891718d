-- The legal hold that blocks an erasure, if any: one on the subject, or a table hold on a
-- table where the erasure would delete or scrub rows. (Held rows are never touched.)
create or replace function retention._erasure_hold(p_subject_id text, p_tables text[])
returns retention.legal_holds
language sql
stable
as $$
  select h.*
    from retention.legal_holds h
   where h.released_at is null and (h.expires_at is null or h.expires_at > now())
     and ((h.scope = 'subject' and h.subject_id = p_subject_id)
          or (h.scope = 'table' and h.target in (select to_regclass(t) from unnest(p_tables) t)))
   order by h.hold_id
   limit 1
$$;
comment on function retention._erasure_hold(text, text[]) is
  'Internal. The first open legal hold that blocks an erasure: on the subject, or on a table it would change.';
