"""`chaos run` (chaostoolkit) as a child of the harness that never outlives it.

The child gets SIGTERM the moment the harness dies (the kernel's parent-death signal), so its
rollbacks can run; the harness's watchdog (targets.watchdog) then gives it GRACE_S and
SIGKILLs its whole tree, so rollbacks that hang (PostgreSQL stopped by the experiment) do not
keep it alive after a SIGKILL of pytest.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from soberharness.targets.lifecycle import preexec_as
from soberharness.targets.watchdog import WATCHDOG


def run_chaos(argv: Sequence[str], timeout: float, env: Mapping[str, str],
              cwd: Path, tick: Callable[[], None] | None = None,
              every: float = 0.5) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run(argv, capture_output=True, text=True, timeout=timeout); on a
    timeout the child's tree is ended and subprocess.TimeoutExpired raised. `tick` is called
    every `every` seconds while the child runs (to follow its progress)."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(env), cwd=cwd,
                            preexec_fn=preexec_as(None, signal.SIGTERM))
    WATCHDOG.watch_process(proc.pid, signal.SIGTERM)
    try:
        out, err = _communicate(proc, time.monotonic() + timeout, tick, every)
    except BaseException:  # a timeout, Ctrl-C, SIGTERM: the child goes too
        proc.kill()
        proc.communicate()
        raise
    finally:
        WATCHDOG.forget_process(proc.pid)
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def _communicate(proc: subprocess.Popen[str], deadline: float,
                 tick: Callable[[], None] | None, every: float) -> tuple[str, str]:
    while True:
        left = deadline - time.monotonic()
        wait = left if tick is None else min(every, left)
        try:
            return proc.communicate(timeout=max(wait, 0.0))
        except subprocess.TimeoutExpired:
            if tick is None or time.monotonic() >= deadline:
                raise
            tick()
