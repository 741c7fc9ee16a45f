-- Helper functions and RLS policies for the public tables.
-- Every helper reads as its owner (SECURITY DEFINER), so a policy's answer never depends on what
-- the caller itself may read of blocks or follows. "The viewer" is auth.uid() of the request.

-- Is there a block between a and b, in either direction?
create function private.has_block(a uuid, b uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select exists (
    select 1 from public.blocks bl
    where (bl.blocker_id = a and bl.blocked_id = b)
       or (bl.blocker_id = b and bl.blocked_id = a)
  )
$fn$;

-- Does viewer follow target with an accepted follow?
create function private.is_accepted_follower(viewer uuid, target uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select exists (
    select 1 from public.follows f
    where f.follower_id = viewer and f.followee_id = target and f.status = 'accepted'
  )
$fn$;

-- May the viewer see the profile (target_id, target_privacy)?
-- moderator and self always; a block hides it; public to all; community/private to signed-in.
create function private.profile_visible(target_id uuid, target_privacy public.privacy_level)
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

-- Same, by id only (false when there is no such profile).
create function private.can_see_profile(target_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce(
    (select private.profile_visible(p.id, p.privacy) from public.profiles p where p.id = target_id),
    false)
$fn$;

-- May the viewer read a piece of content owned by content_owner, hidden at content_hidden_at?
-- The reading order of access-rules.md: moderator, self, hidden, block, then privacy.
create function private.content_visible(content_owner uuid, content_hidden_at timestamptz)
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

create function private.post_visible(target_post uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce(
    (select private.content_visible(p.author_id, p.hidden_at) from public.posts p where p.id = target_post),
    false)
$fn$;

create function private.video_visible(target_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select coalesce(
    (select private.content_visible(v.owner_id, v.hidden_at) from public.videos v where v.id = target_video),
    false)
$fn$;

-- The parent of a comment or like: exactly one of the two ids is set.
create function private.parent_visible(parent_post uuid, parent_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select case
    when parent_post is not null then private.post_visible(parent_post)
    else private.video_visible(parent_video)
  end
$fn$;

create function private.parent_owner(parent_post uuid, parent_video uuid) returns uuid
  language sql stable security definer
  set search_path = ''
as $fn$
  select case
    when parent_post is not null then (select p.author_id from public.posts p where p.id = parent_post)
    else (select v.owner_id from public.videos v where v.id = parent_video)
  end
$fn$;

-- May the viewer comment on / like this parent? It must be visible, and no block may exist
-- between the viewer and its owner (this matters for moderators, who see past blocks).
create function private.can_engage(parent_post uuid, parent_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select auth.uid() is not null
     and private.parent_visible(parent_post, parent_video)
     and not private.has_block(auth.uid(), private.parent_owner(parent_post, parent_video))
$fn$;

-- Comments: moderators see all (decision 2); others when the parent is visible and no block
-- exists with the comment's author.
create function private.comment_visible(comment_author uuid, parent_post uuid, parent_video uuid)
  returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select private.is_moderator()
      or (private.parent_visible(parent_post, parent_video)
          and not private.has_block(auth.uid(), comment_author))
$fn$;

-- Likes: seen when the parent is (moderators see every parent).
create function private.like_visible(parent_post uuid, parent_video uuid) returns boolean
  language sql stable security definer
  set search_path = ''
as $fn$
  select private.is_moderator() or private.parent_visible(parent_post, parent_video)
$fn$;

-- Follows: both parties and moderators; others only accepted follows whose two profiles they
-- can see (decision 3).
create function private.follow_visible(f_follower uuid, f_followee uuid, f_status public.follow_status)
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

-- The status a new follow towards target must start with (decision 5): pending for a private
-- profile, accepted otherwise; null when there is no such profile.
create function private.initial_follow_status(target uuid) returns public.follow_status
  language sql stable security definer
  set search_path = ''
as $fn$
  select case p.privacy when 'private' then 'pending'::public.follow_status
                        else 'accepted'::public.follow_status end
  from public.profiles p where p.id = target
$fn$;

revoke all on all functions in schema private from public;
grant execute on function
  private.is_moderator(),
  private.has_block(uuid, uuid),
  private.is_accepted_follower(uuid, uuid),
  private.profile_visible(uuid, public.privacy_level),
  private.can_see_profile(uuid),
  private.content_visible(uuid, timestamptz),
  private.post_visible(uuid),
  private.video_visible(uuid),
  private.parent_visible(uuid, uuid),
  private.parent_owner(uuid, uuid),
  private.can_engage(uuid, uuid),
  private.comment_visible(uuid, uuid, uuid),
  private.like_visible(uuid, uuid),
  private.follow_visible(uuid, uuid, public.follow_status),
  private.initial_follow_status(uuid)
  to anon, authenticated, service_role;

-- profiles -------------------------------------------------------------------------------------
create policy profiles_select_visible on public.profiles
  for select to anon, authenticated
  using (private.profile_visible(id, privacy));
create policy profiles_insert_own on public.profiles
  for insert to authenticated
  with check (id = (select auth.uid()));
create policy profiles_update_own on public.profiles
  for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));
-- No delete policy: profiles go with their auth user or through service_role (decision 9).

-- follows --------------------------------------------------------------------------------------
create policy follows_select_visible on public.follows
  for select to anon, authenticated
  using (private.follow_visible(follower_id, followee_id, status));
create policy follows_insert_as_follower on public.follows
  for insert to authenticated
  with check (
    follower_id = (select auth.uid())
    and follower_id <> followee_id
    and not private.has_block(follower_id, followee_id)
    and status = private.initial_follow_status(followee_id)
  );
create policy follows_update_by_followee on public.follows
  for update to authenticated
  using (followee_id = (select auth.uid()))
  with check (followee_id = (select auth.uid()));
create policy follows_delete_by_party on public.follows
  for delete to authenticated
  using (follower_id = (select auth.uid()) or followee_id = (select auth.uid()));

-- blocks ---------------------------------------------------------------------------------------
create policy blocks_select_own on public.blocks
  for select to authenticated
  using (blocker_id = (select auth.uid()));
create policy blocks_insert_own on public.blocks
  for insert to authenticated
  with check (blocker_id = (select auth.uid()) and blocked_id <> blocker_id);
create policy blocks_delete_own on public.blocks
  for delete to authenticated
  using (blocker_id = (select auth.uid()));

-- posts ----------------------------------------------------------------------------------------
create policy posts_select_visible on public.posts
  for select to anon, authenticated
  using (private.content_visible(author_id, hidden_at));
create policy posts_insert_own on public.posts
  for insert to authenticated
  with check (author_id = (select auth.uid()) and (hidden_at is null or private.is_moderator()));
-- Which columns change is the guard trigger's job (private.guard_post_update).
create policy posts_update_author_or_moderator on public.posts
  for update to authenticated
  using (author_id = (select auth.uid()) or private.is_moderator())
  with check (author_id = (select auth.uid()) or private.is_moderator());
create policy posts_delete_author_or_moderator on public.posts
  for delete to authenticated
  using (author_id = (select auth.uid()) or private.is_moderator());

-- videos ---------------------------------------------------------------------------------------
create policy videos_select_visible on public.videos
  for select to anon, authenticated
  using (private.content_visible(owner_id, hidden_at));
create policy videos_insert_own on public.videos
  for insert to authenticated
  with check (owner_id = (select auth.uid()) and (hidden_at is null or private.is_moderator()));
create policy videos_update_owner_or_moderator on public.videos
  for update to authenticated
  using (owner_id = (select auth.uid()) or private.is_moderator())
  with check (owner_id = (select auth.uid()) or private.is_moderator());
create policy videos_delete_owner_or_moderator on public.videos
  for delete to authenticated
  using (owner_id = (select auth.uid()) or private.is_moderator());

-- comments -------------------------------------------------------------------------------------
create policy comments_select_visible on public.comments
  for select to anon, authenticated
  using (private.comment_visible(author_id, post_id, video_id));
create policy comments_insert_own on public.comments
  for insert to authenticated
  with check (author_id = (select auth.uid()) and private.can_engage(post_id, video_id));
-- Update and delete need the row to be visible first (decision 1).
create policy comments_update_author on public.comments
  for update to authenticated
  using (author_id = (select auth.uid()) and private.comment_visible(author_id, post_id, video_id))
  with check (author_id = (select auth.uid()));
create policy comments_delete_author_parent_owner_or_moderator on public.comments
  for delete to authenticated
  using (
    private.comment_visible(author_id, post_id, video_id)
    and (author_id = (select auth.uid())
         or private.parent_owner(post_id, video_id) = (select auth.uid())
         or private.is_moderator())
  );

-- likes ----------------------------------------------------------------------------------------
create policy likes_select_visible on public.likes
  for select to anon, authenticated
  using (private.like_visible(post_id, video_id));
create policy likes_insert_own on public.likes
  for insert to authenticated
  with check (user_id = (select auth.uid()) and private.can_engage(post_id, video_id));
create policy likes_delete_own on public.likes
  for delete to authenticated
  using (user_id = (select auth.uid()) and private.like_visible(post_id, video_id));
