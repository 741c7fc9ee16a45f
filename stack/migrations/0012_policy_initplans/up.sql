-- Schema lints (issue 21): each policy below called private.is_moderator() once per row
-- (auth_rls_initplan). It takes no argument and is STABLE, so it answers the same for every row
-- of a statement: written (select private.is_moderator()) it runs once per statement, as an
-- InitPlan. The conditions are otherwise unchanged.
-- Also: the notification tables of 0011 get indexes on the foreign keys that had none
-- (unindexed_foreign_keys), so deleting a profile no longer scans them.

alter policy posts_insert_own on public.posts
  with check (author_id = (select auth.uid())
              and (hidden_at is null or (select private.is_moderator())));
alter policy posts_update_author_or_moderator on public.posts
  using (author_id = (select auth.uid()) or (select private.is_moderator()))
  with check (author_id = (select auth.uid()) or (select private.is_moderator()));
alter policy posts_delete_author_or_moderator on public.posts
  using (author_id = (select auth.uid()) or (select private.is_moderator()));

alter policy videos_insert_own on public.videos
  with check (owner_id = (select auth.uid())
              and (hidden_at is null or (select private.is_moderator())));
alter policy videos_update_owner_or_moderator on public.videos
  using (owner_id = (select auth.uid()) or (select private.is_moderator()))
  with check (owner_id = (select auth.uid()) or (select private.is_moderator()));
alter policy videos_delete_owner_or_moderator on public.videos
  using (owner_id = (select auth.uid()) or (select private.is_moderator()));

alter policy comments_delete_author_parent_owner_or_moderator on public.comments
  using (
    private.comment_visible(author_id, post_id, video_id)
    and (author_id = (select auth.uid())
         or private.parent_owner(post_id, video_id) = (select auth.uid())
         or (select private.is_moderator()))
  );

alter policy videos_delete_owner_or_moderator on storage.objects
  using (bucket_id = 'videos'
         and private.video_object_visible(name)
         and (private.object_owner(name) = (select auth.uid())
              or (select private.is_moderator())));

create index notification_outbox_actor_idx on private.notification_outbox (actor_id);
create index notification_outbox_recipient_idx on private.notification_outbox (recipient_id);
create index notifications_actor_idx on private.notifications (actor_id);
