-- A moment a run, a preview or a schedule is computed at: finite, and far enough from the
-- ends of PostgreSQL's timestamp range that a period of up to 1000 years (the longest a
-- policy takes) before or after it can be computed. Else RT022 before anything is recorded
-- (round atk83 F3: '4714-11-24 BC' opened a live run that then failed with 22008).
create or replace function retention_internal._check_moment(p_at timestamptz, p_what text)
returns void
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_edge timestamptz;
begin
  if p_at is null then
    return;
  end if;
  if not pg_catalog.isfinite(p_at) then
    raise exception '% must be a moment in time, not %', p_what, p_at
      using errcode = 'RT022',
            hint = 'Leave it out for now, or give a past time (a live run) or any finite time (a dry run).';
  end if;
  begin
    v_edge := p_at - interval '1000 years 1 day';
    v_edge := p_at + interval '1000 years 1 day';
  exception when datetime_field_overflow then
    raise exception '% % is too near the end of the timestamp range: a period of up to 1000 years around it cannot be computed', p_what, p_at
      using errcode = 'RT022',
            hint = 'Give a time between the years 1000 and 293000 (a policy''s period is at most 1000 years).';
  end;
end
$$;
comment on function retention_internal._check_moment(timestamptz, text) is
  'Internal. Refuses (RT022) a time that is not finite or lies within 1000 years of the ends of the timestamp range (a cutoff a period before it could not be computed).';
