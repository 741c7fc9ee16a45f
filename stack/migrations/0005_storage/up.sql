-- Buckets and storage.objects policies. Object names are '<user id>/<file>'.

-- The buckets are made here, and only here: a deployment that created them through the Storage
-- API first (POST /bucket) is brought to these settings instead of failing on a duplicate.
-- Nothing creates them through the API (it would answer 409 once this has run).
insert into storage.buckets (id, name, public) values
  ('avatars', 'avatars', true),
  ('videos', 'videos', false)
on conflict (id) do update set name = excluded.name, public = excluded.public;

-- The user id an object name's first folder names, or null when it is not a uuid.
create function private.object_owner(object_name text) returns uuid
  language sql immutable security definer
  set search_path = ''
as $fn$
  select case
    when (storage.foldername(object_name))[1]
         ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then ((storage.foldername(object_name))[1])::uuid
  end
$fn$;

-- May the viewer read the videos-bucket object '<O>/...'? Only when the folder names an existing
-- user O, and then as O's content (private.content_visible: moderator, self, block, privacy).
-- Objects themselves are never hidden: hiding a video row does not hide its file.
create function private.video_object_visible(object_name text) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce((
    select private.content_visible(u.id, null)
    from auth.users u
    where u.id = private.object_owner(object_name)), false)
$fn$;

-- Objects keep their id whoever asks; the API roles never move an object to another bucket.
create function private.guard_object_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  if new.id is distinct from old.id then
    raise exception using errcode = '42501', message = 'storage.objects: id never changes';
  end if;
  if current_user::text in ('anon', 'authenticated')
     and new.bucket_id is distinct from old.bucket_id then
    raise exception using errcode = '42501', message = 'storage.objects: an object stays in its bucket';
  end if;
  return new;
end
$fn$;

create trigger sobertube_guard_columns before update on storage.objects
  for each row execute function private.guard_object_update();

revoke all on all functions in schema private from public;
grant execute on function private.object_owner(text), private.video_object_visible(text)
  to anon, authenticated, service_role;

-- Storage grants the API roles every table privilege and lets RLS filter: its migration 0046
-- (buckets-objects-grants) grants all on buckets and objects, and the image's default
-- privileges grant all on every table the storage admin creates (buckets_analytics,
-- buckets_vectors, vector_indexes, ... on a real Storage API). SoberTube narrows that: anon
-- writes nothing anywhere, and nobody but service_role creates or changes buckets or truncates
-- anything (TRUNCATE is not subject to RLS); authenticated writes storage.objects only. So
-- this migration must run AFTER the Storage API's first start (the compose file's `migrate`
-- waits for storage to be healthy); a Storage API upgrade that re-grants is caught by the
-- storage-schema check (soberharness/checker/storage_schema.py), and
-- stack/compose/db/narrow-storage-grants.sql applies these revokes again.
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

-- Bucket rows are readable (the API lists and looks buckets up); objects are what is guarded.
create policy sobertube_buckets_read on storage.buckets
  for select to anon, authenticated
  using (id in ('avatars', 'videos'));

-- avatars: read by everyone; written, replaced, deleted only in one's own folder.
create policy avatars_read on storage.objects
  for select to anon, authenticated
  using (bucket_id = 'avatars');
create policy avatars_insert_own_folder on storage.objects
  for insert to authenticated
  with check (bucket_id = 'avatars' and private.object_owner(name) = (select auth.uid()));
create policy avatars_update_own_folder on storage.objects
  for update to authenticated
  using (bucket_id = 'avatars' and private.object_owner(name) = (select auth.uid()))
  with check (bucket_id = 'avatars' and private.object_owner(name) = (select auth.uid()));
create policy avatars_delete_own_folder on storage.objects
  for delete to authenticated
  using (bucket_id = 'avatars' and private.object_owner(name) = (select auth.uid()));

-- videos: read as the owner's content; written and replaced only by the owner; deleted by the
-- owner or a moderator. Update and delete also need the object to be readable (decision 1).
create policy videos_read_as_content on storage.objects
  for select to anon, authenticated
  using (bucket_id = 'videos' and private.video_object_visible(name));
create policy videos_insert_own_folder on storage.objects
  for insert to authenticated
  with check (bucket_id = 'videos' and private.object_owner(name) = (select auth.uid()));
create policy videos_update_own_folder on storage.objects
  for update to authenticated
  using (bucket_id = 'videos' and private.object_owner(name) = (select auth.uid())
         and private.video_object_visible(name))
  with check (bucket_id = 'videos' and private.object_owner(name) = (select auth.uid()));
create policy videos_delete_owner_or_moderator on storage.objects
  for delete to authenticated
  using (bucket_id = 'videos'
         and private.video_object_visible(name)
         and (private.object_owner(name) = (select auth.uid()) or private.is_moderator()));
