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
requests (see soberharness.checker.sequence.replay).

Arguments say the whole row, so a step can try what the actor should not: a follow in
someone else's name, an accept by the follower, a post for another author.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from soberharness.access.transitions import DeletionRequest, SequenceState, Write
from soberharness.checker.results import Op
from soberharness.world.entities import (
    Block,
    Comment,
    ContentRef,
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

USERS: tuple[str, ...] = ("u1", "u2", "u3", "m1")
ANON = "anon"
NOBODY = "nobody"
NAMESPACE = uuid.UUID("5b0e7e11-0000-4000-8000-00000000005e")

VERBS: tuple[str, ...] = (
    "create_profile",
    "set_privacy",
    "follow",
    "accept",
    "unfollow",
    "block",
    "unblock",
    "post",
    "upload_video",
    "hide",
    "unhide",
    "comment",
    "like",
    "delete",
    "upload",
    "move",
    "request_deletion",
)

# What each verb needs, so a hand-written line is checked before anything runs.
_ARGS: dict[str, tuple[str, ...]] = {
    "create_profile": ("privacy",),
    "set_privacy": ("user", "privacy"),
    "follow": ("follower", "followee", "status"),
    "accept": ("follower", "followee"),
    "unfollow": ("follower", "followee"),
    "block": ("blocker", "blocked"),
    "unblock": ("blocker", "blocked"),
    "post": ("id", "author"),
    "upload_video": ("id", "owner", "object"),
    "hide": ("target",),
    "unhide": ("target",),
    "comment": ("id", "author", "parent"),
    "like": ("id", "user", "parent"),
    "delete": ("target",),
    "upload": ("id", "bucket", "folder", "file"),
    "move": ("target", "bucket", "folder", "file"),
    "request_deletion": ("user", "aal"),
}


class StepSyntaxError(ValueError):
    """A steps file line that is not a step."""


@dataclasses.dataclass(frozen=True)
class Step:
    actor: str
    verb: str
    args: tuple[tuple[str, str], ...] = ()

    def arg(self, name: str) -> str:
        for key, value in self.args:
            if key == name:
                return value
        raise KeyError(f"step '{self.line()}' has no argument {name!r}")

    def line(self) -> str:
        return " ".join([self.actor, self.verb, *(f"{k}={v}" for k, v in self.args)])

    def __str__(self) -> str:
        return self.line()

    def __repr__(self) -> str:  # Hypothesis prints drawn steps with it
        return f"Step.parse({self.line()!r})"

    @classmethod
    def of(cls, actor: str, verb: str, **args: str) -> Step:
        return cls(actor, verb, tuple(args.items()))

    @classmethod
    def parse(cls, line: str) -> Step:
        words = line.split()
        if len(words) < 2:
            raise StepSyntaxError(f"{line!r}: expected '<actor> <verb> key=value ...'")
        actor, verb, *rest = words
        if actor != ANON and actor not in USERS:
            raise StepSyntaxError(f"{line!r}: unknown actor {actor!r} (one of {ANON}, "
                                  f"{', '.join(USERS)})")
        if verb not in _ARGS:
            raise StepSyntaxError(f"{line!r}: unknown verb {verb!r} (one of {', '.join(VERBS)})")
        args = []
        for word in rest:
            key, sep, value = word.partition("=")
            if not sep or not key or not value:
                raise StepSyntaxError(f"{line!r}: {word!r} is not key=value")
            args.append((key, value))
        missing = set(_ARGS[verb]) - {k for k, _ in args}
        if missing:
            raise StepSyntaxError(f"{line!r}: {verb} needs {', '.join(sorted(missing))}")
        return cls(actor, verb, tuple(args))


def format_steps(steps: Iterable[Step]) -> str:
    return "".join(f"{s.line()}\n" for s in steps)


def parse_steps(text: str) -> list[Step]:
    """Steps of a steps file; errors name the line number."""
    steps = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            steps.append(Step.parse(line))
        except StepSyntaxError as exc:
            raise StepSyntaxError(f"line {number}: {exc}") from None
    return steps


def load_steps(path: str | Path) -> list[Step]:
    """The steps of a steps file; a missing file or a bad line is one StepSyntaxError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise StepSyntaxError(f"{path}: cannot read steps file ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise StepSyntaxError(f"{path}: line {line}: not a steps file (not UTF-8 text: byte "
                              f"0x{data[exc.start]:02x})") from None
    try:
        steps = parse_steps(text)
    except StepSyntaxError as exc:
        raise StepSyntaxError(f"{path}: {exc}") from None
    if not steps:
        raise StepSyntaxError(f"{path}: no steps")
    return steps


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


def writes_of(step: Step, state: SequenceState, names: Names) -> tuple[Viewer, list[Write]]:
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
