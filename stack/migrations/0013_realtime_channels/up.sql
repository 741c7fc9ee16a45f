-- Private Realtime channels: the live room of a user's channel, topic 'live:<user id>'
-- (docs/access-decisions.md, "Realtime channels"). Realtime Authorization decides a join by
-- selecting, as the user, rows of realtime.messages it inserted for the topic (receive) and a
-- send by inserting one as the user, with realtime.topic() set to the channel's topic.
-- Receiving (broadcast and presence) follows the reading rule of the owner's visible content;
-- sending (broadcast, and tracking one's presence) that of commenting on it: signed in, able
-- to see it, and no block between the sender and the owner. Every other private topic is
-- refused (no policy admits it).

-- The owner of a live room topic, or null for any other topic.
create function private.live_room_owner(room text) returns uuid
  language sql immutable
  set search_path = ''
as $fn$
  select case
    when room ~ '^live:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then substr(room, 6)::uuid
  end
$fn$;
grant execute on function private.live_room_owner(text) to anon, authenticated, service_role;

-- Realtime creates realtime.messages itself on a real server; where it has not yet run, the
-- policies wait for the next migration run (the channel matrix then reports every refusal).
do $rt$
begin
  if to_regclass('realtime.messages') is null then
    raise notice 'realtime.messages is missing: live room policies not created';
    return;
  end if;
  create policy live_room_receive on realtime.messages for select to anon, authenticated
    using (
      extension in ('broadcast', 'presence')
      and private.content_visible(private.live_room_owner((select realtime.topic())), null)
    );
  create policy live_room_send on realtime.messages for insert to authenticated
    with check (
      extension in ('broadcast', 'presence')
      and private.content_visible(private.live_room_owner((select realtime.topic())), null)
      and not private.has_block((select auth.uid()),
                                private.live_room_owner((select realtime.topic())))
    );
end
$rt$;
