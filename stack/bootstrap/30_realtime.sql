-- What the image prepares for Realtime: the empty supabase_realtime publication (project
-- migrations add tables to it) and a realtime schema for the Realtime server's own migrations,
-- run as supabase_realtime_admin.
do $pub$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$pub$;

create schema if not exists realtime authorization supabase_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
grant all on schema realtime to supabase_realtime_admin with grant option;

grant usage on schema auth to supabase_realtime_admin;
grant execute on all functions in schema auth to supabase_realtime_admin;
grant create, usage on schema public to supabase_realtime_admin;
grant usage on schema extensions to supabase_realtime_admin;
-- Realtime's change listing lowers log_min_messages for its own session (PostgreSQL 15+).
grant set on parameter log_min_messages to supabase_realtime_admin;

do $db$
begin
  execute format('grant create on database %I to supabase_realtime_admin', current_database());
end
$db$;
