"""Judging the edge functions' answers against the access model (pure: no I/O).

A function call is a `FunctionCall`: which function, which matrix actor (and owner privacy
level, where it matters), which token variant, and what came back. The expectations come from
the access model (`soberharness/access/model.py`) over the world the call ran in:

- export-my-data: a signed-in user with an aal2 session gets every row they own or wrote that
  the rules let them read (D28); anyone else 403. A finding names each row too many or too few
  by table and by its readable name.
- milestones: the profile's badge when the rules let the caller see the profile, else 404;
  the badge is computed here independently (calendar arithmetic in the profile's time zone).
- notify: every outbox event is delivered once iff no block separates actor and recipient and
  the recipient may read both the event's row and the actor's profile (D30).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from soberharness.access.model import AccessModel
from soberharness.world.entities import (
    Block,
    Comment,
    Entity,
    Follow,
    Like,
    Post,
    StoredObject,
    User,
    Video,
    Viewer,
    World,
)

EXPORT_TABLES = (
    "profiles", "posts", "videos", "comments", "likes", "follows", "blocks",
    "account_deletion_requests", "storage_objects",
)


@dataclasses.dataclass(frozen=True)
class FunctionCall:
    """One request to a function and its answer."""

    function: str
    actor: str
    privacy: str  # the owner privacy level the actor plays against ("-" when none)
    token: str  # the token variant label ("-" for anon/service keys)
    viewer: Viewer
    status: int
    body: Any


@dataclasses.dataclass(frozen=True)
class Finding:
    """What a function did wrong in one call; `row` names the row when one is at fault."""

    function: str
    actor: str
    privacy: str
    token: str
    message: str
    row: str = ""

    def line(self) -> str:
        where = f" row {self.row}:" if self.row else ""
        return (f"{self.function} as {self.actor} (privacy={self.privacy}, "
                f"token={self.token}):{where} {self.message}")


def _finding(call: FunctionCall, message: str, row: str = "") -> Finding:
    return Finding(call.function, call.actor, call.privacy, call.token, message, row)


def error_code(body: Any) -> str | None:
    """The `error.code` of the functions' one error shape, or None."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


# ------------------------------------------------------------------------------ export


def _mine(entity: Entity, me: uuid.UUID) -> str | None:
    """The export table a row of `me` belongs to, or None when it is not theirs."""
    match entity:
        case User():
            return "profiles" if entity.id == me and entity.has_profile else None
        case Post():
            return "posts" if entity.author == me else None
        case Video():
            return "videos" if entity.owner == me else None
        case Comment():
            return "comments" if entity.author == me else None
        case Like():
            return "likes" if entity.user == me else None
        case Follow():
            return "follows" if me in (entity.follower, entity.followee) else None
        case Block():
            return "blocks" if entity.blocker == me else None
        case StoredObject():
            return "storage_objects" if entity.folder == str(me) else None
        case _:
            return "account_deletion_requests" if getattr(entity, "user", None) == me else None


def export_key(entity: Entity) -> str:
    """How an exported row is named: ids, pairs 'a>b', objects 'bucket/name'."""
    match entity:
        case Follow():
            return f"{entity.follower}>{entity.followee}"
        case Block():
            return f"{entity.blocker}>{entity.blocked}"
        case StoredObject():
            return f"{entity.bucket}/{entity.name}"
        case User():
            return str(entity.id)
        case _:
            return str(getattr(entity, "id", getattr(entity, "user", "")))


def expected_export(world: World, viewer: Viewer) -> dict[str, set[str]]:
    """Keys per export table: the viewer's own rows that the rules let them read."""
    model = AccessModel(world)
    out: dict[str, set[str]] = {table: set() for table in EXPORT_TABLES}
    me = viewer.user_id
    if me is None:
        return out
    for entity in model.world.entities():
        table = _mine(entity, me)
        if table is not None and model.can_read(viewer, entity):
            out[table].add(export_key(entity))
    return out


