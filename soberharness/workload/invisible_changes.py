"""Changes to the matrix world that some viewers cannot observe, derived from the access model.

Candidates are drawn generically from the world: every row is deleted, every column the model
knows is changed (text columns gain a suffix, flags flip, enums take their other values), the
text columns it does not hold but hides with their row are set (a profile's display name and
bio), and
rows are added beside the existing ones (a sibling post, comment or object, a follow or block
between a shared user and an owner, a like by each user on each parent). A candidate is kept
for viewer V when the model (on the world before and after it) says V can read none of the
changed rows, before or after, and every row V may read is the same: the change is invisible to
V. Candidates are classed by table, kind of change and the shape of the changed row (a pending
or accepted follow, a hidden or visible post, ...); within a class each viewer blind to some
candidate is given the first candidate it is blind to, so every (class, viewer) pair the model
allows is tried once and the catalogue stays small enough to run on every suite run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Collection, Iterator

from psycopg import sql

from soberharness.access.model import AccessModel, initial_follow_status, table_of
from soberharness.db import sql as rows
from soberharness.records.noninterference import Change
from soberharness.world.entities import (
    Block,
    Comment,
    DeletionRequest,
    Entity,
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
from soberharness.world.matrix_world import MatrixWorld

NAMESPACE = uuid.UUID("5b0e7e11-0000-4000-8000-00000000d31a")


@dataclasses.dataclass(frozen=True)
class WorldChange:
    """A change Δ: rows removed and added (an update removes the old version and adds the new)
    and, for an update, the pair of versions; `consequences` are rows the schema removes by
    itself (cascades, a block removing follows), which the model's world must lose too."""

    change: Change
    removed: tuple[Entity, ...] = ()
    added: tuple[Entity, ...] = ()
    update: tuple[Entity, Entity] | None = None
    consequences: tuple[Entity, ...] = ()
    # An update of columns the model does not hold (a profile's display name and bio): the
    # row stays the same entity, these columns get these values.
    unmodelled: tuple[tuple[str, str], ...] = ()

    def world_after(self, world: World) -> World:
        after = world.copy()
        for entity in (*self.removed, *self.consequences):
            _remove(after, entity)
        for entity in self.added:
            after.add(entity)
        return after

    def statements(self) -> list[sql.Composable]:
        """The superuser's statements making the change (the schema does the consequences)."""
        if self.update is not None:
            before, after = self.update
            if self.unmodelled:
                row = rows.row_of(before)
                return [sql.SQL("UPDATE {} SET {} WHERE {}").format(
                    row.name, sql.SQL(", ").join(
                        sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v))
                        for c, v in self.unmodelled), row.where())]
            return [rows.update(rows.row_of(before), rows.row_of(after))]
        out: list[sql.Composable] = [rows.delete(rows.row_of(e)) for e in self.removed]
        return out + [rows.insert(rows.row_of(e)) for e in self.added]


@dataclasses.dataclass(frozen=True)
class InvisibleChange:
    """A change and the viewers (by label) the model says cannot observe it."""

    change: WorldChange
    blind: tuple[str, ...]


def _remove(world: World, entity: Entity) -> None:
    match entity:
        case User():
            world.users[entity.id] = dataclasses.replace(entity, has_profile=False)
        case Follow():
            world.follows = [f for f in world.follows
                             if (f.follower, f.followee) != (entity.follower, entity.followee)]
        case Block():
            world.blocks = [b for b in world.blocks
                            if (b.blocker, b.blocked) != (entity.blocker, entity.blocked)]
        case DeletionRequest():
            world.deletion_requests.pop(entity.user, None)
        case Post():
            world.posts.pop(entity.id, None)
        case Video():
            world.videos.pop(entity.id, None)
        case Comment():
            world.comments.pop(entity.id, None)
        case Like():
            world.likes.pop(entity.id, None)
        case StoredObject():
            world.objects.pop(entity.id, None)


def matrix_viewers(mw: MatrixWorld) -> dict[str, Viewer]:
    """Every viewer of the matrix world by label: the shared actors and each owner as
    `self/<privacy>`."""
    viewers = {f"self/{p.value}": Viewer.of(owner) for p, owner in mw.owners.items()}
    return viewers | dict(mw.actors)


