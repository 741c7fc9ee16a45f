"""Runbook steps as code: each step a command template the drill renders and runs, recorded in
order so a test can hold the drill against the runbook under docs/runbooks/.

A template is one shell-like command with `{name}` placeholders (the drill's values: paths,
ports, the stanza). The drill runs it split with shlex, without a shell. The program names in
templates are the ones an operator types (`pgbackrest`, `psql`, `pg_rewind`); the runner
resolves them to the installed programs.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from soberharness.dr.tools import Ran, find_pgbackrest, pg_program, run
from soberharness.errors import HarnessError
from soberharness.records.progress import Progress


@dataclasses.dataclass(frozen=True)
class Step:
    name: str  # the runbook step's title, e.g. "Verify every backup in the repository"
    command: str  # a template: one command with {placeholders}

    @property
    def key(self) -> str:
        return slug(self.name)

    def render(self, values: Mapping[str, object]) -> str:
        try:
            return self.command.format(**values)
        except KeyError as exc:
            raise HarnessError(f"runbook step '{self.name}' needs a value for {exc}") from None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def normalise(command: str) -> str:
    return " ".join(command.split())


@dataclasses.dataclass
class StepRecord:
    step: Step
    rendered: str
    returncode: int | None  # None for a step the drill performs through its own lifecycle code
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {"step": self.step.name, "command": self.step.command,
                "returncode": self.returncode, "seconds": round(self.seconds, 3)}


def _resolve(program: str) -> str:
    if program == "pgbackrest":
        found = find_pgbackrest()
        if found is None:
            raise HarnessError("pgbackrest not installed: run scripts/setup.sh")
        return str(found)
    if program.startswith(("pg_", "psql", "postgres")):
        return str(pg_program(program))
    return program


class StepLog:
    """Runs steps with the drill's values and records each in order. With a Progress, each
    step is told before it runs: the distinct steps done of `total`, the step as the note."""

    def __init__(self, values: Mapping[str, object] | None = None,
                 progress: Progress | None = None, total: int | None = None) -> None:
        self.values: dict[str, object] = dict(values or {})
        self.records: list[StepRecord] = []
        self.progress, self.total = progress, total

    def done(self) -> int:
        """Distinct steps run (a step repeated while waiting counts once)."""
        return len({r.step.key for r in self.records})

    def tell(self, note: str) -> None:
        if self.progress is not None:
            self.progress(self.done(), self.total, note)

    def finish(self) -> None:
        """The drill's last word: every step it ran, done."""
        self.tell("done")

    def run(self, step: Step, check: bool = True, timeout: float = 120.0,
            as_server: bool = True) -> Ran:
        rendered = step.render(self.values)
        self.tell(step.name.lower())
        argv = shlex.split(rendered)
        argv[0] = _resolve(argv[0])
        ran = run(argv, as_server=as_server, timeout=timeout)
        self.records.append(StepRecord(step, rendered, ran.returncode, ran.seconds))
        if check and not ran.ok:
            raise HarnessError(f"runbook step '{step.name}' failed (exit {ran.returncode}): "
                               f"{ran.tail()}")
        return ran

    def perform(self, step: Step, action: Callable[[], object]) -> float:
        """A step the drill carries out through its own lifecycle code (starting a server as a
        child that dies with the harness): the command is what that code runs."""
        rendered = step.render(self.values)
        self.tell(step.name.lower())
        began = time.monotonic()
        action()
        seconds = time.monotonic() - began
        self.records.append(StepRecord(step, rendered, None, seconds))
        return seconds

    def ran_steps(self) -> list[Step]:
        return [r.step for r in self.records]


# -- runbooks --------------------------------------------------------------------------------
_HEADING = re.compile(r"^##\s+(\d+)\.\s+(.+?)\s*$")
_FENCE = re.compile(r"^```")


def parse_runbook(text: str) -> list[Step]:
    """The numbered `## N. Title` sections of a runbook, each with the first fenced command
    block under it (one command; backslash line continuations joined). Prose, and fenced
    blocks outside a numbered section or after its first, are not steps."""
    steps: list[Step] = []
    title: str | None = None  # a numbered section still waiting for its command
    block: list[str] | None = None  # lines of the fenced block being read
    expected = 1
    for line in text.splitlines():
        if block is not None:
            if not _FENCE.match(line):
                block.append(line)
                continue
            if title is not None:
                joined = " ".join(p.rstrip().rstrip("\\").strip() for p in block if p.strip())
                steps.append(Step(title, normalise(joined)))
                title = None
            block = None
            continue
        if _FENCE.match(line):
            block = []
            continue
        if line.startswith("#"):
            title = None  # any heading ends the section before it
        heading = _HEADING.match(line)
        if heading:
            number = int(heading.group(1))
            if number != expected:
                raise HarnessError(f"runbook step '{heading.group(2)}' is numbered {number}, "
                                   f"expected {expected}")
            expected += 1
            title = heading.group(2)
    return steps


def load_runbook(path: Path) -> list[Step]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise HarnessError(f"cannot read runbook {path}: {exc.strerror}") from None
    return parse_runbook(text)


def disagreements(runbook: Sequence[Step], drill: Sequence[Step]) -> list[str]:
    """Where the runbook and the drill differ, step by step, each as one line."""
    problems: list[str] = []
    for number, (said, done) in enumerate(zip(runbook, drill, strict=False), start=1):
        if said.key != done.key:
            problems.append(f"step {number}: runbook has '{said.name}', drill runs "
                            f"'{done.name}'")
        elif normalise(said.command) != normalise(done.command):
            problems.append(f"step {number} '{said.name}': runbook says "
                            f"`{normalise(said.command)}`, drill runs "
                            f"`{normalise(done.command)}`")
    for number, extra in enumerate(runbook[len(drill):], start=len(drill) + 1):
        problems.append(f"step {number} '{extra.name}': in the runbook, never run by the drill")
    for number, extra in enumerate(drill[len(runbook):], start=len(runbook) + 1):
        problems.append(f"step {number} '{extra.name}': run by the drill, not in the runbook")
    return problems


class Phases:
    """A drill's phases in their order (work that is not a runbook step): each told to the
    Progress as it begins, as the phases done before it of all; `finish` tells them all done."""

    def __init__(self, names: Sequence[str], progress: Progress | None = None) -> None:
        self.names, self.progress = tuple(names), progress

    def begin(self, name: str) -> None:
        if name not in self.names:
            raise HarnessError(f"drill phase '{name}' is not one of {list(self.names)}")
        if self.progress is not None:
            self.progress(self.names.index(name), len(self.names), name)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(len(self.names), len(self.names), "done")