def exported_keys(document: Mapping[str, Any]) -> dict[str, set[str]]:
    """Keys per export table in an export document (format sobertube-export/1)."""
    follows = document.get("follows") or {}
    pairs = [*follows.get("following", []), *follows.get("followers", [])]
    profile = document.get("profile")
    return {
        "profiles": {str(profile["id"])} if profile else set(),
        "posts": {str(r["id"]) for r in document.get("posts", [])},
        "videos": {str(r["id"]) for r in document.get("videos", [])},
        "comments": {str(r["id"]) for r in document.get("comments", [])},
        "likes": {str(r["id"]) for r in document.get("likes", [])},
        "follows": {f"{r['follower_id']}>{r['followee_id']}" for r in pairs},
        "blocks": {f"{r['blocker_id']}>{r['blocked_id']}" for r in document.get("blocks", [])},
        "account_deletion_requests": {
            str(r["user_id"]) for r in document.get("account_deletion_requests", [])
        },
        "storage_objects": {
            f"{r['bucket']}/{r['name']}" for r in document.get("storage_objects", [])
        },
    }


def export_allowed(viewer: Viewer) -> bool:
    """D28: only a signed-in user, from an aal2 session."""
    return viewer.user_id is not None and viewer.aal == "aal2"


def judge_export(
    call: FunctionCall, world: World, names: Mapping[str, str] | None = None
) -> list[Finding]:
    """Findings for one export-my-data call (empty when it did what the rules say)."""
    if not export_allowed(call.viewer):
        if call.status != 403:
            return [_finding(call, f"expected 403 (no aal2 user session), got {call.status}")]
        return []
    if call.status != 200 or not isinstance(call.body, dict):
        return [_finding(call, f"expected 200 with an export, got {call.status}")]
    names = names or {}
    want = expected_export(world, call.viewer)
    got = exported_keys(call.body)
    findings: list[Finding] = []
    for table in EXPORT_TABLES:
        for key in sorted(got[table] - want[table]):
            findings.append(_finding(call, "exported although the rules keep it out",
                                     f"{table}/{names.get(key, key)}"))
        for key in sorted(want[table] - got[table]):
            findings.append(_finding(call, "missing from the export",
                                     f"{table}/{names.get(key, key)}"))
    return findings


# -------------------------------------------------------------------------- milestones

DAY_MILESTONES = (1, 7, 14, 30, 60, 90)
MONTH_MILESTONES = (6, 9)


