-- The database owns its rows' times, and profiles.time_zone is service_role's (decision 31).
--
-- Until now authenticated held table-wide INSERT on the social and content tables, so a user
-- could choose created_at and updated_at (a backdated like counts outside trending's 7-day
-- window, a future-dated post sorts first forever) and insert their profile with a time zone of
-- their choosing, which decision 31 says only service_role sets. INSERT becomes column-wise:
-- every column but those. An insert naming one of them is refused (42501, no privilege), one
-- leaving them out gets the defaults. service_role keeps everything (decision 11).
-- (An update of created_at is already refused by the column guards; updated_at and time_zone
-- are not in the API roles' UPDATE grants.)

revoke insert on public.profiles, public.follows, public.blocks,
  public.posts, public.videos, public.comments, public.likes from authenticated;

grant insert (id, handle, display_name, bio, privacy, sober_since)
  on public.profiles to authenticated;
grant insert (follower_id, followee_id, status) on public.follows to authenticated;
grant insert (blocker_id, blocked_id) on public.blocks to authenticated;
grant insert (id, author_id, body, hidden_at) on public.posts to authenticated;
grant insert (id, owner_id, title, description, storage_path, hidden_at)
  on public.videos to authenticated;
grant insert (id, author_id, post_id, video_id, body) on public.comments to authenticated;
grant insert (id, user_id, post_id, video_id) on public.likes to authenticated;

-- A deletion request is due a grace period after it was made (decision 29): a chosen
-- requested_at would skip the grace period (past) or postpone the deletion (future).
revoke insert on public.account_deletion_requests from authenticated;
grant insert (user_id) on public.account_deletion_requests to authenticated;
