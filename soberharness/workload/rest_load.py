"""SoberTube's REST load: who the load users are, what each kind of user does, and the
PostgREST requests they send.

Pure except `discover_population`, which reads existing accounts through the REST API with the
service key (one bounded request per table). The locust files in `loadtests/` only wire these
pieces to locust.
"""

from __future__ import annotations

import dataclasses
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from soberharness.db.claims import token_for
from soberharness.errors import HarnessError
from soberharness.world.entities import Follow, FollowStatus, Post, Role, User, Viewer, World

PAGE = 20
HTTP_TIMEOUT_S = 10.0
FEED_SELECT = "id,author_id,body,created_at"
PROFILE_SELECT = "id,handle,display_name,bio,privacy,sober_since,posts(id,body,created_at)"
WRITE_PREFER = "return=minimal"
LIKE_PREFER = "return=minimal,resolution=ignore-duplicates"


class Action(StrEnum):
    FEED = "feed"
    PROFILE = "profile"
    LIKE = "like"
    COMMENT = "comment"
    POST = "post"


# The name each action is reported under in locust's stats and the exported summary.
ENDPOINT: Mapping[Action, str] = {
    Action.FEED: "/posts (feed)",
    Action.PROFILE: "/profiles (profile page)",
    Action.LIKE: "/likes",
    Action.COMMENT: "/comments",
    Action.POST: "/posts",
}
READS = frozenset({Action.FEED, Action.PROFILE})


@dataclasses.dataclass(frozen=True)
class UserClassMix:
    """One kind of user: how many of the users are of this kind (weight), how often each
    action is picked (task weights), and the think time between actions (seconds)."""

    name: str
    weight: int
    tasks: Mapping[Action, int]
    think_s: tuple[float, float] = (1.0, 3.0)

    def shares(self) -> dict[Action, float]:
        total = sum(self.tasks.values())
        return {a: w / total for a, w in self.tasks.items()}

    @property
    def writes(self) -> frozenset[Action]:
        return frozenset(a for a, w in self.tasks.items() if w and a not in READS)


LURKER = UserClassMix("lurker", 6, {Action.FEED: 8, Action.PROFILE: 3, Action.LIKE: 1})
POSTER = UserClassMix("poster", 1, {Action.POST: 3, Action.FEED: 2, Action.PROFILE: 1},
                      think_s=(2.0, 5.0))
COMMENTER = UserClassMix(
    "commenter", 3, {Action.FEED: 3, Action.COMMENT: 3, Action.LIKE: 2, Action.PROFILE: 1}
)
USER_CLASSES: tuple[UserClassMix, ...] = (LURKER, POSTER, COMMENTER)


def class_shares(classes: Sequence[UserClassMix] = USER_CLASSES) -> dict[str, float]:
    total = sum(c.weight for c in classes)
    return {c.name: c.weight / total for c in classes}


# -- who the load users are ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LoadUser:
    id: str
    handle: str
    follows: tuple[str, ...] = ()

    def viewer(self) -> Viewer:
        return Viewer(Role.AUTHENTICATED, uuid.UUID(self.id))


