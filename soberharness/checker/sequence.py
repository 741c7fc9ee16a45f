"""Sequences of committed actions: after every step the database equals the model.

Each step's requests run as PostgREST runs them (one transaction, role switch, claims) and
are COMMITTED. After the step, in one read-only transaction:
  * the database's rows of the sequence's users (as the superuser sees them) must equal the
    model's state (soberharness.access.transitions), table by table;
  * every viewer (anon, service, each user) must read exactly the rows the model lets them
    read, per table;
  * whether each request was let through must match the model's verdict;
  * the spec's transition rules, checked on the database's before and after alone: a block
    removes follows both ways, an unblock brings none back, a follow to a private user starts
    pending, only the followee accepts.
The first step with a finding raises SequenceFailure with the steps so far (a replayable
steps file, see soberharness.workload.steps).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from soberharness.access.transitions import (
    DELETION_REQUESTS,
    DeletionRequest,
    Row,
    SequenceState,
    TransitionModel,
)
from soberharness.checker.matrix import allowed, detail
from soberharness.clients.postgrest_sql import RequestRunner, request_settings
from soberharness.db.sql import LIST_KEYS, auth_user_row, insert
from soberharness.workload.step_requests import request_of
from soberharness.workload.steps import (
    NOBODY,
    USERS,
    Names,
    Step,
    format_steps,
    initial_world,
    writes_of,
)
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
)

READ_KEYS = LIST_KEYS | {DELETION_REQUESTS: "SELECT user_id FROM public.account_deletion_requests"}
TABLES = tuple(READ_KEYS)


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str  # outcome, state, transition, visibility
    text: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text}"


class SequenceFailure(AssertionError):
    """A step after which the database and the model disagree."""

    def __init__(self, steps: Sequence[Step], findings: Sequence[Finding]) -> None:
        self.steps = list(steps)
        self.findings = list(findings)
        super().__init__(self.describe())

    @property
    def step(self) -> Step:
        return self.steps[-1]

    def describe(self) -> str:
        lines = [f"step {len(self.steps)} of the sequence fails: {self.step.line()}"]
        lines += [f"  {f}" for f in self.findings]
        lines.append("steps (replay with --replay-steps FILE):")
        lines += [f"  {s.line()}" for s in self.steps]
        return "\n".join(lines)

    def write(self, folder: Path) -> Path:
        """Write the replayable steps file `<folder>/state-machine/failing.steps`."""
        out = folder / "state-machine" / "failing.steps"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.steps_text(), encoding="utf-8")
        return out

    def steps_text(self) -> str:
        head = "".join(f"# {f}\n" for f in self.findings)
        return f"# failing step: {len(self.steps)} ({self.step.line()})\n{head}" + format_steps(
            self.steps
        )


@dataclasses.dataclass(frozen=True)
class Snapshot:
    rows: dict[str, set[Row]]  # the database's rows of the sequence, as the superuser reads them
    seen: dict[Viewer, dict[str, set[Any]]]  # keys each viewer reads, per table


def _array(values: Iterable[uuid.UUID]) -> sql.Composable:
    return sql.SQL("{}::uuid[]").format(sql.Literal([str(v) for v in values]))


def _dump_queries(pool: sql.Composable, folders: sql.Composable) -> dict[str, sql.Composable]:
    q = sql.SQL
    return {
        "profiles": q("SELECT id, handle, privacy::text, sober_since FROM public.profiles "
                      "WHERE id = ANY({p})").format(p=pool),
        "follows": q("SELECT follower_id, followee_id, status::text FROM public.follows "
                     "WHERE follower_id = ANY({p}) OR followee_id = ANY({p})").format(p=pool),
        "blocks": q("SELECT blocker_id, blocked_id FROM public.blocks "
                    "WHERE blocker_id = ANY({p}) OR blocked_id = ANY({p})").format(p=pool),
        "posts": q("SELECT id, author_id, body, hidden_at IS NOT NULL FROM public.posts "
                   "WHERE author_id = ANY({p})").format(p=pool),
        "videos": q("SELECT id, owner_id, title, hidden_at IS NOT NULL FROM public.videos "
                    "WHERE owner_id = ANY({p})").format(p=pool),
        "comments": q("SELECT id, author_id, post_id, video_id, body FROM public.comments "
                      "WHERE author_id = ANY({p})").format(p=pool),
        "likes": q("SELECT id, user_id, post_id, video_id FROM public.likes "
                   "WHERE user_id = ANY({p})").format(p=pool),
        "objects": q("SELECT id, bucket_id, name, owner FROM storage.objects "
                     "WHERE split_part(name, '/', 1) = ANY({f})").format(f=folders),
        DELETION_REQUESTS: q("SELECT user_id FROM public.account_deletion_requests "
                             "WHERE user_id = ANY({p})").format(p=pool),
    }


def _parent(post_id: uuid.UUID | None, video_id: uuid.UUID | None) -> ContentRef:
    if post_id is not None:
        return ContentRef("post", post_id)
    return ContentRef("video", video_id)  # type: ignore[arg-type]


def _entity(table: str, r: tuple[Any, ...], moderators: set[uuid.UUID]) -> Row:
    match table:
        case "profiles":
            return User(r[0], r[1], Privacy(r[2]), r[3] or dt.date(2020, 1, 1),
                        moderator=r[0] in moderators)
        case "follows":
            return Follow(r[0], r[1], FollowStatus(r[2]))
        case "blocks":
            return Block(r[0], r[1])
        case "posts":
            return Post(r[0], r[1], r[2], r[3])
        case "videos":
            return Video(r[0], r[1], r[2], r[3])
        case "comments":
            return Comment(r[0], r[1], _parent(r[2], r[3]), r[4])
        case "likes":
            return Like(r[0], r[1], _parent(r[2], r[3]))
        case "objects":
            return StoredObject(r[0], r[1], r[2], r[3])
        case _:
            return DeletionRequest(r[0])


def model_rows(state: SequenceState) -> dict[str, set[Row]]:
    """The model's rows per table, in the shape database rows are read back as."""
    w = state.world
    return {
        "profiles": {u for u in w.users.values() if u.has_profile},
        "follows": set(w.follows),
        "blocks": set(w.blocks),
        "posts": set(w.posts.values()),
        "videos": set(w.videos.values()),
        "comments": set(w.comments.values()),
        "likes": set(w.likes.values()),
        "objects": set(w.objects.values()),
        DELETION_REQUESTS: {DeletionRequest(u) for u in state.deletion_requests},
    }


