drop trigger outbox_event on public.follows;
drop trigger outbox_event on public.comments;
drop trigger outbox_event on public.likes;
drop function private.outbox_follow();
drop function private.outbox_reaction();
drop table private.notifications;
drop table private.notification_outbox;
alter table public.profiles drop column time_zone;
