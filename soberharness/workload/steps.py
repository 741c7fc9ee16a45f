"""Steps of an action sequence: what one actor attempts, as a line of text, and the writes
it sends.

A step is one line: the actor, the verb, then `key=value` arguments naming rows by short
names, for instance

    u2 follow follower=u2 followee=u1 status=pending
    u1 accept follower=u2 followee=u1
    m1 hide target=p1
    u3 move target=o1 bucket=videos folder=u1 file=clip.mp4

Users are the fixed pool USERS (`m…` are moderators); posts `p<n>`, videos `v<n>`, comments
`c<n>`, likes `l<n>`, storage objects `o<n>`; a folder is a user name or `nobody` (a folder
that names no user). Lines starting with `#` are comments. The same text replays the same
requests (see soberharness.runner.sequence, SequenceRunner.replay).

Arguments say the whole row, so a step can try what the actor should not: a follow in
someone else's name, an accept by the follower, a post for another author.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Literal

from soberharness.access.transitions import SequenceState, StepWrite
from soberharness.records.results import Op
from soberharness.records.steps import ANON, NOBODY, USERS, Step, StepSyntaxError
from soberharness.records.writes import Write
from soberharness.world.entities import (
    Block,
    Comment,
    ContentRef,
    DeletionRequest,
    Follow,
    FollowStatus,
    Like,
    Post,
    Privacy,
    Role,
    StoredObject,
    User,
    Video,
    Viewer,
    World,
)

NAMESPACE = uuid.UUID("5b0e7e11-0000-4000-8000-00000000005e")


class Names:
    """Short names <-> ids for one run (ids and handles carry the run id, so runs sharing a
    database never meet)."""

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id
        self._names: dict[uuid.UUID, str] = {}

    def id(self, name: str) -> uuid.UUID:
        value = uuid.uuid5(NAMESPACE, f"{self.run_id}/{name}")
        self._names[value] = name
        return value

    def name(self, value: object) -> str:
        """The short name of an id (or the value itself when it is no id of this run)."""
        try:
            return self._names.get(uuid.UUID(str(value)), str(value))
        except ValueError:
            return str(value)

    def user(self, name: str) -> User:
        """The pool user `name` as signed up (no profile yet)."""
        return User(
            self.id(name),
            f"seq_{name}" + (f"_{self.run_id}" if self.run_id else ""),
            moderator=name.startswith("m"),
            has_profile=False,
        )

    def viewer(self, actor: str, aal: Literal["aal1", "aal2"] = "aal1") -> Viewer:
        if actor == ANON:
            return Viewer.anon()
        return Viewer(Role.AUTHENTICATED, self.id(actor), actor.startswith("m"), aal)

    def folder(self, name: str) -> str:
        return str(self.id(name)) if name in USERS else f"{NOBODY}-{self.run_id or 'run'}"

    def viewers(self) -> list[Viewer]:
        """Everyone who reads after each step: anon, service, every pool user."""
        return [Viewer.anon(), Viewer.service(), *(self.viewer(u) for u in USERS)]

    def describe_key(self, key: object) -> str:
        if isinstance(key, tuple):
            return "(" + ", ".join(self.name(k) for k in key) + ")"
        return self.name(key)


def initial_world(names: Names) -> SequenceState:
    """The pool signed up (auth users exist), nobody has a profile yet."""
    world = World()
    for name in USERS:
        world.add(names.user(name))
    return SequenceState(world)


def _content(world: World, names: Names, name: str) -> Post | Video | Comment | Like | None:
    value = names.id(name)
    table = {"p": world.posts, "v": world.videos, "c": world.comments, "l": world.likes}.get(
        name[:1]
    )
    if table is None:
        raise StepSyntaxError(f"{name!r} names no post, video, comment or like")
    return table.get(value)  # type: ignore[return-value]


def _ref(names: Names, name: str) -> ContentRef:
    if name[:1] not in ("p", "v"):
        raise StepSyntaxError(f"parent {name!r} is no post (p…) or video (v…)")
    return ContentRef("post" if name[0] == "p" else "video", names.id(name))


def _placeholder(names: Names, name: str, actor_id: uuid.UUID) -> Post | Video | Comment | Like:
    """A row that does not exist (never created, or deleted): the request still goes out."""
    value = names.id(name)
    match name[:1]:
        case "p":
            return Post(value, actor_id)
        case "v":
            return Video(value, actor_id)
        case "c":
            return Comment(value, actor_id, ContentRef("post", value))
        case _:
            return Like(value, actor_id, ContentRef("post", value))


def _object_name(names: Names, folder: str, file: str) -> str:
    return f"{names.folder(folder)}/{file}"


def writes_of(step: Step, state: SequenceState, names: Names) -> tuple[Viewer, list[StepWrite]]:
    """Who sends the step's requests, and the requests in world terms (in order)."""
    world = state.world
    aal: Literal["aal1", "aal2"] = "aal2" if dict(step.args).get("aal") == "aal2" else "aal1"
    viewer = names.viewer(step.actor, aal)
    me = viewer.user_id or names.id(USERS[0])
    a = dict(step.args)
    match step.verb:
        case "create_profile":
            user = world.users[me] if step.actor != ANON else names.user(USERS[0])
            return viewer, [Write(Op.INSERT, dataclasses.replace(
                user, privacy=Privacy(a["privacy"]), has_profile=True))]
        case "set_privacy":
            user = world.users[names.id(a["user"])]
            return viewer, [Write(Op.UPDATE, user,
                                  dataclasses.replace(user, privacy=Privacy(a["privacy"])),
                                  frozenset({"privacy"}))]
        case "follow":
            return viewer, [Write(Op.INSERT, Follow(
                names.id(a["follower"]), names.id(a["followee"]), FollowStatus(a["status"])))]
        case "accept" | "unfollow":
            pair = (names.id(a["follower"]), names.id(a["followee"]))
            current = next((f for f in world.follows if (f.follower, f.followee) == pair),
                           Follow(*pair, FollowStatus.PENDING))
            if step.verb == "unfollow":
                return viewer, [Write(Op.DELETE, current)]
            return viewer, [Write(Op.UPDATE, current,
                                  dataclasses.replace(current, status=FollowStatus.ACCEPTED),
                                  frozenset({"status"}))]
        case "block":
            return viewer, [Write(Op.INSERT, Block(names.id(a["blocker"]),
                                                   names.id(a["blocked"])))]
        case "unblock":
            return viewer, [Write(Op.DELETE, Block(names.id(a["blocker"]),
                                                   names.id(a["blocked"])))]
        case "post":
            return viewer, [Write(Op.INSERT, Post(names.id(a["id"]), names.id(a["author"]),
                                                  body=f"post {a['id']}"))]
        case "upload_video":
            owner = names.id(a["owner"])
            clip = StoredObject(names.id(a["object"]), "videos",
                                _object_name(names, a["owner"], f"{a['id']}.mp4"),
                                viewer.user_id)
            video = Video(names.id(a["id"]), owner, title=f"video {a['id']}")
            return viewer, [Write(Op.INSERT, clip), Write(Op.INSERT, video)]
        case "hide" | "unhide":
            row = _content(world, names, a["target"]) or _placeholder(names, a["target"], me)
            if not isinstance(row, Post | Video):
                raise StepSyntaxError(f"{step.line()!r}: only posts and videos are hidden")
            return viewer, [Write(Op.UPDATE, row,
                                  dataclasses.replace(row, hidden=step.verb == "hide"),
                                  frozenset({"hidden"}))]
        case "comment":
            return viewer, [Write(Op.INSERT, Comment(names.id(a["id"]), names.id(a["author"]),
                                                     _ref(names, a["parent"]),
                                                     body=f"comment {a['id']}"))]
        case "like":
            return viewer, [Write(Op.INSERT, Like(names.id(a["id"]), names.id(a["user"]),
                                                  _ref(names, a["parent"])))]
        case "delete":
            target = a["target"]
            if target.startswith("o"):
                obj = world.objects.get(names.id(target)) or StoredObject(
                    names.id(target), "avatars", _object_name(names, step.actor, "gone"), me)
                return viewer, [Write(Op.DELETE, obj)]
            row = _content(world, names, target) or _placeholder(names, target, me)
            return viewer, [Write(Op.DELETE, row)]
        case "upload":
            bucket = _bucket(a["bucket"])
            return viewer, [Write(Op.INSERT, StoredObject(
                names.id(a["id"]), bucket, _object_name(names, a["folder"], a["file"]),
                viewer.user_id))]
        case "move":
            obj = world.objects.get(names.id(a["target"])) or StoredObject(
                names.id(a["target"]), "avatars", _object_name(names, step.actor, "gone"), me)
            moved = dataclasses.replace(obj, bucket=_bucket(a["bucket"]),
                                        name=_object_name(names, a["folder"], a["file"]))
            return viewer, [Write(Op.UPDATE, obj, moved, frozenset({"bucket", "name"}))]
        case "request_deletion":
            return viewer, [Write(Op.INSERT, DeletionRequest(names.id(a["user"])))]
    raise StepSyntaxError(f"unknown verb {step.verb!r}")


def _bucket(name: str) -> Literal["avatars", "videos"]:
    if name not in ("avatars", "videos"):
        raise StepSyntaxError(f"bucket {name!r} is not avatars or videos")
    return name  # type: ignore[return-value]
