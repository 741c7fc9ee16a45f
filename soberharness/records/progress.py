"""What a long-running runner tells about how far it got: the `Progress` callback protocol.

Runners (the access matrix, the state machine) take one and call it as they go; the report
layer (soberharness.report.progress) provides the one that writes to the terminal. Defined
here, at the bottom, so a runner needs nothing above it to accept one.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called with how many units are done (never decreasing over a run), the total when known,
    and a short note (e.g. "412 steps")."""

    def __call__(self, done: int, total: int | None, note: str = "") -> None: ...
