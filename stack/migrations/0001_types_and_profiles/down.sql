drop table public.profiles;
drop function private.guard_profile_update();
drop function private.set_updated_at();
drop function private.is_moderator();
drop type public.follow_status;
drop type public.privacy_level;
drop schema private;
