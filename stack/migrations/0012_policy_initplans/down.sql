drop index private.notifications_actor_idx;
drop index private.notification_outbox_recipient_idx;
drop index private.notification_outbox_actor_idx;

alter policy videos_delete_owner_or_moderator on storage.objects
  using (bucket_id = 'videos'
         and private.video_object_visible(name)
         and (private.object_owner(name) = (select auth.uid()) or private.is_moderator()));

alter policy comments_delete_author_parent_owner_or_moderator on public.comments
  using (
    private.comment_visible(author_id, post_id, video_id)
    and (author_id = (select auth.uid())
         or private.parent_owner(post_id, video_id) = (select auth.uid())
         or private.is_moderator())
  );

alter policy videos_delete_owner_or_moderator on public.videos
  using (owner_id = (select auth.uid()) or private.is_moderator());
alter policy videos_update_owner_or_moderator on public.videos
  using (owner_id = (select auth.uid()) or private.is_moderator())
  with check (owner_id = (select auth.uid()) or private.is_moderator());
alter policy videos_insert_own on public.videos
  with check (owner_id = (select auth.uid()) and (hidden_at is null or private.is_moderator()));

alter policy posts_delete_author_or_moderator on public.posts
  using (author_id = (select auth.uid()) or private.is_moderator());
alter policy posts_update_author_or_moderator on public.posts
  using (author_id = (select auth.uid()) or private.is_moderator())
  with check (author_id = (select auth.uid()) or private.is_moderator());
alter policy posts_insert_own on public.posts
  with check (author_id = (select auth.uid()) and (hidden_at is null or private.is_moderator()));
