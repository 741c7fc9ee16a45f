"""The contract suite's own resources for write operations, on a target that opted in to
destructive work: a bucket of the run's own (Storage API) or a user of the run's own (GoTrue),
made before the run with the service key and removed after it; the shared world's buckets or
users are listed before and after, each with what a write could change in it, so a write that
removed, added or changed one shows.

`own_resources(service, base_url, headers, run_id)` yields an `OwnResources`: the WriteScope
that pins the writes' path parameters to them, the world as it was, and after the block the
world as it is and whatever of the run's own is left."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping

import httpx

from soberharness.errors import HarnessError
from soberharness.runner.contract import WriteScope

TIMEOUT_S = 10.0


@dataclasses.dataclass
class OwnResources:
    scope: WriteScope
    own: str  # the bucket id or user id
    # the shared world (the run's own left out): id -> what a write could change in it
    world_before: Mapping[str, str]
    world_after: Mapping[str, str] = dataclasses.field(default_factory=dict)
    left: list[str] = dataclasses.field(default_factory=list)  # own ids still there


def _ok(answer: httpx.Response, what: str) -> httpx.Response:
    if answer.status_code >= 300:
        raise HarnessError(f"{what}: HTTP {answer.status_code} {answer.text[:200]}")
    return answer


# What a write could change in a bucket or a user (not the times a sign-in moves).
BUCKET_FIELDS = ("name", "public", "file_size_limit", "allowed_mime_types", "owner")
USER_FIELDS = ("aud", "role", "email", "phone", "email_confirmed_at", "phone_confirmed_at",
               "banned_until", "app_metadata", "user_metadata", "deleted_at", "is_anonymous")


def _state(record: dict[str, object], fields: tuple[str, ...]) -> str:
    return json.dumps({f: record.get(f) for f in fields}, sort_keys=True, default=str)


def _buckets(http: httpx.Client) -> dict[str, str]:
    answer = _ok(http.get("/bucket/"), "listing the buckets")
    return {str(b["id"]): _state(b, BUCKET_FIELDS) for b in answer.json()}


def _make_bucket(http: httpx.Client, run_id: str) -> str:
    name = f"contract-{run_id}"
    _ok(http.post("/bucket/", json={"id": name, "name": name, "public": False}),
        f"creating the contract run's bucket {name}")
    return name


def _remove_bucket(http: httpx.Client, name: str) -> None:
    for _ in range(5):  # emptying may lag the delete
        http.post(f"/bucket/{name}/empty")
        if http.delete(f"/bucket/{name}").status_code in (200, 404, 400):
            return
        time.sleep(0.5)


def _users(http: httpx.Client) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in range(1, 100):
        answer = _ok(http.get("/admin/users", params={"page": page, "per_page": 500}),
                     "listing the users")
        users = answer.json().get("users", [])
        found |= {str(u["id"]): _state(u, USER_FIELDS) for u in users}
        if len(users) < 500:
            return found
    raise HarnessError("listing the users: more than 49,500, not listed")


def _make_user(http: httpx.Client, run_id: str) -> str:
    answer = _ok(http.post("/admin/users", json={
        "email": f"contract-{run_id}@example.invalid", "password": secrets.token_urlsafe(24),
        "email_confirm": True}), "creating the contract run's user")
    return str(answer.json()["id"])


def _remove_user(http: httpx.Client, user_id: str) -> None:
    http.delete(f"/admin/users/{user_id}")


@dataclasses.dataclass(frozen=True)
class _Kind:
    listing: Callable[[httpx.Client], dict[str, str]]
    make: Callable[[httpx.Client, str], str]
    remove: Callable[[httpx.Client, str], None]
    pinned: tuple[str, ...]  # path parameter names that name such a resource


KINDS: dict[str, _Kind] = {
    "storage": _Kind(_buckets, _make_bucket, _remove_bucket, ("bucketId", "bucketName")),
    "auth": _Kind(_users, _make_user, _remove_user, ("userId", "user_id")),
}


def _without(world: Mapping[str, str], own: str) -> dict[str, str]:
    return {k: v for k, v in world.items() if k != own}


@contextlib.contextmanager
def own_resources(service: str, base_url: str, headers: Mapping[str, str],
                  run_id: str) -> Iterator[OwnResources]:
    kind = KINDS.get(service)
    if kind is None:
        raise HarnessError(f"{service}: the contract suite has no own resources to write to")
    with httpx.Client(base_url=base_url.rstrip("/"), headers=dict(headers),
                      timeout=TIMEOUT_S) as http:
        before = kind.listing(http)
        own = kind.make(http, run_id)
        resources = OwnResources(WriteScope({p: own for p in kind.pinned}), own,
                                 _without(before, own))
        try:
            yield resources
        finally:
            kind.remove(http, own)
            after = kind.listing(http)
            resources.world_after = _without(after, own)
            resources.left = [own] if own in after else []
