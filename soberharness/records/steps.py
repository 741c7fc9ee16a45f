"""The record of one step of an action sequence (who, which verb, which rows by short name)
and its text format: one line per step, a steps file replays a sequence.

A step is one line: the actor, the verb, then `key=value` arguments naming rows by short
names (see soberharness.workload.steps for what each verb sends).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

USERS: tuple[str, ...] = ("u1", "u2", "u3", "m1")
ANON = "anon"
NOBODY = "nobody"

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
