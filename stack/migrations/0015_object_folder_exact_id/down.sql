-- Back to matching the owner folder's id in any letter case.
create or replace function private.object_owner(object_name text) returns uuid
  language sql immutable security definer
  set search_path = ''
as $fn$
  select case
    when (storage.foldername(object_name))[1]
         ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then ((storage.foldername(object_name))[1])::uuid
  end
$fn$;
