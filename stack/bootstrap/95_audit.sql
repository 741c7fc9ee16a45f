-- Audit logging (seed 5.2.6) with pgaudit, wherever the server loads it
-- (shared_preload_libraries; the compose file's supabase/postgres image preloads it, and
-- suites/ops starts its local stacks with it). Elsewhere this file changes nothing.
--
-- Every login role of the stack logs, in the server log, as `AUDIT: SESSION,...` lines:
--   role   GRANT, REVOKE, CREATE/ALTER/DROP ROLE (who may do what),
--   ddl    every other schema change, row level security policies included,
--   write  INSERT, UPDATE, DELETE, TRUNCATE, COPY into tables (the API roles' writes,
--          service_role's among them: PostgREST logs in as authenticator and SETs ROLE).
-- The settings are per role, so they hold in every database of the cluster, and take effect
-- at each role's next login. suites/ops/test_audit.py reads them back from the log.
do $audit$
declare
  login_role text;
begin
  if current_setting('shared_preload_libraries') !~ '(^|[ ,])pgaudit([ ,]|$)' then
    raise notice 'pgaudit is not loaded by this server: audit logging left off';
    return;
  end if;
  -- In the extensions schema: in public its functions would be part of the API
  -- (extension_in_public; seen when the containers target ran the compose stack's database).
  create extension if not exists pgaudit with schema extensions;
  foreach login_role in array array['supabase_admin', 'postgres', 'authenticator',
                                    'supabase_auth_admin', 'supabase_storage_admin',
                                    'supabase_realtime_admin', 'dashboard_user'] loop
    if exists (select 1 from pg_roles where rolname = login_role) then
      execute format('alter role %I set pgaudit.log = %L', login_role, 'role, ddl, write');
      execute format('alter role %I set pgaudit.log_relation = on', login_role);
    end if;
  end loop;
end
$audit$;
