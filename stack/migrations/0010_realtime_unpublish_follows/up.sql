-- Follows leave the Realtime publication (docs/access-decisions.md, decision 16).
-- Realtime cannot re-check RLS for a DELETE: it sends the deleted row's primary key to every
-- subscriber of the table. A follow's key is the pair (follower_id, followee_id), so every
-- subscriber of follows would learn who stopped following whom, pending requests to private
-- users and follows of users who blocked them included. Posts, videos, comments and likes stay
-- published: their key is an opaque id.
alter publication supabase_realtime drop table public.follows;
