"""A production-shaped SoberTube, generated from a seed and loaded with COPY.

Shape (every size is a parameter of ScaleSpec):
- users with privacy in fixed shares (default 70% public, 20% community, 10% private);
- a heavy-tailed follow graph: each user follows a few accounts (log-normal out-degree), and
  whom they follow is drawn with Zipf weights over a random popularity order, so a few accounts
  have very many followers; follows of private accounts are partly still pending;
- posts and videos whose authors are themselves Zipf-distributed (a few prolific posters),
  newest content denser than old; bodies drawn from a Zipf vocabulary (searchable text);
- comments and likes on Zipf-popular posts and videos, a little after their parent.

Everything random comes from one numpy Generator seeded by `spec.seed`; timestamps are offsets
before `spec.anchor` (default: today 00:00 UTC), so the same seed, sizes and anchor give the
same rows. Loading streams text COPY per table, parents first, in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from soberharness.errors import HarnessError

DAY = 86_400
CHUNK = 50_000  # rows formatted per COPY write

# A small recovery-themed vocabulary; the rest of the vocabulary is made of syllables.
_WORD_TEXT = """
    day sober recovery meeting sponsor step gratitude coffee walk morning night strong
    family friend hope tired proud month year week chip milestone craving relapse honest
    journal breathe calm run gym cook garden dog cat music song guitar read book prayer
    serenity courage change today tomorrow yesterday work job sleep dream clean clear water
    tea sunrise sunset beach mountain trail bike city home kitchen bread soup laugh cry hug
    support group share story listen learn grow heal patience kindness trust anniversary
    counselor therapy mindful meditation yoga forgive sorry thanks grateful brave fear anger
    peace joy love lonely together community service volunteer birthday celebrate cake
