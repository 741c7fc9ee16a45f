-- SoberTube's business KPIs for the operations dashboards (seed 5.1.5), as the postgres
-- exporter reads them (stack/monitoring/postgres-exporter-queries.yml: sobertube_kpi_*,
-- sobertube_realtime_*), drawn by stack/monitoring/dashboards/sobertube-kpis.json.
--
-- Schema `monitoring` is not exposed (PostgREST serves public and graphql_public only) and no
-- API role may use it: anon, authenticated and service_role get nothing here. The exporter's
-- login (supabase_admin) reads everything; pg_monitor, PostgreSQL's role for monitoring
-- agents, gets SELECT on the views and EXECUTE on the function, so a less privileged exporter
-- login can be used instead. The views are owned by the migration's role and read past RLS:
-- they return counts only, never a row, an id or an e-mail address.
--
-- What each KPI counts (docs: stack/README.md, migration 0016):
-- - sign-ups: rows of auth.users (GoTrue's accounts), all time and created in the last day;
-- - posts: every post, hidden and private ones included (content created), all time and in
--   the last day;
-- - active users: distinct users who signed in or wrote a post, video, comment or like in the
--   last day;
-- - follows: accepted follows; pending follow requests are counted apart (a request is not a
--   follow until the followed user accepts it);
-- - realtime subscribers: Realtime's postgres_changes subscriptions (realtime.subscription,
--   a table the Realtime server's own migrations create): distinct subscription ids, one per
--   postgres_changes entry of a joined channel (Realtime writes a row per entry and matching
--   published table, all with the entry's id; broadcast and presence leave no row). Where
--   Realtime never ran, the table does not exist and the function returns no row, so the
--   exporter exports no series (not a misleading 0).
create schema if not exists monitoring;
revoke all on schema monitoring from public;
grant usage on schema monitoring to pg_monitor;

create view monitoring.sobertube_kpis as
select
  (select count(*) from auth.users) as signups_total,
  (select count(*) from auth.users
    where created_at >= now() - interval '1 day') as signups_last_day,
  (select count(*) from public.posts) as posts_total,
  (select count(*) from public.posts
    where created_at >= now() - interval '1 day') as posts_last_day,
  (select count(*) from (
      select id from auth.users where last_sign_in_at >= now() - interval '1 day'
      union select author_id from public.posts where created_at >= now() - interval '1 day'
      union select owner_id from public.videos where created_at >= now() - interval '1 day'
      union select author_id from public.comments where created_at >= now() - interval '1 day'
      union select user_id from public.likes where created_at >= now() - interval '1 day'
    ) active) as active_users_last_day,
  (select count(*) from public.follows where status = 'accepted') as follows_accepted,
  (select count(*) from public.follows where status = 'pending') as follows_pending;

revoke all on monitoring.sobertube_kpis from public, anon, authenticated, service_role;
grant select on monitoring.sobertube_kpis to pg_monitor;

create function monitoring.realtime_subscribers()
returns table (subscribers bigint)
language plpgsql stable
security definer
set search_path = ''
as $fn$
begin
  if to_regclass('realtime.subscription') is null then
    return;  -- no Realtime here: no row, no series
  end if;
  return query execute
    'select count(distinct subscription_id)::bigint from realtime.subscription';
end
$fn$;

revoke all on function monitoring.realtime_subscribers() from public, anon, authenticated,
  service_role;
grant execute on function monitoring.realtime_subscribers() to pg_monitor;
