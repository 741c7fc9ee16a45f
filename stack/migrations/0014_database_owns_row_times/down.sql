-- Back to table-wide INSERT for authenticated (times and time zone chosen by the writer).
revoke insert on public.profiles, public.follows, public.blocks,
  public.posts, public.videos, public.comments, public.likes from authenticated;
grant insert on public.profiles, public.follows, public.blocks,
  public.posts, public.videos, public.comments, public.likes to authenticated;
revoke insert on public.account_deletion_requests from authenticated;
grant insert on public.account_deletion_requests to authenticated;