@dataclasses.dataclass(frozen=True)
class Population:
    """Existing accounts the load signs in as (ids, handles, whom each follows)."""

    users: tuple[LoadUser, ...]

    def __post_init__(self) -> None:
        if not self.users:
            raise HarnessError("the load population is empty: seed the target with users first")

    def pick(self, rng: random.Random) -> LoadUser:
        return rng.choice(self.users)

    def handles(self) -> list[str]:
        return [u.handle for u in self.users]

    def to_json(self) -> dict[str, Any]:
        return {"users": [dataclasses.asdict(u) | {"follows": list(u.follows)}
                          for u in self.users]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Population:
        try:
            users = tuple(
                LoadUser(str(u["id"]), str(u["handle"]),
                         tuple(str(f) for f in u.get("follows", ())))
                for u in data["users"]
            )
        except (KeyError, TypeError) as exc:
            raise HarnessError(f"load population: malformed user entry ({exc})") from None
        return cls(users)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json()))
        return path

    @classmethod
    def load(cls, path: Path) -> Population:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except OSError as exc:
            raise HarnessError(f"load population file {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise HarnessError(f"load population file {path}: not JSON ({exc})") from None


def population_from_world(world: World) -> Population:
    follows: dict[uuid.UUID, list[str]] = {}
    for f in world.follows:
        if f.status is FollowStatus.ACCEPTED:
            follows.setdefault(f.follower, []).append(str(f.followee))
    return Population(tuple(
        LoadUser(str(u.id), u.handle, tuple(follows.get(u.id, ())))
        for u in world.users.values() if u.has_profile
    ))


def load_world(users: int, run_id: str, follows_each: int = 5, posts_each: int = 3,
               seed: int = 0) -> World:
    """A small world for a load run: public accounts named after the run (so they never clash
    with other data and can be removed afterwards), each following a few others, with posts."""
    if users < 2:
        raise HarnessError("a load world needs at least 2 users")
    rng = random.Random(seed)
    world = World()
    people = [User(uuid.UUID(int=rng.getrandbits(128), version=4), f"load_{run_id}_{n}")
              for n in range(users)]
    for user in people:
        world.add(user)
    for n, user in enumerate(people):
        for other in rng.sample([p for p in people if p is not user],
                                min(follows_each, users - 1)):
            world.add(Follow(user.id, other.id))
        for k in range(posts_each):
            world.add(Post(uuid.UUID(int=rng.getrandbits(128), version=4), user.id,
                           f"load seed post {n}.{k}"))
    return world


def discover_population(rest_url: str, anon_key: str, service_key: str, limit: int = 200,
                        timeout: float = HTTP_TIMEOUT_S) -> Population:
    """Up to `limit` existing profiles and their accepted follows, read with the service key."""
    headers = rest_headers(anon_key, service_key)
    base = rest_url.rstrip("/")
    try:
        with httpx.Client(timeout=timeout) as client:
            profiles = _get_json(client, f"{base}/profiles", headers,
                                 {"select": "id,handle", "order": "id", "limit": str(limit)})
            ids = [str(p["id"]) for p in profiles]
            follows = _get_json(client, f"{base}/follows", headers, {
                "select": "follower_id,followee_id",
                "status": "eq.accepted",
                "follower_id": in_list(ids),
                "limit": str(limit * 20),
            }) if ids else []
    except httpx.HTTPError as exc:
        raise HarnessError(f"load population: {base} unreachable ({exc})") from None
    by_user: dict[str, list[str]] = {}
    for f in follows:
        by_user.setdefault(str(f["follower_id"]), []).append(str(f["followee_id"]))
    return Population(tuple(
        LoadUser(str(p["id"]), str(p["handle"]), tuple(by_user.get(str(p["id"]), ())))
        for p in profiles
    ))


def _get_json(client: httpx.Client, url: str, headers: Mapping[str, str],
              params: Mapping[str, str]) -> list[dict[str, Any]]:
    response = client.get(url, headers=dict(headers), params=dict(params))
    if response.status_code != 200:
        raise HarnessError(f"load population: GET {url} answered {response.status_code}")
    body = response.json()
    if not isinstance(body, list):
        raise HarnessError(f"load population: GET {url} did not answer a JSON array")
    return body


# -- the requests ------------------------------------------------------------------------------
def rest_headers(anon_key: str, token: str) -> dict[str, str]:
    """The two headers every Supabase REST call carries: the gateway key and the user's JWT."""
    return {"apikey": anon_key, "Authorization": f"Bearer {token}"}


def user_token(user: LoadUser, jwt_secret: str) -> str:
    return token_for(user.viewer(), jwt_secret, email=f"{user.handle}@example.test")


def in_list(values: Sequence[str]) -> str:
    """PostgREST's `in` filter operand: in.(a,b,c)."""
    return "in.(" + ",".join(values) + ")"


def feed_params(follows: Sequence[str], limit: int = PAGE) -> dict[str, str]:
    """GET /posts: posts of followed accounts, newest first, one page. With no follows the
    feed falls back to the newest posts the user may see (RLS decides which)."""
    params = {"select": FEED_SELECT, "order": "created_at.desc", "limit": str(limit)}
    if follows:
        params["author_id"] = in_list(follows)
    return params


def profile_params(handle: str, limit: int = PAGE) -> dict[str, str]:
    """GET /profiles: one profile by handle with its latest posts embedded."""
    return {
        "select": PROFILE_SELECT,
        "handle": f"eq.{handle}",
        "posts.order": "created_at.desc",
        "posts.limit": str(limit),
    }


def like_request(user: LoadUser, post_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    """POST /likes?on_conflict=user_id,post_id: liking twice is not an error."""
    return {"on_conflict": "user_id,post_id"}, {"user_id": user.id, "post_id": post_id}


def comment_body(user: LoadUser, post_id: str, text: str) -> dict[str, Any]:
    return {"author_id": user.id, "post_id": post_id, "body": text}


def post_body(user: LoadUser, text: str) -> dict[str, Any]:
    return {"author_id": user.id, "body": text}


def write_headers(base: Mapping[str, str], prefer: str = WRITE_PREFER) -> dict[str, str]:
    return dict(base) | {"Prefer": prefer, "Content-Type": "application/json"}


def post_ids(feed_body: Any) -> list[str]:
    """Ids in a feed or profile answer (a JSON array of rows, maybe with embedded posts)."""
    ids: list[str] = []
    if not isinstance(feed_body, list):
        return ids
    for row in feed_body:
        if not isinstance(row, dict):
            continue
        if "posts" in row and isinstance(row["posts"], list):
            ids += [str(p["id"]) for p in row["posts"] if isinstance(p, dict) and "id" in p]
        elif "id" in row and "author_id" in row:
            ids.append(str(row["id"]))
    return ids
