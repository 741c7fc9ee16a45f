"""Planted value defects: migrations that break docs/access-rules.md in the values of rows a
viewer may read, or in the row a write leaves, without opening a single matrix cell. The
selftests apply one to a scratch database and assert the value-level oracles (non-interference,
canaries, the row after the write) name exactly its change, viewer, column or cell."""

from __future__ import annotations

# A follower count on profiles, kept by a trigger that counts pending follows too.
PENDING_FOLLOWER_COUNT = """
alter table public.profiles add column follower_count integer not null default 0;
create function private.count_followers() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    update public.profiles set follower_count = follower_count + 1 where id = new.followee_id;
    return new;
  end if;
  update public.profiles set follower_count = follower_count - 1 where id = old.followee_id;
  return old;
end $$;
create trigger count_followers after insert or delete on public.follows
  for each row execute function private.count_followers();
"""

# Every profile's handle copied into a view that runs as its owner (no RLS of profiles).
COPIED_HANDLE = """
create view public.member_directory as select p.id, p.handle from public.profiles p;
grant select on public.member_directory to anon, authenticated;
"""

# A preview of the author's latest post text on their profile, hidden posts included.
HIDDEN_PREVIEW = """
alter table public.profiles add column latest_post text;
create function private.keep_latest_post() returns trigger language plpgsql as $$
begin
  update public.profiles set latest_post = left(new.body, 60) where id = new.author_id;
  return new;
end $$;
create trigger keep_latest_post after insert or update of body on public.posts
  for each row execute function private.keep_latest_post();
"""

# A function every viewer may call that fails only on a world with markers in it, its error
# quoting a hidden post (as a real Storage API's storage.search failed on an argument only once
# objects existed): the failure's text is what the viewer reads from it.
HIDDEN_TEXT_IN_FUNCTION_ERROR = """
create function public.hidden_teaser() returns integer language plpgsql stable
  security definer set search_path = '' as $$
declare
  found text;
begin
  select p.body into found from public.posts p
   where p.hidden_at is not null and p.body ~ 'cnry' order by p.id limit 1;
  if found is not null then
    raise exception 'teaser unavailable: %', found;
  end if;
  return 0;
end $$;
grant execute on function public.hidden_teaser() to anon, authenticated;
"""

# A trigger that runs after the column guard (triggers fire in name order) and clears
# hidden_at whenever the author edits the body: the guard checked a row the write never left.
CLEARS_HIDDEN_AFTER_GUARD = """
create function private.touch_post() returns trigger language plpgsql as $$
begin
  if new.body is distinct from old.body then
    new.hidden_at := null;
  end if;
  return new;
end $$;
create trigger zz_touch_post before update on public.posts
  for each row execute function private.touch_post();
"""

# A trigger that refuses a moderator's edit of someone else's post body silently (the request
# sees no row updated) but first touches the row as the definer: a refused write that wrote.
SILENT_REFUSAL_THAT_WRITES = """
create function private.soft_refuse() returns trigger language plpgsql security definer
  set search_path = '' as $$
begin
  if pg_trigger_depth() = 1 and new.body is distinct from old.body
     and old.author_id is distinct from auth.uid() and private.is_moderator() then
    update public.posts set updated_at = now() where id = old.id;
    return null;
  end if;
  return new;
end $$;
create trigger aa_soft_refuse before update on public.posts
  for each row execute function private.soft_refuse();
"""

# An open private broadcast channel: every signed-in user may listen to any 'room:' topic,
# which no rule opens to anyone (docs/access-decisions.md, "Realtime channels").
OPEN_PRIVATE_BROADCAST = """
create policy open_rooms on realtime.messages for select to authenticated
  using (extension = 'broadcast' and realtime.topic() like 'room:%');
"""

