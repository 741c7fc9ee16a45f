drop table public.likes;
drop table public.comments;
drop table public.videos;
drop table public.posts;
drop function private.guard_comment_update();
drop function private.guard_video_update();
drop function private.guard_post_update();
drop function private.guard_like_update();
