"""The access model: who may read and write what, derived from the rules alone.

This is the independent half of the access check: it encodes
/work/shared/spec/access-rules.md and docs/access-decisions.md in plain Python over a
World, without looking at any SQL. The checker compares its answers with what the stack
actually does.

Citations in docstrings:
  R1..R7   the ordered rules of "Reading content (posts, videos)"
  Rest:X   the bullet X of "Reading the rest" (Profiles, Comments, Likes, Follows, Blocks)
  W:X      the bullet X of "Writing" (Anon, Profiles, Posts, Comments, Likes, Follows, Blocks)
  S:X      the bullet X of "Storage" (Avatars, Videos)
  D1..Dn   the numbered entries of docs/access-decisions.md

Conventions the rules leave to the model:
  * A model is a snapshot: it copies the world when built; build a new one after changes.
  * can_update compares two versions of one row: `after` must keep the row's key (profile
    id, follow/block pair, content/object id). Key changes are refused for everyone,
    `service` included; the rules never ask for one.
  * update and delete concern a row that exists in the world (matched by key).
  * A signed-in viewer followed by O (but not following O) is a `stranger` to O.
"""

from __future__ import annotations

import dataclasses
import uuid
from enum import StrEnum

from soberharness.world import tables
from soberharness.world.entities import (
    Block,
    Bucket,
    Comment,
    ContentRef,
    DeletionRequest,
    Entity,
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

Key = uuid.UUID | tuple[uuid.UUID, uuid.UUID] | str

# The buckets the rules name (S:Avatars, S:Videos) and whether each may be public: the
# Storage API serves a public bucket's objects to anyone without asking RLS, so only a bucket
# read by everyone may be public (D19).
BUCKETS: dict[str, bool] = {"avatars": True, "videos": False}
# MIME types a bucket may accept when it restricts them (D20).
BUCKET_MIME_PREFIXES: dict[str, str] = {"avatars": "image/", "videos": "video/"}

TABLES: tuple[str, ...] = tuple(t.name for t in tables.READ)  # what each viewer reads


class Relation(StrEnum):
    """The actor a viewer is with respect to an owner O (spec, "Who asks")."""

    ANON = "anon"
    SERVICE = "service"
    MODERATOR = "moderator"
    SELF = "self"
    BLOCKED = "blocked"
    FOLLOWER = "follower"
    REQUESTED = "requested"
    STRANGER = "stranger"


def table_of(entity: Entity) -> str:
    """The table name (as in TABLES) an entity is a row of."""
    return tables.table_for(entity).name


def key_of(entity: Entity) -> Key:
    """The key `visible()` uses: user id, (follower, followee), (blocker, blocked) or id."""
    return tables.table_for(entity).key(entity)


def initial_follow_status(privacy: Privacy) -> FollowStatus:
    """W:Follows — `accepted` at once for public/community targets, `pending` for private."""
    return FollowStatus.PENDING if privacy is Privacy.PRIVATE else FollowStatus.ACCEPTED


def changed_fields(before: Entity, after: Entity) -> set[str]:
    """Names of the dataclass fields whose values differ between two versions of a row."""
    return {
        f.name
        for f in dataclasses.fields(before)  # type: ignore[arg-type]
        if getattr(before, f.name) != getattr(after, f.name)
    }


class AccessModel:
    """Answers "may this viewer read/insert/update/delete this row?" for one World."""

    def __init__(self, world: World) -> None:
        self.world = world.copy()
        self._blocks = {(b.blocker, b.blocked) for b in self.world.blocks}
        self._follows = {(f.follower, f.followee): f.status for f in self.world.follows}

    # ----------------------------------------------------------------- facts of the world

    @staticmethod
    def me(viewer: Viewer) -> uuid.UUID | None:
        """The signed-in user's id; None for anon and service (no user)."""
        if viewer.role is Role.AUTHENTICATED:
            return viewer.user_id
        return None

    @staticmethod
    def is_service(viewer: Viewer) -> bool:
        return viewer.role is Role.SERVICE

    def is_moderator(self, viewer: Viewer) -> bool:
        """Signed in with app_metadata.role = 'moderator' in the token."""
        return self.me(viewer) is not None and viewer.moderator

    def blocked_between(self, a: uuid.UUID, b: uuid.UUID) -> bool:
        """A block exists between a and b, in either direction."""
        return (a, b) in self._blocks or (b, a) in self._blocks

    def follow_status(self, follower: uuid.UUID, followee: uuid.UUID) -> FollowStatus | None:
        return self._follows.get((follower, followee))

    def has_profile(self, user_id: uuid.UUID) -> bool:
        user = self.world.users.get(user_id)
        return user is not None and user.has_profile

    def privacy_of(self, user_id: uuid.UUID) -> Privacy | None:
        """The privacy level of a user's profile; None when the profile does not exist."""
        if not self.has_profile(user_id):
            return None
        return self.world.users[user_id].privacy

    def content_owner(self, ref: ContentRef) -> uuid.UUID | None:
        """Owner of a post/video, or None when the parent does not exist."""
        table = self.world.posts if ref.kind == "post" else self.world.videos
        return self.world.parent_owner(ref) if ref.id in table else None

    def content_hidden(self, ref: ContentRef) -> bool:
        table = self.world.posts if ref.kind == "post" else self.world.videos
        return table[ref.id].hidden

    def folder_owner(self, obj: StoredObject) -> uuid.UUID | None:
        """The user whose id names the object's first folder; None if it names no user."""
        try:
            folder = uuid.UUID(obj.folder)
        except ValueError:
            return None
        if str(folder) != obj.folder:
            return None  # only the id's canonical spelling names its user (migration 0015)
        return folder if folder in self.world.users else None

    def exists(self, entity: Entity) -> bool:
        """A row with this entity's key exists in the world (a profile needs has_profile)."""
        match entity:
            case User():
                return self.has_profile(entity.id)
            case Follow():
                return (entity.follower, entity.followee) in self._follows
            case Block():
                return (entity.blocker, entity.blocked) in self._blocks
            case DeletionRequest():
                return entity.user in self.world.deletion_requests
            case Bucket():
                return entity.id in BUCKETS
            case Post() | Video() | Comment() | Like() | StoredObject():
                return entity.id in self._rows_of(entity)
            case _:  # a table without a World field of its own
                return self.world.holds(entity)

    def _rows_of(self, entity: Post | Video | Comment | Like | StoredObject) -> dict:
        match entity:
            case Post():
                return self.world.posts
            case Video():
                return self.world.videos
            case Comment():
                return self.world.comments
            case Like():
                return self.world.likes
            case _:
                return self.world.objects

    # ----------------------------------------------------------------------- relation

    def relation(self, viewer: Viewer, owner: uuid.UUID) -> Relation:
        """Who the viewer is to owner O ("Who asks"), with the precedence of the read rules.

        service, then moderator (R1), self (R2), blocked (R4: either direction), follower,
        requested, stranger. Write rules look at the viewer's own id (`me`) instead, so a
        moderator writing their own content acts as its author.
        """
        if self.is_service(viewer):
            return Relation.SERVICE
        me = self.me(viewer)
        if me is None:
            return Relation.ANON
        if viewer.moderator:
            return Relation.MODERATOR
        if me == owner:
            return Relation.SELF
        if self.blocked_between(me, owner):
            return Relation.BLOCKED
        status = self.follow_status(me, owner)
        if status is FollowStatus.ACCEPTED:
            return Relation.FOLLOWER
        if status is FollowStatus.PENDING:
            return Relation.REQUESTED
        return Relation.STRANGER

    # -------------------------------------------------------------------------- reads

    def sees_content(self, viewer: Viewer, owner: uuid.UUID, hidden: bool = False) -> bool:
        """R1..R7, first match decides. A missing profile has no privacy: only R1/R2 apply."""
        rel = self.relation(viewer, owner)
        if rel in (Relation.SERVICE, Relation.MODERATOR, Relation.SELF):  # R1, R2
            return True
        if hidden or rel is Relation.BLOCKED:  # R3, R4
            return False
        privacy = self.privacy_of(owner)
        if privacy is Privacy.PUBLIC:  # R5
            return True
        if privacy is Privacy.COMMUNITY:  # R6
            return rel is not Relation.ANON
        return privacy is Privacy.PRIVATE and rel is Relation.FOLLOWER  # R7

    def sees_parent(self, viewer: Viewer, ref: ContentRef) -> bool:
        """The parent post/video exists and the viewer may read it (R1..R7)."""
        owner = self.content_owner(ref)
        return owner is not None and self.sees_content(viewer, owner, self.content_hidden(ref))

    def sees_profile(self, viewer: Viewer, user_id: uuid.UUID) -> bool:
        """Rest:Profiles for the profile row of user_id as it is in the world."""
        user = self.world.users.get(user_id)
        return user is not None and self._read_profile(viewer, user)

    def can_read(self, viewer: Viewer, entity: Entity) -> bool:
        """May the viewer read this row? Dispatches to the rule of its table."""
        match entity:
            case User():
                return self._read_profile(viewer, entity)
            case Follow():
                return self._read_follow(viewer, entity)
            case Block():
                return self._read_block(viewer, entity)
            case Post():
                return self.sees_content(viewer, entity.author, entity.hidden)
            case Video():
                return self.sees_content(viewer, entity.owner, entity.hidden)
            case Comment():
                return self._read_comment(viewer, entity)
            case Like():
                return self._read_like(viewer, entity)
            case StoredObject():
                return self._read_object(viewer, entity)
            case DeletionRequest():
                return self.is_service(viewer) or self.me(viewer) == entity.user  # D21
            case Bucket():
                return self.is_service(viewer) or self.exists(entity)  # D19
        raise TypeError(f"not a world entity: {entity!r}")

    def _read_profile(self, viewer: Viewer, user: User) -> bool:
        """Rest:Profiles — self/moderator/service always; blocked never; public to everyone
        (anon too); community and private to every signed-in user. No row, no read."""
        if not user.has_profile:
            return False
        rel = self.relation(viewer, user.id)
        if rel in (Relation.SERVICE, Relation.MODERATOR, Relation.SELF):
            return True
        if rel is Relation.BLOCKED:
            return False
        return user.privacy is Privacy.PUBLIC or rel is not Relation.ANON

    def _read_follow(self, viewer: Viewer, follow: Follow) -> bool:
        """Rest:Follows + D2, D3 — parties, moderator, service always; others only accepted
        follows whose two profiles they can both see; pending ones never."""
        if self.is_service(viewer) or self.is_moderator(viewer):
            return True
        if self.me(viewer) in (follow.follower, follow.followee):
            return True
        return (
            follow.status is FollowStatus.ACCEPTED
            and self.sees_profile(viewer, follow.follower)
            and self.sees_profile(viewer, follow.followee)
        )

    def _read_block(self, viewer: Viewer, block: Block) -> bool:
        """Rest:Blocks + D2 — only the blocker and service; not the blocked, not moderators."""
        return self.is_service(viewer) or self.me(viewer) == block.blocker

    def _read_comment(self, viewer: Viewer, comment: Comment) -> bool:
        """Rest:Comments + D2 — parent seen and no block between viewer and the comment's
        author; moderators and service read all comments."""
        if self.is_service(viewer) or self.is_moderator(viewer):
            return True
        me = self.me(viewer)
        if me is not None and self.blocked_between(me, comment.author):
            return False
        return self.sees_parent(viewer, comment.parent)

    def _read_like(self, viewer: Viewer, like: Like) -> bool:
        """Rest:Likes + D2 — seen when the parent is seen; moderators and service read all."""
        if self.is_service(viewer) or self.is_moderator(viewer):
            return True
        return self.sees_parent(viewer, like.parent)

    def _read_object(self, viewer: Viewer, obj: StoredObject) -> bool:
        """S:Avatars — everyone reads. S:Videos — whoever may read the folder owner's
        content by R1, R2, R4..R7 (objects are never hidden); a folder naming no user: service."""
        if obj.bucket == "avatars" or self.is_service(viewer):
            return True
        owner = self.folder_owner(obj)
        return owner is not None and self.sees_content(viewer, owner, hidden=False)

    def visible(self, viewer: Viewer) -> dict[str, set[Key]]:
        """Keys of the world's rows the viewer can read, per table in TABLES."""
        seen: dict[str, set[Key]] = {table: set() for table in TABLES}
        for entity in self.world.entities():
            if isinstance(entity, User) and not entity.has_profile:
                continue
            if self.can_read(viewer, entity):
                seen[table_of(entity)].add(key_of(entity))
        return seen

    # -------------------------------------------------------------------------- inserts

    def can_insert(self, viewer: Viewer, entity: Entity) -> bool:
        """May the viewer insert this row? W:Anon; constraints (D11) hold for everyone;
        service may insert anything they allow; others follow the rule of the table."""
        if self.me(viewer) is None and not self.is_service(viewer):
            return False  # W:Anon
        if not self._insert_constraints_hold(entity):
            return False
        if self.is_service(viewer):
            return True  # D11
        if getattr(entity, "overrides", ()):
            return False  # D33: the database owns its rows' times and the time zone
        match entity:
            case User():
                return self._insert_profile(viewer, entity)
            case Follow():
                return self._insert_follow(viewer, entity)
            case Block():
                return self.me(viewer) == entity.blocker  # W:Blocks, D14
            case Post():
                return self._insert_content(viewer, entity.author, entity.hidden)
            case Video():
                return self._insert_content(viewer, entity.owner, entity.hidden)
            case Comment():
                return self._insert_reaction(viewer, entity.author, entity.parent)
            case Like():
                return self._insert_reaction(viewer, entity.user, entity.parent)
            case StoredObject():
                return self._owns_folder(viewer, entity)  # S:Avatars, S:Videos
            case DeletionRequest():
                return (self.me(viewer) == entity.user and viewer.aal == "aal2"  # D21
                        and entity.requested_at is None)  # D33: the due time is not chosen
            case Bucket():
                return False  # D19: only service creates or changes buckets
        raise TypeError(f"not a world entity: {entity!r}")

    def _insert_constraints_hold(self, entity: Entity) -> bool:
        """What the database refuses whoever asks: duplicate keys, self-follows and
        self-blocks (D11), one like per user and parent, a second profile, references to
        rows that do not exist, and (D12) social rows of users without a profile."""
        if self.exists(entity):
            return False
        match entity:
            case User():
                return entity.id in self.world.users
            case Follow():
                return self._pair_ok(entity.follower, entity.followee)
            case Block():
                return self._pair_ok(entity.blocker, entity.blocked)
            case Post():
                return self.has_profile(entity.author)
            case Video():
                return self.has_profile(entity.owner)
            case Comment():
                return self._reaction_refs_ok(entity.author, entity.parent, entity.second_parent)
            case Like():
                return self._reaction_refs_ok(
                    entity.user, entity.parent, entity.second_parent) and not any(
                    like.user == entity.user and like.parent == entity.parent
                    for like in self.world.likes.values()
                )
            case StoredObject():
                return not self._name_taken(entity)
            case DeletionRequest():
                return self.has_profile(entity.user)
            case Bucket():
                return True
        raise TypeError(f"not a world entity: {entity!r}")

    def _pair_ok(self, a: uuid.UUID, b: uuid.UUID) -> bool:
        return a != b and self.has_profile(a) and self.has_profile(b)

    def _reaction_refs_ok(
        self, user: uuid.UUID, parent: ContentRef, second: ContentRef | None = None
    ) -> bool:
        """The user has a profile, the parent exists, and there is one parent (D11: the
        schema's one-parent check refuses a row naming a post and a video, whoever asks)."""
        return second is None and self.has_profile(user) and self.content_owner(parent) is not None

    def _name_taken(self, obj: StoredObject) -> bool:
        """Storage keeps one object per (bucket, name)."""
        return any(
            other.id != obj.id and other.bucket == obj.bucket and other.name == obj.name
            for other in self.world.objects.values()
        )

    def _insert_profile(self, viewer: Viewer, user: User) -> bool:
        """W:Profiles — only one's own row; the moderator flag lives in the token's
        app_metadata, not in the profile, so a profile cannot claim a different one."""
        return self.me(viewer) == user.id and user.moderator == self.world.users[user.id].moderator

    def _insert_follow(self, viewer: Viewer, follow: Follow) -> bool:
        """W:Follows + D5, D13 — as the follower, towards a profile one can see, never across
        a block, with exactly the initial status the followee's privacy requires."""
        me = self.me(viewer)
        return (
            me == follow.follower
            and self.sees_profile(viewer, follow.followee)
            and not self.blocked_between(follow.follower, follow.followee)
            and follow.status is initial_follow_status(self.world.users[follow.followee].privacy)
        )

    def _insert_content(self, viewer: Viewer, owner: uuid.UUID, hidden: bool) -> bool:
        """W:Posts — only as oneself; hidden_at is set only by a moderator (D15)."""
        return self.me(viewer) == owner and (not hidden or self.is_moderator(viewer))

    def _insert_reaction(self, viewer: Viewer, author: uuid.UUID, parent: ContentRef) -> bool:
        """W:Comments, W:Likes + D8 — as oneself, on a parent one can see, no block between
        the viewer and the parent's owner."""
        me = self.me(viewer)
        owner = self.content_owner(parent)
        return (
            me == author
            and owner is not None
            and self.sees_parent(viewer, parent)
            and not self.blocked_between(me, owner)
        )

    def _owns_folder(self, viewer: Viewer, obj: StoredObject) -> bool:
        """The object's first folder is the viewer's own user id."""
        me = self.me(viewer)
        return me is not None and obj.folder == str(me)

    # -------------------------------------------------------------------------- updates

    def can_update(self, viewer: Viewer, before: Entity, after: Entity) -> bool:
        """May the viewer turn row `before` into `after`? W:Anon; the key never changes; D1
        (read before you change); constraints hold; service may do the rest (D11)."""
        if self.me(viewer) is None and not self.is_service(viewer):
            return False  # W:Anon
        if type(before) is not type(after) or key_of(before) != key_of(after):
            return False
        if not self.exists(before) or not self.can_read(viewer, before):
            return False  # D1
        if not self._update_constraints_hold(before, after):
            return False
        if self.is_service(viewer):
            return True  # D11
        changed = changed_fields(before, after)
        if "overrides" in changed:
            return False  # D33
        return self._update_allowed(viewer, before, after, changed)

    def _update_constraints_hold(self, before: Entity, after: Entity) -> bool:
        """Constraints on the new version of a row, for everyone."""
        match after:
            case User():
                return after.has_profile
            case Post():
                return self.has_profile(after.author)
            case Video():
                return self.has_profile(after.owner)
            case Comment():
                return self._reaction_refs_ok(after.author, after.parent, after.second_parent)
            case Like():
                return self._reaction_refs_ok(
                    after.user, after.parent, after.second_parent) and not any(
                    like.id != after.id and like.user == after.user and like.parent == after.parent
                    for like in self.world.likes.values()
                )
            case StoredObject():
                return not self._name_taken(after)
            case _:
                return True

    def _update_allowed(
        self, viewer: Viewer, before: Entity, after: Entity, changed: set[str]
    ) -> bool:
        me = self.me(viewer)
        match before:
            case User():
                return me == before.id and "moderator" not in changed  # W:Profiles
            case Follow():
                return self._update_follow(viewer, before, after)
            case Block() | Like():
                return False  # D6
            case DeletionRequest() | Bucket():
                return False  # D19, D21: only service
            case Post():
                return self._update_content(viewer, before.author, changed, "body")
            case Video():
                return self._update_content(viewer, before.owner, changed, "title")
            case Comment():
                return me == before.author and changed <= {"body"}  # W:Comments
            case StoredObject():
                assert isinstance(after, StoredObject)
                return (  # S:Avatars, S:Videos, D10
                    "bucket" not in changed
                    and self._owns_folder(viewer, before)
                    and self._owns_folder(viewer, after)
                )
        raise TypeError(f"not a world entity: {before!r}")

    def _update_follow(self, viewer: Viewer, before: Entity, after: Entity) -> bool:
        """W:Follows + D4 — only the followee, only status pending -> accepted."""
        assert isinstance(before, Follow) and isinstance(after, Follow)
        return (
            self.me(viewer) == before.followee
            and before.status is FollowStatus.PENDING
            and after.status is FollowStatus.ACCEPTED
        )

    def _update_content(
        self, viewer: Viewer, owner: uuid.UUID, changed: set[str], text_field: str
    ) -> bool:
        """W:Posts + D7, D15 — the author changes the text; a moderator changes `hidden`;
        a moderator who is the author may do both; the owner column never changes."""
        allowed: set[str] = set()
        changed = {"hidden" if f == "hidden_when" else f for f in changed}  # hidden_at's value
        if self.me(viewer) == owner:
            allowed.add(text_field)
        if self.is_moderator(viewer):
            allowed.add("hidden")
        return bool(allowed) and changed <= allowed

    # -------------------------------------------------------------------------- deletes

    def can_delete(self, viewer: Viewer, entity: Entity) -> bool:
        """May the viewer delete this row? W:Anon; D1 (read before you change); service
        deletes anything (D11); others follow the rule of the table."""
        if self.me(viewer) is None and not self.is_service(viewer):
            return False  # W:Anon
        if not self.exists(entity) or not self.can_read(viewer, entity):
            return False  # D1
        if isinstance(entity, Bucket) and any(
            o.bucket == entity.id for o in self.world.objects.values()
        ):
            return False  # a bucket holding objects cannot go, whoever asks
        if self.is_service(viewer):
            return True  # D11
        return self._delete_allowed(viewer, entity)

    def _delete_allowed(self, viewer: Viewer, entity: Entity) -> bool:
        me = self.me(viewer)
        moderator = self.is_moderator(viewer)
        match entity:
            case User():
                return False  # D9
            case Follow():
                return me in (entity.follower, entity.followee)  # W:Follows
            case Block():
                return me == entity.blocker  # W:Blocks
            case Post():
                return me == entity.author or moderator  # W:Posts
            case Video():
                return me == entity.owner or moderator  # W:Posts
            case Comment():
                return (  # W:Comments
                    me in (entity.author, self.content_owner(entity.parent)) or moderator
                )
            case Like():
                return me == entity.user  # W:Likes
            case StoredObject():
                return self._owns_folder(viewer, entity) or (  # S:Avatars, S:Videos
                    entity.bucket == "videos"
                    and moderator
                    and self.folder_owner(entity) is not None
                )
            case DeletionRequest() | Bucket():
                return False  # D19, D21: only service
        raise TypeError(f"not a world entity: {entity!r}")


# ------------------------------------------------------------------------ bucket settings


def bucket_problems(bucket: Bucket, global_size_limit: int | None = None) -> list[str]:
    """What is wrong with a bucket's settings by the rules (D19, D20); empty when nothing.

    A bucket the rules name must exist as it is described there: `videos` is read as its
    owner's content, so it must be private (a public bucket is served without RLS); `avatars`
    is read by everyone and may be public. A bucket the rules do not name must not be public.
    Where a bucket restricts MIME types, they stay within its kind; a size limit is positive
    and not above the Storage API's global limit (it would never apply).
    """
    problems: list[str] = []
    may_be_public = BUCKETS.get(bucket.id, False)
    if bucket.public and not may_be_public:
        why = "its objects are read by rule" if bucket.id in BUCKETS else "no rule names it"
        problems.append(f"bucket {bucket.id} is public ({why}): served without RLS")
    prefix = BUCKET_MIME_PREFIXES.get(bucket.id)
    if bucket.allowed_mime_types is not None and prefix is not None:
        stray = sorted(m for m in bucket.allowed_mime_types if not m.startswith(prefix))
        if stray:
            problems.append(
                f"bucket {bucket.id} accepts {', '.join(stray)} (only {prefix}* belongs there)"
            )
    limit = bucket.file_size_limit
    if limit is not None and limit <= 0:
        problems.append(f"bucket {bucket.id} has a file size limit of {limit} bytes")
    elif limit is not None and global_size_limit is not None and limit > global_size_limit:
        problems.append(
            f"bucket {bucket.id} allows {limit} bytes, above the global {global_size_limit}"
        )
    return problems


def missing_buckets(present: set[str]) -> list[str]:
    """The buckets the rules name that are not there."""
    return sorted(set(BUCKETS) - present)
