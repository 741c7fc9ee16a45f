-- Follows and blocks.

create table public.follows (
  follower_id uuid not null references public.profiles (id) on delete cascade,
  followee_id uuid not null references public.profiles (id) on delete cascade,
  status public.follow_status not null,
  created_at timestamptz not null default now(),
  primary key (follower_id, followee_id),
  constraint follows_not_self check (follower_id <> followee_id)
);
-- The pk serves "whom does X follow"; policies also ask "who follows X (accepted?)".
create index follows_followee_status_idx on public.follows (followee_id, status);
alter table public.follows enable row level security;

create table public.blocks (
  blocker_id uuid not null references public.profiles (id) on delete cascade,
  blocked_id uuid not null references public.profiles (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (blocker_id, blocked_id),
  constraint blocks_not_self check (blocker_id <> blocked_id)
);
-- Blocks are looked up both ways: the pk covers (blocker, blocked), this the reverse.
create index blocks_blocked_blocker_idx on public.blocks (blocked_id, blocker_id);
alter table public.blocks enable row level security;

-- Column guard for follows. The pair (the key) never changes, whoever asks. For the API roles
-- an update is exactly one thing: the followed user moving the status pending -> accepted
-- (decision 4); anything else, a no-op rewrite included, is refused.
create function private.guard_follow_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  if new.follower_id is distinct from old.follower_id
     or new.followee_id is distinct from old.followee_id then
    raise exception using errcode = '42501', message = 'follows: follower_id and followee_id never change';
  end if;
  if current_user::text not in ('anon', 'authenticated') then
    return new;
  end if;
  if new.created_at is distinct from old.created_at
     or not (old.status = 'pending' and new.status = 'accepted'
             and old.followee_id = auth.uid()) then
    raise exception using errcode = '42501',
      message = 'follows: only the followed user moves a follow from pending to accepted';
  end if;
  return new;
end
$fn$;

-- Blocks are never updated by the API (no UPDATE grant); their key never changes for anyone.
create function private.guard_block_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  if new.blocker_id is distinct from old.blocker_id
     or new.blocked_id is distinct from old.blocked_id then
    raise exception using errcode = '42501', message = 'blocks: blocker_id and blocked_id never change';
  end if;
  return new;
end
$fn$;

create trigger guard_columns before update on public.blocks
  for each row execute function private.guard_block_update();

create trigger guard_columns before update on public.follows
  for each row execute function private.guard_follow_update();

-- Creating a block removes follows both ways. SECURITY DEFINER so it does not depend on the
-- blocker's own delete rights.
create function private.remove_follows_on_block() returns trigger
  language plpgsql security definer
  set search_path = ''
as $fn$
begin
  delete from public.follows f
  where (f.follower_id = new.blocker_id and f.followee_id = new.blocked_id)
     or (f.follower_id = new.blocked_id and f.followee_id = new.blocker_id);
  return new;
end
$fn$;

create trigger remove_follows after insert on public.blocks
  for each row execute function private.remove_follows_on_block();

revoke all on public.follows from anon, authenticated, service_role;
grant select on public.follows to anon;
grant select, insert, delete on public.follows to authenticated;
grant update (status) on public.follows to authenticated;
grant all on public.follows to service_role;

-- Blocks are never updated (decision 6).
revoke all on public.blocks from anon, authenticated, service_role;
grant select on public.blocks to anon;
grant select, insert, delete on public.blocks to authenticated;
grant all on public.blocks to service_role;

revoke all on all functions in schema private from public;
grant execute on function private.is_moderator() to anon, authenticated, service_role;
