drop trigger key_never_changes on public.likes;
drop trigger key_never_changes on public.comments;
drop trigger key_never_changes on public.videos;
drop trigger key_never_changes on public.posts;
drop trigger key_never_changes on public.blocks;
drop trigger key_never_changes on public.follows;
drop trigger key_never_changes on public.profiles;
drop function private.refuse_key_change();
