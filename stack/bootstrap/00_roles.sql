-- Cluster-wide roles, as the supabase/postgres image leaves them after its init scripts and
-- migrations. Roles are shared by every database of a cluster, so each creation checks
-- pg_roles first: applying this file a second time (another database, same cluster) is a no-op.

do $roles$
begin
  -- The image's initdb superuser. Exists already when initdb ran with -U supabase_admin.
  if not exists (select 1 from pg_roles where rolname = 'supabase_admin') then
    create role supabase_admin login superuser createdb createrole replication bypassrls;
  end if;

  -- The image creates postgres as a superuser and later demotes it
  -- (migration 10000000000000_demote-postgres). A postgres role that already exists is left
  -- alone: it may be the superuser applying this very file.
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login nosuperuser createdb createrole replication bypassrls;
  end if;

  -- API roles: PostgREST switches to one of them per request.
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;

  -- The login PostgREST (and Realtime/Storage) connect as; it only switches roles.
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;

  -- Service owners.
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit createrole noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_storage_admin') then
    create role supabase_storage_admin login noinherit createrole noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin login noinherit createrole replication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_replication_admin') then
    create role supabase_replication_admin login replication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_read_only_user') then
    create role supabase_read_only_user login bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'dashboard_user') then
    create role dashboard_user nosuperuser createdb createrole replication;
  end if;
end
$roles$;

-- Memberships (re-granting an existing membership only raises a notice).
grant anon, authenticated, service_role to authenticator;
-- The image also makes authenticator a member of supabase_admin (NOINHERIT: it can only SET ROLE
-- to it, which PostgREST does for a JWT whose role claim names it).
grant supabase_admin to authenticator;
grant anon, authenticated, service_role to postgres;
grant pg_read_all_data to supabase_read_only_user;
grant anon, authenticated, service_role to supabase_realtime_admin;
-- The Storage API connects as supabase_storage_admin and switches to the request's role through
-- authenticator (the image grants this; without it every request fails with "permission denied
-- to set role"). Checked by soberharness/checker/storage_schema.py.
grant authenticator to supabase_storage_admin;

-- Per-role settings (cluster-wide, idempotent).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role supabase_auth_admin set search_path = auth;
alter role supabase_storage_admin set search_path = storage;
alter role supabase_realtime_admin set search_path = public, extensions, realtime;
alter role supabase_admin set search_path = "$user", public, auth, extensions;
alter role postgres set search_path = "$user", public, extensions;