"""
_WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())
_SYLLABLES = "ka lo mi ne ru sa ti vo ze ba de fi go hu"


@dataclasses.dataclass(frozen=True)
class ScaleSpec:
    """How big and how shaped the generated SoberTube is."""

    users: int = 5_000
    posts: int = 50_000
    videos: int | None = None  # default posts // 20
    comments: int | None = None  # default posts // 2
    likes: int | None = None  # default posts
    follows_per_user: float = 12.0  # mean out-degree before de-duplication
    follow_skew: float = 0.8  # Zipf exponent of followee popularity
    author_skew: float = 0.7  # Zipf exponent of how much users post
    parent_skew: float = 0.9  # Zipf exponent of how popular a post/video is for comments/likes
    privacy_shares: tuple[float, float, float] = (0.7, 0.2, 0.1)  # public, community, private
    pending_share: float = 0.2  # share of follows of private accounts still pending
    hidden_share: float = 0.005  # share of posts/videos hidden by a moderator
    days: int = 365  # content spans this many days before the anchor
    seed: int = 1
    anchor: dt.datetime | None = None

    @property
    def n_videos(self) -> int:
        return self.posts // 20 if self.videos is None else self.videos

    @property
    def n_comments(self) -> int:
        return self.posts // 2 if self.comments is None else self.comments

    @property
    def n_likes(self) -> int:
        return self.posts if self.likes is None else self.likes

    @property
    def anchor_time(self) -> dt.datetime:
        if self.anchor is not None:
            return self.anchor.astimezone(dt.UTC)
        today = dt.datetime.now(dt.UTC).date()
        return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)

    def validate(self) -> None:
        if self.users < 2:
            raise HarnessError("scale: need at least 2 users")
        for name in ("posts", "n_videos", "n_comments", "n_likes"):
            if getattr(self, name) < 1:
                raise HarnessError(f"scale: {name} must be at least 1")
        if abs(sum(self.privacy_shares) - 1.0) > 1e-6 or min(self.privacy_shares) < 0:
            raise HarnessError("scale: privacy shares must be non-negative and sum to 1")


@dataclasses.dataclass(frozen=True)
class Probes:
    """Rows the benchmarks ask about, picked from the generated data (ids as text)."""

    feed_user: str  # a user with many (90th percentile) accepted followees
    profile_handle: str  # the most-followed public account
    profile_user: str
    thread_post: str  # the most-commented post of a public, visible author
    liked_post: str  # the most-liked post of a public, visible author
    search_term: str  # a mid-frequency word of the vocabulary


@dataclasses.dataclass
class ScaleData:
    """The generated rows as numpy columns (indices into the parent tables)."""

    spec: ScaleSpec
    user_ids: np.ndarray  # (n,) str uuids
    privacy: np.ndarray  # (n,) int 0 public, 1 community, 2 private
    user_created: np.ndarray  # (n,) datetime64[s]
    follow_src: np.ndarray
    follow_dst: np.ndarray
    follow_pending: np.ndarray  # bool
    follow_created: np.ndarray
    post_ids: np.ndarray
    post_author: np.ndarray
    post_body: np.ndarray  # index into bodies
    post_created: np.ndarray
    post_hidden: np.ndarray  # bool
    video_ids: np.ndarray
    video_owner: np.ndarray
    video_title: np.ndarray
    video_created: np.ndarray
    video_hidden: np.ndarray
    comment_ids: np.ndarray
    comment_author: np.ndarray
    comment_on_post: np.ndarray  # bool: post parent (else video)
    comment_parent: np.ndarray  # index into posts or videos
    comment_body: np.ndarray
    comment_created: np.ndarray
    like_ids: np.ndarray
    like_user: np.ndarray
    like_on_post: np.ndarray
    like_parent: np.ndarray
    like_created: np.ndarray
    bodies: list[str]
    vocabulary: list[str]

    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.user_ids),
            "follows": len(self.follow_src),
            "posts": len(self.post_ids),
            "videos": len(self.video_ids),
            "comments": len(self.comment_ids),
            "likes": len(self.like_ids),
        }


# -- generation --------------------------------------------------------------------------------
def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random version-4 UUIDs as text (deterministic from rng)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexes = raw.tobytes().hex()
    out = [
        f"{hexes[i:i + 8]}-{hexes[i + 8:i + 12]}-{hexes[i + 12:i + 16]}-"
        f"{hexes[i + 16:i + 20]}-{hexes[i + 20:i + 32]}"
        for i in range(0, 32 * n, 32)
    ]
    return np.array(out, dtype=object)


def _zipf_weights(n: int, skew: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf(skew) probabilities over n items, assigned to the items in a random order."""
    ranks = rng.permutation(n)
    weights = 1.0 / np.power(ranks + 1.0, skew)
    return weights / weights.sum()


