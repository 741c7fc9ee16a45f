drop policy videos_delete_owner_or_moderator on storage.objects;
drop policy videos_update_own_folder on storage.objects;
drop policy videos_insert_own_folder on storage.objects;
drop policy videos_read_as_content on storage.objects;
drop policy avatars_delete_own_folder on storage.objects;
drop policy avatars_update_own_folder on storage.objects;
drop policy avatars_insert_own_folder on storage.objects;
drop policy avatars_read on storage.objects;
drop policy sobertube_buckets_read on storage.buckets;

grant all on storage.objects, storage.buckets to anon, authenticated;

drop trigger sobertube_guard_columns on storage.objects;
drop function private.guard_object_update();
drop function private.video_object_visible(text);
drop function private.object_owner(text);

-- Object rows of the two buckets go with them (the files themselves live in the Storage API's
-- backend and are not touched here). The storage schema refuses a direct DELETE unless the
-- transaction says it is the Storage API's (migration 0055 prevent-direct-deletes).
select set_config('storage.allow_delete_query', 'true', true);
delete from storage.objects where bucket_id in ('avatars', 'videos');
delete from storage.buckets where id in ('avatars', 'videos');