def names(mw: MatrixWorld) -> dict[uuid.UUID, str]:
    """Readable names of the matrix world's users: actor labels and O_<privacy>."""
    out = {user.id: actor for actor, user in mw.users.items()}
    return out | {owner.id: f"O_{p.value}" for p, owner in mw.owners.items()}


def describe(entity: Entity, who: dict[uuid.UUID, str], world: World) -> str:
    """A row in words: whose it is and what it hangs on."""
    def name(user_id: uuid.UUID | None) -> str:
        return who.get(user_id, str(user_id)) if user_id else "nobody"

    match entity:
        case User():
            return f"profile of {name(entity.id)}"
        case Follow():
            return f"{name(entity.follower)} -> {name(entity.followee)}, {entity.status.value}"
        case Block():
            return f"{name(entity.blocker)} blocks {name(entity.blocked)}"
        case Post() | Video():
            owner = entity.author if isinstance(entity, Post) else entity.owner
            return f"{'hidden ' if entity.hidden else ''}{table_of(entity)[:-1]} of {name(owner)}"
        case Comment() | Like():
            author = entity.author if isinstance(entity, Comment) else entity.user
            parent = world.posts.get(entity.parent.id) or world.videos.get(entity.parent.id)
            on = describe(parent, who, world) if parent else entity.parent.kind
            return f"by {name(author)} on the {on}"
        case StoredObject():
            return f"{entity.bucket}/{entity.name.split('/')[-1]} of {name(entity.owner)}"
        case DeletionRequest():
            return f"deletion request of {name(entity.user)}"
    return repr(entity)


def _nid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(map(str, parts)))


# Text columns of a row that the model does not hold but hides with the row.
UNMODELLED_TEXT: dict[type, tuple[str, ...]] = {User: ("display_name", "bio")}


def _updates(entity: Entity) -> Iterator[tuple[str, Entity]]:
    """Every column the model knows, changed: (the column, the new version)."""
    match entity:
        case User():
            yield "handle", dataclasses.replace(entity, handle=entity.handle + "_x")
            yield "sober_since", dataclasses.replace(
                entity, sober_since=entity.sober_since + dt.timedelta(days=1))
            for p in Privacy:
                if p is not entity.privacy:
                    yield "privacy", dataclasses.replace(entity, privacy=p)
        case Follow() if entity.status is FollowStatus.PENDING:
            yield "status", dataclasses.replace(entity, status=FollowStatus.ACCEPTED)
        case Post():
            yield "body", dataclasses.replace(entity, body=entity.body + " (edited)")
            yield "hidden_at", dataclasses.replace(entity, hidden=not entity.hidden)
        case Video():
            yield "title", dataclasses.replace(entity, title=entity.title + " (edited)")
            yield "hidden_at", dataclasses.replace(entity, hidden=not entity.hidden)
        case Comment():
            yield "body", dataclasses.replace(entity, body=entity.body + " (edited)")


def _cascade(world: World, entity: Entity) -> tuple[Entity, ...]:
    """Rows the schema removes with `entity`: a parent's comments and likes."""
    if isinstance(entity, Post | Video):
        return tuple(r for r in (*world.comments.values(), *world.likes.values())
                     if r.parent.id == entity.id)
    return ()


def _between(world: World, a: uuid.UUID, b: uuid.UUID) -> tuple[Entity, ...]:
    """The follows a block between a and b removes (remove_follows_on_block)."""
    return tuple(f for f in world.follows if {f.follower, f.followee} == {a, b})


def candidates(mw: MatrixWorld) -> Iterator[WorldChange]:
    """Every candidate change of the matrix world, in a fixed order."""
    world, who = mw.world, names(mw)
    for entity in list(world.entities()):
        what = describe(entity, who, world)
        table = table_of(entity)
        if not isinstance(entity, User):
            yield WorldChange(Change(table, "delete", f"delete {table} ({what})"),
                              removed=(entity,), consequences=_cascade(world, entity))
        for column, after in _updates(entity):
            yield WorldChange(
                Change(table, f"update {column}", f"update {table}.{column} ({what})"),
                removed=(entity,), added=(after,), update=(entity, after))
        for column in UNMODELLED_TEXT.get(type(entity), ()):
            yield WorldChange(
                Change(table, f"update {column}", f"update {table}.{column} ({what})"),
                removed=(entity,), added=(entity,), update=(entity, entity),
                unmodelled=((column, f"{column} of the {what}"),))
    yield from _inserts(mw, who)


