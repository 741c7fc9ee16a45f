-- Full-text search over posts and a trending view for analytics.

-- Search: a stored tsvector kept by PostgreSQL itself, and a GIN index for `@@` queries
-- (PostgREST's fts/plfts/phfts/wfts filters on `search`).
alter table public.posts
  add column search tsvector generated always as (to_tsvector('english'::regconfig, body)) stored;
create index posts_search_idx on public.posts using gin (search);

-- Searching goes through an RPC. `@@` is not leakproof, so in a plain RLS-guarded read of
-- posts (GET /posts?search=fts.x) PostgreSQL evaluates the policy on every row before the text
-- condition and never uses the GIN index: a sequential scan of all posts, the policy function
-- called per row (the plan check of suites/performance reports it). Here a helper finds the
-- matching posts by index, newest first, and keeps those that private.content_visible (the
-- posts policy's own predicate) lets the viewer read; the API function then returns those
-- rows through RLS again.
create function private.search_post_ids(query tsquery, max_rows integer)
  returns setof uuid
  language sql stable security definer
  set search_path = ''
as $fn$
  select m.id
  from (
    select p.id, p.author_id, p.hidden_at
    from public.posts p
    where p.search @@ query
    order by p.created_at desc
    offset 0  -- sort the matches first, then check visibility only until enough are found
  ) m
  where private.content_visible(m.author_id, m.hidden_at)
  limit least(greatest(max_rows, 0), 100)
$fn$;

create function public.search_posts(query text, max_rows integer default 20)
  returns setof public.posts
  language sql stable
  set search_path = ''
as $fn$
  select p.*
  from public.posts p
  where p.id in (
    select private.search_post_ids(pg_catalog.websearch_to_tsquery('english', query), max_rows))
  order by p.created_at desc
$fn$;

revoke all on function private.search_post_ids(tsquery, integer) from public;
grant execute on function private.search_post_ids(tsquery, integer)
  to anon, authenticated, service_role;
revoke all on function public.search_posts(text, integer) from public;
grant execute on function public.search_posts(text, integer) to anon, authenticated, service_role;

-- Trending: likes per post over the last 7 days. A materialized view has no row level
-- security, so it lives in a schema PostgREST does not expose and the API roles cannot read.
-- It is refreshed by a scheduled job (service role or an admin), not by requests.
create schema analytics;
revoke all on schema analytics from public;
grant usage on schema analytics to service_role;

create materialized view analytics.trending_posts as
  select l.post_id, count(*)::bigint as likes_7d, max(l.created_at) as last_liked_at
  from public.likes l
  where l.post_id is not null
    and l.created_at >= now() - interval '7 days'
  group by l.post_id
with no data;
-- Unique index: lets `refresh materialized view concurrently` run, and serves lookups by post.
create unique index trending_posts_post_idx on analytics.trending_posts (post_id);
create index trending_posts_rank_idx on analytics.trending_posts (likes_7d desc, post_id);

revoke all on analytics.trending_posts from public, anon, authenticated;
grant select on analytics.trending_posts to service_role;

-- Likes in the window are found by time.
create index likes_created_idx on public.likes (created_at) where post_id is not null;

refresh materialized view analytics.trending_posts;
