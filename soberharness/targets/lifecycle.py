"""Nothing the harness starts outlives it: cleanup on exit, on SIGTERM/SIGHUP, and if we die."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import pwd
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_cleanups: list[Callable[[], None]] = []
_lock = threading.Lock()
_installed = False
_graceful: Callable[[int], None] | None = None  # ends the run on the first SIGTERM (on_terminate)


def _set_parent_death_signal(sig: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def preexec_as(account: pwd.struct_passwd | None, death_signal: int | None) -> Callable[[], None]:
    """A preexec_fn: drop to `account` if given, then ask the kernel to send `death_signal`
    to the child when this process dies (set after the switch, which would clear it). If the
    parent already died before that took effect, the child exits at once."""
    parent = os.getpid()

    def _preexec() -> None:
        if account is not None:
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
        if death_signal is not None:
            _set_parent_death_signal(death_signal)
            if os.getppid() != parent:
                os._exit(1)

    return _preexec


def run_cleanups() -> None:
    with _lock:
        pending = list(reversed(_cleanups))
        _cleanups.clear()
    for cleanup in pending:
        with contextlib.suppress(Exception):
            cleanup()


def _on_signal(signum: int, _frame: object) -> None:
    global _graceful
    handler, _graceful = _graceful, None
    if handler is not None and signum == signal.SIGTERM:
        handler(signum)  # raises in the main thread: the run unwinds, stops and records itself
        return
    run_cleanups()
    # Re-raise with the default action so the exit status tells what happened.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def register_cleanup(cleanup: Callable[[], None]) -> None:
    """Run `cleanup` at interpreter exit or on SIGTERM/SIGHUP (Ctrl-C goes through pytest)."""
    global _installed
    with _lock:
        if cleanup not in _cleanups:
            _cleanups.append(cleanup)
        if _installed:
            return
        _installed = True
    atexit.register(run_cleanups)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, _on_signal)


def on_terminate(handler: Callable[[int], None]) -> None:
    """Let `handler` end the run on the first SIGTERM: it raises in the main thread, so the run
    unwinds through its own teardown and writes its records. A second SIGTERM runs the
    cleanups and dies by the signal, as without a handler."""
    global _graceful
    _graceful = handler
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, _on_signal)
