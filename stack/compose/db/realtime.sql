-- Runs once, after the image's own migrations: the schema Realtime keeps its tenants in
-- (its DB_AFTER_CONNECT_QUERY sets search_path to it).
CREATE SCHEMA IF NOT EXISTS _realtime;
ALTER SCHEMA _realtime OWNER TO supabase_admin;
