"""The reads SoberTube's app makes, as the SQL PostgREST generates for them.

Each query is the statement PostgREST runs for one HTTP request (its read wrapper around the
filtered, ordered, limited source), to be run through `RequestRunner` as a signed-in user so
that RLS applies exactly as in production. Trending is not an API read: the analytics view
lives outside the exposed schemas and is read and refreshed by the service side.
"""

from __future__ import annotations

import dataclasses
import uuid

from psycopg import sql

from soberharness.clients.postgrest_sql import Request
from soberharness.world.entities import Role, Viewer
from soberharness.world.scale import Probes

PAGE = 20


@dataclasses.dataclass(frozen=True)
class AppQuery:
    """One request of the app: a name for reports, the HTTP request it stands for, its SQL."""

    name: str
    http: str
    request: Request


def postgrest_read(source: sql.Composable) -> sql.Composed:
    """PostgREST's read wrapper: the rows of `source` as one JSON body, plus the page count."""
    return sql.SQL(
        "WITH pgrst_source AS ({source}) "
        "SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
        "coalesce(json_agg(_postgrest_t), '[]') AS body, "
        "nullif(current_setting('response.headers', true), '') AS response_headers, "
        "nullif(current_setting('response.status', true), '') AS response_status, "
        "'' AS response_inserted "
        "FROM (SELECT * FROM pgrst_source) _postgrest_t"
    ).format(source=source)


def _get(path: str, source: sql.Composable) -> Request:
    return Request(query=postgrest_read(source), method="GET", path=path)


def home_feed(viewer_id: str, page: int = 0) -> AppQuery:
    """GET /posts?select=id,author_id,body,created_at,follows!inner()&follows.follower_id=eq.<me>
    &order=created_at.desc&limit=20: posts of accounts the viewer follows (accepted), newest
    first. The embedded inner filter becomes a semi-join on follows."""
    source = sql.SQL(
        'SELECT "public"."posts"."id", "public"."posts"."author_id", "public"."posts"."body", '
        '"public"."posts"."created_at" FROM "public"."posts" '
        'WHERE EXISTS (SELECT 1 FROM "public"."follows" AS "follows_1" '
        'WHERE "follows_1"."followee_id" = "public"."posts"."author_id" '
        'AND "follows_1"."follower_id" = {me} AND "follows_1"."status" = {accepted}) '
        'ORDER BY "public"."posts"."created_at" DESC LIMIT {limit} OFFSET {offset}'
    ).format(me=sql.Literal(viewer_id), accepted=sql.Literal("accepted"),
             limit=sql.Literal(PAGE), offset=sql.Literal(page * PAGE))
    return AppQuery("home_feed", "GET /posts (followed accounts, newest first)",
                    _get("/posts", source))


def profile_page(handle: str) -> AppQuery:
    """GET /profiles?handle=eq.<h>&select=*,posts(id,body,created_at)
    &posts.order=created_at.desc&posts.limit=20: a profile with its latest posts."""
    source = sql.SQL(
        'SELECT "public"."profiles"."id", "public"."profiles"."handle", '
        '"public"."profiles"."display_name", "public"."profiles"."bio", '
        '"public"."profiles"."privacy", "public"."profiles"."sober_since", '
        'COALESCE("profiles_posts_1"."profiles_posts_1", \'[]\') AS "posts" '
        'FROM "public"."profiles" '
        'LEFT JOIN LATERAL (SELECT json_agg("profiles_posts_1") AS "profiles_posts_1" FROM '
        '(SELECT "posts_1"."id", "posts_1"."body", "posts_1"."created_at" '
        'FROM "public"."posts" AS "posts_1" '
        'WHERE "posts_1"."author_id" = "public"."profiles"."id" '
        'ORDER BY "posts_1"."created_at" DESC LIMIT {limit} OFFSET 0) AS "profiles_posts_1") '
        'AS "profiles_posts_1" ON TRUE '
        'WHERE "public"."profiles"."handle" = {handle}'
    ).format(handle=sql.Literal(handle), limit=sql.Literal(PAGE))
    return AppQuery("profile_page", "GET /profiles?handle=eq.… with latest posts",
                    _get("/profiles", source))


