-- Stream content and social-graph changes through Realtime (each change is re-checked against
-- the subscriber's RLS by Realtime itself).
alter publication supabase_realtime
  add table public.posts, public.videos, public.comments, public.likes, public.follows;
