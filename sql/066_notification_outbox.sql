-- Delivery of the outbox. A worker claims due notifications with a lease
-- (FOR UPDATE SKIP LOCKED: two workers never hold the same one), posts them, and
-- settles each. A failure is retried with exponential backoff (p_retry_base doubled per
-- attempt, at most one hour); after p_max_attempts it is dead-lettered (status 'dead').
-- A settle from a worker whose lease was taken over is ignored, so one notification is
-- settled once. If a worker dies holding a lease, the notification is due again when the
-- lease ends.
create or replace function retention.claim_notifications(
  p_claimer text,
  p_limit   integer default 10,
  p_lease   interval default '1 minute'
)
returns setof retention.notifications
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if not retention_internal._printable(p_claimer, 200) then
    raise exception 'the claimer must be 1 to 200 printable characters'
      using errcode = 'RT006', hint = 'Give the worker''s name, e.g. its host and process id.';
  end if;
  if p_limit is null or p_limit not between 1 and 10000 then
    raise exception 'limit must be between 1 and 10000, got %', coalesce(p_limit::text, 'NULL')
      using errcode = 'RT006', hint = 'How many notifications to claim at once, e.g. 10.';
  end if;
  if not retention_internal._interval_between(p_lease, interval '1 second', interval '1 day') then
    raise exception 'lease must be between 1 second and 1 day, got %', coalesce(p_lease::text, 'NULL')
      using errcode = 'RT006', hint = 'How long the claim keeps other workers off the notifications, e.g. ''1 minute''.';
  end if;
  return query
  update retention.notifications n
     set claimed_by = p_claimer, claimed_until = clock_timestamp() + p_lease,
         attempts = n.attempts + 1
   where n.notification_id in (
           select x.notification_id from retention.notifications x
            where x.status = 'pending' and x.next_attempt_at <= clock_timestamp()
              and (x.claimed_until is null or x.claimed_until < clock_timestamp())
            order by x.notification_id
            limit p_limit
              for update skip locked)
  returning n.*;
end
$$;
comment on function retention.claim_notifications(text, integer, interval) is
  'Claims up to p_limit (1 to 10000) due notifications for p_claimer (printable) for p_lease (1 second to 1 day), skipping any another worker holds, and counts the attempt (RT006 for bad arguments).';

create or replace function retention.settle_notification(
  p_notification_id bigint,
  p_claimer         text,
  p_delivered       boolean,
  p_error           text default null,
  p_max_attempts    integer default 8,
  p_retry_base      interval default '30 seconds'
)
returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_status text;
begin
  -- The worker's settings, within bounds: at least one attempt, no retry in the past (a
  -- period of hours, minutes and seconds only: '-1 mon 721 hours' compares as an hour), an
  -- error that is a line of text (it ends up in alerts and the dashboard).
  if p_delivered is null or p_max_attempts is null or p_max_attempts not between 1 and 100 then
    raise exception 'p_delivered must be true or false and p_max_attempts 1 to 100, got % and %', p_delivered, p_max_attempts
      using errcode = 'RT006', hint = 'The worker settles with its NOTIFY_MAX_ATTEMPTS (default 8).';
  end if;
  if p_retry_base is null or p_retry_base not between interval '0' and interval '1 hour'
     or extract(month from p_retry_base) <> 0 or extract(day from p_retry_base) <> 0 or extract(year from p_retry_base) <> 0 then
    raise exception 'p_retry_base must be between 0 and 1 hour, got %', p_retry_base
      using errcode = 'RT006', hint = 'The default is 30 seconds, doubled after each failed attempt (at most an hour).';
  end if;
  if p_error is not null then
    p_error := left(regexp_replace(p_error, retention_internal._hidden_chars(), ' ', 'g'), 2000);
  end if;
  update retention.notifications n
     set status = case when p_delivered then 'delivered'
                       when n.attempts >= p_max_attempts then 'dead'
                       else 'pending' end,
         delivered_at = case when p_delivered then clock_timestamp() end,
         last_error = case when p_delivered then n.last_error else p_error end,
         next_attempt_at = case when p_delivered then n.next_attempt_at
                                else clock_timestamp()
                                     + least(p_retry_base * power(2, n.attempts - 1), interval '1 hour') end,
         claimed_by = null, claimed_until = null
   where n.notification_id = p_notification_id and n.claimed_by = p_claimer
     and n.status = 'pending'
  returning n.status into v_status;
  return v_status;  -- NULL: the lease was lost, nothing changed
end
$$;
comment on function retention.settle_notification(bigint, text, boolean, text, integer, interval) is
  'Records one delivery attempt of a claimed notification: delivered, retried later with backoff, or dead after p_max_attempts (1 to 100; p_retry_base 0 to 1 hour, else RT006; the error kept as at most 2,000 printable characters). Returns the new status, or NULL if p_claimer no longer holds it.';

create or replace function retention.requeue_notification(p_notification_id bigint)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('requeue a notification');
  update retention.notifications
     set status = 'pending', attempts = 0, next_attempt_at = clock_timestamp(),
         claimed_by = null, claimed_until = null
   where notification_id = p_notification_id and status = 'dead';
  if found then
    perform retention_internal._append_audit('notification.requeued', 'notification', p_notification_id::text, '{}');
    return true;
  end if;
  -- A DBA types the id: a wrong one says so (one that is not dead answers false).
  if not exists (select from retention.notifications n where n.notification_id = p_notification_id) then
    raise exception 'notification % does not exist', coalesce(p_notification_id::text, 'NULL')
      using errcode = 'RT042', hint = 'SELECT notification_id, kind, policy_name, last_error FROM retention.notifications WHERE status = ''dead'' lists those to requeue.';
  end if;
  return false;
end
$$;
comment on function retention.requeue_notification(bigint) is
  'Puts a dead-lettered notification back in the outbox (e.g. after fixing the webhook); audit-logged. Returns false for one that is not dead; RT042 for an id that does not exist.';