# An access token hook (granted to supabase_auth_admin, as GoTrue calls it) that makes a user a
# moderator when their own user_metadata says so.
TRUSTING_TOKEN_HOOK = """
create function public.custom_access_token_hook(event jsonb) returns jsonb
  language plpgsql stable set search_path = '' as $$
declare
  claims jsonb := event -> 'claims';
begin
  if claims -> 'user_metadata' ->> 'role' = 'moderator' then
    claims := jsonb_set(claims, '{app_metadata,role}', '"moderator"');
  end if;
  return jsonb_set(event, '{claims}', claims);
end $$;
revoke execute on function public.custom_access_token_hook(jsonb) from public, anon, authenticated;
grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;
"""

# The same trust one call deeper, in a hook no grant names but the auth settings do.
TRUSTING_HOOK_HELPER = """
create function private.metadata_role(claims jsonb) returns text
  language sql stable set search_path = '' as $$ select claims -> 'user_metadata' ->> 'role' $$;
create function private.token_hook(event jsonb) returns jsonb
  language sql stable set search_path = '' as $$
  select case when private.metadata_role(event -> 'claims') = 'moderator'
    then jsonb_set(event, '{claims,app_metadata,role}', '"moderator"') else event end $$;
"""

# A column the author may set on INSERT only (an insert grant on it, no update grant), which
# decides what others see. (Since migration 0014 INSERT is granted column by column.)
INSERT_ONLY_FEATURED = """
alter table public.posts add column featured boolean not null default false;
grant insert (featured) on public.posts to authenticated;
"""

# A column no API role writes, which a policy trusts: only service could set it, no case does.
TRUSTED_VERIFIED = """
alter table public.profiles add column verified boolean not null default false;
do $$
declare cols text;
begin
  select string_agg(quote_ident(attname), ', ') into cols from pg_attribute
  where attrelid = 'public.profiles'::regclass and attnum > 0 and not attisdropped
    and attname <> 'verified' and attgenerated = '';
  revoke insert on public.profiles from authenticated;
  execute format('grant insert (%s) on public.profiles to authenticated', cols);
end $$;
create policy profiles_read_verified on public.profiles for select to anon using (verified);
"""

# The same trust through a helper a posts policy calls.
TRUSTED_VERIFIED_VIA_HELPER = TRUSTED_VERIFIED.replace(
    "create policy profiles_read_verified on public.profiles for select to anon using (verified);",
    """create function private.author_verified(uid uuid) returns boolean
  language sql stable security definer set search_path = ''
  as $f$ select p.verified from public.profiles p where p.id = uid $f$;
create policy posts_read_verified on public.posts for select to anon
  using (private.author_verified(author_id));""")

# A count of the likes a user gave, callable by every API role and run as its definer: it
# counts likes on parents the caller may not see (a private user's likes included).
LIKES_GIVEN_COUNT = """
create function public.likes_given(user_id uuid) returns bigint language sql stable
  security definer set search_path = '' as $$
  select count(*) from public.likes l where l.user_id = likes_given.user_id
$$;
grant execute on function public.likes_given(uuid) to anon, authenticated;
"""

# A trigger refusing comments on hidden posts whose error detail quotes the hidden post's text
# (it runs as its definer, before the policies, for whoever asks).
HIDDEN_TEXT_IN_REFUSAL = """
create function private.no_comments_on_hidden() returns trigger language plpgsql
  security definer set search_path = '' as $$
declare
  hidden_body text;
begin
  select p.body into hidden_body from public.posts p
   where p.id = new.post_id and p.hidden_at is not null;
  if found then
    raise exception using errcode = '42501', message = 'comments are closed',
      detail = format('the post "%s" is hidden', hidden_body);
  end if;
  return new;
end $$;
create trigger aa_no_comments_on_hidden before insert on public.comments
  for each row execute function private.no_comments_on_hidden();
"""

# A storage policy letting every signed-in user list every clip: a stranger lists the object
# names of a private owner's folder once the owner uploads.
CLIPS_LISTED_TO_ALL = """
create policy list_all_clips on storage.objects for select to authenticated
  using (bucket_id = 'videos');
"""
