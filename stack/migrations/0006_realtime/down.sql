alter publication supabase_realtime
  drop table public.posts, public.videos, public.comments, public.likes, public.follows;
