-- Re-narrow the API roles' privileges on the storage tables to what 0005_storage leaves, after
-- a Storage API start or upgrade that ran its own migrations after the stack's (its 0046
-- buckets-objects-grants grants all on buckets and objects to anon, authenticated and
-- service_role; new tables get all through the default privileges).
-- Idempotent; run as a superuser: psql -v ON_ERROR_STOP=1 -f narrow-storage-grants.sql
-- suites/security/test_storage_schema.py says whether it is needed.
revoke insert, update, delete, truncate, references, trigger on all tables in schema storage
  from anon;
revoke truncate, references, trigger on all tables in schema storage from authenticated;
do $narrow$
declare
  t text;
begin
  for t in select tablename from pg_tables where schemaname = 'storage' and tablename <> 'objects'
  loop
    execute format('revoke insert, update, delete on storage.%I from authenticated', t);
  end loop;
end
$narrow$;
