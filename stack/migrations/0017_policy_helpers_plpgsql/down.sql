-- Back to the SQL helpers of 0001, 0004, 0005 and 0015 (same conditions, planned per statement).

create or replace function private.is_moderator() returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select auth.uid() is not null
     and coalesce((auth.jwt() -> 'app_metadata' ->> 'role') = 'moderator', false)
$fn$;

create or replace function private.has_block(a uuid, b uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select exists (
    select 1 from public.blocks bl
    where (bl.blocker_id = a and bl.blocked_id = b)
       or (bl.blocker_id = b and bl.blocked_id = a)
  )
$fn$;

create or replace function private.is_accepted_follower(viewer uuid, target uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select exists (
    select 1 from public.follows f
    where f.follower_id = viewer and f.followee_id = target and f.status = 'accepted'
  )
$fn$;

create or replace function private.profile_visible(target_id uuid, target_privacy public.privacy_level)
  returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select case
    when target_id is null then false
    when private.is_moderator() then true
    when auth.uid() = target_id then true
    when private.has_block(auth.uid(), target_id) then false
    when target_privacy = 'public' then true
    else auth.uid() is not null
  end
$fn$;

create or replace function private.can_see_profile(target_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce(
    (select private.profile_visible(p.id, p.privacy) from public.profiles p where p.id = target_id),
    false)
$fn$;

create or replace function private.content_visible(content_owner uuid, content_hidden_at timestamptz)
  returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select case
    when content_owner is null then false
    when private.is_moderator() then true
    when auth.uid() = content_owner then true
    when content_hidden_at is not null then false
    when private.has_block(auth.uid(), content_owner) then false
    else coalesce((
      select case p.privacy
               when 'public' then true
               when 'community' then auth.uid() is not null
               else auth.uid() is not null and private.is_accepted_follower(auth.uid(), p.id)
             end
      from public.profiles p where p.id = content_owner), false)
  end
$fn$;

create or replace function private.post_visible(target_post uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce(
    (select private.content_visible(p.author_id, p.hidden_at) from public.posts p where p.id = target_post),
    false)
$fn$;

create or replace function private.video_visible(target_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce(
    (select private.content_visible(v.owner_id, v.hidden_at) from public.videos v where v.id = target_video),
    false)
$fn$;

create or replace function private.parent_visible(parent_post uuid, parent_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select case
    when parent_post is not null then private.post_visible(parent_post)
    else private.video_visible(parent_video)
  end
$fn$;

create or replace function private.parent_owner(parent_post uuid, parent_video uuid) returns uuid
  language sql stable security definer
  set search_path = ''
as $fn$
  select case
    when parent_post is not null then (select p.author_id from public.posts p where p.id = parent_post)
    else (select v.owner_id from public.videos v where v.id = parent_video)
  end
$fn$;

create or replace function private.can_engage(parent_post uuid, parent_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select auth.uid() is not null
     and private.parent_visible(parent_post, parent_video)
     and not private.has_block(auth.uid(), private.parent_owner(parent_post, parent_video))
$fn$;

create or replace function private.comment_visible(comment_author uuid, parent_post uuid, parent_video uuid)
  returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select private.is_moderator()
      or (private.parent_visible(parent_post, parent_video)
          and not private.has_block(auth.uid(), comment_author))
$fn$;

create or replace function private.like_visible(parent_post uuid, parent_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select private.is_moderator() or private.parent_visible(parent_post, parent_video)
$fn$;

create or replace function private.follow_visible(f_follower uuid, f_followee uuid, f_status public.follow_status)
  returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce(auth.uid() in (f_follower, f_followee), false)
      or private.is_moderator()
      or (f_status = 'accepted'
          and private.can_see_profile(f_follower)
          and private.can_see_profile(f_followee))
$fn$;

create or replace function private.initial_follow_status(target uuid) returns public.follow_status
  language sql stable security definer
  set search_path = ''
as $fn$
  select case p.privacy when 'private' then 'pending'::public.follow_status
                        else 'accepted'::public.follow_status end
  from public.profiles p where p.id = target
$fn$;

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

create or replace function private.video_object_visible(object_name text) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce((
    select private.content_visible(u.id, null)
    from auth.users u
    where u.id = private.object_owner(object_name)), false)
$fn$;
