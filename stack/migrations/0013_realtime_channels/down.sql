drop policy if exists live_room_send on realtime.messages;
drop policy if exists live_room_receive on realtime.messages;
drop function private.live_room_owner(text);
