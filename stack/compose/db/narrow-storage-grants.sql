-- Re-narrow the API roles' privileges on the storage tables to what 0005_storage leaves, after
-- a Storage API start or upgrade that ran its own migration 0046 (buckets-objects-grants,
-- `grant all ... to anon, authenticated, service_role`) after the stack's migrations.
-- Idempotent; run as a superuser: psql -v ON_ERROR_STOP=1 -f narrow-storage-grants.sql
-- suites/security/test_storage_schema.py says whether it is needed.
revoke insert, update, delete, truncate, references, trigger on storage.objects, storage.buckets
  from anon;
revoke truncate, references, trigger on storage.objects, storage.buckets from authenticated;
revoke insert, update, delete on storage.buckets from authenticated;
