"""Named small worlds written by hand in TOML (`scenarios/*.toml`), for cases worth keeping:
a story from the product, a bug once found, a shrunk Hypothesis counterexample.

Users are named; everything else refers to them by name (the `[users]` table comes last, as
TOML puts every key after a table header into that table):

    follows = [["ben", "ana", "pending"]]      # follower, followee, status
    blocks = [["ana", "cy"]]                   # blocker, blocked
    posts = [{ name = "p1", author = "ana", hidden = false }]
    videos = [{ name = "v1", owner = "ana" }]
    comments = [{ name = "c1", author = "ben", on = "p1" }]
    likes = [{ user = "ben", on = "p1" }]
    objects = [{ bucket = "videos", owner = "ana", file = "clip.mp4" }]
    # what the story says, checked against the database and the model alike
    expect = [{ viewer = "cy", table = "posts", sees = [], misses = ["p1"] }]

    [users]
    ana = { privacy = "private" }
    ben = {}
    mo = { moderator = true }
"""

from __future__ import annotations

import dataclasses
import tomllib
import uuid
from pathlib import Path
from typing import Any

from soberharness.errors import HarnessError
from soberharness.world.entities import (
    Block,
    Comment,
    ContentRef,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    StoredObject,
    User,
    Video,
    Viewer,
    World,
)

NAMESPACE = uuid.UUID("5ce4a710-0000-4000-8000-000000000002")


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What the story says one viewer reads of one table: rows seen and rows not seen."""

    viewer: Viewer
    who: str  # the viewer's name in the file: anon, service, or a user's name
    table: str  # profiles, posts, videos, comments
    sees: frozenset[uuid.UUID]
    misses: frozenset[uuid.UUID]


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    world: World
    expectations: tuple[Expectation, ...] = ()


class ScenarioError(HarnessError):
    """A scenario file is malformed; the message names the file and the entry."""


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    world, names = _world(path, data)
    return Scenario(
        path.stem,
        str(data.get("description", "")),
        world,
        tuple(_expectation(path, row, world, names) for row in data.get("expect", [])),
    )


def load_scenarios(folder: Path) -> list[Scenario]:
    return [load_scenario(p) for p in sorted(folder.glob("*.toml"))]


EXPECTABLE = ("profiles", "posts", "videos", "comments")


def _expectation(
    path: Path, row: dict[str, Any], world: World, names: dict[str, dict[str, uuid.UUID]]
) -> Expectation:
    who, table = row.get("viewer", ""), row.get("table", "")
    if table not in EXPECTABLE:
        raise ScenarioError(f"{path}: expect.table must be one of {EXPECTABLE}, not '{table}'")
    if who == "anon":
        viewer = Viewer.anon()
    elif who == "service":
        viewer = Viewer.service()
    elif who in names["profiles"]:
        viewer = Viewer.of(world.users[names["profiles"][who]])
    else:
        raise ScenarioError(f"{path}: expect names unknown viewer '{who}'")

    def ids(key: str) -> frozenset[uuid.UUID]:
        try:
            return frozenset(names[table][n] for n in row.get(key, []))
        except KeyError as exc:
            raise ScenarioError(f"{path}: expect.{key} names unknown {table} row {exc}") from None

    return Expectation(viewer, who, table, ids("sees"), ids("misses"))


def _world(path: Path, data: dict[str, Any]) -> tuple[World, dict[str, dict[str, uuid.UUID]]]:
    def uid(kind: str, name: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{path.stem}/{kind}/{name}")

    world = World()
    users: dict[str, uuid.UUID] = {}
    for name, attrs in data.get("users", {}).items():
        users[name] = uid("user", name)
        world.add(
            User(
                users[name],
                f"{path.stem}_{name}".replace("-", "_"),
                Privacy(attrs.get("privacy", "public")),
                moderator=bool(attrs.get("moderator", False)),
                has_profile=bool(attrs.get("profile", True)),
            )
        )

    def user(name: str, where: str) -> uuid.UUID:
        if name not in users:
            raise ScenarioError(f"{path}: {where} names unknown user '{name}'")
        return users[name]

    parents: dict[str, ContentRef] = {}
    for row in data.get("posts", []):
        post = Post(uid("post", row["name"]), user(row["author"], "a post"),
                    hidden=bool(row.get("hidden", False)))
        parents[row["name"]] = post.ref
        world.add(post)
    for row in data.get("videos", []):
        video = Video(uid("video", row["name"]), user(row["owner"], "a video"),
                      hidden=bool(row.get("hidden", False)))
        parents[row["name"]] = video.ref
        world.add(video)

    def parent(name: str, where: str) -> ContentRef:
        if name not in parents:
            raise ScenarioError(f"{path}: {where} is on unknown post or video '{name}'")
        return parents[name]

    for follower, followee, status in data.get("follows", []):
        world.add(Follow(user(follower, "a follow"), user(followee, "a follow"),
                         FollowStatus(status)))
    for blocker, blocked in data.get("blocks", []):
        world.add(Block(user(blocker, "a block"), user(blocked, "a block")))
    for i, row in enumerate(data.get("comments", [])):
        world.add(Comment(uid("comment", row.get("name", str(i))),
                          user(row["author"], "a comment"), parent(row["on"], "a comment")))
    for row in data.get("likes", []):
        ref = parent(row["on"], "a like")
        world.add(Like(uid("like", f"{row['user']}/{row['on']}"), user(row["user"], "a like"),
                       ref))
    for row in data.get("objects", []):
        owner = user(row["owner"], "an object")
        world.add(StoredObject(uid("object", f"{row['bucket']}/{row['owner']}/{row['file']}"),
                               row["bucket"], f"{owner}/{row['file']}", owner))
    names = {
        "profiles": users,
        "posts": {r["name"]: uid("post", r["name"]) for r in data.get("posts", [])},
        "videos": {r["name"]: uid("video", r["name"]) for r in data.get("videos", [])},
        "comments": {
            r.get("name", str(i)): uid("comment", r.get("name", str(i)))
            for i, r in enumerate(data.get("comments", []))
        },
    }
    return world, names