def _draw(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probabilities p (inverse-CDF: fast for millions of draws)."""
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def _vocabulary(rng: np.random.Generator, size: int = 3_000) -> list[str]:
    syllables = _SYLLABLES.split()
    words = list(_WORDS)
    seen = set(words)
    while len(words) < size:
        k = int(rng.integers(2, 4))
        word = "".join(syllables[int(i)] for i in rng.integers(0, len(syllables), k))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _sentences(rng: np.random.Generator, vocab: list[str], count: int) -> list[str]:
    """`count` sentences of 5-24 words; word frequencies follow Zipf over the vocabulary order."""
    weights = 1.0 / np.power(np.arange(1, len(vocab) + 1, dtype=float), 1.05)
    weights /= weights.sum()
    lengths = rng.integers(5, 25, size=count)
    words = _draw(rng, weights, int(lengths.sum()))
    out: list[str] = []
    at = 0
    for n in lengths.tolist():
        out.append(" ".join(vocab[i] for i in words[at:at + n].tolist()))
        at += n
    return out


def _after(rng: np.random.Generator, start: np.ndarray, mean_hours: float,
           anchor: np.datetime64) -> np.ndarray:
    """A time a little (exponential delay) after each start, never after the anchor."""
    delay = rng.exponential(mean_hours * 3600.0, size=len(start)).astype("timedelta64[s]")
    return np.minimum(start + delay, anchor)


def _unique_pairs(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """Indices of the first occurrence of each (a, b) pair."""
    _, first = np.unique(a.astype(np.int64) * width + b, return_index=True)
    return np.sort(first)


def generate(spec: ScaleSpec) -> ScaleData:
    """All rows of a SoberTube of the given shape, deterministic from spec.seed."""
    spec.validate()
    rng = np.random.default_rng(spec.seed)
    anchor = np.datetime64(spec.anchor_time.replace(tzinfo=None), "s")
    span = spec.days * DAY

    # Users: created before any content window (accounts 0-2 years older than the span).
    n = spec.users
    user_ids = _uuids(rng, n)
    privacy = rng.choice(3, size=n, p=np.array(spec.privacy_shares))
    user_created = anchor - (span + rng.integers(0, 2 * 365 * DAY, size=n)).astype(
        "timedelta64[s]")

    # Follows: log-normal out-degree, Zipf popularity for the followee.
    sigma = 1.0
    mu = np.log(max(spec.follows_per_user, 0.1)) - sigma**2 / 2
    degree = np.minimum(rng.lognormal(mu, sigma, size=n).astype(np.int64), n - 1)
    src = np.repeat(np.arange(n, dtype=np.int64), degree)
    dst = _draw(rng, _zipf_weights(n, spec.follow_skew, rng), len(src))
    keep = src != dst
    src, dst = src[keep], dst[keep]
    first = _unique_pairs(src, dst, n)
    src, dst = src[first], dst[first]
    pending = (privacy[dst] == 2) & (rng.random(len(src)) < spec.pending_share)
    follow_created = anchor - rng.integers(0, span, size=len(src)).astype("timedelta64[s]")

    # Content: newer is denser (age = span * u^1.6).
    vocab = _vocabulary(rng)
    bodies = _sentences(rng, vocab, min(max(spec.posts, 1000), 20_000))

    def ages(count: int) -> np.ndarray:
        return (span * np.power(rng.random(count), 1.6)).astype("timedelta64[s]")

    author_p = _zipf_weights(n, spec.author_skew, rng)
    n_posts = spec.posts
    post_ids = _uuids(rng, n_posts)
    post_author = _draw(rng, author_p, n_posts)
    post_body = rng.integers(0, len(bodies), size=n_posts)
    post_created = anchor - ages(n_posts)
    post_hidden = rng.random(n_posts) < spec.hidden_share

    n_videos = spec.n_videos
    video_ids = _uuids(rng, n_videos)
    video_owner = _draw(rng, author_p, n_videos)
    video_title = rng.integers(0, len(bodies), size=n_videos)
    video_created = anchor - ages(n_videos)
    video_hidden = rng.random(n_videos) < spec.hidden_share

    post_pop = _zipf_weights(n_posts, spec.parent_skew, rng)
    video_pop = _zipf_weights(n_videos, spec.parent_skew, rng)
    active_p = _zipf_weights(n, 0.6, rng)

    def parents(count: int) -> tuple[np.ndarray, np.ndarray]:
        on_post = rng.random(count) < 0.9
        parent = np.where(on_post, _draw(rng, post_pop, count), _draw(rng, video_pop, count))
        return on_post, parent

    def parent_created(on_post: np.ndarray, parent: np.ndarray) -> np.ndarray:
        return np.where(on_post, post_created[np.minimum(parent, n_posts - 1)],
                        video_created[np.minimum(parent, n_videos - 1)])

    n_comments = spec.n_comments
    comment_ids = _uuids(rng, n_comments)
    comment_author = _draw(rng, active_p, n_comments)
    comment_on_post, comment_parent = parents(n_comments)
    comment_body = rng.integers(0, len(bodies), size=n_comments)
    comment_created = _after(rng, parent_created(comment_on_post, comment_parent), 12.0, anchor)

    # Likes: one per (user, parent); draw a little more than asked, then de-duplicate.
    want = spec.n_likes
    draws = int(want * 1.3) + 16
    like_user = _draw(rng, active_p, draws)
    like_on_post, like_parent = parents(draws)
    key_parent = np.where(like_on_post, like_parent, like_parent + n_posts)
    first = _unique_pairs(like_user, key_parent, n_posts + n_videos)[:want]
    like_user, like_on_post, like_parent = like_user[first], like_on_post[first], like_parent[first]
    like_ids = _uuids(rng, len(like_user))
    like_created = _after(rng, parent_created(like_on_post, like_parent), 36.0, anchor)

    return ScaleData(
        spec=spec, user_ids=user_ids, privacy=privacy, user_created=user_created,
        follow_src=src, follow_dst=dst, follow_pending=pending, follow_created=follow_created,
        post_ids=post_ids, post_author=post_author, post_body=post_body,
        post_created=post_created, post_hidden=post_hidden,
        video_ids=video_ids, video_owner=video_owner, video_title=video_title,
        video_created=video_created, video_hidden=video_hidden,
        comment_ids=comment_ids, comment_author=comment_author,
        comment_on_post=comment_on_post, comment_parent=comment_parent,
        comment_body=comment_body, comment_created=comment_created,
        like_ids=like_ids, like_user=like_user, like_on_post=like_on_post,
        like_parent=like_parent, like_created=like_created,
        bodies=bodies, vocabulary=vocab,
    )


def probes(data: ScaleData) -> Probes:
    """The users, posts and word the benchmarks ask about."""
    n = len(data.user_ids)
    accepted = ~data.follow_pending
    out_degree = np.bincount(data.follow_src[accepted], minlength=n)
    target = np.percentile(out_degree, 90)
    feed_user = int(np.argmin(np.abs(out_degree - target) + (out_degree == 0) * n))
    in_degree = np.bincount(data.follow_dst, minlength=n)
    in_degree_public = np.where(data.privacy == 0, in_degree, -1)
    star = int(np.argmax(in_degree_public))

    visible = (data.privacy[data.post_author] == 0) & ~data.post_hidden
    n_posts = len(data.post_ids)
    c_counts = np.bincount(data.comment_parent[data.comment_on_post], minlength=n_posts)
    l_counts = np.bincount(data.like_parent[data.like_on_post], minlength=n_posts)
    thread = int(np.argmax(np.where(visible, c_counts, -1)))
    liked = int(np.argmax(np.where(visible, l_counts, -1)))
    return Probes(
        feed_user=str(data.user_ids[feed_user]),
        profile_handle=handle_of(star),
        profile_user=str(data.user_ids[star]),
        thread_post=str(data.post_ids[thread]),
        liked_post=str(data.post_ids[liked]),
        search_term=data.vocabulary[40],
    )


def handle_of(index: int) -> str:
    return f"user{index:07d}"


# -- loading -----------------------------------------------------------------------------------
_PRIVACY = ("public", "community", "private")
_APP_META = '{"provider": "email", "providers": ["email"]}'


def _ts(values: np.ndarray) -> list[str]:
    return [s + "+00" for s in np.datetime_as_string(values, unit="s").tolist()]


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _rows_users(d: ScaleData, lo: int, hi: int) -> Iterator[str]:
    created = _ts(d.user_created[lo:hi])
    for k, uid in enumerate(d.user_ids[lo:hi].tolist()):
        i = lo + k
        yield (f"{uid}\tauthenticated\tauthenticated\t{handle_of(i)}@example.test\t"
               f"{_APP_META}\t{{}}\t{created[k]}\t{created[k]}\n")


def _rows_profiles(d: ScaleData, lo: int, hi: int) -> Iterator[str]:
    created = _ts(d.user_created[lo:hi])
    privacy = d.privacy[lo:hi].tolist()
    for k, uid in enumerate(d.user_ids[lo:hi].tolist()):
        i = lo + k
        sober = (d.user_created[i] - np.timedelta64(30 * (i % 97), "D")).astype("datetime64[D]")
        yield (f"{uid}\t{handle_of(i)}\tUser {i}\t\\N\t{_PRIVACY[privacy[k]]}\t{sober}\t"
               f"{created[k]}\t{created[k]}\n")


def _rows_follows(d: ScaleData, lo: int, hi: int) -> Iterator[str]:
    ids = d.user_ids
    created = _ts(d.follow_created[lo:hi])
    for k, (s, t, p) in enumerate(zip(d.follow_src[lo:hi].tolist(), d.follow_dst[lo:hi].tolist(),
                                      d.follow_pending[lo:hi].tolist(), strict=True)):
        yield f"{ids[s]}\t{ids[t]}\t{'pending' if p else 'accepted'}\t{created[k]}\n"


def _rows_posts(d: ScaleData, lo: int, hi: int) -> Iterator[str]:
    ids, bodies = d.user_ids, d.bodies
    created = _ts(d.post_created[lo:hi])
    for k, (pid, a, b, h) in enumerate(zip(d.post_ids[lo:hi].tolist(),
                                           d.post_author[lo:hi].tolist(),
                                           d.post_body[lo:hi].tolist(),
                                           d.post_hidden[lo:hi].tolist(), strict=True)):
        c = created[k]
        yield f"{pid}\t{ids[a]}\t{bodies[b]}\t{c}\t{c}\t{c if h else chr(92) + 'N'}\n"


def _rows_videos(d: ScaleData, lo: int, hi: int) -> Iterator[str]:
    ids, bodies = d.user_ids, d.bodies
    created = _ts(d.video_created[lo:hi])
    for k, (vid, o, t, h) in enumerate(zip(d.video_ids[lo:hi].tolist(),
                                           d.video_owner[lo:hi].tolist(),
                                           d.video_title[lo:hi].tolist(),
                                           d.video_hidden[lo:hi].tolist(), strict=True)):
        c = created[k]
        title = bodies[t][:60]
        yield (f"{vid}\t{ids[o]}\t{title}\t\\N\t{ids[o]}/{vid}.mp4\t{c}\t{c}\t"
               f"{c if h else chr(92) + 'N'}\n")


def _rows_comments(d: ScaleData, lo: int, hi: int) -> Iterator[str]:
    ids, bodies, posts, videos = d.user_ids, d.bodies, d.post_ids, d.video_ids
    created = _ts(d.comment_created[lo:hi])
    for k, (cid, a, on_post, p, b) in enumerate(zip(
            d.comment_ids[lo:hi].tolist(), d.comment_author[lo:hi].tolist(),
            d.comment_on_post[lo:hi].tolist(), d.comment_parent[lo:hi].tolist(),
            d.comment_body[lo:hi].tolist(), strict=True)):
        parent = f"{posts[p]}\t\\N" if on_post else f"\\N\t{videos[p]}"
        c = created[k]
        yield f"{cid}\t{ids[a]}\t{parent}\t{bodies[b]}\t{c}\t{c}\n"


def _rows_likes(d: ScaleData, lo: int, hi: int) -> Iterator[str]:
    ids, posts, videos = d.user_ids, d.post_ids, d.video_ids
    created = _ts(d.like_created[lo:hi])
    for k, (lid, u, on_post, p) in enumerate(zip(
            d.like_ids[lo:hi].tolist(), d.like_user[lo:hi].tolist(),
            d.like_on_post[lo:hi].tolist(), d.like_parent[lo:hi].tolist(), strict=True)):
        parent = f"{posts[p]}\t\\N" if on_post else f"\\N\t{videos[p]}"
        yield f"{lid}\t{ids[u]}\t{parent}\t{created[k]}\n"


@dataclasses.dataclass(frozen=True)
class _Table:
    schema: str
    name: str
    columns: Sequence[str]
    count: str  # ScaleData.counts() key
    rows: object  # callable(ScaleData, lo, hi) -> Iterator[str]


TABLES: tuple[_Table, ...] = (
    _Table("auth", "users", ("id", "aud", "role", "email", "raw_app_meta_data",
                             "raw_user_meta_data", "created_at", "updated_at"), "users",
           _rows_users),
    _Table("public", "profiles", ("id", "handle", "display_name", "bio", "privacy", "sober_since",
                                  "created_at", "updated_at"), "users", _rows_profiles),
    _Table("public", "follows", ("follower_id", "followee_id", "status", "created_at"), "follows",
           _rows_follows),
    _Table("public", "posts", ("id", "author_id", "body", "created_at", "updated_at", "hidden_at"),
           "posts", _rows_posts),
    _Table("public", "videos", ("id", "owner_id", "title", "description", "storage_path",
                                "created_at", "updated_at", "hidden_at"), "videos", _rows_videos),
    _Table("public", "comments", ("id", "author_id", "post_id", "video_id", "body", "created_at",
                                  "updated_at"), "comments", _rows_comments),
    _Table("public", "likes", ("id", "user_id", "post_id", "video_id", "created_at"), "likes",
           _rows_likes),
)


@dataclasses.dataclass
class LoadReport:
    counts: dict[str, int]
    seconds: dict[str, float]  # per step: generate, each table, indexes, analyze, total

    def lines(self) -> list[str]:
        out = [f"{k:>9}: {v:>10,d} rows" for k, v in self.counts.items()]
        out += [f"{k:>9}: {v:8.2f} s" for k, v in self.seconds.items()]
        return out


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(qualified name, definition) of the non-constraint indexes on the loaded tables."""
    rows = conn.execute(
        """
        select quote_ident(n.nspname) || '.' || quote_ident(i.relname),
               pg_get_indexdef(x.indexrelid)
        from pg_index x
        join pg_class i on i.oid = x.indexrelid
        join pg_class t on t.oid = x.indrelid
        join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = 'public'
          and t.relname = any(%s)
          and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)
        order by 1
        """,
        ([t.name for t in TABLES if t.schema == "public"],),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _check_empty(conn: psycopg.Connection) -> None:
    for t in TABLES:
        name = sql.Identifier(t.schema, t.name)
        row = conn.execute(sql.SQL("select exists (select 1 from {})").format(name)).fetchone()
        if row and row[0]:
            raise HarnessError(
                f"scale: {t.schema}.{t.name} is not empty; load into a fresh database")


# (child table, child column, parent table): every reference the load must not break.
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("public.profiles", "id", "auth.users"),
    ("public.follows", "follower_id", "public.profiles"),
    ("public.follows", "followee_id", "public.profiles"),
    ("public.posts", "author_id", "public.profiles"),
    ("public.videos", "owner_id", "public.profiles"),
    ("public.comments", "author_id", "public.profiles"),
    ("public.comments", "post_id", "public.posts"),
    ("public.comments", "video_id", "public.videos"),
    ("public.likes", "user_id", "public.profiles"),
    ("public.likes", "post_id", "public.posts"),
    ("public.likes", "video_id", "public.videos"),
)


def _orphans(conn: psycopg.Connection, refs: Sequence[tuple[str, str, str]]) -> list[str]:
    """References the loaded rows break (anti-joins, one per foreign key)."""
    bad = []
    for child, column, parent in refs:
        query = sql.SQL(
            "select count(*) from {child} c left join {parent} p on p.id = c.{col} "
            "where c.{col} is not null and p.id is null"
        ).format(child=sql.SQL(child), parent=sql.SQL(parent), col=sql.Identifier(column))
        row = conn.execute(query).fetchone()
        if row and row[0]:
            bad.append(f"{child}.{column} -> {parent}: {row[0]} rows")
    return bad


def _copy_table(conn: psycopg.Connection, data: ScaleData, table: _Table, chunk: int) -> float:
    step = time.monotonic()
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.schema, table.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in table.columns),
    )
    total = data.counts()[table.count]
    rows = table.rows
    # The queued writer sends from a thread of its own: formatting the next chunk here overlaps
    # with the server ingesting the previous one.
    with conn.cursor() as cur, cur.copy(stmt, writer=QueuedLibpqWriter(cur)) as copy:
        for lo in range(0, total, chunk):
            copy.write("".join(rows(data, lo, min(total, lo + chunk))))  # type: ignore[operator]
    return time.monotonic() - step


