"""Live progress of a long stretch (the access matrix, the state machine) as schemathesis and
locust show it: on a terminal one line updated in place (carriage return, a few updates a
second); in a log (not a terminal, or CI set) plain lines at a bounded rate: the first, then
one when `plain_every` seconds have passed or the count crossed the next tenth of its total,
and a last one when the stretch ends.

Pure: it writes to a given stream and reads a given clock (tests pass a StringIO and a fake).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TextIO

Clock = Callable[[], float]

PREFIX = "[soberharness] "


def plain_lines_wanted(isatty: bool, environ: Mapping[str, str]) -> bool:
    """Plain lines (no carriage returns) unless writing to a terminal outside CI."""
    ci = environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or not isatty


class ProgressLine:
    """A `soberharness.records.progress.Progress` writing `label: done/total unit (pct)`."""

    def __init__(
        self,
        stream: TextIO,
        label: str,
        unit: str,
        *,
        plain: bool,
        clock: Clock = time.monotonic,
        tty_every: float = 0.25,
        plain_every: float = 10.0,
    ) -> None:
        self.stream, self.label, self.unit, self.plain = stream, label, unit, plain
        self.clock, self.tty_every, self.plain_every = clock, tty_every, plain_every
        self.started = clock()
        self.last_written: float | None = None
        self.last_tenth = 0
        self.width = 0  # of the line on the terminal, to blank what a shorter one leaves
        self.state: tuple[int, int | None, str] | None = None

    def text(self, done: int, total: int | None, note: str, *, final: bool = False) -> str:
        took = self.clock() - self.started
        when = f" in {took:.1f}s" if final else f", {took:.0f}s"
        extra = f", {note}" if note else ""
        return f"{PREFIX}{self.label}: {self._count(done, total)}{extra}{when}"

    def _count(self, done: int, total: int | None) -> str:
        if not total:
            return f"{done} {self.unit}"
        if done > total:  # e.g. Hypothesis runs examples it then discards
            return f"{done} {self.unit} (past the {total} planned)"
        return f"{done}/{total} {self.unit} ({done * 100 // total}%)"

    def __call__(self, done: int, total: int | None, note: str = "") -> None:
        self.state = (done, total, note)
        if self._due(done, total):
            self._write(self.text(done, total, note))

    def _tenth(self, done: int, total: int | None) -> int:
        """The tenths of the total done, up to nine (the end is the closing line's)."""
        return min(done * 10 // total, 9) if total else 0

    def _due(self, done: int, total: int | None) -> bool:
        now = self.clock()
        since = None if self.last_written is None else now - self.last_written
        if since is None:
            return True
        if not self.plain:
            return since >= self.tty_every
        return since >= self.plain_every or self._tenth(done, total) > self.last_tenth

    def _write(self, line: str) -> None:
        done, total, _ = self.state or (0, None, "")
        self.last_written = self.clock()
        self.last_tenth = max(self.last_tenth, self._tenth(done, total))
        if self.plain:
            self.stream.write(line + "\n")
        else:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        self.stream.flush()

    def close(self) -> None:
        """The last state, once, as a finished line (nothing when nothing was reported)."""
        if self.state is None:
            return
        done, total, note = self.state
        line = self.text(done, total, note, final=True)
        if self.plain:
            self.stream.write(line + "\n")
        else:
            self.stream.write("\r" + line.ljust(self.width) + "\n")
        self.stream.flush()
        self.state = None
