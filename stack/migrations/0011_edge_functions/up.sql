-- What the edge functions (stack/functions) need in the database.
--
-- 1. profiles.time_zone: the IANA zone the `milestones` function counts days in. Read with the
--    profile (same rules); only service_role changes it (no API role holds UPDATE on it).
-- 2. The notification outbox (seed 4.1.6): likes, comments and follows write one outbox row
--    per event by trigger, in the writing transaction; the `notify` function drains it as
--    service_role and delivers each event at most once into private.notifications (unique
--    event_id), withholding what the recipient may not see (docs/access-decisions.md, D30).
--    Both tables live in `private` (not exposed): no API role holds a privilege on them.

alter table public.profiles
  add column time_zone text not null default 'UTC'
  constraint profiles_time_zone_shape
    check (length(time_zone) <= 64 and time_zone ~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$');

create table private.notification_outbox (
  id bigint generated always as identity primary key,
  kind text not null
    constraint notification_outbox_kind check (kind in ('like', 'comment', 'follow', 'follow_request', 'follow_accepted')),
  actor_id uuid not null references public.profiles (id) on delete cascade,
  recipient_id uuid not null references public.profiles (id) on delete cascade,
  source_table text not null
    constraint notification_outbox_source check (source_table in ('likes', 'comments', 'follows')),
  source_id uuid,  -- the like's or comment's id; null for follows (the pair is actor, recipient)
  created_at timestamptz not null default now(),
  processed_at timestamptz,
  outcome text constraint notification_outbox_outcome check (outcome in ('delivered', 'withheld')),
  constraint notification_outbox_not_self check (actor_id <> recipient_id)
);
create index notification_outbox_pending_idx on private.notification_outbox (id) where processed_at is null;
alter table private.notification_outbox enable row level security;

create table private.notifications (
  id bigint generated always as identity primary key,
  event_id bigint not null
    constraint notifications_event_once unique
    references private.notification_outbox (id) on delete cascade,
  recipient_id uuid not null references public.profiles (id) on delete cascade,
  actor_id uuid not null references public.profiles (id) on delete cascade,
  kind text not null,
  source_id uuid,
  created_at timestamptz not null default now(),
  read_at timestamptz
);
create index notifications_recipient_idx on private.notifications (recipient_id, created_at desc);
alter table private.notifications enable row level security;

revoke all on private.notification_outbox, private.notifications from public, anon, authenticated;
grant select, update on private.notification_outbox to service_role;
grant select, insert on private.notifications to service_role;

-- The event of a like or comment goes to the parent's owner; none for one's own parent.
create function private.outbox_reaction() returns trigger
  language plpgsql security definer
  set search_path = ''
as $fn$
declare
  -- likes name the actor user_id, comments author_id: read through jsonb, one function.
  actor uuid := (to_jsonb(new) ->> case tg_table_name when 'likes' then 'user_id' else 'author_id' end)::uuid;
  recipient uuid := private.parent_owner(new.post_id, new.video_id);
begin
  if recipient is not null and recipient <> actor then
    insert into private.notification_outbox (kind, actor_id, recipient_id, source_table, source_id)
    values (case tg_table_name when 'likes' then 'like' else 'comment' end,
            actor, recipient, tg_table_name, new.id);
  end if;
  return null;
end
$fn$;

-- A new follow tells the followee (a request when pending); an accepted request tells the
-- follower.
create function private.outbox_follow() returns trigger
  language plpgsql security definer
  set search_path = ''
as $fn$
begin
  if tg_op = 'INSERT' then
    insert into private.notification_outbox (kind, actor_id, recipient_id, source_table)
    values (case new.status when 'pending' then 'follow_request' else 'follow' end,
            new.follower_id, new.followee_id, 'follows');
  elsif old.status = 'pending' and new.status = 'accepted' then
    insert into private.notification_outbox (kind, actor_id, recipient_id, source_table)
    values ('follow_accepted', new.followee_id, new.follower_id, 'follows');
  end if;
  return null;
end
$fn$;

create trigger outbox_event after insert on public.likes
  for each row execute function private.outbox_reaction();
create trigger outbox_event after insert on public.comments
  for each row execute function private.outbox_reaction();
create trigger outbox_event after insert or update of status on public.follows
  for each row execute function private.outbox_follow();

revoke all on function private.outbox_reaction(), private.outbox_follow() from public;
