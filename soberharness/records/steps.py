"""The record of one step of an action sequence (who, which verb, which rows by short name)
and its text format: one line per step, a steps file replays a sequence.

A step is one line: the actor, the verb, then `key=value` arguments naming rows by short
names. The verbs are declared in soberharness.workload.steps (VERBS), which reads steps files
with their shapes (`parse_steps`, `load_steps` there); without shapes a line is checked for
its form and its actor only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

USERS: tuple[str, ...] = ("u1", "u2", "u3", "m1")
ANON = "anon"
NOBODY = "nobody"

# What each verb's line must give, by verb (soberharness.workload.steps.SHAPES, from its
# registry): a line read with it is checked before anything runs.
Shapes = Mapping[str, Sequence[str]]


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
    def parse(cls, line: str, shapes: Shapes | None = None) -> Step:
        """A step line; with `shapes`, its verb must be one of them with its arguments."""
        words = line.split()
        if len(words) < 2:
            raise StepSyntaxError(f"{line!r}: expected '<actor> <verb> key=value ...'")
        actor, verb, *rest = words
        if actor != ANON and actor not in USERS:
            raise StepSyntaxError(f"{line!r}: unknown actor {actor!r} (one of {ANON}, "
                                  f"{', '.join(USERS)})")
        if shapes is not None and verb not in shapes:
            raise StepSyntaxError(f"{line!r}: unknown verb {verb!r} (one of {', '.join(shapes)})")
        args = []
        for word in rest:
            key, sep, value = word.partition("=")
            if not sep or not key or not value:
                raise StepSyntaxError(f"{line!r}: {word!r} is not key=value")
            args.append((key, value))
        missing = set(shapes[verb] if shapes is not None else ()) - {k for k, _ in args}
        if missing:
            raise StepSyntaxError(f"{line!r}: {verb} needs {', '.join(sorted(missing))}")
        return cls(actor, verb, tuple(args))


def format_steps(steps: Iterable[Step]) -> str:
    return "".join(f"{s.line()}\n" for s in steps)


def parse_steps(text: str, shapes: Shapes | None = None) -> list[Step]:
    """Steps of a steps file; errors name the line number."""
    steps = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            steps.append(Step.parse(line, shapes))
        except StepSyntaxError as exc:
            raise StepSyntaxError(f"line {number}: {exc}") from None
    return steps


def load_steps(path: str | Path, shapes: Shapes | None = None) -> list[Step]:
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
        steps = parse_steps(text, shapes)
    except StepSyntaxError as exc:
        raise StepSyntaxError(f"{path}: {exc}") from None
    if not steps:
        raise StepSyntaxError(f"{path}: no steps")
    return steps
