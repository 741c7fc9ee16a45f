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

-- What Realtime Authorization reads (Realtime's own migrations create these on a real server):
-- realtime.messages, which Realtime inserts into and selects from as the user to decide who
-- may join, receive and send on a private channel, and realtime.topic(), the channel's topic
-- Realtime sets as realtime.topic for that transaction. Made only where Realtime has not.
do $rt$
begin
  if to_regclass('realtime.messages') is null then
    create table realtime.messages (
      id uuid not null default gen_random_uuid() primary key,
      topic text not null,
      extension text not null,
      payload jsonb,
      event text,
      private boolean default false,
      updated_at timestamp not null default now(),
      inserted_at timestamp not null default now()
    );
    create index messages_topic_idx on realtime.messages (topic);
    alter table realtime.messages enable row level security;
    alter table realtime.messages owner to supabase_realtime_admin;
    grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
  end if;
  if to_regprocedure('realtime.topic()') is null then
    create function realtime.topic() returns text language sql stable
      as $fn$ select nullif(current_setting('realtime.topic', true), '')::text $fn$;
    alter function realtime.topic() owner to supabase_realtime_admin;
  end if;
end
$rt$;
