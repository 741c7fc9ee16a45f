"""A watchdog outside the harness: whatever the harness dies of (SIGKILL included, during a
SIGSTOP fault included), the processes it started and the folders it made go with it.

The harness starts `python -m soberharness.targets.watchdog` in a session of its own (so
Ctrl-C and signals to the harness's process group do not reach it) with a pipe as its stdin,
and tells it over that pipe what to watch:

    +pid PID START SIGNAL   a process tree to end (START: its start time, so a reused pid is
                            never touched; SIGNAL: the polite stop, e.g. SIGQUIT for postgres)
    -pid PID                forget it (stopped normally)
    +dir PATH / -dir PATH   a folder to remove / forget

When the pipe reaches end of file — the harness exited or was killed; the kernel closes its
end either way — the watchdog resumes each watched tree (SIGCONT, or a stopped process never
acts on a signal), sends the polite signal, waits up to GRACE_S, SIGKILLs what is left of the
tree, removes the folders and exits. A harness that stopped everything itself has told the
watchdog to forget it all, so then it just exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from soberharness.targets import proctree

GRACE_S = 3.0


class Watchdog:
    """The harness's end of the pipe (one per harness process, started on first use)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._pipe: IO[bytes] | None = None
        self._owner = -1
        self._broken = False  # could not be started: the harness's own clean-up still runs
        self._lock = threading.RLock()  # a signal handler may stop things mid-send

    def _send(self, line: str) -> None:
        with self._lock:
            if self._broken:
                return
            if self._proc is None or self._owner != os.getpid():  # first use, or a fork
                try:
                    self._proc = subprocess.Popen(
                        [sys.executable, "-m", "soberharness.targets.watchdog"],
                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True, cwd="/",
                        env=_env_importing_this_package(),
                    )
                except OSError:
                    self._broken = True
                    return
                self._pipe, self._owner = self._proc.stdin, os.getpid()
            assert self._pipe is not None
            with contextlib.suppress(BrokenPipeError, ValueError):
                self._pipe.write(line.encode() + b"\n")
                self._pipe.flush()

    def watch_process(self, pid: int, polite: int = signal.SIGTERM) -> None:
        started = proctree.start_time(pid)
        if started is not None:
            self._send(f"+pid {pid} {started} {int(polite)}")

    def forget_process(self, pid: int) -> None:
        if self._proc is not None:
            self._send(f"-pid {pid}")

    def watch_dir(self, path: Path) -> None:
        self._send(f"+dir {path}")

    def forget_dir(self, path: Path) -> None:
        if self._proc is not None:
            self._send(f"-dir {path}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


WATCHDOG = Watchdog()


def _env_importing_this_package() -> dict[str, str]:
    """The environment with this copy of soberharness first on the import path."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=root + (os.pathsep + path if path else ""))


def end_tree(pid: int, started: int | None, polite: int, grace: float = GRACE_S) -> None:
    """Resume, politely stop, then SIGKILL the tree under `pid` (if it is still that process)."""
    if not proctree.is_running(pid, started):
        return
    pids = proctree.tree(pid)
    proctree.signal_all(pids, signal.SIGCONT)
    proctree.signal_all([pid], polite)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(proctree.is_running(p) for p in pids):
        time.sleep(0.05)
    if proctree.is_running(pid, started):
        pids += proctree.tree(pid)  # children forked meanwhile
    left = sorted({p for p in pids if proctree.is_running(p)})
    proctree.signal_all(left, signal.SIGKILL)  # a stopped process dies of SIGKILL too


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    processes: dict[int, tuple[int, int]] = {}
    folders: list[str] = []
    for raw in sys.stdin.buffer:
        kind, _, rest = raw.decode(errors="replace").rstrip("\n").partition(" ")
        if kind == "+pid":
            pid, started, polite = (int(x) for x in rest.split())
            processes[pid] = (started, polite)
        elif kind == "-pid":
            processes.pop(int(rest), None)
        elif kind == "+dir" and rest not in folders:
            folders.append(rest)
        elif kind == "-dir" and rest in folders:
            folders.remove(rest)
    for pid, (started, polite) in processes.items():
        end_tree(pid, started, polite)
    for folder in folders:
        remove_tree(folder)


def unmount_under(folder: str | Path) -> None:
    """Lazily unmount whatever is mounted at or below `folder`, deepest first (a killed
    debootstrap leaves proc, sys and dev mounted in its rootfs: removing files through them
    would reach the host's)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(Path(folder).resolve())
    points = [fields[1] for fields in (line.split() for line in lines) if len(fields) > 1]
    for point in sorted((p for p in points if p == prefix or p.startswith(prefix + "/")),
                        key=len, reverse=True):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30,
                           check=False)


def remove_tree(folder: str | Path) -> None:
    """Remove `folder` and all in it, never through a mount inside it."""
    unmount_under(folder)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
