-- Runs once, in the supabase/postgres image's init-scripts phase, as the superuser.
-- The service login roles the image creates get the stack's one database password, which
-- compose passes in as PGPASSWORD (the same value as POSTGRES_PASSWORD).
\set db_password `printf '%s' "$PGPASSWORD"`

ALTER ROLE supabase_admin WITH PASSWORD :'db_password';
ALTER ROLE authenticator WITH PASSWORD :'db_password';
ALTER ROLE supabase_auth_admin WITH PASSWORD :'db_password';
ALTER ROLE supabase_storage_admin WITH PASSWORD :'db_password';
