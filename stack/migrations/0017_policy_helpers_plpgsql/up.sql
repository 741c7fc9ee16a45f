-- Speed (issue 20, item 6): the policy helpers become PL/pgSQL, with the same conditions.
-- A SQL function that cannot be inlined (these are SECURITY DEFINER with a fixed search_path,
-- which they must stay) has its body parsed and planned again in every statement that calls it,
-- and each helper calls others: a one-row SELECT under these policies spent most of its time
-- planning helper bodies. PL/pgSQL keeps each body's plan for the session. The viewer's id is
-- read once per call (auth.uid()) instead of once per use. Owners, grants, STABLE/IMMUTABLE,
-- SECURITY DEFINER and search_path = '' are unchanged; the answers are the same (the security
-- matrix's outcomes digest is identical before and after).

create or replace function private.is_moderator() returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return auth.uid() is not null
     and coalesce((auth.jwt() -> 'app_metadata' ->> 'role') = 'moderator', false);
end
$fn$;

create or replace function private.has_block(a uuid, b uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return exists (
    select 1 from public.blocks bl
    where (bl.blocker_id = a and bl.blocked_id = b)
       or (bl.blocker_id = b and bl.blocked_id = a)
  );
end
$fn$;

create or replace function private.is_accepted_follower(viewer uuid, target uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return exists (
    select 1 from public.follows f
    where f.follower_id = viewer and f.followee_id = target and f.status = 'accepted'
  );
end
$fn$;

create or replace function private.profile_visible(target_id uuid, target_privacy public.privacy_level)
  returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
declare
  viewer uuid;
begin
  if target_id is null then
    return false;
  end if;
  if private.is_moderator() then
    return true;
  end if;
  viewer := auth.uid();
  return case
    when viewer = target_id then true
    when private.has_block(viewer, target_id) then false
    when target_privacy = 'public' then true
    else viewer is not null
  end;
end
$fn$;

create or replace function private.can_see_profile(target_id uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return coalesce(
    (select private.profile_visible(p.id, p.privacy) from public.profiles p where p.id = target_id),
    false);
end
$fn$;

create or replace function private.content_visible(content_owner uuid, content_hidden_at timestamptz)
  returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
declare
  viewer uuid;
begin
  if content_owner is null then
    return false;
  end if;
  if private.is_moderator() then
    return true;
  end if;
  viewer := auth.uid();
  return case
    when viewer = content_owner then true
    when content_hidden_at is not null then false
    when private.has_block(viewer, content_owner) then false
    else coalesce((
      select case p.privacy
               when 'public' then true
               when 'community' then viewer is not null
               else viewer is not null and private.is_accepted_follower(viewer, p.id)
             end
      from public.profiles p where p.id = content_owner), false)
  end;
end
$fn$;

create or replace function private.post_visible(target_post uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return coalesce(
    (select private.content_visible(p.author_id, p.hidden_at) from public.posts p where p.id = target_post),
    false);
end
$fn$;

create or replace function private.video_visible(target_video uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return coalesce(
    (select private.content_visible(v.owner_id, v.hidden_at) from public.videos v where v.id = target_video),
    false);
end
$fn$;

create or replace function private.parent_visible(parent_post uuid, parent_video uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  if parent_post is not null then
    return private.post_visible(parent_post);
  end if;
  return private.video_visible(parent_video);
end
$fn$;

create or replace function private.parent_owner(parent_post uuid, parent_video uuid) returns uuid
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  if parent_post is not null then
    return (select p.author_id from public.posts p where p.id = parent_post);
  end if;
  return (select v.owner_id from public.videos v where v.id = parent_video);
end
$fn$;

create or replace function private.can_engage(parent_post uuid, parent_video uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
declare
  viewer uuid := auth.uid();
begin
  return viewer is not null
     and private.parent_visible(parent_post, parent_video)
     and not private.has_block(viewer, private.parent_owner(parent_post, parent_video));
end
$fn$;

create or replace function private.comment_visible(comment_author uuid, parent_post uuid, parent_video uuid)
  returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return private.is_moderator()
      or (private.parent_visible(parent_post, parent_video)
          and not private.has_block(auth.uid(), comment_author));
end
$fn$;

create or replace function private.like_visible(parent_post uuid, parent_video uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return private.is_moderator() or private.parent_visible(parent_post, parent_video);
end
$fn$;

create or replace function private.follow_visible(f_follower uuid, f_followee uuid, f_status public.follow_status)
  returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return coalesce(auth.uid() in (f_follower, f_followee), false)
      or private.is_moderator()
      or (f_status = 'accepted'
          and private.can_see_profile(f_follower)
          and private.can_see_profile(f_followee));
end
$fn$;

create or replace function private.initial_follow_status(target uuid) returns public.follow_status
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return (select case p.privacy when 'private' then 'pending'::public.follow_status
                                else 'accepted'::public.follow_status end
          from public.profiles p where p.id = target);
end
$fn$;

create or replace function private.object_owner(object_name text) returns uuid
  language plpgsql immutable security definer
  set search_path = ''
as $fn$
declare
  folder text := (storage.foldername(object_name))[1];
begin
  if folder ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return folder::uuid;
  end if;
  return null;
end
$fn$;

create or replace function private.video_object_visible(object_name text) returns boolean
  language plpgsql stable security definer
  set search_path = ''
as $fn$
begin
  return coalesce((
    select private.content_visible(u.id, null)
    from auth.users u
    where u.id = private.object_owner(object_name)), false);
end
$fn$;
