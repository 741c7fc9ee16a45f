"""The harness's temporary folders (`soberharness-*` in the temp dir), each marked with the
process that owns it, and the sweep of folders whose owner is dead.

Several harness sessions may run on one machine at once: a folder is removed only when the
process named in its `owner` file (pid and start time, so a reused pid does not count as the
owner) no longer runs. A folder without an owner file is never touched (it may be a live run
that has not written it yet, or not ours). Live folders are also given to the watchdog, which
removes them if the harness is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path

from soberharness.targets import proctree
from soberharness.targets.watchdog import WATCHDOG, remove_tree

PREFIX = "soberharness-"
OWNER_FILE = "owner"


def make_workdir(parent: Path | None = None) -> Path:
    """A new `soberharness-*` folder owned by this process (after sweeping dead runs' ones),
    in `parent` (default: the temporary directory)."""
    sweep_dead_workdirs(parent)
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (path / OWNER_FILE).write_text(f"{os.getpid()} {proctree.start_time(os.getpid())}\n")
    WATCHDOG.watch_dir(path)
    return path


def remove_workdir(path: Path) -> None:
    remove_tree(path)
    WATCHDOG.forget_dir(path)


def keep_workdir(path: Path) -> None:
    """Leave the folder for a person to look at: no sweep or watchdog removes it."""
    (path / OWNER_FILE).unlink(missing_ok=True)
    WATCHDOG.forget_dir(path)


def owner_alive(path: Path) -> bool | None:
    """True/False when the folder names its owner; None when it names none (not ours)."""
    try:
        pid_text, started_text = (path / OWNER_FILE).read_text().split()
        pid, started = int(pid_text), int(started_text)
    except (OSError, ValueError):
        return None
    return proctree.is_running(pid, started)


def sweep_dead_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the folders of dead runs under `root` (the temp dir); return what was removed.
    Processes still running out of such a folder (a server the dead run left) are killed."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for path in sorted(root.glob(f"{PREFIX}*")):
        if not path.is_dir() or owner_alive(path) is not False:
            continue
        _kill_processes_under(path)
        remove_tree(path)
        if not path.exists():
            removed.append(path)
    return removed


def _kill_processes_under(path: Path) -> None:
    needle = f"{path}/".encode()  # a path inside it, not a folder whose name starts alike
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                pids = proctree.tree(int(entry.name))
                proctree.signal_all(pids, signal.SIGKILL)
