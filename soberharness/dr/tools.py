"""The drills' programs (pgBackRest, promtool, PostgreSQL's own) and running them as the server's
account, with a timeout, killed with the harness if it dies."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from soberharness.errors import HarnessError
from soberharness.targets.lifecycle import preexec_as
from soberharness.targets.postgres import find_bindir, server_account
from soberharness.targets.services.tools import REPO_ROOT

SETUP_HINT = "run scripts/setup.sh (scripts/setup-ci-extras.sh installs it)"
PROMTOOL_UNPACKED = REPO_ROOT / ".tools" / "prometheus" / "usr" / "bin" / "promtool"


def find_pgbackrest() -> Path | None:
    override = os.environ.get("SOBER_PGBACKREST_BIN")
    if override:
        return Path(override) if Path(override).is_file() else None
    found = shutil.which("pgbackrest")
    return Path(found) if found else None


def find_promtool() -> Path | None:
    override = os.environ.get("SOBER_PROMTOOL_BIN")
    if override:
        return Path(override) if Path(override).is_file() else None
    if PROMTOOL_UNPACKED.is_file():
        return PROMTOOL_UNPACKED
    found = shutil.which("promtool")
    return Path(found) if found else None


def pg_program(name: str) -> Path:
    path = find_bindir() / name
    if not path.exists():
        raise HarnessError(f"PostgreSQL's {name} is not installed beside postgres ({path})")
    return path


def missing(tool: str) -> str | None:
    """None when `tool` is here, else a one-line reason naming it (for a skip)."""
    finders = {"pgbackrest": find_pgbackrest, "promtool": find_promtool}
    if tool in finders:
        return None if finders[tool]() else f"{tool} not installed: {SETUP_HINT}"
    try:
        pg_program(tool)
    except HarnessError as exc:
        return str(exc)
    return None


@dataclasses.dataclass
class Ran:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 3) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " | ".join(text[-lines:])


def run(argv: Sequence[str], as_server: bool = True, timeout: float = 120.0,
        cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Ran:
    """Run `argv` (as the PostgreSQL account when root and `as_server`); never raises on a
    non-zero exit (the caller judges), raises HarnessError on a timeout or a missing program."""
    account = server_account() if as_server else None
    began = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout,
            preexec_fn=preexec_as(account, signal.SIGKILL), cwd=cwd or "/",
            env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{Path(argv[0]).name} took longer than {timeout:.0f}s: "
                           f"{' '.join(argv[1:])[:200]}") from None
    except FileNotFoundError:
        raise HarnessError(f"{argv[0]} is not installed: {SETUP_HINT}") from None
    return Ran(list(argv), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began)


def give_to_server(*paths: Path) -> None:
    """chown to the PostgreSQL account (when root) so the server and its tools own them."""
    account = server_account()
    if account is None:
        return
    for path in paths:
        os.chown(path, account.pw_uid, account.pw_gid)
