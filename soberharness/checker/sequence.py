"""Sequences of committed actions, judged: after every step the database equals the model.

What soberharness.runner.sequence observed of each committed step (pure: no database here):
  * the database's rows of the sequence's users (as the superuser sees them) must equal the
    model's state (soberharness.access.transitions), table by table;
  * every viewer (anon, service, each user) must read exactly the rows the model lets them
    read, per table;
  * whether each request was let through must match the model's verdict;
  * the spec's transition rules, checked on the database's before and after alone: a block
    removes follows both ways, an unblock brings none back, a follow to a private user starts
    pending, only the followee accepts;
  * when the runner reads digests: every viewer the model says cannot see the step reads
    every relation it may select as before (soberharness.checker.step_blindness).
The first step with a finding raises SequenceFailure with the steps so far (a replayable
steps file, see soberharness.records.steps).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from soberharness.access.model import TABLES
from soberharness.access.transitions import (
    Row,
    SequenceState,
    StepWrite,
    TransitionModel,
)
from soberharness.checker.matrix import allowed, detail
from soberharness.checker.step_blindness import BlindRead, moved
from soberharness.records.outcome import Outcome
from soberharness.records.steps import Step, format_steps
from soberharness.world.entities import (
    ContentRef,
    FollowStatus,
    Privacy,
    User,
    Viewer,
)
from soberharness.world.tables import READ


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


class Naming(Protocol):
    """Short names for the sequence's ids (soberharness.workload.steps.Names)."""

    def id(self, name: str) -> uuid.UUID: ...
    def name(self, value: object) -> str: ...
    def describe_key(self, key: object) -> str: ...


@dataclasses.dataclass(frozen=True)
class SentWrite:
    """One write of a step as sent: the model's verdict before it, the database's outcome."""

    write: StepWrite
    expected: bool
    outcome: Outcome


@dataclasses.dataclass(frozen=True)
class StepRun:
    """What the runner observed of one committed step (soberharness.runner.sequence)."""

    steps: tuple[Step, ...]  # the sequence so far, this step last
    sent: tuple[SentWrite, ...]
    before: Snapshot
    after: Snapshot  # `before` itself when the rows did not change
    state: SequenceState  # the model's state after the step
    any_allowed: bool
    # Viewers the model says cannot see the step, with their readable snapshots' digests
    # before and after it (empty unless the runner reads them).
    blind_reads: tuple[BlindRead, ...] = ()
    # The model's reads per viewer after the step (TransitionModel(state).visible), when the
    # runner worked them out already (while the server ran the step); None: judged here.
    model_reads: dict[Viewer, dict[str, set[Any]]] | None = None

    @property
    def step(self) -> Step:
        return self.steps[-1]


def model_rows(state: SequenceState) -> dict[str, set[Row]]:
    """The model's rows per table, in the shape database rows are read back as."""
    return {t.name: set(t.rows(state.world)) for t in READ}


def check(run: StepRun, names: Naming, viewers: Sequence[Viewer]) -> None:
    """Raise SequenceFailure (with the steps so far) when the step has findings."""
    findings = step_findings(run, names, viewers)
    if findings:
        raise SequenceFailure(run.steps, findings)


def step_findings(run: StepRun, names: Naming, viewers: Sequence[Viewer]) -> list[Finding]:
    """Everything wrong after one committed step: request verdicts, the rows, the spec's
    transition rules, and (when anything changed) every viewer's reads."""
    findings = outcome_findings(run, names)
    findings += state_findings(run, names)
    findings += transition_findings(run.step, names, run.before.rows, run.after.rows,
                                    all(allowed(s.write.op, s.outcome) for s in run.sent))
    if run.after is not run.before or run.any_allowed:
        findings += visibility_findings(run, names, viewers)
    return findings + interference_findings(run, names)


def interference_findings(run: StepRun, names: Naming) -> list[Finding]:
    """Each viewer the model says cannot see the step reads every relation as before."""
    return [
        Finding("noninterference", (
            f"{_who(read.viewer, names)} cannot see the step by the model, but its read of "
            f"{relation} changed (digest {before} -> {after})"))
        for read in run.blind_reads for relation, before, after in moved(read)
    ]


def outcome_findings(run: StepRun, names: Naming) -> list[Finding]:
    """Each request let through, or refused, as the model said."""
    out = []
    for s in run.sent:
        actual = allowed(s.write.op, s.outcome)
        if s.expected != actual:
            out.append(Finding("outcome", (
                f"{s.write.op.value} {describe_row(s.write.target, names)}: the model "
                f"{'allows' if s.expected else 'refuses'} it, the database "
                f"{'let it through' if actual else 'refused'} ({detail(s.write.op, s.outcome)})"
            )))
    return out


def state_findings(run: StepRun, names: Naming) -> list[Finding]:
    """The database's rows of the sequence against the model's, table by table."""
    out = []
    want = model_rows(run.state)
    for table in TABLES:
        got = run.after.rows[table]
        missing, extra = want[table] - got, got - want[table]
        if missing or extra:
            out.append(Finding("state", (
                f"{table}: the model has {_rows(missing, names)} that the database lacks, "
                f"the database has {_rows(extra, names)} that the model lacks"
            )))
    return out


def visibility_findings(run: StepRun, names: Naming, viewers: Sequence[Viewer]) -> list[Finding]:
    """Every viewer reads exactly the rows the model lets them read, per table."""
    out = []
    why = " (a privacy change takes effect at once)" if run.step.verb == "set_privacy" else ""
    model = TransitionModel(run.state)
    for viewer in viewers:
        known = run.model_reads.get(viewer) if run.model_reads is not None else None
        want = known if known is not None else model.visible(viewer)
        for table in TABLES:
            got = run.after.seen[viewer][table]
            missing, extra = want[table] - got, got - want[table]
            if missing or extra:
                out.append(Finding("visibility", (
                    f"{_who(viewer, names)} reading {table}{why}: missing "
                    f"{_keys(missing, names)}, extra {_keys(extra, names)}"
                )))
    return out


# ----------------------------------------------------------------------------- wording


def _who(viewer: Viewer, names: Naming) -> str:
    if viewer.user_id is None:
        return viewer.role.value
    return names.name(viewer.user_id)


def _keys(keys: set[Any], names: Naming) -> str:
    return "{" + ", ".join(sorted(names.describe_key(k) for k in keys)) + "}"


def _rows(rows: set[Row], names: Naming) -> str:
    return "{" + ", ".join(sorted(describe_row(r, names) for r in rows)) + "}"


def describe_row(row: Row, names: Naming) -> str:
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
    names: Naming,
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
