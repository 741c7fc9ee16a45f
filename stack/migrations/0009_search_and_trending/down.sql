drop index public.likes_created_idx;
drop materialized view analytics.trending_posts;
drop schema analytics;
drop function public.search_posts(text, integer);
drop function private.search_post_ids(tsquery, integer);
drop index public.posts_search_idx;
alter table public.posts drop column search;
