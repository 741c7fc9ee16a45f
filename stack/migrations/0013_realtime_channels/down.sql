do $rt$
begin
  if to_regclass('realtime.messages') is not null then
    drop policy if exists live_room_send on realtime.messages;
    drop policy if exists live_room_receive on realtime.messages;
  end if;
end
$rt$;
drop function private.live_room_owner(text);
