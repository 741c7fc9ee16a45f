"""Steps of an action sequence: the verbs, each declared once in VERBS (its name, the
arguments a line gives, the writes it sends, how the state machine draws it and how often).

A step is one line: the actor, the verb, then `key=value` arguments naming rows by short
names, for instance

    u2 follow follower=u2 followee=u1 status=pending
    u1 accept follower=u2 followee=u1
    m1 hide target=p1
    u3 move target=o1 bucket=videos folder=u1 file=clip.mp4

Users are the fixed pool USERS (`m…` are moderators); posts `p<n>`, videos `v<n>`, comments
`c<n>`, likes `l<n>`, storage objects `o<n>`; a folder is a user name or `nobody` (a folder
that names no user). Lines starting with `#` are comments. The same text replays the same
requests (see soberharness.runner.sequence, SequenceRunner.replay); `parse_steps` and
`load_steps` check each line against VERBS.

Arguments say the whole row, so a step can try what the actor should not: a follow in
someone else's name, an accept by the follower, a post for another author.

A new verb is one entry in VERBS with its writes and its draw beside it (see README, "Adding
a table"); soberharness.runner.state_machine draws every entry's draws by weight.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from hypothesis import strategies as st

from soberharness.access.model import initial_follow_status
from soberharness.access.transitions import SequenceState, StepWrite
from soberharness.records import steps as text
from soberharness.records.results import Op
from soberharness.records.steps import ANON, NOBODY, USERS, Step, StepSyntaxError
from soberharness.records.writes import Write
from soberharness.workload.step_strategies import (
    ACTORS,
    FILES,
    MODERATOR,
    PRIVATE_FIRST,
    StepDrawer,
    acting_as,
    mostly,
    others_first,
    pairs,
    sampled,
)
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
        self._ids: dict[str, uuid.UUID] = {}  # each name's id, derived once

    def id(self, name: str) -> uuid.UUID:
        value = self._ids.get(name)
        if value is None:
            value = self._ids[name] = uuid.uuid5(NAMESPACE, f"{self.run_id}/{name}")
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


# ----------------------------------------------------------------------------- the registry

Strategy = Callable[[StepDrawer, SequenceState], st.SearchStrategy[Step]]


def _always(world: World) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Draw:
    """One way the state machine draws a verb: `weight` times in the pool of draws, while
    `when` holds (verbs on existing rows wait until some exist)."""

    label: str
    weight: int
    strategy: Strategy
    when: Callable[[World], bool] = _always


@dataclasses.dataclass(frozen=True)
class Act:
    """A step being turned into writes: its arguments, who sends it, the state it meets."""

    step: Step
    a: dict[str, str]
    viewer: Viewer
    me: uuid.UUID  # the actor's id (the first user's for anon)
    world: World
    names: Names

    def id(self, arg: str) -> uuid.UUID:
        return self.names.id(self.a[arg])


@dataclasses.dataclass(frozen=True)
class Verb:
    """A verb, declared once: its name, the arguments a line must give, the writes it sends
    and how the state machine draws it."""

    name: str
    args: tuple[str, ...]
    writes: Callable[[Act], list[StepWrite]]
    draws: tuple[Draw, ...]


def _has_content(w: World) -> bool:
    return bool(w.posts or w.videos)


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


def _bucket(name: str) -> Literal["avatars", "videos"]:
    if name not in ("avatars", "videos"):
        raise StepSyntaxError(f"bucket {name!r} is not avatars or videos")
    return name  # type: ignore[return-value]


def _object(x: Act, arg: str) -> StoredObject:
    """The object an argument names, or one that does not exist (the request still goes out)."""
    return x.world.objects.get(x.id(arg)) or StoredObject(
        x.id(arg), "avatars", _object_name(x.names, x.step.actor, "gone"), x.me)


# ------------------------------------------------------------------------ profiles, privacy

def _create_profile(x: Act) -> list[StepWrite]:
    user = x.world.users[x.me] if x.step.actor != ANON else x.names.user(USERS[0])
    return [Write(Op.INSERT, dataclasses.replace(
        user, privacy=Privacy(x.a["privacy"]), has_profile=True))]


@st.composite
def _draw_create_profile(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    without = [u for u in USERS if u not in d.with_profile(state)]
    actor = draw(mostly(without, ACTORS))
    return Step.of(actor, "create_profile", privacy=draw(sampled(PRIVATE_FIRST)).value)


def _set_privacy(x: Act) -> list[StepWrite]:
    user = x.world.users[x.id("user")]
    return [Write(Op.UPDATE, user, dataclasses.replace(user, privacy=Privacy(x.a["privacy"])),
                  frozenset({"privacy"}))]


@st.composite
def _draw_set_privacy(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    actor = draw(d.actor(state))
    user = draw(mostly(acting_as(actor), USERS))
    return Step.of(actor, "set_privacy", user=user,
                   privacy=draw(sampled(PRIVATE_FIRST)).value)


# --------------------------------------------------------------------------- follows, blocks

def _follow(x: Act) -> list[StepWrite]:
    return [Write(Op.INSERT, Follow(x.id("follower"), x.id("followee"),
                                    FollowStatus(x.a["status"])))]


@st.composite
def _draw_follow(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    actor = draw(d.actor(state))
    follower = draw(mostly(acting_as(actor), USERS))
    me = d.names.id(follower)
    taken = {f.followee for f in state.world.follows if f.follower == me}
    taken |= {b.blocked for b in state.world.blocks if b.blocker == me}
    taken |= {b.blocker for b in state.world.blocks if b.blocked == me}
    fresh = [u for u in d.with_profile(state) if u != follower and d.names.id(u) not in taken]
    followee = draw(mostly(fresh, others_first(follower)))
    privacy = state.world.users[d.names.id(followee)].privacy
    natural = initial_follow_status(privacy)
    other = next(s for s in FollowStatus if s is not natural)
    status = draw(sampled((natural, other)))  # the wrong one half the time
    return Step.of(actor, "follow", follower=follower, followee=followee, status=status.value)


def _current_follow(x: Act) -> Follow:
    pair = (x.id("follower"), x.id("followee"))
    return next((f for f in x.world.follows if (f.follower, f.followee) == pair),
                Follow(*pair, FollowStatus.PENDING))


def _accept(x: Act) -> list[StepWrite]:
    current = _current_follow(x)
    return [Write(Op.UPDATE, current, dataclasses.replace(current, status=FollowStatus.ACCEPTED),
                  frozenset({"status"}))]


@st.composite
def _draw_accept(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    pending = [(d.name(f.follower), d.name(f.followee)) for f in state.world.follows
               if f.status is FollowStatus.PENDING]
    follower, followee = draw(mostly(pending, pairs()))
    actor = draw(mostly(followee, ACTORS))
    return Step.of(actor, "accept", follower=follower, followee=followee)


def _unfollow(x: Act) -> list[StepWrite]:
    return [Write(Op.DELETE, _current_follow(x))]


@st.composite
def _draw_unfollow(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    existing = [(d.name(f.follower), d.name(f.followee)) for f in state.world.follows]
    follower, followee = draw(mostly(existing, pairs()))
    actor = draw(mostly([follower, followee], ACTORS))
    return Step.of(actor, "unfollow", follower=follower, followee=followee)


def _block(x: Act) -> list[StepWrite]:
    return [Write(Op.INSERT, Block(x.id("blocker"), x.id("blocked")))]


@st.composite
def _draw_block(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    actor = draw(d.actor(state))
    blocker = draw(mostly(acting_as(actor), USERS))
    me = d.names.id(blocker)
    partners = sorted({d.name(f.followee if f.follower == me else f.follower)
                       for f in state.world.follows if me in (f.follower, f.followee)})
    partners = partners or [u for u in d.with_profile(state) if u != blocker]
    already = {d.name(b.blocked) for b in state.world.blocks if b.blocker == me}
    partners = [u for u in partners if u not in already]
    blocked = draw(mostly(partners, others_first(blocker)))
    return Step.of(actor, "block", blocker=blocker, blocked=blocked)


def _unblock(x: Act) -> list[StepWrite]:
    return [Write(Op.DELETE, Block(x.id("blocker"), x.id("blocked")))]


@st.composite
def _draw_unblock(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    existing = [(d.name(b.blocker), d.name(b.blocked)) for b in state.world.blocks]
    blocker, blocked = draw(mostly(existing, pairs()))
    actor = draw(mostly(blocker, ACTORS))
    return Step.of(actor, "unblock", blocker=blocker, blocked=blocked)


# --------------------------------------------------------------------- posts, videos, hiding

def _post(x: Act) -> list[StepWrite]:
    return [Write(Op.INSERT, Post(x.id("id"), x.id("author"), body=f"post {x.a['id']}"))]


@st.composite
def _draw_post(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    actor = draw(d.actor(state))
    author = draw(mostly(acting_as(actor), USERS))
    return Step.of(actor, "post", id=d.fresh("p"), author=author)


def _upload_video(x: Act) -> list[StepWrite]:
    clip = StoredObject(x.id("object"), "videos",
                        _object_name(x.names, x.a["owner"], f"{x.a['id']}.mp4"), x.viewer.user_id)
    video = Video(x.id("id"), x.id("owner"), title=f"video {x.a['id']}")
    return [Write(Op.INSERT, clip), Write(Op.INSERT, video)]


@st.composite
def _draw_upload_video(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    actor = draw(d.actor(state))
    owner = draw(mostly(acting_as(actor), USERS))
    return Step.of(actor, "upload_video", id=d.fresh("v"), owner=owner, object=d.fresh("o"))


def _hide_or_unhide(x: Act) -> list[StepWrite]:
    row = _content(x.world, x.names, x.a["target"]) or _placeholder(x.names, x.a["target"], x.me)
    if not isinstance(row, Post | Video):
        raise StepSyntaxError(f"{x.step.line()!r}: only posts and videos are hidden")
    return [Write(Op.UPDATE, row, dataclasses.replace(row, hidden=x.step.verb == "hide"),
                  frozenset({"hidden"}))]


@st.composite
def _draw_hide(draw, d: StepDrawer, state: SequenceState, unhide: bool = False) -> Step:  # type: ignore[no-untyped-def]
    target = draw(mostly(d.content(state, hidden=unhide), d.ever("p") + d.ever("v")))
    actor = draw(mostly(MODERATOR, ACTORS))
    return Step.of(actor, "unhide" if unhide else "hide", target=target)


def _draw_unhide(d: StepDrawer, state: SequenceState) -> st.SearchStrategy[Step]:
    return _draw_hide(d, state, unhide=True)  # type: ignore[no-any-return]


def _has_hidden(w: World) -> bool:
    return any(r.hidden for r in [*w.posts.values(), *w.videos.values()])


# ------------------------------------------------------------------------- comments, likes

def _comment(x: Act) -> list[StepWrite]:
    return [Write(Op.INSERT, Comment(x.id("id"), x.id("author"), _ref(x.names, x.a["parent"]),
                                     body=f"comment {x.a['id']}"))]


def _draw_reaction(verb: str, kind: str, who: str) -> Strategy:
    """Drawing a comment or a like: a fresh `kind` row by `who` on a post or video."""

    @st.composite
    def draw_it(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
        actor = draw(d.actor(state))
        person = draw(mostly(acting_as(actor), USERS))
        parent = draw(mostly(d.content(state), d.ever("p") + d.ever("v")))
        return Step.of(actor, verb, id=d.fresh(kind), **{who: person}, parent=parent)

    return draw_it  # type: ignore[no-any-return]


def _like(x: Act) -> list[StepWrite]:
    return [Write(Op.INSERT, Like(x.id("id"), x.id("user"), _ref(x.names, x.a["parent"])))]




# ------------------------------------------------------------- delete (content or an object)

def _delete(x: Act) -> list[StepWrite]:
    target = x.a["target"]
    if target.startswith("o"):
        return [Write(Op.DELETE, _object(x, "target"))]
    row = _content(x.world, x.names, target) or _placeholder(x.names, target, x.me)
    return [Write(Op.DELETE, row)]


@st.composite
def _draw_delete(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    w = state.world
    owners: dict[str, list[str]] = {}
    for p in w.posts.values():
        owners[d.name(p.id)] = [d.name(p.author), MODERATOR]
    for v in w.videos.values():
        owners[d.name(v.id)] = [d.name(v.owner), MODERATOR]
    for c in w.comments.values():
        parent = w.posts.get(c.parent.id) or w.videos.get(c.parent.id)
        parent_owner = getattr(parent, "author", None) or getattr(parent, "owner", None)
        owners[d.name(c.id)] = [d.name(c.author), MODERATOR] + (
            [d.name(parent_owner)] if parent_owner else [])
    for like in w.likes.values():
        owners[d.name(like.id)] = [d.name(like.user)]
    target = draw(mostly(sorted(owners), d.ever("p") + d.ever("c") + d.ever("l")))
    actor = draw(mostly(owners.get(target, []), ACTORS))
    return Step.of(actor, "delete", target=target)


@st.composite
def _draw_delete_object(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    target = draw(mostly(d.objects(state), d.ever("o")))
    owner = d.folder_of(state, target)
    actor = draw(mostly([owner, MODERATOR] if owner in USERS else [MODERATOR], ACTORS))
    return Step.of(actor, "delete", target=target)


# --------------------------------------------------------------------------- storage objects

def _upload(x: Act) -> list[StepWrite]:
    return [Write(Op.INSERT, StoredObject(
        x.id("id"), _bucket(x.a["bucket"]), _object_name(x.names, x.a["folder"], x.a["file"]),
        x.viewer.user_id))]


@st.composite
def _draw_upload(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    actor = draw(d.actor(state))
    folder = draw(mostly(acting_as(actor), [*USERS, NOBODY]))
    return Step.of(actor, "upload", id=d.fresh("o"),
                   bucket=draw(sampled(("avatars", "videos"))),
                   folder=folder, file=draw(sampled(FILES)))


def _move(x: Act) -> list[StepWrite]:
    obj = _object(x, "target")
    moved = dataclasses.replace(obj, bucket=_bucket(x.a["bucket"]),
                                name=_object_name(x.names, x.a["folder"], x.a["file"]))
    return [Write(Op.UPDATE, obj, moved, frozenset({"bucket", "name"}))]


@st.composite
def _draw_move(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    target = draw(mostly(d.objects(state), d.ever("o")))
    obj = state.world.objects.get(d.names.id(target))
    owner = d.folder_of(state, target)
    actor = draw(mostly(owner if owner in USERS else ACTORS[0], ACTORS))
    bucket = draw(mostly(obj.bucket if obj else "avatars", ["avatars", "videos"]))
    folder = draw(mostly(acting_as(actor), [*USERS, NOBODY]))
    return Step.of(actor, "move", target=target, bucket=bucket, folder=folder,
                   file=draw(sampled(("moved.png", *FILES))))


def _has_objects(w: World) -> bool:
    return bool(w.objects)


# --------------------------------------------------------------------- account deletion

def _request_deletion(x: Act) -> list[StepWrite]:
    return [Write(Op.INSERT, DeletionRequest(x.id("user")))]


@st.composite
def _draw_request_deletion(draw, d: StepDrawer, state: SequenceState) -> Step:  # type: ignore[no-untyped-def]
    actor = draw(d.actor(state))
    asked = {d.name(u) for u in state.world.deletion_requests}
    user = draw(mostly(actor if actor not in (ANON, *asked) else [], USERS))
    return Step.of(actor, "request_deletion", user=user,
                   aal=draw(sampled(("aal2", "aal1"))))


# Every verb, in the order the state machine lists its draws (weights: how often each is
# drawn, relative to the others).
VERBS: tuple[Verb, ...] = (
    Verb("follow", ("follower", "followee", "status"), _follow,
         (Draw("follow", 4, _draw_follow),)),
    Verb("block", ("blocker", "blocked"), _block, (Draw("block", 3, _draw_block),)),
    Verb("accept", ("follower", "followee"), _accept, (Draw(
        "accept", 2, _draw_accept,
        lambda w: any(f.status is FollowStatus.PENDING for f in w.follows)),)),
    Verb("unfollow", ("follower", "followee"), _unfollow,
         (Draw("unfollow", 2, _draw_unfollow, lambda w: bool(w.follows)),)),
    Verb("unblock", ("blocker", "blocked"), _unblock,
         (Draw("unblock", 2, _draw_unblock, lambda w: bool(w.blocks)),)),
    Verb("set_privacy", ("user", "privacy"), _set_privacy,
         (Draw("set_privacy", 2, _draw_set_privacy),)),
    Verb("post", ("id", "author"), _post, (Draw("post", 2, _draw_post),)),
    Verb("create_profile", ("privacy",), _create_profile,
         (Draw("create_profile", 1, _draw_create_profile),)),
    Verb("upload_video", ("id", "owner", "object"), _upload_video,
         (Draw("upload_video", 1, _draw_upload_video),)),
    Verb("hide", ("target",), _hide_or_unhide, (Draw("hide", 1, _draw_hide, _has_content),)),
    Verb("unhide", ("target",), _hide_or_unhide,
         (Draw("unhide", 1, _draw_unhide, _has_hidden),)),
    Verb("comment", ("id", "author", "parent"), _comment,
         (Draw("comment", 1, _draw_reaction("comment", "c", "author"), _has_content),)),
    Verb("like", ("id", "user", "parent"), _like,
         (Draw("like", 1, _draw_reaction("like", "l", "user"), _has_content),)),
    Verb("delete", ("target",), _delete, (
        Draw("delete", 1, _draw_delete, _has_content),
        Draw("delete_object", 1, _draw_delete_object, _has_objects),
    )),
    Verb("upload", ("id", "bucket", "folder", "file"), _upload,
         (Draw("upload", 1, _draw_upload),)),
    Verb("move", ("target", "bucket", "folder", "file"), _move,
         (Draw("move", 1, _draw_move, _has_objects),)),
    Verb("request_deletion", ("user", "aal"), _request_deletion,
         (Draw("request_deletion", 1, _draw_request_deletion),)),
)

BY_NAME: dict[str, Verb] = {v.name: v for v in VERBS}
SHAPES: dict[str, tuple[str, ...]] = {v.name: v.args for v in VERBS}  # what each line needs
DRAWS: tuple[Draw, ...] = tuple(d for v in VERBS for d in v.draws)


def writes_of(step: Step, state: SequenceState, names: Names) -> tuple[Viewer, list[StepWrite]]:
    """Who sends the step's requests, and the requests in world terms (in order)."""
    a = dict(step.args)
    aal: Literal["aal1", "aal2"] = "aal2" if a.get("aal") == "aal2" else "aal1"
    viewer = names.viewer(step.actor, aal)
    verb = BY_NAME.get(step.verb)
    if verb is None:
        raise StepSyntaxError(f"unknown verb {step.verb!r}")
    act = Act(step, a, viewer, viewer.user_id or names.id(USERS[0]), state.world, names)
    return viewer, verb.writes(act)


def parse_step(line: str) -> Step:
    """One step line, checked against VERBS."""
    return Step.parse(line, SHAPES)


def parse_steps(source: str) -> list[Step]:
    """The steps of a steps file's text, checked against VERBS; errors name the line."""
    return text.parse_steps(source, SHAPES)


def load_steps(path: str | Path) -> list[Step]:
    """The steps of a steps file, checked against VERBS; any problem is one StepSyntaxError."""
    return text.load_steps(path, SHAPES)