def key_of_row(row: Row) -> Any:
    match row:
        case Follow():
            return (row.follower, row.followee)
        case Block():
            return (row.blocker, row.blocked)
        case DeletionRequest():
            return row.user
        case _:
            return row.id


class SequenceRunner:
    """Runs steps on one database, committing each, and checks the state after each."""

    def __init__(self, conn: psycopg.Connection, names: Names | None = None) -> None:
        if not conn.autocommit:
            raise ValueError("SequenceRunner needs an autocommit connection")
        self.conn = conn
        conn.execute("SET statement_timeout = '30s'")  # a hung statement fails the step
        self.names = names or Names()
        self.requests = RequestRunner(conn, commit=True)
        self.viewers = self.names.viewers()
        self.pool = [self.names.id(u) for u in USERS]
        self.moderators = {self.names.id(u) for u in USERS if u.startswith("m")}
        self.steps_run = 0
        self.tally: collections.Counter[tuple[str, bool]] = collections.Counter()
        self.state = initial_world(self.names)
        self.steps: list[Step] = []
        self.snapshot = Snapshot({t: set() for t in TABLES}, {})
        self._read_text: bytes | None = None
        self._dump_text: bytes | None = None
        self._read_made = 0.0

    # ------------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Remove what earlier sequences left and sign the pool up again (no profiles)."""
        self.clean()
        statements = [insert(auth_user_row(u)) for u in initial_world(self.names).world
                      .users.values()]
        self.conn.execute(sql.SQL(";\n").join(
            [sql.SQL("BEGIN"), *statements, sql.SQL("COMMIT")]).as_bytes(self.conn))
        self.state = initial_world(self.names)
        self.steps = []
        self.snapshot = self.read()

    def clean(self) -> None:
        """Delete every row of the pool's users, children first (so that a stack's triggers
        see ordinary deletes, not cascades), every object in their folders (and in the
        run's folder that names nobody), then the users."""
        p = _array(self.pool)
        statements = [
            # As the Storage API does: the storage schema refuses a DELETE without it.
            sql.SQL("SELECT set_config('storage.allow_delete_query', 'true', true)"),
            sql.SQL("DELETE FROM storage.objects WHERE split_part(name, '/', 1) = ANY({f})")
            .format(f=self._folders()),
            sql.SQL("DELETE FROM public.blocks WHERE blocker_id = ANY({p}) "
                    "OR blocked_id = ANY({p})").format(p=p),
            sql.SQL("DELETE FROM public.follows WHERE follower_id = ANY({p}) "
                    "OR followee_id = ANY({p})").format(p=p),
            sql.SQL("DELETE FROM public.likes WHERE user_id = ANY({p})").format(p=p),
            sql.SQL("DELETE FROM public.comments WHERE author_id = ANY({p})").format(p=p),
            sql.SQL("DELETE FROM public.posts WHERE author_id = ANY({p})").format(p=p),
            sql.SQL("DELETE FROM public.videos WHERE owner_id = ANY({p})").format(p=p),
            sql.SQL("DELETE FROM auth.users WHERE id = ANY({p})").format(p=p),
        ]
        self.conn.execute(sql.SQL(";\n").join(
            [sql.SQL("BEGIN"), *statements, sql.SQL("COMMIT")]).as_bytes(self.conn))

    def _folders(self) -> sql.Composable:
        folders = [self.names.folder(u) for u in USERS] + [self.names.folder(NOBODY)]
        return sql.SQL("{}::text[]").format(sql.Literal(folders))

    # ---------------------------------------------------------------------------- steps

    def run(self, step: Step) -> None:
        """Commit the step's requests, then check; raise SequenceFailure on any finding."""
        self.steps.append(step)
        self.steps_run += 1
        viewer, writes = writes_of(step, self.state, self.names)
        findings: list[Finding] = []
        verdicts: list[bool] = []
        any_allowed = False
        for write in writes:
            model = TransitionModel(self.state)
            expected = model.allowed(viewer, write)
            outcome = self.requests.run(viewer, request_of(write))
            actual = allowed(write.op, outcome)
            verdicts.append(actual)
            if expected != actual:
                findings.append(Finding("outcome", (
                    f"{write.op.value} {self._describe(write.target)}: the model "
                    f"{'allows' if expected else 'refuses'} it, the database "
                    f"{'let it through' if actual else 'refused'} ({detail(write.op, outcome)})"
                )))
            if expected:
                self.state = model.after(write)
                any_allowed = True
        self.tally[(step.verb, any_allowed)] += 1
        before = self.snapshot
        self.snapshot = self.read(before)
        findings += self._state_findings()
        findings += transition_findings(step, self.names, before.rows, self.snapshot.rows,
                                        all(verdicts))
        if self.snapshot is not before or any_allowed:
            findings += self._visibility_findings(step)
        if findings:
            raise SequenceFailure(self.steps, findings)

    def replay(self, steps: Iterable[Step]) -> None:
        self.reset()
        for step in steps:
            self.run(step)

    # --------------------------------------------------------------------------- checks

    def read(self, previous: Snapshot | None = None) -> Snapshot:
        """The superuser's rows of the sequence, then each viewer's keys. When the rows are
        those of `previous`, so are the reads (they depend on the rows alone): not re-read."""
        cur = self.conn.cursor()
        cur.execute(self._dump_request())
        rows: dict[str, set[Row]] = {}
        for table in TABLES:
            rows[table] = {_entity(table, tuple(r), self.moderators) for r in cur.fetchall()}
            cur.nextset()
        if previous is not None and previous.seen and rows == previous.rows:
            return previous
        ours = {t: {key_of_row(r) for r in rs} for t, rs in rows.items()}
        cur.execute(self._read_request())
        seen: dict[Viewer, dict[str, set[Any]]] = {}
        for viewer in self.viewers:
            cur.nextset()  # the settings
            seen[viewer] = {}
            for table in READ_KEYS:
                cur.nextset()
                keys = {r[0] if len(r) == 1 else (r[0], r[1]) for r in cur.fetchall()}
                seen[viewer][table] = keys & ours[table]  # a shared database holds others'
            cur.nextset()  # SET LOCAL ROLE NONE
        return Snapshot(rows, seen)

    def _dump_request(self) -> bytes:
        if self._dump_text is None:
            dump = _dump_queries(_array(self.pool), self._folders())
            self._dump_text = sql.SQL(";\n").join(dump[t] for t in TABLES).as_bytes(self.conn)
        return self._dump_text

    def _read_request(self) -> bytes:
        """The read transaction, rendered once (its tokens are renewed every ten minutes)."""
        if self._read_text is None or time.monotonic() - self._read_made > 600:
            parts: list[sql.Composable] = [sql.SQL("BEGIN READ ONLY")]
            for viewer in self.viewers:
                parts.append(request_settings(viewer, "GET", "/rest/v1/"))
                parts += [sql.SQL(q) for q in READ_KEYS.values()]
                parts.append(sql.SQL("SET LOCAL ROLE NONE"))
            parts.append(sql.SQL("ROLLBACK"))
            self._read_text = sql.SQL(";\n").join(parts).as_bytes(self.conn)
            self._read_made = time.monotonic()
        return self._read_text

    def _state_findings(self) -> list[Finding]:
        out = []
        want = model_rows(self.state)
        for table in TABLES:
            got = self.snapshot.rows[table]
            missing, extra = want[table] - got, got - want[table]
            if missing or extra:
                out.append(Finding("state", (
                    f"{table}: the model has {self._rows(missing)} that the database lacks, "
                    f"the database has {self._rows(extra)} that the model lacks"
                )))
        return out

    def _visibility_findings(self, step: Step) -> list[Finding]:
        out = []
        why = " (a privacy change takes effect at once)" if step.verb == "set_privacy" else ""
        model = TransitionModel(self.state)
        for viewer in self.viewers:
            want = model.visible(viewer)
            for table in TABLES:
                got = self.snapshot.seen[viewer][table]
                missing, extra = want[table] - got, got - want[table]
                if missing or extra:
                    out.append(Finding("visibility", (
                        f"{self._who(viewer)} reading {table}{why}: missing "
                        f"{self._keys(missing)}, extra {self._keys(extra)}"
                    )))
        return out

    # ------------------------------------------------------------------------- wording

    def _who(self, viewer: Viewer) -> str:
        if viewer.user_id is None:
            return viewer.role.value
        return self.names.name(viewer.user_id)

    def _keys(self, keys: set[Any]) -> str:
        return "{" + ", ".join(sorted(self.names.describe_key(k) for k in keys)) + "}"

    def _rows(self, rows: set[Row]) -> str:
        return "{" + ", ".join(sorted(self._describe(r) for r in rows)) + "}"

    def _describe(self, row: Row) -> str:
        return describe_row(row, self.names)