def comment_thread(post_id: str, limit: int = 50) -> AppQuery:
    """GET /comments?post_id=eq.<p>&order=created_at.asc&limit=50."""
    source = sql.SQL(
        'SELECT "public"."comments"."id", "public"."comments"."author_id", '
        '"public"."comments"."body", "public"."comments"."created_at" '
        'FROM "public"."comments" WHERE "public"."comments"."post_id" = {post} '
        'ORDER BY "public"."comments"."created_at" ASC LIMIT {limit} OFFSET 0'
    ).format(post=sql.Literal(post_id), limit=sql.Literal(limit))
    return AppQuery("comment_thread", "GET /comments?post_id=eq.… (oldest first)",
                    _get("/comments", source))


def like_count(post_id: str) -> AppQuery:
    """GET /likes?post_id=eq.<p>&select=count(): the number of likes of a post."""
    source = sql.SQL(
        'SELECT pg_catalog.count(*) AS "count" FROM "public"."likes" '
        'WHERE "public"."likes"."post_id" = {post}'
    ).format(post=sql.Literal(post_id))
    return AppQuery("like_count", "GET /likes?post_id=eq.…&select=count()",
                    _get("/likes", source))


def search_posts(term: str) -> AppQuery:
    """GET /rpc/search_posts?query=<term>: full-text search through the RPC of migration 0009
    (matches by the GIN index, visibility checked only until a page is full)."""
    source = sql.SQL(
        'SELECT "pgrst_call"."id", "pgrst_call"."author_id", "pgrst_call"."body", '
        '"pgrst_call"."created_at" '
        'FROM "public"."search_posts"("query" := {term}, "max_rows" := {limit}) pgrst_call'
    ).format(term=sql.Literal(term), limit=sql.Literal(PAGE))
    return AppQuery("search_posts", "GET /rpc/search_posts?query=…",
                    _get("/rpc/search_posts", source))


def search_posts_direct(term: str) -> AppQuery:
    """GET /posts?search=fts(english).<term>&order=created_at.desc&limit=20: the plain filter.
    Under RLS it cannot use the GIN index (`@@` is not leakproof): kept to show that finding."""
    source = sql.SQL(
        'SELECT "public"."posts"."id", "public"."posts"."author_id", "public"."posts"."body", '
        '"public"."posts"."created_at" FROM "public"."posts" '
        'WHERE "public"."posts"."search" @@ to_tsquery({config}, {term}) '
        'ORDER BY "public"."posts"."created_at" DESC LIMIT {limit} OFFSET 0'
    ).format(config=sql.Literal("english"), term=sql.Literal(term), limit=sql.Literal(PAGE))
    return AppQuery("search_posts_direct", "GET /posts?search=fts(english).…",
                    _get("/posts", source))


def trending_top() -> AppQuery:
    """The service side reads the top of the trending view (not an API route)."""
    source = sql.SQL(
        "SELECT t.post_id, t.likes_7d FROM analytics.trending_posts t "
        "ORDER BY t.likes_7d DESC, t.post_id LIMIT {limit}"
    ).format(limit=sql.Literal(PAGE))
    return AppQuery("trending_top", "service: top of analytics.trending_posts",
                    Request(query=source, method="GET", path="/"))


TRENDING_REFRESH = sql.SQL("REFRESH MATERIALIZED VIEW analytics.trending_posts")


def reference() -> AppQuery:
    """Fixed server work that depends on nothing in the schema: timed next to every benchmark
    round, it measures how fast the machine is at that moment (see checker.regression)."""
    source = sql.SQL(
        "SELECT count(*) FROM generate_series(1, 4000) AS g "
        "WHERE md5(g::text) LIKE 'a%' OR pg_catalog.length(g::text) > 3"
    )
    return AppQuery("reference", "fixed CPU work (machine speed reference)",
                    Request(query=source, method="GET", path="/"))


QUERY_NAMES = ("home_feed", "profile_page", "comment_thread", "like_count", "search_posts",
               "trending_top")


def probe_queries(probe: Probes) -> dict[str, tuple[AppQuery, Viewer]]:
    """The benchmarked reads, each with the viewer it runs as, for the data's probe rows."""
    reader = Viewer(Role.AUTHENTICATED, uuid.UUID(probe.feed_user))
    return {
        "home_feed": (home_feed(probe.feed_user), reader),
        "profile_page": (profile_page(probe.profile_handle), reader),
        "comment_thread": (comment_thread(probe.thread_post), reader),
        "like_count": (like_count(probe.liked_post), reader),
        "search_posts": (search_posts(probe.search_term), reader),
        "trending_top": (trending_top(), Viewer.service()),
    }
