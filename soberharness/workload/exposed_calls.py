"""What actors send to exposed functions: arguments drawn from the world, as PostgREST calls.

Each parameter gets candidates by its type and, where the name says what it is, by its name:
ids of users, posts, videos, comments, likes and objects (hidden, private and blocked ones
included), handles, words and whole texts of every post, video and comment (search terms that
match hidden content), object names and folder prefixes, bucket names, every label of an enum;
listing parameters get what a client sends (delimiter `/`, an empty paging cursor, each sort
order and sort column).
A parameter with a default keeps it unless its name asks for a limit (100), an offset (0) or a
level (1, 2). The product of the candidates is thinned evenly to at most `MAX_CALLS` tuples
(16; `SOBERHARNESS_SURFACE_CALLS` for more).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from soberharness.config.env_values import env_int
from soberharness.world.entities import World

# Argument tuples per function, each called as every actor (env SOBERHARNESS_SURFACE_CALLS
# for a deeper run).
MAX_CALLS = env_int("SOBERHARNESS_SURFACE_CALLS", 16, minimum=1)

_WORD = re.compile(r"[A-Za-z0-9]+")
_INTEGER_TYPES = {"integer", "bigint", "smallint", "numeric", "real", "double precision"}
_TEXT_TYPES = {"text", "character varying", "name", "citext", "character"}


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    type: str  # format_type() of the argument
    has_default: bool
    labels: tuple[str, ...] = ()  # enum labels when the type is an enum


@dataclasses.dataclass(frozen=True)
class Call:
    """One argument tuple: (parameter, value) pairs; omitted parameters keep their defaults."""

    args: tuple[tuple[Param, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {p.name: v for p, v in self.args}

    def describe(self) -> str:
        return ", ".join(f"{p.name} => {v!r}" for p, v in self.args)


@dataclasses.dataclass(frozen=True)
class WorldTerms:
    """What a world offers as arguments."""

    user_ids: tuple[str, ...]
    post_ids: tuple[str, ...]
    video_ids: tuple[str, ...]
    comment_ids: tuple[str, ...]
    like_ids: tuple[str, ...]
    object_ids: tuple[str, ...]
    handles: tuple[str, ...]
    texts: tuple[str, ...]  # bodies, titles
    words: tuple[str, ...]
    object_names: tuple[str, ...]
    folders: tuple[str, ...]  # "<uid>/"
    buckets: tuple[str, ...]

    @classmethod
    def of(cls, world: World) -> WorldTerms:
        texts = [p.body for p in world.posts.values()] + [v.title for v in world.videos.values()]
        texts += [c.body for c in world.comments.values()]
        handles = [u.handle for u in world.users.values()]
        words = dict.fromkeys(w.lower() for t in texts + handles for w in _WORD.findall(t))
        names = sorted(o.name for o in world.objects.values())
        return cls(
            user_ids=tuple(str(u) for u in world.users),
            post_ids=tuple(str(i) for i in world.posts),
            video_ids=tuple(str(i) for i in world.videos),
            comment_ids=tuple(str(i) for i in world.comments),
            like_ids=tuple(str(i) for i in world.likes),
            object_ids=tuple(str(i) for i in world.objects),
            handles=tuple(handles),
            texts=tuple(dict.fromkeys(texts)),
            words=tuple(words),
            object_names=tuple(names),
            folders=tuple(dict.fromkeys(n.split("/", 1)[0] + "/" for n in names)),
            buckets=tuple(sorted({o.bucket for o in world.objects.values()})),
        )

    @property
    def all_ids(self) -> tuple[str, ...]:
        return (self.user_ids + self.post_ids + self.video_ids + self.comment_ids
                + self.like_ids + self.object_ids)


def _has(name: str, *parts: str) -> bool:
    return any(p in name for p in parts)


def _uuid_candidates(name: str, t: WorldTerms) -> Sequence[str]:
    if _has(name, "post"):
        return t.post_ids
    if _has(name, "video"):
        return t.video_ids
    if _has(name, "comment"):
        return t.comment_ids
    if _has(name, "like"):
        return t.like_ids
    if _has(name, "object", "file"):
        return t.object_ids
    if _has(name, "user", "author", "owner", "follow", "profile", "viewer", "target", "block",
            "member", "uid"):
        return t.user_ids
    return t.all_ids


def _text_candidates(name: str, t: WorldTerms) -> Sequence[str]:
    if _has(name, "bucket"):
        return t.buckets
    if _has(name, "prefix", "path", "folder"):
        return ("", *t.folders)
    if _has(name, "delimiter"):
        return ("/",)
    if _has(name, "after", "token", "cursor"):  # paging from the start
        return ("",)
    if _has(name, "sort_order", "sortorder"):
        return ("asc", "desc")
    if _has(name, "sort_column", "sortcolumn"):
        return ("name", "updated_at", "created_at")
    if _has(name, "name"):
        return t.object_names
    if _has(name, "handle", "user"):
        return t.handles
    if name.endswith("id"):
        return t.all_ids
    return (*t.words, *t.texts, *t.handles)


def _integer_candidates(name: str, has_default: bool) -> Sequence[int] | None:
    if _has(name, "offset", "skip"):
        return (0,)
    if _has(name, "limit", "max", "rows", "count", "size"):
        return (100,)
    if _has(name, "level", "depth"):
        return (1, 2)
    return None if has_default else (0, 1, 100)


def candidates(param: Param, terms: WorldTerms) -> Sequence[Any] | None:
    """Values to try for `param`; None keeps its default."""
    name, typ = param.name.lower(), param.type
    if typ in _INTEGER_TYPES:
        return _integer_candidates(name, param.has_default)
    if param.has_default:
        return None
    if param.labels:
        return param.labels
    if typ == "uuid":
        return _uuid_candidates(name, terms)
    if typ in _TEXT_TYPES or typ.startswith(("character varying", "character(")):
        return _text_candidates(name, terms)
    if typ == "tsquery":
        return terms.words
    if typ == "boolean":
        return (True, False)
    if typ in ("json", "jsonb"):
        return ("{}",)
    if typ == "uuid[]":
        return ("{" + ",".join(terms.all_ids) + "}",)
    if typ == "text[]":
        return ("{" + ",".join(terms.words) + "}",)
    return (None,)


def calls_for(params: Sequence[Param], terms: WorldTerms, limit: int = MAX_CALLS) -> list[Call]:
    """Argument tuples for a function with `params`, at most `limit`, spread evenly."""
    axes: list[list[tuple[Param, Any]]] = []
    for param in params:
        values = candidates(param, terms)
        if values is not None:
            axes.append([(param, v) for v in values])
    product = [Call(tuple(combo)) for combo in itertools.product(*axes)]
    if len(product) <= limit:
        return product
    step = len(product) / limit
    return [product[int(i * step)] for i in range(limit)]


def call_query(schema: str, function: str, call: Call) -> sql.Composed:
    """`SELECT to_jsonb(r) FROM schema.fn(name => value::type, ...) AS r`, as an RPC runs it
    (positional when a parameter has no name: then every parameter is in the call)."""
    args = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Literal(v), sql.SQL(p.type))
        if not p.name
        else sql.SQL("{} => {}::{}").format(sql.Identifier(p.name), sql.Literal(v),
                                             sql.SQL(p.type))
        for p, v in call.args
    )
    return sql.SQL("SELECT to_jsonb(r) FROM {}.{}({}) AS r").format(
        sql.Identifier(schema), sql.Identifier(function), args
    )


def view_query(schema: str, view: str) -> sql.Composed:
    return sql.SQL("SELECT to_jsonb(r) FROM {}.{} AS r").format(
        sql.Identifier(schema), sql.Identifier(view)
    )
