-- An object's owner folder is its owner's id exactly as text (lowercase, hyphenated), as the
-- delete-my-account worker matches it (split_part(name, '/', 1) = id): the id in capitals named
-- the same user for the storage policies (case-insensitive match, then a uuid cast) but not for
-- the worker, so a user could upload objects that outlive their account (decision 29).
-- private.object_owner now answers only for the exact spelling; every other is nobody's folder.
create or replace function private.object_owner(object_name text) returns uuid
  language sql immutable security definer
  set search_path = ''
as $fn$
  select case
    when (storage.foldername(object_name))[1]
         ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then ((storage.foldername(object_name))[1])::uuid
  end
$fn$;