def describe_row(row: Row, names: Names) -> str:
    """A row with ids as short names, e.g. `Follow(follower=u2, followee=u1, status=pending)`."""
    parts = []
    for field in dataclasses.fields(row):  # type: ignore[arg-type]
        value = getattr(row, field.name)
        if isinstance(value, ContentRef):
            value = names.name(value.id)
        elif isinstance(value, uuid.UUID):
            value = names.name(value)
        elif isinstance(value, str) and "/" in value:
            folder, _, rest = value.partition("/")
            value = f"{names.name(folder)}/{rest}"
        elif hasattr(value, "value"):
            value = value.value
        parts.append(f"{field.name}={value}")
    return f"{type(row).__name__}({', '.join(parts)})"


def transition_findings(
    step: Step,
    names: Names,
    before: dict[str, set[Row]],
    after: dict[str, set[Row]],
    committed: bool,
) -> list[Finding]:
    """The spec's transition rules, judged on the database's rows before and after a step
    (no model involved)."""
    a = dict(step.args)
    out: list[Finding] = []
    follows_before = {(f.follower, f.followee): f for f in before["follows"]}  # type: ignore[union-attr]
    follows_after = {(f.follower, f.followee): f for f in after["follows"]}  # type: ignore[union-attr]
    if step.verb == "block" and committed:
        pair = {names.id(a["blocker"]), names.id(a["blocked"])}
        left = [f for k, f in follows_after.items() if set(k) == pair]
        if left:
            out.append(Finding("transition", (
                "a block removes follows both ways (W:Follows): still there after the block: "
                + ", ".join(describe_row(f, names) for f in left)
            )))
    if step.verb == "unblock" and follows_after != follows_before:
        changed = set(follows_after.values()) ^ set(follows_before.values())
        out.append(Finding("transition", (
            "nothing comes back after an unblock: follows changed: "
            + ", ".join(sorted(describe_row(f, names) for f in changed))
        )))
    if step.verb == "follow":
        key = (names.id(a["follower"]), names.id(a["followee"]))
        followee = next((u for u in before["profiles"]
                         if isinstance(u, User) and u.id == key[1]), None)
        new = follows_after.get(key) if key not in follows_before else None
        if (new is not None and followee is not None and followee.privacy is Privacy.PRIVATE
                and new.status is not FollowStatus.PENDING):
            out.append(Finding("transition", (
                "a follow to a private user starts pending (W:Follows): "
                + describe_row(new, names)
            )))
    if step.verb == "accept" and step.actor != a["followee"]:
        key = (names.id(a["follower"]), names.id(a["followee"]))
        if follows_after.get(key) != follows_before.get(key):
            out.append(Finding("transition", (
                f"only the followee accepts (W:Follows): {step.actor} changed "
                + describe_row(follows_after.get(key) or follows_before[key], names)
            )))
    return out
