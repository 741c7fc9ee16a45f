-- Posts, videos, comments, likes.

create table public.posts (
  id uuid primary key default gen_random_uuid(),
  author_id uuid not null references public.profiles (id) on delete cascade,
  body text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  hidden_at timestamptz
);
create index posts_author_created_idx on public.posts (author_id, created_at desc);
alter table public.posts enable row level security;

create table public.videos (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references public.profiles (id) on delete cascade,
  title text not null,
  description text,
  storage_path text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  hidden_at timestamptz
);
create index videos_owner_created_idx on public.videos (owner_id, created_at desc);
-- Storage policies look a video up by the object it points at.
create index videos_storage_path_idx on public.videos (storage_path) where storage_path is not null;
alter table public.videos enable row level security;

create table public.comments (
  id uuid primary key default gen_random_uuid(),
  author_id uuid not null references public.profiles (id) on delete cascade,
  post_id uuid references public.posts (id) on delete cascade,
  video_id uuid references public.videos (id) on delete cascade,
  body text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint comments_one_parent check (num_nonnulls(post_id, video_id) = 1)
);
create index comments_post_created_idx on public.comments (post_id, created_at) where post_id is not null;
create index comments_video_created_idx on public.comments (video_id, created_at) where video_id is not null;
create index comments_author_idx on public.comments (author_id);
alter table public.comments enable row level security;

create table public.likes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.profiles (id) on delete cascade,
  post_id uuid references public.posts (id) on delete cascade,
  video_id uuid references public.videos (id) on delete cascade,
  created_at timestamptz not null default now(),
  constraint likes_one_parent check (num_nonnulls(post_id, video_id) = 1),
  constraint likes_user_post_key unique (user_id, post_id),
  constraint likes_user_video_key unique (user_id, video_id)
);
create index likes_post_idx on public.likes (post_id) where post_id is not null;
create index likes_video_idx on public.likes (video_id) where video_id is not null;
alter table public.likes enable row level security;

-- Column guards. Runs as the caller. A row's id (its key) never changes, whoever asks. The other
-- checks hold for the API roles (anon, authenticated); service_role and admins pass through.
-- Posts and videos: the owner column and created_at never change; hidden_at is changed only by
-- a moderator; a moderator who is not the author changes nothing but hidden_at.
create function private.guard_post_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
declare
  moderator boolean;
begin
  if new.id is distinct from old.id then
    raise exception using errcode = '42501', message = 'posts: id never changes';
  end if;
  if current_user::text not in ('anon', 'authenticated') then
    return new;
  end if;
  if new.author_id is distinct from old.author_id
     or new.created_at is distinct from old.created_at then
    raise exception using errcode = '42501', message = 'posts: author_id and created_at never change';
  end if;
  moderator := private.is_moderator();
  if new.hidden_at is distinct from old.hidden_at and not moderator then
    raise exception using errcode = '42501', message = 'posts: only a moderator sets or clears hidden_at';
  end if;
  if moderator and old.author_id is distinct from auth.uid()
     and new.body is distinct from old.body then
    raise exception using errcode = '42501',
      message = 'posts: a moderator who is not the author changes only hidden_at';
  end if;
  return new;
end
$fn$;

create function private.guard_video_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
declare
  moderator boolean;
begin
  if new.id is distinct from old.id then
    raise exception using errcode = '42501', message = 'videos: id never changes';
  end if;
  if current_user::text not in ('anon', 'authenticated') then
    return new;
  end if;
  if new.owner_id is distinct from old.owner_id
     or new.created_at is distinct from old.created_at then
    raise exception using errcode = '42501', message = 'videos: owner_id and created_at never change';
  end if;
  moderator := private.is_moderator();
  if new.hidden_at is distinct from old.hidden_at and not moderator then
    raise exception using errcode = '42501', message = 'videos: only a moderator sets or clears hidden_at';
  end if;
  if moderator and old.owner_id is distinct from auth.uid()
     and (new.title is distinct from old.title
          or new.description is distinct from old.description
          or new.storage_path is distinct from old.storage_path) then
    raise exception using errcode = '42501',
      message = 'videos: a moderator who is not the owner changes only hidden_at';
  end if;
  return new;
end
$fn$;

-- Comments: only the body changes.
create function private.guard_comment_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  if new.id is distinct from old.id then
    raise exception using errcode = '42501', message = 'comments: id never changes';
  end if;
  if current_user::text not in ('anon', 'authenticated') then
    return new;
  end if;
  if new.author_id is distinct from old.author_id
     or new.post_id is distinct from old.post_id
     or new.video_id is distinct from old.video_id
     or new.created_at is distinct from old.created_at then
    raise exception using errcode = '42501', message = 'comments: only the body of a comment changes';
  end if;
  return new;
end
$fn$;

-- Likes are never updated through the API (no UPDATE grant); their id never changes.
create function private.guard_like_update() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  if new.id is distinct from old.id then
    raise exception using errcode = '42501', message = 'likes: id never changes';
  end if;
  return new;
end
$fn$;

create trigger guard_columns before update on public.likes
  for each row execute function private.guard_like_update();
create trigger guard_columns before update on public.posts
  for each row execute function private.guard_post_update();
create trigger set_updated_at before update on public.posts
  for each row execute function private.set_updated_at();
create trigger guard_columns before update on public.videos
  for each row execute function private.guard_video_update();
create trigger set_updated_at before update on public.videos
  for each row execute function private.set_updated_at();
create trigger guard_columns before update on public.comments
  for each row execute function private.guard_comment_update();
create trigger set_updated_at before update on public.comments
  for each row execute function private.set_updated_at();

-- Grants. hidden_at is updatable at the column level; the guard decides who may change it.
revoke all on public.posts, public.videos, public.comments, public.likes
  from anon, authenticated, service_role;
grant select on public.posts, public.videos, public.comments, public.likes to anon;
grant select, insert, delete on public.posts, public.videos, public.comments, public.likes
  to authenticated;
grant update (body, hidden_at) on public.posts to authenticated;
grant update (title, description, storage_path, hidden_at) on public.videos to authenticated;
grant update (body) on public.comments to authenticated;
-- Likes are never updated (decision 6).
grant all on public.posts, public.videos, public.comments, public.likes to service_role;

revoke all on all functions in schema private from public;
grant execute on function private.is_moderator() to anon, authenticated, service_role;