def _inserts(mw: MatrixWorld, who: dict[uuid.UUID, str]) -> Iterator[WorldChange]:
    world = mw.world
    for i, entity in enumerate(list(world.entities())):
        sibling = _sibling(entity, i)
        if sibling is not None:
            table = table_of(sibling)
            yield WorldChange(Change(table, "insert", f"insert {table} "
                                     f"({describe(sibling, who, world)})"), added=(sibling,))
    shared = [u for u in mw.users.values()]
    for owner in mw.owners.values():
        for user in shared:
            for a, b in ((user, owner), (owner, user)):
                follow = Follow(a.id, b.id, initial_follow_status(b.privacy))
                yield WorldChange(Change("follows", "insert", f"insert follows "
                                         f"({describe(follow, who, world)})"), added=(follow,))
                block = Block(a.id, b.id)
                yield WorldChange(Change("blocks", "insert", f"insert blocks "
                                         f"({describe(block, who, world)})"), added=(block,),
                                  consequences=_between(world, a.id, b.id))
    for parent in [*world.posts.values(), *world.videos.values()]:
        for user in [*shared, *mw.owners.values()]:
            like = Like(_nid("like", user.id, parent.id), user.id, parent.ref)
            yield WorldChange(Change("likes", "insert", f"insert likes "
                                     f"({describe(like, who, world)})"), added=(like,))


def _sibling(entity: Entity, i: int) -> Entity | None:
    """A new row beside an existing one (a new id, the same owner and parent)."""
    match entity:
        case Post() | Video() | Comment():
            return dataclasses.replace(entity, id=_nid("sibling", i))
        case StoredObject():
            return dataclasses.replace(entity, id=_nid("sibling", i),
                                       name=entity.name.replace("/", "/sibling-", 1))
    return None


class _Judge:
    """The model's answers on the world before, cached per viewer."""

    def __init__(self, world: World, viewers: dict[str, Viewer]) -> None:
        self.world, self.viewers = world, viewers
        self.model = AccessModel(world)
        self.seen = {label: self.model.visible(v) for label, v in viewers.items()}

    def valid(self, wc: WorldChange) -> bool:
        """The schema accepts the change from the superuser (as the model's service does)."""
        service = Viewer.service()
        if wc.update is not None:
            return self.model.can_update(service, *wc.update)
        return all(self.model.can_delete(service, e) for e in wc.removed) and all(
            self.model.can_insert(service, e) for e in wc.added)

    def blind(self, wc: WorldChange, among: Collection[str]) -> tuple[str, ...]:
        """The viewers (of `among`) who cannot observe the change by the model."""
        if not among:
            return ()
        after = AccessModel(wc.world_after(self.world))
        changed = (*wc.removed, *wc.consequences)
        out = []
        for label, viewer in self.viewers.items():
            if label not in among:
                continue
            if any(self.model.can_read(viewer, e) for e in changed):
                continue
            if any(after.can_read(viewer, e) for e in wc.added):
                continue
            if after.visible(viewer) == self.seen[label]:
                out.append(label)
        return tuple(out)


def shape(wc: WorldChange) -> str:
    """What kind of row the change touches, as far as the rules tell rows apart."""
    facts = []
    for entity in (*wc.removed, *wc.added):
        if isinstance(entity, Follow):
            facts.append(entity.status.value)
        elif isinstance(entity, Post | Video):
            facts.append("hidden" if entity.hidden else "visible")
        elif isinstance(entity, User):
            facts.append(entity.privacy.value)
    return "/".join(facts)


def invisible_changes(
    mw: MatrixWorld, tables: Collection[str] | None = None
) -> list[InvisibleChange]:
    """The catalogue: per table, kind of change and shape of row, each viewer blind to some
    such change paired with the first one (a change is tried for the viewers it covers).
    `tables` keeps the changes of those tables only."""
    judge = _Judge(mw.world, matrix_viewers(mw))
    covered: set[tuple[str, str, str, str]] = set()
    out: list[InvisibleChange] = []
    for wc in candidates(mw):
        if tables is not None and wc.change.table not in tables:
            continue
        if not judge.valid(wc):
            continue
        cls = (wc.change.table, wc.change.kind, shape(wc))
        blind = judge.blind(wc, [v for v in judge.viewers if (*cls, v) not in covered])
        if blind:
            covered.update((*cls, v) for v in blind)
            out.append(InvisibleChange(wc, blind))
    return out