# A bound on each statement of a scale load (one COPY of millions of rows takes minutes):
# world/ sits below db/, so it sets its own session timeout (db/session.py sets the others').
LOAD_STATEMENT_TIMEOUT = "1h"


def _connect(dsn: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10,
                               options=f"-c statement_timeout={LOAD_STATEMENT_TIMEOUT}")
    except psycopg.OperationalError as exc:
        raise HarnessError(f"scale: cannot connect to the database: {str(exc).strip()}") from exc


# The two loading lanes, balanced by measured cost (posts pay for the tsvector, likes for
# three unique indexes over random uuids).
_LANES: tuple[tuple[str, ...], ...] = (
    ("users", "profiles", "posts", "videos"),
    ("follows", "comments", "likes"),
)


def load(dsn: str, data: ScaleData, chunk: int = CHUNK) -> LoadReport:
    """COPY the generated rows into an empty, migrated database (DSN of a superuser).

    The bulk-load path pg_restore takes: secondary indexes are dropped first and rebuilt once
    the data is in; foreign-key triggers are off during the COPY (session_replication_role =
    replica) and every reference is checked set-wise afterwards, a broken one failing the load.
    Primary keys and unique constraints stay and are enforced throughout. Two connections
    load in parallel. Load into a fresh database: a failed load leaves it half filled.
    """
    seconds: dict[str, float] = {}
    began = time.monotonic()
    by_name = {t.name: t for t in TABLES}
    with _connect(dsn) as conn:
        _check_empty(conn)
        indexes = _secondary_indexes(conn)
        with conn.transaction():
            for name, _ in indexes:
                conn.execute(sql.SQL("drop index {}").format(sql.SQL(name)))

    def lane(names: tuple[str, ...]) -> dict[str, float]:
        out: dict[str, float] = {}
        with _connect(dsn) as conn:
            conn.execute("set session_replication_role = replica")
            for name in names:
                table = by_name[name]
                out[f"{table.schema}.{table.name}"] = _copy_table(conn, data, table, chunk)
        return out

    def rebuild_indexes() -> list[str]:
        with _connect(dsn) as conn:
            conn.execute("set maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                conn.execute(definition.encode())
        return []

    def check_references() -> list[str]:
        with _connect(dsn) as conn:
            return _orphans(conn, REFERENCES)

    step = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(_LANES)) as pool:
        for result in pool.map(lane, _LANES):
            seconds.update(result)
    seconds["copy"] = time.monotonic() - step
    step = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(rebuild_indexes), pool.submit(check_references)]
        bad = [line for future in futures for line in future.result()]
    seconds["indexes+fk_check"] = time.monotonic() - step
    if bad:
        raise HarnessError("scale: generated rows break foreign keys: " + "; ".join(bad))
    with _connect(dsn) as conn:
        step = time.monotonic()
        has_trending = conn.execute(
            "select to_regclass('analytics.trending_posts') is not null").fetchone()
        if has_trending and has_trending[0]:
            conn.execute("refresh materialized view analytics.trending_posts")
        seconds["trending"] = time.monotonic() - step
        step = time.monotonic()
        conn.execute("analyze")
        seconds["analyze"] = time.monotonic() - step
    seconds["total"] = time.monotonic() - began
    return LoadReport(data.counts(), seconds)


def generate_and_load(dsn: str, spec: ScaleSpec) -> tuple[LoadReport, Probes]:
    step = time.monotonic()
    data = generate(spec)
    generated = time.monotonic() - step
    report = load(dsn, data)
    report.seconds = {"generate": generated, **report.seconds}
    report.seconds["total"] += generated
    return report, probes(data)