def _plus_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (next_first - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def local_today(at: dt.datetime, zone: str) -> dt.date:
    """The calendar date of instant `at` in IANA zone `zone`."""
    return at.astimezone(ZoneInfo(zone)).date()


def expected_badge(sober_since: dt.date | None, today: dt.date) -> str | None:
    """The key of the highest milestone reached ('days-30', 'months-6', 'years-2'); None."""
    if sober_since is None or today < sober_since:
        return None
    best: str | None = None
    days = (today - sober_since).days
    for n in DAY_MILESTONES:
        if days >= n:
            best = f"days-{n}"
    for n in MONTH_MILESTONES:
        if _plus_months(sober_since, n) <= today:
            best = f"months-{n}"
    years = 1
    while _plus_months(sober_since, 12 * years) <= today:
        best = f"years-{years}"
        years += 1
    return best


def judge_milestone(
    call: FunctionCall, world: World, target: uuid.UUID, at: dt.datetime,
    time_zone: str = "UTC",
) -> list[Finding]:
    """Findings for one milestones call about `target`'s profile at instant `at`."""
    model = AccessModel(world)
    if not model.sees_profile(call.viewer, target):
        if call.status != 404:
            return [_finding(call, f"expected 404 (profile out of sight), got {call.status}",
                             f"profiles/{target}")]
        return []
    if call.status != 200 or not isinstance(call.body, dict):
        return [_finding(call, f"expected 200 with a badge, got {call.status}",
                         f"profiles/{target}")]
    user = world.users[target]
    want = expected_badge(user.sober_since, local_today(at, time_zone))
    badge = call.body.get("badge")
    got = badge.get("key") if isinstance(badge, dict) else None
    if got != want:
        return [_finding(call, f"badge {got!r}, expected {want!r}", f"profiles/{target}")]
    return []


# ------------------------------------------------------------------------------ notify


@dataclasses.dataclass(frozen=True)
class OutboxEvent:
    """An outbox row as the harness reads it back."""

    id: int
    kind: str
    actor: uuid.UUID
    recipient: uuid.UUID
    source_table: str
    source_id: uuid.UUID | None


def source_row(world: World, event: OutboxEvent) -> Entity | None:
    """The row an event is about, as the world has it now (None when it is gone)."""
    if event.source_table == "likes" and event.source_id is not None:
        return world.likes.get(event.source_id)
    if event.source_table == "comments" and event.source_id is not None:
        return world.comments.get(event.source_id)
    for f in world.follows:
        if {f.follower, f.followee} == {event.actor, event.recipient}:
            return f
    return None


def should_deliver(world: World, event: OutboxEvent) -> bool:
    """D30: no block either way; the recipient reads the event's row and the actor's profile."""
    model = AccessModel(world)
    recipient = world.users.get(event.recipient)
    row = source_row(world, event)
    if recipient is None or row is None or model.blocked_between(event.actor, event.recipient):
        return False
    viewer = Viewer.of(recipient)
    return model.can_read(viewer, row) and model.sees_profile(viewer, event.actor)


def judge_deliveries(
    world: World,
    events: Iterable[OutboxEvent],
    delivered: Mapping[int, int],
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Problems with a drained outbox: `delivered` counts notifications per event id.

    Each event should be delivered exactly once when D30 allows it, never otherwise.
    """
    names = names or {}
    problems: list[str] = []
    for event in events:
        count = delivered.get(event.id, 0)
        what = (f"event {event.id} ({event.kind} by {names.get(str(event.actor), event.actor)} "
                f"to {names.get(str(event.recipient), event.recipient)}"
                + (f", {event.source_table}/{names.get(str(event.source_id), event.source_id)}"
                   if event.source_id else "") + ")")
        if should_deliver(world, event):
            if count != 1:
                problems.append(f"{what}: delivered {count} times, expected once")
        elif count:
            problems.append(f"{what}: delivered {count} times, the rules withhold it")
    return problems


# --------------------------------------------------------------------- deletion worker


def expected_after_deletion(world: World, deleted: uuid.UUID) -> set[tuple[str, str]]:
    """The world's rows left once `deleted`'s account is gone (D29), keyed as
    workload.functions_calls.world_rows keys them: the user, their profile, every row they
    own or wrote, every follow and block they are party to, their objects and request; and
    others' comments and likes on their posts and videos."""
    gone_parents = {p.id for p in world.posts.values() if p.author == deleted}
    gone_parents |= {v.id for v in world.videos.values() if v.owner == deleted}
    rows: set[tuple[str, str]] = set()
    for u in world.users.values():
        if u.id != deleted:
            rows.add(("auth.users", str(u.id)))
            if u.has_profile:
                rows.add(("profiles", str(u.id)))
    rows |= {("posts", str(p.id)) for p in world.posts.values() if p.author != deleted}
    rows |= {("videos", str(v.id)) for v in world.videos.values() if v.owner != deleted}
    rows |= {("comments", str(c.id)) for c in world.comments.values()
             if c.author != deleted and c.parent.id not in gone_parents}
    rows |= {("likes", str(x.id)) for x in world.likes.values()
             if x.user != deleted and x.parent.id not in gone_parents}
    rows |= {("follows", f"{f.follower}>{f.followee}") for f in world.follows
             if deleted not in (f.follower, f.followee)}
    rows |= {("blocks", f"{b.blocker}>{b.blocked}") for b in world.blocks
             if deleted not in (b.blocker, b.blocked)}
    rows |= {("account_deletion_requests", str(r.user))
             for r in world.deletion_requests.values() if r.user != deleted}
    rows |= {("objects", f"{o.bucket}/{o.name}") for o in world.objects.values()
             if o.folder != str(deleted)}
    return rows


def judge_deletion(
    expected: set[tuple[str, str]], actual: set[tuple[str, str]],
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Rows a deletion left behind that should be gone, and rows it removed that should stay."""
    names = names or {}
    left = [f"{t}/{names.get(k, k)} left behind" for t, k in sorted(actual - expected)]
    lost = [f"{t}/{names.get(k, k)} removed although it should stay"
            for t, k in sorted(expected - actual)]
    return left + lost
