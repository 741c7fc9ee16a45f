"""Progress across the `chaos run` child: the drill in the child writes its (done, total, note)
calls as lines to the file named by SOBERHARNESS_PROGRESS_FILE; the harness follows the file
while the child runs and passes each call to its own Progress (the terminal line). Several
drills running at once are merged into one count (`Merged`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from soberharness.records.progress import Progress

ENV = "SOBERHARNESS_PROGRESS_FILE"


class ProgressFile:
    """A Progress appending `done<TAB>total<TAB>note` lines (total empty when unknown)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, done: int, total: int | None, note: str = "") -> None:
        clean = " ".join(note.split())
        with self.path.open("a") as out:
            out.write(f"{done}\t{'' if total is None else total}\t{clean}\n")


def progress_from_env() -> Progress | None:
    """The child's Progress: the file the harness named, or None when it named none."""
    named = os.environ.get(ENV, "")
    return ProgressFile(Path(named)) if named else None


def parse(line: str) -> tuple[int, int | None, str] | None:
    """One written line back as a call; None for a line that is not one."""
    parts = line.rstrip("\n").split("\t", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not (parts[1] == "" or parts[1].isdigit()):
        return None
    return int(parts[0]), (int(parts[1]) if parts[1] else None), parts[2]


class Follower:
    """Reads the complete lines added to `path` since the last poll and tells `progress`."""

    def __init__(self, path: Path, progress: Progress) -> None:
        self.path, self.progress, self.offset = path, progress, 0

    def poll(self) -> None:
        try:
            with self.path.open() as src:
                src.seek(self.offset)
                text = src.read()
        except OSError:
            return  # not written yet
        complete = text[: text.rfind("\n") + 1]
        self.offset += len(complete.encode())
        for line in complete.splitlines():
            call = parse(line)
            if call is not None:
                self.progress(*call)


class Merged:
    """One Progress for several named runs at once: the counts summed, each run's note named."""

    def __init__(self, sink: Progress) -> None:
        self.sink = sink
        self.lock = threading.Lock()
        self.state: dict[str, tuple[int, int | None, str]] = {}

    def part(self, name: str) -> Progress:
        def tell(done: int, total: int | None, note: str = "") -> None:
            with self.lock:
                self.state[name] = (done, total, note)
                self._flush()
        return tell

    def _flush(self) -> None:
        runs = sorted(self.state.items())
        done = sum(d for _, (d, _, _) in runs)
        totals = [t for _, (_, t, _) in runs]
        total = None if None in totals else sum(t or 0 for t in totals)
        if len(runs) == 1:
            self.sink(done, total, runs[0][1][2])
            return
        self.sink(done, total, "; ".join(f"{n}: {note}" for n, (_, _, note) in runs if note))
