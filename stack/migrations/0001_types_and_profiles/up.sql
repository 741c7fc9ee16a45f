-- Types, the private helper schema, and profiles.

-- Helpers that policies call live here: not exposed through the API, SECURITY DEFINER,
-- search_path pinned to '' and every name fully qualified.
create schema private;
revoke all on schema private from public;
grant usage on schema private to anon, authenticated, service_role;

create type public.privacy_level as enum ('public', 'community', 'private');
create type public.follow_status as enum ('pending', 'accepted');

-- A moderator is a signed-in user whose token says app_metadata.role = 'moderator'.
create function private.is_moderator() returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select auth.uid() is not null
     and coalesce((auth.jwt() -> 'app_metadata' ->> 'role') = 'moderator', false)
$fn$;

-- Shared BEFORE UPDATE trigger: keeps updated_at current.
create function private.set_updated_at() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  new.updated_at := now();
  return new;
end
$fn$;

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  handle text not null unique,
  display_name text,
  bio text,
  privacy public.privacy_level not null default 'public',
  sober_since date,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.profiles enable row level security;

-- Column guard. A profile's id (its key) never changes, whoever asks, service_role included.
-- For the API roles (anon, authenticated) created_at is fixed too; other roles (service_role,
-- admins running SQL) may change the rest. Runs as the caller, so current_user is the role the
-- request switched to.
create function private.guard_profile_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  if new.id is distinct from old.id then
    raise exception using errcode = '42501', message = 'profiles: id never changes';
  end if;
  if current_user::text not in ('anon', 'authenticated') then
    return new;
  end if;
  if new.created_at is distinct from old.created_at then
    raise exception using errcode = '42501', message = 'profiles: created_at never changes';
  end if;
  return new;
end
$fn$;

create trigger guard_columns before update on public.profiles
  for each row execute function private.guard_profile_update();
create trigger set_updated_at before update on public.profiles
  for each row execute function private.set_updated_at();

-- Grants: the image's default privileges hand everything to the API roles; take that back and
-- give only what the rules need. No DELETE for authenticated (decision 9).
revoke all on public.profiles from anon, authenticated, service_role;
grant select on public.profiles to anon;
grant select, insert on public.profiles to authenticated;
grant update (handle, display_name, bio, privacy, sober_since) on public.profiles to authenticated;
grant all on public.profiles to service_role;

revoke all on all functions in schema private from public;
grant execute on function private.is_moderator() to anon, authenticated, service_role;
