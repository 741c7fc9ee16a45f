drop table public.blocks;
drop table public.follows;
drop function private.remove_follows_on_block();
drop function private.guard_follow_update();
drop function private.guard_block_update();
