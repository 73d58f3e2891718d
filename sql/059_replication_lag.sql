-- How far the slowest streaming standby's replay is behind (pg_stat_replication.replay_lag),
-- for max_replication_lag. NULL without a streaming standby. The owner reads every
-- standby's lag when it is a superuser or a member of pg_read_all_stats (otherwise the
-- columns read NULL and nothing throttles: check_setup says so).
create or replace function retention_internal._replication_lag()
returns interval
language sql
volatile  -- read live, each call
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
as $$
  select pg_catalog.max(r.replay_lag) from pg_catalog.pg_stat_replication r where r.state = 'streaming'
$$;
comment on function retention_internal._replication_lag() is
  'Internal. The largest replay lag of the streaming standbys (pg_stat_replication), NULL without one.';
